"""Checksum files published beside downloads (``checksums.txt``, ``SHA256SUMS``, ``x.sha256``):
the sha256 they give for one file name.

Lines are what ``sha256sum`` writes and reads (``<hex>  <name>`` or ``<hex> *<name>``, the
BSD form ``SHA256 (<name>) = <hex>`` too); a file holding a single bare digest gives it for
any name. Names match by their last path component, as release assets are listed.
"""

from __future__ import annotations

import re

from clusterbuild.errors import InputError
from clusterbuild.oci.digest import Digest

_GNU = re.compile(r"^(?:SHA256:)?([0-9a-fA-F]{64})\s+\*?(.+?)\s*$")
_BSD = re.compile(r"^SHA256\s*\((.+)\)\s*=\s*([0-9a-fA-F]{64})\s*$")
_BARE = re.compile(r"^\s*([0-9a-fA-F]{64})\s*$")
MAX_BYTES = 1 << 20


def _base(name: str) -> str:
    return name.strip().replace("\\", "/").rsplit("/", 1)[-1]


def checksum_for(text: str, file_name: str, where: str) -> Digest:
    """The sha256 that ``text`` (a checksum file from ``where``) gives for ``file_name``."""
    wanted = _base(file_name)
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) == 1 and (bare := _BARE.match(lines[0])):
        return Digest(bare.group(1).lower())
    for line in lines:
        gnu, bsd = _GNU.match(line), _BSD.match(line)
        if gnu and _base(gnu.group(2)) == wanted:
            return Digest(gnu.group(1).lower())
        if bsd and _base(bsd.group(1)) == wanted:
            return Digest(bsd.group(2).lower())
    raise InputError(f"{where}: no sha256 for {wanted} among its {len(lines)} lines",
                     hint="check sha256_url (it lists the file names of a release) or the file name")
