"""Image references inside string values that hold config text (full mode).

A ConfigMap entry or an argument often carries a whole config file: TOML
(``image = "repo/name:1.2"``), INI (``sidecar_image=repo/name:1.2``), JSON
(``{"image": "repo/name:1.2"}``) or YAML. The line scan reads YAML's ``image:`` lines
only, and the YAML walk sees one string: these keys are read here. A key counts when
its name ends in ``image`` (any case); the value counts when it names a tag or digest
(``busybox`` alone, ``true`` or a URL are not images).

    config_references("[runner]\\nimage = \\"busybox:1.36\\"\\n") -> [(1, "image", "busybox:1.36")]
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# key (optionally quoted), = or :, value (optionally quoted) up to a quote, space, comma or brace
_ASSIGNMENT = re.compile(
    r"""(?:^|(?<=[\s{,;\[]))["']?(?P<key>(?:[A-Za-z0-9_][A-Za-z0-9_.-]*)?image)["']?[ \t]*[:=][ \t]*["']?"""
    r"""(?P<value>[^\s"',;}\]\[]+)""", re.IGNORECASE | re.MULTILINE)
_HINT = re.compile(r"image\s*[\"']?\s*[:=]", re.IGNORECASE)


def holds_config(text: str) -> bool:
    """Cheap first look: does ``text`` assign anything to a key ending in ``image``?"""
    return _HINT.search(text) is not None


def config_references(text: str) -> Iterator[tuple[int, str, str]]:
    """(0-based line within ``text``, key, candidate) of each image-named assignment."""
    for match in _ASSIGNMENT.finditer(text):
        value = match.group("value")
        if is_tagged(value):
            yield text.count("\n", 0, match.start()), match.group("key"), value


def is_tagged(text: str) -> bool:
    """Names a tag or a digest, and is not a URL: ``name:1.2``, ``reg:5000/a@sha256:…``."""
    return "://" not in text and (":" in text.rpartition("/")[2] or "@" in text)
