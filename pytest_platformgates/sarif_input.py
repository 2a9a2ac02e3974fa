"""Reading a SARIF 2.1.0 log that another tool wrote, as findings.

Any scanner that speaks SARIF becomes a gate through this module. It is strict where
leniency would pass silently: a log that is not SARIF 2.1.0, has no runs, or has a
run without ``results`` (SARIF's way of saying "no results were computed") is a
:class:`~.gate.GateError`, and so is an invocation that reports
``executionSuccessful: false``. Only locations, rule ids and messages are read:
snippets and context regions are never copied, so a scanner's quoted source (a
secret, for one) never reaches our output.
"""

from __future__ import annotations

import hashlib
import json
import os.path
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .gate import GateError
from .model import Finding, Severity, fingerprint

#: SARIF levels, in the order a rule's default falls back through.
LEVELS = ("error", "warning", "note", "none")
#: The bands GitHub code scanning uses for the ``security-severity`` property (CVSS-like).
SECURITY_BANDS = ((9.0, Severity.CRITICAL), (7.0, Severity.HIGH), (4.0, Severity.MEDIUM))
#: Result kinds that are not problems (SARIF 3.27.9): a passed or inapplicable check.
NOT_PROBLEMS = {"pass", "notApplicable", "informational"}
#: Scanners put whole advisories in a message; a finding's line stays readable.
MAX_MESSAGE = 300


@dataclass(frozen=True)
class SeverityPolicy:
    """How a result's rule, level and ``security-severity`` become one of our severities."""

    levels: Mapping[str, str]
    rules: Mapping[str, str] = field(default_factory=dict)
    use_security_severity: bool = True

    def severity(self, rule_id: str, level: str, security: object) -> Severity:
        if rule_id in self.rules:
            return Severity.parse(self.rules[rule_id])
        if self.use_security_severity and security is not None:
            score = _score(security)
            if score is not None:
                return next((s for floor, s in SECURITY_BANDS if score >= floor), Severity.LOW)
        return Severity.parse(self.levels[level])


@dataclass(frozen=True)
class SarifReport:
    """The findings of every run in one log, with what the log says about its tools."""

    findings: tuple[Finding, ...]
    tool_versions: Mapping[str, str]
    figures: Mapping[str, int]


def load(text: str, source: str) -> Mapping[str, Any]:
    """Parse ``text`` as a SARIF 2.1.0 log; ``source`` names it in errors."""
    try:
        log = json.loads(text)
    except ValueError as exc:
        raise GateError(f"{source} is not JSON, so not a SARIF log ({exc})") from None
    if not isinstance(log, dict):
        raise GateError(f"{source} is not a SARIF log: the top level is not an object")
    if log.get("version") != "2.1.0":
        raise GateError(
            f"{source} is not a SARIF 2.1.0 log (version {log.get('version')!r}); "
            "ask the tool for SARIF 2.1.0 output"
        )
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        raise GateError(
            f"{source} holds no runs, so the tool reported nothing at all; a tool that ran "
            "and found nothing writes a run with an empty `results` list"
        )
    return log


