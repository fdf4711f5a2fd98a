"""Images, manifests and indexes as immutable values, and their canonical bytes.

``to_bytes`` is the only serialisation: compact JSON with a fixed key order, so
equal values always give equal digests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.platform import Platform


class MediaType(StrEnum):
    INDEX = "application/vnd.oci.image.index.v1+json"
    MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    CONFIG = "application/vnd.oci.image.config.v1+json"
    LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
    LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


REF_NAME = "org.opencontainers.image.ref.name"


def to_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Descriptor:
        platform = None
        if "platform" in obj:
            p = obj["platform"]
            platform = Platform(p["os"], p["architecture"], p.get("variant", ""))
        return cls(
            media_type=obj["mediaType"],
            digest=Digest.parse(obj["digest"]),
            size=int(obj["size"]),
            platform=platform,
            annotations=tuple(sorted(obj.get("annotations", {}).items())),
        )

    def with_annotations(self, **extra: str) -> Descriptor:
        merged = dict(self.annotations) | extra
        return Descriptor(self.media_type, self.digest, self.size, self.platform,
                          tuple(sorted(merged.items())))


@dataclass(frozen=True)
class ImageConfig:
    platform: Platform
    created: str
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    labels: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[tuple[str, bool], ...] = field(default=())  # (created_by, empty_layer)

    def to_json(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.user:
            config["User"] = self.user
        if self.exposed_ports:
            config["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            config["Env"] = list(self.env)
        if self.entrypoint is not None:
            config["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            config["Cmd"] = list(self.cmd)
        if self.volumes:
            config["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.labels:
            config["Labels"] = dict(self.labels)
        if self.stop_signal:
            config["StopSignal"] = self.stop_signal
        out: dict[str, Any] = {"created": self.created, **self.platform.to_json(), "config": config}
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]}
        out["history"] = [
            {"created": self.created, "created_by": by, **({"empty_layer": True} if empty else {})}
            for by, empty in self.history
        ]
        return out


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MediaType.MANIFEST.value,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Index:
    manifests: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MediaType.INDEX.value,
            "manifests": [m.to_json() for m in self.manifests],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Index:
        return cls(
            manifests=tuple(Descriptor.from_json(m) for m in obj.get("manifests", [])),
            annotations=tuple(sorted(obj.get("annotations", {}).items())),
        )
