"""Signing pushed indexes (``apply --push --sign-key``, ``publish --sign-key``) and
``clusterbuild verify REF --key PUB``, in cosign's format (``supply.signing``,
``places.signatures``).

The key is read once, before anything is built, so a bad key or password costs no build; it
is never written anywhere (not in the cache, the lock, a step key or an image) and the
password is never printed.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from clusterbuild.commands.attachments import PushedIndex
from clusterbuild.commands.run import Run
from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.places.signatures import Signed, Verified, sign, verify
from clusterbuild.settings import Settings
from clusterbuild.supply.signing import KeyProblem, SigningKey, load_signing_key, load_verifying_key


def _read_key(path: Path, option: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read it ({exc.strerror})",
                         hint="name a PEM key file") from None
    if len(data) > 64 << 10:
        raise InputError(f"{option} {path}: {len(data)} bytes is not a PEM key", hint="name a PEM key file")
    return data


def load_signer(settings: Settings, workspace: Path) -> SigningKey | None:
    """The key of ``--sign-key``, checked: readable, P-256, decrypted; outside the app dirs."""
    if settings.signing is None:
        return None
    path = settings.signing.key
    if path.is_relative_to(workspace / "applications"):
        raise InputError(f"--sign-key {path}: the key is inside applications/, so a COPY could ship it "
                         "in an image", hint="keep private keys outside the workspace's app directories")
    try:
        return load_signing_key(_read_key(path, "--sign-key"), settings.signing.password)
    except KeyProblem as exc:
        raise InputError(f"--sign-key {path}: {exc}") from None


def _sign_one(run: Run, key: SigningKey, one: PushedIndex) -> Signed:
    try:
        return sign(run.network.client(), one.subject, key, run.store)
    except RegistryError as e:
        raise e.within(f"signing {one.ref}") from e


def sign_indexes(run: Run, key: SigningKey | None, pushed: list[PushedIndex]) -> list[Signed]:
    """Sign each pushed index digest (idempotent); a failure is that app version's."""
    if key is None:
        return []
    signed: list[Signed] = []
    for one in pushed:
        done = run.attempt(f"{one.app}:{one.version}", partial(_sign_one, run, key, one))
        signed += [done] if done is not None else []
    return signed


def verify_ref(settings: Settings, ref_text: str, key_path: Path) -> Verified:
    """``clusterbuild verify``: REF's current digest has a valid signature by the key."""
    from clusterbuild.execute.network import Network

    try:
        ref = Reference.parse(ref_text)
    except ReferenceError as exc:
        raise InputError(f"REF: {exc}", hint="e.g. registry.internal:5000/labring/app:v1") from None
    try:
        key = load_verifying_key(_read_key(key_path, "--key"))
    except KeyProblem as exc:
        raise InputError(f"--key {key_path}: {exc}") from None
    network = Network(settings)
    try:
        return verify(network.client(), ref, key)
    finally:
        network.close()