def read(
    log: Mapping[str, Any],
    *,
    gate: str,
    source: str,
    policy: SeverityPolicy,
    base: Path,
    root: Path,
    line_text: Callable[[str, int], str | None],
) -> SarifReport:
    """The findings of ``log``: paths relative to ``root`` (relative URIs resolve at ``base``).

    ``line_text(path, line)`` returns the text of a line of a project file, used only to
    compute a line-number-free fingerprint when the tool gives none.
    """
    findings: list[Finding] = []
    versions: dict[str, str] = {}
    figures = {"sarif_runs": 0, "sarif_results": 0, "sarif_suppressed": 0, "sarif_not_problems": 0}
    occurrences: dict[tuple[str, str, str], int] = {}
    for index, run in enumerate(log["runs"]):
        where = f"{source}: run {index}"
        if not isinstance(run, dict):
            raise GateError(f"{where} is not an object")
        driver = _get(run, "tool", "driver")
        if not isinstance(driver, dict) or not isinstance(driver.get("name"), str):
            raise GateError(f"{where} does not name its tool (tool.driver.name)")
        tool = driver["name"]
        version = driver.get("version") or driver.get("semanticVersion")
        if isinstance(version, str):
            versions[tool] = version
        _check_invocations(run, where, tool)
        results = run.get("results")
        if not isinstance(results, list):
            raise GateError(
                f"{where} ({tool}) has no `results` list: in SARIF that means the tool "
                "computed no results (it failed or was stopped), not that it found nothing"
            )
        figures["sarif_runs"] += 1
        rules = _rules(driver)
        by_id = {r["id"]: r for r in reversed(rules) if isinstance(r.get("id"), str)}
        locator = _Locator(run, base, root)
        for number, result in enumerate(results):
            if not isinstance(result, dict):
                raise GateError(f"{where}: result {number} is not an object")
            figures["sarif_results"] += 1
            # "absent": a baseline result the tool no longer finds, reported as gone.
            if (
                result.get("kind", "fail") in NOT_PROBLEMS
                or result.get("baselineState") == "absent"
            ):
                figures["sarif_not_problems"] += 1
                continue
            if _suppressed(result):
                figures["sarif_suppressed"] += 1
                continue
            rule_id, rule = _rule(result, rules, by_id)
            level = result.get("level") or _get(rule, "defaultConfiguration", "level") or "warning"
            if level not in LEVELS:
                raise GateError(f"{where}: result {number} has an unknown level {level!r}")
            security = _get(result, "properties", "security-severity")
            if security is None:
                security = _get(rule, "properties", "security-severity")
            path, line, column = _location(result, locator, run)
            message = _message(result, rule) or rule_id
            found = Finding(
                gate=gate,
                rule=rule_id,
                severity=policy.severity(rule_id, level, security),
                path=path,
                line=line,
                column=column,
                message=message,
                hint=f"see {rule['helpUri']}" if isinstance(rule.get("helpUri"), str) else "",
                url=rule.get("helpUri") if isinstance(rule.get("helpUri"), str) else "",
                fingerprint=_tool_fingerprint(gate, tool, rule_id, result),
            )
            if not found.fingerprint:
                text = line_text(path, line) if path and line else None
                basis = text if text is not None else message
                occurrence = occurrences.get((rule_id, path, basis), 0)
                occurrences[(rule_id, path, basis)] = occurrence + 1
                found = replace(
                    found, fingerprint=fingerprint(gate, rule_id, path, basis, occurrence)
                )
            findings.append(found)
    return SarifReport(tuple(findings), versions, figures)


def _score(value: object) -> float | None:
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return score if 0.0 <= score <= 10.0 else None


