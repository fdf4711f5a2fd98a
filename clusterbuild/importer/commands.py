"""One simple command or pipeline of a script: converted, or reported with the reason why not.

Each command goes to its handler: downloads and file moves in ``files``, Helm and ``yq`` in
``charts``, and here image lists written into ``images/shim/`` (``echo``, ``cat <<EOF``) and the
edits (``sed -i``) that cannot be converted. Commands that only check, print or clean up are
reported as not needed; any other command as not convertible, naming it. Pipelines convert
when they download into ``tar`` or ``gunzip``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from clusterbuild.importer import charts, clone, files
from clusterbuild.importer import sed as edits
from clusterbuild.importer.collect import Pending
from clusterbuild.importer.expand import expand_here_document
from clusterbuild.importer.files import origin_of, stdout_target
from clusterbuild.importer.nodes import Pipeline, Simple
from clusterbuild.importer.reads import used_reads
from clusterbuild.importer.values import Expr, Origin, Part, Text, Unknown

if TYPE_CHECKING:
    from clusterbuild.importer.walk import Walker

ECHO_FLAGS = ("-n", "-e", "-E", "-ne", "-en")
_SETTINGS = dict.fromkeys(("set", "shopt", "trap", "umask", "ulimit"), "shell settings")
_FLOW = dict.fromkeys(("exit", "return", "true", "false", ":", "shift", "sleep", "wait", "break",
                       "continue"), "control flow")
_CHECKS = dict.fromkeys(("command", "which", "type", "hash"), "checks a tool") | dict.fromkeys(
    ("[", "[[", "test"), "a test")
_PRINTS = dict.fromkeys(("ls", "pwd", "tree", "du", "date", "env", "printenv"), "prints") | {
    "getopt": "reads options"}
NOT_NEEDED = _SETTINGS | _FLOW | _CHECKS | _PRINTS
IMAGE_FILTERS = ("grep", "awk", "tr", "sed", "sort", "uniq", "cut", "xargs")


HELP = ("-h", "--help", "help", "version", "--version", "-v", "info")
BUILDS = ("build", "push", "login", "tag", "images", "rmi", "manifest", "save", "load")


def run_command(w: Walker, name: str, node: Simple) -> None:
    handler = HANDLERS.get(name)
    harmless = _harmless(name, node)
    if harmless is not None and (handler is None or name == "git"):
        w.out.not_needed(origin_of(node), harmless)
    elif handler is not None:
        handler(w, node)
    elif name in NOT_NEEDED:
        w.out.not_needed(origin_of(node), NOT_NEEDED[name])
    else:
        w.out.not_convertible(origin_of(node), _why_not(name, node))


def _why_not(name: str, node: Simple) -> str:
    """The reason a command the importer has no conversion for stays to do, with what to do."""
    args = node.words[1:]
    containers = ("run", "exec", "cp", "rm", "create")
    if name in ("docker", "podman", "nerdctl") and args[:1] and args[0] in containers:
        return (f"runs {name} {args[0]}: what a container prints or leaves is known only when it runs; "
                "keep the file it makes in the app dir")
    if (name == "kubectl" and args[:1] == ("kustomize",)) or (name == "kustomize" and args[:1] == ("build",)):
        return "renders a kustomization: keep the rendered file in the app dir, or apply it with kubectl -k"
    if name in ("make", "go", "cargo", "npm"):
        return f"runs {name}, a build from source: download a released file instead, or keep the result " \
               "in the app dir"
    if name in ("bash", "sh", "source", "."):
        script = next((a for a in args if not a.startswith("-")), "stdin")
        return f"runs another script ({script}): convert what it does into this " \
               "spec, or keep what it leaves in the app dir"
    return f"runs {name}"


def _harmless(name: str, node: Simple) -> str | None:
    """Why a command that changes nothing the image holds is not needed (None: it may)."""
    args = node.words[1:]
    if stdout_target(node) is None and len(args) == 1 and args[0] in HELP:
        return "checks a tool"  # `docker info`, `jq -h`, `git --help`
    if name == "eval" and args[:2] == ("set", "--"):
        return "reads options"
    if name in ("sealos", "buildah", "docker", "podman") and args[:1] and args[0] in BUILDS:
        return "builds or pushes the image: clusterbuild apply does"
    return None


def run_pipeline(w: Walker, node: Pipeline) -> None:
    origin = Origin(node.line, node.text)
    commands = [c for c in node.commands if isinstance(c, Simple) and c.words]
    pair = len(commands) == 2 == len(node.commands)
    if pair and _downloaded_into(w, commands[0], commands[1], origin):
        return
    if pair and edits.sed_reads_heredoc(w, commands[0], commands[1], origin):
        return
    last = node.commands[-1]
    writes = stdout_target(last) if isinstance(last, Simple) else None
    first = commands[0] if commands else None
    filters = all(c.words[0] in IMAGE_FILTERS for c in commands[1:]) and len(commands) == len(node.commands)
    listing = writes is not None and _lists(w, writes)  # an image list, wherever its path comes from
    if writes is not None and _words_per_line(w, commands, len(node.commands), writes, origin, last):
        return
    if first is not None and first.words[:2] == ("helm", "template") and writes and listing \
            and filters and not stdout_target(first):
        charts.template(w, first, writes, origin)  # the image list of a render: the scan's own
    elif writes is not None and listing and _listed(w, commands, writes, origin, last):
        return
    elif writes is not None and listing:
        w.out.not_convertible(origin, "derives an image list from other files; the image scan reads "
                              "charts and manifests itself, or list them in images.extra")
    elif writes is not None or any(_edits_files(c) for c in commands):
        w.out.not_convertible(origin, "a pipeline that writes files")
    else:
        w.out.not_needed(origin, "prints")


_ONE_PER_LINE = ("tr", "' '", "'\\n'")  # tr ' ' '\n'


def _words_per_line(w: Walker, commands: list[Simple], length: int, writes: str, origin: Origin,
                    last: Simple | object) -> bool:
    """``echo $LIST | tr ' ' '\n' > FILE``: the words of known text, one per line (the shell
    splits the unquoted variable on blanks; echo joins them with spaces), written to FILE."""
    if length != 2 or len(commands) != 2 or commands[1].words != _ONE_PER_LINE \
            or commands[0].words[0] != "echo":
        return False
    args = list(commands[0].words[1:])
    if args[:1] == ["-e"]:
        args = args[1:]
    words: list[Text] = []
    for raw in args:
        value = w.text(raw, reads=True)
        if not isinstance(value, Text) or raw.startswith(("'", '"')) or "\\" in raw:
            return False
        words += _split_blanks(value)
    _write(w, origin, writes, Text.of(*(p for word in words for p in (*word.parts, "\n"))),
           _appends(last) if isinstance(last, Simple) else False)
    return True


def _split_blanks(value: Text) -> list[Text]:
    """``value`` split as the shell splits an unquoted expansion (on blanks in its literal text)."""
    words: list[list[Part]] = [[]]
    for part in value.parts:
        if isinstance(part, Expr):
            words[-1].append(part)
            continue
        pieces = re.split(r"\s+", part)
        words[-1].append(pieces[0])
        words += [[piece] for piece in pieces[1:]]
    return [Text.of(*word) for word in words if Text.of(*word).parts]


def _listed(w: Walker, commands: list[Simple], writes: str, origin: Origin, last: object) -> bool:
    """``cat FILE | grep ... | awk ... > images/shim/list``: the list is a read of FILE (True);
    False when the pipeline is no read of a file it can run."""
    from clusterbuild.importer.reads import read_of

    path = w.path(writes)
    spec = read_of(commands, w.scope, w.in_cwd)
    if not isinstance(spec, dict) or isinstance(path, Unknown):
        if isinstance(spec, str):
            w.out.not_convertible(origin, f"derives an image list from other files: {spec}")
            return True
        return False
    read = w.add_read(posixpath.basename(path), spec, origin, "comes from the output of a pipeline")
    text = Text((Expr(f"read.{read.name}"),))
    _write(w, origin, writes, text, _appends(last) if isinstance(last, Simple) else False)
    return True


def _downloaded_into(w: Walker, download: Simple, unpack: Simple, origin: Origin) -> bool:
    """``wget -qO- URL | tar -zx ...`` and ``curl -L URL | gunzip -c > FILE``; False for others."""
    if download.words[0] not in ("wget", "curl") or unpack.words[0] not in ("tar", "gunzip", "zcat", "gzip"):
        return False
    found = files.download_url(w, download)
    target = w.path(stdout_target(unpack) or "") if unpack.words[0] != "tar" else ""
    if isinstance(found, str):
        w.out.not_convertible(origin, found)
    elif found[1] is not None:
        return False  # saved to a file, not piped
    elif unpack.words[0] == "tar":
        files.extract_tar(w, unpack, Pending(found[0], []), origin)
    elif isinstance(target, Unknown):
        w.out.not_convertible(origin, f"decompresses into {target.why}")
    elif target in ("", "."):
        w.out.not_needed(origin, "prints a download")
    else:
        w.out.download(found[0], target, origin, unpacked=True)
    return True


def _edits_files(node: Simple) -> bool:
    name, flags = node.words[0], node.words[1:]
    in_place = any(f.startswith("-i") or f == "--inplace" for f in flags)
    return name in ("tar", "unzip", "mv", "cp", "tee", "dd") or (name in ("sed", "yq") and in_place)


def echo(w: Walker, node: Simple) -> None:
    if node.words[0] == "printf":
        if stdout_target(node) is None:
            w.out.not_needed(origin_of(node), "a message")
        else:
            w.out.not_convertible(origin_of(node), "writes a file with printf")
        return
    args = list(node.words[1:])
    while args and args[0] in ECHO_FLAGS:
        args.pop(0)
    target = stdout_target(node)
    if target is None:
        w.out.not_needed(origin_of(node), "a message")
        return
    values = [w.text(a, reads=_lists(w, target)) for a in args]
    unknown = next((v for v in values if isinstance(v, Unknown)), None)
    words = [v for v in values if isinstance(v, Text)]
    end = "" if "-n" in node.words[1:2] else "\n"
    joined = (p for n, word in enumerate(words) for p in (" " if n else "", *word.parts))
    text = unknown or Text.of(*joined, end)
    _write(w, origin_of(node), target, text, _appends(node))


def cat(w: Walker, node: Simple) -> None:
    here = next((r for r in node.redirects if r.body is not None), None)
    target = stdout_target(node)
    if target is None:
        w.out.not_needed(origin_of(node), "prints")
    elif here is None or here.body is None:
        w.out.not_convertible(origin_of(node), f"copies files into {target}")
    else:
        scope = w.listing_scope() if _lists(w, target) else w.scope
        body = Text.of(here.body) if here.quoted else expand_here_document(here.body, scope)
        _write(w, origin_of(node), target, body, _appends(node))


def write_listing(w: Walker, origin: Origin, target: str, text: Text, node: Simple) -> None:
    _write(w, origin, target, text, _appends(node))


def _lists(w: Walker, target: str) -> bool:
    """Is ``target`` an image list (whose images may name values read out of files)?"""
    path = w.path(target)
    return isinstance(path, str) and path.startswith("images/shim/")


def _write(w: Walker, origin: Origin, target: str, text: Text | Unknown, append: bool = False) -> None:
    path = w.path(target)
    if isinstance(path, Unknown):
        w.out.not_convertible(origin, path.why)
    elif path.startswith("images/shim/") and isinstance(text, Unknown):
        w.out.not_convertible(origin, f"the image list: {text.why}")
    elif path.startswith("images/shim/") and isinstance(text, Text):
        for image in split_images(text):
            w.out.image(image, replace(origin, detail="images.extra"))
            w.out.used_reads.update(used_reads(image))
        w.out.write(path, text, replace(origin, detail=f"file {path}"), append)
        w.out.written[path].listing = True
    elif isinstance(text, Unknown):
        w.out.not_convertible(origin, f"writes {path}: {text.why}")
    elif path.startswith(("/", "../")):
        w.out.not_needed(origin, f"{path} is outside the app dir, so not in the image")
    elif any(path.startswith(f"{d.where}/") for d in w.out.charts.values()) or path in w.out.files:
        w.out.not_convertible(origin, f"writes {path} over a download; keep an edited copy in the app dir")
    else:
        w.out.write(path, text, replace(origin, detail=f"file {path}"), append)


def _appends(node: Simple) -> bool:
    return any(r.op in (">>", "1>>", "&>>") for r in node.redirects if r.target not in files.QUIET_TARGETS)


def split_images(text: Text) -> list[Text]:
    """The references of an image list: one per word, comment lines dropped."""
    lines: list[list[list[Part]]] = [[[]]]
    for part in text.parts:
        pieces: list[Part] = [part] if isinstance(part, Expr) else [p for p in re.split(r"(\s+)", part) if p]
        for piece in pieces:
            if isinstance(piece, str) and piece.isspace():
                lines += [[[]] for _ in range(piece.count("\n"))]
                lines[-1].append([])
            else:
                lines[-1][-1].append(piece)
    words = [[Text.of(*t) for t in line if t] for line in lines]
    return [w for line in words if line and not line[0].template().startswith("#") for w in line]


def _change_dir(w: Walker, node: Simple) -> None:
    w.change_dir(node)


HANDLERS: dict[str, Callable[[Walker, Simple], None]] = {
    "wget": files.download, "curl": files.download, "tar": files.tar,
    "unzip": files.unzip, "gunzip": files.gunzip, "mv": files.move, "cp": files.move,
    "chmod": files.chmod, "sha256sum": files.verify, "rm": files.remove, "mkdir": files.mkdir,
    "helm": charts.helm, "yq": charts.yq, "git": clone.git,
    "echo": echo, "printf": echo, "cat": cat, "sed": edits.sed,
    "cd": _change_dir, "pushd": _change_dir, "popd": _change_dir,
}
