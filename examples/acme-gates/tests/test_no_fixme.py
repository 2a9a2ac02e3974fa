"""The gate tested the way the project tests its own: a real project run through pytester."""

from __future__ import annotations

import subprocess

pytest_plugins = ["pytester"]

CONFIG = """\
[tool.platformgates]
plugins = ["acme_gates"]

[tool.platformgates.gates.no-fixme]
severity = "high"
"""


def _project(pytester, readme: str):
    subprocess.run(["git", "init", "-q"], cwd=pytester.path, check=True)
    pytester.makefile(".toml", pyproject=CONFIG)
    pytester.makefile(".md", README=readme)


def test_a_fixme_fails_the_gate_with_its_line(pytester):
    _project(pytester, "# Shop\n\nFIXME: describe the API\n")
    result = pytester.runpytest("--gates-only", "-k", "no-fixme", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*README.md:3*high*ACME001*FIXME left in the documentation"])


def test_clean_docs_pass(pytester):
    _project(pytester, "# Shop\n\nThe API is described below.\n")
    result = pytester.runpytest("--gates-only", "-k", "no-fixme", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=result.parseoutcomes().get("deselected", 0))
