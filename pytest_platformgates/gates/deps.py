"""The deps gate: known vulnerabilities in the project's dependencies, online or air-gapped.

Dependencies come from :mod:`..dependencies` (the project's interpreter by default,
or a requirements file, ``pyproject.toml``, a PEP 751 lock file), so direct and
transitive ones are told apart in every finding whichever way they are audited:

- offline (``database = "osv:PATH"``): matched against a local OSV export with the
  rules in :mod:`..osv`;
- online: the exact ``name==version`` list is handed to ``pip-audit -r FILE
  --no-deps --disable-pip`` (hermetic: pip-audit resolves nothing and never looks at
  its own environment) against OSV or PyPI.

A dependency that could not be audited (no exact version, a version that is not
PEP 440, a ``skip_reason`` from pip-audit) is an error unless the policy says
otherwise: ``unaudited = "warn"`` for all of them, or, for one package, a waiver
whose id is ``unaudited:NAME`` (owned, with a reason and an expiry, like any other).
pip-audit's "No known vulnerabilities found" with every package skipped must never
read as a pass.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import dependencies, osv, redaction, waivers
from ..config import ConfigError, Option
from ..gate import Gate, GateContext, GateError
from ..hookspecs import hookimpl
from ..model import Analysis, Finding, Severity, fingerprint
from ..process import TRACEBACK, run_tool, stderr_tail, supported_version

DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"
#: Records fetched per online result (its id and aliases) to find a severity.
MAX_FETCHES = 4
MIN_PIP_AUDIT, BELOW_PIP_AUDIT = "2.7", "3"
#: pip-audit's warnings that mean it dropped an advisory it was sent.
PIP_AUDIT_DROPPED = ("is missing 'affected' list", "Unsupported OSV schema version")
#: Days a record's `modified` may lie ahead of this machine's clock (time zones, skew).
FUTURE_DAYS = 1
#: Rule (and waiver id) of a dependency that could not be audited: ``unaudited:NAME``.
UNAUDITED_RULE = "unaudited:"


@dataclass(frozen=True)
class Hit:
    """A vulnerability of one dependency, and the upgrade that clears every known one."""

    dependency: dependencies.Dependency
    vulnerability: osv.Vulnerability
    clear: str | None = None  # lowest fixed version no known advisory affects (offline)


@dataclass(frozen=True)
class Unaudited:
    """A dependency the gate could not check, and why."""

    dependency: dependencies.Dependency
    reason: str

    def __str__(self) -> str:
        d = self.dependency
        return f"{d.name}{' ' + d.version if d.version else ''} ({self.reason})"


class DepsGate(Gate):
    name = "deps"
    reads_files = False  # judges the environment, not the files: no wait for the inventory
    description = "known vulnerabilities (OSV) in direct and transitive dependencies"
    options = (
        Option(
            "source",
            "str",
            dependencies.ENVIRONMENT,
            "What to audit: 'environment' (the distributions installed for `python`), "
            "'pyproject' (the declared dependencies), or the path of a pip requirements "
            "file or PEP 751 lock file (pylock.toml) relative to the project root.",
        ),
        Option(
            "python",
            "str",
            None,
            "Interpreter whose environment is audited; default: the one running pytest.",
        ),
        Option(
            "database",
            "str",
            None,
            "Offline OSV database 'osv:PATH' (a directory of OSV JSON/YAML records or "
            "OSV's per-ecosystem zip), relative to the project root. Default: online.",
        ),
        Option(
            "service",
            "choice",
            None,
            "Online service pip-audit queries: 'osv' (default) or 'pypi'.",
            choices=("osv", "pypi"),
        ),
        Option(
            "osv_url",
            "str",
            None,
            f"OSV-compatible query endpoint for the online audit (default {DEFAULT_OSV_URL}).",
        ),
        Option(
            "unaudited",
            "choice",
            "fail",
            "A dependency that could not be audited: 'fail' (the gate errors) or 'warn'.",
            choices=("fail", "warn"),
        ),
        Option(
            "fail_on_direct",
            "severity",
            None,
            "Lowest severity that blocks for direct dependencies; stricter than or equal "
            "to this gate's fail_on, which applies to transitive ones. Default: fail_on.",
        ),
        Option(
            "unknown_severity",
            "severity",
            "high",
            "Severity of an advisory whose record gives none that can be read.",
        ),
        Option(
            "max_age_days",
            "number",
            7,
            "An offline database whose newest record is older than this is stale.",
            minimum=0,
        ),
        Option(
            "stale",
            "choice",
            "warn",
            "A stale offline database: 'warn' (a note) or 'fail' (the gate errors).",
            choices=("warn", "fail"),
        ),
    )

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        if values["database"] is not None:
            if not str(values["database"]).startswith("osv:"):
                raise ConfigError(
                    f"{where}.database = {values['database']!r}: write it as 'osv:PATH'"
                )
            for key in ("service", "osv_url"):
                if values[key] is not None:
                    raise ConfigError(
                        f"{where}.{key} applies to online audits only; remove it, or remove "
                        "`database` to audit online"
                    )
        if values["osv_url"] is not None and values["service"] == "pypi":
            raise ConfigError(f"{where}.osv_url needs service = 'osv'")
        direct = values["fail_on_direct"]
        if direct is not None and Severity.parse(direct) > Severity.parse(values["fail_on"]):
            raise ConfigError(
                f"{where}.fail_on_direct = {direct!r} is laxer than fail_on = "
                f"{values['fail_on']!r}: direct dependencies cannot be judged more leniently "
                "than transitive ones; lower fail_on_direct or raise fail_on"
            )

    def check(self, ctx: GateContext) -> Analysis:
        settings = ctx.settings
        python = _interpreter(settings["python"], ctx.root)
        try:
            deps = dependencies.load(
                settings["source"], ctx.root, python=python, timeout=ctx.timeout, facts=ctx.facts
            )
            if settings["source"] in (dependencies.PYPROJECT, "pyproject.toml"):
                deps = _pin_from_environment(deps, python, ctx)
        except dependencies.DependencyError as exc:
            # Name the setting the listing came from: a newcomer's typo is usually there.
            setting = "python" if settings["python"] and "interpreter" in str(exc) else "source"
            raise GateError(
                f"the dependencies cannot be listed: {exc} ({setting} = "
                f"{settings[setting]!r}); `source` is 'environment', 'pyproject', or a "
                "requirements or lock file relative to the project root"
            ) from None
        if not deps:
            raise GateError(
                f"no dependencies found in {settings['source']!r}, so nothing was audited; "
                "check `source`, or set `enabled = false` if the project has none"
            )

        unaudited = [
            Unaudited(
                d,
                "not pinned to one version: "
                + (redaction.url_credentials(d.requirement) or "no version"),
            )
            for d in deps
            if d.version is None
        ]
        auditable = [d for d in deps if d.version is not None]
        problems: list[str] = []
        notes: list[str] = []
        figures: dict[str, int | float | str] = {}
        versions: dict[str, str] = {}
        if settings["database"] is not None:
            found, more = self._offline(auditable, ctx, problems, notes, figures)
            mode = "offline"
        else:
            found, more, versions = self._online(auditable, ctx, problems)
            mode = f"online ({settings['service'] or 'osv'})"
        unaudited += more

        findings = self._findings(found, ctx)
        waived = _waived_unaudited(self.name, unaudited, ctx)
        findings += waived.values()
        left = [u for n, u in enumerate(unaudited) if n not in waived]
        if left:
            listed = "; ".join(str(u) for u in left[:25])
            if len(left) > 25:
                listed += f"; ... and {len(left) - 25} more"
            message = (
                f"{len(left)} of {len(deps)} dependencies could not be audited, so "
                f"they may carry known vulnerabilities: {listed}"
            )
            if settings["unaudited"] == "fail":
                problems.append(
                    message + "\nPin them or fix what prevented the audit; where the policy "
                    f'accepts the risk, waive one with id = "{UNAUDITED_RULE}NAME", or set '
                    '`unaudited = "warn"`.'
                )
            else:
                notes.append(message)
        direct = sum(1 for d in deps if d.direct)
        figures.update(
            {
                "mode": mode,
                "dependencies": len(deps),
                "direct": direct,
                "transitive": len(deps) - direct,
                "audited": len(deps) - len(unaudited),
                "unaudited": len(unaudited),
                "unaudited_waived": len(waived),
                "vulnerabilities": len(findings) - len(waived),
            }
        )
        ctx.notes.extend(notes)
        return Analysis(
            findings=tuple(findings),
            problems=tuple(problems),
            figures=figures,
            tool_versions=versions,
            notes=tuple(ctx.notes),
        )

    # -- offline --------------------------------------------------------------------------

    def _offline(
        self,
        deps: Sequence[dependencies.Dependency],
        ctx: GateContext,
        problems: list[str],
        notes: list[str],
        figures: dict[str, int | float | str],
    ) -> tuple[list[Hit], list[Unaudited]]:
        settings = ctx.settings
        cache_dir = ctx.cache.directory if ctx.cache is not None else None
        try:
            path = osv.parse_location(settings["database"], ctx.root)
            db, answers, cache_notes = osv.audit(
                path, [(d.name, str(d.version)) for d in deps], cache_dir
            )
        except osv.DatabaseError as exc:
            raise GateError(
                f"database = {settings['database']!r}: {exc.message}", exc.detail
            ) from None
        notes.extend(cache_notes)
        figures.update(
            {
                "database_records": db.records,
                "database_packages": db.packages,
                "database_index_cached": int(db.index_cached),
                "database_answers_cached": int(db.answered_from_cache),
                "database_newest": db.newest_modified,
                "database_digest": db.digest[:16],
            }
        )
        newest = db.newest
        if newest is None:
            problems.append(
                f"the advisory database {path} gives no `modified` date, so its age is "
                "unknown; an export of unknown age cannot vouch for anything"
            )
        else:
            age = (datetime.now(timezone.utc) - newest).total_seconds() / 86400
            figures["database_age_days"] = round(age, 1)
            if age < -FUTURE_DAYS:
                # one record dated in the future would make any export look fresh for ever
                problems.append(
                    f"the advisory database {path} has a record modified {newest:%Y-%m-%d}, "
                    "in the future, so its age cannot be judged; fix or remove that record, "
                    "or this machine's clock"
                )
            elif age > settings["max_age_days"]:
                stale = (
                    f"the advisory database {path} is stale: its newest record was modified "
                    f"{newest:%Y-%m-%d} ({age:.0f} days ago; max_age_days = "
                    f"{settings['max_age_days']:g}); refresh the export"
                )
                (problems if settings["stale"] == "fail" else notes).append(stale)
        found = []
        unaudited = []
        for dep in deps:
            answer = answers[(canonicalize_name(dep.name), str(dep.version))]
            if answer.invalid:
                unaudited.append(Unaudited(dep, "not a PEP 440 version"))
                continue
            found += [Hit(dep, v, answer.clear) for v in answer.vulnerabilities]
        return found, unaudited

    # -- online ---------------------------------------------------------------------------

    def _online(
        self, deps: Sequence[dependencies.Dependency], ctx: GateContext, problems: list[str]
    ) -> tuple[list[Hit], list[Unaudited], dict[str, str]]:
        settings = ctx.settings
        if not deps:
            return [], [], {}
        service = settings["service"] or "osv"
        # pip-audit rejects the whole file over one non-PEP 440 pin: keep those out
        unaudited = [Unaudited(d, "not a PEP 440 version") for d in deps if not _pep440(d)]
        deps = [d for d in deps if _pep440(d)]
        if not deps:
            return [], unaudited, {}
        pinned = sorted({(d.key, str(d.version)) for d in deps})
        fetcher = _SeverityFetcher(settings["osv_url"] or DEFAULT_OSV_URL, ctx.timeout)
        by_key: dict[tuple[str, str], list[dependencies.Dependency]] = {}
        for d in deps:
            by_key.setdefault((d.key, str(d.version)), []).append(d)
        found = []
        seen: set[tuple[str, str]] = set()
        # pip-audit refuses a requirements file naming a package twice ("duplicate
        # requirements"): two versions of one package (markers, two files, a lock file's
        # alternatives) are audited in separate runs, each naming every package once.
        for layer in _layers(pinned):
            report, stderr = self._pip_audit(layer, service, ctx)
            dropped = [
                line for line in stderr.splitlines() if any(d in line for d in PIP_AUDIT_DROPPED)
            ]
            if dropped:
                problems.append(
                    "pip-audit ignored advisories the service returned, so the audit is "
                    "incomplete:\n" + "\n".join(dropped[:10])
                )
            asked = dict(layer)
            for entry in report:
                name = canonicalize_name(entry["name"])
                # Each run names a package once: its entry is that version, whether pip-audit
                # reports it normalised (1.0RC1 as 1.0rc1) or, skipped, with no version at all.
                key = (name, asked.get(name, ""))
                targets = by_key.get(key)
                if not targets:
                    problems.append(
                        f"pip-audit reported {entry['name']!r}, which was not asked for"
                    )
                    continue
                seen.add(key)
                if entry.get("skip_reason"):
                    unaudited += [Unaudited(d, str(entry["skip_reason"])) for d in targets]
                    continue
                vulns = [_vulnerability(v) for v in entry.get("vulns") or []]
                if service == "osv" and vulns:
                    vulns = [fetcher.rate(v, key[0]) for v in vulns]
                # pip-audit lists every `fixed` event, also those of earlier intervals
                # (pyspark: 3.1.1, 3.2.0, 3.2.2 for 3.2.1): only a later one is an upgrade.
                merged = [_fixed_above(v, key[1]) for v in osv.combine(vulns)]
                found += [Hit(d, v) for d in targets for v in merged]
        version = _pip_audit_version(ctx)
        missing = [(n, v) for n, v in pinned if (n, v) not in seen]
        for n, v in missing:
            unaudited += [Unaudited(d, "absent from pip-audit's report") for d in by_key[(n, v)]]
        if fetcher.failure:
            ctx.notes.append(
                redaction.scrub(
                    f"severities could not be fetched from the OSV service ({fetcher.failure});"
                    " those advisories are taken as unknown_severity",
                    settings["osv_url"] or "",
                )
            )
        return found, unaudited, {"pip-audit": version}

    def _pip_audit(
        self, pinned: Sequence[tuple[str, str]], service: str, ctx: GateContext
    ) -> tuple[list[dict[str, Any]], str]:
        """Run pip-audit on ``pinned`` (each name once): its report's entries and its stderr."""
        settings = ctx.settings
        with tempfile.TemporaryDirectory(prefix="platformgates-deps-") as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(f"{n}=={v}\n" for n, v in pinned), encoding="utf-8")
            argv = [
                *pip_audit_command(),
                "-r",
                str(req),
                "--no-deps",
                "--disable-pip",
                "-f",
                "json",
                "--progress-spinner",
                "off",
                "--aliases",
                "on",
                "--desc",
                "on",
                "--timeout",
                str(max(1, int(min(ctx.timeout, 60)))),
                "-s",
                service,
            ]
            if service == "osv":
                argv += ["--osv-url", settings["osv_url"] or DEFAULT_OSV_URL]
            # pip-audit exits 1 both for "vulnerabilities found" and for crashes: the
            # report on stdout, not the exit code, tells them apart.
            proc = run_tool(argv, cwd=ctx.root, timeout=ctx.timeout, ok_codes=(0, 1))
        report = _parse_report(proc.stdout)
        if report is None:
            names = ", ".join(f"{n} {v}" for n, v in pinned[:25])
            url = settings["osv_url"] or ""
            offline = (
                'audit offline: `database = "osv:PATH"` with a copy of an OSV database, '
                "without pip-audit (docs/gates/deps.md)"
            )
            why = (
                "; is the vulnerability service reachable? Without internet access, point "
                f"`osv_url` at a mirror, or {offline}"
            )
            if TRACEBACK in proc.stderr:
                # Not only the network: one record pip-audit cannot read crashes it too
                # (a `fixed` that is not PEP 440, as PYSEC-2021-371's 0.2.0-n653).
                last = redaction.scrub(proc.stderr.strip().splitlines()[-1][:300], url)
                why = (
                    f"; pip-audit crashed: {last}. Is the vulnerability service reachable? "
                    "If it is, a record it returned is one pip-audit cannot read; either "
                    f"way, {offline}"
                )
            raise GateError(
                f"pip-audit produced no report (exit {proc.returncode}), so none of the "
                f"{len(pinned)} dependencies was audited: {names}"
                + (" ..." if len(pinned) > 25 else "")
                + why,
                redaction.scrub(stderr_tail(proc.stderr), url),
            )
        return report, proc.stderr

    # -- findings -------------------------------------------------------------------------

    def _findings(self, found: Sequence[Hit], ctx: GateContext) -> list[Finding]:
        settings = ctx.settings
        fail_on = settings.fail_on
        direct_on = Severity.parse(settings["fail_on_direct"] or settings["fail_on"])
        unknown = Severity.parse(settings["unknown_severity"])
        findings = []
        occurrences: dict[tuple[str, str], int] = {}
        order = sorted(
            found, key=lambda h: (h.dependency.key, h.dependency.version or "", h.vulnerability.id)
        )
        for hit in order:
            dep, vuln = hit.dependency, hit.vulnerability
            if vuln.severity:
                advisory_severity = Severity.parse(vuln.severity)
                told = f"severity {advisory_severity} ({vuln.severity_basis})"
            else:
                advisory_severity = unknown
                told = f"severity unknown, taken as {unknown} (unknown_severity)"
            severity = advisory_severity
            if dep.direct and advisory_severity >= direct_on and advisory_severity < fail_on:
                severity = fail_on
                told += f"; blocks as a direct dependency (fail_on_direct = {direct_on})"
            kind = "direct" if dep.direct else "transitive"
            if not dep.direct and dep.via:
                kind += f", via {', '.join(dep.via[:3])}" + (" ..." if len(dep.via) > 3 else "")
            elif not dep.direct and dep.source == dependencies.ENVIRONMENT:
                kind += ", installed but required by no declared dependency"
            others = (*vuln.ids[1:], *vuln.aliases)
            also = f" ({', '.join(others)})" if others else ""
            summary = vuln.summary if len(vuln.summary) <= 120 else vuln.summary[:117] + "..."
            message = f"{dep.name} {dep.version} ({kind}): {vuln.id}{also}; {told}"
            if summary:
                message += f". {summary}"
            if hit.clear and hit.clear not in vuln.fixed[:1]:
                hint = (
                    f"upgrade {dep.name} to {hit.clear} or later, the first version no known "
                    f"advisory affects (this one is fixed in {', '.join(vuln.fixed)})"
                )
            elif vuln.fixed:
                fixes = ", ".join(vuln.fixed)
                hint = f"upgrade {dep.name} to {vuln.fixed[0]} or later (fixed in {fixes})"
            else:
                hint = (
                    f"no fixed version is known: remove or replace {dep.name}, or waive "
                    f"{vuln.id} with a reason"
                )
            ident = (vuln.id, dep.key)
            occurrence = occurrences.get(ident, 0)
            occurrences[ident] = occurrence + 1
            findings.append(
                Finding(
                    gate=self.name,
                    rule=vuln.id,
                    severity=severity,
                    path=dep.source if dep.source != dependencies.ENVIRONMENT else "",
                    line=dep.line,
                    message=message,
                    hint=hint,
                    # name, not version: a bump that is still vulnerable is the same finding
                    fingerprint=fingerprint(self.name, vuln.id, "", dep.key, occurrence),
                    url=f"https://osv.dev/vulnerability/{vuln.id}",
                    aliases=tuple(sorted({*vuln.ids, *vuln.aliases} - {vuln.id})),
                )
            )
        return findings


