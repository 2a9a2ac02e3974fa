"""What a finding's rule means and how to fix it (``--gates-explain``, ``platformgates explain``).

Every report line names a rule. The explanation comes from the tool that owns it, so it
cannot drift from the tool: ``ruff rule CODE`` for ruff codes, bandit's own plugin and
blacklist metadata for bandit test ids, detect-secrets' plugin classes for secret types,
the configured offline OSV database for advisory ids; the rules this project's gates
define themselves are described here. An id nobody knows is an error that says where
rule ids come from, never a silent nothing.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError, Settings, plugin_modules, read_table
from .redaction import shown


@dataclass(frozen=True)
class Explanation:
    """One reading of a rule id, by the tool or gate that owns it."""

    rule: str
    source: str  # who says so: "ruff 0.x", "bandit 1.9.4", "gate pinning", ...
    title: str
    meaning: str
    fix: str = ""
    url: str = ""

    def render(self) -> str:
        lines = [f"{self.rule}: {self.title}  ({self.source})", ""]
        lines += [self.meaning.strip(), ""]
        if self.fix:
            lines += [f"How to fix: {self.fix.strip()}", ""]
        if self.url:
            lines.append(f"More: {self.url}")
        return "\n".join(lines).rstrip() + "\n"


class UnknownRule(Exception):
    """No gate or tool knows the id; the message says where ids come from."""


# The rules our gates define themselves: rule id -> ((gate, title, meaning, fix), ...).
# tests/test_explain.py checks that every rule id a gate module emits is described here.
_OWN: dict[str, tuple[tuple[str, str, str, str], ...]] = {}


def _own(rule: str, gate: str, title: str, meaning: str, fix: str) -> None:
    _OWN[rule] = (*_OWN.get(rule, ()), (gate, title, meaning, fix))


_own(
    "format",
    "lint",
    "file is not formatted as `ruff format` writes it",
    "`format = true` (the default) requires every Python file to be exactly what `ruff "
    "format` would write, under the project's ruff configuration. The finding points at the "
    "first line that would change.",
    "run `ruff format` on the file (or the project) and commit the result; to stop "
    "checking formatting, set `format = false` in [tool.platformgates.gates.lint].",
)
for _code in ("invalid-syntax", "E999"):
    _own(
        _code,
        "lint",
        "ruff cannot parse the file",
        "The file is not valid Python for the target version, so no rule could be checked "
        "on it: the gate blocks rather than pass a file it did not read.",
        "fix the syntax error at the reported line (or set ruff's `target-version` to the "
        "Python the code is written for).",
    )
_own(
    "E902",
    "lint",
    "ruff cannot read the file",
    "ruff could not open or decode the file (an I/O error, or not UTF-8), so none of its "
    "rules ran on it.",
    "save the file as UTF-8, or exclude it from the gates with `exclude`.",
)
_own(
    "unparseable",
    "sast",
    "bandit could not parse the file",
    "bandit skipped the file (a syntax error, or a construct its parser does not know), so "
    "it was not analysed at all. `bandit -r` exits 0 in that case; this gate blocks.",
    "fix the syntax error, or exclude the file from the gates if it is not Python.",
)
_own(
    "nosec-blanket",
    "sast",
    "a `# nosec` that names no bandit test",
    "A bare `# nosec` silences every bandit test on its line, including tests added in "
    "later bandit versions, so it hides more than the one issue someone reviewed.",
    'name the test it silences: `# nosec B602`; or set `blanket_nosec = "off"` in '
    "[tool.platformgates.gates.sast] to allow bare ones.",
)
_own(
    "nosec-unknown-test",
    "sast",
    "a `# nosec` names a test bandit does not have",
    "The comment names a test id (or name) that no installed bandit plugin or blacklist "
    "provides, so it silences nothing and is most likely a typo.",
    "correct the id (`platformgates explain B602` shows what an id means), or remove it.",
)
_own(
    "secret",
    "secrets",
    "a secret in the code (detect-secrets)",
    "detect-secrets found a value that looks like a credential (its type is in the "
    'message: `platformgates explain "AWS Access Key"`), and neither the baseline nor an '
    "allowlist comment accepts it. The value itself is never printed: the report shows its "
    "type, length and hash.",
    "remove it from the file and rotate the credential (it is in git history). A false "
    "positive: `# pragma: allowlist secret` on the line, or record it in the baseline "
    "(`detect-secrets scan --baseline .secrets.baseline`) and mark it with "
    "`detect-secrets audit .secrets.baseline`.",
)
for _gate in ("secrets", "pinning"):
    _own(
        "unscannable-file",
        _gate,
        "a file in scope could not be read",
        "The file is binary, not UTF-8, too large (`max_file_size`), unreadable, or a link "
        "out of the project, so the gate could not check it; it blocks rather than pass it.",
        "fix the file (UTF-8 text), or leave it out of the gates with `exclude` in "
        "[tool.platformgates] if it does not belong in scope.",
    )
_own(
    "unpinned",
    "pinning",
    "a build input is not pinned to one exact version",
    "A requirement, constraint, lock-file entry or `[build-system] requires` line allows "
    "more than one version (`>=`, `~=`, no version), so two builds of the same commit can "
    "install different code.",
    "pin it with `==` (`name==1.2.3`), for example with `pip-compile` or `uv pip compile`; "
    "a lock file (pylock.toml) must give each package a version and a source.",
)
_own(
    "missing-hash",
    "pinning",
    "a requirement carries no hash",
    "`require_hashes = true` asks for pip's hash-checking mode: every requirement (and "
    "every lock-file artefact) needs a `--hash`, so a replaced file on the index is refused.",
    "generate hashes: `pip-compile --generate-hashes` or `uv pip compile --generate-hashes`.",
)
_own(
    "invalid-requirement",
    "pinning",
    "pip cannot read this requirement line",
    "The line is not a valid requirement or a known pip option, so pip would refuse the file "
    "(or worse, read it differently from what was meant).",
    "correct the line (PEP 508 syntax, or a pip option pip documents).",
)
_own(
    "missing-include",
    "pinning",
    "`-r`/`-c` names a file that does not exist",
    "The requirement file includes another file that is not there, so what it pins cannot "
    "be checked and pip would fail.",
    "fix the path, or remove the include.",
)
_own(
    "invalid-lock",
    "pinning",
    "the lock file cannot be read",
    "The PEP 751 lock file is not valid TOML, or its `packages` entries lack what the "
    "format requires (a name), so the pins cannot be checked.",
    "regenerate the lock file with the tool that writes it.",
)
_PINNING = {
    "unpinned-vcs": (
        "a VCS requirement is not pinned to a commit",
        "A branch or tag (`@main`, `@v1`) can move, so the same requirement installs "
        "different code over time.",
        "pin the full commit id: `name @ git+https://...@<40-hex commit>`.",
    ),
    "unpinned-path": (
        "a requirement is a path outside the repository",
        "A file outside the repository is not pinned by the commit: another machine has "
        "another file there, or none.",
        "commit the artefact into the repository, or install a released, pinned version.",
    ),
    "url-without-hash": (
        "a URL requirement carries no hash",
        "What a URL serves can change; without a hash pip installs whatever it gets.",
        "add `--hash=sha256:...` (or a `#sha256=` fragment), or pin a released version.",
    ),
    "weak-hash": (
        "a hash is not sha256, sha384 or sha512",
        "pip's hash-checking mode rejects other algorithms and malformed digests, and a "
        "weak hash does not pin the artefact.",
        "regenerate the hashes (`pip-compile --generate-hashes`).",
    ),
    "remote-include": (
        "`-r`/`-c` includes a file fetched at install time",
        "An include by URL is read when pip runs, so its pins are not in the repository.",
        "vendor the included file into the repository and include it by path.",
    ),
}
for _rule, (_title, _meaning, _fix) in _PINNING.items():
    _own(_rule, "pinning", _title, _meaning, _fix)
for _rule, _what in (
    ("license-denied", "is on the `deny` list"),
    ("license-not-allowed", "is not on the `allow` list"),
):
    _own(
        _rule,
        "licenses",
        f"a dependency's licence {_what}",
        f"An installed distribution declares a licence that {_what} of "
        "[tool.platformgates.gates.licenses].",
        "replace the dependency; or, after legal review, allow the licence, or record a "
        "waiver with owner, reason, approver and expiry.",
    )
_own(
    "license-unknown",
    "licenses",
    "a dependency's licence cannot be determined",
    "The distribution's metadata declares no SPDX licence expression that can be read: free "
    "text such as 'Apache 2.0', or a classifier naming no single licence ('BSD License').",
    'read its licence file and record your reading: `overrides = ["NAME==VERSION: '
    'SPDX-EXPRESSION"]` in [tool.platformgates.gates.licenses].',
)
for _field in ("version", "purl", "license"):
    _own(
        f"sbom-missing-{_field}",
        "sbom",
        f"an SBOM component has no {_field}",
        f"`require` lists `{_field}`, and a component of the generated CycloneDX SBOM does "
        "not carry it, so the SBOM cannot identify what was shipped.",
        "fix the distribution's metadata (or install it from an index that provides it), or "
        "drop the field from `require`.",
    )
_COVERAGE = {
    "line": "total line coverage is below `line`",
    "branch": "branch coverage is below `branch`",
    "per_file": "a file's line coverage is below the `per_file` floor",
    "fail_under": "coverage's own total is below `[tool.coverage.report] fail_under`",
    "new_code": "too few of the lines changed since `base` were run by the tests",
    "new_code_not_run": "changed executable lines the tests did not run",
    "new_code_never_measured": "changed files the tests never imported",
    "max_new_uncovered": "more changed lines went unrun than `max_new_uncovered` allows",
    "ratchet": "line coverage fell below the value recorded on `base`",
}
for _rule, _title in _COVERAGE.items():
    _own(
        _rule,
        "coverage",
        _title,
        "The coverage gate measures the gate-checked Python files during this pytest run "
        "(files never imported count as 0%) and compares with the thresholds of "
        "[tool.platformgates.gates.coverage]. The report names the files and line ranges.",
        "write tests that run the reported lines; lowering a threshold is a policy change "
        "(and may be refused by the platform policy's guardrails).",
    )
_own(
    "unmeasurable-file",
    "coverage",
    "a Python file cannot be measured",
    "The file is in scope but cannot be read as text (binary, not UTF-8, too large).",
    "fix the file, or leave it out with `omit` in [tool.platformgates.gates.coverage].",
)
_COMMITS = {
    "conventional-header": (
        "the header is not a Conventional Commits header",
        "write `type(scope): description`; squash `fixup!` commits with `git rebase -i "
        "--autosquash`",
    ),
    "commit-type": ("the type is not one of `types`", "use one of the allowed types"),
    "commit-scope": (
        "the scope is missing or not one of `scopes`",
        "write `type(scope): description` with an allowed scope",
    ),
    "header-length": ("the header is longer than `max_header_length`", "shorten it"),
    "body-separator": ("no blank line between header and body", "add the blank line"),
    "work-item": ("the message names no work item", "add the ticket reference"),
    "signoff": ("no `Signed-off-by` trailer as `signoff` asks", "commit with `git commit -s`"),
    "merge-commit": ("a merge commit where the history must be linear", "rebase instead"),
}
for _rule, (_title, _fix) in _COMMITS.items():
    _own(
        _rule,
        "commits",
        _title,
        "A commit since `base` breaks the change intake rules of "
        "[tool.platformgates.gates.commits]; the finding names the commit.",
        f"{_fix}, then rewrite the branch's history (`git rebase -i`) before merging.",
    )

# Rules of the core, on any gate: waivers (waivers.py) and the findings baseline (baseline.py).
_CORE = {
    "waiver-expired": (
        "a waiver has expired",
        "The waiver's `expires` day has passed, so it covers nothing any more and the gate "
        "fails at its own `fail_on`, whatever the finding's severity.",
        "fix what the waiver covered; or, with a new review, renew it with a later `expires` "
        "(`platformgates waivers` lists them with their days left).",
    ),
    "waiver-stale": (
        "a waiver matches no finding",
        "The finding it was written for is gone (or its id/path no longer match), and the "
        'policy fails stale waivers (`[waiver_policy] stale = "fail"`).',
        "delete the waiver; if the finding moved, correct its `id` or `path`.",
    ),
    "baseline-stale": (
        "findings baseline entries match nothing",
        "Entries of the findings baseline no longer match any finding: the debt was paid, and "
        "the baseline must shrink so that it cannot hide a new finding later.",
        "run `platformgates baseline --prune` and commit the smaller baseline.",
    ),
    "baseline-forbidden": (
        "the policy forbids a baseline for this gate",
        "The findings baseline lists findings of a gate whose policy sets "
        "`allow_baseline = false`, so none of them is accepted as known debt.",
        "fix the findings, or remove that gate's entries from the baseline.",
    ),
    "baseline-cap": (
        "the findings baseline is larger than the policy allows",
        "The baseline holds more entries than `baseline_max_entries`, so it is not honoured.",
        "fix findings and `platformgates baseline --prune`, or raise the cap in the policy.",
    ),
}
for _rule, (_title, _meaning, _fix) in _CORE.items():
    _own(_rule, "any", _title, _meaning, _fix)

OSV_ID = re.compile(r"^(PYSEC|GHSA|CVE|OSV|PYUP|GSD|BIT|RUSTSEC|MAL)-", re.IGNORECASE)
BANDIT_ID = re.compile(r"^B\d{3}$")
RUFF_CODE = re.compile(r"^[A-Z]{1,4}\d{1,4}$")
HOW_TO_FIND = (
    "rule ids are the third column of a gate's report (e.g. `F401`, `B602`, `unpinned`, "
    "`PYSEC-2023-74`), the `ruleId` of gate-evidence/findings.sarif, or a detect-secrets "
    'type from a secrets finding (e.g. "AWS Access Key"); `ruff rule --all` lists ruff\'s '
    "codes, `bandit -h` bandit's tests; the rules of SARIF, command and third-party gates "
    "are read from the evidence after a run"
)


def explain(
    rule: str, settings: Settings | None = None, evidence: Path | None = None
) -> list[Explanation]:
    """Every known reading of ``rule``; raises :class:`UnknownRule` when there is none.

    ``evidence`` is an evidence directory whose ``findings.sarif`` is read last, for rules
    no tool here describes (a SARIF or command gate's, a third-party gate's).
    """
    rule = rule.strip()
    if not rule:
        raise UnknownRule(f"no rule id given; {HOW_TO_FIND}")
    found = [
        Explanation(rule, "platformgates" if gate == "any" else f"gate {gate}", title, meaning, fix)
        for gate, title, meaning, fix in _OWN.get(rule, _OWN.get(rule.lower(), ()))
    ]
    if BANDIT_ID.match(rule.upper()):
        found += _bandit(rule.upper())
    found += _detect_secrets(rule)
    if OSV_ID.match(rule):
        found += _osv(rule, settings)
    if RUFF_CODE.match(rule.upper()) and not found:
        found += _ruff(rule.upper())
    if not found and evidence is not None:
        found += _from_evidence(rule, evidence)
    if not found:
        raise UnknownRule(f"{rule!r} is not a rule id any gate or tool here knows; {HOW_TO_FIND}")
    return found


def _from_evidence(rule: str, evidence: Path) -> list[Explanation]:
    """The rule as the last run's SARIF describes it (from the findings that had it)."""
    path = evidence / "findings.sarif"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs = data["runs"] if isinstance(data, dict) else []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError):
        return []
    found = []
    for run in runs if isinstance(runs, list) else []:
        try:
            driver = run["tool"]["driver"]
            rules = driver.get("rules", [])
        except (KeyError, TypeError, AttributeError):
            continue
        for entry in rules if isinstance(rules, list) else []:
            if not isinstance(entry, dict) or entry.get("id") != rule:
                continue
            found.append(
                Explanation(
                    rule,
                    f"the last run's {path} ({driver.get('name', 'a gate')})",
                    _sarif_text(entry, "shortDescription") or rule,
                    _sarif_text(entry, "fullDescription") or "(no description recorded)",
                    _sarif_text(entry, "help"),
                    shown(entry.get("helpUri", "")),
                )
            )
    return found


