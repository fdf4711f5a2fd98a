"""Network access for remote inputs: an HTTP fetcher and a registry client, made on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from clusterbuild.execute.fetching import Downloads
from clusterbuild.execute.on_first_use import OnFirstUse
from clusterbuild.execute.pulling import registry_config

if TYPE_CHECKING:
    from clusterbuild.workflow import Settings
    from clusterbuild.workspace.load import LoadedWorkspace


def _downloads(ws: LoadedWorkspace, settings: Settings) -> Downloads:
    from clusterbuild.fetch.http import FetchConfig, Fetcher
    from clusterbuild.places.registry import Credentials, RegistryClient

    spec = ws.config.downloads
    fetcher = Fetcher(FetchConfig(mirrors=dict(spec.mirrors), jobs=spec.jobs))
    return Downloads(fetcher, RegistryClient(registry_config(ws, settings), Credentials()))


@contextmanager
def make_downloads(ws: LoadedWorkspace, settings: Settings) -> Iterator[Downloads]:
    downloads = _downloads(ws, settings)
    try:
        yield downloads
    finally:
        _close(downloads)


def lazy_downloads(ws: LoadedWorkspace, settings: Settings) -> OnFirstUse[Downloads]:
    return OnFirstUse(lambda: _downloads(ws, settings), _close)


def _close(downloads: Downloads) -> None:
    downloads.fetcher.close()
    downloads.registry.close()
