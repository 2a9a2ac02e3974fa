"""Per-file result cache in pytest's cache directory.

One JSON document per gate maps a key (file path and content hash, tool versions,
the gate's effective settings) to that file's :class:`FileResult`. Findings hold no source
text, so the cache holds no secrets. Documents carry a checksum and are replaced
atomically; anything that does not verify is discarded with a note, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import Finding

FORMAT = 3
# Not a gate's document: gates are named like identifiers, never with a dot.
TIMINGS = "timings.d.json"
DECAY = 0.8


@dataclass(frozen=True)
class FileResult:
    """What a file gate concluded about one file: cached as a unit, keyed by its content."""

    findings: tuple[Finding, ...] = ()
    skipped: str = ""
    figures: Mapping[str, int | float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "skipped": self.skipped,
            "figures": dict(self.figures),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileResult:
        figures = data["figures"]
        if not all(isinstance(v, (int, float)) for v in figures.values()):
            raise ValueError("non-numeric figure")
        return cls(
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            skipped=str(data["skipped"]),
            figures=dict(figures),
        )


def entry_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


class ResultCache:
    """Cached findings per file, one document per gate under ``directory``."""

    def __init__(self, directory: Path, owner_version: str, *, keep: bool = False) -> None:
        self.directory = directory
        self.owner_version = owner_version
        # A partial scan (--gates-changed) adds its entries and never prunes the rest.
        self.keep = keep

    def keeping(self) -> ResultCache:
        """The same cache, for a run that saw only some files: saving adds, never prunes."""
        return ResultCache(self.directory, self.owner_version, keep=True)

    def timings(self) -> dict[str, float]:
        """Seconds each gate took lately: only the order gates start in, never a result."""
        try:
            data = json.loads((self.directory / TIMINGS).read_bytes())
            return {str(k): float(v) for k, v in data.items()}
        except Exception:  # missing or damaged: every gate is simply "unknown"
            return {}

    def save_timings(self, durations: Mapping[str, float]) -> None:
        """Remember ``durations``; a slow (cold) run is forgotten only over several runs."""
        merged = self.timings()
        for gate, seconds in durations.items():
            merged[gate] = max(seconds, DECAY * merged.get(gate, 0.0))
        with contextlib.suppress(OSError):
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self.directory / TIMINGS, json.dumps(merged, sort_keys=True).encode())

    def _path(self, gate: str) -> Path:
        return self.directory / f"{gate}.json"

    def load(self, gate: str) -> tuple[dict[str, FileResult], str | None]:
        """Return the gate's entries and, when the document had to be discarded, why."""
        path = self._path(gate)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            return {}, f"result cache {path} unreadable ({exc.strerror}); discarded"
        try:
            header, body = split_checked(raw)
            if header.get("format") != FORMAT or header.get("version") != self.owner_version:
                return {}, None  # another version's cache: silently rebuilt, not an error
            entries = verified_body(header, body)
            parsed = {str(key): FileResult.from_dict(entry) for key, entry in entries.items()}
        except Exception as exc:  # any corruption at all: never trust the document
            return {}, f"result cache {path} is corrupt ({type(exc).__name__}: {exc}); discarded"
        return parsed, None

    def save(self, gate: str, entries: Mapping[str, FileResult]) -> str | None:
        """Write the gate's entries atomically; return a note when that failed."""
        if self.keep:
            # Read again just before writing: entries of files this run did not see stay.
            kept, _ = self.load(gate)
            entries = {**kept, **entries}
        plain = {key: entry.to_dict() for key, entry in entries.items()}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_checked(
                self._path(gate), {"format": FORMAT, "version": self.owner_version}, plain
            )
        except OSError as exc:
            return f"result cache not written ({exc.strerror}); the next run starts cold"
        return None


def write_checked(path: Path, header: Mapping[str, Any], body: Any) -> None:
    """Write a header line (with the body's checksum) and the JSON body, atomically.

    The checksum covers the body's bytes as written, so reading verifies them with one
    hash instead of encoding the whole document again.
    """
    body_bytes = json.dumps(body, sort_keys=True, separators=(",", ":")).encode(
        "utf-8", "surrogateescape"
    )
    head = {**header, "checksum": hashlib.sha256(body_bytes).hexdigest()}
    write_atomic(path, json.dumps(head, sort_keys=True).encode() + b"\n" + body_bytes)


def split_checked(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the unverified body bytes of a :func:`write_checked` document."""
    head, newline, body = raw.partition(b"\n")
    header = json.loads(head)
    if not newline or not isinstance(header, dict):
        raise ValueError("not a header line and a body")
    return header, body


def verified_body(header: Mapping[str, Any], body: bytes) -> Any:
    """The parsed body, once its bytes match the header's checksum; ValueError if not."""
    if hashlib.sha256(body).hexdigest() != header.get("checksum"):
        raise ValueError("checksum mismatch")
    return json.loads(body)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