def _sarif_text(entry: Mapping[str, Any], key: str) -> str:
    # Findings' messages and hints: a tool's text, quoting the project.
    value = entry.get(key)
    return shown(value.get("text", "")) if isinstance(value, dict) else ""


def _bandit(test_id: str) -> list[Explanation]:
    try:
        with warnings.catch_warnings():  # stevedore's deprecation noise on loading plugins
            warnings.simplefilter("ignore", DeprecationWarning)
            import bandit
            from bandit.core import extension_loader
    except ImportError:  # pragma: no cover - bandit is a dependency
        return []
    version = bandit.__version__
    manager = extension_loader.MANAGER
    plugin = manager.plugins_by_id.get(test_id)
    base = f"https://bandit.readthedocs.io/en/{version}"
    if plugin is not None:
        doc = inspect.cleandoc(plugin.plugin.__doc__ or "")
        # The docstring's head says what and why; its config and example sections are long.
        doc = re.split(r"\n\s*(?:\*\*Config Options:\*\*|:Example:|\.\. seealso::)", doc)[0]
        doc = re.sub(r"^\*\*[^*]+\*\*\s*", "", doc).strip()
        return [
            Explanation(
                test_id,
                f"bandit {version}",
                plugin.name.replace("_", " "),
                doc,
                "change the code as the text says; a reviewed false positive: `# nosec "
                f"{test_id}` on the line, or `skips` in [tool.bandit] for the whole project.",
                f"{base}/plugins/{test_id.lower()}_{plugin.name}.html",
            )
        ]
    listed = manager.blacklist_by_id.get(test_id)
    if listed is not None:
        kind = "calls" if test_id.startswith("B3") else "imports"
        cwe = f" (CWE-{listed['cwe']})" if listed.get("cwe") else ""
        names = ", ".join(listed.get("qualnames", [])[:8])
        return [
            Explanation(
                test_id,
                f"bandit {version}",
                f"blacklisted {kind[:-1]}: {listed['name']}",
                f"{listed['message']}{cwe}\nMatched: {names}",
                f"use a safe alternative, or for a reviewed use: `# nosec {test_id}` on the line.",
                f"{base}/blacklists/blacklist_{kind}.html",
            )
        ]
    return []


