"""``clusterbuild``: plan and apply cluster image builds.

Exit codes: 0 success; 1 unexpected error; 2 usage error; 3 bad input (workspace,
spec, Kubefile); 4 a build step failed; 5 the cache is unusable; 6 no valid signature
(``verify``); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from clusterbuild.cli.help_format import install as install_help_format
from clusterbuild.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ClusterbuildError,
    InputError,
    UsageError,
)

install_help_format()
# Plain click help (rich_markup_mode=None): no markup that eats "[default: ...]", stable text
# for docs and tests; `--install-completion` / `--show-completion` for bash, zsh, fish.
app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Declarative, content-addressed builds of Sealos cluster images.")
cache_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        help="Inspect and clean the cache.")
app.add_typer(cache_app, name="cache")

_state: dict[str, Any] = {"debug": False, "verbose": False, "workspace": None, "cache_dir": None}

WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", "-C", help="Workspace directory "
                                                   "(holds apps.yaml) [default: .].", file_okay=False)]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Cache directory (or "
                                               "$CLUSTERBUILD_CACHE_DIR) [default: <workspace>/cache].")]
TargetsArg = Annotated[list[str] | None, typer.Argument(
    metavar="APP[:VERSION]", help="What to build (default: everything in apps.yaml).")]
PlatformOpt = Annotated[list[str] | None, typer.Option(
    "--platform", "-p", metavar="PLATFORM", help="Only these platforms, e.g. linux/arm64 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
PlainOpt = Annotated[bool, typer.Option("--plain", help="Plain lines, no live display (also when "
                                        "not a terminal, or with CI=true).")]
JsonEventsOpt = Annotated[bool, typer.Option("--json-events", help="Stream one JSON object per "
                                             "event (phases, steps, transfers, the summary).")]
InsecureOpt = Annotated[list[str] | None, typer.Option(
    "--insecure-registry", metavar="HOST", help="Reach this registry host over plain HTTP (repeatable; "
    "adds to registries.insecure of apps.yaml).")]
FailFastOpt = Annotated[bool, typer.Option("--fail-fast", help="Stop at the first broken app "
                                           "or failed step (default: build everything else).")]
TimeoutOpt = Annotated[float | None, typer.Option(
    "--timeout", min=1, metavar="SECONDS", help="Seconds one download or registry transfer may "
    "take in all, retries included [default: 900].")]
RemoteCacheOpt = Annotated[str | None, typer.Option(
    "--remote-cache", metavar="REGISTRY/REPOSITORY", help="Share step results through this OCI "
    "repository (overrides apps.yaml cache.remote); misses and damaged entries build locally.")]
SignKeyOpt = Annotated[Path | None, typer.Option(
    "--sign-key", metavar="KEY", dir_okay=False, help="Sign each pushed index in cosign's format with "
    "this EC P-256 private key (PEM, PKCS#8; if encrypted, the password is read from "
    "$CLUSTERBUILD_SIGN_PASSWORD). Check with `clusterbuild verify` or `cosign verify --key`.")]
LockTimeoutOpt = Annotated[float | None, typer.Option(
    "--lock-timeout", min=0, metavar="SECONDS", help="Seconds to wait for another clusterbuild "
    "using the workspace or cache (or $CLUSTERBUILD_LOCK_TIMEOUT) [default: wait].")]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"clusterbuild {version('clusterbuild')}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False,
          verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
          debug: Annotated[bool, typer.Option("--debug", help="Tracebacks on errors.")] = False,
          workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None) -> None:
    _state.update(verbose=verbose, debug=debug, workspace=workspace, cache_dir=cache_dir)


def notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _command_line(workspace: Path | None, cache_dir: Path | None, **typed: Any) -> Any:
    from clusterbuild.settings import CommandLine

    return CommandLine(workspace=workspace or _state["workspace"] or Path("."),
                       cache_dir=cache_dir or _state["cache_dir"], **typed)


def _context(workspace: Path | None, cache_dir: Path | None, *, needs_workspace: bool = True,
             **typed: Any) -> tuple[Any, Any]:
    """The settings of this command, read once, and the workspace they were read from."""
    from clusterbuild.settings import read_settings
    from clusterbuild.workspace.load import WORKSPACE_FILE, load_workspace

    command_line = _command_line(workspace, cache_dir, **typed)
    root = command_line.workspace
    ws = load_workspace(root.resolve()) if needs_workspace or (root / WORKSPACE_FILE).is_file() \
        else None
    return read_settings(command_line, ws.config if ws else None, os.environ), ws


class _NoopRecording:
    """A run that may be recorded for ``cache.noop_records`` to answer next time: started by the
    ``clusterbuild`` command itself, with --json, offline, and nothing to say. An ``apply`` that
    ran steps and succeeded records the answer of the no-op that follows it (what it said, with
    nothing ran and every step cached: a build converges, ``tests/test_noop_records.py``)."""

    def __init__(self, settings: Any, ws: Any) -> None:
        from clusterbuild.cache import noop_records

        self.settings = settings
        self.ws = ws
        self.argv = noop_records.ENTERED_ARGV
        self.noisy = False  # a message on stderr (e.g. waiting for a lock) is not replayed
        self.locks: list[str] = []
        self.trees: Any = None
        self.built = False  # the run ran steps: the record is of the no-op after it

    def notify(self, message: str) -> None:
        self.noisy = True
        notify(message)

    def _possible(self, planned: Any, built: bool = False) -> bool:
        """init.sh steps are keyed by time (script_ttl) and the tools on PATH: never recorded."""
        from clusterbuild.cache import noop_records

        s = self.settings
        return self.argv is not None and noop_records.eligible(self.argv, os.environ) and \
            not self.noisy and s.remote_cache is None and \
            s.push_to is None and s.signing is None and not s.shard and s.cache_dir.is_dir() and \
            not planned.failures and not planned.blocked and (built or not planned.renders) and \
            all(step.kind != "script" for step in planned.plan.steps)

    def _snapshot(self, exclusive: bool) -> None:
        from clusterbuild.cache import noop_records

        self.trees = noop_records.snapshot(self.ws.root, self.settings.cache_dir, self.settings.layout_dir)
        lease = f"SH:{self.settings.cache_dir / noop_records.CACHE_LEASE}"
        self.locks = [f"EX:{self.ws.root / noop_records.WORKSPACE_LOCK}", lease] if exclusive else [lease]

    def applied(self, applied: Any, offline: bool) -> None:
        if offline and self._possible(applied.planned, bool(applied.ran)) and not applied.failures and \
                not applied.pushed and not applied.remote and \
                not (applied.ran and applied.planned.warnings):  # a no-op's warnings may differ
            self.built = bool(applied.ran)
            self._snapshot(exclusive=True)

    def planned(self, planned: Any) -> None:
        from clusterbuild.plan.status import Status

        if self._possible(planned) and all(a.status is Status.FRESH for a in planned.assessments.values()):
            self._snapshot(exclusive=False)

    def store(self, document: dict[str, Any], warnings: Any) -> None:
        if self.trees is None or self.argv is None or self.noisy:
            return
        from clusterbuild.cache import noop_records

        stderr = "".join(f"warning: {w}\n" for w in warnings)
        if self.built:
            document = {**document, "ran": [], "cached": document["cached"] + len(document["ran"]),
                        "renders": 0}  # its scans are recorded now
        with contextlib.suppress(OSError):  # a record is an optimisation: the next run just runs
            noop_records.write_record(self.argv, os.environ, self.settings.cache_dir, self.locks,
                                      self.trees, document, stderr)


def _one_output(as_json: bool, json_events: bool) -> None:
    if as_json and json_events:
        from clusterbuild.errors import UsageError

        raise UsageError("--json and --json-events both print to stdout",
                         hint="--json for one result object, --json-events for a stream")


def _report(failures: Any, warnings: Any) -> None:
    """Warnings, then one line per failure on stderr; exit with the failures' code."""
    from clusterbuild.errors import exit_code_of

    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for failure in failures:
        if _state["debug"]:
            traceback.print_exception(failure.error)
        print(f"error: {failure}", file=sys.stderr)
    if failures:
        sys.exit(exit_code_of(failures))


