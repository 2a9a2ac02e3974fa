"""The ``platformgates`` command: inspect the gates and the effective configuration.

The gates themselves run inside ``pytest``; this command answers "which gates are
there, what can I set, and what does my project's configuration amount to?", and
``verify`` answers "does this evidence bundle prove that this commit passed?".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, policy
from .config import GATE_COMMON, GLOBAL, ConfigError, Settings, plugin_modules, read_table
from .manager import collect_gates, create_plugin_manager
from .redaction import shown
from .reference import reference_markdown

NO_TABLE = "has no [tool.platformgates] table; `platformgates init` writes a starting one"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformgates", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    gates = sub.add_parser("gates", help="list the registered gates and their options")
    gates.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    gates.add_argument(
        "--markdown", action="store_true", help="print the option reference (docs/reference.md)"
    )
    config = sub.add_parser(
        "config", help="validate [tool.platformgates] and print the effective configuration"
    )
    config.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    _add_verify(sub)
    _add_baseline(sub)
    _add_init(sub)
    explain = sub.add_parser(
        "explain",
        help="print what a finding's rule id means and how to fix it",
        description="Explain a rule id from a gate's report: a ruff code (F401), a bandit "
        "test (B602), a detect-secrets type ('AWS Access Key'), an advisory id "
        "(PYSEC-2023-74, looked up in the configured offline database), or a rule of "
        "the gates themselves (unpinned, license-unknown, line, ...).",
    )
    explain.add_argument("rule", metavar="ID", help="the rule id")
    explain.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    for name, text in (
        ("policy", "print the effective policy: each key, its value, the file that set it"),
        ("waivers", "list the waivers with their status; exit 1 when any has expired"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    args = parser.parse_args(argv)
    try:
        if args.command in ("policy", "waivers"):
            return _policy(args.project, args.command)
        if args.command == "gates":
            return _gates(args.project, args.markdown)
        if args.command == "explain":
            from .explain import report

            return report(args.rule, args.project / "pyproject.toml")
        if args.command == "init":
            return _init(args)
        if args.command == "verify":
            return _verify(args)
        if args.command == "baseline":
            return _baseline(args)
        return _config(args.project)
    except ConfigError as exc:  # it may quote a key or a value: the project's text
        print(f"platformgates: error: {shown(exc)}", file=sys.stderr)
        return 2


def _gates(project: Path, markdown: bool = False) -> int:
    source = project / "pyproject.toml"
    raw = dict(policy.resolve(source, read_table(source) or {}).raw)  # plugins of the bases too
    pm = create_plugin_manager(plugin_modules(raw, source), project)
    if markdown:
        print(reference_markdown(pm, raw), end="")
        return 0
    print("global keys of [tool.platformgates]:")
    for option in GLOBAL:
        print(f"  {option.name} = {option.default_text}  # {option.help}")
    for name, gate in sorted(collect_gates(pm, raw).items()):
        print(f"\n[tool.platformgates.gates.{name}]  # {gate.description}")
        for option in (*GATE_COMMON, *gate.options):
            print(f"  {option.name} = {option.default_text}  # {option.help}")
    return 0


def _config(project: Path) -> int:
    source = project / "pyproject.toml"
    raw = read_table(source)
    if raw is None:
        print(f"platformgates: {source} {NO_TABLE}", file=sys.stderr)
        return 1
    settings = _settings(project, source, raw)
    print(json.dumps({"digest": settings.digest, "config": settings.effective()}, indent=2))
    return 0


def _settings(project: Path, source: Path, raw: dict[str, Any]) -> Settings:
    """The effective settings as pytest builds them: extends, guardrails, waivers."""
    resolved = policy.resolve(source, raw)
    pm = create_plugin_manager(plugin_modules(resolved.raw, source), project)
    return policy.settle(resolved, project.resolve(), collect_gates(pm, resolved.raw))


def _policy(project: Path, command: str) -> int:
    from .waivers import report_lines

    source = project / "pyproject.toml"
    raw = read_table(source)
    if raw is None:
        print(f"platformgates: {source} {NO_TABLE}", file=sys.stderr)
        return 2
    settings = _settings(project, source, raw)
    if command == "policy":
        print("\n".join(map(shown, policy.report_lines(settings))))  # the project's values
        return 0
    lines, expired = report_lines(settings.policy.waivers, settings.policy.rules)
    print("\n".join(shown(line) for line in lines))  # reasons, owners: the project's text
    return 1 if expired else 0


def _add_verify(sub: Any) -> None:
    verify = sub.add_parser(
        "verify",
        help="check an evidence bundle: digests, signature, commit, policy, required gates",
        description="Exit 0 only when the bundle in DIR proves that the commit passed every "
        "gate the project's policy requires; otherwise print why and exit 1.",
    )
    verify.add_argument("directory", type=Path, metavar="DIR", help="the evidence bundle")
    verify.add_argument(
        "--key",
        metavar="PUB",
        help="Ed25519 public key (PEM file) the bundle must be signed with "
        "(default: $PLATFORMGATES_VERIFY_KEY)",
    )
    verify.add_argument(
        "--commit", metavar="SHA", help="the commit the bundle must belong to (default: HEAD)"
    )
    verify.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    verify.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept an unsigned or unpinned bundle in CI (refused there by default)",
    )
    verify.add_argument(
        "--allow-dirty",
        action="store_true",
        help="accept a bundle from a working tree with uncommitted changes",
    )
    verify.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept a bundle from a partial scan (--gates-changed), refused by default",
    )


def _verify(args: argparse.Namespace) -> int:
    from .evidence import dsse
    from .evidence.verify import (
        VERIFY_KEY_VARIABLE,
        Expectations,
        head_commit,
        in_ci,
        resolve_commit,
        verify,
    )

    project = args.project.resolve()
    source = project / "pyproject.toml"
    raw = read_table(source)
    if raw is None:
        print(f"platformgates: {source} {NO_TABLE}", file=sys.stderr)
        return 2
    settings = _settings(project, source, raw)
    key_text = args.key or os.environ.get(VERIFY_KEY_VARIABLE, "")
    try:
        key = dsse.load_public_key(key_text) if key_text.strip() else None
        commit = resolve_commit(project, args.commit) if args.commit else head_commit(project)
    except (dsse.SigningKeyError, ValueError) as exc:
        print(f"platformgates: error: {exc}", file=sys.stderr)
        return 2
    expect = Expectations(
        commit=commit,
        policy_digest=settings.digest,
        required=tuple(sorted(n for n, g in settings.gates.items() if g.enabled)),
        key=key,
        require_signature=in_ci() and not args.allow_unsigned,
        allow_dirty=args.allow_dirty,
        allow_partial=args.allow_partial,
    )
    report = verify(args.directory, expect)
    for line in report.lines():
        print(line)
    verdict = "VERIFIED" if report.ok else "NOT VERIFIED"
    print(f"platformgates verify: {verdict}: {args.directory}")
    return 0 if report.ok else 1


def _add_init(sub: Any) -> None:
    init = sub.add_parser(
        "init",
        help="write a starting [tool.platformgates] section into pyproject.toml",
        description="Inspect the project (src layout, ruff/bandit/coverage config, "
        "secrets baseline, requirement and lock files) and append a commented "
        "[tool.platformgates] section to pyproject.toml, keeping the rest of the file "
        "byte for byte. An existing section is never replaced without --force; the diff "
        "is shown first.",
    )
    init.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    init.add_argument(
        "--force", action="store_true", help="replace an existing section (or baseline)"
    )
    init.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    init.add_argument(
        "--secrets-baseline",
        action="store_true",
        help="also create .secrets.baseline with detect-secrets and point the secrets gate at it",
    )


def _init(args: argparse.Namespace) -> int:
    from .init import run

    return run(
        args.project,
        force=args.force,
        dry_run=args.dry_run,
        secrets_baseline=args.secrets_baseline,
    )


def _add_baseline(sub: Any) -> None:
    cmd = sub.add_parser(
        "baseline",
        help="record the gates' blocking findings as known debt (.platformgates-baseline.json)",
        description="Run the gates and record their blocking findings in the baseline file, "
        "so that only new findings block. With a baseline already there, nothing is added "
        "without --add and nothing removed without --prune; the difference is printed and "
        "the exit status is 1 while one remains.",
    )
    cmd.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    cmd.add_argument(
        "--gate", action="append", default=[], metavar="NAME", help="only this gate (repeatable)"
    )
    cmd.add_argument(
        "--add", action="store_true", help="add the findings the baseline does not list yet"
    )
    cmd.add_argument(
        "--prune", action="store_true", help="remove the entries no finding matches any more"
    )


def _baseline(args: argparse.Namespace) -> int:
    from . import baseline
    from .cache import ResultCache

    project = args.project.resolve()
    source = project / "pyproject.toml"
    raw = read_table(source)
    if raw is None:
        print(f"platformgates: {source} {NO_TABLE}", file=sys.stderr)
        return 2
    resolved = policy.resolve(source, raw)
    gates = collect_gates(
        create_plugin_manager(plugin_modules(resolved.raw, source), project), resolved.raw
    )
    settings = policy.settle(resolved, project, gates)
    # The gates' cache in pytest's cache directory, when a pytest run made it (with its
    # .gitignore): files unchanged since then are not analysed again.
    cached = project / ".pytest_cache" / "d" / "platformgates"
    cache = ResultCache(cached, __version__) if cached.is_dir() else None
    lines, status = baseline.command(
        settings, gates, names=args.gate, add=args.add, prune=args.prune, cache=cache
    )
    # Finding locations and problems: the project's text.
    print("\n".join(map(shown, lines)), file=sys.stderr if status == 2 else sys.stdout)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
