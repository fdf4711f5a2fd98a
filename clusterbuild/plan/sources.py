"""The steps that produce what builds read: remote inputs (fetch, unpack), init.sh runs
(script) and image discovery (scan). The workspace layer decides *what*; the steps,
their slots and their keys are made here, like every other step."""

from __future__ import annotations

from pathlib import Path

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.steps import FetchStep, ScanStep, ScriptStep, UnpackStep


def input_steps(app: str, version: str, platforms: tuple[Platform, ...], platform_name: str,
                input_id: str, what: str, url: str, digest: Digest, params: str
                ) -> tuple[FetchStep, UnpackStep]:
    """Fetch one pinned input (keyed by its content) and unpack it as ``params`` say."""
    fetch = FetchStep(app=app, version=version, platforms=platforms,
                      slot=f"fetch/{app}/{version}/{platform_name}/{input_id}",
                      url=url, digest=str(digest))
    unpack = UnpackStep(app=app, version=version, platforms=platforms,
                        slot=f"unpack/{app}/{version}/{platform_name}/{input_id}",
                        needs=(fetch.key,), input_id=input_id, what=what,
                        digest=str(digest), params=params)
    return fetch, unpack


def script_step(app: str, version: str, platform: Platform, *, files: tuple[tuple[str, str], ...],
                tools: tuple[tuple[str, str], ...], refresh: str, app_dir: Path,
                timeout: int) -> ScriptStep:
    """``bash init.sh <arch> <app> <version>`` for one platform."""
    return ScriptStep(app=app, version=version, platforms=(platform,),
                      slot=f"script/{app}/{version}/{platform}/0", files=files,
                      args=(platform.architecture, app, version), tools=tools, refresh=refresh,
                      app_dir=app_dir, timeout=timeout)


def scan_step(app: str, version: str, platforms: tuple[Platform, ...],
              files: tuple[tuple[str, str], ...], options: str, engine: str) -> ScanStep:
    """Discovery over ``files`` (context path, digest) with ``options`` (canonical JSON)."""
    return ScanStep(app=app, version=version, platforms=platforms,
                    slot=f"scan/{app}/{version}/-/0", files=files, options=options, engine=engine)
