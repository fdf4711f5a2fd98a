"""The workspace schema. Every model forbids unknown keys.

``apps.yaml`` (``Workspace``) says which apps and versions to build, for which
platforms, and where images go. An app directory may hold ``clusterbuild.yaml``
(``AppSpec``) declaring inputs that are not plain files of the directory.
String fields marked *templated* are rendered with jinja2 per build, with the
variables ``app``, ``version``, ``arch``, ``os``, ``variant``, ``platform``,
``registry``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clusterbuild.oci.platform import Platform

APP_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_platforms(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        Platform.parse(value)
    if values is not None and len(set(values)) != len(values):
        raise ValueError("platforms are listed twice")
    return values


PlatformList = Annotated[
    list[str],
    Field(min_length=1, description="Target platforms as os/arch[/variant], e.g. linux/arm64."),
]


class AppEntry(Strict):
    versions: list[Annotated[str, Field(pattern=VERSION.pattern)]] = Field(
        min_length=1, description="Versions to build; each uses applications/<app>/<version>/ "
        "if it exists, else applications/<app>/latest/ with the version passed in.")
    platforms: PlatformList | None = Field(
        default=None, description="Overrides the workspace platforms for this app.")
    build_args: dict[str, str] = Field(
        default_factory=dict, description="Kubefile ARG values (templated).")

    _platforms = field_validator("platforms")(_check_platforms)


class Output(Strict):
    layout: str = Field(default="out", description="OCI image layout directory, relative "
                        "to the workspace.")
    archive: bool = Field(default=False, description="Also write <layout>/archives/"
                          "<app>-<version>.tar as an oci-archive.")
    docker_archive: bool = Field(default=False, description="Also write <layout>/archives/"
                                 "<app>-<version>-<arch>.docker.tar per platform (for "
                                 "`sealos load` / `docker load`).")


class Registries(Strict):
    """How to reach registries when pulling images and pushing results."""

    insecure: list[str] = Field(default_factory=list, description="Registry hosts reached over "
                                "plain HTTP, e.g. 127.0.0.1:5000.")
    ca_file: str | None = Field(default=None, description="Extra CA bundle (PEM) for registries "
                                "with self-signed certificates.")
    mirrors: dict[str, list[str]] = Field(default_factory=dict, description="Upstream registry "
                                          "host -> mirror hosts tried first, e.g. docker.io: "
                                          "[mirror.internal:5000].")


class Workspace(Strict):
    """apps.yaml: the apps of a workspace and where their images go."""

    registry: str = Field(
        pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$",
        description="Repository prefix of the images, e.g. docker.io/labring.")
    platforms: PlatformList = Field(default_factory=lambda: ["linux/amd64", "linux/arm64"])
    output: Output = Field(default_factory=Output)
    registries: Registries = Field(default_factory=Registries)
    apps: dict[Annotated[str, Field(pattern=APP_NAME.pattern)], AppEntry] = Field(
        description="App name (a directory under applications/) to what to build.")

    _platforms = field_validator("platforms")(_check_platforms)


class FileInput(Strict):
    """A file of the workspace placed into the build context, e.g. one binary per arch."""

    kind: Literal["file"]
    src: str = Field(description="Path relative to the app directory (templated).")
    dest: str = Field(description="Path in the build context, e.g. opt/helm (templated).")
    mode: Annotated[str, Field(pattern=r"^0?[0-7]{3}$")] | None = Field(
        default=None, description="Octal permissions, e.g. '0755'; default keeps the x bit.")
    platforms: list[str] | None = Field(
        default=None, description="Only for these platforms (default: all).")

    _platforms = field_validator("platforms")(_check_platforms)


INPUT_KINDS: tuple[type[Strict], ...] = (FileInput,)
Input = Annotated[FileInput, Field(discriminator="kind")]


class ImageOptions(Strict):
    """Which images the app ships in registry/ and how they are found."""

    discover: Literal["full", "sealos", "off"] = Field(
        default="full", description="full: render charts and walk YAML (finds more); sealos: "
        "sealos build's line scan only; off: only the extra images.")
    extra: list[str] = Field(default_factory=list, description="More images to ship (templated).")
    exclude: list[str] = Field(default_factory=list, description="Images not to ship: "
                               "references or patterns such as docker.io/library/busybox:*.")
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Named chart values rendered in addition to the "
        "defaults, so images behind disabled features are shipped too.")
    keep_digests: bool = Field(default=False, description="Keep @sha256 digests of tagged "
                               "references (sealos drops them and copies by tag).")
    all_platforms: bool = Field(default=False, description="Store every platform of each image "
                                "(the whole index) instead of only the target platform.")


class AppSpec(Strict):
    """clusterbuild.yaml in an app directory: declared inputs and build settings."""

    platforms: list[str] | None = Field(
        default=None, description="Platforms this app can be built for (like build_arch).")
    build_args: dict[str, str] = Field(
        default_factory=dict, description="Kubefile ARG values (templated); apps.yaml wins.")
    inputs: list[Input] = Field(default_factory=list, description="Declared inputs.")
    images: ImageOptions = Field(default_factory=ImageOptions)

    _platforms = field_validator("platforms")(_check_platforms)
