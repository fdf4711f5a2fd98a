"""Unpacking fetched archives into the store, and refusing hostile ones; ELF architecture checks."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, InputError
from clusterbuild.fetch.archives import Kind, detect_kind, unpack
from clusterbuild.fetch.elf import check_arch, elf_arch
from clusterbuild.fetch.members import ArchiveRefused
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.platform import Platform

Member = tuple[str, bytes | str | None, int]  # name, file bytes | link target | None for a dir, mode
TarExtra = Callable[[tarfile.TarFile], None]


def make_tar(path: Path, members: list[Member], mode: Literal["w", "w:gz", "w:xz"] = "w:gz",
             extra: TarExtra | None = None) -> Path:
    """A tar whose ``str`` members are symlinks and ``None`` members directories."""
    with tarfile.open(path, mode) as tar:
        for name, content, file_mode in members:
            info = tarfile.TarInfo(name)
            info.mode = file_mode
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        if extra is not None:
            extra(tar)
    return path


def make_zip(path: Path, members: list[Member]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, file_mode in members:
            info = zipfile.ZipInfo(name + ("/" if content is None else ""))
            kind = stat.S_IFREG if isinstance(content, bytes) else stat.S_IFLNK if content else stat.S_IFDIR
            info.external_attr, info.compress_type = (kind | file_mode) << 16, zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode() if isinstance(content, str) else content or b"")
    return path


def by_path(entries: list[FileEntry]) -> dict[str, FileEntry]:
    return {e.path: e for e in entries}


def outside(tmp: Path, store: BlobStore) -> list[str]:
    return sorted(str(p) for p in tmp.rglob("*") if store.root not in p.parents and p != store.root)


RELEASE: list[Member] = [
    ("tool-v1.2.0", None, 0o755),
    ("tool-v1.2.0/linux-arm64", None, 0o755),
    ("tool-v1.2.0/linux-arm64/tool", b"\x7fELF arm64 tool", 0o775),
    ("tool-v1.2.0/linux-arm64/tool-link", "tool", 0o777),
    ("tool-v1.2.0/README.md", b"# tool\n", 0o664),
]


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "cache")


@pytest.mark.parametrize("kind", ["tar.gz", "tgz", "tar", "zip", None])
def test_unpack_stores_files_with_normalised_modes(tmp_path: Path, store: BlobStore,
                                                   kind: Kind | None) -> None:
    if kind == "zip":
        archive = make_zip(tmp_path / "a.zip", RELEASE)
    else:
        archive = make_tar(tmp_path / "a.tar", RELEASE, mode="w" if kind == "tar" else "w:gz")
    before = outside(tmp_path, store)
    entries = by_path(unpack(archive, kind, store))
    tool = entries["tool-v1.2.0/linux-arm64/tool"]
    assert (tool.kind, tool.mode, tool.size) == (EntryKind.FILE, 0o755, 15)
    assert tool.digest == Digest.of_bytes(b"\x7fELF arm64 tool")
    assert store.read_bytes(tool.digest) == b"\x7fELF arm64 tool"
    assert entries["tool-v1.2.0/README.md"].mode == 0o644
    assert entries["tool-v1.2.0/linux-arm64/tool-link"] == FileEntry(
        "tool-v1.2.0/linux-arm64/tool-link", EntryKind.SYMLINK, 0o777, link="tool")
    assert entries["tool-v1.2.0"] == FileEntry("tool-v1.2.0", EntryKind.DIR, 0o755)
    assert outside(tmp_path, store) == before  # nothing written but blobs of the store


def test_kinds_are_detected_from_content(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"#!/bin/sh\necho hi\n")
    (tmp_path / "one.gz").write_bytes(gzip.compress(b"binary"))
    assert detect_kind(make_tar(tmp_path / "x.bin", RELEASE)) == "tar.gz"
    assert detect_kind(make_tar(tmp_path / "y.bin", RELEASE, mode="w")) == "tar"
    assert detect_kind(make_tar(tmp_path / "z.bin", RELEASE, mode="w:xz")) == "tar"
    assert detect_kind(make_zip(tmp_path / "w.bin", RELEASE)) == "zip"
    assert detect_kind(tmp_path / "one.gz") == "gz"
    assert detect_kind(tmp_path / "plain") == "file"


def test_single_files_gz_and_bare(tmp_path: Path, store: BlobStore) -> None:
    named = tmp_path / "blob1"
    with open(named, "wb") as raw, gzip.GzipFile("kubectl-linux-amd64", "wb", fileobj=raw) as gz:
        gz.write(b"kubectl bytes")
    (tmp_path / "blob2").write_bytes(gzip.compress(b"no name"))
    (tmp_path / "blob3").write_bytes(b"plain binary")
    [gz_entry] = unpack(named, None, store)
    assert (gz_entry.path, gz_entry.size) == ("kubectl-linux-amd64", 13)
    assert gz_entry.digest is not None and store.read_bytes(gz_entry.digest) == b"kubectl bytes"
    assert unpack(tmp_path / "blob2", "gz", store, name="kubectl")[0].path == "kubectl"
    [bare] = unpack(tmp_path / "blob3", None, store)
    assert (bare.path, bare.mode, bare.digest) == ("file", 0o644, Digest.of_bytes(b"plain binary"))


@pytest.mark.parametrize("members", [["tool-v1.2.0/linux-arm64/tool"], ["./tool-v1.2.0/linux-arm64/tool"],
                                     ["*/linux-arm64/tool"]])
def test_member_selection_and_strip_components(tmp_path: Path, store: BlobStore, members: list[str]) -> None:
    archive = make_tar(tmp_path / "a.tgz", RELEASE)
    [entry] = unpack(archive, "tgz", store, members=members, strip_components=2)
    assert (entry.path, entry.mode, entry.digest) == ("tool", 0o755, Digest.of_bytes(b"\x7fELF arm64 tool"))


def test_a_directory_member_selects_its_tree(tmp_path: Path, store: BlobStore) -> None:
    archive = make_zip(tmp_path / "a.zip", RELEASE)
    paths = [e.path for e in unpack(archive, "zip", store, members=["tool-v1.2.0/linux-arm64/"],
                                    strip_components=1)]
    assert paths == ["linux-arm64", "linux-arm64/tool", "linux-arm64/tool-link"]


def test_a_missing_member_lists_what_is_there(tmp_path: Path, store: BlobStore) -> None:
    archive = make_tar(tmp_path / "a.tgz", RELEASE)
    with pytest.raises(InputError) as caught:
        unpack(archive, None, store, members=["tool-v1.2.0/linux-amd64/tool"], what="tool for amd64")
    assert str(caught.value).startswith(
        "unpacking tool for amd64: no member 'tool-v1.2.0/linux-amd64/tool' in the archive; it has: "
        "tool-v1.2.0, tool-v1.2.0/linux-arm64, tool-v1.2.0/linux-arm64/tool,")


def test_hard_links_inside_the_tree_share_the_file(tmp_path: Path, store: BlobStore) -> None:
    def hardlink(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("pkg/bin/alias")
        info.type, info.linkname, info.mode = tarfile.LNKTYPE, "pkg/bin/tool", 0o755
        tar.addfile(info)

    archive = make_tar(tmp_path / "a.tgz", [("pkg/bin/tool", b"tool", 0o755)], extra=hardlink)
    entries = by_path(unpack(archive, None, store, strip_components=1))
    assert entries["bin/alias"].digest == entries["bin/tool"].digest == Digest.of_bytes(b"tool")
    [alone] = unpack(archive, None, store, members=["pkg/bin/alias"], strip_components=2)
    assert (alone.path, alone.digest) == ("alias", Digest.of_bytes(b"tool"))  # its source was not selected


def _special(kind: bytes, name: str = "dev/null", link: str = "") -> TarExtra:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        tar.addfile(info)
    return add


HOSTILE: dict[str, tuple[list[Member], TarExtra | None, str]] = {
    "dotdot": ([("../evil", b"x", 0o644)], None, "member '../evil' has a '..' component"),
    "inner dotdot": ([("a/../../evil", b"x", 0o644)], None, "has a '..' component"),
    "absolute": ([("/etc/cron.d/evil", b"x", 0o644)], None, "member '/etc/cron.d/evil' has an absolute path"),
    "absolute symlink": ([("link", "/etc/passwd", 0o777)], None,
                         "symlink 'link' -> '/etc/passwd' points outside"),
    "escaping symlink": ([("a/b/link", "../../../x", 0o777)], None, "points outside the archive"),
    "hardlink out": ([], _special(tarfile.LNKTYPE, "link", "../etc/passwd"),
                     "hard link 'link' -> '../etc/passwd' points outside"),
    "absolute hardlink": ([], _special(tarfile.LNKTYPE, "link", "/etc/passwd"), "points outside the archive"),
    "device": ([], _special(tarfile.CHRTYPE), "member 'dev/null' is a device file, not a file"),
    "fifo": ([], _special(tarfile.FIFOTYPE, "pipe"), "member 'pipe' is a fifo"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_tar_members_are_refused(tmp_path: Path, store: BlobStore, case: str) -> None:
    members, extra, message = HOSTILE[case]
    archive = make_tar(tmp_path / "evil.tgz", [("ok.txt", b"fine", 0o644), *members], extra=extra)
    before = outside(tmp_path, store)
    with pytest.raises(ArchiveRefused, match=r"^unpacking evil: ") as caught:
        unpack(archive, None, store, what="evil")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert outside(tmp_path, store) == before


def test_a_symlink_escaping_only_after_stripping_is_refused(tmp_path: Path, store: BlobStore) -> None:
    archive = make_tar(tmp_path / "a.tgz", [("top/link", "../top/file", 0o777), ("top/file", b"f", 0o644)])
    assert by_path(unpack(archive, None, store))["top/link"].link == "../top/file"
    with pytest.raises(ArchiveRefused, match="points outside"):
        unpack(archive, None, store, strip_components=1)


def test_hostile_zip_members_are_refused(tmp_path: Path, store: BlobStore) -> None:
    cases: list[tuple[list[Member], str]] = [([("../evil", b"x", 0o644)], "'..' component"),
                                             ([("link", "/etc/shadow", 0o777)], "points outside"),
                                             ([("C:/Windows/evil", b"x", 0o644)], "absolute path")]
    for members, message in cases:
        with pytest.raises(ArchiveRefused, match=message):
            unpack(make_zip(tmp_path / "evil.zip", members), None, store)


@pytest.mark.parametrize("kind", ["tar.gz", "zip", "gz"])
def test_expansion_beyond_the_limit_is_refused(tmp_path: Path, store: BlobStore, kind: str) -> None:
    zeros = bytes(8 << 20)  # 8 MiB compressing to a few KiB
    path = tmp_path / "bomb"
    if kind == "zip":
        make_zip(path, [("zeros", zeros, 0o644)])
    elif kind == "gz":
        path.write_bytes(gzip.compress(zeros))
    else:
        make_tar(path, [("zeros", zeros, 0o644)])
    assert path.stat().st_size < 100_000
    with pytest.raises(ArchiveRefused, match=r"expands to more than 1 MiB \(hint: a decompression bomb"):
        unpack(path, None, store, max_bytes=1 << 20)
    assert list(store.tmp.iterdir()) == []


def test_a_refused_archive_leaves_the_store_as_it_was(tmp_path: Path, store: BlobStore) -> None:
    kept = store.put_bytes(b"small file")  # already there before: stays
    path = make_tar(tmp_path / "bomb.tgz", [("a/small", b"small file", 0o644), ("a/new", b"new bytes", 0o644),
                                            ("a/zeros", bytes(8 << 20), 0o644)])
    before = set(store.digests())
    with pytest.raises(ArchiveRefused) as caught:
        unpack(path, None, store, max_bytes=1 << 20)
    assert caught.value.exit_code == 3
    assert set(store.digests()) == before and store.has(kept)
    assert list(store.tmp.iterdir()) == []


def test_a_broken_archive_is_a_build_error(tmp_path: Path, store: BlobStore) -> None:
    archive = make_tar(tmp_path / "a.tgz", RELEASE)
    (tmp_path / "cut.tgz").write_bytes(archive.read_bytes()[:-40])
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArchiveRefused, match="not a valid"):
        unpack(tmp_path / "cut.tgz", "tgz", store)
    with pytest.raises(ArchiveRefused, match="not a valid zip archive"):
        unpack(tmp_path / "junk.zip", None, store)


def elf_header(machine: int, elf_class: int = 2, little: bool = True) -> bytes:
    """The first 20 bytes of an ELF file: ident (16), e_type (2), e_machine (2)."""
    order: Literal["little", "big"] = "little" if little else "big"
    ident = b"\x7fELF" + bytes([elf_class, 1 if little else 2, 1]) + bytes(9)
    return ident + (2).to_bytes(2, order) + machine.to_bytes(2, order)


@pytest.mark.parametrize(("header", "arch"), [
    (elf_header(62), "amd64"), (elf_header(183), "arm64"), (elf_header(40, 1), "arm"),
    (elf_header(3, 1), "386"),
    (elf_header(21), "ppc64le"), (elf_header(22, little=False), "s390x"), (elf_header(243), "riscv64"),
    (elf_header(258), "loong64"), (elf_header(9999), "elf-machine-9999"),
    (b"#!/bin/sh\necho not elf\n", None), (b"\x7fEL", None),
])
def test_elf_arch_reads_the_header(tmp_path: Path, header: bytes, arch: str | None) -> None:
    binary = tmp_path / "bin"
    binary.write_bytes(header + bytes(64))
    assert elf_arch(binary) == arch


def test_check_arch_refuses_a_binary_for_another_arch(tmp_path: Path, store: BlobStore) -> None:
    archive = make_tar(tmp_path / "helm.tgz", [("linux-arm64/helm", elf_header(62) + bytes(100), 0o755)])
    [helm] = unpack(archive, None, store, members=["linux-arm64/helm"], strip_components=1)
    assert helm.digest is not None
    binary = store.path(helm.digest)
    check_arch(binary, Platform.parse("linux/amd64"), "helm for linux/amd64")
    with pytest.raises(BuildError) as caught:
        check_arch(binary, Platform.parse("linux/arm64"), "helm for linux/arm64")
    assert str(caught.value).startswith("helm for linux/arm64: the file is an ELF binary for amd64, "
                                        "not for linux/arm64 (hint: check the URL template's arch map")
    script = tmp_path / "install.sh"
    script.write_text("#!/bin/sh\n")
    check_arch(script, Platform.parse("linux/arm64"), "a script")  # not ELF: nothing to check


def test_links_beside_the_selected_members_do_not_matter(tmp_path: Path, store: BlobStore) -> None:
    """A chart directory inside a source archive whose other files include an absolute symlink."""
    archive = make_tar(tmp_path / "src.tgz", [("repo-1.0/charts/demo/Chart.yaml", b"name: demo\n", 0o644),
                                              ("repo-1.0/hack/null", "/dev/null", 0o777)])
    [chart] = unpack(archive, None, store, members=["repo-1.0/charts/demo"], strip_components=3)
    assert chart.path == "Chart.yaml"
    with pytest.raises(ArchiveRefused, match="points outside"):
        unpack(archive, None, store)


def test_an_archive_path_starting_with_star_is_under_the_single_top_directory(tmp_path: Path) -> None:
    from clusterbuild.execute.fetching import _unpack_archive

    store = BlobStore(tmp_path / "store")
    limit = (1 << 20, "")
    source = make_tar(tmp_path / "src.tgz", [("shop-1.2.3/ci/chart/Chart.yaml", b"name: shop\n", 0o644),
                                              ("shop-1.2.3/docs/ci/chart/x.yaml", b"deeper\n", 0o644),
                                              ("shop-1.2.3/deploy/a.yaml", b"a\n", 0o644)])
    blob = store.put_bytes(source.read_bytes())
    placed = _unpack_archive(blob, {"path": "*/ci/chart", "dest": "charts/shop"}, store, "shop", limit)
    assert [(e.path, store.read_bytes(e.digest)) for e in placed if e.digest] == [
        ("charts/shop/Chart.yaml", b"name: shop\n")]  # not docs/ci/chart, which * also matches
    one = _unpack_archive(blob, {"path": "*/deploy/a.yaml", "dest": "manifests"}, store, "shop", limit)
    assert [e.path for e in one] == ["manifests/a.yaml"]
    two = make_tar(tmp_path / "two.tgz", [("a/ci/chart/Chart.yaml", b"1\n", 0o644),
                                          ("b/ci/chart/Chart.yaml", b"2\n", 0o644)])
    with pytest.raises(BuildError, match=r"single top directory, but it has 2 matching it \(a, b\)"):
        _unpack_archive(store.put_bytes(two.read_bytes()), {"path": "*/ci/chart", "dest": "charts/x"}, store,
                        "shop", limit)
