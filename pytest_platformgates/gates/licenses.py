"""The licenses gate: every installed distribution's licence, judged against allow/deny lists.

Licences are read as :mod:`..licensing` reads them (PEP 639 ``License-Expression``,
then the ``License`` field, then unambiguous classifiers) for the interpreter the
project runs on. A compound expression is judged as a licensee may use it:
``MIT OR GPL-3.0-only`` is allowed when one side is, ``MIT AND GPL-3.0-only`` only
when both are, and ``GPL-2.0-or-later`` offers every later GPL version too. A licence
that cannot be determined is a finding of its own, by default blocking for direct
dependencies; ``overrides`` records a team's own reading of a distribution's licence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import installed, licensing
from ..config import ConfigError, Option
from ..gate import Gate, GateContext
from ..hookspecs import hookimpl
from ..licensing import AllOf, AnyOf, Node, Term, Versioned
from ..model import Analysis, Finding, Severity, fingerprint

OVERRIDE = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(==\s*(?P<version>[^\s:]+))?\s*:\s*(?P<expr>.+)$"
)


class LicensesGate(Gate):
    name = "licenses"
    reads_files = False  # judges the environment, not the files: no wait for the inventory
    description = "licences of installed distributions against allow and deny lists"
    options = (
        Option(
            "python",
            "str",
            None,
            "Interpreter whose installed distributions are checked (a path relative to the "
            "project root, or a command); default: the one running pytest.",
        ),
        Option(
            "allow",
            "list[str]",
            [],
            "SPDX ids that may be used (globs like `BSD-*` and `-or-later` ranges allowed). "
            "Empty: every licence not denied is allowed.",
        ),
        Option(
            "deny",
            "list[str]",
            [],
            "SPDX ids that must not be used; deny wins over allow, except an allowed "
            "`ID WITH EXCEPTION` written out in full.",
        ),
        Option(
            "overrides",
            "list[str]",
            [],
            "Licences the team determined itself, as `NAME: EXPRESSION` or "
            "`NAME==VERSION: EXPRESSION`; used instead of the distribution's metadata.",
        ),
        Option("severity", "severity", "high", "Severity of a denied or not-allowed licence."),
        Option(
            "unknown_severity",
            "severity",
            "high",
            "Severity of a direct dependency whose licence cannot be determined.",
        ),
        Option(
            "unknown_transitive_severity",
            "severity",
            "medium",
            "Severity of any other distribution whose licence cannot be determined.",
        ),
    )

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        for key in ("allow", "deny"):
            try:
                for value in values[key]:
                    licensing.validate_id(value)
            except ValueError as exc:
                raise ConfigError(f"{where}.{key}: {exc}") from None
        for entry in values["overrides"]:
            _parse_override(entry, f"{where}.overrides")

    def check(self, ctx: GateContext) -> Analysis:
        settings = ctx.settings
        python = installed.interpreter(settings["python"], ctx.root)
        env = installed.environment(python, ctx.root, ctx.timeout, ctx.facts)
        policy = Policy(
            tuple(licensing.validate_id(v) for v in settings["allow"]),
            tuple(licensing.validate_id(v) for v in settings["deny"]),
        )
        overrides = [_parse_override(o, "overrides") for o in settings["overrides"]]
        used: set[int] = set()
        severity = Severity.parse(settings["severity"])
        unknown = {
            True: Severity.parse(settings["unknown_severity"]),
            False: Severity.parse(settings["unknown_transitive_severity"]),
        }
        findings: list[Finding] = []
        sources: dict[str, int] = {}
        notes = list(ctx.notes)
        for dist in env.distributions:
            declared = licensing.declared_license(dist.metadata)
            for index, override in enumerate(overrides):
                if override.applies(dist):
                    used.add(index)
                    declared = licensing.DeclaredLicense(override.expression, licensing.OVERRIDE)
                    break
            sources[declared.source or "unknown"] = sources.get(declared.source or "unknown", 0) + 1
            finding = self._judge(dist, declared, policy, severity, unknown[dist.direct])
            if finding is not None:
                findings.append(finding)
        for index, override in enumerate(overrides):
            if index not in used:
                notes.append(
                    f"override {override.text!r} matches no installed distribution; "
                    "remove it, or fix the name or version"
                )
        figures: dict[str, int | float | str] = {
            "distributions": len(env.distributions),
            "direct": sum(1 for d in env.distributions if d.direct),
            "unknown_licenses": sources.get("unknown", 0),
        }
        for source, count in sorted(sources.items()):
            if source != "unknown":
                figures[f"from_{source.lower().replace('-', '_')}"] = count
        return Analysis(findings=tuple(findings), figures=figures, notes=tuple(notes))

    def _judge(
        self,
        dist: installed.Installed,
        declared: licensing.DeclaredLicense,
        policy: Policy,
        severity: Severity,
        unknown_severity: Severity,
    ) -> Finding | None:
        relation = "direct" if dist.direct else "transitive"
        who = f"{dist.name} {dist.version} ({relation})"
        if declared.expression is None:
            return self._finding(
                dist,
                "license-unknown",
                unknown_severity,
                f"{who}: licence cannot be determined: {declared.detail}",
                f'read its licence and record it: overrides = ["{dist.name}=={dist.version}: '
                'SPDX-EXPRESSION"]',
                "unknown",
            )
        judgement = policy.judge(licensing.parse(declared.expression))
        if judgement.allowed:
            return None
        shown = declared.expression + (" (override)" if declared.source == "override" else "")
        if judgement.denied:
            return self._finding(
                dist,
                "license-denied",
                severity,
                f"{who}: {shown}: {', '.join(judgement.denied)} denied",
                "replace the dependency, or take it up with whoever owns the licence policy",
                declared.expression,
            )
        return self._finding(
            dist,
            "license-not-allowed",
            severity,
            f"{who}: {shown}: {', '.join(judgement.not_allowed)} not in `allow`",
            "replace the dependency, or add the licence to `allow` if the policy permits it",
            declared.expression,
        )

    def _finding(
        self, dist: installed.Installed, rule: str, sev: Severity, msg: str, hint: str, lic: str
    ) -> Finding:
        return Finding(
            gate=self.name,
            rule=rule,
            severity=sev,
            path="pyproject.toml" if dist.line else "",
            line=dist.line,
            message=msg,
            hint=hint,
            # Stable across version bumps as long as the licence stays the same.
            fingerprint=fingerprint(self.name, rule, dist.key, lic, 0),
        )


@dataclass(frozen=True)
class Override:
    text: str
    name: str
    version: str | None
    expression: str

    def applies(self, dist: installed.Installed) -> bool:
        if canonicalize_name(self.name) != dist.key:
            return False
        if self.version is None:
            return True
        try:
            return Version(self.version) == Version(dist.version)
        except InvalidVersion:
            return self.version == dist.version


def _parse_override(entry: str, where: str) -> Override:
    match = OVERRIDE.match(entry)
    if match is None:
        raise ConfigError(f"{where}: {entry!r} is not `NAME: EXPRESSION` or `NAME==VERSION: ...`")
    try:
        expression = licensing.normalise(match.group("expr").strip())
    except ValueError as exc:
        raise ConfigError(f"{where}: {entry!r}: not an SPDX expression ({exc})") from None
    return Override(entry, match.group("name"), match.group("version"), expression)


@dataclass(frozen=True)
class Judgement:
    allowed: bool
    denied: tuple[str, ...] = ()
    not_allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """``allow``/``deny`` lists of SPDX ids, globs and ``-or-later`` ranges."""

    allow: tuple[str, ...]
    deny: tuple[str, ...]

    def judge(self, node: Node) -> Judgement:
        if isinstance(node, Term):
            return self._term(node)
        parts = [self.judge(p) for p in node.parts]
        failed = [p for p in parts if not p.allowed]
        if isinstance(node, AnyOf) and len(failed) < len(parts):
            return Judgement(True)
        if isinstance(node, AllOf) and not failed:
            return Judgement(True)
        return Judgement(
            False,
            denied=_unique(d for p in failed for d in p.denied),
            not_allowed=_unique(n for p in failed for n in p.not_allowed),
        )

    def _term(self, term: Term) -> Judgement:
        denied = False
        for choice in licensing.later_versions(term.id):
            full = f"{choice} WITH {term.exception}" if term.exception else ""
            # An exception only adds permissions: an allowed licence stays allowed with
            # it, and a denied one is allowed only when the combination is listed.
            explicit = bool(full) and _matches(self.allow, full, term)
            if not explicit and (
                _matches(self.deny, choice, term) or (full and _matches(self.deny, full, term))
            ):
                denied = True
                continue
            if not self.allow or explicit or _matches(self.allow, choice, term):
                return Judgement(True)
        if denied:
            return Judgement(False, denied=(str(term),))
        return Judgement(False, not_allowed=(str(term),))


def _matches(patterns: Sequence[str], candidate: str, term: Term) -> bool:
    cand = candidate.lower()
    original = str(term).lower() if " WITH " in candidate else term.id.lower()
    for pattern in patterns:
        pat = pattern.lower()
        if any(c in pat for c in "*?["):
            if fnmatchcase(cand, pat) or fnmatchcase(original, pat):
                return True
            continue
        if cand == pat or original == pat:
            return True
        range_ = Versioned.of(pattern)
        if range_ is not None and range_.or_later and " WITH " not in candidate:
            got = Versioned.of(candidate)
            if got is not None and got.family == range_.family and got.version >= range_.version:
                return True
    return False


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@hookimpl
def platformgates_gates() -> list[Gate]:
    return [LicensesGate()]
