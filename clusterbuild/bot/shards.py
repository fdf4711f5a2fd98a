"""``/imagebuild_apps`` across CI jobs, one per platform (``bot --stage plan|publish``).

    plan     the rules are checked; when a remote cache is configured, the platforms of the
             app version with work left become a matrix (``clusterbuild matrix``) and nothing
             is built or commented here; without one the bot builds in this job, as ``all``
    (shards) ``clusterbuild apply --shard APP:VERSION@PLATFORM`` per matrix entry
    publish  the rules again, then ``clusterbuild publish`` of the app version: the index is
             pushed only when every platform's shard pushed its image; the one comment says
             so (digests), or why the index was held back
"""

from __future__ import annotations

from clusterbuild.bot.actions import _notify
from clusterbuild.bot.config import BotConfig
from clusterbuild.bot.decision import Image
from clusterbuild.commands.matrix import Matrix, make_matrix
from clusterbuild.commands.publish import publish
from clusterbuild.errors import BuildError
from clusterbuild.workspace.load import load_workspace


def plan_shards(config: BotConfig, app: str, version: str) -> Matrix | None:
    """The per-platform matrix of ``app`` ``version``; None without a remote cache (the
    shards could not hand their results to the publishing job)."""
    ws = load_workspace(config.workspace)
    settings = config.settings(ws, f"{app}:{version}")
    if settings.remote_cache is None or not config.publishes:
        return None
    found = make_matrix(settings, ws, _notify, max_jobs=None)
    if found.failures:
        raise found.failures[0].error
    return found


def publish_shards(config: BotConfig, app: str, version: str) -> tuple[Image, ...]:
    """Publish the index of ``app`` ``version`` from its shards' images: the index first,
    then each platform's image; BuildError naming why when it is held back."""
    ws = load_workspace(config.workspace)
    target = f"{app}:{version}"
    settings = config.settings(ws, target)
    done = publish(settings, ws, _notify)
    if done.failures:
        raise done.failures[0].error
    if done.held_back:
        raise BuildError(f"the index of {target} was not published: {done.held_back[0][1]}")
    named = (*done.pushed, *done.unchanged, *done.platforms)
    return tuple(Image(ref, str(digest)) for ref, digest in named)
