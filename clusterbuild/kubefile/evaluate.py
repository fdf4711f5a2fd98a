"""Evaluate a parsed Kubefile for one platform into a ``BuildRecipe``.

Only what a ``FROM scratch`` cluster image can be is accepted: ARG, ENV, LABEL,
COPY/ADD of context paths, CMD, ENTRYPOINT, WORKDIR, USER, EXPOSE, VOLUME,
STOPSIGNAL. Anything needing a container engine is an error that says what to
do instead. Variables expand as BuildKit expands them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from clusterbuild.errors import InputError
from clusterbuild.kubefile.expand import ExpansionError, expand_word, expand_words
from clusterbuild.kubefile.parse import Instruction, Recipe
from clusterbuild.oci.platform import Platform

NEEDS_ENGINE = {  # instruction -> (problem, hint)
    "RUN": ("RUN needs a container engine, and a cluster image is built FROM scratch",
            "do the work in the app spec (declared inputs) or at install time in entrypoint.sh"),
    "HEALTHCHECK": ("HEALTHCHECK has no meaning for a cluster image", "remove it"),
    "SHELL": ("SHELL has no meaning for a cluster image", "remove it"),
    "ONBUILD": ("ONBUILD has no meaning for a cluster image", "remove it"),
    "MAINTAINER": ("MAINTAINER is deprecated", "use LABEL maintainer=..."),
}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
COPY_FLAGS = ("--chmod", "--chown", "--exclude", "--link")
FLAG_HINTS = {
    "--from": "a cluster image has one FROM scratch stage: COPY from the app dir, "
              "and declare downloads in clusterbuild.yaml",
}


@dataclass(frozen=True)
class CopyOp:
    sources: tuple[str, ...]
    dest: str  # absolute path in the image; a trailing '/' means "into this directory"
    chmod: int | None
    excludes: tuple[str, ...]
    where: str  # file:line, for errors
    created_by: str
    is_add: bool = False


@dataclass(frozen=True)
class BuildRecipe:
    platform: Platform
    env: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    # each step in order: a CopyOp (a layer) or a string (an instruction without a layer)
    steps: tuple[CopyOp | str, ...] = field(default=())


def platform_args(platform: Platform) -> dict[str, str]:
    """BuildKit's automatic platform ARGs (used when an ARG of that name has no value)."""
    return {
        "TARGETPLATFORM": str(platform), "TARGETOS": platform.os,
        "TARGETARCH": platform.architecture, "TARGETVARIANT": platform.variant,
        "BUILDPLATFORM": str(platform), "BUILDOS": platform.os,
        "BUILDARCH": platform.architecture, "BUILDVARIANT": platform.variant,
    }