def _detect_secrets(rule: str) -> list[Explanation]:
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    except ImportError:  # pragma: no cover - detect-secrets is a dependency
        return []
    wanted = rule.casefold()
    for secret_type, cls in get_mapping_from_secret_type_to_class().items():
        if wanted in (secret_type.casefold(), cls.__name__.casefold()):
            doc = inspect.cleandoc(cls.__doc__ or "") or f"Scans for {secret_type}."
            return [
                Explanation(
                    secret_type,
                    f"detect-secrets plugin {cls.__name__}",
                    f"a value that looks like: {secret_type}",
                    doc,
                    _OWN["secret"][0][3],
                    "https://github.com/Yelp/detect-secrets#viewing-all-enabled-plugins",
                )
            ]
    return []


def _osv(ident: str, settings: Settings | None) -> list[Explanation]:
    url = f"https://osv.dev/vulnerability/{ident}"
    database = None
    if settings is not None and "deps" in settings.gates:
        database = settings.gates["deps"].values.get("database")
    if not database:
        return [
            Explanation(
                ident,
                "OSV (online)",
                "a published vulnerability advisory",
                "The deps gate audits online (no `database` is configured), so the record is "
                "not read here; it names the affected versions and the fixed ones.",
                "upgrade the dependency to a fixed version (the gate's hint names it), or "
                "waive it with owner, reason, approver and expiry while you cannot.",
                url,
            )
        ]
    from . import osv

    try:
        db, _ = osv.load(osv.parse_location(database, settings.root))
    except osv.DatabaseError as exc:
        raise UnknownRule(
            f"{ident}: the configured advisory database cannot be read: {exc}"
        ) from None
    for name in sorted(db.by_name.keys() | db.raw_by_name.keys()):
        for advisory in db.advisories(name):
            if ident.upper() in (advisory.id.upper(), *(a.upper() for a in advisory.aliases)):
                affected = ", ".join(sorted({a.name for a in advisory.affected}))
                aliases = ", ".join(advisory.aliases) or "none"
                return [
                    Explanation(
                        advisory.id,
                        f"OSV record in {database}",
                        f"a vulnerability advisory for {affected}"
                        + (" (withdrawn)" if advisory.withdrawn else ""),
                        f"{advisory.summary}\n\nSeverity: "
                        f"{advisory.severity or 'not given (the gate uses unknown_severity)'}. "
                        f"Aliases: {aliases}.",
                        "upgrade to a fixed version (the gate's hint names it), or waive it "
                        "with owner, reason, approver and expiry while you cannot.",
                        f"https://osv.dev/vulnerability/{advisory.id}",
                    )
                ]
    raise UnknownRule(
        f"{ident}: no record with this id or alias in the configured advisory database "
        f"{database}; online: {url}"
    )


