"""Which architecture an ELF binary is built for, read from its header, and a check against a platform.

The catalogue ships x86 binaries in arm64 images today: a per-arch URL template with a wrong
arch map, or a release that renamed its assets, goes unnoticed until the binary fails to run
on the cluster. Reading 20 header bytes catches that at build time.

ELF header: ``\\x7fELF``, EI_CLASS (1: 32-bit, 2: 64-bit) at byte 4, EI_DATA (1: little, 2: big
endian) at byte 5, and ``e_machine`` (two bytes, in that byte order) at byte 18.
"""

from __future__ import annotations

from pathlib import Path

from clusterbuild.errors import BuildError
from clusterbuild.oci.platform import Platform

ELF_MAGIC = b"\x7fELF"
HEADER_BYTES = 20
_CLASS_32, _CLASS_64 = 1, 2
_LITTLE, _BIG = 1, 2
# e_machine -> GOARCH, for 32- and 64-bit classes where they differ
_MACHINES: dict[int, tuple[str, str]] = {
    3: ("386", "386"),  # EM_386
    62: ("amd64", "amd64"),  # EM_X86_64 (x32 binaries are 32-bit class)
    40: ("arm", "arm"),  # EM_ARM
    183: ("arm64", "arm64"),  # EM_AARCH64
    21: ("ppc64", "ppc64"),  # EM_PPC64; little endian: ppc64le
    22: ("s390", "s390x"),  # EM_S390
    243: ("riscv32", "riscv64"),  # EM_RISCV
    258: ("loong32", "loong64"),  # EM_LOONGARCH
}


def elf_arch(path: Path) -> str | None:
    """The Go-style architecture (``amd64``, ``arm64``, …) of the ELF file at ``path``; None if it is
    not an ELF file (a script, an archive). An unknown machine is ``elf-machine-<n>``."""
    with open(path, "rb") as f:
        header = f.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(ELF_MAGIC):
        return None
    elf_class, data = header[4], header[5]
    if elf_class not in (_CLASS_32, _CLASS_64) or data not in (_LITTLE, _BIG):
        return None
    machine = int.from_bytes(header[18:20], "little" if data == _LITTLE else "big")
    names = _MACHINES.get(machine)
    if names is None:
        return f"elf-machine-{machine}"
    arch = names[1] if elf_class == _CLASS_64 else names[0]
    if arch == "amd64" and elf_class == _CLASS_32:
        return "amd64p32"
    return "ppc64le" if arch == "ppc64" and data == _LITTLE else arch


def check_arch(path: Path, platform: Platform, what: str) -> None:
    """Refuse an ELF binary built for another architecture than ``platform``'s; others pass."""
    found = elf_arch(path)
    if found is None or found == platform.architecture:
        return
    raise BuildError(f"{what}: the file is an ELF binary for {found}, not for {platform}",
                     hint="check the URL template's arch map (e.g. arm64 -> aarch64) and the release's "
                          "asset names")
