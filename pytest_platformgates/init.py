"""``platformgates init``: a starting ``[tool.platformgates]`` section for a project.

It inspects what the project already has (src layout, ``[tool.ruff]``, ``[tool.bandit]``,
``[tool.coverage]``, a ``.secrets.baseline``, requirement and lock files, virtual
environments git does not ignore) and writes a commented section that loads and runs as
written. The rest of ``pyproject.toml`` is kept byte for byte: the section is appended,
or with ``--force`` put in place of the old one, and the diff is always shown first.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, policy
from .config import ConfigError, plugin_modules
from .inventory import FileStatus, Inventory
from .manager import collect_gates, create_plugin_manager

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
SECRETS_BASELINE = ".secrets.baseline"
# Lock files the deps gate cannot read, and how to turn each into one it can.
FOREIGN_LOCKS = {
    "uv.lock": "uv export --format pylock.toml -o pylock.toml",
    "poetry.lock": "poetry export -f requirements.txt -o requirements.txt",
    "Pipfile.lock": "pipenv requirements > requirements.txt",
    "pdm.lock": "pdm export -f requirements -o requirements.txt",
}


class InitError(Exception):
    """init cannot do what was asked; the message says why and what to do instead."""


@dataclass(frozen=True)
class Facts:
    """What ``init`` found in the project, each fact with where it came from."""

    root: Path
    has_pyproject: bool
    git: bool
    src_packages: tuple[str, ...] = ()
    ruff_config: str = ""
    bandit_config: str = ""
    coverage_config: str = ""
    secrets_baseline: bool = False
    requirements: tuple[str, ...] = ()
    pylocks: tuple[str, ...] = ()
    foreign_locks: tuple[str, ...] = ()
    declared_dependencies: bool = False
    build_requires: tuple[str, ...] = ()
    has_build_system: bool = False
    unignored_venvs: tuple[str, ...] = ()
    tests_dir: str = ""
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The facts as a person reads them, one a line."""
        out = []
        if self.src_packages:
            out.append(f"src layout: {', '.join(self.src_packages)}")
        for what, where in (
            ("ruff", self.ruff_config),
            ("bandit", self.bandit_config),
            ("coverage", self.coverage_config),
        ):
            out.append(f"{what} config: {where or 'none (the tool defaults apply)'}")
        out.append(f"secrets baseline: {SECRETS_BASELINE if self.secrets_baseline else 'none'}")
        deps = [*self.pylocks, *self.requirements]
        out.append(f"requirement/lock files: {', '.join(deps) or 'none'}")
        if self.foreign_locks:
            out.append(f"lock files the deps gate cannot read: {', '.join(self.foreign_locks)}")
        if self.unignored_venvs:
            out.append(
                f"virtual environments git does not ignore: {', '.join(self.unignored_venvs)}"
            )
        out.append(f"tests: {self.tests_dir or 'no tests/ directory'}")
        return out


def inspect(root: Path) -> Facts:
    """Look at the project without changing it."""
    root = root.resolve()
    pyproject = root / PYPROJECT
    data: dict[str, Any] = {}
    raw = _read_pyproject(pyproject)
    if raw:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InitError(
                f"{pyproject}: cannot be parsed ({exc}); fix it first, init only appends to "
                "a valid file"
            ) from None
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    git = _git(root, "rev-parse", "--is-inside-work-tree") == "true"
    src = root / "src"
    src_packages = ()
    if src.is_dir():
        src_packages = tuple(
            sorted(
                p.name for p in src.iterdir() if (p / "__init__.py").is_file() or p.suffix == ".py"
            )
        )
    requirements = tuple(
        sorted(
            str(p.relative_to(root))
            for pattern in ("*requirements*.txt", "requirements/*.txt")
            for p in root.glob(pattern)
            if p.is_file()
        )
    )
    pylocks = tuple(
        sorted(p.name for pattern in ("pylock.toml", "pylock.*.toml") for p in root.glob(pattern))
    )
    build = data.get("build-system", {}) if isinstance(data.get("build-system"), dict) else {}
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    return Facts(
        root=root,
        has_pyproject=pyproject.is_file(),
        git=git,
        src_packages=src_packages,
        ruff_config=_first_config(root, tool, "ruff", ("ruff.toml", ".ruff.toml")),
        bandit_config=_first_config(root, tool, "bandit", (".bandit",)),
        coverage_config=_first_config(root, tool, "coverage", (".coveragerc",)),
        secrets_baseline=(root / SECRETS_BASELINE).is_file(),
        requirements=requirements,
        pylocks=pylocks,
        foreign_locks=tuple(name for name in FOREIGN_LOCKS if (root / name).is_file()),
        declared_dependencies=bool(project.get("dependencies")),
        build_requires=tuple(str(r) for r in build.get("requires", ()) or ()),
        has_build_system=bool(build),
        unignored_venvs=_unignored_venvs(root, git),
        tests_dir=next((d for d in ("tests", "test") if (root / d).is_dir()), ""),
    )