def _ruff(code: str) -> list[Explanation]:
    try:
        from ruff.__main__ import find_ruff_bin

        ruff = str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return []
    proc = subprocess.run(
        [ruff, "rule", code, "--output-format", "json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        return []
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return []
    version = subprocess.run(
        [ruff, "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.strip()
    explanation = data.get("explanation", "")
    fix = data.get("fix", "")
    return [
        Explanation(
            code,
            f"{version or 'ruff'}, {data.get('linter', '')}".rstrip(", "),
            data.get("name", code),
            explanation,
            f"{fix} Fixable ones: `ruff check --fix`. A reviewed exception: `# noqa: {code}` "
            "on the line, or `ignore`/`per-file-ignores` in [tool.ruff.lint].",
            f"https://docs.astral.sh/ruff/rules/{data.get('name', code)}/",
        )
    ]


def load_settings(pyproject: Path) -> tuple[Settings | None, str]:
    """The project's settings for the OSV lookup, or None and why they could not be read."""
    from . import policy
    from .manager import collect_gates, create_plugin_manager

    try:
        raw = read_table(pyproject)
        if raw is None:
            return None, ""
        resolved = policy.resolve(pyproject, raw)
        pm = create_plugin_manager(plugin_modules(resolved.raw, pyproject), pyproject.parent)
        return policy.settle(resolved, pyproject.parent, collect_gates(pm, resolved.raw)), ""
    except ConfigError as exc:
        return None, str(exc)


def report(rule: str, pyproject: Path, write: Any = print) -> int:
    """Print every explanation of ``rule``; 0 when one was found, 2 when none."""
    settings, problem = load_settings(pyproject)
    if problem:
        write(
            f"platformgates: note: the configuration was not loaded ({shown(problem)})",
            file=sys.stderr,
        )
    evidence = settings.evidence_dir if settings is not None else pyproject.parent / "gate-evidence"
    try:
        found = explain(rule, settings, evidence)
    except UnknownRule as exc:
        write(f"platformgates: error: {exc}", file=sys.stderr)
        return 2
    write("\n".join(e.render() for e in found), end="")
    return 0


def describe_rules() -> Mapping[str, Sequence[str]]:
    """Our own rule ids by gate (for tests and documentation)."""
    out: dict[str, list[str]] = {}
    for rule, entries in _OWN.items():
        for gate, *_ in entries:
            out.setdefault(gate, []).append(rule)
    return out
