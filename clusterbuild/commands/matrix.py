"""``clusterbuild matrix``: the jobs of a CI matrix, one entry per app version and platform that
still needs work once the remote cache is consulted, grouped into at most ``--max-jobs`` shards.

An entry needs work when a build step of that platform is stale (neither here nor in the remote
cache), or when the push target's ``<app>:<version>-<arch>`` does not name the image the plan
builds. Each shard runs ``clusterbuild apply --shard <targets>``; ``clusterbuild publish``
assembles the indexes afterwards. An unchanged workspace with a warm remote cache is an empty
matrix.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from clusterbuild.commands.build import Notify, Planned, prepared_plan
from clusterbuild.commands.run import Run
from clusterbuild.errors import ClusterbuildError, Failure
from clusterbuild.oci.reference import Reference
from clusterbuild.plan.results import ImageResult
from clusterbuild.plan.status import Status
from clusterbuild.plan.steps import ImageStep, PushStep, Step
from clusterbuild.settings import Settings
from clusterbuild.workspace.load import LoadedWorkspace

# A rough cost per stale step kind (seconds on a CI runner, order of magnitude): what the
# grouping balances. Steps shared by platforms count for each.
COST = {"script": 30, "fetch": 5, "unpack": 1, "pull": 10, "registry": 5, "layer": 2, "image": 1,
        "push": 3}


@dataclass(frozen=True)
class Entry:
    app: str
    version: str
    platform: str
    cost: int
    why: str

    @property
    def target(self) -> str:
        return f"{self.app}:{self.version}@{self.platform}"


@dataclass(frozen=True)
class Matrix:
    entries: tuple[Entry, ...]
    shards: tuple[tuple[Entry, ...], ...]
    failures: tuple[Failure, ...] = ()
    warnings: tuple[str, ...] = ()
    remote_cache: str | None = None  # the remote cache consulted (the shards and publish share it)

    def to_json(self) -> dict[str, Any]:
        include = [{"shard": f"{n + 1}-of-{len(self.shards)}",
                    "targets": " ".join(e.target for e in shard),
                    "cost": sum(e.cost for e in shard)} for n, shard in enumerate(self.shards)]
        return {"count": len(self.shards), "include": include, "remote_cache": self.remote_cache,
                "entries": [{"app": e.app, "version": e.version, "platform": e.platform,
                             "cost": e.cost, "why": e.why} for e in self.entries]}


def group(entries: list[Entry], max_jobs: int | None) -> tuple[tuple[Entry, ...], ...]:
    """Longest processing time first: each entry, costliest first, to the cheapest shard."""
    if not entries:
        return ()
    jobs = min(len(entries), max_jobs or len(entries))
    heap: list[tuple[int, int, list[Entry]]] = [(0, n, []) for n in range(jobs)]
    for entry in sorted(entries, key=lambda e: (-e.cost, e.target)):
        cost, n, members = heapq.heappop(heap)
        members.append(entry)
        heapq.heappush(heap, (cost + entry.cost, n, members))
    shards = sorted(heap, key=lambda item: item[1])
    return tuple(tuple(sorted(members, key=lambda e: e.target)) for _, _, members in shards if members)


@dataclass
class _Work:
    cost: int = 0
    stale: list[str] = field(default_factory=list)
    image: ImageStep | None = None


def _per_platform(planned: Planned) -> dict[tuple[str, str, str], _Work]:
    work: dict[tuple[str, str, str], _Work] = {}
    for step in planned.plan.steps:
        if isinstance(step, PushStep):
            continue
        verdict = planned.assessments[step.key]
        for platform in step.platforms:
            item = work.setdefault((step.app, step.version, str(platform)), _Work())
            if isinstance(step, ImageStep):
                item.image = step
            if verdict.status is Status.STALE and step.kind in COST:
                item.cost += COST[step.kind]
                item.stale.append(step.kind)
    return work


def _pushed_digest(run: Run, ref: str) -> str | None:
    try:
        return str(run.network.client().resolve(Reference.parse(ref)).digest)
    except ClusterbuildError:
        return None  # not there (or not readable): the shard pushes it


def _entries(run: Run, planned: Planned) -> list[Entry]:
    pushes = {(s.app, s.version, str(s.platforms[0])): s for s in planned.plan.steps
              if isinstance(s, PushStep)}
    out = []
    for (app, version, platform), item in _per_platform(planned).items():
        if item.image is None:
            continue  # an app version's shared steps only (scan)
        if item.stale:
            why = "stale: " + ", ".join(sorted(set(item.stale)))
            out.append(Entry(app, version, platform, item.cost, why))
            continue
        push: Step | None = pushes.get((app, version, platform))
        result = planned.assessments[item.image.key].result
        if isinstance(push, PushStep) and isinstance(result, ImageResult):
            there = _pushed_digest(run, push.platform_refs[0])
            if there != str(result.manifest.digest):
                why = f"{push.platform_refs[0]} is {there or 'missing'}, not {result.manifest.digest}"
                out.append(Entry(app, version, platform, COST["push"], why))
    return sorted(out, key=lambda e: e.target)


def make_matrix(settings: Settings, ws: LoadedWorkspace, notify: Notify, max_jobs: int | None) -> Matrix:
    def use(run: Run, planned: Planned) -> Matrix:
        entries = _entries(run, planned)
        remote = settings.remote_cache
        return Matrix(tuple(entries), group(entries, max_jobs), planned.failures,
                      tuple(dict.fromkeys((*planned.warnings, *run.warnings))),
                      str(remote) if remote is not None else None)

    return prepared_plan(settings, ws, notify, use)
