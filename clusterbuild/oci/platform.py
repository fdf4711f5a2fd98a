"""Target platforms (``linux/arm64/v8``) as typed values."""

from __future__ import annotations

from dataclasses import dataclass

KNOWN_ARCHITECTURES = ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "loong64")
WASM_SYSTEMS = frozenset({"wasi", "wasip1", "wasip2"})  # WebAssembly: no machine architecture


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not os/arch[/variant], e.g. linux/amd64")
        os_, arch = parts[0], parts[1]
        if arch not in KNOWN_ARCHITECTURES:
            raise ValueError(
                f"platform {text!r}: unknown architecture {arch!r} "
                f"(known: {', '.join(KNOWN_ARCHITECTURES)})"
            )
        variant = parts[2] if len(parts) == 3 else ""
        if arch == "arm64" and variant == "v8":
            variant = ""  # arm64 and arm64/v8 are the same platform
        return cls(os_, arch, variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @property
    def is_wasm(self) -> bool:
        """A WebAssembly platform (``wasi/wasm``, ``wasip1/wasm``, ``wasip2/wasm``): it runs on
        every machine architecture that has a wasm runtime, so it is never a build target."""
        return self.architecture.lower() == "wasm" or self.os.lower() in WASM_SYSTEMS

    @property
    def tag_suffix(self) -> str:
        """The catalogue's per-arch tag suffix: ``amd64``, ``arm64``, ``armv7``."""
        return self.architecture + self.variant

    def to_json(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out