def _waived_unaudited(
    gate: str, unaudited: Sequence[Unaudited], ctx: GateContext
) -> dict[int, Finding]:
    """Findings for the unaudited dependencies a live waiver names (by index in ``unaudited``).

    Such a dependency is reported as a finding, not an error, so that the policy
    layer records the waiver (owner, reason, expiry) as applied. The finding is at the
    gate's ``fail_on``: if the waiver does not cover it after all (a critical
    ``fail_on`` without ``waiver_policy.allow_critical``), it still blocks. An expired
    waiver leaves the dependency an error, and the policy layer fails the waiver.
    """
    policy = ctx.project.policy
    mine = [w for w in (policy.waivers if policy is not None else ()) if w.gate == gate]
    if not mine:
        return {}
    today = waivers.today()
    out = {}
    occurrences: dict[str, int] = {}
    for n, u in enumerate(unaudited):
        d = u.dependency
        rule = f"{UNAUDITED_RULE}{d.key}"
        occurrence = occurrences.get(rule, 0)
        occurrences[rule] = occurrence + 1
        finding = Finding(
            gate=gate,
            rule=rule,
            severity=ctx.settings.fail_on,
            path=d.source if d.source != dependencies.ENVIRONMENT else "",
            line=d.line,
            message=f"{u} ({'direct' if d.direct else 'transitive'}): not checked for "
            "known vulnerabilities",
            hint="pin it to a PEP 440 version the service can look up, then remove the waiver",
            fingerprint=fingerprint(gate, rule, "", d.key, occurrence),
        )
        if any(w.matches(finding) and not w.expired(today) for w in mine):
            out[n] = finding
    return out


