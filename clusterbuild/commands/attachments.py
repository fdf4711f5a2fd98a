"""What follows the push of an app version's index (``apply --push``, ``publish``): its SBOMs
attached to it as OCI artifacts whose ``subject`` is the index (``places.referrers``: the
referrers API, else the fallback tag ``sha256-<hex>``).

Done after every push, the pushes a run found fresh included, and idempotent: an artifact
already attached is left as it is (two to three requests per index), so a run killed between
the push and the attachment is completed by the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial

from clusterbuild.commands.build import Planned
from clusterbuild.commands.run import Run
from clusterbuild.commands.supply import FORMATS, inventories
from clusterbuild.oci.artifacts import artifact
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.reference import Reference
from clusterbuild.places.referrers import Attached, attach
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.plan.results import IndexResult, PushResult, StepResult
from clusterbuild.plan.steps import PushStep
from clusterbuild.supply.inventory import Inventory

ARTIFACT_TYPES = {"spdx": "application/spdx+json", "cyclonedx": "application/vnd.cyclonedx+json"}


@dataclass(frozen=True)
class PushedIndex:
    app: str
    version: str
    ref: str  # the name pushed, e.g. registry.internal:5000/labring/app:v1
    index: Descriptor  # as the registry stored it

    @property
    def subject(self) -> Reference:
        return replace(Reference.parse(self.ref), tag="", digest=self.index.digest)


def pushed_indexes(planned: Planned, results: Mapping[str, StepResult]) -> list[PushedIndex]:
    """Every index the run pushed (or found pushed already), with its descriptor."""
    found = []
    for step in planned.plan.steps:
        if not isinstance(step, PushStep) or not step.index_ref:
            continue
        pushed, index = results.get(step.key), results.get(step.needs[0])
        if isinstance(pushed, PushResult) and isinstance(index, IndexResult) \
                and dict(pushed.pushed).get(step.index_ref) == index.index.digest:
            found.append(PushedIndex(step.app, step.version, step.index_ref, index.index))
    return found


def _attach_sbom(run: Run, one: PushedIndex, inv: Inventory) -> list[Attached]:
    artifacts = [artifact(ARTIFACT_TYPES[fmt], encode(inv), f"{one.app}-{one.version}{suffix}", one.index)
                 for fmt, (suffix, encode) in FORMATS.items()]
    try:
        return attach(run.network.client(), one.subject, artifacts, run.store)
    except RegistryError as e:
        raise e.within(f"attaching the SBOM to {one.ref}") from e


def attach_sboms(run: Run, planned: Planned, pushed: list[PushedIndex]) -> list[Attached]:
    """Attach both SBOM documents of each pushed index; a failure is that app version's."""
    documents = {(inv.app, inv.version): inv for inv in inventories(
        run.settings, planned, [(p.app, p.version) for p in pushed])}
    attached: list[Attached] = []
    for one in pushed:
        if (one.app, one.version) in documents:
            inv = documents[(one.app, one.version)]
            attached += run.attempt(f"{one.app}:{one.version}", partial(_attach_sbom, run, one, inv)) or []
    return attached
