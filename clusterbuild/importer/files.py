"""Commands that download and place files: wget, curl, tar, unzip, gunzip, mv, cp, chmod, rm, mkdir.

Each reads its options (``options``), expands its words, and tells the collector where a
download went; what cannot be followed is reported with the reason. ``download_url`` is shared
with pipelines (``wget -qO- URL | tar -zx -C opt tool``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from clusterbuild.importer.collect import Pending, url_name
from clusterbuild.importer.nodes import Simple
from clusterbuild.importer.options import COPY, CURL, TAR, UNZIP, WGET, Options, parse_options
from clusterbuild.importer.values import Origin, Read, Text, Unknown

if TYPE_CHECKING:
    from clusterbuild.importer.walk import Walker

QUIET_TARGETS = ("/dev/null", "&2", "&1")
OUTPUT_REDIRECTS = (">", ">>", "1>", "1>>", "&>", "&>>", ">|")


def origin_of(node: Simple) -> Origin:
    return Origin(node.line, node.text)


def stdout_target(node: Simple) -> str | None:
    """The raw file a command's output is redirected to (None: the terminal or /dev/null)."""
    for redirect in node.redirects:
        if redirect.op in OUTPUT_REDIRECTS and redirect.target not in QUIET_TARGETS:
            return redirect.target
    return None


def download_url(w: Walker, node: Simple) -> tuple[Text, str | None] | str:
    """(URL, path it is saved at, or None for the output) of a wget or curl; or why not."""
    wget = node.words[0] == "wget"
    opts = parse_options(node.words[1:], WGET if wget else CURL)
    if len(opts.args) != 1:
        return f"downloads {len(opts.args)} URLs in one command"
    url = w.text(opts.args[0])
    if isinstance(url, Unknown):
        return f"the URL: {url.why}"
    if not (url.parts and isinstance(url.parts[0], str) and url.parts[0].startswith(("http://", "https://"))):
        return f"the URL {url.template()} is not http(s)"
    how, raw = _saved_at(opts, wget)
    if how == "output":
        return url, None
    path = w.path(raw) if how != "name" else w.in_cwd(url_name(url))
    if isinstance(path, Unknown):
        return f"where it is saved: {path.why}"
    return url, posixpath.normpath(posixpath.join(path, url_name(url))) if how == "dir" else path


def _saved_at(opts: Options, wget: bool) -> tuple[str, str]:
    """How a download is saved: ("output", ""), ("file", raw), ("dir", raw) or ("name", "")."""
    output = opts.values.get("output")
    if output == "-" or (output is None and not wget and "remote-name" not in opts.flags):
        return "output", ""
    if output is not None:
        return "file", output
    return ("dir", opts.values["prefix"]) if wget and "prefix" in opts.values else ("name", "")


