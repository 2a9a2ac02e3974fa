"""Waivers: documented, owned, expiring exceptions to a gate's findings.

A waiver (``[[tool.platformgates.waivers]]``, a policy file's ``[[waivers]]``, or the
waivers file the policy names) covers the findings of one gate whose rule, advisory id
or fingerprint is its ``id`` (and whose path matches its ``path`` glob). A covered
finding no longer blocks but is recorded as waived, in every report and the evidence.
An expired waiver covers nothing and fails its gate; one that matches nothing is
stale; critical findings stay blocking unless the policy allows waiving them.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .config import ConfigError, Option
from .model import Analysis, Finding, GateResult, Severity, fingerprint

if TYPE_CHECKING:
    from .gate import Gate

RULES: tuple[Option, ...] = (
    Option(
        "file",
        "str",
        None,
        "A TOML file of [[waivers]] entries, relative to the file that names it.",
    ),
    Option("require_approver", "bool", False, "Every waiver must name approved_by."),
    Option(
        "max_days",
        "int",
        None,
        "Longest lifetime of a waiver in days, from its created date (then required).",
        minimum=1,
    ),
    Option(
        "stale",
        "choice",
        "warn",
        "A waiver that matches no finding: warn, or fail its gate.",
        choices=("warn", "fail"),
    ),
    Option(
        "warn_days",
        "int",
        14,
        "Warn about waivers that expire within this many days.",
        minimum=0,
    ),
    Option(
        "allow_critical",
        "bool",
        False,
        "Let a waiver cover a critical finding (by default critical always blocks).",
    ),
)

FIELDS = ("gate", "id", "path", "reason", "owner", "approved_by", "expires", "created")
REQUIRED = ("gate", "id", "reason", "owner", "expires")


def today() -> dt.date:
    """The day waivers are judged on (UTC, so that CI and laptops agree)."""
    return dt.datetime.now(dt.timezone.utc).date()


@dataclass(frozen=True)
class WaiverRules:
    """The waiver policy: what a waiver must say and how long it may live."""

    values: Mapping[str, Any]

    @classmethod
    def from_table(cls, raw: Mapping[str, Any]) -> WaiverRules:
        by_name = {o.name: o for o in RULES}
        for key in raw:
            if key not in by_name:
                raise ConfigError(
                    f"waiver_policy.{key}: unknown key; known keys: {', '.join(sorted(by_name))}"
                )
        values = {}
        for option in RULES:
            value = raw.get(option.name)
            values[option.name] = (
                option.coerce(value, "waiver_policy") if value is not None else option.default
            )
        return cls(values)

    def get(self, key: str) -> Any:
        return self.values[key]

    @property
    def file(self) -> str | None:
        return self.values["file"]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class Waiver:
    """One exception: which findings, why, whose, until when."""

    gate: str
    id: str
    reason: str
    owner: str
    expires: dt.date
    source: str  # the file it is written in, as messages name it
    index: int
    path: str = ""
    approved_by: str = ""
    created: dt.date | None = None

    @property
    def label(self) -> str:
        where = f" path {self.path!r}" if self.path else ""
        return f"{self.gate}:{self.id}{where} ({self.source} waiver #{self.index + 1})"

    def days_left(self, on: dt.date) -> int:
        return (self.expires - on).days

    def expired(self, on: dt.date) -> bool:
        return self.expires < on

    def matches(self, finding: Finding) -> bool:
        if finding.gate != self.gate or self.id not in (
            finding.rule,
            finding.fingerprint,
            *finding.aliases,
        ):
            return False
        return not self.path or fnmatch.fnmatchcase(finding.path, self.path)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gate": self.gate,
            "id": self.id,
            "reason": self.reason,
            "owner": self.owner,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "source": self.source,
        }
        if self.path:
            out["path"] = self.path
        if self.created:
            out["created"] = self.created.isoformat()
        return out

    def stamp(self, on: dt.date) -> dict[str, Any]:
        """What a covered finding carries (the ``waiver`` key of its JSON form)."""
        return {
            "id": self.id,
            "reason": self.reason,
            "owner": self.owner,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "days_left": self.days_left(on),
        }


def parse(
    entries: Sequence[Any],
    source: str,
    where: str,
    gates: Mapping[str, Gate],
    rules: WaiverRules,
) -> list[Waiver]:
    """Validate waiver entries strictly; any mistake is a usage error naming the entry."""
    out = []
    for i, entry in enumerate(entries):
        here = f"{source}: {where}[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{here} must be a table")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise ConfigError(f"{here}.{unknown[0]}: unknown key; known keys: {', '.join(FIELDS)}")
        for key in REQUIRED:
            if key not in entry:
                raise ConfigError(
                    f"{here}: {key} is required (every waiver has {', '.join(REQUIRED)})"
                )
        texts = {}
        for key in ("gate", "id", "path", "reason", "owner", "approved_by"):
            value = entry.get(key, "")
            if not isinstance(value, str) or (key in entry and not value.strip()):
                raise ConfigError(f"{here}.{key} must be a non-empty string")
            texts[key] = value.strip()
        if texts["gate"] not in gates:
            known = ", ".join(sorted(gates)) or "none"
            raise ConfigError(f"{here}.gate: no such gate {texts['gate']!r} (registered: {known})")
        expires = _date(entry["expires"], f"{here}.expires")
        created = _date(entry["created"], f"{here}.created") if "created" in entry else None
        if created is not None and created > expires:
            raise ConfigError(f"{here}: created {created} is after expires {expires}")
        if created is not None and created > today():
            # A future created date would let a waiver's lifetime start whenever it
            # likes: the max_days cap would measure a span that has not begun.
            raise ConfigError(
                f"{here}: waiver {texts['gate']}:{texts['id']} has created {created}, a day "
                f"in the future (today is {today()}, UTC); write the day it was approved"
            )
        if rules.get("require_approver") and not texts["approved_by"]:
            raise ConfigError(
                f"{here}: approved_by is required by the policy (waiver_policy.require_approver)"
            )
        cap = rules.get("max_days")
        if cap is not None:
            if created is None:
                raise ConfigError(
                    f"{here}: created is required: the policy caps a waiver's lifetime at "
                    f"{cap} days (waiver_policy.max_days)"
                )
            lifetime = (expires - created).days
            if lifetime > cap:
                raise ConfigError(
                    f"{here}: lives {lifetime} days (created {created}, expires {expires}), "
                    f"longer than the policy's cap of {cap} days (waiver_policy.max_days)"
                )
        out.append(
            Waiver(
                gate=texts["gate"],
                id=texts["id"],
                reason=texts["reason"],
                owner=texts["owner"],
                approved_by=texts["approved_by"],
                path=texts["path"],
                expires=expires,
                created=created,
                source=source,
                index=i,
            )
        )
    return out


def check_unique(found: Iterable[Waiver]) -> None:
    seen: dict[tuple[str, str, str], Waiver] = {}
    for w in found:
        key = (w.gate, w.id, w.path)
        if key in seen:
            raise ConfigError(f"{w.source}: waiver {w.label} duplicates {seen[key].label}")
        seen[key] = w


def _date(value: Any, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ConfigError(f"{key} must be a date such as 2026-12-31, not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{key} must be a date such as 2026-12-31, not {value!r}")


def apply(
    waivers: Sequence[Waiver],
    rules: WaiverRules,
    gate: str,
    analysis: Analysis,
    fail_on: Severity,
    on: dt.date | None = None,
) -> Analysis:
    """Mark the findings the gate's waivers cover; add what expired or stale waivers demand."""
    mine = [w for w in waivers if w.gate == gate]
    if not mine:
        return analysis
    on = on or today()
    allow_critical = bool(rules.get("allow_critical"))
    matched: dict[int, int] = {}
    covered: dict[int, int] = {}
    findings = []
    # By id, so that many waivers over many findings stay linear.
    by_id: dict[str, list[int]] = {}
    stamps: dict[Waiver, dict[str, Any]] = {}
    for n, w in enumerate(mine):
        by_id.setdefault(w.id, []).append(n)
    for finding in analysis.findings:
        cover = None
        why_not = []
        names = {finding.rule, finding.fingerprint, *finding.aliases}
        candidates = sorted({n for name in names for n in by_id.get(name, [])})
        for n in candidates:
            w = mine[n]
            if not w.matches(finding):
                continue
            matched[n] = matched.get(n, 0) + 1
            if cover is not None:
                continue
            if w.expired(on):
                why_not.append(f"waiver {w.label} expired on {w.expires}")
            elif finding.severity is Severity.CRITICAL and not allow_critical:
                why_not.append(
                    f"waiver {w.label} cannot cover a critical finding "
                    "(the policy does not set waiver_policy.allow_critical)"
                )
            else:
                cover = w
                covered[n] = covered.get(n, 0) + 1
        if cover is not None:
            if cover not in stamps:
                stamps[cover] = cover.stamp(on)
            finding = replace(finding, waiver=stamps[cover])
        elif why_not:
            hint = "; ".join(why_not)
            finding = replace(finding, hint=f"{finding.hint} ({hint})" if finding.hint else hint)
        findings.append(finding)
    notes = list(analysis.notes)
    records = []
    judged = not analysis.problems  # a gate that could not judge says nothing about staleness
    for n, w in enumerate(mine):
        days = w.days_left(on)
        if w.expired(on):
            status = "expired"
            findings.append(_waiver_finding(w, "waiver-expired", fail_on, on))
        elif n in covered:
            status = "applied"
        elif n in matched:
            status = "refused"
        elif not judged:
            status = "unchecked"
        else:
            status = "stale"
            if rules.get("stale") == "fail":
                findings.append(_waiver_finding(w, "waiver-stale", fail_on, on))
            else:
                notes.append(f"stale waiver {w.label}: it matches no finding; remove it")
        if status != "expired" and days <= int(rules.get("warn_days")):
            notes.append(
                f"waiver {w.label} (owner {w.owner}) expires in {days} day"
                f"{'s' if days != 1 else ''} ({w.expires}): renew or fix it"
            )
        records.append({**w.to_dict(), "status": status, "days_left": days})
    return replace(analysis, findings=tuple(findings), notes=tuple(notes), waivers=tuple(records))


