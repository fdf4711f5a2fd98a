"""``sync`` and ``login``: registry commands outside the build."""

from __future__ import annotations

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.workflow import Settings


def _reference(text: str, what: str) -> Reference:
    try:
        return Reference.parse(text)
    except ReferenceError as exc:
        raise InputError(f"{what}: {exc}", hint="e.g. quay.io/org/image:tag") from None


def sync_image(settings: Settings, source: str, target: str, all_platforms: bool) -> str:
    """Copy ``source`` to ``target`` through the content store; return a summary line."""
    from clusterbuild.places.registry import Credentials, RegistryClient, RegistryConfig

    src, dst = _reference(source, "source"), _reference(target, "target")
    config = RegistryConfig(insecure=frozenset(settings.insecure_registries))
    with RegistryClient(config, Credentials()) as client:
        digest = client.copy(src, dst, BlobStore(settings.cache_dir), all_platforms=all_platforms,
                             platforms=list(settings.platforms) or None)
    return f"{dst}  {digest}"


def store_login(registry: str, username: str, password: str) -> str:
    from clusterbuild.places.registry import login

    if not password:
        raise InputError("empty password", hint="pass it on standard input with --password-stdin")
    path = login(registry, username, password)
    return f"login for {registry} stored in {path}"