def download(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    if node.words[1:] and all(a in ("-h", "--help", "-V", "--version") for a in node.words[1:]):
        w.out.not_needed(origin, "checks a tool")
        return
    found = download_url(w, node)
    if isinstance(found, str):
        w.out.not_convertible(origin, found)
        return
    url, path = found
    target = stdout_target(node)
    if path is None and target is None:
        w.out.not_needed(origin, "prints a download")
        return
    where = path if path is not None else w.path(target or "")
    if isinstance(where, Unknown):
        w.out.not_convertible(origin, f"the file name: {where.why}")
    else:
        w.out.download(url, where, origin)


def verify(w: Walker, node: Simple) -> None:
    """``sha256sum -c FILE`` (``--check``, ``--ignore-missing``): the downloads it checks get
    FILE's URL as their ``sha256_url``."""
    origin = origin_of(node)
    words = node.words[1:]
    if not any(word in ("-c", "--check") or (word.startswith("-") and not word.startswith("--")
                                            and "c" in word) for word in words):
        w.out.not_needed(origin, "prints checksums")
        return
    listings = [word for word in words if not word.startswith("-")]
    if len(listings) != 1:
        w.out.not_convertible(origin, "checks a list that is not one file the script downloaded")
        return
    path = w.path(listings[0])
    checked = [] if isinstance(path, Unknown) else w.out.verified_with(str(path), origin)
    if checked:
        w.out.not_needed(origin, f"checks {', '.join(checked)}: converted into sha256_url")
    else:
        w.out.not_convertible(origin, f"{listings[0]} is not a checksum list the script downloaded "
                              "beside its downloads")


def _archive(w: Walker, raw: str | None, origin: Origin) -> Pending | None:
    """The downloaded archive at the raw path ``raw``, taken out of the pending files."""
    path = w.path(raw) if raw and raw != "-" else Unknown("reads an archive from its input")
    if isinstance(path, Unknown):
        w.out.not_convertible(origin, path.why)
        return None
    source = w.out.files.get(path)
    if source is None or source.unpacked:
        w.out.not_convertible(origin, f"{path} is not an archive the script downloaded")
        return None
    return w.out.take(path)


def _extract(w: Walker, source: Pending, into_raw: str, members_raw: list[str], origin: Origin,
             strip: int = 0) -> None:
    into = w.path(into_raw)
    members = [w.path(m) for m in members_raw]
    unknown = next((p for p in [into, *members] if isinstance(p, Unknown)), None)
    if unknown is not None:
        w.out.not_convertible(origin, unknown.why)
        return
    w.out.dirs.add(str(into))
    w.out.extract(source, [str(m) for m in members], str(into), origin, strip)


def tar(w: Walker, node: Simple) -> None:
    extract_tar(w, node, None, origin_of(node))


def extract_tar(w: Walker, node: Simple, piped: Pending | None, origin: Origin) -> None:
    """``tar -x`` of a downloaded archive, or of the download piped into it (``piped``)."""
    opts = parse_options(node.words[1:], TAR, old_style_tar=True)
    if "extract" not in opts.flags:
        w.out.not_convertible(origin, "tar without -x")
        return
    strip = opts.values.get("strip", "0")
    if not strip.isdigit() or (strip not in ("0", "1") and not opts.args):
        w.out.not_convertible(origin, f"--strip-components={strip} over the whole archive: name each "
                              "file it needs")
        return
    source = piped or _archive(w, opts.values.get("file"), origin)
    if source is not None:
        _extract(w, source, opts.values.get("directory", "."), list(opts.args), origin, int(strip))


def unzip(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    opts = parse_options(node.words[1:], UNZIP)
    source = _archive(w, opts.args[0] if opts.args else None, origin)
    if source is not None:
        _extract(w, source, opts.values.get("directory", "."), list(opts.args[1:]), origin)


def gunzip(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    names = [a for a in node.words[1:] if not a.startswith("-")]
    source = _archive(w, names[0] if len(names) == 1 else None, origin)
    if source is not None:
        target = str(w.path(names[0])).removesuffix(".gz")
        w.out.files[target] = Pending(source.url, [*source.origins, origin], unpacked=True, mode=source.mode)


def move(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    opts = parse_options(node.words[1:], COPY)
    target = opts.values.get("target")
    sources, dest = (opts.args, target) if target else (opts.args[:-1], opts.args[-1] if opts.args else "")
    if not sources or not dest:
        w.out.not_convertible(origin, "no source or destination")
        return
    dest_path = w.path(dest)
    if isinstance(dest_path, Unknown):
        w.out.not_convertible(origin, dest_path.why)
        return
    into_dir = bool(target) or dest.strip("\"'").endswith("/") or len(sources) > 1 or w.out.is_dir(dest_path)
    for raw in sources:
        source = w.path(raw)
        if isinstance(source, Unknown):
            w.out.not_convertible(origin, source.why)
            continue
        final = posixpath.normpath(posixpath.join(dest_path, posixpath.basename(source))) if into_dir \
            else dest_path
        committed = node.words[0] == "cp" and bool(w.committed_files(source))
        contents = into_dir and source.endswith("/*") and not any(c in source[:-2] for c in "*?[")
        if contents and not committed:  # mv DIR/* DEST/: what DIR holds (but its hidden entries)
            why = w.out.move(source[:-2], dest_path, origin, keep=node.words[0] == "cp", contents=True)
        else:
            why = _copy_committed(w, source, final, origin) if committed else \
                w.out.move(source, final, origin, keep=node.words[0] == "cp")
        if why is not None:
            w.out.not_convertible(origin, why)


def _copy_committed(w: Walker, source: str, dest: str, origin: Origin) -> str | None:
    """``cp -r`` of files committed in the app dir (as the script has them by then): the copies
    are kept in the app dir; the reason if they cannot be."""
    paths = w.committed_files(source)
    written = {p: w.out.written[p].text for p in paths if p in w.out.written}
    texts = {p: written.get(p) or (Text.of(t) if (t := w.committed(p)) is not None else None) for p in paths}
    if any(t is None for t in texts.values()):
        return f"copies {source}, which holds files that are not text: copy them in the app dir"
    for path, text in texts.items():
        w.out.write(dest + path[len(source):], text or Text.of(), replace(origin, detail=f"copy of {path}"),
                    append=False)
    return None


def chmod(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    args = [a for a in node.words[1:] if not re.fullmatch(r"-[Rfv]+", a)]
    mode = _mode(args[0]) if args else None
    if mode is None:
        w.out.not_convertible(origin, "a mode other than +x or octal")
        return
    for raw in args[1:]:
        path = w.path(raw)
        if isinstance(path, Unknown) or not w.out.chmod(path, mode, origin):
            w.out.not_convertible(origin, f"{raw} is not a file the script downloaded")


def _mode(text: str) -> str | None:
    if re.fullmatch(r"0?[0-7]{3}", text):
        return text.zfill(4)
    return "0755" if re.fullmatch(r"[ugoa]*\+[rwx]*x[rwx]*", text) else None


def remove(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    for raw in (a for a in node.words[1:] if not a.startswith("-")):
        path = w.path(raw)
        if isinstance(path, Unknown):
            continue
        chart = next((n for n, d in w.out.charts.items() if f"{path}/".startswith(f"{d.where}/")), None)
        if chart is not None and path == w.out.charts[chart].where:
            if any(c.fields["src"].startswith(path + "/") for c in w.out.copies):
                w.out.not_convertible(origin, f"removes chart {chart} after files are copied out of "
                                      "it (a copy input copies them in each build): keep the copies in the "
                                      "app dir")
                return
            _drop_chart(w, chart, origin)
            continue
        if chart is not None:  # a part of the chart: left out of it
            draft = w.out.charts[chart]
            rel = path[len(draft.where) + 1:]
            draft.fields.setdefault("exclude", []).extend([rel, f"{rel}/*"])
            draft.origins.append(replace(origin, detail=f"exclude {rel}"))
            continue
        unscanned(w, path)
        if w.out.exclude_inside(path, origin):
            continue
        w.out.remove(path)
        if w.committed_dir(path) and not any(path == r for r, _ in w.out.removed):
            w.out.removed.append((path, origin))
    w.out.not_needed(origin, "cleanup: clusterbuild builds in a fresh directory")


def _drop_chart(w: Walker, chart: str, origin: Origin) -> None:
    """``rm -rf charts/<name>`` of a whole chart: it is not shipped (the script pulled it to
    read a value out of it: that value is read when locked, or not known)."""
    draft = w.out.charts.pop(chart)
    for pulled in draft.origins:
        w.out.not_needed(pulled, f"chart {chart} is removed at line {origin.line}, so not shipped")
    unscanned(w, draft.where)
    w.out.remove(draft.where)


def unscanned(w: Walker, path: str) -> None:
    """Values read out of files under ``path``, which the script removes: the image scan
    cannot read them (those of a download are read when locked)."""
    for name, value in list(w.variables.items()):
        if isinstance(value, Read) and (value.file == path or value.file.startswith(path + "/")):
            w.variables[name] = replace(value, scanned=False)


def mkdir(w: Walker, node: Simple) -> None:
    for raw in (a for a in node.words[1:] if not a.startswith("-")):
        path = w.path(raw)
        if isinstance(path, str):
            w.out.dirs.add(path)
    w.out.not_needed(origin_of(node), "directories are made as files are placed")
