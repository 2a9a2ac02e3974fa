"""What a determined user can do locally, and that `platformgates verify` refuses each result.

End to end: real pytest runs in a real repository, then the verify command as CI runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

INNER = ("-p", "no:hypothesispytest", "-p", "no:pytest_cov")


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *INNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _verify(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_platformgates.cli", "verify", "gate-evidence"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_each_local_bypass_is_refused_by_verify(project):
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("app.py", "VALUE = 1\n")
    project.write("test_app.py", "from app import VALUE\n\n\ndef test_app():\n    assert VALUE\n")
    project.configure({"lint": {"format": False}, "secrets": {"processes": 1}})
    project.commit()
    root = project.path

    assert _pytest(root).returncode == 0
    assert _verify(root).returncode == 0  # the honest baseline

    # 1. A new commit tested with the plugin switched off: the old bundle stays behind.
    project.write("app.py", "import os\nVALUE = 1\n")  # F401: the lint gate would fail
    project.commit("feat: unused import")
    off = _pytest(root, "-p", "no:platformgates")
    assert off.returncode == 0 and "platformgates" not in off.stdout
    refused = _verify(root)
    assert refused.returncode == 1
    assert "commit" in refused.stdout + refused.stderr

    # 2. The failing gate deselected: the bundle records it as not run.
    deselected = _pytest(root, "-k", "not lint")
    assert deselected.returncode == 0
    refused = _verify(root)
    assert refused.returncode == 1
    assert "lint" in refused.stdout + refused.stderr

    # 3. The honest (failing) run's evidence edited to say passed.
    assert _pytest(root).returncode == 1
    statement = root / "gate-evidence" / "evidence.json"
    data = json.loads(statement.read_text())
    data["predicate"]["verdict"] = "passed"
    data["predicate"]["verdicts"]["lint"] = "passed"
    statement.write_text(json.dumps(data, separators=(",", ":")))
    refused = _verify(root)
    assert refused.returncode == 1

    # 4. The gate switched off in the configuration, not committed: a dirty tree.
    assert _pytest(root).returncode == 1
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.platformgates.gates.lint]\n",
            "[tool.platformgates.gates.lint]\nenabled = false\n",
            1,
        )
    )
    assert _pytest(root).returncode == 0
    refused = _verify(root)
    assert refused.returncode == 1
    assert "dirty" in refused.stdout + refused.stderr

    # 5. The same change committed is a change of policy, visible in review: verify accepts
    # it against the project's own (weakened) policy. Only a platform policy's guardrails
    # (`locked`, `required`) stop it; see test_policy.py.
    project.commit("chore: lint off")
    assert _pytest(root).returncode == 0
    assert _verify(root).returncode == 0