class _Evaluator:
    def __init__(self, recipe: Recipe, platform: Platform, build_args: Mapping[str, str]):
        self.recipe = recipe
        self.build_args = dict(build_args)
        # BuildKit's global scope starts with the platform ARGs (--build-arg may override them)
        auto = platform_args(platform)
        self.global_args = {k: self.build_args.get(k, v) for k, v in auto.items()}
        self.scope: dict[str, str] = {}  # the stage's variables: ARGs and ENVs, latest wins
        self.env: dict[str, str] = {}  # the image's Env: ENVs only
        self.workdirs: set[str] = set()  # directories WORKDIR made (BuildKit mkdirs them)
        self.out = BuildRecipe(platform)
        self.seen_from = False

    def fail(self, ins: Instruction, problem: str, hint: str = "") -> InputError:
        return InputError(f"{self.recipe.where(ins)}: {problem}", hint=hint)

    def variables(self) -> dict[str, str]:
        """What ``$NAME`` sees: the global ARGs before FROM, the stage's ARGs and ENVs after."""
        return self.scope if self.seen_from else self.global_args

    def expansion_error(self, ins: Instruction, word: str, exc: ExpansionError) -> InputError:
        return self.fail(ins, f"cannot expand {word!r}: {exc}",
                         hint="declare the variable with ARG or ENV (pass ARGs with --build-arg), "
                              "or give it a default: ${NAME:-default}")

    def expand(self, ins: Instruction, word: str) -> str:
        try:
            return expand_word(word, self.variables(), self.recipe.escape)
        except ExpansionError as exc:
            raise self.expansion_error(ins, word, exc) from None

    def expand_list(self, ins: Instruction, words: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for word in words:
            try:
                out += expand_words(word, self.variables(), self.recipe.escape)
            except ExpansionError as exc:
                raise self.expansion_error(ins, word, exc) from None
        return out

    def pairs(self, ins: Instruction) -> list[tuple[str, str]]:
        if len(ins.words) % 2 or not ins.words:
            raise self.fail(ins, f"{ins.command} needs KEY=VALUE pairs")
        return [(self.expand(ins, k), self.expand(ins, v))
                for k, v in zip(ins.words[::2], ins.words[1::2], strict=True)]

    def run(self) -> BuildRecipe:
        for ins in self.recipe.instructions:
            self.step(ins)
        if not self.seen_from:
            raise InputError(f"{self.recipe.path}: no FROM instruction", hint="start with FROM scratch")
        return self.out

    def step(self, ins: Instruction) -> None:
        if ins.command in NEEDS_ENGINE:
            raise self.fail(ins, *NEEDS_ENGINE[ins.command])
        if ins.command == "FROM":
            return self.do_from(ins)
        if ins.command == "ARG":
            return self.do_arg(ins)
        if not self.seen_from:
            raise self.fail(ins, f"{ins.command} before FROM", hint="only ARG may come before FROM")
        handler = getattr(self, f"do_{ins.command.lower()}", None)
        if handler is None:
            raise self.fail(ins, f"unknown instruction {ins.command}",
                            hint="check the spelling; see the Dockerfile reference")
        handler(ins)

    def record(self, ins: Instruction, **changes: object) -> None:
        created_by = " ".join(ins.original.split())
        self.out = replace(self.out, steps=(*self.out.steps, created_by), **changes)  # type: ignore[arg-type]

    def do_from(self, ins: Instruction) -> None:
        if self.seen_from:
            raise self.fail(ins, "a second FROM: multi-stage builds need a container engine",
                            hint="keep one FROM scratch stage")
        base = self.expand(ins, ins.words[0]) if ins.words else ""
        if base.lower() != "scratch" or len(ins.words) not in (1, 3):
            raise self.fail(ins, f"FROM {base or '?'}: a cluster image is built FROM scratch",
                            hint="use FROM scratch; put images the app runs in images/shim/")
        self.seen_from = True
        # BuildKit and buildah give every Linux image a default PATH (sealos drops it at run)
        self.env = {"PATH": DEFAULT_PATH}
        self.scope["PATH"] = DEFAULT_PATH
        self.out = replace(self.out, env=tuple(self.env.items()))

    def do_arg(self, ins: Instruction) -> None:
        """BuildKit's rule: --build-arg, else the default, else (in the stage) the global
        value; an ARG with none of these leaves its variable as it was (unset)."""
        for word in ins.words:
            name, has_default, default = word.partition("=")
            if name in self.build_args:
                value = self.build_args[name]
            elif has_default:
                value = self.expand(ins, default)
            elif self.seen_from and name in self.global_args:
                value = self.global_args[name]
            else:
                continue
            self.variables()[name] = value
        if self.seen_from:
            self.record(ins)

    def do_env(self, ins: Instruction) -> None:
        pairs = self.pairs(ins)  # every pair sees the variables from before this ENV
        self.env.update(pairs)
        self.scope.update(pairs)
        self.record(ins, env=tuple(self.env.items()))

    def do_label(self, ins: Instruction) -> None:
        labels = dict(self.out.labels) | dict(self.pairs(ins))
        self.record(ins, labels=tuple(labels.items()))

    def command_form(self, ins: Instruction) -> tuple[str, ...]:
        if ins.json:
            return ins.words
        # Shell form, stored as Docker and buildah store it. sealos drops the
        # "/bin/sh" and "-c" elements and runs each remaining element as a command.
        return ("/bin/sh", "-c", " ".join(ins.words)) if ins.words else ()

    def do_cmd(self, ins: Instruction) -> None:
        self.record(ins, cmd=self.command_form(ins))

    def do_entrypoint(self, ins: Instruction) -> None:
        # Docker drops only a CMD inherited from the base image (scratch has none);
        # a CMD set earlier in this Kubefile is kept.
        self.record(ins, entrypoint=self.command_form(ins))

    def do_workdir(self, ins: Instruction) -> None:
        path = self.expand(ins, ins.words[0]) if ins.words else ""
        if not path:
            raise self.fail(ins, "WORKDIR needs a path", hint="e.g. WORKDIR /app")
        # BuildKit keeps an absolute path as written; a relative one is joined and cleaned
        working_dir = path if path.startswith("/") else _join(self.out.working_dir, path)
        made = _join(working_dir, ".")  # it and its parents now exist as directories
        while made != "/":
            self.workdirs.add(made)
            made = posixpath.dirname(made)
        self.record(ins, working_dir=working_dir)

    def do_user(self, ins: Instruction) -> None:
        self.record(ins, user=self.expand(ins, ins.words[0]) if ins.words else "")

    def do_expose(self, ins: Instruction) -> None:
        ports = [p if "/" in p else f"{p}/tcp" for p in self.expand_list(ins, ins.words)]
        self.record(ins, exposed_ports=tuple(dict.fromkeys((*self.out.exposed_ports, *ports))))

    def do_volume(self, ins: Instruction) -> None:
        volumes = self.expand_list(ins, ins.words)
        self.record(ins, volumes=tuple(dict.fromkeys((*self.out.volumes, *volumes))))

    def do_stopsignal(self, ins: Instruction) -> None:
        self.record(ins, stop_signal=self.expand(ins, ins.words[0]) if ins.words else "")

    def do_copy(self, ins: Instruction) -> None:
        if ins.heredoc:
            raise self.fail(ins, f"{ins.command} with a heredoc is not supported",
                            hint="put the content in a file of the app dir and COPY it")
        chmod, excludes = None, []
        for flag in ins.flags:
            name, _, value = flag.partition("=")
            value = self.expand(ins, value)
            if name == "--chmod":
                chmod = _octal_mode(value)
                if chmod is None:
                    raise self.fail(ins, f"--chmod={value}: not an octal mode up to 7777",
                                    hint="use e.g. --chmod=0755")
            elif name == "--chown":
                if value not in ("0", "0:0", "root", "root:root"):
                    raise self.fail(ins, f"--chown={value}: layers are owned by 0:0",
                                    hint="drop --chown, or use --chown=0:0")
            elif name == "--exclude":
                excludes.append(value)
            elif name != "--link":
                raise self.fail(ins, f"{ins.command} {name} is not supported",
                                hint=FLAG_HINTS.get(name, f"supported flags: {', '.join(COPY_FLAGS)}"))
        words = [self.expand(ins, w) for w in ins.words]
        if len(words) < 2:
            raise self.fail(ins, f"{ins.command} needs at least one source and a destination",
                            hint=f"e.g. {ins.command} charts charts")
        for src in words[:-1]:
            if "://" in src or src.startswith("git@"):
                raise self.fail(ins, f"{ins.command} {src}: remote sources are not fetched here",
                                hint="declare the download in clusterbuild.yaml and COPY its dest")
        raw_dest = words[-1]
        dest = _join(self.out.working_dir, raw_dest)
        if raw_dest.endswith(("/", "/.")) or raw_dest == "." or dest in self.workdirs:
            dest = dest.rstrip("/") + "/"
        op = CopyOp(tuple(words[:-1]), dest, chmod, tuple(excludes), self.recipe.where(ins),
                    " ".join(ins.original.split()), ins.command == "ADD")
        self.out = replace(self.out, steps=(*self.out.steps, op))

    do_add = do_copy


def _join(working_dir: str, path: str) -> str:
    """Go's path.Join(working_dir or "/", path): cleaned, one leading '/'."""
    joined = posixpath.normpath(posixpath.join(working_dir or "/", path))
    return "/" + joined.lstrip("/")


def _octal_mode(text: str) -> int | None:
    """Go's strconv.ParseUint(text, 8, 32), up to 0o7777 as BuildKit allows."""
    if not text or text.strip("01234567"):
        return None
    mode = int(text, 8)
    return mode if mode <= 0o7777 else None


def evaluate(recipe: Recipe, platform: Platform, build_args: Mapping[str, str]) -> BuildRecipe:
    return _Evaluator(recipe, platform, build_args).run()
