"""Which lines of a file could give a detect-secrets plugin anything to report.

detect-secrets calls every plugin on every line in Python; that dispatch is nearly
all of its cost, and almost no line yields a candidate. Every built-in plugin only
reports what its regexes find in the line, so a line none of them matches can be
skipped without changing any result (filters only ever remove candidates). This
module finds, per plugin, the lines its regexes match, working on the whole file at
C speed, by one of three means, each exact or a superset of the truth:

1. A plugin regex that requires one of a few literal strings (a keyword, the
   header of a private key) is searched for those strings over the whole text;
   only lines holding one are then searched with the regex itself.
2. A regex whose matching cannot depend on what lies beyond a line's ends is run
   once over the newline-joined text in MULTILINE mode (see
   :func:`whole_text_pattern` for the argument).
3. Otherwise the regex is searched line by line: still no plugin dispatch.

A plugin this module does not know (a custom plugin, or one whose analysis is not
its regexes) gets every line, exactly as in detect-secrets.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

if sys.version_info >= (3, 11):
    from re import _constants as sre
    from re import _parser as sre_parse
else:  # pragma: no cover - exercised on 3.10 only
    import sre_constants as sre
    import sre_parse

#: Required literals shorter than this are too common to be worth a first pass.
SELECTIVE = 3

Literal = tuple[str, bool]  # (text, ignore case)


def plugin_patterns(plugin: Any, filename: str) -> list[re.Pattern[str]] | None:
    """Regexes such that a line yields nothing from ``plugin`` unless one of them matches it.

    None when that cannot be known (a custom plugin, or one that overrides how it
    analyses lines): then every line goes to the plugin.
    """
    from detect_secrets.plugins import keyword
    from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
    from detect_secrets.plugins.high_entropy_strings import (
        HexHighEntropyString,
        HighEntropyStringsPlugin,
    )
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.util.filetype import determine_file_type

    cls = type(plugin)
    if not cls.__module__.startswith("detect_secrets.plugins."):
        return None
    if cls.analyze_line is BasePlugin.analyze_line and cls.analyze_string in (
        RegexBasedDetector.analyze_string,  # findall over the denylist
        JwtTokenDetector.analyze_string,  # the same, then drops tokens that are not JWTs
    ):
        return list(plugin.denylist)
    if (
        cls is keyword.KeywordDetector
        and cls.analyze_line is keyword.KeywordDetector.analyze_line
        and cls.analyze_string is keyword.KeywordDetector.analyze_string
    ):
        # analyze_line picks the regex table by file type; each yield is one regex's match.
        table = keyword.REGEX_BY_FILETYPE.get(
            determine_file_type(filename), keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
        )
        return list(table)
    if (
        cls.analyze_line is HighEntropyStringsPlugin.analyze_line
        and cls.analyze_string is HighEntropyStringsPlugin.analyze_string
        and cls.calculate_shannon_entropy
        in (
            HighEntropyStringsPlugin.calculate_shannon_entropy,
            HexHighEntropyString.calculate_shannon_entropy,
        )
    ):
        return [entropy_pattern(plugin)]
    return None


def entropy_pattern(plugin: Any) -> re.Pattern[str]:
    """The plugin's quoted-string regex, asking for as many characters as its limit needs.

    A string of n characters has Shannon entropy at most log2(n) (and the hex plugin
    only ever lowers it), so no string shorter than 2**limit can exceed the limit;
    a string of exactly that length is kept, in case rounding lands just above it.
    """
    charset = plugin.charset
    if plugin.regex.pattern != _quoted_run(charset, "+"):
        return plugin.regex  # not the shape assumed here: use it as it is
    shortest = max(1, math.floor(2 ** float(plugin.entropy_limit)))
    return re.compile(_quoted_run(charset, f"{{{shortest},}}"))


def _quoted_run(charset: str, quantifier: str) -> str:
    """detect-secrets' high-entropy regex: a run of charset characters between like quotes."""
    return "([\\'\"])([" + re.escape(charset) + "]" + quantifier + ")(\\1)"