def _waiver_finding(w: Waiver, rule: str, fail_on: Severity, on: dt.date) -> Finding:
    # At the gate's own fail_on, so that it blocks whatever the threshold.
    if rule == "waiver-expired":
        message = (
            f"waiver {w.label} (owner {w.owner}) expired on {w.expires}, "
            f"{-w.days_left(on)} days ago; it covers nothing any more"
        )
        hint = "fix the findings and remove the waiver, or renew it with a new expiry and approval"
    else:
        message = f"waiver {w.label} (owner {w.owner}) matches no finding (stale)"
        hint = "remove the waiver; the policy fails stale waivers (waiver_policy.stale = 'fail')"
    return Finding(
        gate=w.gate,
        rule=rule,
        severity=fail_on,
        path=w.source if not w.source.startswith("pkg:") else "",
        line=0,
        message=message,
        hint=hint,
        fingerprint=fingerprint(w.gate, rule, w.source, f"{w.id}\x1f{w.path}", w.index),
    )


def status_on(w: Waiver, rules: WaiverRules, on: dt.date) -> str:
    """A waiver's status without running its gate: active, expiring or expired."""
    if w.expired(on):
        return "expired"
    if w.days_left(on) <= int(rules.get("warn_days")):
        return "expiring"
    return "active"


