"""Run fetch and unpack steps: remote inputs into the store, then into context files."""

from __future__ import annotations

import json
import posixpath
from dataclasses import replace
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.results import FetchResult, FilesResult
from clusterbuild.plan.steps import FetchStep, UnpackStep
from clusterbuild.schema.models import parse_size


class Downloads:
    """Fetches URLs and OCI chart blobs into the store (made on first use: network)."""

    def __init__(self, fetcher: Any, registry: Any) -> None:
        self.fetcher = fetcher
        self.registry = registry

    def fetch(self, url: str, digest: Digest | None, what: str, store: BlobStore) -> Digest:
        if url.startswith("data:"):  # a text input: its own content
            from clusterbuild.fetch.data_url import data_bytes

            return store.put_bytes(data_bytes(url))
        if url.startswith("oci://"):  # oci://host/path/chart@<manifest digest>, as locked
            from clusterbuild.fetch.charts import pull_oci_chart

            ref, _, manifest = url.rpartition("@")
            chart = pull_oci_chart(ref, manifest, self.registry, store)
            if digest is not None and chart.layer != digest:
                raise BuildError(f"{what}: the chart is {chart.layer}, the lock says {digest}",
                                 hint="run clusterbuild lock --update")
            return chart.layer
        fetched = self.fetcher.fetch(url, store, expect=digest, what=what)
        digest_found: Digest = fetched.digest
        return digest_found


def run_fetch(step: FetchStep, downloads: Downloads, store: BlobStore) -> FetchResult:
    digest = Digest.parse(step.digest)
    if not store.has(digest):
        downloads.fetch(step.url, digest, f"{step.app}:{step.version} {step.url}", store)
    return FetchResult(digest)


def _rerooted(entries: list[FileEntry], prefix: str, dest: str) -> list[FileEntry]:
    """The entries under ``prefix``, moved under ``dest``."""
    out = []
    for entry in entries:
        if prefix and not entry.path.startswith(prefix + "/"):
            continue
        rel = entry.path[len(prefix) + 1:] if prefix else entry.path
        out.append(replace(entry, path=posixpath.join(dest, rel)))
    return out


def _chart_root(entries: list[FileEntry], path: str | None, what: str) -> str:
    if path:
        return posixpath.normpath(path).strip("/")
    tops = {e.path.split("/", 1)[0] for e in entries}
    charts = [e.path.rsplit("/", 1)[0] for e in entries if e.path.count("/") == 1
              and e.path.endswith("/Chart.yaml")]
    if len(tops) == 1 and charts:
        return charts[0]
    raise BuildError(f"{what}: no chart at the top of the archive (found {', '.join(sorted(tops)[:5])})",
                     hint="set `path` to the chart's directory inside the archive")


def _edit_values(entries: list[FileEntry], dest: str, edits: dict[str, Any], store: BlobStore,
                 what: str) -> list[FileEntry]:
    from clusterbuild.fetch.values import edit_values

    target = f"{dest}/values.yaml"
    for i, entry in enumerate(entries):
        if entry.path == target and entry.digest is not None:
            text = store.read_bytes(entry.digest).decode()
            data = edit_values(text, edits.get("set", {}), edits.get("delete", [])).encode()
            entries[i] = replace(entry, size=len(data), digest=store.put_bytes(data))
            return entries
    raise BuildError(f"{what}: the chart has no values.yaml to edit", hint="drop `values`")


def _unpack_chart(blob: Digest, params: dict[str, Any], store: BlobStore, what: str,
                  limit: tuple[int, str]) -> list[FileEntry]:
    from fnmatch import fnmatchcase

    from clusterbuild.fetch.archives import unpack

    entries = unpack(store.file(blob), None, store, what=what, max_bytes=limit[0], limit_hint=limit[1])
    root = _chart_root(entries, params.get("path"), what)
    excluded = params.get("exclude") or []
    entries = [e for e in entries if not any(fnmatchcase(e.path[len(root):].lstrip("/"), pattern)
                                             for pattern in excluded)]
    placed = _rerooted(entries, root, params["dest"])
    if not any(e.path == f"{params['dest']}/Chart.yaml" for e in placed):
        raise BuildError(f"{what}: no Chart.yaml under {root or 'the archive root'}",
                         hint="check `path`")
    if params.get("values"):
        placed = _edit_values(placed, params["dest"], params["values"], store, what)
    return placed


def _unpack_binary(blob: Digest, params: dict[str, Any], store: BlobStore, what: str,
                   limit: tuple[int, str]) -> list[FileEntry]:
    from clusterbuild.fetch.archives import unpack
    from clusterbuild.fetch.elf import check_arch

    member = params.get("member")
    members = [member] if member else None  # none: a bare or .gz file
    files = [e for e in unpack(store.file(blob), None, store, members=members, what=what,
                               max_bytes=limit[0], limit_hint=limit[1]) if e.kind is EntryKind.FILE]
    if len(files) != 1 or files[0].digest is None:
        raise BuildError(f"{what}: {member or 'the download'} is not one file",
                         hint="name the binary with `member`")
    binary, digest = files[0], files[0].digest
    if params.get("check_arch", True) and params.get("platform"):
        check_arch(store.file(digest), Platform.parse(params["platform"]), what)
    return [replace(binary, path=params["dest"], mode=int(params.get("mode") or "0755", 8))]


