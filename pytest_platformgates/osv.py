"""Offline OSV advisory databases: loading, the PyPI matching rules, severities.

A database is a directory of OSV records (``.json``, ``.yaml``/``.yml``, at any
depth, e.g. the PyPA advisory-database checkout) or the zip OSV publishes per
ecosystem. Only ``PyPI`` entries are kept. Matching follows the OSV schema:

- names are compared canonicalised (PEP 503), versions with ``packaging``;
- a local version (``1.0+cu118``, a build of 1.0) is its public version where a
  ``versions`` entry or a ``last_affected`` bound names the release it was built from
  (the other events give the same verdict either way);
- a version is affected when an ``affected[].versions`` entry equals it, or when an
  ``ECOSYSTEM``/``SEMVER`` range holds it: events sorted by version, ``introduced``
  opens, ``fixed`` closes at, ``last_affected`` closes after, and ``limit`` events
  cap the range (the version must be below one of them); ``GIT`` ranges need a
  commit graph and are not evaluated, their ``versions`` list is;
- an entry naming the package with neither ranges nor versions affects every
  version (the record gives no bound, so none is assumed);
- withdrawn records are ignored; records sharing an id or alias are one
  vulnerability (:func:`merge`), so one CVE published by several databases is
  one finding.

Parsing thousands of YAML records takes over a second, so the parsed index is
kept in a cache file keyed by every record file's path, size and mtime (or the
zip's); anything in the cache that does not verify is rebuilt, never trusted.
:func:`audit` also keeps its answers (a :class:`Answer` per package version) keyed by
the same state: a run whose dependencies and database did not change reads neither
the records nor the index.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import __version__
from .cache import split_checked, verified_body, write_checked
from .model import Severity

ECOSYSTEM = "PyPI"
INDEX_FORMAT = 1
ANSWERS_FORMAT = 2  # bumped whenever matching changes: kept answers are then recomputed
RECORD_SUFFIXES = (".json", ".yaml", ".yml")
#: Preferred primary id when records are merged: the PyPI-specific databases first.
ID_PREFERENCE = ("PYSEC-", "GHSA-", "CVE-")


class DatabaseError(Exception):
    """The database is missing, empty or unreadable: nothing can be judged against it."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Affected:
    """One ``affected[]`` entry for a PyPI package, reduced to what matching needs."""

    name: str  # canonical
    ranges: tuple[tuple[tuple[str, str], ...], ...] = ()  # each: ((event, version), ...)
    versions: tuple[str, ...] = ()
    severity: str = ""  # affected-level severity label, when the record gives one


