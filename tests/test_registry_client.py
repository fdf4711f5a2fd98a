"""The registry client against real docker-registry processes, with skopeo as the independent party.

Images are built here (gzip tar layers, configs, manifests, indexes in a BlobStore), written
as an OCI layout and copied into the registries by ``skopeo copy --all``; what the client
pushes is read back by ``skopeo inspect --raw`` and ``skopeo copy``.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import io
import json
import logging
import os
import random
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from registry_servers import (
    Fault,
    FaultProxy,
    RegistryProcess,
    TokenServer,
    free_port,
    htpasswd_auth,
    self_signed,
)

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import REF_NAME, Descriptor, ImageConfig, Index, Manifest, MediaType, to_bytes
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry import (
    Credentials,
    RegistryClient,
    RegistryConfig,
    RegistryError,
    UnsupportedManifestError,
    login,
)
from clusterbuild.places.registry.platform_match import candidates, normalize, select
from clusterbuild.places.registry.retry import backoff_delay

PLATFORMS = ("linux/amd64", "linux/arm64/v8", "linux/arm")  # as written in the index
USER, PASSWORD = "builder", "s3cret-Pa55word"


# ------------------------------------------------------------------ images


def gzip_layer(store: BlobStore, name: str, size: int, seed: int) -> tuple[Descriptor, Digest]:
    """A gzip tar layer holding one file of ``size`` random bytes; (descriptor, diff id)."""
    data = random.Random(seed).randbytes(size)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, io.BytesIO(data))
    raw = tar_bytes.getvalue()
    packed = gzip.compress(raw, compresslevel=1, mtime=0)
    return Descriptor(MediaType.LAYER_GZIP.value, store.put_bytes(packed), len(packed)), Digest.of_bytes(raw)


def put_json(store: BlobStore, media_type: str, obj: object, platform: Platform | None = None) -> Descriptor:
    data = to_bytes(obj)
    return Descriptor(media_type, store.put_bytes(data), len(data), platform)


def image(store: BlobStore, platform: Platform, layers: list[tuple[Descriptor, Digest]]) -> Descriptor:
    config = ImageConfig(platform, "1970-01-01T00:00:00Z", diff_ids=tuple(d for _, d in layers),
                         history=tuple((f"layer {i}", False) for i in range(len(layers))))
    config_desc = put_json(store, MediaType.CONFIG.value, config.to_json())
    manifest = Manifest(config_desc, tuple(desc for desc, _ in layers))
    return put_json(store, MediaType.MANIFEST.value, manifest.to_json(), platform)


def index(store: BlobStore, manifests: list[Descriptor]) -> Descriptor:
    return put_json(store, MediaType.INDEX.value, Index(tuple(manifests)).to_json())


@dataclass
class Images:
    store: BlobStore
    multi: Descriptor  # index: amd64, arm64/v8, arm (no variant)
    children: dict[str, Descriptor]  # platform as written -> manifest
    app2: Descriptor  # index sharing the base layers of `multi`
    single: Descriptor  # one amd64 manifest with a 1.5 MB layer
    big_layer: Descriptor
    blobs: dict[str, set[Digest]] = field(default_factory=dict)  # platform -> config + layers


def build_images(root: Path) -> Images:
    store = BlobStore(root)
    base = [gzip_layer(store, "base-a", 300_000, 1), gzip_layer(store, "base-b", 120_000, 2)]
    children, blobs = {}, {}
    for i, text in enumerate(PLATFORMS):
        os_, arch, *variant = text.split("/")
        platform = Platform(os_, arch, variant[0] if variant else "")
        own = gzip_layer(store, f"app-{arch}", 40_000, 10 + i)
        children[text] = image(store, platform, [*base, own])
        manifest = json.loads(store.read_bytes(children[text].digest))
        blobs[text] = {Digest.parse(d["digest"]) for d in [manifest["config"], *manifest["layers"]]}
    app2_children = [image(store, Platform("linux", "amd64"), [*base, gzip_layer(store, "app2", 50_000, 30)])]
    big = gzip_layer(store, "big", 1_500_000, 40)
    single = image(store, Platform("linux", "amd64"), [base[1], big])
    images = Images(store, index(store, list(children.values())), children, index(store, app2_children),
                    single, big[0], blobs)
    return images


def write_layout(store: BlobStore, root: Descriptor, layout: Path, tag: str) -> None:
    (layout / "blobs" / "sha256").mkdir(parents=True)
    for digest in store.digests():
        os.link(store.path(digest), layout / "blobs" / "sha256" / digest.hex)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entry = root.with_annotations(**{REF_NAME: tag}).to_json()
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def skopeo_push(images: Images, root: Descriptor, dest: str, tmp: Path, *extra: str) -> None:
    layout = tmp / f"layout-{root.digest.short}-{len(extra)}"
    if not layout.exists():
        write_layout(images.store, root, layout, "t")
    skopeo("copy", "--all", "--dest-tls-verify=false", *extra, f"oci:{layout}:t", f"docker://{dest}")


def raw(ref: str) -> bytes:
    return skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").encode()


class LoopbackOnly(httpx.BaseTransport):
    """A real HTTP transport that refuses every host but 127.0.0.1 (no test may leave the machine)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(f"test transport: {request.url.host} is not reachable", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# ---------------------------------------------------------------- fixtures


@dataclass
class Servers:
    anon: str
    other: str
    proxy: FaultProxy
    images: Images
    tmp: Path

    def config(self, *hosts: str, **options: object) -> RegistryConfig:
        insecure = frozenset({self.anon, self.other, self.proxy.address, *hosts})
        settings: dict[str, object] = {"backoff": 0.01, "retries": 3, **options}
        return RegistryConfig(insecure=insecure, **settings)  # type: ignore[arg-type]

    def client(self, *hosts: str, credentials: Credentials | None = None,
               **options: object) -> RegistryClient:
        return RegistryClient(self.config(*hosts, **options), credentials, LoopbackOnly())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("registry-client")
    anon, other = RegistryProcess(tmp / "anon"), RegistryProcess(tmp / "other")
    proxy = FaultProxy(anon.address)
    images = build_images(tmp / "images")
    skopeo_push(images, images.multi, f"{anon.address}/test/multi:1", tmp)
    skopeo_push(images, images.multi, f"{anon.address}/test/multi-docker:1", tmp, "--format", "v2s2")
    skopeo_push(images, images.app2, f"{anon.address}/test/app2:1", tmp)
    skopeo_push(images, images.single, f"{anon.address}/test/single:1", tmp)
    skopeo_push(images, images.single, f"{anon.address}/library/hello:1", tmp)
    try:
        yield Servers(anon.address, other.address, proxy, images, tmp)
    finally:
        proxy.stop()
        anon.stop()
        other.stop()


@pytest.fixture
def proxy(servers: Servers) -> Iterator[FaultProxy]:
    servers.proxy.reset()
    yield servers.proxy
    servers.proxy.reset()


def fresh_store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store")


def ref(text: str) -> Reference:
    return Reference.parse(text)


def store_state(store: BlobStore) -> tuple[set[Digest], list[str]]:
    tmp = sorted(os.listdir(store.tmp)) if store.tmp.is_dir() else []
    return set(store.digests()), tmp


# ----------------------------------------------------------------- pulling


def test_pull_one_platform_of_an_oci_index(servers: Servers, tmp_path: Path) -> None:
    store, built = fresh_store(tmp_path), servers.images
    target = ref(f"{servers.anon}/test/multi:1")
    with servers.client() as client:
        pulled = client.pull([target], [Platform.parse("linux/arm64")], store)[target]
        armv7 = client.pull([target], [Platform.parse("linux/arm/v7")], store)[target]
    assert pulled.root == Descriptor(MediaType.INDEX.value, built.multi.digest, built.multi.size)
    [arm64] = pulled.images
    assert arm64.manifest.digest == built.children["linux/arm64/v8"].digest  # arm64 == arm64/v8
    assert {arm64.config.digest, *(layer.digest for layer in arm64.layers)} == built.blobs["linux/arm64/v8"]
    assert [i.manifest.digest for i in armv7.images] == [built.children["linux/arm"].digest]  # arm == arm/v7
    stored = set(store.digests())
    assert built.multi.digest in stored and arm64.manifest.digest in stored
    assert built.blobs["linux/arm64/v8"] <= stored
    assert not (built.blobs["linux/amd64"] - built.blobs["linux/arm64/v8"]) & stored


def test_pull_all_platforms_of_a_docker_list(servers: Servers, tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    target = ref(f"{servers.anon}/test/multi-docker:1")
    listed = raw(str(target))
    with servers.client() as client:
        pulled = client.pull([target], None, store)[target]
    assert pulled.root.media_type == MediaType.DOCKER_LIST.value
    assert pulled.digest == Digest.of_bytes(listed) and store.read_bytes(pulled.digest) == listed
    platforms = sorted(str(i.manifest.platform) for i in pulled.images)
    assert platforms == ["linux/amd64", "linux/arm", "linux/arm64/v8"]
    for part in pulled.images:
        assert part.manifest.media_type == MediaType.DOCKER_MANIFEST.value
        assert part.config.media_type == MediaType.DOCKER_CONFIG.value
        for blob in (part.manifest, *part.blobs):
            assert store.has(blob.digest, blob.size)
            assert Digest.of_bytes(store.read_bytes(blob.digest)) == blob.digest


def test_pull_and_resolve_by_digest(servers: Servers, tmp_path: Path) -> None:
    built, store = servers.images, fresh_store(tmp_path)
    by_digest = ref(f"{servers.anon}/test/multi@{built.multi.digest}")
    tag_and_digest = ref(f"{servers.anon}/test/multi:1@{built.multi.digest}")
    child = ref(f"{servers.anon}/test/multi@{built.children['linux/amd64'].digest}")
    with servers.client() as client:
        resolved = client.resolve(by_digest)
        pulled = client.pull([by_digest, tag_and_digest, child], None, store)
    assert resolved.data == raw(f"{servers.anon}/test/multi:1") and resolved.is_index
    assert resolved.digest == built.multi.digest and resolved.size == built.multi.size
    assert len(pulled[by_digest].images) == 3 and pulled[tag_and_digest].digest == built.multi.digest
    [amd64] = pulled[child].images
    assert pulled[child].root.media_type == MediaType.MANIFEST.value
    assert amd64.manifest.platform == Platform("linux", "amd64")  # read from the config


def test_platform_rules_follow_containerd() -> None:
    def p(text: str) -> Platform:
        os_, arch, *variant = text.split("/")
        return Platform(os_, arch, variant[0] if variant else "")

    assert normalize(p("linux/aarch64/v8")) == normalize(p("linux/arm64")) == p("linux/arm64")
    assert normalize(p("linux/arm")) == p("linux/arm/v7") and normalize(p("linux/x86_64")) == p("linux/amd64")
    assert candidates(p("linux/arm/v7")) == [p("linux/arm/v7"), p("linux/arm/v6"), p("linux/arm/v5")]
    assert candidates(p("linux/amd64/v3"))[1:] == [p("linux/amd64/v2"), p("linux/amd64"), p("linux/386")]
    assert candidates(p("linux/arm64"))[:2] == [p("linux/arm64"), p("linux/arm/v8")]
    children = [Descriptor(MediaType.MANIFEST.value, Digest.of_bytes(t.encode()), 1, p(t))
                for t in ("linux/386", "linux/arm/v6", "linux/arm64/v8", "linux/amd64")]
    assert select(children, [p("linux/amd64")], "x") == [children[3]]  # exact beats 386
    assert select(children, [p("linux/arm/v7")], "x") == [children[1]]  # v6 runs on v7
    assert select(children, [p("linux/arm64"), p("linux/arm64/v8")], "x") == [children[2]]
    with pytest.raises(RegistryError, match=r"no manifest for linux/s390x \(the index has: linux/386"):
        select(children, [p("linux/s390x")], "x")


def test_a_single_platform_image_is_checked_against_the_platforms(servers: Servers, tmp_path: Path) -> None:
    target = ref(f"{servers.anon}/test/single:1")
    with servers.client() as client, pytest.raises(RegistryError) as caught:
        client.pull([target], [Platform.parse("linux/arm64")], fresh_store(tmp_path))
    message = f"pulling {target}: the image is for linux/amd64 only, not linux/arm64"
    assert str(caught.value).startswith(message)


# ----------------------------------------------------------------- pushing


def unique_index(store: BlobStore, salt: int, layer_size: int = 30_000) -> Descriptor:
    base = gzip_layer(store, "shared", 20_000, 99)
    children = [image(store, Platform("linux", arch), [base, gzip_layer(store, arch, layer_size, salt + i)])
                for i, arch in enumerate(("amd64", "arm64"))]
    return index(store, children)


def test_push_index_then_skopeo_reads_it(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    root = unique_index(store, 1000)
    target = ref(f"{proxy.address}/pushed/app:v1")
    with servers.client() as client:
        assert client.push(target, root, store) == root.digest
    assert raw(f"{servers.anon}/pushed/app:v1") == store.read_bytes(root.digest)
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{servers.anon}/pushed/app:v1",
           f"oci:{tmp_path / 'back'}:v1")  # skopeo checks every digest
    puts = [e.path.rsplit("/", 1)[1] for e in proxy.log if e.method == "PUT" and "/manifests/" in e.path]
    children = [d["digest"] for d in json.loads(store.read_bytes(root.digest))["manifests"]]
    assert sorted(puts[:-1]) == sorted(children) and puts[-1] == "v1"  # children first, the tag last
    heads = [e for e in proxy.log if e.method == "HEAD" and "/blobs/" in e.path]
    assert len(heads) == 5  # two configs, the shared layer once, two own layers


def test_push_mounts_blobs_seen_in_another_repository(servers: Servers, proxy: FaultProxy,
                                                      tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    root = unique_index(store, 2000)
    with servers.client() as client:
        client.push(ref(f"{proxy.address}/mount/first:1"), root, store)
        proxy.log.clear()
        assert client.push(ref(f"{proxy.address}/mount/second:1"), root, store) == root.digest
    mounts = [e for e in proxy.log if e.method == "POST" and "mount=" in e.query]
    assert len(mounts) == 5 and {e.status for e in mounts} == {201}
    assert all("from=mount%2Ffirst" in e.query or "from=mount/first" in e.query for e in mounts)
    assert not [e for e in proxy.log if e.method in ("PATCH", "PUT") and "/blobs/uploads/" in e.path]
    assert raw(f"{servers.anon}/mount/second:1") == store.read_bytes(root.digest)


def test_push_uploads_large_blobs_in_chunks(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    root = unique_index(store, 3000, layer_size=250_000)
    with servers.client(chunk_size=64 * 1024) as client:
        assert client.push(ref(f"{proxy.address}/chunked/app:1"), root, store) == root.digest
    patches = [e for e in proxy.log if e.method == "PATCH"]
    assert len(patches) >= 8 and {e.status for e in patches} == {202}
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{servers.anon}/chunked/app:1",
           f"oci:{tmp_path / 'back'}:1")


def test_push_uploads_again_when_the_registry_got_other_bytes(servers: Servers, proxy: FaultProxy,
                                                               tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    root = unique_index(store, 4000)
    proxy.inject(Fault(r"/blobs/uploads/", "corrupt request", method="PUT"))
    with servers.client() as client:
        assert client.push(ref(f"{proxy.address}/regot/app:1"), root, store) == root.digest
    refused = [e for e in proxy.log if e.fault == "corrupt request"]
    assert len(refused) == 1 and refused[0].status == 400  # the real registry saw the wrong bytes
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{servers.anon}/regot/app:1",
           f"oci:{tmp_path / 'back'}:1")  # skopeo checks every digest


def test_concurrent_pushes_upload_a_shared_blob_once(servers: Servers, proxy: FaultProxy,
                                                      tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    roots = [unique_index(store, 6000 + 10 * n) for n in range(4)]  # all share one base layer
    shared = json.loads(store.read_bytes(Digest.parse(
        json.loads(store.read_bytes(roots[0].digest))["manifests"][0]["digest"])))["layers"][0]["digest"]
    proxy.inject(Fault(r"/blobs/", "slow", method="HEAD", after=200, times=8))  # widen the window
    with servers.client() as client, ThreadPoolExecutor(4) as pool:
        pushed = list(pool.map(lambda n: client.push(ref(f"{proxy.address}/flight/app:{n}"), roots[n], store),
                               range(4)))
    assert pushed == [root.digest for root in roots]
    uploads = [e for e in proxy.log
               if e.method == "PUT" and "/blobs/uploads/" in e.path and shared.split(":")[1] in e.query]
    assert len(uploads) == 1, uploads


def test_push_of_a_corrupt_store_blob_removes_it_and_says_so(servers: Servers, tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    root = unique_index(store, 5000)
    child = Digest.parse(json.loads(store.read_bytes(root.digest))["manifests"][0]["digest"])
    layer = json.loads(store.read_bytes(child))["layers"][1]
    path = store.path(Digest.parse(layer["digest"]))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: what a disk error or a stray writer leaves
    path.write_bytes(bytes(data))
    with servers.client() as client, pytest.raises(RegistryError) as caught:
        client.push(ref(f"{servers.anon}/corrupt-store/app:1"), root, store)
    assert "the content store's copy is corrupt" in str(caught.value) and layer["digest"] in str(caught.value)
    assert caught.value.code == "DIGEST_INVALID" and not path.exists()


def test_copy_between_registries(servers: Servers, tmp_path: Path) -> None:
    src, dst = ref(f"{servers.anon}/test/multi:1"), ref(f"{servers.other}/copied/multi:1")
    arm = ref(f"{servers.other}/copied/multi:arm64")
    with servers.client() as client:
        assert client.copy(src, dst, fresh_store(tmp_path)) == servers.images.multi.digest
        arm_digest = client.copy(src, arm, fresh_store(tmp_path / "2"), all_platforms=False,
                                 platforms=[Platform.parse("linux/arm64")])
    assert raw(str(dst)) == raw(str(src))
    assert arm_digest == servers.images.children["linux/arm64/v8"].digest == Digest.of_bytes(raw(str(arm)))


# ------------------------------------------------------------- auth: basic


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("basic")
    registry = RegistryProcess(root, htpasswd_auth(root, {USER: PASSWORD}))
    yield registry.address
    registry.stop()


def docker_config(directory: Path, config: dict[str, object]) -> Credentials:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return Credentials(docker_config=directory / "config.json", own_file=directory / "none.json")


def round_trip(servers: Servers, host: str, repo: str, credentials: Credentials | None, tmp: Path) -> None:
    """Push a fresh index to ``host/repo:1`` and pull it back into another store."""
    store = fresh_store(tmp)
    root = unique_index(store, sum(map(ord, repo)))
    with servers.client(host, credentials=credentials) as client:
        assert client.push(ref(f"{host}/{repo}:1"), root, store) == root.digest
        pulled = client.pull([ref(f"{host}/{repo}:1")], None, BlobStore(tmp / "back"))
    assert pulled[ref(f"{host}/{repo}:1")].digest == root.digest


def test_basic_auth_from_docker_config_auths(servers: Servers, basic_registry: str, tmp_path: Path) -> None:
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    entry = {f"http://{basic_registry}": {"auth": encoded}}  # keys may carry a scheme
    credentials = docker_config(tmp_path / "docker", {"auths": entry})
    round_trip(servers, basic_registry, "basic/app", credentials, tmp_path)
    assert PASSWORD not in repr(credentials)
    assert PASSWORD not in repr(credentials.for_registry(basic_registry))


def test_basic_auth_refusals_say_what_and_hide_the_password(servers: Servers, basic_registry: str,
                                                            tmp_path: Path) -> None:
    wrong = docker_config(tmp_path / "wrong", {"auths": {basic_registry: {"username": USER,
                                                                         "password": PASSWORD + "x"}}})
    target = ref(f"{basic_registry}/basic/nothing:1")
    for credentials in (None, wrong):
        client = servers.client(basic_registry, credentials=credentials)
        with client, pytest.raises(RegistryError) as caught:
            client.resolve(target)
        error = caught.value
        assert error.status == 401 and error.code == "UNAUTHORIZED" and not error.temporary
        assert str(error).startswith(f"resolving {target}: fetching manifest 1: 401 UNAUTHORIZED")
        assert "hint: check the credentials for" in str(error)
        assert PASSWORD not in f"{error}{error!r}{client!r}"


@pytest.mark.parametrize("key", ["credHelpers", "credsStore"])
def test_credential_helper_from_docker_config(servers: Servers, basic_registry: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    bin_dir, asked = tmp_path / "bin", tmp_path / "asked.txt"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-test"
    answer = json.dumps({"ServerURL": basic_registry, "Username": USER, "Secret": PASSWORD})
    helper.write_text(
        f'#!/bin/sh\n[ "$1" = get ] || exit 2\nread server\necho "$server" >> {asked}\n'
        f'if [ "$server" != "{basic_registry}" ]; then\n'
        '  echo "credentials not found in native keychain"; exit 1\nfi\n'
        f"echo '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    helpers: object = {basic_registry: "test"} if key == "credHelpers" else "test"
    docker_config(tmp_path / "docker", {"auths": {basic_registry: {}}, key: helpers})
    credentials = Credentials()
    round_trip(servers, basic_registry, f"helper/{key.lower()}", credentials, tmp_path)
    assert asked.read_text().split() == [basic_registry]  # asked once, with the server on stdin
    if key == "credsStore":
        assert credentials.for_registry("quay.io") is None  # "not found": no login, no error
        assert asked.read_text().split() == [basic_registry, "quay.io"]


def test_login_writes_a_private_file_that_hub_aliases_share(servers: Servers, basic_registry: str,
                                                           tmp_path: Path) -> None:
    own = tmp_path / "clusterbuild" / "auth.json"
    login(basic_registry, USER, PASSWORD, own)
    login("index.docker.io", "hubuser", "hubpass", own)
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    credentials = Credentials(docker_config=tmp_path / "missing.json", own_file=own)
    for alias in ("docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"):
        found = credentials.for_registry(alias)
        assert found is not None and (found.username, found.password) == ("hubuser", "hubpass")
    round_trip(servers, basic_registry, "login/app", credentials, tmp_path)


# ------------------------------------------------------------- auth: token


@dataclass
class TokenRegistry:
    address: str
    tokens: TokenServer


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    root = tmp_path_factory.mktemp("token")
    tokens = TokenServer(root / "tokens", {USER: PASSWORD}, {"refresh-me": USER})
    registry = RegistryProcess(root / "registry", tokens.registry_auth())
    yield TokenRegistry(registry.address, tokens)
    registry.stop()
    tokens.stop()


def test_token_auth_push_pull_and_mount_scopes(servers: Servers, token_registry: TokenRegistry,
                                               tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    host, tokens = token_registry.address, token_registry.tokens
    tokens.requests.clear()
    entry = {host: {"username": USER, "password": PASSWORD}}
    credentials = docker_config(tmp_path / "docker", {"auths": entry})
    store = fresh_store(tmp_path)
    root = unique_index(store, 5000)
    with servers.client(host, credentials=credentials) as client:
        client.push(ref(f"{host}/token/first:1"), root, store)
        client.push(ref(f"{host}/token/second:1"), root, store)
        pulled = client.pull([ref(f"{host}/token/second:1")], None, BlobStore(tmp_path / "back"))
    assert pulled[ref(f"{host}/token/second:1")].digest == root.digest
    scopes = [r.scopes for r in tokens.requests]
    assert ("repository:token/first:pull,push",) in scopes
    assert ("repository:token/second:pull,push", "repository:token/first:pull") in scopes  # mounts
    assert ("repository:token/second:pull",) in scopes
    assert len(tokens.requests) == 4 and {r.account for r in tokens.requests} == {USER}  # one per scope
    assert caplog.text and PASSWORD not in caplog.text
    assert not [t for t in tokens.issued if t in caplog.text or t.split(".")[2] in caplog.text]


def test_expired_token_is_renewed_once(servers: Servers, token_registry: TokenRegistry,
                                       tmp_path: Path) -> None:
    tokens, proxy = token_registry.tokens, FaultProxy(token_registry.address)
    refresh = docker_config(tmp_path / "docker", {"auths": {proxy.address: {"identitytoken": "refresh-me"}}})
    store = fresh_store(tmp_path)
    root = unique_index(store, 6000)
    target = ref(f"{proxy.address}/expiry/app:1")
    tokens.lifetime = 2.0  # the registry refuses a token after 2 s; the client is told 300 s
    try:
        with servers.client(proxy.address, credentials=refresh) as client:
            client.push(target, root, store)
            client.resolve(target)
            before, proxy.log[:] = len(tokens.requests), []
            time.sleep(2.5)
            assert client.resolve(target).digest == root.digest
    finally:
        tokens.lifetime = 300.0
        proxy.stop()
    assert [e.status for e in proxy.log] == [401, 200]  # the cached token was refused, then renewed
    assert len(tokens.requests) == before + 1 and tokens.requests[-1].method == "POST"  # refresh token


def test_token_auth_without_credentials_is_refused(servers: Servers, token_registry: TokenRegistry) -> None:
    target = ref(f"{token_registry.address}/token/first:1")
    with servers.client(token_registry.address) as client, pytest.raises(RegistryError) as caught:
        client.resolve(target)
    assert caught.value.status == 401 and f"resolving {target}: getting a token for" in str(caught.value)


# ----------------------------------------------------------------- faults


def test_retries_500_then_succeeds(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.inject(Fault(r"/manifests/1$", "status", times=2, status=500))
    with servers.client() as client:
        resolved = client.resolve(ref(f"{proxy.address}/test/multi:1"))
    assert resolved.digest == servers.images.multi.digest
    assert [e.status for e in proxy.log if "/manifests/" in e.path] == [500, 500, 200]


def test_429_waits_for_retry_after(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    layer = servers.images.big_layer
    proxy.inject(Fault(layer.digest.hex, "status", status=429, headers={"Retry-After": "1"}))
    target = ref(f"{proxy.address}/test/single:1")
    started = time.monotonic()
    with servers.client() as client:
        client.pull([target], None, fresh_store(tmp_path))
    assert time.monotonic() - started >= 1.0
    assert [e.status for e in proxy.log if layer.digest.hex in e.path] == [429, 200]


def test_dropped_body_resumes_with_range(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    layer, store = servers.images.big_layer, fresh_store(tmp_path)
    proxy.inject(Fault(layer.digest.hex, "drop", after=600_000))
    with servers.client() as client:
        client.pull([ref(f"{proxy.address}/test/single:1")], None, store)
    gets = [e for e in proxy.log if layer.digest.hex in e.path]
    assert [(e.status, e.range) for e in gets] == [(200, ""), (206, "bytes=600000-")]
    assert proxy.sent_for(layer.digest.hex) == layer.size
    assert Digest.of_bytes(store.read_bytes(layer.digest)) == layer.digest


def test_dropped_body_is_refetched_without_ranges(servers: Servers, proxy: FaultProxy,
                                                  tmp_path: Path) -> None:
    layer, store = servers.images.big_layer, fresh_store(tmp_path)
    proxy.ranges = False
    proxy.inject(Fault(layer.digest.hex, "drop", after=600_000))
    with servers.client() as client:
        client.pull([ref(f"{proxy.address}/test/single:1")], None, store)
    gets = [e for e in proxy.log if layer.digest.hex in e.path]
    assert [(e.status, e.range) for e in gets] == [(200, ""), (200, "")]
    assert store.has(layer.digest, layer.size) and store_state(store)[1] == []


def test_a_blob_corrupted_once_is_fetched_again(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    layer, store = servers.images.big_layer, fresh_store(tmp_path)
    with servers.client() as client:
        proxy.inject(Fault(layer.digest.hex, "corrupt"))
        client.pull([ref(f"{proxy.address}/test/single:1")], None, store)
    assert store.has(layer.digest, layer.size)
    gets = [e for e in proxy.log if layer.digest.hex in e.path and e.method == "GET"]
    assert [e.fault for e in gets] == ["corrupt", ""]


def test_corrupt_blob_is_rejected_and_not_stored(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    layer, store = servers.images.big_layer, fresh_store(tmp_path)
    target = ref(f"{proxy.address}/test/single:1")
    with servers.client() as client:
        client.pull([ref(f"{proxy.address}/test/multi:1")], [Platform.parse("linux/amd64")], store)
        before = store_state(store)
        proxy.inject(Fault(layer.digest.hex, "corrupt", times=2))
        with pytest.raises(RegistryError) as caught:
            client.pull([target], None, store)
    error = caught.value
    assert error.code == "DIGEST_INVALID" and not error.temporary
    doing = f"pulling {target}: fetching blob {layer.digest} from {proxy.address}/test/single"
    assert str(error).startswith(f"{doing}: received {layer.size} bytes")
    assert f"twice, expected {layer.size} bytes of {layer.digest}" in str(error)
    after = store_state(store)
    assert layer.digest not in after[0] and after[1] == []
    config = json.loads(store.read_bytes(servers.images.single.digest))["config"]["digest"]
    assert after[0] - before[0] == {servers.images.single.digest, Digest.parse(config)}  # both verified


def test_shared_layers_are_transferred_once(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    refs = [ref(f"{proxy.address}/test/multi:1"), ref(f"{proxy.address}/test/app2:1")]
    with servers.client(jobs=4) as client:
        pulled = client.pull(refs, None, store)
    blobs = {b.digest: b for image in pulled.values() for part in image.images for b in part.blobs}
    assert len(blobs) == 10  # 2 shared base layers, 4 own layers, 4 configs
    shared = [b for b in blobs if sum(b in {x.digest for x in part.blobs}
                                      for image in pulled.values() for part in image.images) == 4]
    assert len(shared) == 2  # the base layers, in all four images
    for digest, blob in blobs.items():
        assert proxy.sent_for(f"/blobs/{digest}") == blob.size, digest
    blob_bytes = sum(e.sent for e in proxy.log if "/blobs/" in e.path)
    assert blob_bytes == sum(b.size for b in blobs.values())


def test_schema1_manifest_is_refused_with_a_hint(servers: Servers, proxy: FaultProxy) -> None:
    schema1 = json.dumps({"schemaVersion": 1, "name": "test/multi", "tag": "old", "fsLayers": []}).encode()
    proxy.inject(Fault(r"/manifests/old$", "status", status=200, body=schema1,
                       headers={"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}))
    with servers.client() as client, pytest.raises(UnsupportedManifestError) as caught:
        client.resolve(ref(f"{proxy.address}/test/multi:old"))
    assert "schema 1" in str(caught.value) and "re-push the image with a v2 schema" in str(caught.value)
    assert caught.value.exit_code == 3


def test_errors_name_the_operation_and_the_registry_code(servers: Servers, proxy: FaultProxy,
                                                         tmp_path: Path) -> None:
    missing, layer = ref(f"{servers.anon}/test/multi:nope"), servers.images.big_layer
    with servers.client() as client:
        with pytest.raises(RegistryError) as not_found:
            client.pull([missing], None, fresh_store(tmp_path))
        proxy.inject(Fault(layer.digest.hex, "status", status=404, body=b'{"errors":[{"code":"BLOB_UNKNOWN",'
                           b'"message":"blob unknown to registry"}]}'))
        target = ref(f"{proxy.address}/test/single:1")
        with pytest.raises(RegistryError) as blob_missing:
            client.pull([target], None, fresh_store(tmp_path / "2"))
        proxy.inject(Fault(r"/manifests/", "status", status=503, times=10))
        with pytest.raises(RegistryError) as unavailable:
            client.resolve(target)
    assert str(not_found.value).startswith(f"pulling {missing}: fetching manifest nope: 404 MANIFEST_UNKNOWN")
    assert not_found.value.code == "MANIFEST_UNKNOWN" and not not_found.value.temporary
    assert str(blob_missing.value) == (f"pulling {target}: fetching blob {layer.digest}: "
                                       "404 BLOB_UNKNOWN blob unknown to registry")
    assert unavailable.value.temporary and unavailable.value.status == 503


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    config = RegistryConfig(max_delay=30.0)
    later = email.utils.formatdate(time.time() + 12, usegmt=True)
    assert backoff_delay(config, 0, httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert 10.0 <= backoff_delay(config, 0, httpx.Response(503, headers={"Retry-After": later})) <= 12.0
    assert backoff_delay(config, 0, httpx.Response(429, headers={"Retry-After": "3600"})) == 30.0  # capped


def test_https_registry_is_trusted_through_ca_file(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls", "registry")
    registry = RegistryProcess(tmp_path / "registry", tls=(cert, key))
    store = fresh_store(tmp_path)
    root = unique_index(store, 7000)
    target = ref(f"{registry.address}/tls/app:1")
    try:
        with RegistryClient(RegistryConfig(ca_file=cert, backoff=0.01)) as client:
            assert client.push(target, root, store) == root.digest
            assert client.resolve(target).digest == root.digest
        with RegistryClient(RegistryConfig(backoff=0.01)) as client, pytest.raises(RegistryError) as caught:
            client.resolve(target)
    finally:
        registry.stop()
    assert caught.value.code == "TLS" and not caught.value.temporary
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) and "as ca_file" in str(caught.value)


# ----------------------------------------------------------------- mirrors


def test_mirrors_are_tried_in_order_then_the_registry(servers: Servers, tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    single = servers.images.single
    mirrors = {servers.other: (dead, servers.anon)}  # `other` lacks test/single; `anon` has it
    with servers.client(dead, mirrors=mirrors) as client:
        pulled = client.pull([ref(f"{servers.other}/test/single:1")], None, fresh_store(tmp_path))
        assert pulled[ref(f"{servers.other}/test/single:1")].digest == single.digest
    hub = {"index.docker.io": (servers.anon,)}  # Docker Hub: library/ paths kept, never contacted
    with servers.client(mirrors=hub) as client:
        resolved = client.resolve(ref("hello:1"))
    assert resolved.digest == single.digest and resolved.endpoint == servers.anon


# ------------------------------------------------------------- login


def _login(host: str, password: str, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run([sys.executable, "-m", "clusterbuild", "login", host, "-u", USER,
                           "--password-stdin", "--insecure-registry", host, "-C", str(home), *extra],
                          input=password + "\n", capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_login_checks_the_password_before_storing_it(kind: str, basic_registry: str,
                                                     token_registry: TokenRegistry, tmp_path: Path) -> None:
    host = basic_registry if kind == "basic" else token_registry.address
    home = tmp_path / "home"
    home.mkdir()
    wrong = _login(host, "not-the-password", home)
    assert wrong.returncode == 3, wrong.stderr
    assert "refused the user name or password; nothing was stored" in wrong.stderr
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert not list(home.rglob("auth.json"))
    right = _login(host, PASSWORD, home)
    assert right.returncode == 0 and "checked and stored" in right.stdout, right.stderr
    assert host in json.loads(next(home.rglob("auth.json")).read_text())["auths"]


def test_login_no_verify_stores_unchecked(basic_registry: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    proc = _login(basic_registry, "not-the-password", home, "--no-verify")
    assert proc.returncode == 0 and "stored in" in proc.stdout


# ------------------------------------------------------------- stalls and loops


class _Stalling:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        import socket
        import threading

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.socket.close()
        for conn in self.held:
            conn.close()


def test_a_stalling_registry_fails_within_the_deadline(servers: Servers, tmp_path: Path) -> None:
    stalling = _Stalling()
    try:
        start = time.monotonic()
        with servers.client(stalling.address, deadline=2.0, timeout=1.5) as client, \
                pytest.raises(RegistryError) as caught:
            client.pull([ref(f"{stalling.address}/test/single:1")], None, fresh_store(tmp_path))
        took = time.monotonic() - start
    finally:
        stalling.close()
    assert took < 4.0, took
    assert caught.value.code in ("TIMEOUT", "CONNECTION")
    assert "within 2s" in str(caught.value) or "Timeout" in str(caught.value)


def test_a_redirect_loop_ends_with_a_clear_error(servers: Servers, proxy: FaultProxy, tmp_path: Path) -> None:
    loop = "/v2/test/single/manifests/1"
    proxy.inject(Fault(loop, "status", status=302, headers={"Location": loop}, times=1000))
    with servers.client() as client, pytest.raises(RegistryError) as caught:
        client.pull([ref(f"{proxy.address}/test/single:1")], None, fresh_store(tmp_path))
    assert caught.value.code == "REDIRECT_LOOP" and caught.value.exit_code == 4
    assert "more than 10 redirects" in str(caught.value)
    assert len([e for e in proxy.log if e.path == loop]) <= 11


def test_a_skopeo_login_in_containers_auth_json_is_used(basic_registry: str, workspace: Path,
                                                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    authfile = home / ".config/containers/auth.json"
    authfile.parent.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
                                                            "REGISTRY_AUTH_FILE", "DOCKER_CONFIG")}
    env["HOME"] = str(home)
    subprocess.run(["skopeo", "login", "--tls-verify=false", "--authfile", str(authfile), "-u", USER,
                    "--password-stdin", basic_registry], input=PASSWORD, text=True, check=True,
                   capture_output=True, env=env)
    assert sorted(p.name for p in home.rglob("*") if p.is_file()) == ["auth.json"]
    proc = subprocess.run([sys.executable, "-m", "clusterbuild", "apply", "-C", str(workspace),
                           "hello-tools", "--push-to", f"{basic_registry}/from-skopeo",
                           "--insecure-registry", basic_registry], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--authfile", str(authfile),
                            f"docker://{basic_registry}/from-skopeo/hello-tools:v1.0.0"],
                           capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr


def test_login_authfile_writes_what_skopeo_reads(basic_registry: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    authfile = tmp_path / "auth.json"
    proc = _login(basic_registry, PASSWORD, home, "--authfile", str(authfile))
    assert proc.returncode == 0, proc.stderr
    listed = subprocess.run(["skopeo", "login", "--get-login", "--authfile", str(authfile), basic_registry],
                            capture_output=True, text=True)
    assert listed.stdout.strip() == USER, listed.stderr


def test_concurrent_pulls_share_one_download_per_blob(servers: Servers, proxy: FaultProxy,
                                                      tmp_path: Path) -> None:
    """Two pulls at once (two pull steps of a build) that need the same base layers: each
    blob crosses the wire once."""
    import threading

    store = fresh_store(tmp_path)
    refs = [ref(f"{proxy.address}/test/multi:1"), ref(f"{proxy.address}/test/app2:1")]
    proxy.inject(Fault(r"/blobs/sha256:", "slow", after=300, times=100))  # downloads overlap
    with servers.client(jobs=4) as client:
        start = threading.Barrier(2)

        def pull(reference: Reference) -> None:
            start.wait()
            client.pull([reference], None, store)

        threads = [threading.Thread(target=pull, args=(r,)) for r in refs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pulled = client.pull(refs, None, store)  # everything is there now: nothing more is sent
    blobs = {b.digest: b for image in pulled.values() for part in image.images for b in part.blobs}
    for digest, blob in blobs.items():
        assert proxy.sent_for(f"/blobs/{digest}") == blob.size, digest
