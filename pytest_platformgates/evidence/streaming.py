"""JSON documents too large to hold as one tree of objects: encoded a piece at a time.

The SARIF log and the in-toto statement hold every finding. At 45,000 findings the
tree of dicts behind either, plus ``json.dumps``'s output and its encoding, was the
largest allocation of a whole run. Here the document is encoded as a small
skeleton in which each large array is a placeholder string, and each array is
encoded a chunk of items at a time and spliced in: the bytes are exactly those
``json.dumps`` of the whole document gives (compact, UTF-8), while at most one chunk
exists as objects.

The chunks (the findings) are encoded by orjson where it is installed (a dependency on
CPython): encoding was a quarter of a warm run at 50,000 findings (a 28 MB SARIF log:
0.36 s, orjson 0.025 s). Its compact output is the standard library's byte for byte for
strings, integers, booleans, null, lists and dicts, which is all a finding holds (its
fields and its waiver's are strings and integers). Floats differ: the same number,
perhaps spelt differently (``0.00001``, ``1e-05``), and NaN and infinities as ``null``
where the standard library writes ``NaN`` (not JSON at all). What it would take
differently otherwise (a string with a lone surrogate, an integer past 64 bits, a key
that is not a string, a subclass, a dataclass, a datetime) it refuses, and the standard
library encodes that chunk, or raises as it always did; a lone surrogate (a file name
that is not UTF-8) it writes as U+FFFD, as every document does (``run.utf8``). The
skeleton (gate figures, durations: the only floats) is always the standard library's.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .run import utf8

try:
    import orjson
except ImportError:  # not on PyPy, or not installed: the standard library alone
    orjson = None  # type: ignore[assignment]

CHUNK = 2000
#: Compact, as orjson writes: the same bytes whichever encoder wrote a chunk.
SEPARATORS = (",", ":")
#: What json.dumps refuses (or writes as a plain value), orjson refuses too, instead of
#: encoding it natively: the standard library then has the last word.
_ORJSON = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    if orjson is not None
    else 0
)


def placeholder() -> str:
    """A string no data can equal (a NUL and 128 random bits), to stand for an array."""
    return f"\x00{secrets.token_hex(16)}"


def encode(skeleton: Any, arrays: Mapping[str, Iterable[Any]], *, sort_keys: bool = False) -> bytes:
    """:func:`dumps` of ``document``, where ``document`` is ``skeleton`` with each
    placeholder in ``arrays`` replaced by a list of its items."""
    text = dumps(skeleton, sort_keys=sort_keys)
    spots = []
    for key in arrays:
        marker = dumps(key)
        if text.count(marker) != 1:
            raise ValueError("a placeholder does not occur exactly once in the skeleton")
        spots.append((text.index(marker), marker, key))
    out: list[bytes] = []
    pos = 0
    for start, marker, key in sorted(spots):
        out.append(text[pos:start])
        out.append(b"[" + b",".join(_chunks(iter(arrays[key]), sort_keys)) + b"]")
        pos = start + len(marker)
    out.append(text[pos:])
    return b"".join(out)


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """``value`` as compact UTF-8 JSON, by the standard library (the skeleton: small)."""
    return utf8(json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=SEPARATORS))


def _encoded(chunk: list[Any], sort_keys: bool) -> bytes:
    """:func:`dumps` of ``chunk``, by orjson when it takes ``chunk`` as the standard
    library would."""
    if orjson is not None:
        try:
            option = (_ORJSON | orjson.OPT_SORT_KEYS) if sort_keys else _ORJSON
            return orjson.dumps(chunk, option=option)
        except TypeError:
            pass  # something only the standard library encodes (or refuses) its own way
    return dumps(chunk, sort_keys=sort_keys)


def _chunks(items: Iterator[Any], sort_keys: bool) -> Iterator[bytes]:
    while chunk := list(itertools.islice(items, CHUNK)):
        yield _encoded(chunk, sort_keys)[1:-1]
