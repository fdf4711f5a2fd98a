"""The work a checked command asks for, through clusterbuild's own functions.

``/imagebuild_apps`` is ``apply`` of one ``app:version`` (pushed when the bot publishes);
``/imagesync`` is ``sync`` with every platform to ``--sync-to``; each returns the images
with the digests the build or the registry produced.
"""

from __future__ import annotations

import sys

from clusterbuild.bot.config import BotConfig
from clusterbuild.bot.decision import Image
from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference
from clusterbuild.plan.steps import ExportStep, PushStep, Step
from clusterbuild.registry_commands import sync_image
from clusterbuild.workflow import Applied, apply_workspace


class StderrProgress:
    """Step progress for the workflow log; stdout is kept for the decision."""

    def started(self, step: Step) -> None:
        print(f"  … {step.label}", file=sys.stderr, flush=True)

    def finished(self, step: Step, seconds: float) -> None:
        print(f"  ✓ {step.label}  {seconds:.2f}s", file=sys.stderr, flush=True)


def build_app(config: BotConfig, app: str, version: str) -> tuple[Image, ...]:
    """Build (and publish) ``app`` ``version``; the index first, then one image per platform."""
    applied = apply_workspace(config.settings(f"{app}:{version}"), StderrProgress())
    return published(applied)


def published(applied: Applied) -> tuple[Image, ...]:
    """Each image of the build with its digest, under the pushed name when it was pushed."""
    from clusterbuild.cli.output import images_of

    digests = {image["ref"]: image["digest"] for image in images_of(applied)}
    steps = applied.planned.plan.steps
    exports = {(s.app, s.version): s for s in steps if isinstance(s, ExportStep)}
    pushes = [s for s in steps if isinstance(s, PushStep)]
    if not pushes:
        return tuple(Image(ref, digest) for ref, digest in digests.items())
    images = []
    for push in pushes:
        local = exports[(push.app, push.version)].refs
        images += [Image(remote, digests[ref]) for ref, remote in zip(local, push.refs, strict=True)]
    return tuple(images)


def sync_destination(prefix: str, image: str) -> str:
    """Where ``image`` goes under ``prefix``: its last path component, tag or digest kept."""
    source = Reference.parse(image)
    name = f"{prefix.rstrip('/')}/{source.repository.rsplit('/', 1)[-1]}"
    return f"{name}:{source.tag}" if source.tag else f"{name}@{source.digest}"


def sync(config: BotConfig, image: str) -> tuple[Image, ...]:
    """Copy ``image`` with every platform to ``--sync-to``."""
    if config.sync_to is None:
        raise InputError("/imagesync has no destination: the bot runs without --sync-to",
                         hint="run `clusterbuild bot --sync-to registry.example.com/mirror`")
    target = sync_destination(config.sync_to, image)
    summary = sync_image(config.settings(), image, target, all_platforms=True)
    return (Image(target, summary.split()[-1]),)
