"""``discover_images``: every image a build context needs, merged with its provenance.

What is read (paths are context-relative, as in the ``files`` mapping):

    images/shim/**                    one reference per line          (both modes)
    images/skopeo/tar.txt             <transport>:<file>@<name:tag>   (both modes)
    manifests/**/*.{yaml,yml,tmpl}    sealos line scan                (both modes)
                                      + YAML walk                     (full)
    charts/<dir or *.tgz>             rendered, then as manifests     (see charts.py)
    .sealignore                       references left out (tar.txt images are kept, as in sealos)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from clusterbuild.discover.charts import chart_hits
from clusterbuild.discover.line_scan import read_archive_list, read_ignore_list, read_list, scan_lines
from clusterbuild.discover.model import DiscoverOptions, FoundImage, Hit
from clusterbuild.discover.yaml_walk import walk_text
from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference

SHIM_DIR = "images/shim/"
TAR_LIST = "images/skopeo/tar.txt"
MANIFESTS_DIR = "manifests/"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".tmpl")
IGNORE_FILE = ".sealignore"


def discover_images(files: Mapping[str, Path], options: DiscoverOptions,
                    warnings: list[str] | None = None) -> list[FoundImage]:
    """Images the context needs, sorted by reference string, each with merged sources.

    ``files`` maps context-relative paths (``charts/web/Chart.yaml``) to local files.
    Invalid references in lists fail early with an InputError naming file:line. With
    ``warnings``, value profiles that do not render are warnings there, not errors.
    """
    context = {_normalise_key(key): Path(path) for key, path in files.items()}
    ignored: set[Reference] = set()
    if IGNORE_FILE in context:
        ignored = read_ignore_list(_read(context[IGNORE_FILE], IGNORE_FILE), IGNORE_FILE)
    archived = list(read_archive_list(_read(context[TAR_LIST], TAR_LIST), TAR_LIST)) \
        if TAR_LIST in context else []
    pulled = [*_file_hits(context, options), *chart_hits(context, options, warnings)]  # charts last: slowest
    kept = [hit for hit in pulled if not _is_ignored(hit.reference, ignored)]
    return merge_hits([*kept, *archived], keep_digests=options.keep_digests)


def _file_hits(context: Mapping[str, Path], options: DiscoverOptions) -> Iterator[Hit]:
    for key in sorted(context):
        if key.startswith(SHIM_DIR):
            yield from read_list(_read(context[key], key), key)
        elif key.startswith(MANIFESTS_DIR) and key.lower().endswith(MANIFEST_SUFFIXES):
            text = _read(context[key], key)
            yield from scan_lines(text, key)
            if options.mode == "full":
                yield from walk_text(text, key, strict=True)


def merge_hits(hits: Iterable[Hit], *, keep_digests: bool) -> list[FoundImage]:
    """One FoundImage per reference (digest dropped when tagged, unless kept), sorted.

    Sources keep the order hits came in; the rules that found an image at one place are
    joined: ``manifests/a.yaml:3 by line scan, YAML walk: containers[0].image``.
    """
    sources: dict[Reference, dict[str, dict[str, None]]] = {}
    archives: dict[Reference, dict[str, None]] = {}
    for hit in hits:
        reference = hit.reference if keep_digests else hit.reference.tagged()
        sources.setdefault(reference, {}).setdefault(hit.source, {})[hit.rule] = None
        archives.setdefault(reference, {})
        if hit.archive:
            archives[reference][hit.archive] = None
    return sorted((FoundImage(ref, _provenance(sources[ref]), tuple(archives[ref])) for ref in sources),
                  key=lambda found: str(found.reference))


def _provenance(places: dict[str, dict[str, None]]) -> tuple[str, ...]:
    return tuple(f"{source} by {', '.join(rules)}" if any(rules) else source
                 for source, rules in places.items())


def _is_ignored(reference: Reference, ignored: set[Reference]) -> bool:
    """Listed as is, or listed without a digest and equal once this one's digest is dropped."""
    return reference in ignored or reference.tagged() in ignored


def _normalise_key(key: str) -> str:
    parts = [part for part in key.replace("\\", "/").split("/") if part not in ("", ".")]
    return "/".join(parts)


def _read(path: Path, key: str) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{key}: cannot be read ({exc.strerror or exc})",
                         hint="check that the file exists and is readable") from None