def _read_pyproject(path: Path) -> bytes:
    """The bytes of ``pyproject.toml``; empty when there is none.

    Anything else that cannot be read (a directory, a file init may not read, a symlink
    to nothing) is an :class:`InitError` saying so, as every other command says it:
    treated as "no file", init would show a diff and then fail to write, or write through
    the dangling link somewhere else.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise InitError(
                f"{path}: a symbolic link to {os.readlink(path)}, which does not exist"
            ) from None
        return b""
    except OSError as exc:
        raise InitError(f"{path}: cannot be read: {exc.strerror}") from None


def _write(path: Path, text: str) -> None:
    """Write one of init's outputs; a failure is an :class:`InitError` naming the file."""
    try:
        path.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        raise InitError(f"{path}: cannot be written: {exc.strerror}") from None


def _first_config(root: Path, tool: dict[str, Any], name: str, files: tuple[str, ...]) -> str:
    if name in tool:
        return f"[tool.{name}] in {PYPROJECT}"
    return next((f for f in files if (root / f).is_file()), "")


def _git(root: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        proc = subprocess.run(
            [git, *args], cwd=root, capture_output=True, text=True, check=False, timeout=60
        )
    except subprocess.TimeoutExpired:
        raise InitError(f"`git {' '.join(args)}` did not answer within 60 s in {root}") from None
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _unignored_venvs(root: Path, git: bool) -> tuple[str, ...]:
    """Top-level virtual environments the file inventory would otherwise walk into."""
    venvs = [p.name for p in sorted(root.iterdir()) if (p / "pyvenv.cfg").is_file()]
    if not git or not venvs:
        return tuple(venvs)
    ignored = set(_git(root, "check-ignore", *(f"{v}/" for v in venvs)).splitlines())
    return tuple(v for v in venvs if f"{v}/" not in ignored and v not in ignored)


def render(facts: Facts, *, secrets_baseline: bool = False) -> str:
    """The ``[tool.platformgates]`` section for ``facts``, with comments saying why."""
    out = [
        "[tool.platformgates]",
        f"# Written by `platformgates init` (pytest-platformgates {__version__}) from what the",
        "# project holds. `pytest` runs these gates on a whole-suite run, with --gates, or when",
        "# CI is set; `pytest --gates-only` runs the gates alone. Every option and its default:",
        "# `platformgates gates`; what a finding's rule means: `platformgates explain RULE`.",
        'fail_on = "high"  # the lowest severity that blocks: critical | high | medium | low',
    ]
    if facts.unignored_venvs:
        globs = ", ".join(f'"{v}/**"' for v in facts.unignored_venvs)
        out.append(f"exclude = [{globs}]  # virtual environments git does not ignore")
    if not facts.git:
        out.append(
            "# Not a git repository: the files in scope are those .gitignore does not ignore."
        )

    out += ["", "[tool.platformgates.gates.lint]"]
    if facts.ruff_config:
        out.append(
            f"# ruff check and ruff format --check, under your ruff config ({facts.ruff_config})."
        )
    else:
        out.append(
            "# ruff check and ruff format --check with ruff's default rules (no ruff config found)."
        )
    out += [
        'presets = ["no-debug", "no-blanket-noqa"]  # plus: breakpoint()/print, blanket `# noqa`',
        "format = true  # files must be as `ruff format` writes them; run it once, or set false",
    ]

    out += ["", "[tool.platformgates.gates.sast]"]
    where = facts.bandit_config or "none found: bandit's defaults"
    out += [
        f"# bandit on the Python files; its own config is honoured ({where}).",
        'confidence = "low"  # report everything `bandit -r` reports; high severity blocks',
    ]

    out += ["", "[tool.platformgates.gates.secrets]"]
    if facts.secrets_baseline or secrets_baseline:
        out += [
            "# detect-secrets; the baseline records the false positives audited with",
            "# `detect-secrets audit`.",
            f'baseline = "{SECRETS_BASELINE}"',
        ]
    else:
        out += [
            "# detect-secrets with its default plugins. A false positive: `# pragma: allowlist",
            "# secret` on its line, or record it: `platformgates init --secrets-baseline`, then",
            f"# `detect-secrets audit {SECRETS_BASELINE}` (the gate reads that file when present).",
        ]

    out += ["", "[tool.platformgates.gates.deps]", *_deps_lines(facts)]

    out += ["", "[tool.platformgates.gates.pinning]"]
    unpinned = [r for r in facts.build_requires if "==" not in r and " @ " not in r]
    out.append(
        "# Requirement files, lock files and [build-system] requires must pin exact versions."
    )
    if not facts.has_build_system:
        out.append(
            "# No [build-system] table yet: the gate reports that until one pins its backend."
        )
    elif unpinned:
        out.append(f"# Not pinned yet (the gate reports them): {', '.join(unpinned)}.")

    out += ["", "[tool.platformgates.gates.coverage]"]
    where = facts.coverage_config or "none found"
    out += [
        f"# Measured during the pytest run; coverage's own config is honoured ({where}).",
        "line = 80  # minimum total line coverage, percent",
    ]
    if not facts.tests_dir:
        out.append("# No tests/ directory found: until there are tests, coverage is 0%.")

    out += [
        "",
        "[tool.platformgates.gates.licenses]",
        "# Licences of the installed distributions. Empty allow: anything not denied passes.",
    ]
    if not facts.declared_dependencies:
        out += [
            "# No [project] dependencies are declared, so every installed distribution counts",
            "# as direct and an unreadable licence blocks; record each one you have read in",
            '# `overrides = ["NAME==VERSION: SPDX-EXPRESSION"]`.',
        ]
    out += [
        'deny = ["AGPL-3.0-only", "AGPL-3.0-or-later"]',
        "",
        "[tool.platformgates.gates.sbom]",
        "# A schema-valid CycloneDX SBOM of the environment, written to the evidence bundle.",
        'require = ["version", "purl"]',
        "",
        "# Conventional Commits since a base revision; uncomment to check commit messages:",
        "# [tool.platformgates.gates.commits]",
        '# base = "origin/main"',
    ]
    return "\n".join(out) + "\n"


def _deps_lines(facts: Facts) -> list[str]:
    lines = []
    if facts.pylocks:
        source, why = facts.pylocks[0], "the PEP 751 lock file"
    elif "requirements.txt" in facts.requirements:
        source, why = "requirements.txt", "the requirements file"
    elif facts.requirements:
        source, why = facts.requirements[0], "the requirements file"
    else:
        source, why = "environment", "the distributions installed where pytest runs"
    lines.append(f"# Known vulnerabilities (OSV) in {why}.")
    for name in facts.foreign_locks:
        lines.append(f"# {name} is not read by the gate; export it: `{FOREIGN_LOCKS[name]}`.")
    lines += [
        f'source = "{source}"',
        '# Online through pip-audit by default; air-gapped: database = "osv:PATH" (OSV records).',
    ]
    return lines


@dataclass(frozen=True)
class Plan:
    """What init will write: the new pyproject text, the diff, and a baseline to create."""

    path: Path
    old: str
    new: str
    replaced: bool

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"{self.path.name} (now)",
                tofile=f"{self.path.name} (after init)",
            )
        )


