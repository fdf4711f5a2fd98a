"""The release a chart is rendered as: sealos' (``dryrun``, namespace "", not an install).

sealos renders every chart with only the release name set, so ``.Release.Namespace``
is "" and ``.Release.IsInstall``/``.Release.IsUpgrade`` are false. A chart that
refuses ``helm install`` without ``-n`` (``if and .Release.IsInstall (eq
.Release.Namespace "default") … fail``) renders there, and templates that branch on
those fields render as sealos renders them. Helm's SDK, as clusterbuild calls it, always
sets a namespace (``default`` when empty) and an install or an upgrade, so the fields the
SDK cannot give are written into the chart's templates (and values files, for ``tpl``)
before it is loaded, on a copy in scratch space:

    .Release.Namespace (any $root/.ctx prefix)   ->  (print)     when the namespace is ""
    .Release.IsInstall, .Release.IsUpgrade       ->  false       when not an install

``(print)`` is Go's empty string and needs no quotes, so it is safe inside a quoted
template string too. A chart that names none of them is rendered from where it is.
Nested subchart archives (``charts/*.tgz``) are rewritten in memory.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

RELEASE_NAME = "dryrun"
SDK_NAMESPACE = "default"  # what the SDK puts in .Release.Namespace when given ""
_FIELDS = re.compile(r"(?<![\w$.])(?:\$\w*)?(?:\.\w+)*?\.Release\.(?P<field>Namespace|IsInstall|IsUpgrade)\b")
_MAYBE = re.compile(rb"Release\.(?:Namespace|IsInstall|IsUpgrade)")


@dataclass(frozen=True)
class Release:
    """How the chart is installed: sealos' release is ``Release()``."""

    namespace: str = ""
    is_install: bool = False

    @property
    def rewrites(self) -> bool:
        """Does the SDK need help (a field it cannot set as asked)?"""
        return not self.namespace or not self.is_install

    def render_options(self) -> dict[str, object]:
        """The SDK's render options for this release."""
        return {"name": RELEASE_NAME, "namespace": self.namespace or SDK_NAMESPACE,
                "is_install": self.is_install}

    def rewrite(self, text: str) -> str:
        return _FIELDS.sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        if match.group("field") == "Namespace":
            return "(print)" if not self.namespace else match.group(0)
        return "false" if not self.is_install else match.group(0)


SEALOS_RELEASE = Release()


def release_chart(path: Path, scratch: Path, release: Release) -> Path:
    """``path`` (a chart directory or archive) when nothing in it needs rewriting for
    ``release``, else the rewritten copy in a new directory under ``scratch``."""
    if not release.rewrites:
        return path
    if path.is_file():
        data = path.read_bytes()
        rewritten = rewrite_archive(data, release)
        if rewritten is data:
            return path
        target = Path(tempfile.mkdtemp(prefix="release-", dir=scratch)) / path.name
        target.write_bytes(rewritten)
        return target
    files = _files(path)
    read = {name: (path / name).read_bytes() for name in files if _is_template(name) or name.endswith(".tgz")}
    changed = {name: _rewrite_file(name, content, release) for name, content in read.items()}
    if all(changed[name] is read[name] for name in read):
        return path
    target = Path(tempfile.mkdtemp(prefix="release-", dir=scratch)) / path.name
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if name in changed:
            (target / name).write_bytes(changed[name])
        else:
            shutil.copyfile(path / name, target / name)
    return target


def rewrite_archive(data: bytes, release: Release) -> bytes:
    """A chart archive with its templates rewritten; ``data`` itself when none needed it
    (or when it is not an archive: loading it says so, with the chart's name)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            members = [(member, tar.extractfile(member)) for member in tar.getmembers()]
            contents = {member.name: handle.read() if handle is not None else b""
                        for member, handle in members}
    except (tarfile.TarError, EOFError, OSError, zlib.error):
        return data
    changed = {name: _rewrite_file(name, content, release) for name, content in contents.items()}
    if all(changed[name] is contents[name] for name in contents):
        return data
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as packed:
        for member, _ in members:
            if member.isfile():
                member.size = len(changed[member.name])
                packed.addfile(member, io.BytesIO(changed[member.name]))
            else:
                packed.addfile(member)
    return out.getvalue()


def _rewrite_file(name: str, content: bytes, release: Release) -> bytes:
    if name.endswith(".tgz"):
        return rewrite_archive(content, release)
    if not _is_template(name) or not _MAYBE.search(content):
        return content
    text = content.decode("utf-8", errors="surrogateescape")
    return release.rewrite(text).encode("utf-8", errors="surrogateescape")


def _is_template(name: str) -> bool:
    parts = name.split("/")
    return "templates" in parts[:-1] or parts[-1] == "values.yaml"


def _files(root: Path) -> list[str]:
    found: list[str] = []
    for directory, _, names in os.walk(root):
        relative = Path(directory).relative_to(root)
        found += [(relative / name).as_posix() for name in names]
    return sorted(found)