TOP = "*"  # an archive path's first segment: the archive's single top directory


def under_top(entries: list[FileEntry], root: str, what: str) -> tuple[str, list[FileEntry]]:
    """``*/x/y``: the root with ``*`` as the archive's one top directory (a source archive's
    ``repo-1.2.3/``), and the entries under it (the glob also matches deeper)."""
    tops = sorted({e.path.split("/", 1)[0] for e in entries})
    if len(tops) != 1:
        raise BuildError(f"{what}: path {root!r} starts with *, the archive's single top directory, "
                         f"but it has {len(tops)} matching it ({', '.join(tops[:5])})",
                         hint="name the top directory in `path`")
    resolved = "/".join([tops[0], *root.split("/")[1:]])
    return resolved, [e for e in entries if e.path == resolved or e.path.startswith(resolved + "/")]


def _unpack_archive(blob: Digest, params: dict[str, Any], store: BlobStore, what: str,
                    limit: tuple[int, str]) -> list[FileEntry]:
    """The archive's ``path`` (all of it when none), minus ``exclude``, under ``dest``."""
    from fnmatch import fnmatchcase

    from clusterbuild.fetch.archives import unpack

    root = posixpath.normpath(params["path"]).strip("/") if params.get("path") else ""
    entries = unpack(store.file(blob), None, store, members=[root] if root else None, what=what,
                     max_bytes=limit[0], limit_hint=limit[1])
    if root.split("/", 1)[0] == TOP:
        root, entries = under_top(entries, root, what)
    single = len(entries) == 1 and entries[0].path == root and entries[0].kind is EntryKind.FILE
    if single:  # a file named by path: it lands in dest
        return [replace(entries[0], path=posixpath.join(params["dest"], posixpath.basename(root)))]
    excluded = params.get("exclude") or []
    kept = [e for e in entries if not any(fnmatchcase(e.path[len(root):].lstrip("/"), pattern)
                                          for pattern in excluded)]
    placed = [e for e in _rerooted(kept, root, params["dest"]) if e.path != params["dest"] + "/"]
    if not placed:
        raise BuildError(f"{what}: nothing under {root or 'the archive root'}", hint="check `path`")
    return placed


DEFAULT_MAX_SIZE = {"chart": 256 << 20, "binary": 2 << 30}


def _limit(step: UnpackStep, params: dict[str, Any]) -> tuple[int, str]:
    """The expansion limit of the input, and the hint that names its field."""
    from clusterbuild.fetch.archives import format_size

    default = DEFAULT_MAX_SIZE.get(params["kind"], 2 << 30)
    size = parse_size(params["max_size"]) if params.get("max_size") is not None else default
    return size, (f"a decompression bomb, or a genuinely large archive: then set {step.input_id}.max_size "
                  f"in clusterbuild.yaml (now {format_size(size)}; e.g. max_size: 4GiB)")


def run_unpack(step: UnpackStep, store: BlobStore) -> FilesResult:
    """The input's files; an archive refused (hostile, a bomb, broken) is removed from the
    store along with what it expanded to, so nothing of it stays in the cache."""
    from clusterbuild.fetch.members import ArchiveRefused

    params = json.loads(step.params)
    blob = Digest.parse(step.digest)
    what = f"{step.app}:{step.version} {step.input_id} ({step.what})"
    try:
        entries = _unpacked(step, params, blob, store, what)
    except ArchiveRefused:
        if store.has(blob):
            store.remove(blob)
        raise
    return FilesResult(tuple(entries))


def _unpacked(step: UnpackStep, params: dict[str, Any], blob: Digest, store: BlobStore,
              what: str) -> list[FileEntry]:
    entries = _placed(step, params, blob, store, what)
    if params.get("edits"):
        from clusterbuild.fetch.edits import apply_edits

        entries = apply_edits(entries, params["edits"], store, what)
    return entries


def _placed(step: UnpackStep, params: dict[str, Any], blob: Digest, store: BlobStore,
            what: str) -> list[FileEntry]:
    if params["kind"] == "chart":
        return _unpack_chart(blob, params, store, what, _limit(step, params))
    if params["kind"] == "binary":
        return _unpack_binary(blob, params, store, what, _limit(step, params))
    if params["kind"] == "archive":
        return _unpack_archive(blob, params, store, what, _limit(step, params))
    mode = int(params["mode"], 8) if params.get("mode") else 0o644  # manifest, url: the download itself
    size = store.size(blob)
    return [FileEntry(params["dest"], EntryKind.FILE, mode, size, blob)]
