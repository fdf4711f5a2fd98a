"""Bad input found by image discovery: one-line InputErrors naming file:line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterbuild.discover import DiscoverOptions, discover_images
from clusterbuild.errors import InputError

DATA = Path(__file__).parent / "data" / "discover"


def context(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*")) if path.is_file()}


def write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return context(root)


def error(files: dict[str, Path], options: DiscoverOptions | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        discover_images(files, options or DiscoverOptions())
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize("mode", ["sealos", "full"])
def test_missing_dependency_is_named(mode: str) -> None:
    problem = error(context(DATA / "missing-dep"), DiscoverOptions(mode=mode))  # type: ignore[arg-type]
    assert problem.message == ("charts/shop/Chart.yaml: dependency postgres-lite 12.1.0 from "
                               "https://charts.example.com/stable is missing in charts/shop/charts/")
    assert "helm dependency build charts/shop" in problem.hint


def test_failing_template_names_its_line() -> None:
    problem = error(context(DATA / "broken"), DiscoverOptions(mode="sealos"))
    assert problem.message == ("charts/ledger/templates/deployment.yaml:13:24: chart does not render "
                               "(release dryrun): execution error: database.host is required")


def test_failing_template_under_a_profile_names_the_profile() -> None:
    profiles = {"no-worker-image": {"worker": {"enabled": True, "image": None}}}
    problem = error(context(DATA / "app"), DiscoverOptions(profiles=profiles))
    assert problem.message.startswith("charts/web/templates/worker.yaml:11:")
    assert "chart does not render (profile no-worker-image): " in problem.message


def test_template_syntax_error(tmp_path: Path) -> None:
    files = write(tmp_path, {"charts/x/Chart.yaml": "apiVersion: v2\nname: x\nversion: 1.0.0\n",
                             "charts/x/templates/a.yaml": "a: 1\nb: {{ .Values.b | quote }\n"})
    assert error(files).message.startswith("charts/x/templates/a.yaml:2: chart does not render")


def test_directory_without_chart_yaml(tmp_path: Path) -> None:
    files = write(tmp_path, {"charts/notes/README.md": "hello\n"})
    assert error(files).message == "charts/notes: a directory of charts/ without Chart.yaml"


def test_archive_that_is_not_a_chart(tmp_path: Path) -> None:
    files = write(tmp_path, {"charts/web-1.0.tgz": "not gzip"})
    assert error(files).message.startswith("charts/web-1.0.tgz: not a Helm chart (")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("images/shim/list", "nginx:1\nNot An Image\n", "images/shim/list:2: 'Not An Image' is not an image"),
    ("images/skopeo/tar.txt", "\nnginx.tar@nginx:1\n", "images/skopeo/tar.txt:2: 'nginx.tar@nginx:1' is not"),
    ("images/skopeo/tar.txt", "docker-archive:a.tar@UPPER\n", "images/skopeo/tar.txt:1: 'UPPER' is not an"),
    (".sealignore", "nginx:1\n\n  bad ref\n", ".sealignore:3: 'bad ref' is not an image reference"),
])
def test_bad_list_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    for mode in ("sealos", "full"):
        assert error(write(tmp_path, {name: text}), DiscoverOptions(mode=mode)).message.startswith(message)


def test_bad_container_image_in_a_manifest_fails_in_full_mode(tmp_path: Path) -> None:
    files = write(tmp_path, {"manifests/a.yaml": "kind: Pod\nspec:\n  containers:\n"
                                                  "    - {name: a, image: 'Example/App:1'}\n"
                                                  "    - {name: b, image: '{{ .IMAGE }}'}\n"})
    assert discover_images(files, DiscoverOptions(mode="sealos")) == []
    assert error(files).message.startswith("manifests/a.yaml:4: 'Example/App:1' is not an image reference")


def test_values_file_not_in_the_context(tmp_path: Path) -> None:
    files = context(DATA / "app")
    problem = error(files, DiscoverOptions(helm_set=("-f", "prod.yaml")))
    assert problem.message == "-f prod.yaml: no such file in the build context"
    install_time = ("-f", "/root/v.yaml", "-f", "https://example.com/v.yaml", "--set", "worker.enabled=true")
    found = discover_images(files, DiscoverOptions(helm_set=install_time))
    assert "docker.io/example/worker:1.4.2" in {str(image.reference) for image in found}


def test_malformed_set_expression() -> None:
    problem = error(context(DATA / "app"), DiscoverOptions(helm_set=("--set", "worker.enabled")))
    assert problem.message.startswith("--set worker.enabled: ")
