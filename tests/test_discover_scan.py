"""The scanners on their own: sealos' line scan (with hypothesis), the YAML walk, HELM_OPTS."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from clusterbuild.discover import DiscoverOptions, helm_opts_from_env
from clusterbuild.discover.collect import merge_hits
from clusterbuild.discover.line_scan import image_on_line, parse_lenient, scan_lines
from clusterbuild.discover.model import Hit
from clusterbuild.discover.yaml_walk import split_documents, walk_text
from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference

_COMPONENT = st.from_regex(r"[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,5}){0,2}", fullmatch=True)
references = st.builds(
    lambda registry, path, tag, digest: f"{registry}{'/'.join(path)}{tag}{digest}",
    st.sampled_from(["", "docker.io/", "quay.io/", "localhost:5000/", "registry.example.com:8443/"]),
    st.lists(_COMPONENT, min_size=1, max_size=3),
    st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True)),
)


@pytest.mark.parametrize(("line", "found"), [
    ("image: nginx", "nginx"),
    ('    - image: "nginx:1"', "nginx:1"),
    ("  image: 'nginx:1'", "nginx:1"),
    ("image: \"nginx:1'", "\"nginx:1'"),      # unmatched quotes stay
    ("  # image: nginx", ""),
    ("imagePullPolicy: Always", ""),
    ("sidecarimage: nginx", "nginx"),            # any "image:" counts, as in sealos
    ("containers: [{name: a, image: nginx}]", "nginx}]"),  # then unparseable: skipped
    ("image: nginx # comment", "nginx # comment"),
])
def test_image_on_line(line: str, found: str) -> None:
    assert image_on_line(line) == found


def test_line_scan_skips_what_it_cannot_parse() -> None:
    text = "image: nginx # c\nimage: {{ .X }}\nimage: " + "a" * 64 + "\n  image: redis:7\r\nimage: null\n"
    assert [(str(h.reference), h.source) for h in scan_lines(text, "m.yaml")] == [
        ("docker.io/library/redis:7", "m.yaml:4")]


@given(references, st.sampled_from(["", "  ", "    - ", "- "]), st.sampled_from(["", "'", '"']))
def test_line_scan_reads_any_reference(text: str, prefix: str, quote: str) -> None:
    assume(parse_lenient(text) is not None)
    hits = list(scan_lines(f"kind: Pod\n{prefix}image: {quote}{text}{quote}  \n", "f"))
    assert hits == [Hit(Reference.parse(text), "f:2", rule="line scan")]


@given(st.text())
def test_line_scan_never_raises_and_skips_comments(text: str) -> None:
    for hit in scan_lines(text, "f"):
        line = text.split("\n")[int(hit.source.rpartition(":")[2]) - 1]
        assert not line.strip().startswith("#")
        assert "image:" in line


@given(references, st.booleans(), st.booleans())
def test_walk_reads_flow_style_and_trailing_comments(text: str, flow: bool, comment: bool) -> None:
    assume(parse_lenient(text) is not None)
    document = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "a", "image": text}]}}}}}}
    dumped = yaml.safe_dump(document, default_flow_style=flow) if not comment else \
        f"spec:\n  containers:\n    - name: a\n      image: {json.dumps(text)} # note\n"
    assert [hit.reference for hit in walk_text(dumped, "f", strict=True)] == [Reference.parse(text)]


def test_walk_finds_image_maps_keys_env_and_flags() -> None:
    text = """\
kind: Deployment
spec:
  backupImage: quay.io/x/backup:v1
  logoImage: logo.png
  image: {registry: quay.io/, repository: x/agent, tag: 3, digest: "sha256:%s"}
  template:
    spec:
      initContainers:
        - name: i
          image: busybox:1
          env:
            - {name: RELATED_IMAGE_DB, value: "quay.io/x/db:2"}
            - {name: MODE, value: "a/b:c"}
          args: ["--reloader=quay.io/x/reloader:v0.1", "--port=80", "--host=example.com:443"]