class _SeverityFetcher:
    """Severities for pip-audit's results, from the same OSV service (``GET /v1/vulns/ID``).

    pip-audit's JSON report drops the records' ``severity``; without this every online
    finding would be ``unknown_severity``. Failing to fetch leaves it unknown (and
    notes why): it never hides a finding.
    """

    def __init__(self, query_url: str, timeout: float) -> None:
        import urllib.parse  # the online path only: not every offline run's start-up

        base = query_url.rstrip("/")
        self.base = base[: -len("/query")] if base.endswith("/query") else ""
        self.timeout = min(timeout, 30)
        self.failure = "" if self.base else f"{query_url} does not end in /query"
        if urllib.parse.urlsplit(query_url).scheme not in ("http", "https"):
            self.failure = f"{query_url} is not an http(s) URL"
        self.records: dict[str, Mapping[str, Any] | None] = {}

    def rate(self, vuln: osv.Vulnerability, package: str) -> osv.Vulnerability:
        """``vuln`` with the highest severity its record, or an alias's record, states."""
        label, basis = "", ""
        # pip-audit folds aliases into one result; the severity is often on the GHSA record
        for ident in sorted({*vuln.ids, *vuln.aliases}, key=osv.id_order)[:MAX_FETCHES]:
            record = self._record(ident)
            if record is None:
                continue
            found, why = osv.severity_of(record)
            for entry in record.get("affected") or ():
                pkg = entry.get("package") if isinstance(entry, Mapping) else None
                if isinstance(pkg, Mapping) and canonicalize_name(str(pkg.get("name"))) == package:
                    entry_label, entry_why = osv.severity_of(entry)
                    if osv.higher(entry_label, found) != found:
                        found, why = entry_label, entry_why
            if osv.higher(found, label) != label:
                label, basis = found, f"{ident}: {why}"
        if not label:
            return vuln
        return replace(vuln, severity=label, severity_basis=basis)

    def _record(self, ident: str) -> Mapping[str, Any] | None:
        import urllib.error
        import urllib.parse
        import urllib.request

        if ident in self.records or self.failure:
            return self.records.get(ident)
        url = f"{self.base}/vulns/{urllib.parse.quote(ident, safe='')}"
        try:
            # http(s) only: the scheme was checked in __init__
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # nosec B310
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # an alias the service does not hold is not a failure
                self.failure = f"{url}: {exc}"
            data = None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.failure = f"{url}: {exc}"
            data = None
        self.records[ident] = data if isinstance(data, Mapping) else None
        return self.records[ident]


