"""The release a chart is rendered as: sealos' (``dryrun``, namespace "", not an install).

sealos renders every chart with only the release name set, so ``.Release.Namespace``
is "" and ``.Release.IsInstall``/``.Release.IsUpgrade`` are false. A chart that
refuses ``helm install`` without ``-n`` (``if and .Release.IsInstall (eq
.Release.Namespace "default") … fail``) renders there, and templates that branch on
those fields render as sealos renders them. Helm's SDK, as clusterbuild calls it, always
sets a namespace (``default`` when empty) and an install or an upgrade, so the fields the
SDK cannot give are written into the chart's templates (and values files, for ``tpl``)
before it is loaded from an archive packed in memory (the files Helm's directory loader
would read: ``.helmignore`` applied, see ``helmignore``):

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
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from clusterbuild.discover.helmignore import parse_ignore

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


def release_archive(path: Path, release: Release) -> bytes | None:
    """The chart at ``path`` (a directory or archive) as a chart archive in memory, with the
    release fields rewritten; None when nothing in it names them (or when a directory's
    .helmignore negates: Helm loads that one itself), so Helm loads ``path`` as it is."""
    if not release.rewrites:
        return None
    if path.is_file():
        data = path.read_bytes()
        rewritten = rewrite_archive(data, release)
        return None if rewritten is data else rewritten
    files = _files(path)
    if files is None:
        return None
    read = {name: (path / name).read_bytes() for name in files if _is_template(name) or name.endswith(".tgz")}
    changed = {name: _rewrite_file(name, content, release) for name, content in read.items()}
    if all(changed[name] is read[name] for name in read):
        return None
    return _pack({f"{path.name}/{name}": changed[name] if name in changed else (path / name).read_bytes()
                  for name in files})


def _pack(files: dict[str, bytes]) -> bytes:
    """A gzip tar of ``files``, stored uncompressed (Helm needs gzip; it lives in memory only)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=0) as packed:
        for name, content in files.items():
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(content), 0o644
            packed.addfile(member, io.BytesIO(content))
    return out.getvalue()


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
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=0) as packed:
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


def _files(root: Path) -> list[str] | None:
    """Chart-relative paths of the files Helm's directory loader reads (``.helmignore``)."""
    ignore = root / ".helmignore"
    ignored = parse_ignore(ignore.read_text(encoding="utf-8", errors="replace")) if ignore.is_file() \
        else parse_ignore("")
    if ignored is None:
        return None
    found: list[str] = []
    for directory, subdirectories, names in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix().removeprefix(".").lstrip("/")
        prefix = f"{relative}/" if relative else ""
        subdirectories[:] = sorted(d for d in subdirectories if not ignored(prefix + d, True))
        found += [prefix + name for name in sorted(names) if not ignored(prefix + name, False)]
    return found
