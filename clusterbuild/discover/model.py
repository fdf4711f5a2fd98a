"""What image discovery returns and what it is asked: plain, frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from clusterbuild.oci.reference import Reference

# Bump when the same inputs may give a different result: it is part of the cache key.
ENGINE_VERSION = "4"

Mode = Literal["sealos", "full"]
BUILTIN_PROFILES = ("optional-features", "all-subcharts")  # their values: profiles.py


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
    ``profiles``: name → extra values (a Mapping) or a ``Profile`` (values, a built-in
    profile's name, ``subcharts``), each rendered over the defaults (and ``helm_set``)
    of every chart, in full mode only.
    ``namespace``, ``is_install``: the release's ``.Release.Namespace`` and
    ``.Release.IsInstall`` (sealos renders with "" and false; full mode may change them).
    ``from_annotations``: also ship the images the charts' authors list in Chart.yaml
    annotations; ``from_values``: values paths (``nats.image``) naming images. Full mode only.
    """

    mode: Mode = "full"
    keep_digests: bool = False
    helm_set: tuple[str, ...] = ()
    profiles: Mapping[str, Mapping[str, object] | Profile] = field(default_factory=dict)
    kube_version: str = ""
    namespace: str = ""
    is_install: bool = False
    from_annotations: bool = False
    from_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in ("sealos", "full"):
            raise ValueError(f"DiscoverOptions.mode must be 'sealos' or 'full', not {self.mode!r}")
        if self.mode == "sealos" and (self.namespace or self.is_install):
            raise ValueError("DiscoverOptions: sealos mode renders with namespace '' and is_install false")

    def profile(self, name: str) -> Profile:
        """The profile ``name`` as a Profile (a plain Mapping is its values)."""
        value = self.profiles[name]
        return value if isinstance(value, Profile) else Profile(values=value)

    def fingerprint(self) -> dict[str, object]:
        """A JSON-able view of the options, for cache keys (with ENGINE_VERSION)."""
        return {
            "engine": ENGINE_VERSION,
            "mode": self.mode,
            "keep_digests": self.keep_digests,
            "helm_set": list(self.helm_set),
            "profiles": plain(dict(sorted(self.profiles.items()))),
            "kube_version": self.kube_version,
            "release": {"namespace": self.namespace, "is_install": self.is_install},
            "from_annotations": self.from_annotations,
            "from_values": list(self.from_values),
        }


@dataclass(frozen=True)
class Profile:
    """Chart values rendered in addition to the defaults.

    ``values``: the values; ``builtin``: a built-in profile's name (``optional-features``,
    ``all-subcharts``) whose values come first; ``subcharts``: the values apply under each
    dependency's name too (``{metrics: {enabled: true}}`` also as ``{redis: {metrics: …}}``).
    """

    values: Mapping[str, object] = field(default_factory=dict)
    builtin: str = ""
    subcharts: bool = False

    def __post_init__(self) -> None:
        if self.builtin and self.builtin not in BUILTIN_PROFILES:
            raise ValueError(f"Profile.builtin must be one of {', '.join(BUILTIN_PROFILES)}, "
                             f"not {self.builtin!r}")


def plain(value: object) -> object:
    """``value`` with every Mapping a dict and every tuple a list, as JSON wants them."""
    if isinstance(value, Profile):
        return {"values": plain(value.values), "builtin": value.builtin, "subcharts": value.subcharts}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


Where = str | tuple[str, str]  # a file, or (before, after) the line number: ("charts/web (x.yaml", ", …)")


def located(where: Where, line: int) -> str:
    """``where`` with a line number: ``manifests/a.yaml:3``, ``charts/web (x.yaml:3, …)``."""
    if isinstance(where, str):
        return f"{where}:{line}"
    return f"{where[0]}:{line}{where[1]}"


@dataclass(frozen=True)
class Hit:
    """An image found at one place, before merging (internal to the package).

    ``source`` says where (``manifests/app.yaml:12``, ``charts/web (templates/x.yaml:7,
    release dryrun)``), ``rule`` how (``line scan``, ``YAML walk: containers[0].image``);
    merged sources read ``<source> by <rule>[, <rule>…]``.
    """

    reference: Reference
    source: str
    archive: str = ""
    rule: str = ""
