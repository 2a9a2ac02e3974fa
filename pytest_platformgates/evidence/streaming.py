"""JSON documents too large to hold as one tree of objects: encoded a piece at a time.

The SARIF log and the in-toto statement hold every finding. At 45,000 findings the
tree of dicts behind either, plus ``json.dumps``'s output and its encoding, was the
largest allocation of a whole run. Here the document is encoded as a small
skeleton in which each large array is a placeholder string, and each array is
encoded a chunk of items at a time and spliced in: the bytes are exactly those
``json.dumps`` of the whole document gives, while at most one chunk exists as objects.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

CHUNK = 2000


def placeholder() -> str:
    """A string no data can equal (a NUL and 128 random bits), to stand for an array."""
    return f"\x00{secrets.token_hex(16)}"


def encode(skeleton: Any, arrays: Mapping[str, Iterable[Any]], *, sort_keys: bool = False) -> bytes:
    """``json.dumps(document, ensure_ascii=False).encode()``, where ``document`` is
    ``skeleton`` with each placeholder in ``arrays`` replaced by a list of its items."""
    text = json.dumps(skeleton, sort_keys=sort_keys, ensure_ascii=False)
    spots = []
    for key in arrays:
        marker = json.dumps(key)
        if text.count(marker) != 1:
            raise ValueError("a placeholder does not occur exactly once in the skeleton")
        spots.append((text.index(marker), marker, key))
    out: list[bytes] = []
    pos = 0
    for start, marker, key in sorted(spots):
        out.append(text[pos:start].encode())
        out.append(b"[" + b", ".join(_chunks(iter(arrays[key]), sort_keys)) + b"]")
        pos = start + len(marker)
    out.append(text[pos:].encode())
    return b"".join(out)


def _chunks(items: Iterator[Any], sort_keys: bool) -> Iterator[bytes]:
    while chunk := list(itertools.islice(items, CHUNK)):
        yield json.dumps(chunk, sort_keys=sort_keys, ensure_ascii=False)[1:-1].encode()
