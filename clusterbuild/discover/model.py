"""What image discovery returns and what it is asked: plain, frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from clusterbuild.oci.reference import Reference

# Bump when the same inputs may give a different result: it is part of the cache key.
ENGINE_VERSION = "2"

Mode = Literal["sealos", "full"]


@dataclass(frozen=True)
class FoundImage:
    """One image the cluster image needs, and every place that asked for it.

    ``sources`` are provenance strings such as ``manifests/app.yaml:12``,
    ``images/shim/list:3`` or ``charts/web (templates/deployment.yaml, release dryrun)``.
    ``archives`` names the local archives (``docker-archive:images/skopeo/x.tar``) the
    image can be loaded from instead of being pulled (from ``images/skopeo/tar.txt``).
    """

    reference: Reference
    sources: tuple[str, ...]
    archives: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiscoverOptions:
    """How to look for images.

    ``mode``: ``sealos`` finds what ``sealos build`` finds (the compatibility floor);
    ``full`` adds a YAML walk of manifests and rendered charts, ``helm_set`` renders
    and ``profiles`` renders.
    ``helm_set``: flag/value pairs as on a helm command line: ``("--set", "a.b=1",
    "--set-string", "t=2", "-f", "charts/web-prod.yaml")`` (``--set=a=1`` also accepted);
    ``-f`` paths are context-relative. Used in full mode only, applied to every chart.
    ``profiles``: name → extra values, each rendered over the defaults (and ``helm_set``)
    of every chart, in full mode only.
    """

    mode: Mode = "full"
    keep_digests: bool = False
    helm_set: tuple[str, ...] = ()
    profiles: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    kube_version: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("sealos", "full"):
            raise ValueError(f"DiscoverOptions.mode must be 'sealos' or 'full', not {self.mode!r}")

    def fingerprint(self) -> dict[str, object]:
        """A JSON-able view of the options, for cache keys (with ENGINE_VERSION)."""
        return {
            "engine": ENGINE_VERSION,
            "mode": self.mode,
            "keep_digests": self.keep_digests,
            "helm_set": list(self.helm_set),
            "profiles": plain(dict(sorted(self.profiles.items()))),
            "kube_version": self.kube_version,
        }


def plain(value: object) -> object:
    """``value`` with every Mapping a dict and every tuple a list, as JSON wants them."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


@dataclass(frozen=True)
class Hit:
    """An image found at one place, before merging (internal to the package)."""

    reference: Reference
    source: str
    archive: str = ""
