"""Resolve remote inputs to content (network) and pin them in ``apps.lock``.

A chart from a repository is resolved through its ``index.yaml`` (by chart version, or
by app version); one from an OCI registry through its manifest; every other input is
its URL. Each is fetched into the store and its sha256 recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.fetching import Downloads
from clusterbuild.lockfile import Locked, LockFile
from clusterbuild.oci.digest import Digest
from clusterbuild.workspace.fetched import pinned
from clusterbuild.workspace.inputs import InputPlan


@dataclass(frozen=True)
class LockChange:
    input: str  # the input's name, e.g. "app:v1 inputs[0] (chart web)"
    before: str  # "" when it was not locked
    after: str


def _resolve_chart_repo(plan: InputPlan, downloads: Downloads, store: BlobStore) -> Locked:
    from clusterbuild.fetch.charts import resolve_repo_chart

    fields = plan.fields
    repo = str(fields["repo"]).rstrip("/")
    index = downloads.fetcher.fetch(f"{repo}/index.yaml", store, what=f"{plan.name} index")
    chart = resolve_repo_chart(store.read_bytes(index.digest), fields["name"], fields.get("version"),
                               fields.get("app_version"), repo_url=repo)
    digest = downloads.fetch(chart.url, chart.digest or plan.expect, plan.name, store)
    return Locked(plan.spec_digest, chart.url, digest, (("chart_version", chart.version),))


def _resolve_chart_oci(plan: InputPlan, downloads: Downloads, store: BlobStore) -> Locked:
    from clusterbuild.fetch.charts import pull_oci_chart

    fields = plan.fields
    chart = pull_oci_chart(fields["oci"], fields["version"], downloads.registry, store)
    if plan.expect is not None and plan.expect != chart.layer:
        from clusterbuild.errors import BuildError

        raise BuildError(f"{plan.name}: the chart is {chart.layer}, the spec expects {plan.expect}",
                         hint="fix sha256 in clusterbuild.yaml or the chart version")
    return Locked(plan.spec_digest, f"{fields['oci']}@{chart.manifest}", chart.layer,
                  (("chart_version", str(fields["version"])),))


def resolve_input(plan: InputPlan, downloads: Downloads, store: BlobStore) -> Locked:
    fields = plan.fields
    if plan.kind == "chart" and fields.get("repo"):
        return _resolve_chart_repo(plan, downloads, store)
    if plan.kind == "chart" and fields.get("oci"):
        return _resolve_chart_oci(plan, downloads, store)
    digest: Digest = downloads.fetch(str(fields["url"]), plan.expect, plan.name, store)
    return Locked(plan.spec_digest, str(fields["url"]), digest)


def lock_inputs(plans: Iterable[InputPlan], lock: LockFile, downloads: Downloads, store: BlobStore,
                update: bool = False) -> list[LockChange]:
    """Pin every input not pinned yet (all of them with ``update``); return what changed."""
    changes = []
    for plan in plans:
        if not update and not isinstance(pinned(plan, lock), str):
            continue
        before = lock.get(plan.app, plan.version, plan.input_id, plan.platform)
        locked = resolve_input(plan, downloads, store)
        lock.set(plan.app, plan.version, plan.input_id, plan.platform, locked)
        if before != locked:
            changes.append(LockChange(plan.name, before.digest.hex if before else "", locked.digest.hex))
    return changes
