"""Large evidence documents are encoded a chunk at a time, byte for byte as json.dumps would."""

from __future__ import annotations

import json

import pytest

from pytest_platformgates.evidence import streaming

ITEMS = [
    {"z": i, "a": 'é \u2028 \x00 "quoted" \\ back', "nested": {"b": [1, 2], "a": None}}
    for i in range(streaming.CHUNK * 2 + 7)  # several chunks and a ragged last one
]


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("count", [0, 1, streaming.CHUNK, len(ITEMS)])
def test_the_bytes_are_exactly_json_dumps_of_the_whole(sort_keys, count):
    items = ITEMS[:count]
    first, second = streaming.placeholder(), streaming.placeholder()
    skeleton = {"b": first, "a": {"y": second, "x": "text"}, "title": "ünïcode"}
    whole = {"b": items, "a": {"y": items[::-1], "x": "text"}, "title": "ünïcode"}
    encoded = streaming.encode(
        skeleton, {first: iter(items), second: iter(items[::-1])}, sort_keys=sort_keys
    )
    assert encoded == json.dumps(whole, sort_keys=sort_keys, ensure_ascii=False).encode()


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
