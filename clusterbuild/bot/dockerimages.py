"""``/imagebuild_dockerimages``: standard images from ``dockerimages/<name>/<dir>/Dockerfile``.

Their Dockerfiles ``RUN`` commands, which a ``FROM scratch`` cluster-image build cannot, so
the build is delegated to buildah (``bud --storage-driver vfs --isolation chroot``, then
``push``), always as an argument list: no shell, and every value was checked before.
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
from clusterbuild.errors import BuildError, InputError
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.workspace.load import load_workspace

BUILDAH_TIMEOUT = 3 * 3600  # seconds for one buildah command


def image_ref(config: BotConfig, name: str, version: str) -> str:
    """``<push prefix or apps.yaml's registry>/<name>:<version>``, checked."""
    prefix = config.push_to or load_workspace(config.workspace).config.registry
    ref = f"{prefix.rstrip('/')}/{name}:{version}"
    try:
        return str(Reference.parse(ref))
    except ReferenceError as exc:
        raise InputError(f"cannot name the docker image: {exc}",
                         hint="image names are lower case") from None


def build_dockerimage(config: BotConfig, name: str, version: str, context: Path,
                      build_args: Sequence[tuple[str, str]]) -> tuple[Image, ...]:
    """Build ``context`` with buildah and push it when the bot publishes; the image."""
    if config.buildah is None:
        raise BuildError("buildah is not installed: /imagebuild_dockerimages runs the "
                         "Dockerfile's RUN steps, which need a container engine",
                         hint="install buildah on the runner (apt-get install buildah)")
    ref = image_ref(config, name, version)
    args = dict([("VERSION", version), *build_args])  # the comment's VERSION wins
    with tempfile.TemporaryDirectory(prefix="clusterbuild-buildah-") as tmp:
        image_id, digest = Path(tmp) / "iid", Path(tmp) / "digest"
        run_buildah(config.buildah, "bud", [
            "--storage-driver", "vfs", "--isolation", "chroot", "--iidfile", str(image_id),
            "-f", str(context / "Dockerfile"), "-t", ref,
            *(f"--build-arg={key}={value}" for key, value in args.items()), str(context)])
        if not config.publishes:
            return (Image(ref, image_id.read_text().strip()),)
        registry = Reference.parse(ref).registry
        tls = "false" if registry in config.insecure_registries else "true"
        run_buildah(config.buildah, "push", [
            "--storage-driver", "vfs", f"--tls-verify={tls}", "--digestfile", str(digest),
            ref, f"docker://{ref}"])
        return (Image(ref, digest.read_text().strip()),)


def run_buildah(buildah: Sequence[str], subcommand: str, args: list[str]) -> None:
    """Run one buildah command (an argument list, never a shell); its output goes to stderr."""
    what = f"buildah {subcommand}"
    try:
        done = subprocess.run([*buildah, subcommand, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=BUILDAH_TIMEOUT, env=dict(os.environ), check=False)
    except OSError as exc:
        raise BuildError(f"{what}: {exc.strerror or exc}",
                         hint="install buildah on the runner (apt-get install buildah)") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: no result after {BUILDAH_TIMEOUT} s") from None
    sys.stderr.write(done.stdout + done.stderr)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no message"
        raise BuildError(f"{what} failed (exit {done.returncode}): {last}",
                         hint="the workflow log has buildah's whole output")
