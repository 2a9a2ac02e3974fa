"""The commits gate: every commit since ``base`` follows the change intake rules.

Each commit between the merge-base of ``base`` and ``HEAD`` must have a
Conventional Commits header (``type(scope)!: description``) of an allowed type
and length, a blank line before any body, optionally a work-item reference
matching a pattern, and optionally a ``Signed-off-by`` trailer. Merge commits and
bots' commits are handled as configured.

The gate exists only when its table ``[tool.platformgates.gates.commits]`` is
present: a built-in gate that needs a base revision and a full enough history
would otherwise surprise every project that never asked for it. History git
cannot provide (an unknown ``base``, a shallow clone without the merge-base) is an
error that says how to fetch it, never a pass over fewer commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..changes import ChangesError, merge_base
from ..config import ConfigError, Option
from ..gate import Gate, GateContext, GateError
from ..hookspecs import hookimpl
from ..model import Analysis, Finding, Severity, fingerprint
from ..process import run_tool

#: The types of the Angular convention that Conventional Commits' tooling defaults to.
DEFAULT_TYPES = [
    "build",
    "chore",
    "ci",
    "docs",
    "feat",
    "fix",
    "perf",
    "refactor",
    "revert",
    "style",
    "test",
]
HEADER = re.compile(
    r"^(?P<type>[A-Za-z][\w-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<subject>\S.*)$"
)
SIGNOFF = re.compile(r"^Signed-off-by: (?P<name>.+?) <(?P<email>[^<>]+)>\s*$", re.MULTILINE)
RECORD = "\x1e"
FIELD = "\x00"
MAX_SHOWN = 72


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    message: str

    @property
    def header(self) -> str:
        return self.message.split("\n", 1)[0].strip()

    @property
    def short(self) -> str:
        return self.sha[:12]


class CommitsGate(Gate):
    name = "commits"
    reads_files = False  # judges the git history, not the files: no wait for the inventory
    description = "every commit since base follows Conventional Commits and the intake rules"
    options = (
        Option(
            "base",
            "str",
            "origin/main",
            "Commits after the merge-base of this revision and HEAD are checked.",
        ),
        Option("types", "list[str]", DEFAULT_TYPES, "Allowed Conventional Commits types."),
        Option(
            "scopes",
            "list[str]",
            [],
            "Allowed scopes; empty allows any scope (or none).",
        ),
        Option("require_scope", "bool", False, "Every header must name a scope."),
        Option(
            "max_header_length",
            "int",
            100,
            "Longest header (first line) allowed, in characters.",
            minimum=20,
        ),
        Option(
            "work_item",
            "str",
            None,
            "A regular expression (e.g. `[A-Z]+-\\d+`) that every message must contain; unset: "
            "not required.",
        ),
        Option(
            "signoff",
            "choice",
            "off",
            "Require a `Signed-off-by:` trailer: `off`, `any` (any sign-off), or `author` "
            "(one carrying the commit author's email, as the DCO asks).",
            choices=("off", "any", "author"),
        ),
        Option(
            "merge_commits",
            "choice",
            "skip",
            "Merge commits: `skip` them (their message is git's), `check` them like any "
            "commit, or `forbid` them (a linear history).",
            choices=("skip", "check", "forbid"),
        ),
        Option(
            "bots",
            "list[str]",
            [r"\[bot\]"],
            "Regular expressions searched in the author's name and email; matching commits "
            "are not checked (dependency bots write their own messages).",
        ),
        Option("severity", "severity", "high", "Severity of a commit breaking a rule."),
    )

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        if values["work_item"] is not None:
            _compile(values["work_item"], f"{where}.work_item")
        for pattern in values["bots"]:
            _compile(pattern, f"{where}.bots")
        if not values["types"]:
            raise ConfigError(f"{where}.types must name at least one type")

    def check(self, ctx: GateContext) -> Analysis:
        settings = ctx.settings
        base = settings["base"]
        try:
            start = merge_base(ctx.root, base, timeout=ctx.timeout)
        except ChangesError as exc:
            raise GateError(f"the commits since {base!r} cannot be listed: {exc}") from None
        commits = list(_log(ctx, start))
        severity = Severity.parse(settings["severity"])
        bots = [re.compile(p) for p in settings["bots"]]
        findings: list[Finding] = []
        counts = {"commits_checked": 0, "commits_bots": 0, "commits_merges": 0}
        for commit in commits:
            if len(commit.parents) > 1:
                counts["commits_merges"] += 1
                if settings["merge_commits"] == "skip":
                    continue
                if settings["merge_commits"] == "forbid":
                    findings.append(
                        self._finding(
                            commit,
                            "merge-commit",
                            severity,
                            "is a merge commit; the history must be linear",
                            f"rebase onto {base} instead of merging it",
                        )
                    )
                    continue
            if any(b.search(commit.author) or b.search(commit.email) for b in bots):
                counts["commits_bots"] += 1
                continue
            counts["commits_checked"] += 1
            for rule, message, hint in self._violations(commit, settings.values):
                findings.append(self._finding(commit, rule, severity, message, hint))
        if not commits:
            ctx.notes.append(f"no commits since {base} ({start[:12]}): nothing to check")
        figures = {"base": base, "base_commit": start, "commits": len(commits), **counts}
        return Analysis(findings=tuple(findings), figures=figures, notes=tuple(ctx.notes))

    def _violations(
        self, commit: Commit, settings: Mapping[str, Any]
    ) -> Iterator[tuple[str, str, str]]:
        header = commit.header
        types = settings["types"]
        match = HEADER.match(header)
        if match is None:
            example = f"{types[0]}(scope): what changed" if types else "type: what changed"
            hint = f"write the header as `type(scope): description`, e.g. `{example}`"
            if header.startswith(("fixup!", "squash!", "amend!")):
                hint = "squash it (`git rebase -i --autosquash`) before it is merged"
            yield "conventional-header", "header is not a Conventional Commits header", hint
        else:
            kind = match["type"]
            if kind.lower() not in {t.lower() for t in types}:
                yield (
                    "commit-type",
                    f"type {kind!r} is not allowed",
                    f"use one of: {', '.join(types)}",
                )
            scope = match["scope"]
            if settings["require_scope"] and not scope:
                yield "commit-scope", "header names no scope", "write `type(scope): description`"
            if scope and settings["scopes"] and scope not in settings["scopes"]:
                yield (
                    "commit-scope",
                    f"scope {scope!r} is not allowed",
                    f"use one of: {', '.join(settings['scopes'])}",
                )
        if len(header) > settings["max_header_length"]:
            yield (
                "header-length",
                f"header is {len(header)} characters, over {settings['max_header_length']}",
                "move details into the body",
            )
        lines = commit.message.rstrip("\n").split("\n")
        if len(lines) > 1 and lines[1].strip():
            yield (
                "body-separator",
                "the body does not start after a blank line",
                "leave the second line of the message empty",
            )
        if settings["work_item"] is not None and not re.search(
            settings["work_item"], commit.message
        ):
            yield (
                "work-item",
                f"references no work item (pattern {settings['work_item']!r})",
                "name the work item in the header or the body",
            )
        signoff = settings["signoff"]
        if signoff != "off":
            signers = [m["email"].strip().lower() for m in SIGNOFF.finditer(commit.message)]
            if not signers:
                yield (
                    "signoff",
                    "carries no Signed-off-by trailer",
                    "commit with `git commit -s` (or amend with `git commit --amend -s`)",
                )
            elif signoff == "author" and commit.email.lower() not in signers:
                yield (
                    "signoff",
                    "is not signed off by its author",
                    f"add `Signed-off-by: {commit.author} <{commit.email}>` (`git commit -s`)",
                )

    def _finding(
        self, commit: Commit, rule: str, severity: Severity, message: str, hint: str
    ) -> Finding:
        header = commit.header
        shown = header if len(header) <= MAX_SHOWN else header[: MAX_SHOWN - 3] + "..."
        return Finding(
            gate=self.name,
            rule=rule,
            severity=severity,
            path="",
            line=0,
            message=f"commit {commit.short} {shown!r}: {message}",
            hint=hint,
            # A commit's identity is its hash: rewording it makes a new commit.
            fingerprint=fingerprint(self.name, rule, "", commit.sha, 0),
        )


def _log(ctx: GateContext, start: str) -> Iterator[Commit]:
    proc = run_tool(
        [
            "git",
            "-c",
            "i18n.logOutputEncoding=UTF-8",
            "log",
            "--no-color",
            "--no-show-signature",
            # git's own escapes: a NUL cannot be passed in an argument.
            "--format=%x1e%H%x00%P%x00%an%x00%ae%x00%B",
            f"{start}..HEAD",
            "--",
        ],
        cwd=ctx.root,
        timeout=ctx.timeout,
    )
    for record in proc.stdout.split(RECORD)[1:]:
        fields = record.split(FIELD, 4)
        if len(fields) != 5:
            raise GateError(f"unexpected git log output: {record[:80]!r}")
        sha, parents, author, email, message = fields
        yield Commit(sha, tuple(parents.split()), author, email, message.strip("\n"))


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"{where}: {pattern!r} is not a valid regular expression ({exc})"
        ) from None


@hookimpl
def platformgates_gates(table: Mapping[str, Any]) -> Sequence[Gate]:
    """The commits gate, when the project configured it (see the module docstring)."""
    tables = table.get("gates") if isinstance(table, Mapping) else None
    if isinstance(tables, dict) and "commits" in tables:
        return [CommitsGate()]
    return []
