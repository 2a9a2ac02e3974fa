"""The examples the README and docs point at: the demo fails as promised, on a policy package."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_platformgates.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POLICY_SRC = EXAMPLES / "platform-policy" / "src"
DEMO_GATES = ("coverage", "deps", "licenses", "lint", "pinning", "sast", "secrets")


def test_the_demo_fails_on_exactly_its_deliberate_findings(tmp_path):
    # A copy, as a clean clone has it (no evidence, no cache), the way .ci/run runs it.
    for name in ("demo", "platform-policy"):
        shutil.copytree(
            EXAMPLES / name,
            tmp_path / name,
            ignore=shutil.ignore_patterns("gate-evidence", ".pytest_cache", "__pycache__"),
        )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=tmp_path / "demo",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    failed = set(re.findall(r"^FAILED platformgates::(\w+) ", out, re.MULTILINE))
    assert failed == set(DEMO_GATES), out
    # The demo's one test passes, and so does the sbom gate (nothing deliberate there).
    assert re.search(r"^tests/test_app.py \. ", out, re.MULTILINE), out
    assert re.search(r"^sbom +PASSED ", out, re.MULTILINE), out
    assert "2 passed" in out, out
    # certifi (MPL-2.0) comes with requests, the demo's one dependency, wherever it runs.
    assert re.search(r"license-denied certifi \S+ \(transitive\): MPL-2.0", out), out


def test_the_demo_takes_its_thresholds_from_the_platform_policy(capsys):
    assert main(["policy", "--project", str(EXAMPLES / "demo")]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("gates.coverage.line "))
    assert "python-service.toml" in line
    assert main(["config", "--project", str(EXAMPLES / "demo")]) == 0


@pytest.fixture
def policy_package(monkeypatch: pytest.MonkeyPatch) -> str:
    """The example policy package importable, as if installed in the test environment."""
    monkeypatch.syspath_prepend(str(POLICY_SRC))
    importlib.invalidate_caches()
    module = importlib.import_module("acme_platform_policy")
    return module.POLICY


@pytest.mark.parametrize(
    ("coverage_line", "expected"), [(90, 0), (70, 2)], ids=["tighten", "loosen"]
)
def test_a_project_extending_the_installed_package_may_tighten_not_loosen(
    tmp_path, capsys, policy_package, coverage_line, expected
):
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.platformgates]\nextends = ["{policy_package}"]\n\n'
        f"[tool.platformgates.gates.coverage]\nline = {coverage_line}\n",
        encoding="utf-8",
    )
    assert main(["config", "--project", str(tmp_path)]) == expected
    err = capsys.readouterr().err
    if expected:
        assert "gates.coverage.line = 70 is below the floor 80" in err
        assert "python-service.toml" in err


def test_the_policy_package_cannot_switch_off_a_required_gate(tmp_path, capsys, policy_package):
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.platformgates]\nextends = ["{policy_package}"]\n\n'
        "[tool.platformgates.gates.sast]\nenabled = false\n",
        encoding="utf-8",
    )
    assert main(["config", "--project", str(tmp_path)]) == 2
    assert "gates.sast" in capsys.readouterr().err


def test_the_worked_example_gate_package_passes_its_own_tests(tmp_path):
    shutil.copytree(
        EXAMPLES / "acme-gates",
        tmp_path / "acme-gates",
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path / "acme-gates",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