@app.command()
def plan(targets: TargetsArg = None, workspace: WorkspaceOpt = None,
         cache_dir: CacheOpt = None, platform: PlatformOpt = None, fail_fast: FailFastOpt = False,
         remote_cache: RemoteCacheOpt = None, insecure: InsecureOpt = None,
         as_json: JsonOpt = False) -> None:
    """Show every step, fresh or stale, and why. No network (except look-ups in a remote cache,
    shown as "cached remotely", whose consumers' inputs are "not needed"); writes nothing but
    the cache's record of each scan."""
    from clusterbuild.cli.output import Printer, plan_json, print_plan
    from clusterbuild.commands.build import plan_workspace

    settings, ws = _context(workspace, cache_dir, targets=tuple(targets or ()),
                            platforms=tuple(platform or ()), fail_fast=fail_fast,
                            remote_cache=remote_cache, insecure_registries=tuple(insecure or ()))
    recording = _NoopRecording(settings, ws) if as_json else None
    planned = plan_workspace(settings, ws, recording.notify if recording else notify,
                             recording.planned if recording else None)
    if recording is not None:
        document = plan_json(planned)
        print(json.dumps(document, indent=2))
        recording.store(document, planned.warnings)
    else:
        print_plan(planned, Printer(_state["verbose"]))
    _report(planned.failures, planned.warnings)


