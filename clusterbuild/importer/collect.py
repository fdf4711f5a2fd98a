"""What a script leaves in its app dir, gathered while it is read, then turned into inputs.

Downloads are *pending files* at the path they have reached (a ``wget`` into the app dir, a
``tar`` member, a ``mv`` to ``opt/``); only at the end is each classified by where it landed
and what its URL holds: under ``manifests/`` a manifest; an archive member, or a per-arch URL
that is no archive, a binary; anything else a file by URL. Charts are inputs as soon as they
are pulled, so that ``yq`` edits can reach them. Every command read is either an origin of an
input (reported as converted) or a ``Skip`` with its reason.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from clusterbuild.fetch.yq import Edits
from clusterbuild.importer.rendered import Rendered
from clusterbuild.importer.values import ARCH, ARCH_NAME, Origin, Text
from clusterbuild.importer.written import Written

TOP = "*"  # an archive path's first segment standing for the archive's single top directory
DATA_FILES = (".yaml", ".yml", ".json", ".txt", ".md", ".tmpl", ".conf", ".toml")
ARCHIVES = (".tar.gz", ".tgz", ".zip", ".tar", ".tar.xz", ".txz", ".tar.bz2", ".gz", ".xz", ".bz2")


@dataclass
class Pending:
    url: Text
    origins: list[Origin]
    member: str | None = None  # the file is this member of the archive at url
    unpacked: bool = False  # an archive member, or a decompressed .gz
    mode: str | None = None
    checksums: Text | None = None  # a checksum file the script verified this download with
    edits: list[dict[str, Any]] = field(default_factory=list)  # sed/yq edits, "file" set when placed
    exclude: list[str] = field(default_factory=list)  # parts of a directory member removed after
    directory: bool = False  # the member is a directory (`mv DIR/* DEST/`)


@dataclass
class Archive:
    """An archive extracted whole into ``into``: files are taken out of it by ``mv``/``cp``."""

    url: Text
    into: str
    origins: list[Origin]
    taken: bool = False
    checksums: Text | None = None
    members_taken: list[str] = field(default_factory=list)  # moved out of it: not left in `into`
    edits: list[dict[str, Any]] = field(default_factory=list)
    top: str = ""  # "*": `into` is the archive's single top directory (tar --strip-components=1)
    clone: bool = False  # a git clone (GitHub's source archive, without .git)

    def member(self, path: str) -> str:
        """The archive path of ``path`` (a path under ``into``, or ``into`` itself)."""
        rel = path if self.into == "." else path[len(self.into) + 1:]
        return "/".join(p for p in (self.top, rel) if p)


@dataclass
class Draft:
    fields: dict[str, Any]
    origins: list[Origin] = field(default_factory=list)
    where: str = ""  # the path it lands at
    line: int = 0  # the line of the command that made it (a pull, a download): inputs are in that order

    @property
    def label(self) -> str:
        return f"{self.fields['kind']} {self.fields.get('name') or self.where}"


@dataclass(frozen=True)
class Skip:
    origin: Origin
    reason: str
    end_line: int = 0


def url_name(url: Text) -> str:
    return posixpath.basename(url.template().split("?")[0])


class Collector:
    def __init__(self) -> None:
        self.files: dict[str, Pending] = {}
        self.written: dict[str, Written] = {}  # files the script writes itself
        self.archives: list[Archive] = []
        self.charts: dict[str, Draft] = {}
        self.repos: dict[str, tuple[str, Origin]] = {}  # helm repo alias -> (URL, where it was added)
        self.used_repos: set[str] = set()
        self.images: list[tuple[str, Origin]] = []
        self.skips: list[Skip] = []
        self.dirs: set[str] = {"."}  # directories the script made
        self.removed: list[tuple[str, Origin]] = []  # committed directories the script removes
        self.rendered: list[Rendered] = []  # charts rendered into files (helm template >)
        self.arch_map: dict[str, str] = {}
        self.arch_origin: Origin | None = None
        self.reads: dict[str, tuple[dict[str, Any], Origin]] = {}  # images.read: name -> (spec, origin)
        self.used_reads: set[str] = set()  # the reads an image list names
        self.releases: dict[str, dict[str, str]] = {}  # releases the templates may name: name -> spec
        # ({github: owner/repo}: a latest release asked of GitHub; {url, file, run}: read out of a download)
        self.release_origins: dict[str, Origin] = {}  # where a variable is set to one
        self.read_releases: dict[str, dict[str, str]] = {}  # a read of a download: the release reading it
        self.copies: list[Draft] = []  # files copied out of a chart input (copy inputs)
        self.edited_after_read: set[str] = set()  # files edited after a read of them

    def not_needed(self, origin: Origin, why: str, end_line: int = 0) -> None:
        self.skips.append(Skip(origin, f"not needed ({why})", end_line))

    def not_convertible(self, origin: Origin, why: str, end_line: int = 0) -> None:
        self.skips.append(Skip(origin, f"not convertible ({why})", end_line))

    def set_arch_map(self, mapping: dict[str, str], origin: Origin) -> bool:
        """Remember the script's arch map; False if it already had another one."""
        if self.arch_origin is not None and mapping != self.arch_map:
            return False
        self.arch_map, self.arch_origin = mapping, origin
        return True

    def download(self, url: Text, path: str, origin: Origin, unpacked: bool = False) -> None:
        self.files[path] = Pending(url, [origin], unpacked=unpacked)

    def write(self, path: str, text: Text, origin: Origin, append: bool) -> None:
        """The script writes ``text`` to ``path`` (``>``), or appends it (``>>``)."""
        self.files.pop(path, None)
        before = self.written.get(path)
        if append and before is not None:
            before.text, before.origins = before.text + text, [*before.origins, origin]
        else:
            self.written[path] = Written(path, text, [origin], append=append)

    def add_edit(self, path: str, edit: dict[str, Any], origin: Origin) -> bool:
        """Attach a ``sed``/``yq`` edit of ``path`` to the download that places it (False: none)."""
        self.note_edit(path)
        pending = self.files.get(path)
        if pending is not None:
            pending.edits.append({k: v for k, v in edit.items() if k != "file"})
            pending.origins.append(origin)
            return True
        under = next((p for p, f in self.files.items() if f.member is not None and path.startswith(p + "/")),
                     None)
        if under is not None:  # a file in a directory taken out of an archive
            self.files[under].edits.append({**edit, "file": path[len(under) + 1:]})
            self.files[under].origins.append(origin)
            return True
        chart = next((d for d in self.charts.values() if path.startswith(f"{d.where}/")), None)
        if chart is not None:
            chart.fields.setdefault("edits", []).append(edit)
            chart.origins.append(origin)
            return True
        archive = next((a for a in reversed(self.archives)
                        if a.into != "." and path.startswith(a.into + "/")), None)
        if archive is not None:
            archive.edits.append(edit)
            archive.origins.append(origin)
            return True
        return False

    def note_edit(self, path: str) -> None:
        """An edit of ``path``: a read of it before stays the value before the edit."""
        if any(spec["file"] == path for spec, _ in self.reads.values()):
            self.edited_after_read.add(path)

    def exclude_inside(self, path: str, origin: Origin) -> bool:
        """``rm -rf`` of a part of a directory taken out of an archive: left out of that input
        (False: ``path`` is in no such directory)."""
        under = next((p for p, f in self.files.items() if f.member is not None and path.startswith(p + "/")),
                     None)
        if under is not None:
            rel = path[len(under) + 1:]
            self.files[under].exclude += [rel, f"{rel}/*"]
            self.files[under].origins.append(replace(origin, detail=f"exclude {rel}"))
            return True
        archive = next((a for a in reversed(self.archives)
                        if a.into != "." and path.startswith(a.into.rstrip("/") + "/")), None)
        if archive is not None:
            rel = path[len(archive.into.rstrip("/")) + 1:]
            archive.members_taken += [rel, f"{rel}/*"]
            archive.origins.append(replace(origin, detail=f"exclude {rel}"))
            return True
        return False

    def downloaded(self, path: str) -> tuple[str, str | None] | None:
        """Where the file at ``path`` comes from, when it is a download nothing edits: its URL
        (a template), and its path in that archive (None: the download itself)."""
        chart = next((d for d in self.charts.values() if path.startswith(d.where + "/")), None)
        if chart is not None:
            rel = path[len(chart.where) + 1:]
            edited = chart.fields.get("edits") or (rel == "values.yaml" and chart.fields.get("values"))
            if "url" not in chart.fields or "path" in chart.fields or edited:
                return None
            return str(chart.fields["url"]), f"{TOP}/{rel}"  # a chart archive's one top directory
        pending = self.files.get(path)
        if pending is not None and not pending.edits and pending.member is None and not pending.unpacked:
            return pending.url.template(), None
        moved = next((p for p, f in self.files.items() if f.member is not None and path.startswith(p + "/")),
                     None)
        if moved is not None:  # in a directory taken out of an archive
            taken = self.files[moved]
            return (taken.url.template(), f"{taken.member}{path[len(moved):]}") if not taken.edits else None
        archive = next((a for a in reversed(self.archives) if a.into == "." or path.startswith(a.into + "/")),
                       None)
        if archive is None or archive.clone or archive.edits:
            return None
        member = archive.member(path)
        rel = path if archive.into == "." else path[len(archive.into) + 1:]
        if any(rel == t or rel.startswith(t.rstrip("/") + "/") for t in archive.members_taken):
            return None  # moved out of the extracted tree: not there any more
        return archive.url.template(), member

    def take(self, path: str) -> Pending | None:
        return self.files.pop(path, None)

    def extract(self, source: Pending, members: list[str], into: str, origin: Origin, strip: int = 0) -> None:
        """Files ``members`` of the archive ``source`` (its whole content when none) into ``into``."""
        origins = [*source.origins, origin]
        if not members:  # --strip-components=1: the archive's single top directory ("*")
            self.archives.append(Archive(source.url, into, origins, checksums=source.checksums,
                                         top="*" if strip == 1 else ""))
        for member in members:
            landed = "/".join(member.split("/")[strip:])
            if landed:
                path = posixpath.normpath(posixpath.join(into, landed))
                self.files[path] = Pending(source.url, origins, member=member, unpacked=True,
                                           checksums=source.checksums)

    def verified_with(self, listing: str, origin: Origin) -> list[str]:
        """``sha256sum -c listing``: the downloads beside ``listing`` from the same release
        directory are checked against it (it becomes their ``sha256_url``); the listing itself
        is not shipped. The paths checked."""
        source = self.take(listing)
        if source is None:
            return []
        release = source.url.template().rsplit("/", 1)[0]
        checked = []
        for path, pending in self.files.items():
            same_dir = posixpath.dirname(path) == posixpath.dirname(listing)
            if same_dir and not pending.unpacked and pending.url.template().rsplit("/", 1)[0] == release:
                pending.checksums = source.url
                pending.origins.append(replace(origin, detail="sha256_url"))
                checked.append(path)
        return checked

    def is_dir(self, path: str) -> bool:
        return path in self.dirs or any(p.startswith(path + "/") for p in self.files)

    def move(self, source: str, dest: str, origin: Origin, keep: bool, contents: bool = False) -> str | None:
        """Move (or copy, ``keep``) the file or directory at ``source`` to ``dest`` (``contents``:
        what the directory ``source`` holds into ``dest``, as ``mv source/* dest/``, hidden
        entries left); why not, if not."""
        if any(c in source for c in "*?["):
            return f"moves the files matching {source}: name each one"
        moved = [p for p in self.files if (p == source and not contents) or (p.startswith(source + "/")
                 and not (contents and p[len(source) + 1:].startswith(".")))]
        for path in moved:
            pending = self.files[path] if keep else self.files.pop(path)
            self.files[dest + path[len(source):]] = replace(pending, origins=[*pending.origins, origin])
        written = [p for p in self.written if p == source or p.startswith(source + "/")]
        for path in written:
            kept = self.written[path] if keep else self.written.pop(path)
            self.written[dest + path[len(source):]] = replace(kept, path=dest + path[len(source):],
                                                              origins=[*kept.origins, origin])
        if moved or written:
            return None
        chart = next((n for n, d in self.charts.items() if source.startswith(d.where + "/")), None)
        if chart is not None and keep:  # cp -r charts/x/crds/* manifests/: copied in each build
            fields: dict[str, Any] = {"kind": "copy", "src": source, "dest": dest}
            fields |= {"contents": True} if contents else {}
            self.copies.append(Draft(fields, [origin], dest, origin.line))
            return None
        if chart is not None:
            return f"moves {source} out of chart {chart}, which a chart input places only whole: copy it " \
                "(cp -r), or keep the files in the app dir"
        for archive in reversed(self.archives):
            if archive.top and source == archive.into:
                return f"{'copies' if keep else 'moves'} the whole clone {source}, .git included, which " \
                    "GitHub's source archive lacks: name the directories it needs"
            if archive.into == "." or source.startswith(archive.into + "/"):
                archive.taken = True
                rel = source if archive.into == "." else source[len(archive.into) + 1:]
                if not keep or dest == source:
                    archive.members_taken += [rel, f"{rel}/*"] if contents else [rel]
                self.files[dest] = Pending(archive.url, [*archive.origins, origin], archive.member(source),
                                           True, checksums=archive.checksums,
                                           exclude=[".*", ".*/*"] if contents else [], directory=contents)
                return None
        return f"{source} is not a file the script downloaded"

    def matching(self, pattern: str) -> list[str]:
        """Pending files at ``pattern`` (a path or glob), or under it when it names a directory."""
        return [p for p in self.files if fnmatchcase(p, pattern) or p.startswith(pattern.rstrip("/") + "/")]

    def chmod(self, pattern: str, mode: str, origin: Origin) -> bool:
        """Set the mode of the pending files at ``pattern``; a file of a whole archive is taken out."""
        written = [p for p in self.written if fnmatchcase(p, pattern)]
        for path in written:
            self.written[path].mode = mode
            self.written[path].origins.append(replace(origin, detail=f"mode {mode}"))
        paths = self.matching(pattern)
        plain = not any(c in pattern for c in "*?[")
        if written and not paths:
            return True
        if not paths and plain and self.move(pattern, pattern, origin, keep=True) is None:
            paths = [pattern]
        for path in paths:
            pending = self.files[path]
            pending.mode = mode
            pending.origins.append(replace(origin, detail=f"mode {mode}"))
        return bool(paths)

    def remove(self, pattern: str) -> None:
        for path in self.matching(pattern):
            del self.files[path]
        for path in [p for p in self.written if fnmatchcase(p, pattern) or p.startswith(pattern + "/")]:
            del self.written[path]
        self.archives = [a for a in self.archives if not fnmatchcase(a.into, pattern)]
        self.dirs = {d for d in self.dirs if d == "." or (not fnmatchcase(d, pattern)
                     and not d.startswith(pattern + "/"))}

    def chart(self, fields: dict[str, Any], origins: list[Origin]) -> None:
        where = fields.get("dir", "charts")
        self.dirs.add(where)
        self.charts[fields["name"]] = Draft(fields, origins, f"{where}/{fields['name']}", origins[-1].line)

    def edit_values(self, name: str, edits: Edits, origin: Origin) -> None:
        draft = self.charts[name]
        self.note_edit(f"{draft.where}/values.yaml")
        values = draft.fields.setdefault("values", {})
        for path in edits.delete:
            kept = {k: v for k, v in values.get("set", {}).items() if not _under(k, path)}
            values["set"] = kept
            values.setdefault("delete", []).append(path)
        values.update(set={**values.get("set", {}), **edits.set})
        for key in ("set", "delete"):
            if not values.get(key):
                values.pop(key, None)
        draft.origins.append(origin)

    def image(self, reference: Text, origin: Origin) -> None:
        self.images.append((reference.template(), origin))

    def place(self, path: str, pending: Pending) -> Draft | None:
        """The input for a file the script leaves at ``path`` (None, and a skip, if there is none)."""
        url, last = pending.url, pending.origins[-1]
        kept_archive = not pending.unpacked and url_name(url).endswith(ARCHIVES)
        per_arch = url.uses(ARCH) or url.uses(ARCH_NAME)
        if path.startswith(("/", "../")):
            self.not_needed(last, f"{path} is outside the app dir, so not in the image")
            return None
        if pending.member is not None:
            return self._member(path, pending)
        if path.startswith("manifests/"):
            fields: dict[str, Any] = {"kind": "manifest", "url": url.template()}
            if path != f"manifests/{url_name(url)}":
                fields["dest"] = path
        elif pending.unpacked or (per_arch and not kept_archive):
            return self._binary(path, pending)
        else:
            fields = {"kind": "url", "url": url.template(), "dest": path}
            if pending.mode:
                fields["mode"] = pending.mode
        if url.uses(ARCH_NAME):
            self.not_convertible(last, f"{path}: its URL needs the arch map, which only binary inputs have")
            return None
        return _checked(Draft(fields, pending.origins, path, pending.origins[0].line), pending)

    def _member(self, path: str, pending: Pending) -> Draft | None:
        """A file or directory taken out of an archive: a chart under charts/<name>, a binary
        (one file), else a directory of the archive (an archive input)."""
        member = str(pending.member)
        if member.startswith(f"{TOP}/"):  # out of a clone: the archive's top directory is not known
            return self._cloned(path, pending)
        if re.fullmatch(r"charts/[^/]+", path) and not pending.url.uses(ARCH_NAME) and not pending.edits:
            chart: dict[str, Any] = {"kind": "chart", "name": path[len("charts/"):],
                                     "url": pending.url.template(), "path": member}
            if pending.exclude:
                chart["exclude"] = pending.exclude
            return _checked(Draft(chart, pending.origins, path, pending.origins[0].line), pending)
        one_file = not pending.directory and (path.startswith("opt/") or "/" not in path
                                              or "." in posixpath.basename(path))
        if path != "charts" and (one_file or pending.mode) and not any("file" in e for e in pending.edits):
            return self._binary(path, pending)
        fields: dict[str, Any] = {"kind": "archive", "url": pending.url.template(), "path": member,
                                  "dest": path}
        if pending.exclude:
            fields["exclude"] = pending.exclude
        return self._archive_draft(fields, pending.origins, pending)

    def _cloned(self, path: str, pending: Pending) -> Draft | None:
        """A directory (or a file, under its own name) taken out of a git clone: an archive input
        of GitHub's source archive, whose path starts with the top directory's ``*``."""
        member = str(pending.member)
        fields: dict[str, Any] = {"kind": "archive", "url": pending.url.template(), "path": member,
                                  "dest": path}
        single = "." in posixpath.basename(path) and not any("file" in e for e in pending.edits)
        if single and posixpath.basename(path) != posixpath.basename(member):
            self.not_convertible(pending.origins[-1], f"renames {member} of a clone to {path}: copy it "
                                 "under its own name")
            return None
        if single:  # an archive path naming a file lands in dest under its own name
            fields["dest"] = posixpath.dirname(path) or "."
            pending = replace(pending, edits=[{**e, "file": posixpath.basename(path)} for e in pending.edits])
        if pending.exclude:
            fields["exclude"] = pending.exclude
        draft = self._archive_draft(fields, pending.origins, pending)
        draft.where = path
        return draft

    def _archive_draft(self, fields: dict[str, Any], origins: list[Origin], pending: Pending | None) -> Draft:
        origins = list(origins)
        if "{{ arch_name }}" in fields["url"]:
            fields["arch_map"] = dict(self.arch_map)
            if self.arch_origin is not None:
                origins.append(replace(self.arch_origin, detail="arch_map"))
        fields = {k: fields[k] for k in ("kind", "url", "arch_map", "path", "dest") if k in fields} | {
            k: v for k, v in fields.items() if k not in ("kind", "url", "arch_map", "path", "dest")}
        draft = Draft(fields, origins, fields["dest"], origins[0].line)
        if pending is not None:
            if pending.checksums is not None:
                draft.fields["sha256_url"] = pending.checksums.template()
            if pending.edits:
                draft.fields["edits"] = [{**e, "file": f"{draft.where}/{e['file']}"} for e in pending.edits]
        return draft

    def _binary(self, path: str, pending: Pending) -> Draft:
        url = pending.url
        fields: dict[str, Any] = {"kind": "binary", "url": url.template()}
        origins = list(pending.origins)
        if url.uses(ARCH_NAME) and self.arch_origin is not None:
            fields["arch_map"] = dict(self.arch_map)
            origins.append(replace(self.arch_origin, detail="arch_map"))
        if pending.member is not None:
            fields["member"] = pending.member
        fields["dest"] = path
        if pending.mode and pending.mode != "0755":
            fields["mode"] = pending.mode
        elif not pending.mode and path.endswith(DATA_FILES):
            fields["mode"] = "0644"  # a manifest or list out of an archive, not a program
        if not (url.uses(ARCH) or url.uses(ARCH_NAME)):
            fields["check_arch"] = False  # the same file for every platform, as the script ships it
        if pending.edits:
            self.not_convertible(pending.origins[-1], f"edits {path}, a file out of an archive: keep an "
                                 "edited copy in the app dir")
            pending = replace(pending, edits=[])
        return _checked(Draft(fields, origins, path, pending.origins[0].line), pending)

    def leftovers(self) -> list[Draft]:
        """Archives extracted whole into a directory, as archive inputs (what the script moved out
        of them excluded); skips for what was read but placed nowhere."""
        drafts = []
        for archive in self.archives:
            origin = archive.origins[-1]
            if archive.clone:
                self.not_convertible(origin, f"leaves the clone in {archive.into}, .git included, which "
                                     "GitHub's source archive lacks: copy what it needs out of it, then "
                                     "remove it")
            elif archive.into == "." and not archive.taken:
                self.not_convertible(origin, "extracts the whole archive into the app dir; name the "
                                     "directories it needs (an archive input with path and dest)")
            elif archive.into != ".":
                fields: dict[str, Any] = {"kind": "archive", "url": archive.url.template(),
                                          **({"path": archive.top} if archive.top else {}),
                                          "dest": archive.into}
                if archive.members_taken:
                    under = archive.top + "/" if archive.top else ""
                    fields["exclude"] = sorted({m.removeprefix(under) for m in archive.members_taken})
                pending = Pending(archive.url, archive.origins, checksums=archive.checksums)
                draft = self._archive_draft(fields, archive.origins, pending)
                if archive.edits:
                    draft.fields["edits"] = list(archive.edits)
                drafts.append(draft)
        for alias, (_, origin) in self.repos.items():
            if alias not in self.used_repos:
                self.not_needed(origin, "no chart is pulled from this repository")
        return drafts


    def replacing(self, drafts: list[Draft]) -> None:
        """``rm -rf dir`` of a committed dir, then an input into it: the input replaces what is
        committed there (``replace: true``); a committed dir removed for nothing is to do."""
        for removed, origin in self.removed:
            inside = [d for d in drafts if d.fields["kind"] in ("chart", "archive")
                      and (d.where == removed or d.where.startswith(removed + "/"))]
            for draft in inside:
                draft.fields["replace"] = True if draft.where == removed else removed
                draft.origins.append(replace(origin, detail="replace"))
            placed = any(d.where == removed or d.where.startswith(removed + "/") for d in drafts)
            if not inside and not placed:
                self.not_convertible(origin, f"removes {removed}/, committed in the app dir: delete it there")


def _checked(draft: Draft, pending: Pending) -> Draft:
    if pending.checksums is not None:
        draft.fields["sha256_url"] = pending.checksums.template()
    if pending.edits:
        draft.fields["edits"] = [{"file": draft.where, **edit} if "file" not in edit else
                                 {**edit, "file": f"{draft.where}/{edit['file']}"} for edit in pending.edits]
    return draft


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def unique_drafts(drafts: list[Draft]) -> list[Draft]:
    """Drafts in script order, each spec once (a function called twice pulls the same chart twice)."""
    seen: dict[str, Draft] = {}
    for draft in sorted(drafts, key=lambda d: d.line):
        key = json.dumps(draft.fields, sort_keys=True)
        if key in seen:
            seen[key].origins += draft.origins
        else:
            seen[key] = draft
    return list(seen.values())
