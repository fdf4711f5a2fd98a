"""What each command does, without the terminal: the CLI reads the options once
(``settings``), calls one function here, prints what it returns.

    build      plan, images, apply, lock (their phases: ``phases``; one run: ``run``)
    gc         cache gc, for every workspace the cache records
    registry   sync, login
    importing  import (init.sh → clusterbuild.yaml)
    locks      the workspace lock and the cache lease between processes
"""