def summary_lines(results: Iterable[GateResult]) -> list[str]:
    """The waivers of a run, for the terminal: what each covered, whose, how long left."""
    lines = []
    for result in sorted(results, key=lambda r: r.gate):
        for record in result.waivers:
            count = sum(
                1 for f in result.findings if f.waiver and f.waiver.get("id") == record["id"]
            )
            covered = f", covers {count} finding{'s' if count != 1 else ''}" if count else ""
            lines.append(
                f"{result.gate}: waiver {record['id']} {str(record['status']).upper()}"
                f" (owner {record['owner']}, expires {record['expires']}, "
                f"{record['days_left']} days left{covered})"
            )
    return lines


def report_lines(
    waivers: Sequence[Waiver], rules: WaiverRules, on: dt.date | None = None
) -> tuple[list[str], bool]:
    """What ``platformgates waivers`` prints, and whether any waiver has expired."""
    on = on or today()
    if not waivers:
        return ["no waivers"], False
    out = []
    expired = False
    for w in sorted(waivers, key=lambda w: (w.expires, w.gate, w.id)):
        status = status_on(w, rules, on)
        expired = expired or status == "expired"
        days = w.days_left(on)
        when = f"expired {-days} days ago" if days < 0 else f"{days} days left"
        out.append(f"{status.upper():<8} {w.gate}:{w.id}" + (f" path {w.path}" if w.path else ""))
        out.append(f"         expires {w.expires} ({when}), owner {w.owner}")
        approver = f"approved by {w.approved_by}" if w.approved_by else "no approver"
        created = f", created {w.created}" if w.created else ""
        out.append(f"         {approver}{created}, in {w.source}")
        out.append(f"         reason: {w.reason}")
    counts = {s: 0 for s in ("active", "expiring", "expired")}
    for w in waivers:
        counts[status_on(w, rules, on)] += 1
    out.append(
        f"{len(waivers)} waiver{'s' if len(waivers) != 1 else ''}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + " (whether each still matches a finding shows when the gates run)"
    )
    return out, expired
