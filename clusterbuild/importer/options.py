"""Reading the options of the commands the catalogue's scripts call, from raw words.

    opts = parse_options(["-qO-", "$URL"], WGET)   # values {"output": "-"}, args ("$URL",)

Short options bundle (``-zxvf FILE``, ``-qO-``, ``-Lo FILE``), long ones take ``=value`` or the
next word; ``tar``'s old style (``tar xzf FILE``) is read too. Values stay raw words, expanded
by the caller. An option a spec does not know is kept as a flag, so a caller can refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    values: Mapping[str, str]  # option (without dashes) -> canonical name, for options taking a value
    flags: Mapping[str, str]  # option -> canonical name, for options without one


@dataclass(frozen=True)
class Options:
    values: Mapping[str, str]  # canonical name -> raw word (the last given)
    flags: frozenset[str]  # canonical names (unknown options as written)
    args: tuple[str, ...]


def spec_of(values: str, flags: str = "") -> Spec:
    """``"O=output output-document=output P=prefix"`` -> a Spec (a bare name is its own canonical)."""
    def table(text: str) -> dict[str, str]:
        pairs = (item.partition("=") for item in text.split())
        return {name: canonical or name for name, _, canonical in pairs}
    return Spec(table(values), table(flags))


WGET = spec_of("O=output output-document=output P=prefix directory-prefix=prefix t tries T timeout "
             "o=log output-file=log a=log U user-agent header e", "c=continue continue")
CURL = spec_of("o=output output retry retry-delay retry-max-time m max-time connect-timeout H header "
             "u user A user-agent x proxy X request w write-out C continue-at e referer",
             "O=remote-name remote-name J L=location location create-dirs")
TAR = spec_of("f=file file C=directory directory strip-components=strip strip T files-from exclude "
            "transform X exclude-from", "x=extract extract get=extract c=create create t=list list")
UNZIP = spec_of("d=directory x")
HELM = spec_of("version d=destination destination untardir repo username password ca-file cert-file "
             "key-file keyring kube-context n=namespace namespace")
HELM_TEMPLATE = spec_of("set set-string set-file set-json f=values values n=namespace namespace version "
                       "kube-version a=api-versions api-versions name-template output-dir repo post-renderer "
                       "s=show-only show-only")
YQ = spec_of("I=indent indent o=output-format output-format p=input-format input-format",
           "i=inplace inplace")
COPY = spec_of("t=target target-directory=target")
GREP = spec_of("e=regexp regexp f=file m A B C")
SED = spec_of("e=expression expression f=file")


def _old_style_tar(words: Sequence[str]) -> list[str]:
    """``tar xzf FILE`` -> ``tar -xzf FILE`` (a first word without a dash is bundled options)."""
    first = words[0] if words else ""
    if first and not first.startswith("-") and set(first) <= set("xzvfjJtc"):
        return ["-" + first, *words[1:]]
    return list(words)


def parse_options(words: Sequence[str], spec: Spec, old_style_tar: bool = False) -> Options:
    """The options and arguments of ``words`` (the words after the command name)."""
    pending = _old_style_tar(words) if old_style_tar else list(words)
    values: dict[str, str] = {}
    flags: set[str] = set()
    args: list[str] = []
    i = 0
    while i < len(pending):
        word = pending[i]
        i += 1
        if word == "--":
            args += pending[i:]
            break
        if word.startswith("--") and len(word) > 2:
            i = _long(word[2:], pending, i, spec, values, flags)
        elif word.startswith("-") and len(word) > 1:
            i = _short(word[1:], pending, i, spec, values, flags)
        else:
            args.append(word)
    return Options(values, frozenset(flags), tuple(args))


def _long(body: str, words: Sequence[str], i: int, spec: Spec, values: dict[str, str],
          flags: set[str]) -> int:
    name, equals, value = body.partition("=")
    if name in spec.values:
        if not equals and i < len(words):
            value, i = words[i], i + 1
        values[spec.values[name]] = value
    else:
        flags.add(spec.flags.get(name, name))
    return i


def _short(cluster: str, words: Sequence[str], i: int, spec: Spec, values: dict[str, str],
           flags: set[str]) -> int:
    for n, char in enumerate(cluster):
        if char in spec.values:
            value = cluster[n + 1:]
            if not value and i < len(words):
                value, i = words[i], i + 1
            values[spec.values[char]] = value
            return i
        flags.add(spec.flags.get(char, char))
    return i
