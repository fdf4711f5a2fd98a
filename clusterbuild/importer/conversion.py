"""From an ``init.sh`` to a ``clusterbuild.yaml``: the spec, its commented YAML, and the report.

``convert_init_sh`` parses and reads the script (never runs it) and validates the spec it
builds against ``AppSpec``; ``write_conversion`` writes the YAML next to the script, never
over an existing spec.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from clusterbuild.errors import InputError
from clusterbuild.importer.collect import Collector, Draft, Skip, unique_drafts
from clusterbuild.importer.lexer import ShellSyntaxError
from clusterbuild.importer.rendered import Rendered
from clusterbuild.importer.syntax import parse_script
from clusterbuild.importer.values import Origin
from clusterbuild.importer.walk import Walker
from clusterbuild.importer.written import RECIPES, Placed, Written, place_written

SPEC_NAME = "clusterbuild.yaml"


@dataclass(frozen=True)
class Conversion:
    spec: dict[str, Any]  # the clusterbuild.yaml content, valid for AppSpec
    yaml_text: str  # the same as commented YAML
    converted: tuple[str, ...]  # "init.sh:12 helm pull ... -> inputs[0] chart x"
    skipped: tuple[str, ...]  # "init.sh:20 sed -i ...: not convertible (...)"
    files: tuple[Placed, ...] = ()  # files the script writes (a heredoc Kubefile), kept in the app dir


def convert_init_sh(script: str, app: str, path: str = "init.sh", app_dir: Path | None = None) -> Conversion:
    """The declarative spec equivalent to ``script`` (the ``init.sh`` of ``app``), as far as it goes.
    ``app_dir``: the directory it runs in, whose committed files the script may edit."""
    try:
        nodes = parse_script(script)
    except ShellSyntaxError as e:
        raise InputError(f"{path}:{e.line}: cannot read the script: {e.problem}",
                         hint="write clusterbuild.yaml by hand (`clusterbuild schema app`)") from None
    walker = Walker(app, lambda rel: _committed(app_dir, rel), lambda rel: _committed_dir(app_dir, rel),
                    lambda rel: _committed_files(app_dir, rel))
    walker.run(nodes)
    out = walker.out
    placed = [out.place(p, pending) for p, pending in out.files.items()]
    files, texts = _written(out, walker)  # before the images: an image list may be kept as a file
    drafts = unique_drafts([*out.charts.values(), *(d for d in placed if d is not None), *out.leftovers(),
                            *texts, *out.copies])
    out.replacing(drafts)
    profiles = _profiles(out, files, walker, drafts)
    reads = _reads(out, drafts, files, walker)
    images = list(dict.fromkeys(image for image, _ in out.images))
    spec: dict[str, Any] = {}
    build_args = {k: v for f in files for k, v in f.build_args.items()}
    if build_args:
        spec["build_args"] = dict(sorted(build_args.items()))
    spec["inputs"] = [d.fields for d in drafts]
    if images:
        spec["images"] = {"extra": images}
    if reads:
        spec.setdefault("images", {})["read"] = {name: fields for name, (fields, _) in reads.items()}
    if profiles:
        spec.setdefault("images", {})["profiles"] = {name: values for name, (values, _) in profiles.items()}
    releases = _releases(out, spec)
    if releases:
        spec = {"releases": releases, **spec}
    _validate(spec, path)
    for name, origin in out.release_origins.items():
        if name not in releases and name not in reads:  # its lines were not converted: they say why
            out.not_needed(origin, "sets a variable from a command's output; the commands using it are "
                           "reported")
    converted = _converted(path, drafts, out.images, files) + tuple(
        f"{_origin_line(path, origin)} -> images.profiles.{name}" for name, (_, origin) in profiles.items()) \
        + tuple(f"{_origin_line(path, o)} -> images.read.{name}" for name, (_, o) in reads.items()) \
        + tuple(f"{_origin_line(path, out.release_origins[name])} -> releases.{name}" for name in releases
                if name in out.release_origins)
    skipped = _skipped(path, out.skips)
    text = _yaml(spec, drafts, out.images, path, out.skips, files, out.rendered, reads, out.release_origins)
    return Conversion(spec, text, converted, skipped,
                      tuple(files))


def _releases(out: Collector, spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The releases the spec's templates name (``{{ releases.NAME }}``)."""
    text = json.dumps(spec)
    return {name: fields for name, fields in sorted(out.releases.items())
            if re.search(r"\breleases\." + name + r"\b", text)}


