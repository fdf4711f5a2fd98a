"""Tests for clusterbuild.kubefile.patterns (Go filepath.Match, moby patternmatcher/ignorefile)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clusterbuild.kubefile.patterns import (
    IgnoreMatcher,
    PatternError,
    match_path,
    read_ignore_file,
)

BAD = None  # marker: the pattern is malformed

# Go's path/filepath match_test.go table: (pattern, name, matched-or-BAD).
GO_MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "\u03b1", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("[]a]", "]", BAD),
    ("[-]", "-", BAD),
    ("[x-]", "x", BAD),
    ("[x-]", "-", BAD),
    ("[x-]", "z", BAD),
    ("[-x]", "x", BAD),
    ("[-x]", "-", BAD),
    ("[-x]", "a", BAD),
    ("\\", "a", BAD),
    ("[a-b-c]", "a", BAD),
    ("[", "a", BAD),
    ("[^", "a", BAD),
    ("[^bc", "a", BAD),
    ("a[", "a", BAD),
    ("a[", "ab", BAD),
    ("a[", "x", BAD),
    ("a/b[", "x", BAD),
    ("*x", "xxx", True),
]
GO_EXTRA = [
    ("", "", True),
    ("", "a", False),
    ("*", "", True),
    ("*/*", "a/b", True),
    ("*/*", "a/b/c", False),
    ("[^a]", "/", True),  # classes (unlike '?') may match the separator
    ("*[^a]*", "b/", False),  # Go takes the leftmost chunk match: [^a]='b', then '*' hits '/'
    ("[z-a]", "m", False),  # reversed range is legal in Go and matches nothing
    ("x*\\", "y", BAD),  # bad tail is reported even though "x" already failed
    ("a*[", "abc", BAD),
    ("[*]", "*", True),
    ("a\\", "a", BAD),
]


@pytest.mark.parametrize(("pattern", "name", "want"), GO_MATCH + GO_EXTRA)
def test_match_path_go_table(pattern: str, name: str, want: bool | None) -> None:
    if want is BAD:
        with pytest.raises(PatternError):
            match_path(pattern, name)
    else:
        assert match_path(pattern, name) is want


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("[a-", "'[a-' : unterminated character class"),
        ("[]", "'[]' : empty character class"),
        ("[x-]", "'[x-]' : incomplete range"),
        ("[-x]", "'[-x]' : unexpected '-' in character class"),
        ("ab\\", "'ab\\\\' : trailing backslash"),
    ],
)
def test_pattern_error_message(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as info:
        match_path(pattern, "x")
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


# patternmatcher_test.go TestMatches: one pattern, MatchesOrParentMatches semantics.
PM_MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        True,
    ),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
    # patternmatcher quirks kept on purpose
    ("**.txt", "dir/notes.txt", True),  # leading '**' + literal is a plain suffix test
    ("**file", "dir/myfile", True),
    ("x[^a]y", "x/y", True),  # classes may match '/' here too
    ("**a]b", "xa]b", False),  # a bare ']' forces the regexp path: (.*/)?a]b
    ("a*", "ab/c", True),  # a matching parent directory excludes its children
    ("docs", "docs/sub/README.md", True),
    ("docs", "docsy", False),
]


@pytest.mark.parametrize(("pattern", "path", "want"), PM_MATCHES)
def test_ignore_single_pattern(pattern: str, path: str, want: bool) -> None:
    assert IgnoreMatcher([pattern]).excludes(path) is want


# patternmatcher's copy of Go's table (TestMatch): the only difference is that a
# matching parent directory ("ab" for "a*") excludes everything below it.
@pytest.mark.parametrize(("pattern", "name", "want"), GO_MATCH)
def test_ignore_go_table(pattern: str, name: str, want: bool | None) -> None:
    if want is BAD:
        with pytest.raises(PatternError):
            IgnoreMatcher([pattern])
    else:
        expected = want or (pattern, name) == ("a*", "ab/c")
        assert IgnoreMatcher([pattern]).excludes(name) is expected


@pytest.mark.parametrize(
    ("patterns", "path", "want"),
    [
        (["**", "!util/docker/web"], "util/docker/web/foo", False),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
        (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3-py3-none-any.whl", False),
        (["*"], "fileutils.go", True),
        (["*.go"], "fileutils.go", True),
        (["!fileutils.go", "*.go"], "fileutils.go", True),
        (["*.go", "!fileutils.go"], "fileutils.go", False),
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs/", "!docs/README.md"], "docs/README.md", False),
        (["docs/*", "!docs/README.md"], "docs/README.md", False),
        (["docs", "!docs/README.md"], "docs/other.md", True),
        (["docs", "!docs/README.md"], "docs", True),
        (["*.go"], ".", False),
        ([], "any/path/there", False),
        (["", "  ", "docs"], "docs", True),
        (["  !docs  ", "docs"], "docs", True),
        (["docs", "  !docs  "], "docs/x", False),
        (["/abs"], "abs", False),  # only read_ignore_file strips the leading '/'
        (["a/b", "!a"], "a/b", True),  # BuildKit walker: '!a' was skipped for 'a'
        (["node_modules", "!node_modules/keep/**"], "node_modules/keep/x/y.js", False),
        (["node_modules", "!node_modules/keep/**"], "node_modules/other/y.js", True),
    ],
)
def test_ignore_multi_pattern(patterns: list[str], path: str, want: bool) -> None:
    assert IgnoreMatcher(patterns).excludes(path) is want


@pytest.mark.parametrize("bad", [["!"], ["  !  "], ["["], ["ok", "a[b-"], ["[z-a]"], ["x\\"]])
def test_ignore_bad_patterns(bad: list[str]) -> None:
    with pytest.raises(PatternError):
        IgnoreMatcher(bad)


@pytest.mark.parametrize(
    ("patterns", "directory", "want"),
    [
        (["docs"], "docs", False),
        (["docs", "!docs/README.md"], "docs", True),
        (["docs", "!docs/README.md"], "docs/sub", False),
        (["docs", "!README.md"], "docs", False),
        (["docs", "!docs/*.md"], "docs/sub", True),  # glob exception: must descend
        (["docs", "!docs/sub/**"], "docs", True),
        (["docs", "!docs/sub/**"], "docs/other", False),
        (["docs", "!docs/*"], "docs", True),
        (["docs"], "src", True),  # not excluded at all
        (["**"], ".", True),
    ],
)
def test_may_include_below(patterns: list[str], directory: str, want: bool) -> None:
    assert IgnoreMatcher(patterns).may_include_below(directory) is want


def test_matcher_is_stable_across_calls() -> None:
    matcher = IgnoreMatcher(["build", "!build/keep", "*.log"])
    paths = ["build/keep", "build/x", "app.log", "src/app.log", "src/main.py", "build/keep/a"]
    first = [matcher.excludes(p) for p in paths]
    assert first == [False, True, True, False, False, False]
    assert [matcher.excludes(p) for p in reversed(paths)] == first[::-1]


def test_read_ignore_file_moby_table() -> None:
    content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n"
    assert read_ignore_file(content) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
    ]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", []),
        ("\ufeff# bom comment\nx", ["x"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("  # indented hash is a pattern\n", ["# indented hash is a pattern"]),
        ("./a/../b/\n", ["b"]),
        ("/\n", ["/"]),
        ("//a//b\n", ["a/b"]),
        ("!foo/../bar\n", ["!bar"]),
        ("\t*.log \n\n\n", ["*.log"]),
        ("../up\n", ["../up"]),
    ],
)
def test_read_ignore_file_cases(text: str, want: list[str]) -> None:
    assert read_ignore_file(text) == want


@pytest.mark.parametrize("text", ["!\n", "a\n! \n", "!"])
def test_read_ignore_file_lone_bang(text: str) -> None:
    with pytest.raises(PatternError):
        read_ignore_file(text)


def test_read_then_match() -> None:
    text = "# ignore build outputs\n/build\n*.pyc\n!build/keep.txt\n"
    matcher = IgnoreMatcher(read_ignore_file(text))
    assert matcher.excludes("build/out.bin")
    assert not matcher.excludes("build/keep.txt")
    assert not matcher.excludes("src/app.pyc")  # '*' never crosses '/'
    assert matcher.excludes("app.pyc")


# --- properties ------------------------------------------------------------

_plain = st.text(alphabet=st.characters(exclude_characters="*?[\\"), max_size=12)
_small = st.text(alphabet="ab/", max_size=8)


@given(_plain, _plain)
def test_literal_pattern_matches_only_itself(pattern: str, other: str) -> None:
    assert match_path(pattern, pattern)
    assert match_path(pattern, other) is (pattern == other)


@given(st.text(max_size=12))
def test_escaped_text_matches_itself(text: str) -> None:
    assert match_path("".join("\\" + c for c in text), text)


@given(st.text(max_size=12))
def test_star_never_crosses_slash(name: str) -> None:
    assert match_path("*", name) is ("/" not in name)


@given(st.text(alphabet="ab/*?", max_size=8), _small)
def test_match_path_agrees_with_regex(pattern: str, name: str) -> None:
    regex = "".join({"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c)) for c in pattern)
    assert match_path(pattern, name) is (re.fullmatch(regex, name) is not None)


@given(st.lists(st.text(alphabet="ab", min_size=1, max_size=3), min_size=1, max_size=4))
def test_excluded_dir_excludes_descendants(segments: list[str]) -> None:
    matcher = IgnoreMatcher([segments[0]])
    assert matcher.excludes("/".join(segments))
    assert not matcher.may_include_below(segments[0])
