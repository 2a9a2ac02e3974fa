"""Shared fixtures: small real projects (git repositories) that the gates run on."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Imported once here so that pytester's in-process runs, which restore sys.modules after each
# inner session, do not import hypothesis again for every one of them (seconds each).
import hypothesis  # noqa: F401
import pytest

from pytest_platformgates.gates import BUILTIN

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ADVISORY_DB = SHARED / "advisory-db"

# Variables that switch the gates on by themselves (CI) or carry an identity into
# evidence: inner pytest runs must not inherit them from the outer run.
_CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "PLATFORMGATES_SIGNING_KEY")


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.invalid")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def builtin_gate_names() -> list[str]:
    return [module.rsplit(".", 1)[-1] for module in BUILTIN]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def gates_toml(
    gates: Mapping[str, Mapping[str, Any]], *, table: str = "tool.platformgates", **top: Any
) -> str:
    """A ``[tool.platformgates]`` section enabling exactly ``gates`` among the built-ins.

    Every built-in gate not named is written with ``enabled = false``, so a test of
    one gate does not run (and depend on) all the others.
    """
    lines = [f"[{table}]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for name in sorted(set(builtin_gate_names()) | set(gates)):
        lines.append(f"\n[{table}.gates.{name}]")
        if name not in gates:
            lines.append("enabled = false")
            continue
        lines += [f"{k} = {toml_value(v)}" for k, v in gates[name].items()]
    return "\n".join(lines) + "\n"


def write_sign_package(project: GitProject) -> None:
    """``pkg.sign`` with four branches, and one test taking one of them (25% branch coverage)."""
    project.write("pkg/__init__.py", "")
    project.write(
        "pkg/sign.py",
        "def sign(x):\n    if x > 0:\n        return 1\n    if x < 0:\n        return -1\n"
        "    return 0\n",
    )
    project.write(
        "tests/test_sign.py",
        "from pkg.sign import sign\n\n\ndef test_positive():\n    assert sign(5) == 1\n",
    )


class GitProject:
    """A real git repository in a temporary directory, driven through pytester."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, text=True, check=True
        )
        return proc.stdout

    def write(self, relpath: str, content: str | bytes, dedent: bool = True) -> Path:
        path = self.path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content) if dedent else content, encoding="utf-8")
        return path

    def configure(
        self, gates: Mapping[str, Mapping[str, Any]], extra: str = "", **top: Any
    ) -> None:
        """Write pyproject.toml with exactly ``gates`` enabled (see :func:`gates_toml`)."""
        content = '[project]\nname = "demo"\nversion = "0.0.1"\n\n'
        content += gates_toml(gates, **top) + extra
        self.write("pyproject.toml", content, dedent=False)

    def commit(self, message: str = "chore: snapshot") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def project(pytester: pytest.Pytester) -> GitProject:
    """An empty git repository as pytester's working directory."""
    return GitProject(pytester)


@pytest.fixture
def advisory_db() -> Path:
    if not (ADVISORY_DB / "vulns").is_dir():
        pytest.skip(f"the PyPA advisory database snapshot is not at {ADVISORY_DB}")
    return ADVISORY_DB


#: A third-party gate written as a plain module: a FileGate that flags every line
#: containing "FORBIDDEN" and appends one line per analysed file to ``.analysed.log``,
#: so tests can count real analyses across processes (xdist workers, reruns).
COUNTING_GATE = """
import os
from pathlib import Path

from pytest_platformgates import FileAnalysis, FileGate, Finding, Option, Severity, hookimpl


class CountingGate(FileGate):
    name = "counting"
    description = "flags FORBIDDEN"
    patterns = ("*.txt",)
    options = (Option("severity", "severity", "high", "severity of a hit"),)

    def tool_versions(self, ctx):
        return {"counting": os.environ.get("COUNTING_VERSION", "1.0")}

    def analyse(self, files, ctx):
        log = Path(ctx.root) / ".analysed.log"
        findings = []
        with log.open("a") as fh:
            for f in files:
                fh.write(f"{os.getpid()} {f.path}\\n")
                for n, line in enumerate(ctx.inventory.read_text(f).splitlines(), 1):
                    if "FORBIDDEN" in line:
                        findings.append(Finding(
                            gate=self.name, rule="CNT1", path=f.path, line=n,
                            severity=Severity.parse(ctx.settings["severity"]),
                            message="forbidden word", hint="remove it",
                        ))
        return FileAnalysis(findings=findings)


@hookimpl
def platformgates_gates():
    return [CountingGate()]
"""


def analysed_lines(project: GitProject) -> list[str]:
    log = project.path / ".analysed.log"
    return log.read_text().splitlines() if log.exists() else []


def gate_properties(junit: Path, gate: str) -> dict[str, str]:
    """A gate's figures from a JUnit file, as ``gate.verdict``, ``gate.figure.NAME``, ...

    Under pytest's default junit_family (xunit2) they are <testsuite> properties named
    ``platformgates.<gate>.*``; under xunit1 they are on the gate's <testcase> as ``gate.*``.
    """
    import xml.etree.ElementTree as ET

    root = ET.parse(junit).getroot()
    prefix = f"platformgates.{gate}."
    props = {}
    for suite in root.iter("testsuite"):
        for p in suite.findall("properties/property"):
            name = p.get("name", "")
            if name.startswith(prefix):
                props["gate." + name[len(prefix) :]] = p.get("value", "")
    for case in root.iter("testcase"):
        if case.get("classname") == "platformgates" and case.get("name") == gate:
            props.update({p.get("name", ""): p.get("value", "") for p in case.iter("property")})
    return props