def _interpreter(setting: str | None, root: Path) -> str:
    """The interpreter to list: pytest's own by default; a relative path is the project's."""
    if setting is None:
        return sys.executable
    path = Path(setting).expanduser()
    if path.is_absolute() or ("/" not in setting and "\\" not in setting):
        return str(path)  # absolute, or a bare name looked up on PATH
    return str(root / path)


def pip_audit_command() -> list[str]:
    """pip-audit run by the interpreter that has it installed (ours), as a module."""
    return [sys.executable, "-m", "pip_audit"]


def _pip_audit_version(ctx: GateContext) -> str:
    try:
        from importlib.metadata import version

        found = version("pip-audit")
    except Exception:
        proc = run_tool([*pip_audit_command(), "--version"], cwd=ctx.root, timeout=ctx.timeout)
        found = proc.stdout.strip().rsplit(" ", 1)[-1]
    # Its JSON report is what this gate reads: a new major may change it.
    return supported_version("pip-audit", found, MIN_PIP_AUDIT, BELOW_PIP_AUDIT)


def _layers(pinned: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """``pinned`` split so that no list names a package twice: the n-th version of each
    package goes into the n-th list."""
    layers: list[list[tuple[str, str]]] = []
    count: dict[str, int] = {}
    for name, version in pinned:
        n = count.get(name, 0)
        count[name] = n + 1
        if n == len(layers):
            layers.append([])
        layers[n].append((name, version))
    return layers


def _fixed_above(vuln: osv.Vulnerability, version: str) -> osv.Vulnerability:
    """``vuln`` with only the fixed versions above ``version`` (a PEP 440 version)."""
    current = Version(version)
    fixed = []
    for f in vuln.fixed:
        try:
            if Version(f) > current:
                fixed.append(f)
        except InvalidVersion:
            fixed.append(f)  # cannot be ordered: kept, as the offline rules keep it
    return replace(vuln, fixed=tuple(fixed))


def _pep440(dep: dependencies.Dependency) -> bool:
    try:
        Version(str(dep.version))
    except InvalidVersion:
        return False
    return True


def _parse_report(stdout: str) -> list[dict[str, Any]] | None:
    """pip-audit's JSON report's dependencies, or None when there is no valid report."""
    try:
        data = json.loads(stdout)
        deps = data["dependencies"]
        if not isinstance(deps, list) or not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) for d in deps
        ):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return deps


