"""Kubefile semantics a Docker/BuildKit user expects, on real app directories.

Each test writes an app dir, then parses, evaluates and resolves its COPY
instructions the way ``clusterbuild`` does for a build: what ends up in the
image config and in the layers must be what ``docker build`` would produce.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from clusterbuild.cache.file_digests import FileDigests, hash_file
from clusterbuild.errors import InputError
from clusterbuild.kubefile.copy import resolve_copy
from clusterbuild.kubefile.evaluate import DEFAULT_PATH, BuildRecipe, CopyOp, evaluate
from clusterbuild.kubefile.parse import RECIPE_NAMES, find_recipe, parse_recipe
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.platform import Platform
from clusterbuild.workspace.context import walk_context

AMD64 = Platform.parse("linux/amd64")


# --- helpers -----------------------------------------------------------------------------------


def make_app(root: Path, kubefile: str, files: dict[str, str | bytes] | None = None,
             name: str = "Kubefile") -> Path:
    """An app dir with a recipe and files (paths ending in '/' are empty directories)."""
    app = root / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / name).write_text(kubefile)
    for rel, content in (files or {}).items():
        path = app / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return app


def build(app: Path, build_args: dict[str, str] | None = None,
          platform: Platform = AMD64) -> BuildRecipe:
    return evaluate(parse_recipe(find_recipe(app)), platform, build_args or {})


def env_of(recipe: BuildRecipe) -> tuple[tuple[str, str], ...]:
    """The image Env after the default PATH that BuildKit and buildah put first."""
    assert recipe.env[0] == ("PATH", DEFAULT_PATH)
    return recipe.env[1:]


def test_images_get_the_default_path_first_and_env_path_replaces_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV A=1\nENV PATH=/opt/bin:$PATH\n")
    assert build(app).env == (("PATH", "/opt/bin:" + DEFAULT_PATH), ("A", "1"))


def copy_ops(recipe: BuildRecipe) -> list[CopyOp]:
    return [step for step in recipe.steps if isinstance(step, CopyOp)]


def image_files(app: Path, build_args: dict[str, str] | None = None) -> dict[str, FileEntry]:
    """Everything the COPY/ADD layers put in the image, by path (later layers win)."""
    context = walk_context(app, FileDigests(None, app), "")
    image: dict[str, FileEntry] = {}
    for op in copy_ops(build(app, build_args)):
        for placed in resolve_copy(op, context, {p for p, e in image.items() if e.kind is EntryKind.DIR}):
            parts = placed.entry.path.split("/")
            for i in range(1, len(parts)):  # a layer implies its parent directories
                parent = "/".join(parts[:i])
                image.setdefault(parent, FileEntry(parent, EntryKind.DIR, 0o755))
            image[placed.entry.path] = placed.entry
    return image


def files_only(image: dict[str, FileEntry]) -> set[str]:
    return {path for path, entry in image.items() if entry.kind is not EntryKind.DIR}


def expect_error(action: object, *needles: str) -> InputError:
    """``action()`` fails with a one-line InputError that has a hint and mentions ``needles``."""
    assert callable(action)
    with pytest.raises(InputError) as info:
        action()
    error = info.value
    for needle in needles:
        assert needle in str(error), f"{needle!r} not in {error}"
    assert error.hint, f"no hint in {error}"
    assert "\n" not in error.message
    return error


def at(app: Path, line: int, name: str = "Kubefile") -> str:
    return f"{app / name}:{line}:"


# --- ENV, LABEL and ARG ------------------------------------------------------------------------


def test_env_default_with_quoted_word_like_sealos_apps(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'FROM scratch\nENV NAME=${NAME:-"ingress-nginx"}\n'
                             'ENV HELM_OPTS=${HELM_OPTS:-"--set controller.replicaCount=1"}\n')
    assert dict(env_of(build(app))) == {"NAME": "ingress-nginx",
                                    "HELM_OPTS": "--set controller.replicaCount=1"}


def test_env_default_can_come_from_a_declared_build_arg(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'FROM scratch\nARG NAME\nENV NAME=${NAME:-"ingress-nginx"}\n')
    assert dict(env_of(build(app, {"NAME": "my-ingress"}))) == {"NAME": "my-ingress"}
    assert dict(env_of(build(app))) == {"NAME": "ingress-nginx"}


def test_env_pairs_see_the_values_from_before_the_instruction(tmp_path: Path) -> None:
    # Docker's documented example: def gets the old abc, ghi the new one.
    app = make_app(tmp_path, "FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n")
    assert env_of(build(app)) == (("abc", "bye"), ("def", "hello"), ("ghi", "bye"))


def test_env_in_one_instruction_cannot_see_its_own_earlier_pair(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV A=1 B=$A C=${A:-unset}\n")
    assert dict(env_of(build(app))) == {"A": "1", "B": "", "C": "unset"}


def test_legacy_env_form_takes_the_rest_of_the_line(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV A hello world\nENV B $A and more\n")
    assert dict(env_of(build(app))) == {"A": "hello world", "B": "hello world and more"}


def test_env_keeps_first_position_when_redefined(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV A=1\nENV B=2\nENV A=3\n")
    assert env_of(build(app)) == (("A", "3"), ("B", "2"))


def test_env_quotes_and_escapes(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV A=\"a b\" B='$A' C=\\$A D=\"x\\\"y\"\n")
    assert dict(env_of(build(app))) == {"A": "a b", "B": "$A", "C": "$A", "D": 'x"y'}


def test_label_with_quoted_keys_and_continuation(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'FROM scratch\nARG V=1.2\n'
                             'LABEL "com.example.vendor"="ACME Incorporated" \\\n'
                             '      version=$V description="a \\"quoted\\" word"\n'
                             'LABEL version=2\n')
    assert dict(build(app).labels) == {"com.example.vendor": "ACME Incorporated",
                                       "version": "2", "description": 'a "quoted" word'}


def test_arg_before_from_is_only_visible_when_redeclared(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG VERSION=v1.2.3\nFROM scratch\nLABEL before=$VERSION\n"
                             "ARG VERSION\nLABEL after=$VERSION\n")
    assert dict(build(app).labels) == {"before": "", "after": "v1.2.3"}


def test_global_args_see_earlier_global_args_and_feed_from(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG BASE=scratch\nARG MAJOR=1\nARG TAG=v${MAJOR}.0\n"
                             "FROM ${BASE}\nARG TAG\nLABEL tag=$TAG\n")
    assert dict(build(app).labels) == {"tag": "v1.0"}
    assert dict(build(app, {"MAJOR": "2"}).labels) == {"tag": "v2.0"}


def test_global_args_see_platform_args_without_declaring_them(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG BIN=tool-${TARGETOS}-${TARGETARCH}\nFROM scratch\nARG BIN\n"
                             "LABEL bin=$BIN\n")
    assert dict(build(app).labels) == {"bin": "tool-linux-amd64"}
    arm = build(app, platform=Platform.parse("linux/arm64"))
    assert dict(arm.labels) == {"bin": "tool-linux-arm64"}


def test_build_arg_overrides_defaults_in_both_scopes(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG G=global\nFROM scratch\nARG G\nARG S=stage\nLABEL g=$G s=$S\n")
    assert dict(build(app).labels) == {"g": "global", "s": "stage"}
    assert dict(build(app, {"G": "x", "S": "y"}).labels) == {"g": "x", "s": "y"}


def test_build_arg_overrides_a_stage_default_that_redeclares_a_global(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG V=global\nFROM scratch\nARG V=stage\nLABEL v=$V\n")
    assert dict(build(app).labels) == {"v": "stage"}
    assert dict(build(app, {"V": "cli"}).labels) == {"v": "cli"}


def test_undeclared_build_arg_is_not_visible(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nLABEL v=${SECRET:-none}\n")
    assert dict(build(app, {"SECRET": "s3cr3t"}).labels) == {"v": "none"}


def test_arg_without_a_value_leaves_the_variable_unset(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nARG X\nLABEL a=${X-unset} b=${X+set}\n"
                             "ARG Y=1\nARG Y\nLABEL y=$Y\n")
    assert dict(build(app).labels) == {"a": "unset", "b": "", "y": "1"}
    assert dict(build(app, {"X": ""}).labels) == {"a": "", "b": "set", "y": "1"}


def test_arg_default_sees_earlier_args_and_envs(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nARG A=1\nENV E=2\nARG B=$A-$E\nLABEL b=$B\n")
    assert dict(build(app).labels) == {"b": "1-2"}


def test_args_are_not_in_the_image_env(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG G=1\nFROM scratch\nARG G\nARG S=2\nENV E=$G$S\n")
    assert env_of(build(app)) == (("E", "12"),)


def test_targetarch_is_set_only_when_declared_with_arg(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nLABEL before=${TARGETARCH:-none}\n"
                             "ARG TARGETARCH TARGETOS TARGETPLATFORM\n"
                             "LABEL after=$TARGETOS/$TARGETARCH platform=$TARGETPLATFORM\n")
    assert dict(build(app).labels) == {"before": "none", "after": "linux/amd64",
                                       "platform": "linux/amd64"}
    arm = dict(build(app, platform=Platform.parse("linux/arm64")).labels)
    assert arm["after"] == "linux/arm64"


def test_copy_source_can_use_targetarch(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nARG TARGETARCH\nCOPY bin/$TARGETARCH/tool /usr/bin/tool\n",
                   {"bin/amd64/tool": "x86", "bin/arm64/tool": "arm"})
    image = image_files(app)
    assert files_only(image) == {"usr/bin/tool"}
    assert image["usr/bin/tool"].digest == hash_file(app / "bin/amd64/tool")


def test_env_overrides_arg_of_the_same_name(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nARG V=from-arg\nENV V=from-env\nLABEL v=$V\n")
    assert dict(build(app).labels) == {"v": "from-env"}
    assert dict(build(app, {"V": "from-cli"}).labels) == {"v": "from-env"}
    assert dict(env_of(build(app))) == {"V": "from-env"}


def test_env_built_from_arg_of_the_same_name(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nARG VERSION=v1\nENV VERSION=${VERSION}-env\n"
                             "LABEL v=$VERSION\n")
    assert dict(env_of(build(app))) == {"VERSION": "v1-env"}
    assert dict(build(app).labels) == {"v": "v1-env"}


def test_escape_directive_backtick(tmp_path: Path) -> None:
    app = make_app(tmp_path, "# escape=`\nFROM scratch\nENV A=x`$B P=C:\\dir\n")
    assert dict(env_of(build(app))) == {"A": "x$B", "P": "C:\\dir"}


def test_expose_volume_user_stopsignal_expand(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV PORT=8080 DATA=/data\nEXPOSE 80 $PORT 53/udp\n"
                             "VOLUME [\"$DATA\"]\nUSER 65534\nSTOPSIGNAL SIGTERM\n")
    recipe = build(app)
    assert recipe.exposed_ports == ("80/tcp", "8080/tcp", "53/udp")
    assert recipe.volumes == ("/data",)
    assert (recipe.user, recipe.stop_signal) == ("65534", "SIGTERM")


# --- CMD and ENTRYPOINT ------------------------------------------------------------------------


def test_cmd_json_form_is_kept_and_never_expanded(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'FROM scratch\nENV NAME=x\n'
                             'CMD ["helm upgrade -i $(NAME) charts/$NAME", "$HOME"]\n')
    assert build(app).cmd == ("helm upgrade -i $(NAME) charts/$NAME", "$HOME")


def test_cmd_shell_form_is_wrapped_in_bin_sh(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV NAME=x\n"
                             "CMD helm upgrade -i $(NAME) charts/$NAME \\\n    --wait\n")
    assert build(app).cmd == ("/bin/sh", "-c", "helm upgrade -i $(NAME) charts/$NAME     --wait")


def test_entrypoint_forms(tmp_path: Path) -> None:
    shell = make_app(tmp_path / "a", "FROM scratch\nENTRYPOINT bash entrypoint.sh $(NAME)\n")
    assert build(shell).entrypoint == ("/bin/sh", "-c", "bash entrypoint.sh $(NAME)")
    json = make_app(tmp_path / "b", 'FROM scratch\nENTRYPOINT ["bash", "entrypoint.sh"]\n')
    assert build(json).entrypoint == ("bash", "entrypoint.sh")
    assert build(json).cmd is None


def test_last_cmd_wins(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'FROM scratch\nCMD ["a"]\nCMD ["b"]\n')
    assert build(app).cmd == ("b",)


def test_cmd_after_entrypoint_becomes_its_arguments(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'FROM scratch\nENTRYPOINT ["helm"]\nCMD ["version"]\n')
    recipe = build(app)
    assert (recipe.entrypoint, recipe.cmd) == (("helm",), ("version",))


def test_entrypoint_keeps_a_cmd_set_in_the_same_kubefile(tmp_path: Path) -> None:
    # BuildKit (and buildah) reset only a CMD inherited from the base image; FROM scratch
    # has none, so a CMD written earlier in this stage survives ENTRYPOINT.
    app = make_app(tmp_path, 'FROM scratch\nCMD ["version"]\nENTRYPOINT ["helm"]\n')
    recipe = build(app)
    assert (recipe.entrypoint, recipe.cmd) == (("helm",), ("version",))


# --- WORKDIR -----------------------------------------------------------------------------------


def test_workdir_relative_joins_and_cleans(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV D=deploy\nWORKDIR /opt\nWORKDIR app\n"
                             "WORKDIR ../$D/\nWORKDIR ./x/..\n")
    assert build(app).working_dir == "/opt/deploy"


def test_workdir_absolute_replaces(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nWORKDIR /opt/app\nWORKDIR /srv\n")
    assert build(app).working_dir == "/srv"


def test_copy_dest_is_relative_to_workdir(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nWORKDIR /opt/app\nCOPY a.txt conf/\nCOPY a.txt b.txt\n"
                             "COPY a.txt .\nCOPY a.txt ../up.txt\nCOPY a.txt /abs.txt\n",
                   {"a.txt": "a"})
    assert files_only(image_files(app)) == {"opt/app/conf/a.txt", "opt/app/b.txt",
                                            "opt/app/a.txt", "opt/up.txt", "abs.txt"}


@pytest.mark.parametrize("dest", [".", "./", "/app/.", "/app/"])
def test_copy_file_to_dot_or_slash_dot_goes_into_the_directory(tmp_path: Path, dest: str) -> None:
    app = make_app(tmp_path, f"FROM scratch\nWORKDIR /app\nCOPY a.txt {dest}\n", {"a.txt": "a"})
    assert files_only(image_files(app)) == {"app/a.txt"}


@pytest.mark.parametrize("dest", ["/data/.", "data/.", "/data/", "data/./"])
def test_copy_file_to_a_new_dir_with_slash_dot_goes_into_it(tmp_path: Path, dest: str) -> None:
    app = make_app(tmp_path, f"FROM scratch\nCOPY a.txt {dest}\n", {"a.txt": "a"})
    assert files_only(image_files(app)) == {"data/a.txt"}


@pytest.mark.parametrize("dest", ["/opt/app", "/opt", "app", "../opt/app"])
def test_copy_file_to_a_workdir_without_slash_goes_into_it(tmp_path: Path, dest: str) -> None:
    # WORKDIR creates its directory (and parents), so the destination is an existing dir.
    app = make_app(tmp_path, f"FROM scratch\nWORKDIR /opt/app\nWORKDIR /opt\nCOPY a.txt {dest}\n",
                   {"a.txt": "a"})
    expected = "opt/a.txt" if dest == "/opt" else "opt/app/a.txt"
    assert files_only(image_files(app)) == {expected}


def test_copy_dest_without_workdir_is_relative_to_root(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY a.txt etc/\n", {"a.txt": "a"})
    assert files_only(image_files(app)) == {"etc/a.txt"}


# --- COPY semantics ----------------------------------------------------------------------------


def test_copy_directory_copies_its_contents(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY charts /charts\nCOPY manifests manifests\n",
                   {"charts/nginx/Chart.yaml": "name: nginx", "charts/nginx/templates/d.yaml": "d",
                    "manifests/a.yaml": "a", "manifests/empty/": ""})
    image = image_files(app)
    assert files_only(image) == {"charts/nginx/Chart.yaml", "charts/nginx/templates/d.yaml",
                                 "manifests/a.yaml"}
    assert image["manifests/empty"].kind is EntryKind.DIR
    assert "charts/charts" not in image


def test_copy_dot_dot_copies_the_whole_context(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY . .\n",
                   {"entrypoint.sh": "echo", "charts/a/Chart.yaml": "a", "clusterbuild.yaml": "{}"})
    assert files_only(image_files(app)) == {"Kubefile", "entrypoint.sh", "charts/a/Chart.yaml"}


def test_copy_dot_dot_under_workdir(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nWORKDIR /app\nCOPY . .\n", {"a/b.txt": "b"})
    assert files_only(image_files(app)) == {"app/Kubefile", "app/a/b.txt"}


def test_copy_file_into_directory_with_trailing_slash(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY conf/app.yaml /etc/app/\n",
                   {"conf/app.yaml": "x"})
    image = image_files(app)
    assert files_only(image) == {"etc/app/app.yaml"}
    assert image["etc/app/app.yaml"].digest == hash_file(app / "conf/app.yaml")


def test_copy_file_to_a_file_path_renames_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY conf/app.yaml /etc/app.conf\n",
                   {"conf/app.yaml": "x"})
    assert files_only(image_files(app)) == {"etc/app.conf"}


def test_copy_file_into_a_directory_an_earlier_layer_made(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY manifests /opt\nCOPY a.txt /opt\n",
                   {"manifests/m.yaml": "m", "a.txt": "a"})
    assert files_only(image_files(app)) == {"opt/m.yaml", "opt/a.txt"}


def test_several_sources_need_a_trailing_slash(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY a.txt b.txt /dest\n", {"a.txt": "a", "b.txt": "b"})
    expect_error(lambda: image_files(app), at(app, 2), "several sources", "/dest/")


def test_several_sources_into_a_directory(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY a.txt dir b.txt /dest/\n",
                   {"a.txt": "a", "b.txt": "b", "dir/c.txt": "c"})
    assert files_only(image_files(app)) == {"dest/a.txt", "dest/b.txt", "dest/c.txt"}


def test_glob_source(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY charts/*.tgz /charts/\n",
                   {"charts/a-1.0.tgz": "a", "charts/b-2.0.tgz": "b", "charts/README.md": "r",
                    "charts/sub/c.tgz": "c"})
    assert files_only(image_files(app)) == {"charts/a-1.0.tgz", "charts/b-2.0.tgz"}


def test_glob_matching_a_directory_copies_its_contents(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY conf* /etc/\n",
                   {"conf.d/a.yaml": "a", "conf.d/sub/b.yaml": "b", "conf.yaml": "c"})
    assert files_only(image_files(app)) == {"etc/a.yaml", "etc/sub/b.yaml", "etc/conf.yaml"}


def test_glob_matching_nothing_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY charts/*.tgz /charts/\n", {"charts/x.md": "x"})
    expect_error(lambda: image_files(app), at(app, 2), "charts/*.tgz")


def test_chmod_applies_to_files_and_directories_not_symlinks(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY --chmod=0755 bin /usr/local/bin\n"
                             "COPY --chmod=600 a.txt /a.txt\nCOPY a.txt /plain.txt\n",
                   {"bin/tool": "#!/bin/sh", "bin/sub/x": "x", "a.txt": "a"})
    os.symlink("tool", app / "bin/alias")
    image = image_files(app)
    assert image["usr/local/bin/tool"].mode == 0o755
    assert image["usr/local/bin/sub"].mode == 0o755
    assert image["usr/local/bin/alias"].kind is EntryKind.SYMLINK
    assert image["usr/local/bin/alias"].mode == 0o777
    assert image["a.txt"].mode == 0o600
    assert image["plain.txt"].mode == 0o644


def test_modes_without_chmod_are_normalised(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY . /app/\n", {"run.sh": "echo", "data": "d"})
    (app / "run.sh").chmod(0o700)
    (app / "data").chmod(0o600)
    image = image_files(app)
    assert (image["app/run.sh"].mode, image["app/data"].mode) == (0o755, 0o644)


def test_exclude_patterns_like_dockerignore(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY --exclude=*.md --exclude=tests "
                             "--exclude=**/*.bak . /app/\n",
                   {"README.md": "r", "docs/guide.md": "g", "tests/t.py": "t", "tests/sub/u.py": "u",
                    "src/a.py": "a", "src/deep/b.bak": "b", "c.bak": "c"})
    image = image_files(app)
    assert files_only(image) == {"app/Kubefile", "app/docs/guide.md", "app/src/a.py"}
    assert "app/tests" not in image


def test_exclude_is_relative_to_the_source_directory(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY --exclude=*.txt docs /docs/\n",
                   {"docs/a.txt": "a", "docs/b.md": "b"})
    assert files_only(image_files(app)) == {"docs/b.md"}


def test_exclude_with_reinclude(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY --exclude=*.yaml --exclude=!keep.yaml cfg /cfg/\n",
                   {"cfg/a.yaml": "a", "cfg/keep.yaml": "k"})
    assert files_only(image_files(app)) == {"cfg/keep.yaml"}


def test_copy_parent_dir_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY ../x /x\n")
    expect_error(lambda: image_files(app), at(app, 2), "'../x'", "outside the build context")


def test_copy_dotdot_inside_a_path_that_leaves_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nENV D=..\nCOPY a/../../x /x\nCOPY a/$D/$D/y /y\n",
                   {"a/f": "f"})
    expect_error(lambda: image_files(app), at(app, 3), "'a/../../x'", "outside the build context")


def test_dotdot_that_stays_inside_and_dotted_names_are_fine(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY a/../b.txt ..data /out/\n",
                   {"a/f": "f", "b.txt": "b", "..data": "d"})
    assert files_only(image_files(app)) == {"out/b.txt", "out/..data"}


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\n\nCOPY charts /charts\n")
    expect_error(lambda: image_files(app), at(app, 3), "'charts' not found")


def test_dockerignore_is_respected_with_reinclude(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY . /app/\n",
                   {".dockerignore": "# comment\n*.md\n!README.md\nsecret/\n**/*.tmp\n",
                    "README.md": "r", "CHANGELOG.md": "c", "secret/key": "k", "a/b/c.tmp": "t",
                    "a/b/keep.yaml": "k"})
    assert files_only(image_files(app)) == {"app/Kubefile", "app/.dockerignore", "app/README.md",
                                            "app/a/b/keep.yaml"}


def test_copying_an_ignored_file_is_not_found(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY secret/key /key\n",
                   {".dockerignore": "secret\n", "secret/key": "k"})
    expect_error(lambda: image_files(app), at(app, 2), "'secret/key' not found")


def test_dockerignore_reinclude_below_an_excluded_directory(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY vendor /vendor/\n",
                   {".dockerignore": "vendor\n!vendor/keep\n", "vendor/keep/a": "a",
                    "vendor/drop/b": "b"})
    assert files_only(image_files(app)) == {"vendor/keep/a"}


def test_symlink_inside_a_directory_stays_a_symlink(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY manifests /manifests\n",
                   {"manifests/real.yaml": "r"})
    os.symlink("real.yaml", app / "manifests/link.yaml")
    image = image_files(app)
    assert image["manifests/link.yaml"].kind is EntryKind.SYMLINK
    assert image["manifests/link.yaml"].link == "real.yaml"


@pytest.mark.parametrize("target", ["../../etc", "../../../etc/passwd", "/etc/passwd"])
def test_symlink_leaving_the_app_dir_is_an_error(tmp_path: Path, target: str) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY . .\n", {"manifests/a.yaml": "a"})
    os.symlink(target, app / "manifests/evil")
    expect_error(lambda: image_files(app), str(app / "manifests/evil"), repr(target),
                 "leaves the app directory")


def test_symlink_named_as_source_is_followed(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY current.yaml /etc/\n", {"v2/config.yaml": "v2"})
    os.symlink("v2/config.yaml", app / "current.yaml")
    image = image_files(app)
    assert image["etc/current.yaml"].kind is EntryKind.FILE
    assert image["etc/current.yaml"].digest == hash_file(app / "v2/config.yaml")


def test_symlink_to_a_directory_named_as_source_copies_the_contents(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY current /opt/chart\n",
                   {"v2/Chart.yaml": "c", "v2/templates/d.yaml": "d"})
    os.symlink("v2", app / "current")
    assert files_only(image_files(app)) == {"opt/chart/Chart.yaml", "opt/chart/templates/d.yaml"}


def test_dangling_symlink_source_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY link /x\n")
    os.symlink("missing", app / "link")
    expect_error(lambda: image_files(app), at(app, 2), "'link'", "missing")


def test_add_of_a_plain_file_copies_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nADD a.txt notes.tgz /opt/\n",
                   {"a.txt": "a", "notes.tgz": "not really an archive"})
    assert files_only(image_files(app)) == {"opt/a.txt", "opt/notes.tgz"}


def _tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["chart.tar.gz", "chart.bin"])
def test_add_of_a_local_archive_is_an_error(tmp_path: Path, name: str) -> None:
    app = make_app(tmp_path, f"FROM scratch\nADD {name} /charts/\n", {name: _tar_gz()})
    expect_error(lambda: image_files(app), at(app, 2), name, "unpack")


def test_add_of_a_directory_holding_archives_copies_them(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nADD charts /charts/\nCOPY charts/x.tar.gz /y/\n",
                   {"charts/x.tar.gz": _tar_gz()})
    assert files_only(image_files(app)) == {"charts/x.tar.gz", "y/x.tar.gz"}


# --- errors with file:line and a hint ---------------------------------------------------------


@pytest.mark.parametrize(("kubefile", "line", "needles"), [
    ("FROM scratch\nRUN helm pull x\n", 2, ["RUN needs a container engine"]),
    ("FROM ubuntu:22.04\n", 1, ["FROM ubuntu:22.04", "FROM scratch"]),
    ("FROM scratch\nCOPY a /a\nFROM scratch\n", 3, ["second FROM"]),
    ("FROM scratch\nADD https://get.helm.sh/helm.tgz /bin/\n", 2, ["https://get.helm.sh", "remote"]),
    ("FROM scratch\nADD git@github.com:a/b.git /src\n", 2, ["remote"]),
    ("FROM scratch AS build\nCOPY --from=build /a /a\n", 2, ["--from"]),
    ("FROM scratch\nCOPY --chown=1000 a /a\n", 2, ["--chown=1000"]),
    ("FROM scratch\nCOPY --chmod=u+x a /a\n", 2, ["--chmod=u+x"]),
    ("FROM scratch\nCOPY --parents a /a\n", 2, ["--parents"]),
    ("FROM scratch\nHEALTHCHECK CMD curl -f http://localhost/\n", 2, ["HEALTHCHECK"]),
    ("FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\n", 2, ["SHELL"]),
    ("FROM scratch\nMAINTAINER me\n", 2, ["MAINTAINER", "LABEL maintainer"]),
    ("# comment\nENV A=1\nFROM scratch\n", 2, ["ENV before FROM", "only ARG"]),
    ("FROM scratch\nFOO bar\n", 2, ["unknown instruction FOO"]),
    ("FROM scratch\nLABEL v=${A:?required}\n", 2, ["A: required"]),
    ("FROM scratch\nENV B=${A:?}\n", 2, ["A: is not allowed to be unset"]),
    ("FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n", 2, ["heredoc"]),
    ("FROM scratch\nCOPY onlyone\n", 2, ["at least one source"]),
])
def test_unsupported_or_wrong_instruction_names_file_line_and_hint(
        tmp_path: Path, kubefile: str, line: int, needles: list[str]) -> None:
    app = make_app(tmp_path, kubefile, {"a": "a"})
    expect_error(lambda: build(app), at(app, line), *needles)


def test_required_variable_set_by_build_arg_is_fine(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nARG A\nLABEL v=${A:?required}\n")
    assert dict(build(app, {"A": "x"}).labels) == {"v": "x"}


def test_chown_root_is_accepted(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nCOPY --chown=0:0 --link a /a\n", {"a": "a"})
    assert files_only(image_files(app)) == {"a"}


def test_no_from_at_all(tmp_path: Path) -> None:
    app = make_app(tmp_path, "ARG A=1\n")
    expect_error(lambda: build(app), str(app / "Kubefile"), "no FROM", "FROM scratch")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "FROM scratch\nCOPY <<EOF /x\nhi\n",
                                  "FROM scratch\nLABEL lonely\n"])
def test_unparseable_kubefile(tmp_path: Path, text: str) -> None:
    app = make_app(tmp_path, text)
    expect_error(lambda: build(app), str(app / "Kubefile"), "cannot parse")


def test_no_kubefile_in_the_dir(tmp_path: Path) -> None:
    app = tmp_path / "empty-app"
    (app / "Kubefile").mkdir(parents=True)  # a directory is not a recipe
    error = expect_error(lambda: find_recipe(app), str(app), "no Kubefile")
    assert all(name in str(error) for name in RECIPE_NAMES)


# --- recipe name order ------------------------------------------------------------------------


def test_recipe_name_order_is_sealos_builds() -> None:
    assert RECIPE_NAMES == ("Sealfile", "Kubefile", "Dockerfile", "Containerfile")


@pytest.mark.parametrize("present", [
    ("Sealfile", "Kubefile", "Dockerfile", "Containerfile"),
    ("Kubefile", "Dockerfile", "Containerfile"),
    ("Dockerfile", "Containerfile"),
    ("Containerfile",),
    ("Containerfile", "Sealfile"),
])
def test_first_recipe_name_present_wins(tmp_path: Path, present: tuple[str, ...]) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for name in present:
        (app / name).write_text(f"FROM scratch\nLABEL from={name}\n")
    expected = next(n for n in RECIPE_NAMES if n in present)
    assert find_recipe(app) == app / expected
    assert dict(build(app).labels) == {"from": expected}


def test_errors_name_the_recipe_actually_used(tmp_path: Path) -> None:
    app = make_app(tmp_path, "FROM scratch\nRUN true\n", name="Sealfile")
    expect_error(lambda: build(app), at(app, 2, "Sealfile"), "RUN")