class Probe:
    """One plugin regex and the fastest exact way to find the lines it matches."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        # A one-character literal (":", ".") is on nearly every line: not worth a pass.
        self.needs = tuple(n for n in required_literals(pattern) if _shortest(n) > 1)
        # Short literals ("cl") are common too: then one pass of the regex itself over
        # the text beats confirming line after line, unless two of them must coincide.
        selective = bool(self.needs) and (
            _shortest(self.needs[0]) >= SELECTIVE or len(self.needs) > 1
        )
        # The joined-text pattern is a second compile: made only when it may be used.
        self.whole = None if selective else whole_text_pattern(pattern)
        self.by_literals = selective or (bool(self.needs) and self.whole is None)

    def lines(self, text: FileText) -> Iterable[int]:
        """Indexes of the lines that ``pattern.search`` matches, or a superset of them."""
        search = self.pattern.search
        if self.by_literals:
            lines = text.lines
            candidates = set(text.holding(self.needs[0]))
            for need in self.needs[1:]:
                candidates.intersection_update(text.holding(need))
            return [i for i in candidates if search(lines[i])]
        if self.whole is not None and text.joinable:
            return text.matching(self.whole)
        return [i for i, line in enumerate(text.lines) if search(line)]


class FileText:
    """A file's lines as detect-secrets hands them to plugins, joined once for searching."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self.text = "\n".join(lines)
        # Searching the joined text maps positions to lines by newline; a line holding a
        # newline of its own (a transformer could produce one) would break that mapping.
        self.joinable = bool(lines) and self.text.count("\n") == len(lines) - 1
        self._found: dict[Literal, frozenset[int]] = {}

    @cached_property
    def starts(self) -> list[int]:
        return _starts(self.text)

    @cached_property
    def lowered(self) -> tuple[str, list[int]] | None:
        """The text in lower case and its line starts, when finding ASCII words in it is exact.

        A regex ignoring case matches an ASCII letter only by itself, its other case,
        or one of a few non-ASCII letters (dotted and dotless i, long s, the Kelvin
        sign). Without those in the text, an ASCII literal occurs ignoring case
        exactly where its lower case occurs in the lowered text.
        """
        text = self.text
        if not text.isascii():
            foreign = {c for c in set(text) if not c.isascii()}
            if any(_ASCII_IGNORING_CASE.fullmatch(c) for c in foreign):
                return None
        lowered = text.lower()
        return lowered, self.starts if len(lowered) == len(text) else _starts(lowered)

    def holding(self, need: Requirement) -> frozenset[int]:
        """Indexes of the lines containing one of the literals of ``need``."""
        found: set[int] = set()
        for literal in need:
            if literal not in self._found:
                self._found[literal] = frozenset(self._lines_holding(*literal))
            found.update(self._found[literal])
        return frozenset(found)

    def _lines_holding(self, literal: str, icase: bool) -> Iterable[int]:
        if not self.joinable:
            if icase:
                search = _ignoring_case(literal).search
                return [i for i, line in enumerate(self.lines) if search(line)]
            return [i for i, line in enumerate(self.lines) if literal in line]
        if not icase:
            return _finds(self.text, self.starts, literal)
        if self.lowered is not None and literal.isascii():
            return _finds(*self.lowered, literal.lower())
        if self.text.isascii() and _foreign_to_ascii(literal):
            return []
        return self.matching(_ignoring_case(literal))

    def matching(self, pattern: re.Pattern[str]) -> list[int]:
        """Indexes of the lines where a match of ``pattern`` over the text starts."""
        starts = self.starts
        found = []
        pos = 0
        while (match := pattern.search(self.text, pos)) is not None:
            index = bisect.bisect_right(starts, match.start()) - 1
            found.append(index)
            if index + 1 >= len(starts):
                break
            pos = starts[index + 1]
        return found


_ASCII_IGNORING_CASE = re.compile("[\\x00-\\x7f]", re.IGNORECASE)


def _starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _finds(text: str, starts: list[int], literal: str) -> list[int]:
    """Indexes of the lines of ``text`` holding ``literal``, jumping to each next line."""
    found = []
    pos = 0
    while (at := text.find(literal, pos)) != -1:
        index = bisect.bisect_right(starts, at) - 1
        found.append(index)
        if index + 1 >= len(starts):
            break
        pos = starts[index + 1]
    return found


@functools.cache
def _foreign_to_ascii(literal: str) -> bool:
    """Whether some character of ``literal`` matches no ASCII character, even ignoring case."""
    return any(
        not any(_ignoring_case(c).fullmatch(chr(a)) for a in range(128))
        for c in literal
        if not c.isascii()
    )


_IGNORING_CASE: dict[str, re.Pattern[str]] = {}


def _ignoring_case(literal: str) -> re.Pattern[str]:
    """``literal`` under the regex engine's own case folding."""
    if literal not in _IGNORING_CASE:
        _IGNORING_CASE[literal] = re.compile(re.escape(literal), re.IGNORECASE)
    return _IGNORING_CASE[literal]