""" % ("0" * 64)
    found = {str(hit.reference): hit.source for hit in walk_text(text, "m.yaml", strict=True)}
    assert found == {
        "quay.io/x/backup:v1": "m.yaml:3",
        "quay.io/x/agent:3@sha256:" + "0" * 64: "m.yaml:5",
        "docker.io/library/busybox:1": "m.yaml:10",
        "quay.io/x/db:2": "m.yaml:12",
        "quay.io/x/reloader:v0.1": "m.yaml:14",
    }


def test_documents_keep_their_line_numbers() -> None:
    text = "a: 1\n---\nb: 2\n--- # c\n\nkind: Pod\nspec: {containers: [{image: x:1}]}\n"
    assert [line for line, _ in split_documents(text)] == [0, 1, 3]
    assert [hit.source for hit in walk_text(text, "f", strict=True)] == ["f:7"]
    assert [hit.source for hit in walk_text("a: [\n---\nimage: y:1\n", "f", strict=True)] == ["f:3"]


@pytest.mark.parametrize(("env", "pairs"), [
    ({"HELM_OPTS": "--set a=1 --set-string=b=2 -f v.yaml --values=w.yaml -fx.yaml"},
     ("--set", "a=1", "--set-string", "b=2", "-f", "v.yaml", "-f", "w.yaml", "-f", "x.yaml")),
    ({"HELM_OPTS": "-n kube-system --wait --timeout 5m --set 'a=x y'"}, ("--set", "a=x y")),
    ({"CHART_HELM_ARGS": "--set-json a=[1]", "HELM_OPTS": "--set-literal b=c,d", "PATH": "--set z=1"},
     ("--set-json", "a=[1]", "--set-literal", "b=c,d")),
    ({"HELM_OPTS": ""}, ()),
])
def test_helm_opts_from_env(env: dict[str, str], pairs: tuple[str, ...]) -> None:
    assert helm_opts_from_env(env) == pairs


@pytest.mark.parametrize("value", ["--set 'a=1", "--set"])
def test_helm_opts_that_cannot_be_read(value: str) -> None:
    with pytest.raises(InputError):
        helm_opts_from_env({"HELM_OPTS": value})


def test_merge_dedupes_sorts_and_keeps_source_order() -> None:
    nginx, digest = Reference.parse("nginx:1"), "@sha256:" + "1" * 64
    hits = [Hit(Reference.parse("quay.io/a:1"), "b:1"), Hit(nginx, "z:1"),
            Hit(Reference.parse("nginx:1" + digest), "a:1"), Hit(nginx, "z:1")]
    merged = merge_hits(hits, keep_digests=False)
    assert [(str(found.reference), found.sources) for found in merged] == [
        ("docker.io/library/nginx:1", ("z:1", "a:1")), ("quay.io/a:1", ("b:1",))]
    assert len(merge_hits(hits, keep_digests=True)) == 3


def test_options_fingerprint_is_json() -> None:
    profiles = {"b": MappingProxyType({"x": MappingProxyType({"y": (1, 2)})}), "a": {}}
    options = DiscoverOptions(helm_set=("--set", "a=1"), profiles=profiles)
    assert json.loads(json.dumps(options.fingerprint()))["profiles"] == {"a": {}, "b": {"x": {"y": [1, 2]}}}
    with pytest.raises(ValueError, match="mode must be"):
        DiscoverOptions(mode="Full")  # type: ignore[arg-type]


def test_walk_ignores_scalars_that_are_not_strings() -> None:
    text = "containers:\n  - {name: a, image: null}\n  - {name: b, image: 5}\n  - {name: c, image: ''}\n"
    assert list(walk_text(text, "m.yaml", strict=True)) == []
    assert [str(hit.reference) for hit in walk_text("image: '5'\n", "m.yaml", strict=True)] == [
        "docker.io/library/5:latest"]
