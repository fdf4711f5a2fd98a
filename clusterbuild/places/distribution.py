"""The ``registry/`` tree of a cluster image: docker/distribution's filesystem storage.

Under ``registry/docker/registry/v2/``: every blob at ``blobs/sha256/<2>/<hex>/data``;
per repository, ``_layers`` links for configs and layers, ``_manifests/revisions``
links for every manifest (and the index), and ``_manifests/tags/<tag>`` pointing at
what the tag resolves to. Link files hold ``sha256:<hex>`` with no newline (a
newline makes the registry answer 500). The tree is described as layer entries,
never written to disk: the blobs stay in the content store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry, with_parents
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.stored import StoredImage

ROOT = "registry/docker/registry/v2"


def link_bytes(digest: Digest) -> bytes:
    return str(digest).encode()  # no trailing newline, on purpose


def _blob(desc: Descriptor) -> FileEntry:
    hex_ = desc.digest.hex
    return FileEntry(f"{ROOT}/blobs/sha256/{hex_[:2]}/{hex_}/data", EntryKind.FILE, 0o644,
                     desc.size, desc.digest)


def _links(image: StoredImage) -> Iterable[tuple[str, Digest]]:
    """(path, digest it names) of every link file of the image's repository."""
    repo = f"{ROOT}/repositories/{image.reference.repository}"
    for desc in image.blobs:
        yield f"{repo}/_layers/sha256/{desc.digest.hex}/link", desc.digest
    for desc in image.manifests:
        yield f"{repo}/_manifests/revisions/sha256/{desc.digest.hex}/link", desc.digest
    tag = f"{repo}/_manifests/tags/{image.reference.tree_tag}"
    yield f"{tag}/current/link", image.top.digest
    yield f"{tag}/index/sha256/{image.top.digest.hex}/link", image.top.digest


def tree_entries(images: Sequence[StoredImage]) -> tuple[tuple[FileEntry, ...], dict[Digest, bytes]]:
    """The layer entries of the tree, and the link files' bytes by digest (to put in the store)."""
    entries: dict[str, FileEntry] = {}
    links: dict[Digest, bytes] = {}
    for image in images:
        for desc in (*image.manifests, *image.blobs):
            entries[_blob(desc).path] = _blob(desc)
        for path, target in _links(image):
            data = link_bytes(target)
            digest = Digest.of_bytes(data)
            entry = FileEntry(path, EntryKind.FILE, 0o644, len(data), digest)
            if entries.setdefault(path, entry) != entry:
                raise ValueError(f"{image.reference}: another image already holds tag "
                                 f"{image.reference.tree_tag} with other content")
            links[digest] = data
    return with_parents(entries.values()), links
