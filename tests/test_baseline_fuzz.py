"""The baseline loader under hypothesis: it accepts exactly the documents it writes.

Anything else, however odd (bytes, deep JSON, near-miss entries), is a BaselineError
that names the file: a baseline never half-loads.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_platformgates.baseline import (
    FIELDS,
    BaselineError,
    Entry,
    match,
    parse,
    render,
)
from pytest_platformgates.model import Finding, Severity

NAME = ".platformgates-baseline.json"

text = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
entries = st.builds(
    Entry,
    gate=text,
    path=st.one_of(st.just(""), text),
    rule=text,
    fingerprint=st.text("0123456789abcdef", min_size=32, max_size=32),
    severity=st.sampled_from(list(Severity)),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _load_or_reject(data: bytes) -> tuple[Entry, ...] | None:
    try:
        return parse(data, NAME)
    except BaselineError as exc:
        assert str(exc).startswith(NAME)
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_load_or_are_rejected_cleanly(data):
    _load_or_reject(data)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_loads_or_is_rejected_cleanly(value):
    found = _load_or_reject(json.dumps(value).encode())
    assert found is None or found == ()  # only an empty, well-formed document loads


@settings(max_examples=200, deadline=None)
@given(st.lists(entries, max_size=8))
def test_what_is_written_loads_back_identically(written):
    data = render(written)
    assert parse(data, NAME) == tuple(sorted(written))
    assert render(parse(data, NAME)) == data  # stable: writing again is byte-identical


@settings(max_examples=300, deadline=None)
@given(
    st.lists(entries, min_size=1, max_size=4),
    st.data(),
)
def test_any_damaged_entry_rejects_the_whole_file(written, data):
    doc = json.loads(render(written))
    n = data.draw(st.integers(0, len(doc["entries"]) - 1))
    key = data.draw(st.sampled_from(FIELDS))
    damage = data.draw(st.sampled_from(["drop", "extra", "type", "pad", "control", "severity"]))
    entry = doc["entries"][n]
    if damage == "drop":
        del entry[key]
    elif damage == "extra":
        entry["message"] = "x"
    elif damage == "type":
        entry[key] = data.draw(st.one_of(st.none(), st.integers(), st.lists(st.text())))
    elif damage == "pad":
        entry[key] = f" {entry[key]}"
    elif damage == "control":
        entry[key] = f"{entry[key]}\x00"
    else:
        entry["severity"] = data.draw(
            text.filter(lambda s: s.lower() not in {x.label for x in Severity})
        )
    with pytest.raises(BaselineError):
        parse(json.dumps(doc).encode(), NAME)


def _finding(entry: Entry, severity: Severity) -> Finding:
    return Finding(
        gate=entry.gate,
        rule=entry.rule,
        severity=severity,
        path=entry.path,
        line=1,
        message="m",
        fingerprint=entry.fingerprint,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(entries, max_size=6),
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from(list(Severity))), max_size=8),
)
def test_an_entry_covers_at_most_one_finding_never_a_worse_one(written, picks):
    findings = [_finding(written[i], sev) for i, sev in picks if i < len(written)]
    covered, stale = match(written, findings)
    assert len(set(covered)) == len(covered)
    assert len(covered) + len(stale) == len(written)
    for n in covered:
        f = findings[n]
        assert any(e.covers(f) for e in written)
    # A finding is left uncovered only when no unused entry could take it.
    for n, f in enumerate(findings):
        if n not in covered:
            assert not any(e.covers(f) for e in stale)