@app.command()
def apply(targets: TargetsArg = None, workspace: WorkspaceOpt = None,
          cache_dir: CacheOpt = None, platform: PlatformOpt = None,
          archive: Annotated[bool, typer.Option("--archive", help="Also write an oci-archive per "
                                                "platform image under <layout>/archives/, named "
                                                "<registry>/<app>:<version> (for `sealos load`).")]
          = False,
          archive_multi: Annotated[bool, typer.Option(
              "--archive-multi", help="Also write one oci-archive per app version with the index "
              "and every platform.")] = False,
          docker_archive: Annotated[bool, typer.Option(
              "--docker-archive", help="Also write a docker-archive per platform image "
              "(for `sealos load`).")] = False,
          jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Steps run at once "
                                                   "[default: the number of cores].")] = None,
          insecure: InsecureOpt = None,
          push: Annotated[bool, typer.Option("--push", help="Push each platform image and the "
                                             "index to the registry of apps.yaml.")] = False,
          push_to: Annotated[str | None, typer.Option(
              "--push-to", metavar="PREFIX", help="Push under this repository prefix instead, e.g. "
              "registry.internal:5000/labring (implies --push).")] = None,
          frozen: Annotated[bool, typer.Option("--frozen", help="CI mode: every remote input "
                                               "must be pinned by apps.lock; it is never changed.")]
          = False,
          fail_fast: FailFastOpt = False, lock_timeout: LockTimeoutOpt = None,
          timeout: TimeoutOpt = None,
          unsandboxed: Annotated[bool, typer.Option(
              "--unsandboxed", help="Run init.sh scripts without the bubblewrap sandbox, with your "
              "own rights (as apps.yaml `scripts: {sandbox: false}`); each run is warned about.")]
          = False,
          remote_cache: RemoteCacheOpt = None,
          cache_push: Annotated[bool | None, typer.Option(
              "--cache-push/--no-cache-push", help="Upload the steps run here to the remote cache "
              "[default: apps.yaml cache.push, else no].")] = None,
          shard: Annotated[bool, typer.Option(
              "--shard", help="A CI shard (see `clusterbuild matrix`): push only each platform's "
              "<app>:<version>-<arch> image; no index, no layout (`clusterbuild publish` makes the "
              "indexes). Targets may name one platform: APP:VERSION@os/arch.")] = False,
          sign_key: SignKeyOpt = None,
          as_json: JsonOpt = False, plain: PlainOpt = False, json_events: JsonEventsOpt = False) -> None:
    """Build the images: run the stale steps, write the OCI layout.

    The layout is out/ unless apps.yaml says otherwise; --archive and --push publish more."""
    from clusterbuild.cli.output import Printer, apply_json, print_summary
    from clusterbuild.cli.progress import run_display
    from clusterbuild.commands.build import apply_workspace
    from clusterbuild.execute.events import emit
    from clusterbuild.execute.runner import NoProgress

    printer = Printer(_state["verbose"])
    settings, ws = _context(workspace, cache_dir, targets=tuple(targets or ()),
                            platforms=tuple(platform or ()), archive=archive,
                            multi_archive=archive_multi,
                            docker_archive=docker_archive, jobs=jobs,
                            insecure_registries=tuple(insecure or ()), push=push, push_to=push_to,
                            frozen=frozen, fail_fast=fail_fast, lock_timeout=lock_timeout,
                            unsandboxed=unsandboxed, timeout=timeout, remote_cache=remote_cache,
                            cache_push=cache_push, shard=shard, sign_key=sign_key)
    if shard and settings.push_to is None:
        raise UsageError("--shard pushes its images", hint="add --push or --push-to REGISTRY/PREFIX")
    if sign_key is not None and (settings.push_to is None or shard):
        why = " (a shard pushes none)" if shard else ""
        raise UsageError(f"--sign-key signs the indexes --push pushes{why}",
                         hint="`clusterbuild publish --sign-key KEY` signs a sharded build's indexes"
                         if shard else "add --push or --push-to REGISTRY/PREFIX")
    _one_output(as_json, json_events)
    if as_json:
        recording = _NoopRecording(settings, ws)
        applied = apply_workspace(settings, ws, NoProgress(), recording.notify, recording.applied)
        document = apply_json(applied)
        print(json.dumps(document, indent=2))
        recording.store(document, applied.planned.warnings)
    else:
        with run_display(plain=plain, json_events=json_events, verbose=printer.verbose) as events:
            applied = apply_workspace(settings, ws, events, notify)
            emit("summary", **apply_json(applied))
        if not json_events:
            print_summary(applied, printer)
    _report(applied.failures, applied.planned.warnings)


