"""``report.html``: one self-contained page an auditor can read.

No script, no external asset, no network: the styles are inline and a
Content-Security-Policy forbids loading anything, so the page reads the same
offline, attached to a ticket, or years later. Every value is HTML-escaped; no
source text is shown, only what the findings say.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from .. import __version__
from .run import NOT_RUN, EvidenceRun, utf8

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# Shown per gate before the rest is summarised; the SARIF and the statement hold all.
MAX_FINDINGS = 500
COVERAGE_ARTIFACT = "coverage.json"
# What the HTML parser calls an error in the input (control characters, noncharacters),
# and the bidirectional controls that make one name read as another ("\u202e"): a file
# name or a tool's message may hold them; the page spells them out instead.
_NOT_HTML = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff]"
)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.25rem;margin-top:2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:1rem;font-weight:600;color:#fff}
.passed{background:#1a7f37}.failed{background:#cf222e}.error{background:#9a6700}
.not-run{background:#6e7781}.verdict{font-size:1.3rem}
.sev-critical{color:#82071e;font-weight:700}.sev-high{color:#cf222e;font-weight:600}
.sev-medium{color:#9a6700}.sev-low{color:#57606a}
.waived{color:#57606a;font-style:italic}code{font-size:.92em}
dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}dt{font-weight:600}
dd{margin:0}.problem{background:#fff8c5;border:1px solid #d4a72c;padding:.4rem .6rem}
"""


def _e(value: Any) -> str:
    text = escape(str(value), quote=True)
    return _NOT_HTML.sub(lambda m: repr(m.group())[1:-1], text) if not text.isprintable() else text


def _badge(verdict: str) -> str:
    css = verdict.replace(" ", "-")
    return f'<span class="badge {css}">{_e(verdict.upper())}</span>'


def render(run: EvidenceRun, artifacts: Mapping[str, str] | None = None) -> bytes:
    artifacts = artifacts or {}
    facts = run.facts
    git = facts.git
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>platformgates evidence: {_e(run.verdict.upper())}"
        f" at {_e((git.commit or 'no commit')[:12])}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Quality and security gates</h1>",
        f'<p class="verdict" id="verdict">Overall verdict: {_badge(run.verdict)}</p>',
        "<dl>",
        _dt("Commit", f"<code>{_e(git.commit or 'unknown: ' + git.problem)}</code>"),
        _dt("Branch", _e(git.branch or "unknown")),
        _dt(
            "Working tree",
            "clean"
            if not git.dirty
            else f"<strong>dirty</strong>: {len(git.changed)} changed file(s)",
        ),
        _dt("Run by", _e(_who(facts.identity))),
        _dt("Started", _e(facts.started)),
        _dt("Finished", _e(facts.finished)),
        _dt("pytest exit status", _e(facts.exit_status)),
        _dt("Tests", _e(_tests(facts.tests))),
        _dt("Policy digest", f"<code>{_e(run.settings.digest)}</code>"),
        _dt("fail_on", _e(run.settings.values.get("fail_on", ""))),
        _dt("platformgates", _e(__version__)),
        "</dl>",
    ]
    parts += _summary(run)
    parts += _waivers(run)
    for record in run.records:
        parts += _gate(record)
    for name in (n for n, v in run.verdicts().items() if v == NOT_RUN):
        parts.append(f'<h3 id="gate-{_e(name)}">Gate {_e(name)} {_badge(NOT_RUN)}</h3>')
        parts.append(
            "<p>Required by the policy but not run in this session (deselected, "
            "or the session stopped early).</p>"
        )
    parts += _coverage(artifacts.get(COVERAGE_ARTIFACT))
    for note in facts.notes:
        parts.append(f'<p class="problem">{_e(note)}</p>')
    parts.append("</body></html>")
    return utf8("\n".join(parts) + "\n")


def _dt(term: str, html: str) -> str:
    return f"<dt>{_e(term)}</dt><dd>{html}</dd>"


def _who(identity: Mapping[str, Any]) -> str:
    v = identity.get("variables", {})
    provider = identity.get("provider")
    if provider == "github":
        return (
            f"GitHub Actions: {v.get('GITHUB_ACTOR', '?')}, "
            f"run {v.get('GITHUB_RUN_ID', '?')} of {v.get('GITHUB_REPOSITORY', '?')}"
        )
    if provider == "gitlab":
        return (
            f"GitLab CI: {v.get('GITLAB_USER_LOGIN', '?')}, "
            f"job {v.get('CI_JOB_ID', '?')} of {v.get('CI_PROJECT_PATH', '?')}"
        )
    if v:
        return f"{provider}: " + ", ".join(f"{k}={val}" for k, val in v.items())
    return f"{identity.get('user', '?')} on {identity.get('host', '?')} ({provider})"


def _tests(tests: Mapping[str, int]) -> str:
    if not tests:
        return "no JUnit XML was produced"
    return ", ".join(f"{v} {k}" for k, v in tests.items())


