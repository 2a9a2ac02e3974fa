"""The prefilter never drops a line a plugin could report, for any regex it accepts.

detect-secrets' own regexes are covered by the parity tests; these check the
reasoning itself on regexes built to break it: anchors, lookarounds at line ends,
case folding beyond ASCII, and the entropy bound at its edge.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_platformgates.gates.secrets_prefilter import (
    FileText,
    Probe,
    entropy_pattern,
    required_literals,
    whole_text_pattern,
)

#: Regexes the whole-text search must refuse: each can match a line alone but not
#: the same line inside the joined text (or the other way round in a way that hides it).
REFUSED = [
    r"\Aab",
    r"ab\Z",
    r"ab(?!\s)",
    r"(?<!\s)ab",
    r"ab(?!\n)",
    r"(?<![^a])b",
    r"(?-m:b$)",
    r"a++b",
    r"(?>a\s*)b",
    r"(?s)a(?!.)",
]
#: Regexes it may accept: line ends look alike from inside a line and from the text.
ACCEPTED = [
    r"^ab",
    r"ab$",
    r"ab(?!\w)",
    r"(?<![\w.])ab",
    r"\bab\b",
    r"(?:\s|=|^)AK[A-Z]{2,}(?:\s|$)",
    r"a\s*b",
    r"(['\"])([ab]{2,})(\1)",
    r"(?i)pa(?:ss|sw)ord",
    r"ab(?!c)",
    r"a(?=x|(?!.))",  # "." takes no newline: the end of a line looks the same either way
]
HEADER = "BEGIN " + "RSA PRIVATE" + " KEY"
ALPHABET = "ab AK=\t'\"\u017f\u212acxBSPW.,"


@pytest.mark.parametrize("pattern", REFUSED)
def test_constructs_that_look_past_a_line_are_refused(pattern):
    assert whole_text_pattern(re.compile(pattern)) is None


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_constructs_that_cannot_see_past_a_line_are_accepted(pattern):
    assert whole_text_pattern(re.compile(pattern)) is not None


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.sampled_from(REFUSED + ACCEPTED),
    lines=st.lists(st.text(ALPHABET, max_size=12), min_size=1, max_size=8),
)
def test_a_probe_finds_every_line_its_regex_matches(pattern, lines):
    compiled = re.compile(pattern)
    truth = {i for i, line in enumerate(lines) if compiled.search(line)}
    assert truth <= set(Probe(compiled).lines(FileText(lines)))


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (HEADER, [{(HEADER, False)}]),
        (
            r"(?i)(api_?key|auth_?key|secret)\w*=",
            [{("key", True), ("secret", True)}, {("=", True)}],
        ),
        (r"x(?:ab|cd)?y", [{("x", False)}, {("y", False)}]),  # nothing from the optional group
        (r"[a-z]+\d", []),
        (r"(?i:pw)d(?-i:Q)", [{("pw", True)}, {("Q", False)}]),
    ],
)
def test_required_literals(pattern, needs):
    assert [set(n) for n in required_literals(re.compile(pattern))] == needs


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.sampled_from([*ACCEPTED, r"(?i)(se|pa)cret\w*=", r"x(ab|cd)+y"]),
    line=st.text(ALPHABET + "xyzcdeort", max_size=20),
)
def test_every_match_holds_one_literal_of_each_need(pattern, line):
    compiled = re.compile(pattern)
    match = compiled.search(line)
    if match is None:
        return
    for need in required_literals(compiled):
        assert any(
            (re.search(re.escape(t), match[0], re.I) if icase else t in match[0])
            for t, icase in need
        )


def test_case_folding_beyond_ascii_keeps_lines_found():
    probe = Probe(re.compile(r"(?i)password\s*=\s*\"[a-z]+\""))
    lines = ["x = 1", 'pa\u017fsword = "hunter"', "\u212aEY", 'PASSWORD="abc"']
    assert sorted(probe.lines(FileText(lines))) == [1, 3]


def test_a_line_holding_a_newline_falls_back_to_line_by_line():
    probe = Probe(re.compile(r"ab$"))
    lines = ["ab\nzz", "ab"]  # a transformer could produce a line like the first
    assert sorted(probe.lines(FileText(lines))) == [1]
    assert not FileText(lines).joinable


@pytest.mark.parametrize("plugin_name", ["Base64HighEntropyString", "HexHighEntropyString"])
@pytest.mark.parametrize("limit", [0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
def test_the_entropy_bound_keeps_every_string_over_the_limit(plugin_name, limit):
    from detect_secrets.plugins import high_entropy_strings

    plugin = getattr(high_entropy_strings, plugin_name)(limit=limit)
    pattern = entropy_pattern(plugin)
    charset = plugin.charset
    for n in range(1, min(len(charset), 40) + 1):
        distinct = "".join(sorted(set(charset))[:n])  # the most entropy n characters have
        if plugin.calculate_shannon_entropy(distinct) > limit:
            assert pattern.search(f'"{distinct}"'), (n, limit)


def test_the_entropy_bound_is_tighter_than_the_plugins_regex():
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

    pattern = entropy_pattern(Base64HighEntropyString())  # limit 4.5
    assert pattern.search('"' + string.ascii_letters[:22] + '"')
    assert not pattern.search('"' + string.ascii_letters[:21] + '"')