def plan(root: Path, section: str, *, force: bool) -> Plan:
    """The new ``pyproject.toml``: the section appended, or put in place of the old one."""
    path = root / PYPROJECT
    raw = _read_pyproject(path)
    try:
        old = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InitError(f"{path}: not UTF-8 text ({exc.reason})") from None
    newline = "\r\n" if "\r\n" in old else "\n"
    data = tomllib.loads(old) if old else {}
    existing = isinstance(data.get("tool"), dict) and "platformgates" in data["tool"]
    body = old
    if existing:
        if not force:
            raise InitError("exists")
        body = _without_section(old, path)
    if body and not body.endswith(("\n", "\r")):
        body += newline
    separator = newline if body.strip() and not body.endswith(newline * 2) else ""
    new = body + separator + section.replace("\n", newline)
    if not existing and new[: len(old)] != old:  # pragma: no cover - a bug, not a user error
        raise AssertionError("init would change the existing text")
    return Plan(path, old, new, existing)


def _without_section(text: str, path: Path) -> str:
    """``text`` without its ``[tool.platformgates…]`` tables, everything else untouched."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    inside = False
    for line in lines:
        header = _table_header(line)
        if header is not None:
            inside = header == "tool.platformgates" or header.startswith("tool.platformgates.")
        if not inside:
            kept.append(line)
    result = "".join(kept)
    before = tomllib.loads(text)
    after = tomllib.loads(result)
    before["tool"].pop("platformgates")
    if not before["tool"]:
        before.pop("tool")
    if after != before:
        raise InitError(
            f"{path}: [tool.platformgates] is not written as its own tables (dotted keys or an "
            "inline table?), so init cannot replace it safely; delete it by hand and run "
            "`platformgates init` again"
        )
    return result.rstrip("\r\n") + ("\r\n" if "\r\n" in text else "\n") if result.strip() else ""


def _table_header(line: str) -> str | None:
    """The dotted name of a ``[table]`` or ``[[array]]`` header line, else None."""
    stripped = line.strip()
    if not stripped.startswith("["):
        return None
    inner = stripped.lstrip("[")
    end = inner.find("]")
    if end < 0:
        return None
    return ".".join(part.strip().strip("\"'") for part in inner[:end].split("."))


def check_loads(root: Path, text: str) -> None:
    """Validate the new configuration the way pytest will load it."""
    source = root / PYPROJECT
    raw = tomllib.loads(text)["tool"]["platformgates"]
    resolved = policy.resolve(source, raw)
    pm = create_plugin_manager(plugin_modules(resolved.raw, source), root)
    policy.settle(resolved, root, collect_gates(pm, resolved.raw))


def create_secrets_baseline(
    root: Path, *, timeout: float = 600
) -> tuple[Path, int, tuple[str, ...]]:
    """Scan the project's files with detect-secrets and write its baseline.

    The files are the ones the gates check (git's view, ignores honoured), named one by one:
    handed a directory, detect-secrets scans only tracked files, or nothing outside git.
    Returns the baseline's path, the number of files scanned and what it recorded
    (``path:line type``, never a value).
    """
    inventory = Inventory.scan(root)
    if inventory.problems:
        raise InitError("; ".join(inventory.problems))
    files = [f.path for f in inventory.files if f.status is FileStatus.TEXT]
    files = [f for f in files if f != SECRETS_BASELINE]
    if not files:
        raise InitError(f"{root}: no text files to scan for the secrets baseline")
    tool = _detect_secrets()
    try:
        proc = subprocess.run(
            [tool, "scan", "--no-verify", *files],
            cwd=root,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InitError(
            f"detect-secrets scan did not finish within {timeout:g} s; no baseline was written"
        ) from None
    try:
        baseline = json.loads(proc.stdout) if proc.returncode == 0 else None
    except json.JSONDecodeError:
        baseline = None
    if not isinstance(baseline, dict) or "results" not in baseline:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise InitError(
            f"detect-secrets scan failed (exit {proc.returncode}); no baseline was written: {tail}"
        )
    path = root / SECRETS_BASELINE
    _write(path, json.dumps(baseline, indent=2) + "\n")
    recorded = tuple(
        f"{name}:{entry.get('line_number', '?')} {entry.get('type', '?')}"
        for name, entries in sorted(baseline["results"].items())
        for entry in entries
    )
    return path, len(files), recorded


def _detect_secrets() -> str:
    beside = Path(sys.executable).parent / "detect-secrets"
    if beside.is_file():
        return str(beside)
    found = shutil.which("detect-secrets")
    if found is None:
        raise InitError(
            "detect-secrets is not installed: `pip install detect-secrets`, then run init again"
        )
    return found


def _baseline(root: Path, say: Any) -> None:
    path, scanned, recorded = create_secrets_baseline(root)
    say(f"platformgates init: wrote {path.name}: {scanned} files scanned")
    if recorded:
        # A baseline entry is accepted by the secrets gate until audited as real.
        say(
            f"platformgates init: WARNING: {len(recorded)} possible secret(s) are now in the "
            "baseline, which the secrets gate ACCEPTS until they are audited:"
        )
        for entry in recorded:
            say(f"  {entry}")
        say(
            f"  Audit them now: `detect-secrets audit {SECRETS_BASELINE}`; a real one must be "
            "removed from the code and the credential rotated."
        )


def run(
    root: Path,
    *,
    force: bool = False,
    dry_run: bool = False,
    secrets_baseline: bool = False,
    say: Any = print,
) -> int:
    """The ``init`` command: 0 written (or shown), 1 refused, 2 could not."""
    root = root.resolve()
    try:
        if not root.is_dir():
            raise InitError(f"{root} is not a directory; pass the project with --project DIR")
        facts = inspect(root)
        say(f"platformgates init: inspected {root}")
        for line in facts.lines():
            say(f"  {line}")
        if secrets_baseline and facts.secrets_baseline and not force:
            say(
                f"platformgates init: {SECRETS_BASELINE} exists; not replacing it. Update it "
                f"with `detect-secrets scan --baseline {SECRETS_BASELINE}`, or pass --force "
                "to create it anew (its audit marks are lost)."
            )
            return 1
        section = render(facts, secrets_baseline=secrets_baseline)
        try:
            change = plan(root, section, force=force)
        except InitError as exc:
            if str(exc) != "exists":
                raise
            if secrets_baseline:
                # Only the baseline was asked for: the configured section stays as it is.
                if not dry_run:
                    _baseline(root, say)
                say(
                    f"platformgates init: [tool.platformgates] left as it is; the secrets gate "
                    f"reads {SECRETS_BASELINE} unless its `baseline` names another file"
                )
                return 0
            preview = plan(root, section, force=True)
            if preview.new == preview.old:
                say("platformgates init: the existing [tool.platformgates] is what init writes")
                return 0
            say(preview.diff(), end="")
            say(
                f"platformgates init: {root / PYPROJECT} already has [tool.platformgates]; "
                "nothing written. The diff above is what --force would do (the old section is "
                "replaced, everything else kept)."
            )
            return 1
        if secrets_baseline and not dry_run:
            # The section names the baseline: it must exist before the config is checked.
            _baseline(root, say)
        check_loads(root, change.new)
        say(change.diff(), end="")
        if dry_run:
            say("platformgates init: --dry-run: nothing written")
            return 0
        _write(change.path, change.new)
        verb = "replaced [tool.platformgates] in" if change.replaced else "wrote"
        say(
            f"platformgates init: {verb} {change.path}. Next: `pytest --gates-only` runs the "
            "gates alone; `pytest` runs tests and gates."
        )
        return 0
    except (InitError, ConfigError) as exc:
        print(f"platformgates init: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # Any other input init looks at (the project directory, src/, a virtual
        # environment) that cannot be read: a clear error, never a traceback.
        where = exc.filename or root
        print(
            f"platformgates init: error: {where}: cannot be read: {exc.strerror}", file=sys.stderr
        )
        return 2