@app.command()
def lock(targets: TargetsArg = None, workspace: WorkspaceOpt = None,
         cache_dir: CacheOpt = None, insecure: InsecureOpt = None,
         update: Annotated[bool, typer.Option("--update", help="Resolve again what is already "
                                              "locked (new chart versions, moved URLs).")] = False,
         fail_fast: FailFastOpt = False, lock_timeout: LockTimeoutOpt = None,
         timeout: TimeoutOpt = None,
         with_images: Annotated[bool, typer.Option("--images/--no-images", help="Also pin every image "
                                                   "the apps ship (--no-images: only the remote "
                                                   "inputs, fetched).")] = True,
         plain: PlainOpt = False) -> None:
    """Pin inputs and images in apps.lock.

    Every remote input (chart versions, archive and binary sha256) and every shipped image
    (the digest its tag names now)."""
    from clusterbuild.cli.progress import run_display
    from clusterbuild.commands.build import lock_workspace

    settings, ws = _context(workspace, cache_dir, targets=tuple(targets or ()),
                            insecure_registries=tuple(insecure or ()), fail_fast=fail_fast,
                            lock_timeout=lock_timeout, timeout=timeout)
    with run_display(plain=plain, json_events=False, verbose=_state["verbose"]):
        changes, failures = lock_workspace(settings, ws, notify, update=update, images=with_images)
    for change in changes:
        before = change.before[:12] or "(new)"
        print(f"{change.input}: {before} -> {change.after[:12]}")
    print(f"apps.lock: {len(changes)} inputs changed")
    _report(failures, ())


PushToOpt = Annotated[str | None, typer.Option(
    "--push-to", metavar="REGISTRY/PREFIX", help="Where the images are pushed [default: the "
    "registry of apps.yaml].")]


@app.command()
def matrix(targets: TargetsArg = None, workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None,
           platform: PlatformOpt = None, remote_cache: RemoteCacheOpt = None,
           push_to: PushToOpt = None, insecure: InsecureOpt = None,
           frozen: Annotated[bool, typer.Option("--frozen", help="apps.lock must pin every "
                                                "remote input and image.")] = False,
           max_jobs: Annotated[int | None, typer.Option(
               "--max-jobs", min=1, help="At most this many shards, balanced by estimated cost "
               "[default: one per app version and platform].")] = None,
           lock_timeout: LockTimeoutOpt = None, timeout: TimeoutOpt = None) -> None:
    """Print the CI matrix (JSON): one entry per app version and platform with work left after
    consulting the remote cache, grouped into shards; each shard runs `apply --shard TARGETS`."""
    from clusterbuild.commands.matrix import make_matrix

    settings, ws = _context(workspace, cache_dir, targets=tuple(targets or ()),
                            platforms=tuple(platform or ()), remote_cache=remote_cache,
                            push=True, push_to=push_to, insecure_registries=tuple(insecure or ()),
                            frozen=frozen, lock_timeout=lock_timeout, timeout=timeout, shard=True)
    found = make_matrix(settings, ws, notify, max_jobs)
    print(json.dumps(found.to_json(), indent=2))
    _report(found.failures, found.warnings)


@app.command()
def publish(targets: TargetsArg = None, workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None,
            remote_cache: RemoteCacheOpt = None, push_to: PushToOpt = None,
            insecure: InsecureOpt = None,
            frozen: Annotated[bool, typer.Option("--frozen", help="apps.lock must pin every "
                                                 "remote input and image.")] = False,
            lock_timeout: LockTimeoutOpt = None, timeout: TimeoutOpt = None,
            sign_key: SignKeyOpt = None, as_json: JsonOpt = False) -> None:
    """The index job after the shards: push each <app>:<version> index made of the -<arch>
    images the shards pushed (no rebuild), only when every platform is there. Held-back app
    versions keep their previous index and are reported (exit 4)."""
    from clusterbuild.commands.publish import publish as run_publish

    settings, ws = _context(workspace, cache_dir, targets=tuple(targets or ()),
                            remote_cache=remote_cache, push=True, push_to=push_to,
                            insecure_registries=tuple(insecure or ()), frozen=frozen,
                            lock_timeout=lock_timeout, timeout=timeout, sign_key=sign_key)
    done = run_publish(settings, ws, notify)
    if as_json:
        print(json.dumps(done.to_json(), indent=2))
    else:
        for ref, digest in done.pushed:
            print(f"pushed {ref}  {digest}")
        for ref, digest in done.unchanged:
            print(f"unchanged {ref}  {digest}")
        for attached in done.attached:
            if attached.new:
                print(f"attached {attached.artifact_type} {attached.artifact.short} to {attached.subject} "
                      f"({attached.via})")
        for signed in done.signed:
            print(f"signed {signed.subject} ({signed.tag}{'' if signed.new else ', already'})")
        print(f"{len(done.pushed)} indexes pushed, {len(done.unchanged)} unchanged, "
              f"{len(done.held_back)} held back")
    for name, why in done.held_back:
        print(f"held back: {name}: {why}", file=sys.stderr)
    _report(done.failures, done.warnings)
    if done.held_back:
        sys.exit(4)


