"""``clusterbuild``: plan and apply cluster image builds.

Exit codes: 0 success; 1 unexpected error; 2 usage error; 3 bad input (workspace,
spec, Kubefile); 4 a build step failed; 5 the cache is unusable; 130 interrupted.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from clusterbuild.errors import EXIT_INTERRUPTED, ClusterbuildError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Declarative, content-addressed builds of Sealos cluster images.")
cache_app = typer.Typer(no_args_is_help=True, help="Inspect and clean the cache.")
app.add_typer(cache_app, name="cache")

_state: dict[str, Any] = {"debug": False, "verbose": False}

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-C", help="Workspace directory "
                                            "(holds apps.yaml).", file_okay=False)]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", envvar="CLUSTERBUILD_CACHE_DIR",
                                               help="Cache directory [default: <workspace>/cache].")]
TargetsArg = Annotated[list[str] | None, typer.Argument(
    metavar="[APP[:VERSION]]...", help="What to build (default: everything in apps.yaml).")]
PlatformOpt = Annotated[list[str] | None, typer.Option(
    "--platform", "-p", help="Only these platforms, e.g. linux/arm64 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
InsecureOpt = Annotated[list[str] | None, typer.Option(
    "--insecure-registry", help="Reach this registry host over plain HTTP (repeatable).")]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
          debug: Annotated[bool, typer.Option("--debug", help="Tracebacks on errors.")] = False,
          ) -> None:
    _state.update(verbose=verbose, debug=debug)


def _settings(workspace: Path, cache_dir: Path | None, targets: list[str] | None,
              platforms: list[str] | None, **extra: Any) -> Any:
    from clusterbuild.oci.platform import Platform
    from clusterbuild.workflow import Settings

    try:
        only = tuple(Platform.parse(p) for p in platforms or [])
    except ValueError as exc:
        raise InputError(f"--platform: {exc}") from None
    root = workspace.resolve()
    return Settings(workspace=root, cache_dir=(cache_dir or root / "cache").resolve(),
                    targets=tuple(targets or ()), platforms=only, **extra)


@app.command()
def plan(targets: TargetsArg = None, workspace: WorkspaceOpt = Path("."),
         cache_dir: CacheOpt = None, platform: PlatformOpt = None,
         as_json: JsonOpt = False) -> None:
    """Show every step, fresh or stale, and why. Reads only; writes nothing."""
    from clusterbuild.cli.output import Printer, plan_json, print_plan
    from clusterbuild.workflow import plan_workspace

    planned = plan_workspace(_settings(workspace, cache_dir, targets, platform))
    if as_json:
        print(json.dumps(plan_json(planned), indent=2))
    else:
        print_plan(planned, Printer(_state["verbose"]))


@app.command()
def apply(targets: TargetsArg = None, workspace: WorkspaceOpt = Path("."),
          cache_dir: CacheOpt = None, platform: PlatformOpt = None,
          archive: Annotated[bool, typer.Option("--archive", help="Also write an oci-archive "
                                                "per app version under <layout>/archives/.")]
          = False,
          docker_archive: Annotated[bool, typer.Option(
              "--docker-archive", help="Also write a docker-archive per platform image "
              "(for `sealos load`).")] = False,
          jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Steps run at once.")]
          = os.cpu_count() or 2,
          insecure: InsecureOpt = None,
          push: Annotated[bool, typer.Option("--push", help="Push each platform image and the "
                                             "index to the registry of apps.yaml.")] = False,
          push_to: Annotated[str | None, typer.Option(
              "--push-to", help="Push under this repository prefix instead, e.g. "
              "registry.internal:5000/labring (implies --push).")] = None,
          frozen: Annotated[bool, typer.Option("--frozen", help="CI mode: every remote input "
                                               "must be pinned by apps.lock; it is never changed.")]
          = False,
          as_json: JsonOpt = False) -> None:
    """Run the stale steps and write images to the OCI layout (default out/)."""
    from clusterbuild.cli.output import Printer, apply_json, print_summary
    from clusterbuild.execute.runner import NoProgress
    from clusterbuild.workflow import apply_workspace

    printer = Printer(_state["verbose"])
    settings = _settings(workspace, cache_dir, targets, platform, archive=archive, jobs=jobs,
                         docker_archive=docker_archive,
                         insecure_registries=tuple(insecure or ()), push=push or bool(push_to),
                         push_to=push_to, frozen=frozen)
    applied = apply_workspace(settings, printer if not as_json else NoProgress())
    if as_json:
        print(json.dumps(apply_json(applied), indent=2))
    else:
        print_summary(applied, printer)



@app.command()
def lock(targets: TargetsArg = None, workspace: WorkspaceOpt = Path("."),
         cache_dir: CacheOpt = None, insecure: InsecureOpt = None,
         update: Annotated[bool, typer.Option("--update", help="Resolve again what is already "
                                              "locked (new chart versions, moved URLs).")] = False,
         ) -> None:
    """Pin every remote input (chart versions, archive and binary sha256) and every shipped
    image (the digest its tag names now) in apps.lock."""
    from clusterbuild.workflow import lock_workspace

    settings = _settings(workspace, cache_dir, targets, None,
                         insecure_registries=tuple(insecure or ()))
    changes = lock_workspace(settings, update=update, images=True)
    for change in changes:
        before = change.before[:12] or "(new)"
        print(f"{change.input}: {before} -> {change.after[:12]}")
    print(f"apps.lock: {len(changes)} inputs changed")


@app.command()
def images(targets: TargetsArg = None, workspace: WorkspaceOpt = Path("."),
           cache_dir: CacheOpt = None,
           why: Annotated[bool, typer.Option("--why", help="Say where each image was found.")]
           = False, as_json: JsonOpt = False) -> None:
    """List the images each app ships in registry/ (what the build pulls)."""
    from clusterbuild.cli.output import Printer, found_images, print_images
    from clusterbuild.workflow import plan_workspace

    planned = plan_workspace(_settings(workspace, cache_dir, targets, None))
    if as_json:
        print(json.dumps(found_images(planned), indent=2))
    else:
        print_images(planned, Printer(_state["verbose"]), why)


@app.command()
def sync(source: Annotated[str, typer.Argument(help="Image to copy, e.g. quay.io/x/y:1.")],
         target: Annotated[str, typer.Argument(help="Where to, e.g. registry.internal/x/y:1.")],
         all_platforms: Annotated[bool, typer.Option("--all/--platform-only", help="Every "
                                                     "platform (default), or only --platform.")]
         = True,
         platform: PlatformOpt = None, workspace: WorkspaceOpt = Path("."),
         cache_dir: CacheOpt = None, insecure: InsecureOpt = None) -> None:
    """Copy an image between registries, all platforms by default (the bot's /imagesync)."""
    from clusterbuild.registry_commands import sync_image

    settings = _settings(workspace, cache_dir, None, platform,
                         insecure_registries=tuple(insecure or ()))
    print(sync_image(settings, source, target, all_platforms))


@app.command()
def login(registry: Annotated[str, typer.Argument(help="Registry host, e.g. docker.io.")],
          username: Annotated[str, typer.Option("--username", "-u")],
          password_stdin: Annotated[bool, typer.Option(
              "--password-stdin", help="Read the password from standard input.")] = False) -> None:
    """Store credentials for a registry in ~/.config/clusterbuild/auth.json (mode 0600)."""
    from clusterbuild.registry_commands import store_login

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    print(store_login(registry, username, password))


@app.command("import")
def import_app(name: Annotated[str, typer.Argument(metavar="APP[:VERSION]", help="A catalogue app "
                                                   "with an init.sh.")],
               workspace: WorkspaceOpt = Path("."),
               write: Annotated[bool, typer.Option("--write", help="Write clusterbuild.yaml next "
                                                   "to init.sh.")] = False) -> None:
    """Convert an app's init.sh into a declarative clusterbuild.yaml (never runs the script)."""
    from clusterbuild.importer_command import import_app as run_import

    for line in run_import(workspace.resolve(), name, write):
        print(line)


@app.command()
def schema(which: Annotated[str, typer.Argument(help="workspace (apps.yaml) or app "
                                                "(clusterbuild.yaml)")] = "workspace") -> None:
    """Print the JSON Schema of apps.yaml or clusterbuild.yaml (for editor completion)."""
    from clusterbuild.schema.json_schema import json_schema

    print(json_schema(which))


@app.command()
def new(name: Annotated[str, typer.Argument(help="App name, e.g. my-app.")],
        workspace: WorkspaceOpt = Path("."),
        version: Annotated[str, typer.Option(help="Version to add to apps.yaml.")] = "v0.1.0",
        ) -> None:
    """Scaffold applications/NAME/latest/ with an app that builds, and list it in apps.yaml."""
    from clusterbuild.workspace.scaffold import scaffold_app

    for line in scaffold_app(workspace.resolve(), name, version):
        print(line)


@cache_app.command("gc")
def cache_gc(workspace: WorkspaceOpt = Path("."), cache_dir: CacheOpt = None,
             dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Remove what no app of the workspace still needs."""
    from clusterbuild.gc import collect_garbage

    settings = _settings(workspace, cache_dir, None, None)
    report = collect_garbage(settings, dry_run=dry_run)
    print(report.describe(dry_run))


@app.command()
def bot(event: Annotated[Path | None, typer.Option(
            "--event", envvar="GITHUB_EVENT_PATH", dir_okay=False,
            help="GitHub event payload (default: $GITHUB_EVENT_PATH).")] = None,
        workspace: WorkspaceOpt = Path("."), cache_dir: CacheOpt = None,
        robot: Annotated[list[str] | None, typer.Option(
            "--robot", help="Account allowed to /imagesync (repeatable; default: "
            "$CLUSTERBUILD_BOT_ROBOTS, comma-separated).")] = None,
        push: Annotated[bool, typer.Option("--push", help="Publish builds to the registry "
                                           "of apps.yaml.")] = False,
        push_to: Annotated[str | None, typer.Option(
            "--push-to", help="Publish builds under this repository prefix (implies --push).")]
        = None,
        sync_to: Annotated[str | None, typer.Option(
            "--sync-to", help="Repository prefix /imagesync copies to.")] = None,
        insecure: InsecureOpt = None,
        frozen: Annotated[bool, typer.Option("--frozen", help="apps.lock must pin every "
                                             "remote input.")] = False,
        jobs: Annotated[int, typer.Option("--jobs", "-j", min=1)] = os.cpu_count() or 2,
        ) -> None:
    """Run the command of an issue event (/imagebuild_apps, /imagebuild_dockerimages,
    /imagesync) if every rule allows it; print the decision as JSON; comment on the issue."""
    from clusterbuild.bot.config import BotConfig, find_buildah, robots_from
    from clusterbuild.bot.handle import bot_main

    if event is None:
        raise InputError("no event payload", hint="pass --event FILE or set GITHUB_EVENT_PATH")
    root = workspace.resolve()
    config = BotConfig(workspace=root, cache_dir=(cache_dir or root / "cache").resolve(),
                       robots=robots_from(robot or [], os.environ), push=push, push_to=push_to,
                       sync_to=sync_to, insecure_registries=tuple(insecure or ()),
                       frozen=frozen, jobs=jobs, buildah=find_buildah(os.environ))
    code = bot_main(config, event, os.environ)
    if code:
        sys.exit(code)  # refused or failed: the decision is printed, no "error:" line to add


def main() -> None:
    # Start-up allocates many long-lived objects (pydantic, typer, networkx); collecting
    # the young generation every 700 allocations costs more than it saves for a CLI run.
    gc.set_threshold(50_000, 20, 20)
    try:
        app(standalone_mode=False)
    except ClusterbuildError as exc:
        if _state["debug"]:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
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

if __name__ == "__main__":
    main()
