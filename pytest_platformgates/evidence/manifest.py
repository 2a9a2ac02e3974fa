"""``manifest.json``: the sha256 of every other file in the bundle.

Written in one canonical form and read back only in that form, so that any byte
changed anywhere in the bundle, the manifest included, is visible to ``verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

NAME = "manifest.json"
ALGORITHM = "sha256"


def render(files: Mapping[str, bytes]) -> bytes:
    return render_digests({name: hashlib.sha256(data).hexdigest() for name, data in files.items()})


def render_digests(digests: Mapping[str, str]) -> bytes:
    """The manifest of files whose sha256 digests are ``digests``, by name."""
    doc = {"algorithm": ALGORITHM, "files": dict(sorted(digests.items()))}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def parse(data: bytes) -> dict[str, str]:
    """The digests by file name; ValueError when the manifest is not exactly what we write."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("algorithm") != ALGORITHM:
        raise ValueError(f"not a platformgates manifest (algorithm must be {ALGORITHM})")
    if set(doc) != {"algorithm", "files"}:
        extra = ", ".join(sorted(map(repr, set(doc) - {"algorithm", "files"}))) or "no 'files'"
        raise ValueError(f"not a platformgates manifest (only algorithm and files; {extra})")
    files = doc.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise ValueError("'files' must map file names to sha256 digests")
    if (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode() != data:
        raise ValueError("not in the canonical form platformgates writes: the file was edited")
    return dict(files)
