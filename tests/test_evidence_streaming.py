"""Large evidence documents are encoded a chunk at a time, byte for byte as json.dumps would."""

from __future__ import annotations

import enum
import json

import pytest

from pytest_platformgates.evidence import streaming
from pytest_platformgates.model import Finding, Severity

ITEMS = [
    {
        "z": i,
        "a": 'é \u2028 \x00 \x1f \x7f \t\n "quoted" \\ back / 🔑 \ufeff',
        "nested": {"b": [1, 2, -3, 0], "a": None, "t": True, "f": False, "e": [], "o": {}},
    }
    for i in range(streaming.CHUNK * 2 + 7)  # several chunks and a ragged last one
]


def compact(document, sort_keys=False):
    return json.dumps(
        document, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")
    ).encode()


@pytest.fixture(params=["orjson", "standard library"])
def encoder(request, monkeypatch):
    """Each test runs with orjson encoding the chunks, and with the standard library alone."""
    if request.param == "orjson":
        if streaming.orjson is None:
            pytest.skip("orjson is not installed here (it is a dependency on CPython only)")
    else:
        monkeypatch.setattr(streaming, "orjson", None)
    return request.param


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("count", [0, 1, streaming.CHUNK, len(ITEMS)])
def test_the_bytes_are_exactly_json_dumps_of_the_whole(encoder, sort_keys, count):
    items = ITEMS[:count]
    first, second = streaming.placeholder(), streaming.placeholder()
    skeleton = {"b": first, "a": {"y": second, "x": "text"}, "title": "ünïcode", "n": 1.5}
    whole = {"b": items, "a": {"y": items[::-1], "x": "text"}, "title": "ünïcode", "n": 1.5}
    encoded = streaming.encode(
        skeleton, {first: iter(items), second: iter(items[::-1])}, sort_keys=sort_keys
    )
    assert encoded == compact(whole, sort_keys)
    assert json.loads(encoded) == whole


class Kind(enum.IntEnum):
    ONE = 1


class Label(str):
    pass


@pytest.mark.parametrize(
    "odd",
    [2**70, -(2**64), {1: "an int key"}, Kind.ONE, Label("a str subclass"), (1, "tuple")],
    ids=["big int", "big negative int", "int key", "IntEnum", "str subclass", "tuple"],
)
def test_what_orjson_would_take_differently_is_the_standard_librarys(encoder, odd):
    key = streaming.placeholder()
    items = [{"plain": "x"}, odd, {"plain": "y"}]
    assert streaming.encode({"r": key}, {key: iter(items)}) == compact({"r": items})


def test_a_lone_surrogate_is_written_as_the_replacement_character(encoder):
    # A file name that is not UTF-8 (its bytes kept as surrogate escapes), in a finding
    # and in the skeleton: refused, it lost the whole bundle; no JSON text can hold it.
    key = streaming.placeholder()
    data = streaming.encode(
        {"changed": ["bad\udcffname"], "r": key}, {key: iter([{"path": "bad\udc80name"}])}
    )
    assert json.loads(data.decode("utf-8")) == {
        "changed": ["bad\ufffdname"],
        "r": [{"path": "bad\ufffdname"}],
    }


def test_findings_go_through_orjson_without_falling_back(monkeypatch):
    if streaming.orjson is None:
        pytest.skip("orjson is not installed here (it is a dependency on CPython only)")
    findings = [
        Finding(
            "secrets",
            "Secret Keyword",
            Severity.HIGH,
            f"pkg/m{i}.py",
            i,
            "a secret",
            3,
            hint="rotate it",
            fingerprint=f"{i:032x}",
            aliases=("CVE-1", "GHSA-x"),
            waiver={"id": "W1", "reason": "é", "days_left": 3},
        ).to_dict()
        for i in range(streaming.CHUNK + 1)
    ]
    calls = []
    real = streaming.dumps
    monkeypatch.setattr(streaming, "dumps", lambda *a, **k: calls.append(1) or real(*a, **k))
    key = streaming.placeholder()
    encoded = streaming.encode({"findings": key}, {key: iter(findings)}, sort_keys=True)
    assert encoded == compact({"findings": findings}, sort_keys=True)
    # The skeleton and its one placeholder only: no chunk fell back to the standard library.
    assert len(calls) == 2


def test_a_placeholder_missing_or_repeated_is_refused():
    key = streaming.placeholder()
    with pytest.raises(ValueError, match="exactly once"):
        streaming.encode({"a": 1}, {key: []})
    with pytest.raises(ValueError, match="exactly once"):
        streaming.encode({"a": key, "b": key}, {key: []})


def test_placeholders_are_unguessable_strings():
    keys = {streaming.placeholder() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("\x00") and len(k) == 33 for k in keys)
