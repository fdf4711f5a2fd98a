"""Text scanners with sealos' semantics (``lifecycle/pkg/sreg/buildimage``).

``scan_lines`` is sealos' manifest/chart scan: on each line that is not a comment,
the text after the first ``image:`` (one pair of matching quotes stripped) is read
as a reference; lines where that fails are skipped, silently, as sealos does
(``image: nginx # note`` and ``{image: nginx}`` are therefore missed: the YAML walk
finds those). ``read_list`` reads ``images/shim`` files and ``read_archive_list``
reads ``images/skopeo/tar.txt``; both fail on a bad line, naming file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from clusterbuild.discover.model import Hit, Where, located
from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference, ReferenceError

IMAGE_KEY = "image:"
RULE = "line scan"
ARCHIVE_TRANSPORTS = ("docker-archive:", "oci-archive:")
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")  # an image ID, refused by ParseNormalizedNamed
_YAML_NULL = frozenset({"null", "Null", "NULL", "~"})  # `image: null` names no image (sealos pulls "null")
_INLINE_COMMENT = re.compile(r"\s+#.*$")


def trim_quotes(text: str) -> str:
    """Strip one pair of matching single or double quotes (sealos' TrimQuotes)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_lenient(text: str) -> Reference | None:
    """The reference in ``text``, or None where docker's ParseNormalizedNamed would fail
    (and for a YAML null, which sealos would try to pull as ``docker.io/library/null``)."""
    if not text or text in _YAML_NULL or _IDENTIFIER.match(text):
        return None
    try:
        return Reference.parse(text)
    except (ReferenceError, ValueError):
        return None


def image_on_line(line: str) -> str:
    """The candidate text after the first ``image:`` of a non-comment line, or ""."""
    text = line.strip()
    if text.startswith("#"):
        return ""
    index = text.find(IMAGE_KEY)
    if index < 0:
        return ""
    return trim_quotes(text[index + len(IMAGE_KEY):].strip())


def scan_lines(text: str, where: Where) -> Iterator[Hit]:
    """sealos' line scan; each hit's source is ``where`` with the line number."""
    for number, line in enumerate(text.split("\n"), 1):
        reference = parse_lenient(image_on_line(line)) if IMAGE_KEY in line else None
        if reference is not None:
            yield Hit(reference, located(where, number), rule=RULE)


def list_entries(text: str) -> Iterator[tuple[int, str]]:
    """(line number, entry) of a list file: blanks and ``#`` comments skipped, quotes stripped."""
    for number, line in enumerate(text.split("\n"), 1):
        entry = _INLINE_COMMENT.sub("", line.strip())
        if entry and not entry.startswith("#"):
            yield number, trim_quotes(entry).strip()


def parse_strict(text: str, where: str, hint: str) -> Reference:
    try:
        return Reference.parse(text)
    except (ReferenceError, ValueError) as exc:
        raise InputError(f"{where}: {exc}", hint=hint) from None


def read_list(text: str, source: str) -> Iterator[Hit]:
    """An ``images/shim`` file: one reference per line."""
    hint = "write one image reference per line, e.g. docker.io/library/nginx:1.25"
    for number, entry in list_entries(text):
        where = f"{source}:{number}"
        yield Hit(parse_strict(entry, where, hint), where)


def read_archive_list(text: str, source: str) -> Iterator[Hit]:
    """``images/skopeo/tar.txt``: ``docker-archive:<path>@<name:tag>`` (or ``oci-archive:``) lines.

    The archive path is relative to the list's directory, as sealos reads it.
    """
    directory = source.rpartition("/")[0]
    hint = "write docker-archive:<file>.tar@<name:tag> or oci-archive:<file>.tar@<name:tag>"
    for number, entry in list_entries(text):
        where = f"{source}:{number}"
        archive, at, name = entry.partition("@")
        transport = next((t for t in ARCHIVE_TRANSPORTS if archive.startswith(t)), "")
        if not at or not transport or not archive[len(transport):]:
            raise InputError(f"{where}: {entry!r} is not <transport>:<file>@<name:tag>", hint=hint)
        path = archive[len(transport):].lstrip("/")
        yield Hit(parse_strict(name, where, hint), where, f"{transport}{directory}/{path}")


def read_ignore_list(text: str, source: str) -> set[Reference]:
    """``.sealignore``: references left out of the result (compared once normalised)."""
    hint = "list one image reference per line to leave it out, e.g. quay.io/cilium/cilium:v1.15"
    return {parse_strict(entry, f"{source}:{number}", hint) for number, entry in list_entries(text)}