@app.command()
def images(targets: TargetsArg = None, workspace: WorkspaceOpt = None,
           cache_dir: CacheOpt = None,
           why: Annotated[bool, typer.Option("--why", help="Say where each image was found.")]
           = False, as_json: JsonOpt = False) -> None:
    """List the images each app ships in registry/.

    What the build pulls; --why says where each was found."""
    from clusterbuild.cli.output import Printer, found_images, plural, print_images
    from clusterbuild.commands.build import plan_workspace

    settings, ws = _context(workspace, cache_dir, targets=tuple(targets or ()))
    planned = plan_workspace(settings, ws, notify)
    if as_json:
        print(json.dumps(found_images(planned), indent=2))
    else:
        print_images(planned, Printer(_state["verbose"]), why)
    scans = sum(1 for step in planned.plan.steps if step.kind == "scan")
    print(f"{plural(scans, 'app version')} scanned, {plural(planned.renders, 'chart render')}",
          file=sys.stderr)
    _report(planned.failures, planned.warnings)
    if planned.blocked:  # listed what it could: the rest is not an answer, say so in the exit code
        from clusterbuild.errors import InputError

        print(f"error: the images of {plural(len(planned.blocked), 'app version')} are not known "
              "until the inputs are fetched: run `clusterbuild lock` first", file=sys.stderr)
        sys.exit(InputError.exit_code)


@app.command()
def sbom(target: Annotated[str, typer.Argument(metavar="APP:VERSION")],
         workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None,
         fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="spdx (SPDX 2.3 "
                                          "JSON) or cyclonedx (CycloneDX 1.5 JSON).")] = "spdx") -> None:
    """Print the SBOM of an app version: every shipped image, chart, binary and file with the
    digests apps.lock pins (what `apply` writes to <layout>/sbom/). No network."""
    from clusterbuild.commands.supply import sbom_of

    settings, ws = _context(workspace, cache_dir)
    sys.stdout.buffer.write(sbom_of(settings, ws, target, fmt, notify))


@app.command()
def diff(old: Annotated[str, typer.Argument(metavar="APP:OLD")],
         new: Annotated[str, typer.Argument(metavar="APP:NEW")],
         workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None, as_json: JsonOpt = False) -> None:
    """What changed between two app versions: images added, removed or re-digested, chart and
    binary versions, chart values, the image's size and what a site with OLD must transfer."""
    from clusterbuild.commands.diffs import diff_versions

    settings, ws = _context(workspace, cache_dir)
    result = diff_versions(settings, ws, old, new, notify)
    print(json.dumps(result.to_json(), indent=2) if as_json else "\n".join(result.lines()))


@app.command("bundle")
def bundle_cmd(targets: Annotated[list[str] | None, typer.Argument(
                   metavar="APP[:VERSION]", help="App versions to carry (from the layout).")] = None,
               output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False,
                                                           help="The bundle (a tar).")] = None,
               have: Annotated[Path | None, typer.Option(
                   "--have", dir_okay=False, help="What the site has: a digest list (--list-have), "
                   "an earlier bundle, or an apps.lock; those blobs are left out.")] = None,
               zstd: Annotated[bool, typer.Option("--zstd", help="Compress with zstd.")] = False,
               split_size: Annotated[str | None, typer.Option(
                   "--split-size", metavar="SIZE", help="Write parts FILE.000, FILE.001 … of at "
                   "most this size, e.g. 4GiB.")] = None,
               list_have: Annotated[str | None, typer.Option(
                   "--list-have", metavar="DIR|REGISTRY", help="Instead: write the digests a layout "
                   "or registry holds (to -o FILE, or stdout), for --have on the other side.")] = None,
               workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None,
               insecure: InsecureOpt = None) -> None:
    """Write app versions into one archive for an air gap: an OCI layout in a tar, each blob once
    (registry/ layers as their images' blobs, so --have leaves out every image the site has)."""
    from clusterbuild.commands.bundles import bundle, describe, site_digests
    from clusterbuild.schema.models import parse_size

    if list_have is not None:
        settings, _ = _context(workspace, cache_dir, needs_workspace=False,
                               insecure_registries=tuple(insecure or ()))
        text = "\n".join(site_digests(settings, list_have)) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
        return
    if not targets or output is None:
        raise InputError("bundle: name the app versions and -o FILE",
                         hint="e.g. clusterbuild bundle web:v2 -o web.tar")
    try:
        split = parse_size(split_size) if split_size else None
    except ValueError as exc:
        raise InputError(f"--split-size {split_size!r}: {exc}", hint="e.g. 4GiB or 700MB") from None
    settings, ws = _context(workspace, cache_dir)
    planned, files = bundle(settings, ws, targets, output, have, zstd, split)
    print(describe(planned, files))


@app.command()
def unbundle(files: Annotated[list[Path], typer.Argument(help="The bundle (every part, in order).")],
             to: Annotated[str, typer.Option("--to", metavar="DIR|REGISTRY", help="An OCI layout "
                                             "directory, or a registry host[/prefix].")],
             cache_dir: CacheOpt = None, insecure: InsecureOpt = None) -> None:
    """Verify every blob of a bundle and write its images to a layout or registry; a bundle with
    anything missing or altered is refused (exit 3), naming it, and nothing is written."""
    from clusterbuild.commands.bundles import unbundle as run_unbundle

    settings, _ = _context(None, cache_dir, needs_workspace=False,
                           insecure_registries=tuple(insecure or ()))
    for ref in run_unbundle(settings, files, to):
        print(ref)


