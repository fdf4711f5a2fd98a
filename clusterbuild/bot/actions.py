"""The work a checked command asks for; each returns the images with the digests the
build or the registry produced.

* ``/imagebuild_apps``: clusterbuild's ``apply`` of one ``app:version`` (pushed when the
  bot publishes).
* ``/imagesync``: clusterbuild's ``sync`` with every platform, to ``--sync-to``.
* ``/imagebuild_dockerimages``: ``dockerimages/<name>/<dir>/Dockerfile``. Such Dockerfiles
  ``RUN`` commands, which a ``FROM scratch`` cluster-image build cannot, so this is
  delegated to buildah (``bud --storage-driver vfs --isolation chroot``, then ``push``),
  always as an argument list: no shell, and every value was checked before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from clusterbuild.bot.config import BotConfig
from clusterbuild.bot.decision import Image
from clusterbuild.commands.build import Applied, apply_workspace
from clusterbuild.commands.registry import sync_image
from clusterbuild.errors import BuildError, ClusterbuildError, InputError
from clusterbuild.execute import children
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.steps import ExportStep, PushStep, Step
from clusterbuild.settings import Settings
from clusterbuild.workspace.load import WORKSPACE_FILE, LoadedWorkspace, load_workspace

BUILDAH_TIMEOUT = 3 * 3600  # seconds for one buildah command


class StderrProgress:
    """Step progress for the workflow log; stdout is kept for the decision."""

    def started(self, step: Step) -> None:
        pass

    def finished(self, step: Step, seconds: float) -> None:
        print(f"  ✓ {step.label}  {seconds:.2f}s", file=sys.stderr, flush=True)


def _notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _workspace(config: BotConfig) -> LoadedWorkspace | None:
    """The workspace's apps.yaml, when there is one (sync works without)."""
    return load_workspace(config.workspace) if (config.workspace / WORKSPACE_FILE).is_file() else None


def build_app(config: BotConfig, app: str, version: str) -> tuple[tuple[Image, ...], tuple[str, ...]]:
    """Build (and publish) ``app`` ``version``: the images (the index first, then one per
    platform), and the release diff against the previous version built, as Markdown lines."""
    ws = load_workspace(config.workspace)
    settings = config.settings(ws, f"{app}:{version}")
    applied = apply_workspace(settings, ws, StderrProgress(), _notify)
    if applied.failures:
        raise applied.failures[0].error
    return published(applied), release_notes(settings, ws, app, version)


def previous_built(ws: LoadedWorkspace, layout: OciLayout, app: str, version: str) -> str | None:
    """The version listed before ``version`` in apps.yaml (else after it) that the layout holds."""
    versions = list(ws.config.apps[app].versions) if app in ws.config.apps else []
    refs = layout.refs()
    built = [v for v in versions if v != version and f"{ws.config.registry}/{app}:{v}" in refs]
    before = [v for v in built if versions.index(v) < versions.index(version)] if version in versions \
        else built
    chosen = before or built
    return chosen[-1] if chosen else None


def release_notes(settings: Settings, ws: LoadedWorkspace, app: str, version: str) -> tuple[str, ...]:
    previous = previous_built(ws, OciLayout(settings.layout_dir), app, version)
    if previous is None:
        return ()
    from clusterbuild.commands.diffs import diff_versions

    try:
        diff = diff_versions(settings, ws, f"{app}:{previous}", f"{app}:{version}", _notify)
    except ClusterbuildError as exc:
        return ("", f"<sub>no diff against {app}:{previous}: {exc}</sub>")
    return ("", f"Changes since `{app}:{previous}`:", "", "```diff", *diff.lines(), "```")


def published(applied: Applied) -> tuple[Image, ...]:
    """Each image of the build with its digest, under the pushed name when it was pushed."""
    digests = {ref: str(desc.digest) for ref, desc in applied.exported}
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
    summary = sync_image(config.settings(_workspace(config)), image, target, all_platforms=True,
                         notify=_notify)
    return (Image(target, summary.split()[-1]),)



def image_ref(config: BotConfig, name: str, version: str) -> str:
    """``<push prefix or apps.yaml's registry>/<name>:<version>``, checked."""
    prefix = config.push_to or load_workspace(config.workspace).config.registry
    ref = f"{prefix.rstrip('/')}/{name}:{version}"
    try:
        return str(Reference.parse(ref))
    except ReferenceError as exc:
        raise InputError(f"cannot name the docker image: {exc}",
                         hint="image names are lower case") from None


def _dockerfile(context: Path) -> Path:
    """The catalogue's rule: ``Dockerfile`` when it is not empty, else ``Kubefile``."""
    dockerfile = context / "Dockerfile"
    if dockerfile.is_file() and dockerfile.stat().st_size:
        return dockerfile
    if (context / "Kubefile").is_file():
        return context / "Kubefile"
    raise BuildError(f"{context}: no Dockerfile (nor Kubefile) after init.sh",
                     hint="commit a Dockerfile or have init.sh write one")


