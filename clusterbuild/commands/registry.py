"""``sync`` and ``login``: registry commands outside the build, with the same registry
access (insecure hosts, CA file, mirrors, credentials) as builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clusterbuild.commands.locks import hold_cache
from clusterbuild.errors import InputError
from clusterbuild.execute.network import Network, registry_config
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


def store_login(settings: Settings, registry: str, username: str, password: str, verify: bool,
                authfile: Path | None = None) -> str:
    """Check the credentials against the registry (unless not ``verify``), then store them."""
    from clusterbuild.places.registry import GivenLogin, Login, RegistryClient, RegistryError, login

    if not password:
        raise InputError("empty password", hint="pass it on standard input with --password-stdin")
    if verify:
        given = GivenLogin(registry, Login(username, password))
        with RegistryClient(registry_config(settings), given) as client:
            try:
                client.check_login(registry)
            except RegistryError as exc:
                if exc.code in ("UNAUTHORIZED", "DENIED") or exc.status in (401, 403):
                    raise InputError(f"login for {registry}: the registry refused the user name or "
                                     "password; nothing was stored",
                                     hint="check them, or pass --no-verify to store them unchecked") from None
                raise
    path = login(registry, username, password, authfile)
    return f"login for {registry} {'checked and ' if verify else ''}stored in {path}"