@app.command()
def check(targets: TargetsArg = None, workspace: WorkspaceOpt = None,
          platform: PlatformOpt = None) -> None:
    """Validate every app version offline.

    Fetches nothing: schema, templates, Kubefile, COPY sources, CMD files, HELM_OPTS, READMEs.
    Lists every problem, one line each (exit 3)."""
    from clusterbuild.commands.check import check_workspace

    settings, ws = _context(workspace, None, targets=tuple(targets or ()),
                            platforms=tuple(platform or ()))
    report = check_workspace(settings, ws)
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    from clusterbuild.cli.output import plural

    print(f"{plural(len(report.checked), 'app version')} checked, "
          f"{plural(len(report.problems), 'problem')}")
    if report.problems:
        sys.exit(3)


@app.command()
def sync(source: Annotated[str, typer.Argument(help="Image to copy, e.g. quay.io/x/y:1.")],
         target: Annotated[str, typer.Argument(help="Where to, e.g. registry.internal/x/y:1.")],
         all_platforms: Annotated[bool, typer.Option("--all/--platform-only", help="Every "
                                                     "platform (default), or only --platform.")]
         = True,
         platform: PlatformOpt = None, workspace: WorkspaceOpt = None,
         cache_dir: CacheOpt = None, insecure: InsecureOpt = None,
         lock_timeout: LockTimeoutOpt = None, timeout: TimeoutOpt = None) -> None:
    """Copy an image between registries.

    All platforms by default (the bot's /imagesync). Registry access (insecure hosts, CA
    file, mirrors) comes from apps.yaml when there is one."""
    from clusterbuild.commands.registry import sync_image

    settings, _ = _context(workspace, cache_dir, needs_workspace=False,
                           platforms=tuple(platform or ()), lock_timeout=lock_timeout,
                           insecure_registries=tuple(insecure or ()), timeout=timeout)
    print(sync_image(settings, source, target, all_platforms, notify))


@app.command()
def verify(ref: Annotated[str, typer.Argument(metavar="REF", help="The image, e.g. "
                                               "registry.internal:5000/labring/app:v1.")],
           key: Annotated[Path, typer.Option("--key", metavar="PUB", dir_okay=False, help="The public "
                                             "key (PEM, e.g. cosign.pub).")],
           workspace: WorkspaceOpt = None, insecure: InsecureOpt = None, timeout: TimeoutOpt = None,
           as_json: JsonOpt = False) -> None:
    """Check that the image REF names now is signed by the key (cosign's format: the tag
    sha256-<hex>.sig). Exit 0 when a signature verifies, 6 when none does (a re-pushed image,
    another key, no signature), 3 for a bad key file or REF, 4 when the registry fails."""
    from clusterbuild.commands.signatures import verify_ref

    settings, _ = _context(workspace, None, needs_workspace=False,
                           insecure_registries=tuple(insecure or ()), timeout=timeout)
    verified = verify_ref(settings, ref, key)
    if as_json:
        print(json.dumps({"version": 1, **verified.to_json()}, indent=2))
    else:
        print(f"verified {verified.ref}: {verified.digest} is signed by {key}")


@app.command()
def login(registry: Annotated[str, typer.Argument(help="Registry host, e.g. docker.io.")],
          username: Annotated[str, typer.Option("--username", "-u", metavar="USER")],
          password_stdin: Annotated[bool, typer.Option(
              "--password-stdin", help="Read the password from standard input.")] = False,
          verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Check the credentials "
                                               "against the registry before storing them.")] = True,
          authfile: Annotated[Path | None, typer.Option(
              "--authfile", dir_okay=False, help="Write this containers auth.json instead (what "
              "podman, buildah, skopeo and sealos read), e.g. ~/.config/containers/auth.json.")] = None,
          workspace: WorkspaceOpt = None, insecure: InsecureOpt = None) -> None:
    """Check and store registry credentials.

    Stored in ~/.config/clusterbuild/auth.json (mode 0600; --authfile for a containers
    auth.json). Logins of sealos, podman, buildah and skopeo (containers auth.json) and docker
    are read too. Registry access (insecure hosts, CA file) comes from apps.yaml when there
    is one."""
    from clusterbuild.commands.registry import store_login

    settings, _ = _context(workspace, None, needs_workspace=False,
                           insecure_registries=tuple(insecure or ()))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    print(store_login(settings, registry, username, password, verify, authfile))


@app.command("import")
def import_app(name: Annotated[str, typer.Argument(metavar="APP[:VERSION]", help="A catalogue app "
                                                   "with an init.sh.")],
               workspace: WorkspaceOpt = None,
               write: Annotated[bool, typer.Option("--write", help="Write clusterbuild.yaml next "
                                                   "to init.sh.")] = False) -> None:
    """Convert an app's init.sh into a clusterbuild.yaml.

    Reads the script, never runs it; lists every line it did not convert."""
    from clusterbuild.commands.importing import import_app as run_import

    for line in run_import(_command_line(workspace, None).workspace.resolve(), name, write):
        print(line)