def _prepared_context(settings: Settings, name: str, version: str, context: Path, platform: Platform,
                      scratch: Path) -> Path:
    """The build context of one platform: the dir as committed, or as its init.sh leaves it
    (run like the catalogue runs it: ``init.sh <arch> <name> <version>``, in the sandbox)."""
    if not (context / "init.sh").is_file():
        return context
    from clusterbuild.execute.scripts import run_in_scratch

    log = settings.cache_dir / "logs" / f"dockerimages-{name}-{version}-{platform.tag_suffix}.log"
    return run_in_scratch(context, (platform.architecture, name, version), scratch, log, settings.scripts,
                          BUILDAH_TIMEOUT, f"dockerimages/{name} {version} [{platform}]")


def build_dockerimage(config: BotConfig, name: str, version: str, context: Path,
                      build_args: Sequence[tuple[str, str]]) -> tuple[Image, ...]:
    """Build ``context`` with buildah for every platform of apps.yaml (``ARCH`` and
    ``TARGETARCH`` given), each as ``<ref>-<arch>``, and when the bot publishes push them and
    a manifest list ``<ref>``; the images, the list first."""
    if config.buildah is None:
        raise BuildError("buildah is not installed: /imagebuild_dockerimages runs the "
                         "Dockerfile's RUN steps, which need a container engine",
                         hint="install buildah on the runner (apt-get install buildah)")
    ws = _workspace(config)
    settings = config.settings(ws)
    platforms = [Platform.parse(p) for p in (ws.config.platforms if ws else ["linux/amd64", "linux/arm64"])]
    ref = image_ref(config, name, version)
    buildah = (*config.buildah, "--storage-driver", "vfs")
    built: list[Image] = []
    with tempfile.TemporaryDirectory(prefix="clusterbuild-buildah-") as tmp:
        for platform in platforms:
            arch = platform.architecture
            scratch = Path(tmp) / f"context-{platform.tag_suffix}"
            prepared = _prepared_context(settings, name, version, context, platform, scratch)
            args = dict([("VERSION", version), ("ARCH", arch), *build_args])  # the comment's win
            image_id = Path(tmp) / f"iid-{platform.tag_suffix}"
            run_buildah(buildah, "bud", [
                "--isolation", "chroot", "--platform", str(platform), "--iidfile", str(image_id),
                "-f", str(_dockerfile(prepared)), "-t", f"{ref}-{platform.tag_suffix}",
                *(f"--build-arg={key}={value}" for key, value in args.items()), str(prepared)])
            built.append(Image(f"{ref}-{platform.tag_suffix}", image_id.read_text().strip()))
        if not config.publishes:
            return tuple(built)
        return _publish(buildah, settings, ref, built, Path(tmp))


def _publish(buildah: Sequence[str], settings: Settings, ref: str, built: list[Image],
             tmp: Path) -> tuple[Image, ...]:
    """Push each platform image, then a manifest list of them under ``ref``."""
    tls = "false" if Reference.parse(ref).registry in settings.registries.insecure else "true"
    pushed = []
    for image in built:
        digest = tmp / f"digest-{image.ref.rsplit('-', 1)[-1]}"
        run_buildah(buildah, "push", [f"--tls-verify={tls}", "--digestfile", str(digest), image.ref,
                                      f"docker://{image.ref}"])
        pushed.append(Image(image.ref, digest.read_text().strip()))
    run_buildah(buildah, "manifest", ["create", ref])
    for image in pushed:
        run_buildah(buildah, "manifest", ["add", f"--tls-verify={tls}", ref, f"docker://{image.ref}"])
    digest = tmp / "digest-list"
    run_buildah(buildah, "manifest", ["push", "--all", f"--tls-verify={tls}", "--digestfile", str(digest),
                                      ref, f"docker://{ref}"])
    return (Image(ref, digest.read_text().strip()), *pushed)


def run_buildah(buildah: Sequence[str], subcommand: str, args: list[str]) -> None:
    """Run one buildah command (an argument list, never a shell); its output goes to stderr."""
    what = f"buildah {subcommand}"
    try:
        proc = subprocess.Popen([*buildah, subcommand, *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ), start_new_session=True)
    except OSError as exc:
        raise BuildError(f"{what}: {exc.strerror or exc}",
                         hint="install buildah on the runner (apt-get install buildah)") from None
    children.started(proc)  # its own process group: stopped with the bot
    try:
        stdout, stderr = proc.communicate(timeout=BUILDAH_TIMEOUT)
    except subprocess.TimeoutExpired:
        children.kill_group(proc.pid)
        proc.communicate()
        raise BuildError(f"{what}: no result after {BUILDAH_TIMEOUT} s") from None
    finally:
        children.ended(proc)
    sys.stderr.write(stdout + stderr)
    if proc.returncode != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no message"
        raise BuildError(f"{what} failed (exit {proc.returncode}): {last}",
                         hint="the workflow log has buildah's whole output")
