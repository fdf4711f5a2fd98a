"""Registry credentials: clusterbuild's own ``auth.json``, the containers ``auth.json`` that
``sealos login``, ``podman``/``buildah``/``skopeo login`` write, and Docker's ``config.json``.

Lookup order for a registry: clusterbuild's file (written by ``login``); the containers auth
files in the order containers/image reads them (``$REGISTRY_AUTH_FILE`` when set, else
``$XDG_RUNTIME_DIR/containers/auth.json``, then ``$XDG_CONFIG_HOME/containers/auth.json``,
default ``~/.config/containers/auth.json``), each by its ``credHelpers`` entry and ``auths``;
then the docker config's ``credHelpers`` entry, its ``credsStore``, and its ``auths``. Hosts are compared by
registry name, so ``docker.io``, ``index.docker.io`` and ``https://index.docker.io/v1/``
are the same. Secrets stay in ``Login`` values, whose repr hides them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterbuild.oci.reference import DOCKER_HUB
from clusterbuild.places.registry.config import registry_name
from clusterbuild.places.registry.errors import CredentialsError

HUB_SERVER_URL = "https://index.docker.io/v1/"  # the key docker login uses for Docker Hub
TOKEN_USERNAME = "<token>"  # a credential helper's way of returning an identity token


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)
    identity_token: str = field(default="", repr=False)  # an OAuth2 refresh token instead of a password

    def __repr__(self) -> str:
        return f"Login(username={self.username!r}, secret=<hidden>)"


def docker_config_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def containers_auth_paths() -> list[Path]:
    """Where containers/image (podman, buildah, skopeo, sealos) keeps logins, in its order."""
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return [Path(os.environ["REGISTRY_AUTH_FILE"])]
    paths = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    paths.append(Path(config) / "containers" / "auth.json")
    return paths


def own_auth_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "clusterbuild" / "auth.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CredentialsError(f"reading registry credentials from {path}: {type(e).__name__}",
                               hint="fix or remove the file") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"reading registry credentials from {path}: not a JSON object")
    return data


def _from_auths_entry(entry: Any, path: Path, key: str) -> Login | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Login(str(entry.get("username", "")), "", str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except ValueError:
            raise CredentialsError(f"{path}: auths.{key}.auth is not base64 'user:password'") from None
        return Login(user, password) if sep else None
    if entry.get("username") and "password" in entry:
        return Login(str(entry["username"]), str(entry["password"]))
    return None


def _auths(config: dict[str, Any], path: Path, registry: str) -> Login | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if registry_name(key) == registry:
            found = _from_auths_entry(entry, path, key)
            if found is not None:
                return found
    return None


def run_helper(helper: str, registry: str) -> Login | None:
    """``docker-credential-<helper> get`` with the server URL on stdin; None if it has none."""
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        raise CredentialsError(f"reading credentials for {registry}: docker-credential-{helper} "
                               "is not on PATH", hint="install the helper or fix the docker config")
    server = HUB_SERVER_URL if registry == DOCKER_HUB else registry
    try:
        done = subprocess.run([program, "get"], input=server, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CredentialsError(f"running docker-credential-{helper} for {registry}: {type(e).__name__}") \
            from None
    if done.returncode != 0:
        if "not found" in (done.stdout + done.stderr).lower():
            return None
        raise CredentialsError(f"docker-credential-{helper} get for {registry} exited {done.returncode} "
                               "(its output is not shown: it may hold a secret)",
                               hint=f"run `echo {server} | docker-credential-{helper} get` to see it")
    try:
        answer = json.loads(done.stdout)
        user, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise CredentialsError(f"docker-credential-{helper} get for {registry}: "
                               "output is not {Username, Secret} JSON") from None
    return Login("", "", secret) if user == TOKEN_USERNAME else Login(user, secret)


class Credentials:
    """Finds a ``Login`` per registry; files are read once, helper answers cached."""

    def __init__(self, docker_config: Path | None = None, own_file: Path | None = None,
                 auth_files: list[Path] | None = None) -> None:
        self.docker_config = docker_config or docker_config_path()
        self.own_file = own_file or own_auth_path()
        # containers auth.json: only when the other files are the user's defaults too (tests
        # that name a docker config or own file see exactly those)
        self.auth_files = auth_files if auth_files is not None else (
            containers_auth_paths() if docker_config is None and own_file is None else [])
        self._found: dict[str, Login | None] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Credentials(docker_config={self.docker_config}, own_file={self.own_file})"

    def for_registry(self, registry: str) -> Login | None:
        name = registry_name(registry)
        with self._lock:
            if name not in self._found:
                self._found[name] = self._lookup(name)
            return self._found[name]

    def _lookup(self, registry: str) -> Login | None:
        own = _auths(_read_json(self.own_file), self.own_file, registry)
        if own is not None:
            return own
        for path in self.auth_files:
            found = self._from_config(_read_json(path), path, registry, stores=False)
            if found is not None:
                return found
        return self._from_config(_read_json(self.docker_config), self.docker_config, registry, stores=True)

    def _from_config(self, config: dict[str, Any], path: Path, registry: str, stores: bool) -> Login | None:
        """A login from one config file: its credential helper for the registry, its store
        (docker's ``credsStore``), then its ``auths``."""
        helpers = config.get("credHelpers")
        if isinstance(helpers, dict):
            helper = next((h for k, h in helpers.items() if registry_name(k) == registry), None)
            if helper:
                return run_helper(str(helper), registry)
        if stores and config.get("credsStore"):
            found = run_helper(str(config["credsStore"]), registry)
            if found is not None:
                return found
        return _auths(config, path, registry)


class GivenLogin(Credentials):
    """One login for one registry, nothing else (to check credentials before storing them)."""

    def __init__(self, registry: str, login: Login) -> None:  # reads no file
        self.registry = registry_name(registry)
        self.login = login

    def for_registry(self, registry: str) -> Login | None:
        return self.login if registry_name(registry) == self.registry else None


def login(registry: str, username: str, password: str, path: Path | None = None) -> Path:
    """Store a login in clusterbuild's ``auth.json`` (mode 0600, written atomically)."""
    path = path or own_auth_path()
    data = _read_json(path)
    auths: dict[str, Any] = data["auths"] if isinstance(data.get("auths"), dict) else {}
    name = registry_name(registry)
    for key in [k for k in auths if registry_name(k) == name]:
        del auths[key]
    auths[name] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    data["auths"] = auths
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
