"""``clusterbuild diff APP:OLD APP:NEW``: the release diff of two app versions, from the plan,
apps.lock, the charts in the content store and the OCI layout (for sizes)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import yaml

from clusterbuild.cache.store import BlobStore
from clusterbuild.commands.build import plan_workspace
from clusterbuild.commands.bundles import plan_bundle, select_refs
from clusterbuild.commands.supply import inventories
from clusterbuild.errors import InputError
from clusterbuild.oci.digest import Digest
from clusterbuild.places.layout import OciLayout
from clusterbuild.settings import Settings
from clusterbuild.supply.diff import ReleaseDiff, Sizes, release_diff
from clusterbuild.supply.inventory import InputItem
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace, select


def _pair(text: str) -> tuple[str, str]:
    app, _, version = text.partition(":")
    if not app or not version:
        raise InputError(f"{text!r}: name an app version", hint="e.g. clusterbuild diff web:v1 web:v2")
    return app, version


def _chart_values(av: AppVersion, item: InputItem, store: BlobStore) -> Any:
    """The chart's own values.yaml: from its archive in the store, or the app directory."""
    try:
        if "://" in item.url:
            digest = Digest(item.sha256)
            if not store.has(digest):
                return None
            with tarfile.open(fileobj=io.BytesIO(store.read_bytes(digest))) as tar:
                member = next((m for m in tar if m.isfile() and m.name.count("/") == 1
                               and m.name.endswith("/values.yaml")), None)
                data = tar.extractfile(member).read() if member else None  # type: ignore[union-attr]
        else:
            path = av.app_dir / item.url / "values.yaml"
            data = path.read_bytes() if path.is_file() else None
        return yaml.safe_load(data) if data is not None else None
    except (tarfile.TarError, yaml.YAMLError, ValueError, OSError):
        return None


def _sizes(settings: Settings, ws: LoadedWorkspace, old: str, new: str, store: BlobStore) -> Sizes | None:
    layout = OciLayout(settings.layout_dir)
    try:
        old_refs, new_refs = select_refs(ws, layout, [old]), select_refs(ws, layout, [new])
    except InputError:
        return None
    have = plan_bundle(layout, old_refs, set(), store).contents.every_blob
    full = plan_bundle(layout, new_refs, set(), store)
    delta = plan_bundle(layout, new_refs, have, store)
    return Sizes(full.size, delta.size, len(delta.carried))


def diff_versions(settings: Settings, ws: LoadedWorkspace, old: str, new: str,
                  notify: Callable[[str], None]) -> ReleaseDiff:
    names = [_pair(old), _pair(new)]
    planned = plan_workspace(replace(settings, targets=(old, new)), ws, notify)
    for failure in planned.failures:
        raise failure.error
    invs = {(i.app, i.version): i for i in inventories(settings, planned, names)}
    before, after = invs[names[0]], invs[names[1]]
    store = BlobStore(settings.cache_dir)
    avs = {(av.app, av.version): av for av in select(ws, [old, new])[0]}
    values: dict[str, tuple[Any, Any]] = {}
    for chart in {c.name for c in before.charts} & {c.name for c in after.charts}:
        a = next(c for c in before.charts if c.name == chart)
        b = next(c for c in after.charts if c.name == chart)
        pair = (_chart_values(avs[names[0]], a, store), _chart_values(avs[names[1]], b, store))
        if a.sha256 != b.sha256 and None not in pair:
            values[chart] = pair
    sizes = _sizes(settings, ws, old, new, store)
    notes = () if sizes is not None else (f"sizes need both versions in {settings.layout}: "
                                          f"run `clusterbuild apply {old} {new}`",)
    return release_diff(before, after, values, sizes, notes)
