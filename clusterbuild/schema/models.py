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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clusterbuild.oci.platform import Platform

APP_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
    script_ttl: int | None = Field(
        default=None, ge=60, description="Apps built by init.sh: run the script again once its "
        "last run is older than this many seconds (for scripts that fetch 'latest').")
    script_timeout: int = Field(default=1800, ge=1, description="Apps built by init.sh: "
                                "seconds before the script is stopped.")

    _platforms = field_validator("platforms")(_check_platforms)


class Output(Strict):
    layout: str = Field(default="out", description="OCI image layout directory, relative "
                        "to the workspace.")
    archive: bool | Literal["multi"] = Field(
        default=False, description="Also write an oci-archive per platform image, "
        "<layout>/archives/<app>-<version>-<arch>.tar, named <registry>/<app>:<version> (what "
        "`sealos load` takes); \"multi\": one <app>-<version>.tar with the index and every platform.")
    docker_archive: bool = Field(default=False, description="Also write <layout>/archives/"
                                 "<app>-<version>-<arch>.docker.tar per platform (for "
                                 "`sealos load` / `docker load`).")
    layer_compression: Literal["gzip", "zstd"] = Field(
        default="gzip", description="How layers outside registry/ are compressed: gzip (every "
        "reader) or zstd (smaller and faster; read by sealos, buildah, podman, skopeo, "
        "containerd 1.5+; not by docker before 23).")


class Registries(Strict):
    """How to reach registries when pulling images and pushing results."""

    insecure: list[str] = Field(default_factory=list, description="Registry hosts reached over "
                                "plain HTTP, e.g. 127.0.0.1:5000.")
    ca_file: str | None = Field(default=None, description="Extra CA bundle (PEM) for registries "
                                "with self-signed certificates.")
    mirrors: dict[str, list[str]] = Field(default_factory=dict, description="Upstream registry "
                                          "host -> mirror hosts tried first, e.g. docker.io: "
                                          "[mirror.internal:5000].")


class DownloadSettings(Strict):
    """How remote inputs are downloaded."""

    mirrors: dict[str, str] = Field(default_factory=dict, description="URL prefix -> "
                                    "replacement, e.g. https://github.com/: "
                                    "https://nexus.internal/github/ (digests stay the identity).")
    jobs: int = Field(default=4, ge=1, description="Parallel downloads.")


class ScriptSettings(Strict):
    """How apps built by their init.sh run it."""

    sandbox: bool = Field(default=True, description="Run init.sh in a bubblewrap sandbox (its own "
                          "PID namespace, the user's home and credentials hidden, only its scratch "
                          "dir writable). false runs it with your own rights, with a warning.")


class CacheSettings(Strict):
    """The step cache shared between machines (CI jobs, developers, the bot)."""

    remote: str | None = Field(
        default=None, pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$",
        description="OCI repository holding step records and blobs, e.g. "
        "ghcr.io/labring/clusterbuild-cache (overridden by --remote-cache).")
    push: bool = Field(default=False, description="Upload the steps this machine runs to the "
                       "remote cache (CI: true; --cache-push/--no-cache-push override it).")