class Prefilter:
    """The probes of a list of plugins, prepared once per detect-secrets file type."""

    def __init__(self, plugins: Sequence[Any]) -> None:
        self.plugins = plugins
        self._probes: dict[Any, list[list[Probe] | None]] = {}
        self._compiled: dict[tuple[str, int], Probe] = {}

    def candidates(self, lines: Sequence[str], filename: str) -> dict[int, list[int]]:
        """Line index -> indexes of the plugins (in order) that could yield something there.

        ``lines`` are the lines exactly as detect-secrets passes them to plugins
        (right-stripped); ``filename`` as it passes it (it picks keyword regexes).
        """
        from detect_secrets.util.filetype import determine_file_type

        kind = determine_file_type(filename)
        if kind not in self._probes:
            self._probes[kind] = [self._prepare(p, filename) for p in self.plugins]
        return candidate_lines(lines, self._probes[kind])

    def _prepare(self, plugin: Any, filename: str) -> list[Probe] | None:
        patterns = plugin_patterns(plugin, filename)
        if patterns is None:
            return None
        probes = []
        for pattern in patterns:
            key = (pattern.pattern, pattern.flags)
            if key not in self._compiled:
                self._compiled[key] = Probe(pattern)
            probes.append(self._compiled[key])
        return probes


def candidate_lines(
    lines: Sequence[str], probes: Sequence[Sequence[Probe] | None]
) -> dict[int, list[int]]:
    """Line index -> indexes of the plugins (in order) that could yield something there.

    ``lines`` are the lines exactly as detect-secrets passes them to plugins (right-
    stripped). ``probes[i] is None`` sends every line to plugin ``i``.
    """
    text = FileText(lines)
    hits: dict[int, list[int]] = {}
    for plugin_index, plugin_probes in enumerate(probes):
        found: set[int] = set()
        if plugin_probes is None:
            found.update(range(len(lines)))
        else:
            for probe in plugin_probes:
                found.update(probe.lines(text))
        for index in found:
            hits.setdefault(index, []).append(plugin_index)
    return hits


# -- regex analysis -----------------------------------------------------------------