@app.command()
def schema(which: Annotated[str, typer.Argument(metavar="workspace|app", help="workspace (apps.yaml) or app "
                                                "(clusterbuild.yaml)")] = "workspace") -> None:
    """Print the JSON Schema of apps.yaml or clusterbuild.yaml.

    For editor completion (committed under schemas/)."""
    from clusterbuild.schema.json_schema import json_schema

    print(json_schema(which))


@app.command()
def init(directory: Annotated[Path | None, typer.Argument(
             metavar="DIR", file_okay=False, help="Where (made if missing) [default: -C or .].")] = None,
         registry: Annotated[str, typer.Option(metavar="PREFIX", help="Where images go: "
                                               "<registry>/<app>:<version>.")] = "docker.io/labring",
         platform: PlatformOpt = None, workspace: WorkspaceOpt = None) -> None:
    """Make a workspace: apps.yaml, applications/, .gitignore.

    Platforms default to linux/amd64 and linux/arm64."""
    from clusterbuild.workspace.scaffold import init_workspace

    root = directory or _command_line(workspace, None).workspace
    for line in init_workspace(root.resolve(), registry, list(platform or ["linux/amd64", "linux/arm64"])):
        print(line)


def _source(chart: str | None, oci: str | None, manifest: str | None, binary: str | None) -> Any:
    from clusterbuild.errors import UsageError
    from clusterbuild.workspace.scaffold_files import Source

    given = [(kind, text) for kind, text in (("chart", chart), ("oci", oci), ("manifest", manifest),
                                              ("binary", binary)) if text]
    if len(given) > 1:
        raise UsageError("--chart, --oci, --manifest and --binary: give one",
                         hint="add more inputs to latest/clusterbuild.yaml afterwards")
    return Source.parse(*given[0]) if given else None


@app.command()
def new(name: Annotated[str, typer.Argument(metavar="APP", help="App name, e.g. my-app.")],
        chart: Annotated[str | None, typer.Option(
            metavar="REPO/NAME[@VERSION]", help="A chart of a Helm repository, e.g. "
            "https://charts.jetstack.io/cert-manager@v1.21.1.")] = None,
        oci: Annotated[str | None, typer.Option(
            metavar="oci://HOST/PATH/NAME[@VERSION]", help="A chart in an OCI registry.")] = None,
        manifest: Annotated[str | None, typer.Option(metavar="URL", help="A manifest to apply.")]
        = None,
        binary: Annotated[str | None, typer.Option(
            metavar="URL", help="A binary per platform (write the arch as {{ arch }}).")] = None,
        workspace: WorkspaceOpt = None,
        version: Annotated[str | None, typer.Option(metavar="VERSION", help="Version to add to "
                                                    "apps.yaml [default: the chart's @VERSION, "
                                                    "else v0.1.0].")] = None,
        ) -> None:
    """Scaffold an app shaped like the catalogue's, and list it in apps.yaml.

    Writes applications/APP/latest/ (Kubefile, install script, clusterbuild.yaml with the
    upstream input) and applications/APP/README.md, which is not part of the image."""
    from clusterbuild.workspace.scaffold import scaffold_app

    source = _source(chart, oci, manifest, binary)
    for line in scaffold_app(_command_line(workspace, None).workspace.resolve(), name, version, source):
        print(line)


@app.command()
def inspect(what: Annotated[str, typer.Argument(
                metavar="APP:VERSION|REF|ARCHIVE", help="An image of the layout (out/), an "
                "oci-archive or docker-archive file, or docker://REF in a registry.")],
            platform: Annotated[str | None, typer.Option(
                "--platform", "-p", metavar="PLATFORM", help="Which image of an index [default: "
                "this machine's, else the first].")] = None,
            workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None, insecure: InsecureOpt = None,
            as_json: JsonOpt = False) -> None:
    """Show what is inside a cluster image.

    Type and labels, env, the commands sealos run executes (variables expanded), files by
    top-level directory, every image in registry/, layers with media types, the SBOM."""
    from clusterbuild.cli.inspect_output import print_inspection
    from clusterbuild.commands.inspect import inspect_image

    settings, _ = _context(workspace, cache_dir, needs_workspace=False,
                           insecure_registries=tuple(insecure or ()))
    found = inspect_image(settings, what, platform, notify)
    if as_json:
        print(json.dumps(found.to_json(), indent=2))
    else:
        print_inspection(found, print)


@cache_app.command("gc")
def cache_gc(workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None,
             dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
             keep_days: Annotated[float | None, typer.Option(
                 "--keep-days", min=0, metavar="DAYS", help="Keep what a workspace that is gone "
                 "(but shared this cache) used within this many days [default: 30].")] = None,
             lock_timeout: LockTimeoutOpt = None) -> None:
    """Remove what no workspace using this cache still needs.

    Waits for running builds."""
    from clusterbuild.commands.gc import collect_garbage

    settings, ws = _context(workspace, cache_dir, keep_days=keep_days, lock_timeout=lock_timeout)
    report = collect_garbage(settings, ws, notify, dry_run=dry_run)
    print(report.describe(dry_run))