class Workspace(Strict):
    """apps.yaml: the apps of a workspace and where their images go."""

    registry: str = Field(
        pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$",
        description="Repository prefix of the images, e.g. docker.io/labring.")
    platforms: PlatformList = Field(default_factory=lambda: ["linux/amd64", "linux/arm64"])
    output: Output = Field(default_factory=Output)
    registries: Registries = Field(default_factory=Registries)
    downloads: DownloadSettings = Field(default_factory=DownloadSettings)
    scripts: ScriptSettings = Field(default_factory=ScriptSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
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


Sha256 = Annotated[str, Field(pattern=r"^(sha256:)?[0-9a-f]{64}$")]


SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_size(value: int | str) -> int:
    """Bytes from 1048576, "512MiB", "2 GB"."""
    if isinstance(value, int):
        return value
    match = SIZE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a size (e.g. 512MiB, 2GB, or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def _check_size(value: int | str | None) -> int | str | None:
    if value is not None and parse_size(value) <= 0:
        raise ValueError("max_size must be positive")
    return value


class Fetched(Strict):
    """What every remote input has: a checksum to verify, and the platforms it is for."""

    sha256: Sha256 | dict[str, Sha256] | None = Field(
        default=None, description="Expected sha256 of the download (per platform for binaries: "
        "{linux/amd64: ..., linux/arm64: ...}); otherwise pinned by `clusterbuild lock`.")
    sha256_url: str | None = Field(
        default=None, description="A checksum file published beside the download (a release's "
        "checksums.txt, SHA256SUMS, <file>.sha256; templated): the first download, before it is "
        "pinned, must match the sha256 it lists for the file's name.")
    platforms: list[str] | None = Field(
        default=None, description="Only for these platforms (default: all).")

    _platforms = field_validator("platforms")(_check_platforms)


class Edit(Strict):
    """An edit of a downloaded file, as init.sh scripts do with ``sed -i`` and ``yq -i``."""

    file: str = Field(description="The file in the build context, one this input places, e.g. "
                      "manifests/install.yaml or charts/x/values.yaml (templated).")
    kind: Literal["sed", "yq"] = Field(description="sed: substitutions and line edits (s/a/b/g, "
                                       "/re/d, /re/c text, /re/a text); yq: `.a.b = \"x\"` and "
                                       "`del(.a)` on every YAML document of the file.")
    expression: str = Field(description="The sed script or yq expression (templated).")
    extended: bool = Field(default=False, description="sed: extended regular expressions (sed -E).")

    @model_validator(mode="after")
    def _runs(self) -> Edit:
        if "{{" not in self.expression and "{%" not in self.expression:
            from clusterbuild.fetch.sed import parse_sed
            from clusterbuild.fetch.yq import parse_edits

            parse_sed(self.expression, self.extended) if self.kind == "sed" else parse_edits(self.expression)
        return self


EditList = Annotated[list[Edit], Field(default_factory=list, description="Edits of the downloaded "
                                       "files, in order; part of what the input is keyed by.")]
Replace = Annotated[bool | str, Field(default=False, description="true: the input replaces what the "
                                      "app dir holds at its dest (committed files there are left out), "
                                      "as an init.sh does with `rm -rf dest` before downloading into it; "
                                      "a directory holding dest (e.g. manifests): everything committed "
                                      "under it is left out (`rm -rf manifests`).")]


class ValuesEdits(Strict):
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted keys to set, e.g. "
                                "image.digest: null (so the mirror can copy by tag).")
    delete: list[str] = Field(default_factory=list, description="Dotted keys to remove.")


class ChartInput(Fetched):
    """A Helm chart, unpacked into charts/<name>/: from a chart repository (by chart version,
    or by app version as the catalogue does), an OCI registry, or an archive URL."""

    kind: Literal["chart"]
    name: str = Field(description="Chart name; the chart lands in charts/<name>/ (default for "
                      "oci: the last path segment).")
    repo: str | None = Field(default=None, description="HTTP chart repository (has index.yaml).")
    oci: str | None = Field(default=None, description="oci://host/path/chart")
    url: str | None = Field(default=None, description="A chart .tgz, or a source archive "
                            "holding the chart at `path` (templated).")
    path: str | None = Field(default=None, description="The chart's directory inside `url`.")
    version: str | None = Field(default=None, description="Chart version (templated). A repo chart "
                                "with neither version nor app_version is the highest stable one when "
                                "`clusterbuild lock` pins it (`lock --update` moves it).")
    app_version: str | None = Field(default=None, description="Pick the highest chart version "
                                    "whose appVersion equals this, with or without a leading v.")
    values: ValuesEdits | None = Field(default=None, description="Edits of values.yaml.")
    values_file: str | None = Field(default=None, description="A workspace file placed as "
                                    "charts/<name>.values.yaml (read by the image scan too).")
    max_size: int | str | None = Field(default=None, description="Refuse the chart archive if it "
                                       "expands to more than this (bytes, or e.g. 512MiB; default "
                                       "256MiB): a guard against decompression bombs.")
    edits: EditList
    replace: Replace
    exclude: list[str] = Field(default_factory=list, description="Paths of the chart (globs, under "
                               "its directory) left out, e.g. ['templates/tests', 'templates/tests/*'], "
                               "as an init.sh does with `rm -rf charts/<name>/templates/tests`.")
    dir: str | None = Field(default=None, description="The directory the chart is unpacked in: "
                            "<dir>/<name> (default charts; templated). The image scan renders charts "
                            "under charts/ only, as sealos does.")

    _max_size = field_validator("max_size")(_check_size)

    @model_validator(mode="before")
    @classmethod
    def _name_from_oci(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("oci"), str):
            return {**data, "name": data["oci"].rstrip("/").rsplit("/", 1)[-1]}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> ChartInput:
        sources = [k for k in ("repo", "oci", "url") if getattr(self, k)]
        if len(sources) != 1:
            raise ValueError("a chart needs exactly one of repo, oci, url")
        if self.oci and not self.version:
            raise ValueError("a chart from an OCI registry needs version")
        return self


class ManifestInput(Fetched):
    """A Kubernetes manifest downloaded into manifests/."""

    kind: Literal["manifest"]
    url: str = Field(description="Download URL (templated).")
    dest: str | None = Field(default=None, description="Default manifests/<file name>.")
    edits: EditList


class BinaryInput(Fetched):
    """A per-architecture binary, from a bare file or a member of an archive, into opt/."""

    kind: Literal["binary"]
    url: str = Field(description="Download URL (templated; {{ arch_name }} is arch after arch_map).")
    arch_map: dict[str, str] = Field(default_factory=dict, description="Release names of "
                                     "architectures, e.g. {amd64: x86_64, arm64: aarch64}.")
    member: str | None = Field(default=None, description="Path of the binary inside a .tar.gz, "
                               ".tgz, .zip archive (templated); none for a bare or .gz file.")
    dest: str = Field(description="Path in the build context, e.g. opt/helm (templated).")
    mode: Annotated[str, Field(pattern=r"^0?[0-7]{3}$")] = "0755"
    check_arch: bool = Field(default=True, description="Refuse an ELF binary built for "
                             "another architecture.")
    max_size: int | str | None = Field(default=None, description="Refuse the archive if it expands "
                                       "to more than this (bytes, or e.g. 4GiB; default 2GiB).")

    _max_size = field_validator("max_size")(_check_size)


class ArchiveInput(Fetched):
    """A directory of an archive (or all of it) unpacked into the build context: a release
    tarball's bin/ into opt/, a repository's deploy/ manifests, a rootfs's files."""

    kind: Literal["archive"]
    url: str = Field(description="Download URL of a .tar.gz, .tgz, .tar.xz or .zip (templated; "
                     "{{ arch_name }} is arch after arch_map).")
    arch_map: dict[str, str] = Field(default_factory=dict, description="Release names of "
                                     "architectures, e.g. {amd64: x86_64, arm64: aarch64}.")
    path: str | None = Field(default=None, description="The directory (or file) inside the archive "
                             "to take, e.g. kubernetes/server/bin (templated); default: everything. A "
                             "first segment * is the archive's single top directory, e.g. */deploy in "
                             "a GitHub source archive (repo-1.2.3/deploy).")
    dest: str = Field(description="Where its content lands in the build context, e.g. opt or "
                      "manifests/operator (templated).")
    exclude: list[str] = Field(default_factory=list, description="Archive paths (globs, under "
                               "`path`) left out, e.g. ['*.md', 'docs/*'].")
    max_size: int | str | None = Field(default=None, description="Refuse the archive if it expands "
                                       "to more than this (bytes, or e.g. 4GiB; default 2GiB).")
    edits: EditList
    replace: Replace

    _max_size = field_validator("max_size")(_check_size)


class UrlInput(Fetched):
    """Any file by URL, placed as is."""

    kind: Literal["url"]
    url: str = Field(description="Download URL (templated).")
    dest: str = Field(description="Path in the build context (templated).")
    mode: Annotated[str, Field(pattern=r"^0?[0-7]{3}$")] | None = None
    edits: EditList


class TextInput(Strict):
    """A file written from text, per app version and platform: what an init.sh writes with its
    variables (a Kubefile whose CMD names the version, an install script, an image list)."""

    kind: Literal["text"]
    text: str = Field(description="The file's content (templated: {{ version }}, {{ arch }}, ...; "
                      "{{ read.NAME }} names an images.read value: the file is then written in each "
                      "build, once the other inputs are in its context).")
    dest: str = Field(description="Path in the build context (templated). A Kubefile (or Sealfile, "
                      "Dockerfile, Containerfile) at the top is the app's recipe.")
    mode: Annotated[str, Field(pattern=r"^0?[0-7]{3}$")] | None = None
    platforms: list[str] | None = Field(default=None, description="Only for these platforms "
                                        "(default: all).")

    _platforms = field_validator("platforms")(_check_platforms)


class RenderInput(Strict):
    """A chart of the build context rendered into one file, as an init.sh does with
    ``helm template NAME CHART -n NS --set a=b > manifests/x.yaml``: written in each build,
    once the other inputs are in its context, as ``helm template`` prints it."""

    kind: Literal["render"]
    chart: str = Field(description="The chart's directory in the build context, e.g. charts/openebs "
                       "(a chart input's, or one of the app dir) (templated).")
    release: str = Field(default="release-name", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                         description="The release name (helm template's NAME; default release-name).")
    namespace: str = Field(default="", description="The release namespace (-n; default: default).")
    set: list[str] = Field(default_factory=list, description="--set expressions in order, parsed as "
                           "Helm parses them, e.g. [jiva.enabled=true, 'a.b=x,c=1'] (templated).")
    values_files: list[str] = Field(default_factory=list, description="-f files of the build context, "
                                    "in order, before `set` (templated).")
    dest: str = Field(description="Path in the build context, e.g. manifests/app.yaml (templated).")
    platforms: list[str] | None = Field(default=None, description="Only for these platforms "
                                        "(default: all).")

    _platforms = field_validator("platforms")(_check_platforms)


class CopyInput(Strict):
    """Files of the build context copied to another path in each build, once the other inputs
    are in it: what an init.sh does with ``cp -r charts/x/crds/* manifests/`` out of a chart it
    pulled (a chart input is placed only whole)."""

    kind: Literal["copy"]
    src: str = Field(description="A file or directory of the build context, e.g. charts/x/crds "
                     "(templated).")
    dest: str = Field(description="Where it is copied: the file's path, or the directory that the "
                      "directory `src` becomes (templated).")
    contents: bool = Field(default=False, description="Copy what the directory `src` holds into "
                           "`dest`, as `cp -r src/* dest/` does: its hidden entries are left out.")
    platforms: list[str] | None = Field(default=None, description="Only for these platforms "
                                        "(default: all).")

    _platforms = field_validator("platforms")(_check_platforms)


INPUT_KINDS: tuple[type[Strict], ...] = (FileInput, ChartInput, ManifestInput, BinaryInput, ArchiveInput,
                                         UrlInput, TextInput, RenderInput, CopyInput)
Input = Annotated[FileInput | ChartInput | ManifestInput | BinaryInput | ArchiveInput | UrlInput | TextInput
                  | RenderInput | CopyInput, Field(discriminator="kind")]
RemoteInput = ChartInput | ManifestInput | BinaryInput | ArchiveInput | UrlInput | TextInput


BUILTIN_PROFILES = ("optional-features", "all-subcharts")


class ProfileSpec(Strict):
    """A value profile with options: a built-in to start from, values, subcharts."""

    use: Literal["optional-features", "all-subcharts"] | None = Field(
        default=None, description="A built-in profile whose values come first: optional-features "
        "(metrics, volumePermissions, sysctl and chown init containers, sidecars, …) or "
        "all-subcharts (every dependency's condition and tags true).")
    values: dict[str, Any] = Field(default_factory=dict, description="Chart values (over `use`).")
    subcharts: bool = Field(default=False, description="Apply the values under each dependency's "
                            "name too (a subchart reads its switches under its own name).")


Profile = Annotated[Literal["optional-features", "all-subcharts"] | ProfileSpec | dict[str, Any],
                    Field(union_mode="left_to_right")]


class ReadSpec(Strict):
    """A value read out of a file of the build context when the images are scanned, as an
    init.sh computes a tag (``yq .a.b FILE``, ``cat FILE | grep x | awk '{print $2}'``)."""

    file: str = Field(description="The file in the build context, e.g. charts/x/values.yaml "
                      "(templated).")
    yq: str | None = Field(default=None, description="A yq path, e.g. .image.tag: the scalar as yq "
                           "prints it (null when absent).")
    run: str | None = Field(default=None, description="A pipeline of text filters run on the file "
                            "(not by a shell): grep, awk '{print $N}', cut, sed, head, tail, sort, "
                            "uniq, tr, xargs (templated).")

    @model_validator(mode="after")
    def _one_way(self) -> ReadSpec:
        if (self.yq is None) == (self.run is None):
            raise ValueError("a read needs exactly one of yq, run")
        from clusterbuild.fetch.textread import parse_run, yq_keys

        if self.yq is not None:
            yq_keys(self.yq)
        elif self.run is not None and "{{" not in self.run and "{%" not in self.run:
            parse_run(self.run)
        return self


class ImageOptions(Strict):
    """Which images the app ships in registry/ and how they are found."""

    discover: Literal["full", "sealos", "off"] = Field(
        default="full", description="full: render charts and walk YAML (finds more); sealos: "
        "sealos build's line scan only; off: only the extra images.")
    extra: list[str] = Field(default_factory=list, description="More images to ship (templated; "
                             "{{ read.NAME }} is a value of `read`; an entry that renders to several "
                             "words is one image per word, as an image list file is read).")
    read: dict[str, ReadSpec] = Field(default_factory=dict, description="Values read out of files of "
                                      "the build context when the images are scanned, for `extra`: "
                                      "{NAME: {file, yq | run}}.")
    exclude: list[str] = Field(default_factory=list, description="Images not to ship: "
                               "references or patterns such as docker.io/library/busybox:*.")
    profiles: dict[str, Profile] = Field(
        default_factory=dict, description="Named renders in addition to the defaults, so images "
        "behind disabled features are shipped too: chart values, a built-in's name "
        "(optional-features, all-subcharts), or {use, values, subcharts}; string values are "
        "templated ({{ version | strip_v }}). Full mode.")
    namespace: str = Field(default="", description="The release namespace charts are rendered "
                           "with in full mode (sealos renders with none).")
    is_install: bool = Field(default=False, description="Render charts as an install "
                             "(.Release.IsInstall true) in full mode (sealos renders with false).")
    from_annotations: bool = Field(default=False, description="Also ship the images the charts' "
                                   "authors list in Chart.yaml annotations (images, "
                                   "artifacthub.io/images, helm.sh/images), subcharts included. Full mode.")
    from_values: list[str] = Field(default_factory=list, description="Values paths naming images "
                                   "to ship, e.g. [nats.image] (a reference, an image map, or a "
                                   "list or map of them); a path naming none is an error. Full mode.")
    keep_digests: bool = Field(default=False, description="Keep @sha256 digests of tagged "
                               "references (sealos drops them and copies by tag).")
    all_platforms: bool = Field(default=False, description="Store every platform of each image "
                                "(the whole index) instead of only the target platform.")
    charts_as_oci: bool = Field(default=False, description="Also put each chart under charts/ "
                                "into registry/ as an OCI chart artifact, charts/<name>:<version> "
                                "(helm install oci://sealos.hub:5000/charts/<name>).")

    @model_validator(mode="after")
    def _full_mode_options(self) -> ImageOptions:
        if self.discover != "full":
            named = [name for name in ("namespace", "is_install", "from_annotations", "from_values")
                     if getattr(self, name)]
            if named:
                raise ValueError(f"{named[0]} is read in discover: full only (discover is {self.discover})")
        return self


class ReleaseSpec(Strict):
    """A value `clusterbuild lock` resolves once and pins in apps.lock (a frozen build never
    asks again; `lock --update` moves it): what an init.sh reads with
    ``curl https://api.github.com/repos/O/R/releases/latest | jq -r .tag_name`` (``github``), or
    out of a file it downloads, e.g. a chart's version in another chart
    (``cat charts/kubeblocks/templates/addons/redis-addon.yaml | grep '"version"' | awk '{print $2}'``:
    ``url``, ``file``, and ``run`` or ``yq``)."""

    github: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
                               description="owner/repo: the tag of the repository's latest release "
                               "(GitHub's releases/latest: the newest release that is neither a "
                               "draft nor a prerelease).")
    url: str | None = Field(default=None, description="A file or archive (.tgz, .tar.gz, .zip) "
                            "downloaded when the value is locked, not shipped (templated: app, version).")
    file: str | None = Field(default=None, description="With url: the file of the archive read, e.g. "
                             "*/templates/addons/redis-addon.yaml (a first segment * is the archive's "
                             "single top directory); default: the download itself (templated).")
    yq: str | None = Field(default=None, description="With url: a yq path read out of the file, e.g. "
                           ".version.")
    run: str | None = Field(default=None, description="With url: a pipeline of text filters run on the "
                            "file (grep, awk '{print $N}', cut, sed, head, tail, sort, uniq, tr, xargs; "
                            "templated), as images.read runs them.")

    @model_validator(mode="after")
    def _one_source(self) -> ReleaseSpec:
        if (self.github is None) == (self.url is None):
            raise ValueError("a release needs exactly one of github, url")
        if self.github is not None:
            extra = [k for k in ("file", "yq", "run") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{extra[0]} is read with url only (a github release is its tag)")
            return self
        if (self.yq is None) == (self.run is None):
            raise ValueError("a release read from url needs exactly one of yq, run")
        from clusterbuild.fetch.textread import parse_run, yq_keys

        if self.yq is not None:
            yq_keys(self.yq)
        elif self.run is not None and "{{" not in self.run and "{%" not in self.run:
            parse_run(self.run)
        return self

    def describe(self) -> str:
        """What the value is, for messages: ``github moby/buildkit``, ``read from URL``."""
        return f"github {self.github}" if self.github else f"read from {self.url}"


class AppSpec(Strict):
    """clusterbuild.yaml in an app directory: declared inputs and build settings."""

    platforms: list[str] | None = Field(
        default=None, description="Platforms this app can be built for (like build_arch).")
    build_args: dict[str, str] = Field(
        default_factory=dict, description="Kubefile ARG values (templated); apps.yaml wins.")
    releases: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ReleaseSpec] = Field(
        default_factory=dict, description="Values pinned by `clusterbuild lock`, named in templates "
        "as {{ releases.NAME }}: {NAME: {github: owner/repo}} is that repository's latest release tag; "
        "{NAME: {url, file, run | yq}} a value read out of a file downloaded at lock time.")
    inputs: list[Input] = Field(default_factory=list, description="Declared inputs.")
    images: ImageOptions = Field(default_factory=ImageOptions)

    _platforms = field_validator("platforms")(_check_platforms)
