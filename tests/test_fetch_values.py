"""Editing a chart's values.yaml by dotted path, as the catalogue's ``yq -i`` patches do."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from clusterbuild.errors import BuildError, InputError
from clusterbuild.fetch.values import edit_values, parse_path

VALUES = """\
# the chart's defaults
image:
  repository: quay.io/demo/app   # trailing comment
  tag: v1.2.3
  digest: sha256:abc
replicaCount: 1
podAnnotations: {}
containers:
  - name: app
    image: demo:1
  - name: sidecar
    image: proxy:2
"""


def load(text: str) -> Any:
    return yaml.safe_load(text)


def test_set_existing_keys_keeps_key_order() -> None:
    edited = load(edit_values(VALUES, {"image.digest": None, "replicaCount": 3}, []))
    assert list(edited) == ["image", "replicaCount", "podAnnotations", "containers"]
    assert list(edited["image"]) == ["repository", "tag", "digest"]
    assert edited["image"]["digest"] is None and edited["replicaCount"] == 3


def test_set_creates_missing_parents_and_escaped_keys() -> None:
    edited = load(edit_values(VALUES, {"global.imageRegistry": "sealos.hub:5000",
                                       r"podAnnotations.prometheus\.io/scrape": "true",
                                       "image.pullSecrets[0].name": "regcred"}, []))
    assert edited["global"] == {"imageRegistry": "sealos.hub:5000"}
    assert edited["podAnnotations"] == {"prometheus.io/scrape": "true"}
    assert edited["image"]["pullSecrets"] == [{"name": "regcred"}]


def test_list_indexes() -> None:
    edited = load(edit_values(VALUES, {"containers[1].image": "proxy:3", "containers[2]": {"name": "x"}}, []))
    assert [c.get("image") for c in edited["containers"]] == ["demo:1", "proxy:3", None]
    with pytest.raises(InputError, match=r"index 5 is past the end of a list of 2"):
        edit_values(VALUES, {"containers[5].image": "x"}, [])


def test_delete_and_missing_keys() -> None:
    edited = load(edit_values(VALUES, {}, ["image.digest", "containers[0]", "no.such.key", "image.x.y",
                                           "containers[9].name", "replicaCount.sub"]))
    assert edited["image"] == {"repository": "quay.io/demo/app", "tag": "v1.2.3"}
    assert [c["name"] for c in edited["containers"]] == ["sidecar"]
    assert edited["replicaCount"] == 1


def test_deletes_run_before_sets() -> None:
    edited = load(edit_values(VALUES, {"image.tag": "v2"}, ["image"]))
    assert edited["image"] == {"tag": "v2"}


def test_errors() -> None:
    with pytest.raises(InputError, match=r"'tag' holds a str, not a map"):
        edit_values(VALUES, {"image.tag.major": 1}, [])
    with pytest.raises(InputError, match=r"'containers' holds a list, not a map"):
        edit_values(VALUES, {"containers.name": "x"}, [])
    with pytest.raises(BuildError, match="holds a list, not a map"):
        edit_values("- a\n- b\n", {"x": 1}, [])
    with pytest.raises(BuildError, match="not valid YAML"):
        edit_values("a: [1,\n", {}, [])
    with pytest.raises(InputError, match="cannot hold"):
        edit_values("", {"x": object()}, [])
    assert load(edit_values("", {"a.b": 1}, [])) == {"a": {"b": 1}}
    assert load(edit_values("# only a comment\n", {}, ["a"])) == {}


@pytest.mark.parametrize(("path", "tokens"), [
    ("a", ["a"]), ("image.digest", ["image", "digest"]), (r"a\.b.c", ["a.b", "c"]),
    ("a[0].b", ["a", 0, "b"]), ("a[0][1]", ["a", 0, 1]), (r"a\[0\]", ["a[0]"]), (r"a\\b", ["a\\b"]),
])
def test_parse_path(path: str, tokens: list[str | int]) -> None:
    assert parse_path(path) == tokens


@pytest.mark.parametrize("path", ["", "a.", ".a", "a..b", "a[x]", "a[0]b", "[0]", "a[0"])
def test_parse_path_refuses_malformed_paths(path: str) -> None:
    with pytest.raises(InputError, match="values path"):
        parse_path(path)


KEYS = st.text(st.characters(codec="utf-8", exclude_characters="\\\x00", exclude_categories=("Cs", "Cc")),
               min_size=1, max_size=8)


@given(st.lists(KEYS, min_size=1, max_size=4), st.one_of(st.integers(), st.text(max_size=10), st.none()))
def test_a_set_value_reads_back_at_its_path(keys: list[str], value: Any) -> None:
    path = ".".join(k.replace(".", "\\.").replace("[", "\\[") for k in keys)
    node = load(edit_values("top: {}\n", {path: value}, []))
    for key in keys:
        node = node[key]
    assert node == value