def _summary(run: EvidenceRun) -> list[str]:
    records = {r["gate"]: r for r in run.records}
    rows = [
        "<h2>Gates</h2>",
        '<table id="gates"><tr><th>Gate</th><th>Verdict</th><th>fail_on</th>'
        "<th>critical</th><th>high</th><th>medium</th><th>low</th><th>Duration</th></tr>",
    ]
    for gate, verdict in run.verdicts().items():
        record = records.get(gate)
        if record is None:
            rows.append(
                f'<tr><td><a href="#gate-{_e(gate)}">{_e(gate)}</a></td><td>{_badge(verdict)}'
                "</td><td colspan=6>required, not run</td></tr>"
            )
            continue
        c = run.severity_counts(record)
        rows.append(
            f'<tr><td><a href="#gate-{_e(gate)}">{_e(gate)}</a></td><td>{_badge(verdict)}</td>'
            f"<td>{_e(record['fail_on'])}</td>"
            + "".join(f'<td class="num">{c[s]}</td>' for s in ("critical", "high", "medium", "low"))
            + f'<td class="num">{float(record["duration"]):.2f} s</td></tr>'
        )
    rows.append("</table>")
    return rows


def _waivers(run: EvidenceRun) -> list[str]:
    waivers = run.waivers()
    out = ["<h2>Waivers</h2>"]
    if not waivers:
        return [*out, "<p>No waiver applied in this run.</p>"]
    out.append(
        '<table id="waivers"><tr><th>Gate</th><th>Id</th><th>Status</th><th>Reason</th>'
        "<th>Owner</th><th>Approved by</th><th>Expires</th><th>Days left</th></tr>"
    )
    for w in waivers:
        out.append(
            "<tr>"
            + "".join(
                f"<td>{_e(w.get(k, ''))}</td>"
                for k in ("gate", "id", "status", "reason", "owner", "approved_by", "expires")
            )
            + f'<td class="num">{_e(_days_left(w.get("expires")))}</td></tr>'
        )
    out.append("</table>")
    return out


def _days_left(expires: Any) -> str:
    if not expires:
        return ""
    try:
        day = dt.date.fromisoformat(str(expires)[:10])
    except ValueError:
        return "?"
    return str((day - dt.datetime.now(dt.timezone.utc).date()).days)


def _gate(record: Mapping[str, Any]) -> list[str]:
    gate = record["gate"]
    out = [f'<h3 id="gate-{_e(gate)}">Gate {_e(gate)} {_badge(record["verdict"])}</h3>']
    for problem in record["problems"]:
        out.append(f'<pre class="problem">{_e(problem)}</pre>')
    figures = dict(record["figures"])
    tools = dict(record["tool_versions"])
    if figures or tools:
        out.append('<table class="figures"><tr><th>Figure</th><th>Value</th></tr>')
        out += [f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in sorted(figures.items())]
        out += [f"<tr><td>tool {_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in sorted(tools.items())]
        out.append("</table>")
    findings = record["findings"]
    if not findings:
        out.append("<p>No findings.</p>")
    else:
        out.append(
            '<table class="findings"><tr><th>Severity</th><th>Rule</th><th>Location</th>'
            "<th>Message</th><th>Hint</th></tr>"
        )
        for f in findings[:MAX_FINDINGS]:
            waived = f.get("waiver")
            css = "waived" if waived else ""
            location = f["path"] or "(project)"
            if f["path"] and int(f["line"]) > 0:
                location += f":{f['line']}"
            message = _e(f["message"])
            if waived:
                message += f" <em>(waived: {_e(waived.get('id', ''))})</em>"
            elif f.get("known_debt"):
                css = "waived"
                message += f" <em>(known debt: {_e(f['known_debt'])})</em>"
            out.append(
                f'<tr class="{css}"><td class="sev-{_e(f["severity"])}">{_e(f["severity"])}'
                f"</td><td><code>{_e(f['rule'])}</code></td><td><code>{_e(location)}</code>"
                f"</td><td>{message}</td><td>{_e(f.get('hint', ''))}</td></tr>"
            )
        out.append("</table>")
        if len(findings) > MAX_FINDINGS:
            out.append(
                f"<p>… and {len(findings) - MAX_FINDINGS} more in findings.sarif "
                "and evidence.json.</p>"
            )
    for note in record["notes"]:
        out.append(f"<p>note: {_e(note)}</p>")
    return out


def _coverage(document: str | None) -> Iterable[str]:
    """Coverage per file from coverage.py's JSON report, when the coverage gate left one."""
    yield "<h2>Coverage per file</h2>"
    if document is None:
        yield "<p>No coverage data in this bundle (the coverage gate did not run).</p>"
        return
    try:
        files = json.loads(document)["files"]
        rows = sorted(
            (path, data["summary"]["percent_covered"], data["summary"]["num_statements"])
            for path, data in files.items()
        )
    except (ValueError, KeyError, TypeError) as exc:
        yield f'<p class="problem">coverage.json is unreadable: {_e(exc)}</p>'
        return
    yield '<table id="coverage"><tr><th>File</th><th>Covered</th><th>Statements</th></tr>'
    for path, percent, statements in rows:
        yield (
            f'<tr><td><code>{_e(path)}</code></td><td class="num">{float(percent):.2f} %</td>'
            f'<td class="num">{_e(statements)}</td></tr>'
        )
    yield "</table>"