def whole_text_pattern(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """``pattern`` in MULTILINE mode when searching the joined lines finds every line it matches.

    If ``pattern`` matches line L at position p, the same match path succeeds in the
    newline-joined text at L's offset + p, unless something looks past L's ends:
    ``\\A`` or ``\\Z``; ``^``/``$`` without MULTILINE (added here); a negative
    lookaround whose body could consume the newline beyond the line (it is refused
    unless its body cannot consume a newline at all); atomic groups or possessive
    repeats, which can refuse to give back a newline they took. Word boundaries
    agree, a newline being a non-word character just like a line's end. A search
    resuming at each next line start cannot skip a line (see :class:`FileText`). Any
    other construct is refused, and the caller searches line by line instead.
    """
    parsed = _parse(pattern)
    if parsed is None or not _joinable(parsed.data, pattern.flags):
        return None
    return re.compile(pattern.pattern, pattern.flags | re.MULTILINE)


def required_literals(pattern: re.Pattern[str]) -> tuple[Requirement, ...]:
    """Sets of strings such that every match of ``pattern`` contains one string of each set.

    Each string comes with whether the regex compares it ignoring case. A run of
    literal characters must appear as it is; an alternation needs one of its
    branches; a repeat needs its body only if it repeats at least once. At most the
    two most selective sets are returned; none when nothing is required.
    """
    parsed = _parse(pattern)
    if parsed is None:
        return ()
    needs = [
        need
        for need in _required(parsed.data, bool(pattern.flags & re.IGNORECASE))
        if all(t and "\n" not in t for t, _ in need)
    ]
    needs.sort(key=lambda n: (-_shortest(n), len(n), sorted(n)))
    return tuple(needs[:2])


Requirement = frozenset[Literal]  # one of these strings appears in every match


def _shortest(need: Requirement) -> int:
    return min(len(t) for t, _ in need)


def _parse(pattern: re.Pattern[str]) -> Any:
    if not isinstance(pattern.pattern, str) or pattern.flags & re.LOCALE:
        return None
    try:
        return sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # a pattern this Python compiled but cannot re-parse: no shortcut
        return None


def _required(items: Iterable[tuple[Any, Any]], icase: bool) -> list[Requirement]:
    """Every requirement of a sequence of regex items (each one necessary on its own)."""
    needs: list[Requirement] = []
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            needs.append(frozenset({("".join(run), icase)}))
            run = []
        if op is sre.SUBPATTERN:
            _group, add, remove, sub = av
            sub_icase = (icase or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            needs.extend(_required(sub.data, sub_icase))
        elif op is sre.BRANCH:
            either = _either([_required(b.data, icase) for b in av[1]])
            if either:
                needs.append(either)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
            needs.extend(_required(av[2].data, icase))
    return needs


def _either(branches: list[list[Requirement]]) -> Requirement | None:
    """A requirement of an alternation: one requirement of each branch, united.

    Any choice is correct; choosing literals that many branches share ("key" in
    ``api_?key|auth_?key``) keeps the union small.
    """
    if not branches or not all(branches):
        return None
    shared = Counter(literal for needs in branches for need in needs for literal in need)

    def merit(need: Requirement) -> tuple[bool, float, int]:
        share = sum(shared[literal] for literal in need) / len(need)
        return (_shortest(need) >= SELECTIVE, share, _shortest(need))

    union = frozenset().union(*(max(needs, key=merit) for needs in branches))
    return _reduced(union)


def _reduced(need: Requirement) -> Requirement:
    """Drop a string when a shorter one it contains is in the set (it is found anyway)."""

    def covers(small: Literal, big: Literal) -> bool:
        (s, s_icase), (b, b_icase) = small, big
        if small == big:
            return False
        if not s_icase:
            return not b_icase and s in b
        return s.isascii() and b.isascii() and s.lower() in b.lower()

    return frozenset(b for b in need if not any(covers(s, b) for s in need))


def _joinable(items: Iterable[tuple[Any, Any]], flags: int) -> bool:
    for op, av in items:
        if op is sre.AT:
            if av in (sre.AT_BEGINNING_STRING, sre.AT_END_STRING):
                return False
        elif op is sre.ASSERT_NOT:
            body = av[1].data
            if _may_consume_newline(body, flags) or _has_lookaround(body):
                return False
        elif op is sre.ASSERT:
            if not _joinable(av[1].data, flags):
                return False
        elif op is sre.SUBPATTERN:
            _group, add, remove, sub = av
            if remove & re.MULTILINE or not _joinable(sub.data, flags | add):
                return False
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.BRANCH, sre.GROUPREF_EXISTS):
            if not all(_joinable(sub, flags) for sub in _children(op, av)):
                return False
        elif op not in (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY, sre.GROUPREF):
            return False  # atomic groups, possessive repeats, anything unforeseen
    return True


def _children(op: Any, av: Any) -> list[Any]:
    if op is sre.SUBPATTERN:
        return [av[3].data]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return [av[2].data]
    if op is sre.BRANCH:
        return [b.data for b in av[1]]
    if op is sre.GROUPREF_EXISTS:
        return [b.data for b in av[1:] if b is not None]
    return []


def _has_lookaround(items: Iterable[tuple[Any, Any]]) -> bool:
    for op, av in items:
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return True
        if any(_has_lookaround(sub) for sub in _children(op, av)):
            return True
    return False


def _may_consume_newline(items: Iterable[tuple[Any, Any]], flags: int) -> bool:
    """Whether any character this pattern consumes could be a newline (conservative)."""
    newline = ord("\n")
    for op, av in items:
        if op is sre.LITERAL:
            if av == newline:
                return True
        elif op is sre.NOT_LITERAL:
            if av != newline:
                return True
        elif op is sre.ANY:
            if flags & re.DOTALL:
                return True
        elif op is sre.IN:
            if _set_may_hold_newline(av):
                return True
        elif op is sre.AT:
            if av in (sre.AT_BEGINNING_STRING, sre.AT_END_STRING):
                return True
        elif op is sre.SUBPATTERN:
            if _may_consume_newline(av[3].data, flags | av[1]):
                return True
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.BRANCH, sre.GROUPREF_EXISTS):
            if any(_may_consume_newline(sub, flags) for sub in _children(op, av)):
                return True
        elif op is not sre.GROUPREF:  # a group's text was taken inside the line
            return True
    return False


#: Whether "\n" belongs to each character category a parsed pattern can hold.
_CATEGORY_HAS_NEWLINE = {
    "CATEGORY_DIGIT": False,
    "CATEGORY_NOT_DIGIT": True,
    "CATEGORY_SPACE": True,
    "CATEGORY_NOT_SPACE": False,
    "CATEGORY_WORD": False,
    "CATEGORY_NOT_WORD": True,
    "CATEGORY_LINEBREAK": True,
    "CATEGORY_NOT_LINEBREAK": False,
}


def _set_may_hold_newline(members: Iterable[tuple[Any, Any]]) -> bool:
    newline = ord("\n")
    negate = False
    hit = False
    for op, av in members:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            hit = hit or av == newline
        elif op is sre.RANGE:
            hit = hit or av[0] <= newline <= av[1]
        elif op is sre.CATEGORY and str(av) in _CATEGORY_HAS_NEWLINE:
            hit = hit or _CATEGORY_HAS_NEWLINE[str(av)]
        else:
            return True  # unforeseen: assume the worst
    return hit != negate