def _get(node: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _check_invocations(run: Mapping[str, Any], where: str, tool: str) -> None:
    invocations = run.get("invocations") or []
    if not isinstance(invocations, list):
        raise GateError(f"{where}: `invocations` is not a list")
    for invocation in invocations:
        if isinstance(invocation, dict) and invocation.get("executionSuccessful") is False:
            said = [
                str(_get(n, "message", "text"))
                for n in invocation.get("toolExecutionNotifications") or []
                if isinstance(n, dict) and _get(n, "message", "text")
            ]
            raise GateError(
                f"{where}: {tool} reports that its execution did not succeed, so its "
                "results are incomplete",
                "\n".join(said[-10:]),
            )


def _rules(driver: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules = driver.get("rules") or []
    return [r if isinstance(r, dict) else {} for r in rules] if isinstance(rules, list) else []


def _rule(
    result: Mapping[str, Any],
    rules: Sequence[dict[str, Any]],
    by_id: Mapping[str, dict[str, Any]],
) -> tuple[str, dict[str, Any]]:
    index = result.get("ruleIndex")
    if index is None:
        index = _get(result, "rule", "index")
    rule: dict[str, Any] = {}
    if isinstance(index, int) and 0 <= index < len(rules):
        rule = rules[index]
    rule_id = result.get("ruleId") or _get(result, "rule", "id") or rule.get("id")
    if not rule and isinstance(rule_id, str):
        rule = by_id.get(rule_id, {})
    return (str(rule_id) if rule_id else "sarif"), rule


def _suppressed(result: Mapping[str, Any]) -> bool:
    """Suppressed in the tool's own way: at least one suppression, and every one accepted.

    SARIF 2.1.0 (3.35.3, suppression.status): a result is suppressed when it has one and
    none of them is ``underReview`` or ``rejected``; a suppression without ``status`` is
    accepted. One rejected suppression (a reviewer turned it down) outweighs any number
    of accepted ones. A malformed entry or a status the spec does not define does not
    suppress either: the result stays a finding rather than silently disappearing.
    """
    suppressions = result.get("suppressions")
    if not isinstance(suppressions, list) or not suppressions:
        return False
    return all(
        isinstance(s, dict) and s.get("status", "accepted") == "accepted" for s in suppressions
    )


class _Locator:
    """Artifact locations to project-relative paths, remembered per URI (results repeat them)."""

    def __init__(self, run: Mapping[str, Any], base: Path, root: Path) -> None:
        self.base = os.path.normpath(base)
        self.anchors = {os.path.normpath(root), os.path.realpath(root)}
        self.bases: dict[str, str] = {}
        declared = run.get("originalUriBaseIds")
        if isinstance(declared, dict):
            for name, location in declared.items():
                uri = _get(location, "uri")
                if isinstance(uri, str):
                    self.bases[name] = _uri_path(uri, self.base)
        self.seen: dict[tuple[str, object], str] = {}

    def path(self, uri: str, base_id: object) -> str:
        key = (uri, base_id)
        if key not in self.seen:
            base = self.bases.get(base_id, self.base) if isinstance(base_id, str) else self.base
            self.seen[key] = self._relative(_uri_path(uri, base), uri)
        return self.seen[key]

    def _relative(self, full: str, uri: str) -> str:
        """A project-relative POSIX path; a location outside the project keeps its URI."""
        for anchor in self.anchors:
            if full.startswith(anchor + os.sep):
                return full[len(anchor) + 1 :].replace(os.sep, "/")
        return uri


def _uri_path(uri: str, base: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return os.path.normpath(unquote(parsed.path))
    return os.path.normpath(os.path.join(base, unquote(uri)))


def _location(
    result: Mapping[str, Any], locator: _Locator, run: Mapping[str, Any]
) -> tuple[str, int, int]:
    locations = result.get("locations")
    physical = (
        _get(locations[0], "physicalLocation")
        if isinstance(locations, list) and locations
        else None
    )
    if not isinstance(physical, dict):
        return "", 0, 0
    artifact = physical.get("artifactLocation")
    artifact = artifact if isinstance(artifact, dict) else {}
    uri = artifact.get("uri")
    if not isinstance(uri, str) and isinstance(artifact.get("index"), int):
        artifacts = run.get("artifacts")
        if isinstance(artifacts, list) and 0 <= artifact["index"] < len(artifacts):
            uri = _get(artifacts[artifact["index"]], "location", "uri")
    path = locator.path(uri, artifact.get("uriBaseId")) if isinstance(uri, str) and uri else ""
    region = physical.get("region")
    region = region if isinstance(region, dict) else {}
    line = region.get("startLine")
    column = region.get("startColumn")
    return (
        path,
        line if isinstance(line, int) and line > 0 else 0,
        column if isinstance(column, int) and column > 0 else 0,
    )


def _message(result: Mapping[str, Any], rule: Mapping[str, Any]) -> str:
    message = result.get("message") or {}
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str) and isinstance(message, dict) and message.get("id"):
        text = _get(rule, "messageStrings", str(message["id"]), "text")
    if not isinstance(text, str):
        return ""
    arguments = message.get("arguments") if isinstance(message, dict) else None
    if isinstance(arguments, list):
        for i, argument in enumerate(arguments):
            text = text.replace(f"{{{i}}}", str(argument))
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _tool_fingerprint(gate: str, tool: str, rule_id: str, result: Mapping[str, Any]) -> str:
    """The tool's own stable identity for a result, when it gives one."""
    for key in ("partialFingerprints", "fingerprints"):
        given = result.get(key)
        if isinstance(given, dict) and given:
            raw = "\x1f".join(
                [gate, tool, rule_id, *(f"{k}={v}" for k, v in sorted(given.items()))]
            )
            return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return ""