@app.command()
def bot(event: Annotated[Path | None, typer.Option(
            "--event", envvar="GITHUB_EVENT_PATH", dir_okay=False, metavar="FILE",
            help="GitHub event payload (default: $GITHUB_EVENT_PATH).")] = None,
        workspace: WorkspaceOpt = None, cache_dir: CacheOpt = None,
        robot: Annotated[list[str] | None, typer.Option(
            "--robot", metavar="USER", help="Account allowed to /imagesync (repeatable; default: "
            "$CLUSTERBUILD_BOT_ROBOTS, comma-separated).")] = None,
        allow_association: Annotated[list[str] | None, typer.Option(
            "--allow-association", metavar="ASSOCIATION", help="Only commenters with this author "
            "association may build, e.g. OWNER, MEMBER, COLLABORATOR (repeatable; default: anyone).")] = None,
        push: Annotated[bool, typer.Option("--push", help="Publish builds to the registry "
                                           "of apps.yaml.")] = False,
        push_to: Annotated[str | None, typer.Option(
            "--push-to", metavar="PREFIX", help="Publish builds under this repository prefix "
            "(implies --push).")]
        = None,
        sync_to: Annotated[str | None, typer.Option(
            "--sync-to", metavar="PREFIX", help="Repository prefix /imagesync copies to.")] = None,
        insecure: InsecureOpt = None,
        frozen: Annotated[bool, typer.Option("--frozen", help="apps.lock must pin every "
                                             "remote input.")] = False,
        jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1)] = None,
        remote_cache: RemoteCacheOpt = None,
        cache_push: Annotated[bool | None, typer.Option(
            "--cache-push/--no-cache-push", help="Upload the steps run here to the remote cache "
            "[default: cache.push of apps.yaml].")] = None,
        stage: Annotated[str, typer.Option(
            "--stage", metavar="all|plan|publish", help="all: build here. plan: check the rules "
            "and, with a remote cache, print /imagebuild_apps's per-platform CI matrix instead of "
            "building (no comment); publish: after the shards, publish the index and comment.")] = "all",
        ) -> None:
    """Answer an issue command (/imagebuild_apps, /imagesync).

    Runs the command of the issue event (/imagebuild_apps, /imagebuild_dockerimages,
    /imagesync) if every rule allows it; print the decision as JSON; comment on the issue."""
    from clusterbuild.bot.config import BotConfig, associations_from, find_buildah, robots_from
    from clusterbuild.bot.handle import bot_main

    if event is None:
        raise InputError("no event payload", hint="pass --event FILE or set GITHUB_EVENT_PATH")
    settings, _ = _context(workspace, cache_dir, needs_workspace=False)
    config = BotConfig(workspace=settings.workspace, cache_dir=settings.cache_dir,
                       robots=robots_from(robot or [], os.environ),
                       associations=associations_from(allow_association or []), push=push, push_to=push_to,
                       sync_to=sync_to, insecure_registries=tuple(insecure or ()),
                       frozen=frozen, jobs=jobs or os.cpu_count() or 2,
                       buildah=find_buildah(os.environ), environ=dict(os.environ),
                       remote_cache=remote_cache, cache_push=cache_push, stage=stage)
    code = bot_main(config, event, os.environ)
    if code:
        sys.exit(code)  # refused or failed: the decision is printed, no "error:" line to add


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt is for SIGINT."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _stop(message: str, code: int) -> NoReturn:
    """Interrupted: stop the children, say so, and leave now. Worker threads may still be
    writing temp files; nothing is recorded before its blobs are complete, and the next
    apply (or cache gc) removes what a dead process left."""
    from clusterbuild.execute.children import kill_all

    kill_all()
    live = sys.modules.get("clusterbuild.cli.live")  # loaded only when a live display runs
    if live is not None:
        live.stop_live_display()
    print(message, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    # Start-up allocates many long-lived objects (pydantic, typer); collecting
    # the young generation every 700 allocations costs more than it saves for a CLI run.
    gc.set_threshold(50_000, 20, 20)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(standalone_mode=False, prog_name="clusterbuild")
    except KeyboardInterrupt:
        _stop("interrupted", EXIT_INTERRUPTED)
    except Terminated:
        _stop("terminated", EXIT_TERMINATED)
    except ClusterbuildError as exc:
        if _state["debug"]:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _stop("interrupted", EXIT_INTERRUPTED)
    except typer.TyperException as exc:  # usage errors (typer's bundled click)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:
        if _state["debug"]:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for a "
              "traceback)", file=sys.stderr)
        sys.exit(1)
    if isinstance(code, int) and code:  # click returns the code of an abort it handled itself
        if code == EXIT_INTERRUPTED:
            _stop("interrupted", EXIT_INTERRUPTED)
        sys.exit(code)


if __name__ == "__main__":
    main()
