"""Registries as a place images live: an OCI/Docker registry client over httpx.

    client = RegistryClient(RegistryConfig(insecure=frozenset({"127.0.0.1:5000"})), Credentials())
    pulled = client.pull([Reference.parse("quay.io/x/y:1")], [Platform.parse("linux/arm64")], store)
    client.push(Reference.parse("127.0.0.1:5000/y:1"), pulled[ref].root, store)

Modules: ``config`` (endpoints, mirrors), ``credentials`` (docker config, helpers, login),
``auth`` (Basic and Bearer tokens), ``retry`` + ``session`` (HTTP with retries and errors),
``manifests`` and ``platform_match`` (what to fetch), ``blobs`` (one blob in or out),
``resolve``, ``pull``, ``push`` and ``client`` (the operations). Errors: see ``errors``.
"""

from clusterbuild.places.registry.client import RegistryClient
from clusterbuild.places.registry.config import RegistryConfig
from clusterbuild.places.registry.credentials import Credentials, GivenLogin, Login, login
from clusterbuild.places.registry.errors import CredentialsError, RegistryError, UnsupportedManifestError
from clusterbuild.places.registry.manifests import Resolved
from clusterbuild.places.registry.pull import PlatformImage, PulledImage

__all__ = [
    "Credentials",
    "CredentialsError",
    "GivenLogin",
    "Login",
    "PlatformImage",
    "PulledImage",
    "RegistryClient",
    "RegistryConfig",
    "RegistryError",
    "Resolved",
    "UnsupportedManifestError",
    "login",
]
