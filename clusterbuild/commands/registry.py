"""``sync`` and ``login``: registry commands outside the build, with the same registry
access (insecure hosts, CA file, mirrors, credentials) as builds."""

from __future__ import annotations

from collections.abc import Callable

from clusterbuild.commands.locks import hold_cache
from clusterbuild.errors import InputError
from clusterbuild.execute.network import Network
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.settings import Settings


def _reference(text: str, what: str) -> Reference:
    try:
        return Reference.parse(text)
    except ReferenceError as exc:
        raise InputError(f"{what}: {exc}", hint="e.g. quay.io/org/image:tag") from None


def sync_image(settings: Settings, source: str, target: str, all_platforms: bool,
               notify: Callable[[str], None]) -> str:
    """Copy ``source`` to ``target`` through the content store; return a summary line."""
    from clusterbuild.cache.store import BlobStore

    src, dst = _reference(source, "source"), _reference(target, "target")
    network = Network(settings)
    try:
        with hold_cache(settings.cache_dir, exclusive=False, timeout=settings.lock_timeout,
                        notify=notify):
            digest = network.client().copy(src, dst, BlobStore(settings.cache_dir),
                                           all_platforms=all_platforms,
                                           platforms=list(settings.platforms) or None)
    finally:
        network.close()
    return f"{dst}  {digest}"


def store_login(registry: str, username: str, password: str) -> str:
    from clusterbuild.places.registry import login

    if not password:
        raise InputError("empty password", hint="pass it on standard input with --password-stdin")
    path = login(registry, username, password)
    return f"login for {registry} stored in {path}"
