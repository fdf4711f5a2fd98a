"""The build bot: issue commands in, images and one feedback comment out.

    event payload (event.py) → the command in its text (commands.py, every token checked)
      → the issue's rules: label, title, robot accounts (rules.py, re-read via github.py)
      → the workspace's rules: known app, a version that resolves (rules.py)
      → the work: apply_workspace, sync_image, or buildah (actions.py)
      → a decision (decision.py): JSON, $GITHUB_OUTPUT lines, one comment on the issue

``handle.py`` ties these together; ``clusterbuild bot`` is its command line. No value
taken from an issue reaches a shell: the work is Python calls or argument lists.
"""
