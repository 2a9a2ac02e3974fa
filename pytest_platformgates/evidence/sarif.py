"""``findings.sarif``: SARIF 2.1.0, one run per gate, for code scanning tools.

Shaped for what GitHub code scanning reads: a rule per rule id with descriptions
and help, results with a level, a message and a repo-relative location, a
``partialFingerprints`` entry that survives moved lines (our line-free
fingerprint), and ``suppressions`` for waived findings. A gate that could not judge
says so in its run's invocation (``executionSuccessful: false``) rather than
appearing clean. No snippet or source text is ever included.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from .. import __version__
from . import streaming
from .run import EvidenceRun, finding_id

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "platformgates/v1"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub ranks security results by this property (CVSS-like, 0.0-10.0).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
INFORMATION_URI = "https://pypi.org/project/pytest-platformgates/"
# An absolute http(s) URI as RFC 3986 spells one (no IPv6 host): what helpUri may hold.
_HTTP_URI = re.compile(
    r"https?://[\w.~%!$&'()*+,;=:@-]+(?:/[\w.~%!$&'()*+,;=:@/-]*)?"
    r"(?:\?[\w.~%!$&'()*+,;=:@/?-]*)?(?:#[\w.~%!$&'()*+,;=:@/?-]*)?",
    re.ASCII,
)


def render(run: EvidenceRun) -> bytes:
    root = run.settings.root
    try:
        config_uri = run.settings.source.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        config_uri = "pyproject.toml"
    prefix = run.facts.git.prefix
    uris: dict[str, str] = {}  # thousands of findings share a few hundred files

    def uri(path: str) -> str:
        # Relative to the repository (a project may sit in a monorepo's subdirectory),
        # and a URI: a space or a '#' in a file name is percent-encoded, and so is each
        # byte of a name that is not UTF-8 (kept as a surrogate escape, as os.fsdecode does).
        if path not in uris:
            full = posixpath.join(prefix, path or config_uri)
            uris[path] = quote(full, safe="/", errors="surrogateescape")
        return uris[path]

    # Each run's results are made and encoded a chunk at a time (streaming.py): the
    # whole log never exists as one tree of objects.
    fills: dict[str, Iterator[dict[str, Any]]] = {}
    runs = []
    for record in run.records:
        key = streaming.placeholder()
        skeleton, fills[key] = _run(record, uri, key)
        runs.append(skeleton)
    # No indent: json's C encoder only runs without one (5x faster on 50k findings).
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}
    return streaming.encode(log, fills) + b"\n"


def _run(
    record: Mapping[str, Any], uri: Callable[[str], str], placeholder: str
) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The run with ``placeholder`` for its results, and the results, made as they are read."""
    gate = record["gate"]
    rules: dict[str, dict[str, Any]] = {}
    index: dict[str, int] = {}
    for finding in record["findings"]:
        rule_id = finding["rule"]
        if rule_id not in rules:
            index[rule_id] = len(rules)
            rules[rule_id] = _rule(gate, finding)
    results = (_result(f, index[f["rule"]], uri) for f in record["findings"])
    driver: dict[str, Any] = {
        "name": f"platformgates-{gate}",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": INFORMATION_URI,
        "rules": list(rules.values()),
    }
    out: dict[str, Any] = {
        "tool": {
            "driver": driver,
            "extensions": [
                {"name": tool, "version": str(version)}
                for tool, version in sorted(record["tool_versions"].items())
            ],
        },
        "automationDetails": {"id": f"platformgates/{gate}/"},
        "columnKind": "unicodeCodePoints",
        "invocations": [_invocation(record)],
        "results": placeholder,
        "properties": {
            "verdict": record["verdict"],
            "fail_on": record["fail_on"],
            "figures": dict(record["figures"]),
        },
    }
    if not out["tool"]["extensions"]:
        del out["tool"]["extensions"]
    return out, results


def _rule(gate: str, finding: Mapping[str, Any]) -> dict[str, Any]:
    rule_id = finding["rule"]
    help_text = finding.get("hint") or f"See the {gate} gate's documentation for {rule_id}."
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": f"{gate}: {rule_id}"},
        "fullDescription": {"text": finding["message"]},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVELS[finding["severity"]]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[finding["severity"]],
            "tags": [gate],
        },
    }
    help_uri = _help_uri(str(finding.get("url") or ""))
    if help_uri:
        rule["helpUri"] = help_uri
    return rule


def _help_uri(url: str) -> str | None:
    """``url`` as an http(s) URI, percent-encoded where it must be, or None.

    Tools' URLs reach here (a third-party SARIF log's ``helpUri``, through the sarif
    gate); one that is not a URI (``)``, a space) makes the log schema-invalid, and code
    scanning refuses such a log whole. A ``javascript:`` one is no documentation.
    """
    try:
        uri = quote(url, safe="!#$%&'()*+,/:;=?@~")
    except UnicodeEncodeError:  # a lone surrogate: no URL at all
        return None
    uri = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", uri)  # a '%' that starts no escape
    return uri if _HTTP_URI.fullmatch(uri) else None


def _result(
    finding: Mapping[str, Any], rule_index: int, uri: Callable[[str], str]
) -> dict[str, Any]:
    # Project-level findings (no file) point at the configuration that asked for the gate
    # (uri("") does): code scanning drops results without a location.
    region: dict[str, Any] = {"startLine": max(int(finding["line"]), 1)}
    column = int(finding.get("column", 0))
    if column > 0:
        region["startColumn"] = column
    text = finding["message"]
    hint = finding.get("hint")
    if hint:
        text = f"{text} (hint: {hint})"
    severity = finding["severity"]
    result: dict[str, Any] = {
        "ruleId": finding["rule"],
        "ruleIndex": rule_index,
        "level": LEVELS[severity],
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri(finding["path"]), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding_id(finding)},
        "properties": {"severity": severity},
    }
    waiver = finding.get("waiver")
    if waiver:
        justification = str(waiver.get("reason", ""))
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": justification,
                "properties": {
                    k: str(waiver[k])
                    for k in ("id", "owner", "approved_by", "expires")
                    if waiver.get(k) not in (None, "")
                },
            }
        ]
    elif finding.get("known_debt"):
        # Known debt (the committed baseline, or outside new code): accepted, not hidden.
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"known debt: {finding['known_debt']}",
            }
        ]
        result["properties"]["known_debt"] = str(finding["known_debt"])
    return result


def _invocation(record: Mapping[str, Any]) -> dict[str, Any]:
    notifications = [
        {"level": "error", "message": {"text": problem}} for problem in record["problems"]
    ]
    notifications += [{"level": "note", "message": {"text": note}} for note in record["notes"]]
    invocation: dict[str, Any] = {"executionSuccessful": record["verdict"] != "error"}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation
