"""The lint gate: real ruff on real files, the project's ruff config honoured."""

from __future__ import annotations


def test_lint_finding_fails_the_gate_with_a_clean_report(project):
    project.configure({"lint": {}})
    project.write("pkg/mod.py", "import os\n")
    project.write("test_ok.py", "def test_ok():\n    assert True\n")
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'lint' failed: 1 blocking finding (fail_on = high)*",
            "*pkg/mod.py:1:8*high*F401*`os` imported but unused*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret == 1
