"""Choosing manifests of an index for target platforms, with containerd's matching rules.

Platforms are normalised first (``aarch64`` and ``arm64/v8`` are ``arm64``, ``arm`` is
``arm/v7``, ``x86_64`` is ``amd64``, ``armhf`` is ``arm/v7``). A target then also accepts
what it can run, best first: ``arm/v7`` takes ``arm/v6`` and ``arm/v5``; ``arm64`` takes
32-bit ``arm/v8`` down to ``arm/v5``; ``amd64/v3`` takes ``v2``, ``amd64`` and ``386``.

WebAssembly entries (``wasi/wasm``, ``wasip1/wasm``, ``wasip2/wasm``, any ``os.version`` or
variant) belong to every target: a node with a wasm shim runs them whatever its CPU. An index
that has them keeps them all beside the target's own entry, which it then need not have.
"""

from __future__ import annotations

import platform as host
from collections.abc import Sequence

from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.platform import Platform
from clusterbuild.places.registry.errors import RegistryError

_ARCH_ALIASES = {"x86_64": ("amd64", None), "x86-64": ("amd64", None), "aarch64": ("arm64", None),
                 "i386": ("386", ""), "i686": ("386", ""), "armhf": ("arm", "v7"), "armel": ("arm", "v6")}


def normalize(p: Platform) -> Platform:
    arch, variant = p.architecture.lower(), p.variant.lower()
    alias, forced = _ARCH_ALIASES.get(arch, (arch, None))
    arch, variant = alias, variant if forced is None else forced
    if (arch == "amd64" and variant == "v1") or (arch == "arm64" and variant in ("8", "v8", "v8.0")):
        variant = ""
    elif arch == "arm64" and variant in ("9", "9.0", "v9.0"):
        variant = "v9"
    elif arch == "arm" and variant in ("", "7"):
        variant = "v7"
    elif arch == "arm" and variant in ("5", "6", "8"):
        variant = "v" + variant
    return Platform((p.os or "linux").lower(), arch, variant)


def _version(variant: str, default: int) -> tuple[int, int] | None:
    major, _, minor = (variant or f"v{default}").removeprefix("v").partition(".")
    if not major.isdigit() or (minor and not minor.isdigit()):
        return None
    return int(major), int(minor or 0)


def _arm64_vector(p: Platform) -> list[Platform]:
    found = _version(p.variant, 8)
    out: list[Platform] = []
    if found is not None and found[0] in (8, 9):
        major, minor = found
        if major == 9:  # v9.x runs v9.0..v9.x-1, then v8 up to v8.(x+5)
            out += [Platform(p.os, "arm64", f"v9.{m}" if m else "v9") for m in range(minor - 1, -1, -1)]
            major, minor = 8, min(minor + 5, 9) + 1
        out += [Platform(p.os, "arm64", f"v8.{m}" if m else "") for m in range(minor - 1, -1, -1)]
    return out + candidates(Platform(p.os, "arm", "v8"))


def candidates(want: Platform) -> list[Platform]:
    """Platforms ``want`` accepts, best first (containerd's ``platforms.Only``)."""
    p = normalize(want)
    out = [p]
    if p.architecture == "amd64":
        level = _version(p.variant, 1)
        if level is not None:
            out += [Platform(p.os, "amd64", f"v{v}" if v > 1 else "") for v in range(level[0] - 1, 0, -1)]
        out.append(Platform(p.os, "386"))
    elif p.architecture == "arm":
        level = _version(p.variant, 7)
        if level is not None:
            out += [Platform(p.os, "arm", f"v{v}") for v in range(level[0] - 1, 4, -1)]
    elif p.architecture == "arm64":
        out += _arm64_vector(p)
    return list(dict.fromkeys(out))


def is_wasm(child: Descriptor) -> bool:
    return child.platform is not None and child.platform.is_wasm


def select(children: Sequence[Descriptor], wanted: Sequence[Platform], doing: str) -> list[Descriptor]:
    """For each wanted platform the best matching child (order of ``wanted``, no duplicates),
    then every WebAssembly child (in index order)."""
    chosen: list[Descriptor] = []
    wasm = [child for child in children if is_wasm(child)]
    for target in wanted:
        best = next((child for candidate in candidates(target) for child in children
                     if child.platform is not None and not is_wasm(child)
                     and normalize(child.platform) == candidate), None)
        if best is None and wasm:
            continue
        if best is None:
            have = ", ".join(str(c.platform) for c in children if c.platform is not None) or "none"
            raise RegistryError(f"{doing}: no manifest for {target} (the index has: {have})",
                                code="PLATFORM_UNKNOWN")
        if best not in chosen:
            chosen.append(best)
    return chosen + [child for child in wasm if child not in chosen]


def host_platform() -> Platform:
    machine = host.machine().lower() or "amd64"
    return normalize(Platform(host.system().lower() or "linux", machine))