def _committed(app_dir: Path | None, rel: str) -> str | None:
    if app_dir is None or rel.startswith(("/", "../")):
        return None
    try:
        return (app_dir / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _profiles(out: Collector, files: list[Placed], walker: Walker, drafts: list[Draft]
              ) -> dict[str, tuple[dict[str, Any], Origin]]:
    """Charts rendered into files only for the image scan: image profiles (see ``rendered``); a
    render into a file the image ships, or of a chart the scan does not render, is a ``render``
    input (added to ``drafts``) when the chart is in the build context."""
    from clusterbuild.importer.rendered import ships
    from clusterbuild.importer.written import RECIPES

    recipe = next((f.content for f in files if f.path in RECIPES), None)
    recipe = recipe if recipe is not None else next(
        (text for name in RECIPES if (text := walker.committed(name)) is not None), "")
    profiles: dict[str, tuple[dict[str, Any], Origin]] = {}
    for rendered in out.rendered:
        listing = rendered.target.startswith("images/shim/")
        shipped = not listing and ships(recipe, rendered.target)
        unscanned = not rendered.scanned and not _copied_into_charts(rendered.chart, files, walker)
        render = _render_input(rendered, drafts, walker) if not listing and (shipped or unscanned) else None
        if isinstance(render, Draft):
            drafts.append(render)
        elif shipped:
            why = f"renders a chart into {rendered.target}, which the image ships: keep the rendered file, " \
                "or install the chart with its values"
            out.not_convertible(rendered.origin, render or why)
        elif unscanned:
            out.not_convertible(rendered.origin, f"renders {rendered.chart}, a chart the image scan does not "
                                "render (it renders those of charts/): list its images in images.extra")
        elif rendered.values:
            profiles[f"rendered-line-{rendered.origin.line}"] = (rendered.values, rendered.origin)
        else:
            out.not_needed(rendered.origin, "renders a chart with its defaults: the image scan does")
    return profiles


def _read_as_release(out: Collector, drafts: list[Draft], name: str) -> None:
    """Image lists name ``releases.NAME`` where they named ``read.NAME``."""
    pattern = re.compile(r"\bread\." + re.escape(name) + r"\b")
    out.images = [(pattern.sub(f"releases.{name}", image), origin) for image, origin in out.images]
    for draft in drafts:
        if draft.fields.get("kind") == "text":
            draft.fields["text"] = pattern.sub(f"releases.{name}", draft.fields["text"])


def _render_input(rendered: Rendered, drafts: list[Draft], walker: Walker) -> Draft | str | None:
    """The ``render`` input of ``helm template CHART > FILE``, when the build context holds the
    chart (a chart input's directory, or a committed chart); else why not (None: no chart)."""
    from clusterbuild.importer.rendered import render_fields

    placed = any(d.fields.get("kind") == "chart" and d.where == rendered.chart for d in drafts)
    if not placed and walker.committed(f"{rendered.chart}/Chart.yaml") is None:
        return None
    fields = render_fields(list(rendered.args), rendered.chart, rendered.target)
    if isinstance(fields, str):
        return fields
    return Draft(fields, [rendered.origin], rendered.target, rendered.origin.line)


def _copied_into_charts(chart: str, files: list[Placed], walker: Walker) -> bool:
    """Is the committed chart dir ``chart`` (rendered where it is) also copied to charts/, where
    the image scan renders it (``cp -r chart charts/``)?"""
    meta = walker.committed(f"{chart}/Chart.yaml")
    target = f"charts/{posixpath.basename(chart)}/Chart.yaml"
    return meta is not None and any(f.path == target and f.content == meta for f in files)


def _reads(out: Collector, drafts: list[Draft], files: list[Placed], walker: Walker
           ) -> dict[str, tuple[dict[str, Any], Origin]]:
    """The reads image lists name, each of a file the build context holds (an input's, a file the
    script writes, a committed one) and not edited after it is read; images naming any other are
    not convertible."""
    kept: dict[str, tuple[dict[str, Any], Origin]] = {}
    wrong: dict[str, str] = {}
    for name, (fields, origin) in out.reads.items():
        file = fields["file"]
        placed = any(file == d.where or file.startswith(d.where.rstrip("/") + "/") for d in drafts) \
            or any(f.path == file for f in files) or walker.committed(file) is not None \
            or (name in out.used_reads and _read_only(out, drafts, files, walker, file, origin))
        if name not in out.used_reads and name in out.releases:
            continue  # read when locked (-> releases.NAME)
        if name not in out.used_reads:
            out.not_needed(origin, "sets a variable from a command's output; the commands using it are "
                           "reported")
        elif file in out.edited_after_read:
            wrong[name] = f"reads {file} before the script edits it: read it after the edits"
        elif not placed and name in out.read_releases:  # a download the image does not hold: read when locked
            out.releases.setdefault(name, out.read_releases[name])
            _read_as_release(out, drafts, name)
        elif not placed:
            wrong[name] = f"reads {file}, which the build context will not hold"
        else:
            kept[name] = (fields, origin)
    for image, origin in list(out.images):
        bad = [wrong[n] for n in used_reads_of(image) if n in wrong]
        if bad:
            out.images.remove((image, origin))
            out.not_convertible(origin, f"the image list: {bad[0]}")
    for draft in [d for d in drafts if d.fields["kind"] == "text"]:  # a shipped image list
        bad = [wrong[n] for n in used_reads_of(draft.fields["text"]) if n in wrong]
        if bad:
            drafts.remove(draft)
            out.not_convertible(draft.origins[-1], f"the image list: {bad[0]}")
    return kept


def _read_only(out: Collector, drafts: list[Draft], files: list[Placed], walker: Walker, file: str,
               origin: Origin) -> bool:
    """A file read out of an archive the script extracts, then removes: placed by an archive
    input of that one file, when the image does not ship it (True), so that the read finds it."""
    from clusterbuild.importer.rendered import ships
    from clusterbuild.importer.written import RECIPES

    recipe = next((f.content for f in files if f.path in RECIPES), None)
    recipe = recipe if recipe is not None else next(
        (text for name in RECIPES if (text := walker.committed(name)) is not None), "")
    archive = next((a for a in reversed(out.archives)
                    if a.into == "." or file.startswith(a.into.rstrip("/") + "/")), None)
    if archive is None or ships(recipe, file) or "/" not in file:
        return False
    member = archive.member(file)
    fields = {"kind": "archive", "url": archive.url.template(), "path": member,
              "dest": posixpath.dirname(file)}  # a file named by path lands in dest
    draft = out._archive_draft(fields, [*archive.origins, replace(origin, detail="read only")], None)
    drafts.append(draft)
    return True


def used_reads_of(template: str) -> list[str]:
    return re.findall(r"\{\{ read\.(\w+) \}\}", template)


def _committed_dir(app_dir: Path | None, rel: str) -> bool:
    return app_dir is not None and not rel.startswith(("/", "../")) and (app_dir / rel).is_dir()


def _committed_files(app_dir: Path | None, rel: str) -> list[str]:
    if app_dir is None or rel.startswith(("/", "../")) or rel == ".":
        return []
    top = app_dir / rel
    if top.is_file():
        return [rel]
    return sorted(str(p.relative_to(app_dir)) for p in top.rglob("*") if p.is_file()) if top.is_dir() else []


def _written(out: Collector, walker: Walker) -> tuple[list[Placed], list[Draft]]:
    """The files the script writes: kept in the app dir, or text inputs. An image list is kept
    only when the image ships it (else its images are images.extra)."""
    from clusterbuild.importer.rendered import ships

    placed, texts = [], []
    others = [w for w in out.written.values() if not w.listing]
    recipe = next((place_written(w, walker.committed(w.path)) for w in others if w.path in RECIPES), None)
    recipe_text = (recipe.content if isinstance(recipe, Placed) else str(recipe["text"])) if recipe \
        else next((text for name in RECIPES if (text := walker.committed(name)) is not None), "")
    for written in out.written.values():
        if written.listing and not ships(recipe_text, written.path):
            _listed_as_edited(out, written)
            continue
        if written.listing:
            listed = {(o.line, o.text) for o in written.origins}
            out.images = [(i, o) for i, o in out.images if (o.line, o.text) not in listed]
        kept = place_written(written, walker.committed(written.path))
        if isinstance(kept, Placed):
            placed.append(kept)
        else:
            texts.append(Draft(kept, list(written.origins), written.path, written.origins[0].line))
    return placed, texts


def _listed_as_edited(out: Collector, written: Written) -> None:
    """The images of an image list that the script edits after writing it (``sed -i``): those
    of its final text (they were taken as it was written)."""
    from clusterbuild.importer.commands import split_images

    if not any(o.detail.startswith("edits ") for o in written.origins):
        return
    listed = {(o.line, o.text) for o in written.origins}
    out.images = [(i, o) for i, o in out.images if (o.line, o.text) not in listed]
    images = [image.template() for image in split_images(written.text)]
    out.images += [(image, replace(written.origins[0], detail="images.extra")) for image in images]
    out.images += [(images[0], replace(o, detail="images.extra")) for o in written.origins
                   if o.detail.startswith("edits ") and images]  # the edits are converted too


def _validate(spec: dict[str, Any], path: str) -> None:
    from pydantic import ValidationError

    from clusterbuild.schema.models import AppSpec

    try:
        AppSpec.model_validate(spec)
    except ValidationError as e:  # a converter bug: say so rather than write a spec that fails later
        raise InputError(f"{path}: the converted spec is invalid: {e.errors()[0]['msg']}",
                         hint="write clusterbuild.yaml by hand, and report the script") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _at(path: str, line: int, end: int = 0) -> str:
    """``init.sh:12`` (``init.sh:12-20`` for a range), or ``line 12`` without a path."""
    lines = f"{line}-{end}" if end > line else str(line)
    return f"{path}:{lines}" if path else f"line {lines}"


def _origin_line(path: str, origin: Origin) -> str:
    return f"{_at(path, origin.line)} {_one_line(origin.text)}"


def _converted(path: str, drafts: list[Draft], images: list[tuple[str, Origin]],
               files: list[Placed]) -> tuple[str, ...]:
    lines: list[tuple[int, str]] = []
    for placed in files:
        lines += [(o.line, f"{_origin_line(path, o)} -> the file {placed.path}") for o in placed.origins]
    for n, draft in enumerate(drafts):
        for origin in draft.origins:
            detail = f" ({origin.detail})" if origin.detail else ""
            lines.append((origin.line, f"{_origin_line(path, origin)} -> inputs[{n}] {draft.label}{detail}"))
    for image, origin in images:
        lines.append((origin.line, f"{_origin_line(path, origin)} -> images.extra {image}"))
    return tuple(dict.fromkeys(text for _, text in sorted(lines, key=lambda item: item[0])))


def _skipped(path: str, skips: list[Skip]) -> tuple[str, ...]:
    ordered = sorted(skips, key=lambda s: s.origin.line)
    return tuple(dict.fromkeys(f"{_at(path, s.origin.line, s.end_line)} {_one_line(s.origin.text)}: "
                               f"{s.reason}" for s in ordered))


def _yaml(spec: dict[str, Any], drafts: list[Draft], images: list[tuple[str, Origin]], path: str,
          skips: list[Skip], files: list[Placed], rendered: list[Rendered],
          reads: dict[str, tuple[dict[str, Any], Origin]], out_origins: dict[str, Origin]) -> str:
    """The spec as YAML, each input under the lines it comes from, the header naming what is left."""
    todo = _skipped("", [s for s in skips if not s.reason.startswith("not needed")])
    needless = len(_skipped("", skips)) - len(todo)
    lines = [f"# clusterbuild.yaml converted from {path} by `clusterbuild import`.",
             "# Check it, run `clusterbuild lock`, then build and compare. "
             "Schema: `clusterbuild schema app`."]
    if todo:
        lines += [f"# Not converted ({len(todo)}), to do by hand:", *(f"#   {s}" for s in todo)]
    lines.append(f"# Not needed: {needless} commands (checks, messages, cleanup).")
    if files:
        lines.append("# Files the script writes, kept in the app dir: "
                     + ", ".join(f"{f.path} (line {f.origins[0].line})" for f in files) + ".")
    if "releases" in spec:
        asked = "latest releases the script asks GitHub for" if all(
            "github" in fields for fields in spec["releases"].values()) else \
            "values the script asks GitHub for or reads out of a download"
        lines += [f"releases:  # {asked}: `clusterbuild lock` pins them"]
        for name, fields in spec["releases"].items():
            if name in out_origins:
                lines.append(f"  # {_origin_line('', out_origins[name])}")
            lines += ["  " + line for line in _dump({name: fields}).splitlines()]
    if "build_args" in spec:
        lines += ["build_args:  # the script's variables in the Kubefile it writes"]
        lines += ["  " + line for line in _dump(spec["build_args"]).splitlines()]
    lines.append("inputs:" if drafts else "inputs: []")
    for draft in drafts:
        origins = sorted(set(draft.origins), key=lambda o: (o.line, o.detail, o.text))
        lines += [f"  # {_origin_line('', o)}" for o in origins]
        lines += ["  " + line for line in _dump([draft.fields]).splitlines()]
    if "images" in spec:
        lines.append("images:")
    if spec.get("images", {}).get("extra"):
        lines.append("  extra:")
        sources = {image: origin for image, origin in reversed(images)}
        for image in spec["images"]["extra"]:
            lines += [f"    # {_origin_line('', sources[image])}", "    " + _dump([image]).strip()]
    if reads:
        lines.append("  read:  # values the script reads out of files for its image lists")
        for name, (fields, origin) in reads.items():
            lines.append(f"    # {_origin_line('', origin)}")
            lines += ["    " + text for text in _dump({name: fields}).splitlines()]
    if spec.get("images", {}).get("profiles"):
        lines.append("  profiles:  # values of charts the script renders for the image scan")
        for name, values in spec["images"]["profiles"].items():
            line = int(name.rsplit("-", 1)[-1])
            lines += [f"    # {_origin_line('', s.origin)}" for s in rendered if s.origin.line == line]
            lines += ["    " + text for text in _dump({name: values}).splitlines()]
    return "\n".join(lines) + "\n"


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096)


def write_conversion(app_dir: Path, conversion: Conversion) -> Path:
    """Write ``clusterbuild.yaml`` into ``app_dir`` (an existing one is never overwritten), then
    the files the script writes, as it would (a committed one is replaced, or appended to)."""
    target = app_dir / SPEC_NAME
    if not app_dir.is_dir():
        raise InputError(f"{app_dir}: no such app directory")
    try:
        with open(target, "x", encoding="utf-8") as f:
            f.write(conversion.yaml_text)
            f.flush()
            os.fsync(f.fileno())
    except FileExistsError:
        raise InputError(f"{target} exists, so the conversion was not written",
                         hint="move it away to import again, or merge the printed spec by hand") from None
    for placed in conversion.files:
        _write_file(app_dir, placed)
    return target


def _write_file(app_dir: Path, placed: Placed) -> None:
    path = app_dir / placed.path
    before = path.read_text(encoding="utf-8") if placed.append and path.is_file() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.import")
    temp.write_text(before + placed.content, encoding="utf-8")
    if placed.mode:
        temp.chmod(int(placed.mode, 8))
    os.replace(temp, path)