def _vulnerability(entry: Mapping[str, Any]) -> osv.Vulnerability:
    ident = str(entry.get("id", ""))
    aliases = tuple(sorted({str(a) for a in entry.get("aliases") or []} - {ident}))
    description = " ".join(str(entry.get("description") or "").split())
    return osv.Vulnerability(
        ids=(ident,),
        aliases=aliases,
        summary=description[:200] + ("..." if len(description) > 200 else ""),
        severity="",  # pip-audit's report carries no severity
        severity_basis="",
        fixed=tuple(str(f) for f in entry.get("fix_versions") or []),
    )


def _pin_from_environment(
    deps: Sequence[dependencies.Dependency], python: str, ctx: GateContext
) -> list[dependencies.Dependency]:
    """Give unpinned declared dependencies the version installed for ``python``, if it fits.

    A range such as ``requests>=2`` names no version to audit; the installed one is
    the version the project is tested with. One outside the range stays unpinned.
    """
    if all(d.version is not None for d in deps):
        return list(deps)
    installed = {}
    for entry in dependencies.list_environment(python, timeout=ctx.timeout, facts=ctx.facts):
        name, version = entry.get("name"), entry.get("version")
        if isinstance(name, str) and isinstance(version, str):
            installed.setdefault(canonicalize_name(name), version)
    out = []
    for d in deps:
        version = installed.get(d.key)
        if d.version is None and version is not None and not d.editable:
            req = Requirement(d.requirement)
            if req.url is None and req.specifier.contains(version, prereleases=True):
                d = replace(d, version=version)
        out.append(d)
    return out


@hookimpl
def platformgates_gates() -> list[Gate]:
    return [DepsGate()]