@dataclass(frozen=True)
class Advisory:
    """One OSV record (PyPI entries only)."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    modified: str
    withdrawn: bool
    severity: str  # critical|high|medium|low, or "" when the record gives none we can read
    severity_basis: str  # what the severity was derived from, for the report
    affected: tuple[Affected, ...]

    def to_json(self) -> list[Any]:
        return [
            self.id,
            list(self.aliases),
            self.summary,
            self.modified,
            self.withdrawn,
            self.severity,
            self.severity_basis,
            [
                [a.name, [list(map(list, r)) for r in a.ranges], list(a.versions), a.severity]
                for a in self.affected
            ],
        ]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> Advisory:
        ident, aliases, summary, modified, withdrawn, severity, basis, affected = data
        return cls(
            id=ident,
            aliases=tuple(aliases),
            summary=summary,
            modified=modified,
            withdrawn=withdrawn,
            severity=severity,
            severity_basis=basis,
            affected=tuple(
                Affected(
                    name=name,
                    ranges=tuple(tuple((e, v) for e, v in r) for r in ranges),
                    versions=tuple(versions),
                    severity=sev,
                )
                for name, ranges, versions, sev in affected
            ),
        )


@dataclass(frozen=True)
class Match:
    """An advisory that affects one installed version, with what fixes it."""

    advisory: Advisory
    fixed: tuple[str, ...]  # ``fixed`` events above the installed version
    severity: str  # the advisory's, or the matching entry's when the record says so


@dataclass(frozen=True)
class Vulnerability:
    """Matches of one package version merged by shared ids and aliases."""

    ids: tuple[str, ...]  # record ids, primary first
    aliases: tuple[str, ...]  # other names (CVE, GHSA, ...) not among ``ids``
    summary: str
    severity: str  # the highest known severity, "" when none is known
    severity_basis: str
    fixed: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.ids[0]


@dataclass
class Database:
    """An indexed offline database: advisories by canonical package name."""

    location: str
    digest: str
    by_name: dict[str, list[Advisory]] = field(default_factory=dict)
    #: advisories still in their cached JSON form, turned into objects when first asked for
    raw_by_name: dict[str, list[Any]] = field(default_factory=dict)
    records: int = 0
    withdrawn: int = 0
    other_ecosystems: int = 0
    newest_modified: str = ""
    from_cache: bool = False

    @property
    def newest(self) -> datetime | None:
        return _parse_time(self.newest_modified)

    @property
    def packages(self) -> int:
        return len(self.by_name.keys() | self.raw_by_name.keys())

    def advisories(self, name: str) -> list[Advisory]:
        """The advisories naming the package ``name`` (any spelling)."""
        key = canonicalize_name(name)
        if key not in self.by_name and key in self.raw_by_name:
            self.by_name[key] = [Advisory.from_json(a) for a in self.raw_by_name.pop(key)]
        return self.by_name.get(key, [])

    def matches(self, name: str, version: str) -> list[Match]:
        """Every non-withdrawn advisory affecting ``name`` at ``version``.

        Raises :class:`InvalidVersion` when ``version`` is not PEP 440 and a range
        would have to be evaluated: such a version cannot be audited.
        """
        out = []
        parsed: Version | None = None
        for advisory in self.advisories(name):
            if advisory.withdrawn:
                continue
            fixed: set[str] = set()
            hit = False
            severity = advisory.severity
            for entry in advisory.affected:
                if entry.name != canonicalize_name(name):
                    continue
                entry_hit = _listed(entry.versions, version)
                if entry.ranges and not entry_hit:
                    if parsed is None:
                        parsed = Version(version)
                    entry_hit = any(_in_range(r, parsed) for r in entry.ranges)
                if not entry.ranges and not entry.versions:
                    entry_hit = True
                if entry_hit:
                    hit = True
                    severity = higher(severity, entry.severity)
                    fixed.update(_fixed_above(entry.ranges, version))
            if hit:
                out.append(Match(advisory, tuple(sorted(fixed, key=version_order)), severity))
        return out

    def affected_by_any(self, name: str, version: str) -> bool:
        try:
            return bool(self.matches(name, version))
        except InvalidVersion:
            return True

    def answer(self, name: str, version: str) -> Answer:
        """What this database says of ``name`` at ``version``, and the upgrade that clears it."""
        try:
            vulns = merge(self.matches(name, version))
        except InvalidVersion:
            return Answer(invalid=True)
        candidates = sorted({f for v in vulns for f in v.fixed}, key=version_order)
        clear = next((c for c in candidates if not self.affected_by_any(name, c)), None)
        return Answer(tuple(vulns), clear)

    def facts(self) -> DatabaseFacts:
        return DatabaseFacts(
            location=self.location,
            digest=self.digest,
            records=self.records,
            packages=self.packages,
            newest_modified=self.newest_modified,
            index_cached=self.from_cache,
        )


@dataclass(frozen=True)
class Answer:
    """What the database says of one package version."""

    vulnerabilities: tuple[Vulnerability, ...] = ()
    #: the lowest ``fixed`` version above this one that no advisory affects
    clear: str | None = None
    #: the version is not PEP 440, so the ranges could not be evaluated: not audited
    invalid: bool = False

    def to_json(self) -> list[Any]:
        vulns = [
            [list(v.ids), list(v.aliases), v.summary, v.severity, v.severity_basis, list(v.fixed)]
            for v in self.vulnerabilities
        ]
        return [vulns, self.clear, self.invalid]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> Answer:
        vulns, clear, invalid = data
        if not (clear is None or isinstance(clear, str)) or not isinstance(invalid, bool):
            raise ValueError("malformed answer")
        return cls(
            tuple(
                Vulnerability(
                    ids=tuple(map(str, ids)),
                    aliases=tuple(map(str, aliases)),
                    summary=str(summary),
                    severity=str(severity),
                    severity_basis=str(basis),
                    fixed=tuple(map(str, fixed)),
                )
                for ids, aliases, summary, severity, basis, fixed in vulns
            ),
            clear,
            invalid,
        )


@dataclass(frozen=True)
class DatabaseFacts:
    """What a report says about the database a run was judged against."""

    location: str
    digest: str
    records: int
    packages: int
    newest_modified: str
    index_cached: bool
    #: every answer came from the answers kept by an earlier run (see :func:`audit`)
    answered_from_cache: bool = False

    @property
    def newest(self) -> datetime | None:
        return _parse_time(self.newest_modified)

    def to_json(self) -> dict[str, Any]:
        # The location and the digest are the reader's own: the digest is in the header.
        return {
            "records": self.records,
            "packages": self.packages,
            "newest_modified": self.newest_modified,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], location: str, digest: str) -> DatabaseFacts:
        return cls(
            location=location,
            digest=digest,
            records=int(data["records"]),
            packages=int(data["packages"]),
            newest_modified=str(data["newest_modified"]),
            index_cached=True,
            answered_from_cache=True,
        )


def merge(matches: Iterable[Match]) -> list[Vulnerability]:
    """The vulnerabilities behind ``matches``: records sharing an id or alias are one."""
    return combine(
        Vulnerability(
            ids=(m.advisory.id,),
            aliases=m.advisory.aliases,
            summary=m.advisory.summary,
            severity=m.severity,
            severity_basis=f"{m.advisory.id}: {m.advisory.severity_basis}" if m.severity else "",
            fixed=m.fixed,
        )
        for m in matches
    )


def combine(vulns: Iterable[Vulnerability]) -> list[Vulnerability]:
    """Merge vulnerabilities whose ids or aliases overlap (transitively) into one each.

    The primary id is the most specific database's (PYSEC, then GHSA, then CVE);
    the severity is the highest any member states; fixed versions are pooled.
    """
    groups: list[tuple[set[str], list[Vulnerability]]] = []
    for v in vulns:
        names = {*v.ids, *v.aliases}
        joined = [g for g in groups if g[0] & names]
        for g in joined:
            groups.remove(g)
            names |= g[0]
        groups.append((names, [x for g in joined for x in g[1]] + [v]))
    out = []
    for names, members in groups:
        ids = sorted({i for m in members for i in m.ids}, key=id_order)
        best = max(members, key=lambda m: _rank(m.severity))
        out.append(
            Vulnerability(
                ids=tuple(ids),
                aliases=tuple(sorted(names - set(ids), key=id_order)),
                summary=next((m.summary for m in members if m.summary), ""),
                severity=best.severity,
                severity_basis=best.severity_basis,
                fixed=tuple(sorted({f for m in members for f in m.fixed}, key=version_order)),
            )
        )
    return sorted(out, key=lambda v: id_order(v.id))


def id_order(ident: str) -> tuple[int, str]:
    """Sort key of advisory ids: PyPI-specific databases first, then by id."""
    for rank, prefix in enumerate(ID_PREFERENCE):
        if ident.startswith(prefix):
            return rank, ident
    return len(ID_PREFERENCE), ident


# -- matching ---------------------------------------------------------------------------


def _public(version: Version, bound: Version) -> Version:
    """``version`` as compared with an upstream ``bound``: ``1.0+cu118`` is a local build of
    1.0 (PEP 440), so against a bound without a local label it is 1.0, not above it."""
    return Version(version.public) if version.local and not bound.local else version


def _listed(versions: Sequence[str], version: str) -> bool:
    if version in versions:
        return True
    try:
        wanted = Version(version)
    except InvalidVersion:
        return False
    for v in versions:
        try:
            listed = Version(v)
        except InvalidVersion:
            continue
        if _public(wanted, listed) == listed:
            return True
    return False


def _bound(value: str) -> Version | None:
    """A range bound; None for one that is not PEP 440 (treated as open: fail closed)."""
    try:
        return Version(value)
    except InvalidVersion:
        return None


def _in_range(events: Sequence[tuple[str, str]], version: Version) -> bool:
    limits = [v for kind, v in events if kind == "limit"]
    if limits and "*" not in limits:
        bounds = [_bound(v) for v in limits]
        if all(b is not None and version >= b for b in bounds):
            return False
    ordered = sorted(
        ((kind, v) for kind, v in events if kind != "limit"),
        key=lambda e: (Version("0") if e[1] == "0" else _bound(e[1]) or Version("0"), e[0]),
    )
    affected = False
    for kind, value in ordered:
        bound = Version("0") if value == "0" else _bound(value)
        if kind == "introduced":
            if bound is None or version >= bound:
                affected = True
        elif kind == "fixed":
            if bound is not None and version >= bound:
                affected = False
        elif kind == "last_affected" and bound is not None and _public(version, bound) > bound:
            affected = False
    return affected


def _fixed_above(ranges: Sequence[Sequence[tuple[str, str]]], version: str) -> Iterator[str]:
    current = _bound(version)
    for events in ranges:
        for kind, value in events:
            if kind != "fixed":
                continue
            bound = _bound(value)
            if current is None or bound is None or bound > current:
                yield value


def version_order(version: str) -> tuple[int, Version | str]:
    """Sort key of version strings: PEP 440 order, anything else after, by text."""
    bound = _bound(version)
    return (0, bound) if bound is not None else (1, version)  # type: ignore[return-value]


# -- severities -------------------------------------------------------------------------

_LABELS = {
    "critical": "critical",
    "high": "high",
    "moderate": "medium",
    "medium": "medium",
    "low": "low",
}


def _rank(label: str) -> int:
    return Severity.parse(label).value if label else 0


def higher(a: str, b: str) -> str:
    """The higher of two severity labels ("" is unknown, below every label)."""
    return a if _rank(a) >= _rank(b) else b


def rating(score: float, *, v2: bool = False) -> str:
    """CVSS qualitative rating of a base score (v2 has no "critical")."""
    if score >= 9.0 and not v2:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low"


def severity_of(record: Mapping[str, Any]) -> tuple[str, str]:
    """The highest severity the record states, and what it was derived from.

    CVSS v3.x and v2 vectors are scored with the specifications' base formulas;
    CVSS v4 vectors, whose score comes from FIRST's macrovector lookup tables, with
    the ``cvss`` library; ``database_specific.severity`` (GHSA's
    CRITICAL/HIGH/MODERATE/LOW) is read as given. A record with none of these, or only
    malformed vectors, has unknown severity (``""``), which the gate maps to its
    ``unknown_severity`` option.
    """
    best, basis = "", ""
    for entry in record.get("severity") or ():
        if not isinstance(entry, Mapping):
            continue
        kind, score = str(entry.get("type", "")), entry.get("score")
        label, why = _score_label(kind, score)
        if label and _rank(label) > _rank(best):
            best, basis = label, why
    specific = record.get("database_specific")
    if isinstance(specific, Mapping):
        label = _LABELS.get(str(specific.get("severity", "")).strip().lower(), "")
        if label and _rank(label) > _rank(best):
            best, basis = label, f"database_specific.severity {specific['severity']}"
    return best, basis


def _score_label(kind: str, score: Any) -> tuple[str, str]:
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        return rating(float(score)), f"{kind} score {score}"
    if not isinstance(score, str):
        return "", ""
    try:
        if kind == "CVSS_V3" or score.startswith("CVSS:3."):
            value = cvss3_base_score(score)
            return rating(value), f"{kind} {value:.1f}"
        if kind == "CVSS_V2":
            value = cvss2_base_score(score)
            return rating(value, v2=True), f"{kind} {value:.1f}"
        if kind == "CVSS_V4" or score.startswith("CVSS:4."):
            value = cvss4_base_score(score)
            return rating(value), f"{kind} {value:.1f}"
    except (KeyError, ValueError):
        return "", ""
    return "", ""


def cvss4_base_score(vector: str) -> float:
    """CVSS v4.0 base score (CVSS-B, or CVSS-BTE where the vector has those metrics).

    v4 has no formula: the score is interpolated from FIRST's table of 270
    macrovectors, which the ``cvss`` library carries. Its errors become ValueError.
    """
    from cvss import CVSS4
    from cvss.exceptions import CVSSError

    try:
        return float(CVSS4(vector.strip()).base_score)
    except CVSSError as exc:
        raise ValueError(f"malformed CVSS v4 vector {vector!r}: {exc}") from None


def _metrics(vector: str) -> dict[str, str]:
    parts = vector.strip().strip("()").split("/")
    out = {}
    for part in parts:
        key, _, value = part.partition(":")
        if not value:
            raise ValueError(f"malformed CVSS vector {vector!r}")
        out[key] = value
    return out


def _roundup(value: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number >= value, float-safe."""
    whole = round(value * 100_000)
    if whole % 10_000 == 0:
        return whole / 100_000
    return (math.floor(whole / 10_000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float:
    """CVSS v3.0/v3.1 base score (FIRST's specification, section 7.1)."""
    m = _metrics(vector)
    changed = m["S"] == "C"
    av = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[m["AV"]]
    ac = {"L": 0.77, "H": 0.44}[m["AC"]]
    pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[m["PR"]]
    ui = {"N": 0.85, "R": 0.62}[m["UI"]]
    cia = {"H": 0.56, "L": 0.22, "N": 0.0}
    iss = 1 - (1 - cia[m["C"]]) * (1 - cia[m["I"]]) * (1 - cia[m["A"]])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if m["S"] not in ("U", "C"):
        raise ValueError(f"unknown scope in {vector!r}")
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * av * ac * pr * ui
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return _roundup(min(total, 10.0))


def cvss2_base_score(vector: str) -> float:
    """CVSS v2 base score (FIRST's v2 guide, section 3.2.1)."""
    m = _metrics(vector)
    av = {"L": 0.395, "A": 0.646, "N": 1.0}[m["AV"]]
    ac = {"H": 0.35, "M": 0.61, "L": 0.71}[m["AC"]]
    au = {"M": 0.45, "S": 0.56, "N": 0.704}[m["Au"]]
    cia = {"N": 0.0, "P": 0.275, "C": 0.660}
    impact = 10.41 * (1 - (1 - cia[m["C"]]) * (1 - cia[m["I"]]) * (1 - cia[m["A"]]))
    exploitability = 20 * av * ac * au
    f = 0.0 if impact == 0 else 1.176
    return round((0.6 * impact + 0.4 * exploitability - 1.5) * f, 1)


# -- loading ----------------------------------------------------------------------------


def parse_location(spec: str, root: Path) -> Path:
    """``osv:PATH`` (relative to the project root) to an absolute path."""
    if not spec.startswith("osv:") or not spec[4:].strip():
        raise DatabaseError(f"database {spec!r} must be written as 'osv:PATH'")
    path = Path(os.path.expanduser(spec[4:].strip()))
    return path if path.is_absolute() else root / path


def load(path: Path, cache_dir: Path | None = None) -> tuple[Database, list[str]]:
    """Load and index the database at ``path``; also return notes (cache trouble)."""
    return _load(path, _digest(path), cache_dir)


def audit(
    path: Path, packages: Iterable[tuple[str, str]], cache_dir: Path | None = None
) -> tuple[DatabaseFacts, dict[tuple[str, str], Answer], list[str]]:
    """The database's :class:`Answer` on each ``(name, version)``, and notes.

    With ``cache_dir``, the answers are kept beside the index, keyed by the database's
    state (every record file's path, size and mtime) and this plugin's version: when
    neither changed and every package version was asked before, neither the records
    nor the index are read. Answers that do not verify are recomputed, never trusted.
    """
    wanted = sorted({(canonicalize_name(n), v) for n, v in packages})
    digest = _digest(path)
    notes: list[str] = []
    answers_file = None
    known: dict[tuple[str, str], Answer] = {}
    facts = None
    if cache_dir is not None:
        answers_file = cache_dir / f"osv-answers-{_location_key(path)}.json"
        facts, known, note = _read_answers(answers_file, str(path), digest)
        if note:
            notes.append(note)
    if facts is not None and all(w in known for w in wanted):
        return facts, {w: known[w] for w in wanted}, notes
    db, more = _load(path, digest, cache_dir)
    notes.extend(more)
    answers = {w: known[w] if w in known else db.answer(*w) for w in wanted}
    facts = db.facts()
    if answers_file is not None:
        note = _write_answers(answers_file, facts, answers)
        if note:
            notes.append(note)
    return facts, answers, notes


def _digest(path: Path) -> str:
    if not path.exists():
        raise DatabaseError(
            f"the advisory database {path} does not exist",
            "point `database` at a directory of OSV JSON/YAML records or at OSV's "
            "per-ecosystem zip (relative to the project root), or remove it to query OSV online",
        )
    return hashlib.sha256(json.dumps(_stamp(path)).encode()).hexdigest()


def _location_key(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def _load(path: Path, digest: str, cache_dir: Path | None) -> tuple[Database, list[str]]:
    notes: list[str] = []
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / f"osv-index-{_location_key(path)}.json"
        db, note = _read_cache(cache_file, digest, str(path))
        if note:
            notes.append(note)
        if db is not None:
            return db, notes
    db = _build(path, digest)
    if cache_file is not None:
        note = _write_cache(cache_file, db)
        if note:
            notes.append(note)
    return db, notes


def _stamp(path: Path) -> list[Any]:
    """What identifies the database's content cheaply: each record file's size and mtime."""
    if path.is_file():
        st = path.stat()
        return [INDEX_FORMAT, "zip", str(path.resolve()), st.st_size, st.st_mtime_ns]
    entries: list[list[Any]] = []
    try:
        _scan(str(path), "", entries)
    except OSError as exc:
        raise DatabaseError(f"the advisory database {path} cannot be read: {exc}") from None
    entries.sort()
    return [INDEX_FORMAT, "dir", str(path.resolve()), entries]


def _scan(top: str, prefix: str, out: list[list[Any]]) -> None:
    # os.scandir and plain strings: pathlib costs more than the stat calls on 1000s of files
    with os.scandir(top) as it:
        for entry in it:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                _scan(entry.path, f"{prefix}{entry.name}/", out)
            elif entry.name.endswith(RECORD_SUFFIXES):
                st = entry.stat()
                out.append([prefix + entry.name, st.st_size, st.st_mtime_ns])


def _record_files(path: Path) -> list[Path]:
    entries: list[list[Any]] = []
    _scan(str(path), "", entries)
    return sorted(path / rel for rel, _, _ in entries)


def _build(path: Path, digest: str) -> Database:
    db = Database(location=str(path), digest=digest)
    corrupt: list[str] = []
    for label, raw in _raw_records(path):
        try:
            record = _decode(label, raw)
            advisory = _advisory(record)
        except (ValueError, TypeError, KeyError) as exc:
            corrupt.append(f"{label}: {exc}")
            continue
        db.records += 1
        if advisory.modified > db.newest_modified:
            db.newest_modified = advisory.modified
        if not advisory.affected:
            db.other_ecosystems += 1
            continue
        if advisory.withdrawn:
            db.withdrawn += 1
        for name in sorted({a.name for a in advisory.affected}):
            db.by_name.setdefault(name, []).append(advisory)
    if corrupt:
        shown = "\n".join(corrupt[:10]) + (
            f"\n... and {len(corrupt) - 10} more" if len(corrupt) > 10 else ""
        )
        raise DatabaseError(
            f"the advisory database {path} has {len(corrupt)} unreadable record(s); "
            "re-download it or remove the broken files",
            shown,
        )
    if db.records == 0:
        raise DatabaseError(
            f"the advisory database {path} holds no OSV records (.json/.yaml files); "
            "point `database` at an OSV export"
        )
    if not db.by_name:
        raise DatabaseError(
            f"the advisory database {path} holds {db.records} records but none for the "
            f"{ECOSYSTEM} ecosystem; is it the export of another ecosystem?"
        )
    return db


def _raw_records(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if info.is_dir() or base.startswith(".") or not base.endswith(RECORD_SUFFIXES):
                        continue
                    yield f"{path.name}:{info.filename}", zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DatabaseError(
                f"the advisory database {path} is not a readable zip of OSV records ({exc})"
            ) from None
        return
    try:
        files = _record_files(path)
    except OSError as exc:
        raise DatabaseError(f"the advisory database {path} cannot be read: {exc}") from None
    for f in files:
        try:
            yield f.relative_to(path).as_posix(), f.read_bytes()
        except OSError as exc:
            raise DatabaseError(f"advisory record {f} cannot be read: {exc}") from None


def _decode(label: str, raw: bytes) -> Mapping[str, Any]:
    if label.endswith(".json"):
        data = json.loads(raw)
    else:
        # PyYAML (it comes with bandit) is imported only to parse records, never on a run
        # that reads the kept index. A session with pytester imports it up front
        # (activation.py): a re-import after a sys.modules restore breaks its C loader.
        try:
            import yaml
        except ImportError:  # pragma: no cover
            raise ValueError("YAML records need PyYAML (`pip install pyyaml`)") from None
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(raw, Loader=loader)
        except yaml.YAMLError as exc:
            raise ValueError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, Mapping):
        raise ValueError("not an OSV record (expected a mapping)")
    return data


def _text(value: Any, what: str) -> str:
    if isinstance(value, datetime):  # YAML reads unquoted timestamps as datetimes
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        # a float version (YAML's 1.10 -> 1.1) cannot be trusted to mean what was written
        raise ValueError(f"{what} must be a string, not {value!r}")
    return str(value)


def _advisory(record: Mapping[str, Any]) -> Advisory:
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise ValueError("no id")
    aliases = record.get("aliases") or []
    if not isinstance(aliases, list):
        raise ValueError("aliases must be a list")
    affected = []
    for entry in record.get("affected") or []:
        if not isinstance(entry, Mapping):
            raise ValueError("affected[] entries must be mappings")
        package = entry.get("package")
        if not isinstance(package, Mapping):
            continue  # an entry without a package (e.g. a bare GIT range)
        if str(package.get("ecosystem", "")).split(":", 1)[0] != ECOSYSTEM:
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("affected[].package has no name")
        ranges = []
        for r in entry.get("ranges") or []:
            if not isinstance(r, Mapping) or not isinstance(r.get("events"), list):
                raise ValueError("affected[].ranges[] needs a list of events")
            if r.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges are in commits, not versions
            events = []
            for event in r["events"]:
                if not isinstance(event, Mapping) or len(event) != 1:
                    raise ValueError("each range event must have exactly one key")
                ((kind, value),) = event.items()
                if kind not in ("introduced", "fixed", "last_affected", "limit"):
                    raise ValueError(f"unknown range event {kind!r}")
                events.append((str(kind), _text(value, f"{kind} version")))
            ranges.append(tuple(events))
        versions = entry.get("versions") or []
        if not isinstance(versions, list):
            raise ValueError("affected[].versions must be a list")
        has_git = any(
            isinstance(r, Mapping) and r.get("type") == "GIT" for r in entry.get("ranges") or []
        )
        if has_git and not ranges and not versions:
            continue  # only commit ranges: nothing to compare a version with
        level, _ = severity_of(entry)
        specific = entry.get("ecosystem_specific")
        if isinstance(specific, Mapping):
            level = higher(level, _LABELS.get(str(specific.get("severity", "")).lower(), ""))
        affected.append(
            Affected(
                name=canonicalize_name(name),
                ranges=tuple(ranges),
                versions=tuple(_text(v, "versions[]") for v in versions),
                severity=level,
            )
        )
    severity, basis = severity_of(record)
    summary = record.get("summary") or record.get("details") or ""
    summary = " ".join(str(summary).split())
    return Advisory(
        id=ident,
        aliases=tuple(str(a) for a in aliases if a != ident),
        summary=summary[:200] + ("..." if len(summary) > 200 else ""),
        modified=_text(record.get("modified", ""), "modified"),
        withdrawn=bool(record.get("withdrawn")),
        severity=severity,
        severity_basis=basis,
        affected=tuple(affected),
    )


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# -- cache ------------------------------------------------------------------------------


def _read_cache(cache_file: Path, digest: str, location: str) -> tuple[Database | None, str]:
    """The cached index when it belongs to this database state and verifies, else None."""
    try:
        raw = cache_file.read_bytes()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"advisory index cache {cache_file} unreadable ({exc.strerror}); rebuilt"
    try:
        header, body_bytes = split_checked(raw)
        if header.get("format") != INDEX_FORMAT or header.get("digest") != digest:
            return None, ""  # the database changed: rebuild quietly
        body = verified_body(header, body_bytes)
        db = Database(
            location=location,
            digest=digest,
            records=int(body["records"]),
            withdrawn=int(body["withdrawn"]),
            other_ecosystems=int(body["other_ecosystems"]),
            newest_modified=str(body["newest_modified"]),
            from_cache=True,
            raw_by_name=dict(body["by_name"]),
        )
    except Exception as exc:  # any corruption at all: rebuild from the records
        return None, f"advisory index cache {cache_file} is corrupt ({exc}); rebuilt"
    return db, ""


def _write_cache(cache_file: Path, db: Database) -> str:
    body = {
        "records": db.records,
        "withdrawn": db.withdrawn,
        "other_ecosystems": db.other_ecosystems,
        "newest_modified": db.newest_modified,
        "by_name": {n: [a.to_json() for a in advs] for n, advs in sorted(db.by_name.items())},
    }
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_checked(cache_file, {"format": INDEX_FORMAT, "digest": db.digest}, body)
    except OSError as exc:
        return f"advisory index cache not written ({exc.strerror}); the next run parses again"
    return ""


def _read_answers(
    answers_file: Path, location: str, digest: str
) -> tuple[DatabaseFacts | None, dict[tuple[str, str], Answer], str]:
    """The answers an earlier run kept for this database state; none when they do not verify."""
    try:
        raw = answers_file.read_bytes()
    except FileNotFoundError:
        return None, {}, ""
    except OSError as exc:
        return None, {}, f"advisory answers {answers_file} unreadable ({exc.strerror}); recomputed"
    try:
        header, body_bytes = split_checked(raw)
        # The digest covers the database's resolved path: the same database, however
        # `database` spells its location.
        if (
            header.get("format") != ANSWERS_FORMAT
            or header.get("version") != __version__
            or header.get("digest") != digest
        ):
            return None, {}, ""  # the database or the matching code changed: quietly
        body = verified_body(header, body_bytes)
        facts = DatabaseFacts.from_json(body["facts"], location, digest)
        known = {}
        for name, version, answer in body["answers"]:
            known[(str(name), str(version))] = Answer.from_json(answer)
    except Exception as exc:  # any corruption at all: ask the index again
        return None, {}, f"advisory answers {answers_file} are corrupt ({exc}); recomputed"
    return facts, known, ""


def _write_answers(
    answers_file: Path, facts: DatabaseFacts, answers: Mapping[tuple[str, str], Answer]
) -> str:
    body = {
        "facts": facts.to_json(),
        "answers": [[n, v, answer.to_json()] for (n, v), answer in sorted(answers.items())],
    }
    header = {"format": ANSWERS_FORMAT, "version": __version__, "digest": facts.digest}
    try:
        answers_file.parent.mkdir(parents=True, exist_ok=True)
        write_checked(answers_file, header, body)
    except OSError as exc:
        return f"advisory answers not written ({exc.strerror}); the next run asks the index"
    return ""
