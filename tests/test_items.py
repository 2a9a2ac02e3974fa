"""Gates as items: node ids, selection, when they run, reports and JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conftest import gate_properties


@pytest.fixture
def linted(project):
    project.configure({"lint": {}})
    project.write("pkg/__init__.py", "")
    project.write("pkg/mod.py", "import os\n")
    project.write("tests/test_mod.py", "def test_ok():\n    pass\n")
    return project


def test_node_id_marker_and_collect_only(linted):
    result = linted.pytester.runpytest("--co", "-q")
    result.stdout.fnmatch_lines(["tests/test_mod.py::test_ok", "platformgates::lint"])
    result = linted.pytester.runpytest("--co", "-q", "-m", "gate")
    result.stdout.fnmatch_lines(["platformgates::lint", "*1/2 tests collected (1 deselected)*"])


@pytest.mark.parametrize(
    ("args", "outcomes"),
    [
        ((), {"passed": 1, "failed": 1}),
        (("-k", "lint"), {"failed": 1}),
        (("-k", "not lint"), {"passed": 1}),
        (("-m", "gate"), {"failed": 1}),
        (("-m", "not gate"), {"passed": 1}),
        (("--gates-only",), {"failed": 1}),
        (("--no-gates",), {"passed": 1}),
        (("--deselect", "platformgates::lint"), {"passed": 1}),
        (("tests/test_mod.py",), {"passed": 1}),
        (("tests/test_mod.py", "--gates"), {"passed": 1, "failed": 1}),
        ((".",), {"passed": 1, "failed": 1}),
    ],
)
def test_when_gates_run(linted, args, outcomes):
    result = linted.pytester.runpytest(*args)
    result.assert_outcomes(**outcomes)


def test_in_ci_gates_run_even_for_a_partial_run(linted, monkeypatch):
    monkeypatch.setenv("CI", "true")
    linted.pytester.runpytest("tests/test_mod.py").assert_outcomes(passed=1, failed=1)
    monkeypatch.setenv("CI", "false")
    linted.pytester.runpytest("tests/test_mod.py").assert_outcomes(passed=1)


def test_a_partial_local_run_says_the_gates_did_not_run(linted):
    result = linted.pytester.runpytest("tests/test_mod.py")
    result.stdout.fnmatch_lines(
        ["*gates not run: only some tests were named (pass --gates to run the gates too)*"]
    )


def test_gates_only_and_no_gates_together_are_refused(linted):
    result = linted.pytester.runpytest("--gates-only", "--no-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_gates_only_does_not_even_collect_the_tests(linted):
    linted.write("tests/test_broken_import.py", "import no_such_module_anywhere\n")
    result = linted.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    assert "ModuleNotFoundError" not in result.stdout.str()


def test_failure_report_is_clean_and_the_summary_table_is_printed(linted):
    result = linted.pytester.runpytest()
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "def runtest" not in out
    result.stdout.fnmatch_lines(
        [
            "*_ gate lint _*",
            "gate 'lint' failed: 1 blocking finding (fail_on = high)",
            "*pkg/mod.py:1:8*high*F401*`os` imported but unused",
            "*platformgates summary*",
            "gate*verdict*crit*high*med*low*time*cached",
            "lint*FAILED*0*1*0*0*",
            "FAILED platformgates::lint - gate 'lint' failed*",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_junit_has_the_gate_with_properties_and_failure_body(linted):
    linted.pytester.runpytest("--junitxml=junit.xml")
    root = ET.parse(linted.path / "junit.xml").getroot()
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "lint"]
    assert case.get("classname") == "platformgates"
    assert list(case.iter("property")) == []  # xunit2: no properties on a <testcase>
    props = gate_properties(linted.path / "junit.xml", "lint")
    assert props["gate.verdict"] == "failed"
    assert props["gate.findings.high"] == "1"
    assert props["gate.blocking"] == "1"
    assert props["gate.figure.files_checked"] == "3"
    assert props["gate.tool.ruff"]
    failure = case.find("failure")
    assert failure is not None
    assert "pkg/mod.py:1:8" in (failure.text or "")


def test_below_threshold_findings_are_reported_not_blocking(linted):
    linted.configure({"lint": {"severity": "medium"}})
    result = linted.pytester.runpytest("--gates-only", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["lint*PASSED*0*0*1*0*"])


def test_fail_on_per_gate_makes_medium_findings_block(linted):
    linted.configure({"lint": {"severity": "medium", "fail_on": "medium"}})
    linted.pytester.runpytest("--gates-only").assert_outcomes(failed=1)


def test_a_tool_crash_is_an_error_with_the_tools_stderr(project):
    project.configure({"lint": {}}, extra='\n[tool.ruff]\nline-length = "very long"\n')
    project.write("mod.py", "x = 1\n")
    result = project.pytester.runpytest("--gates-only", "--junitxml=junit.xml")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "gate 'lint' could not be evaluated; it does not pass" in out
    assert "ruff exited with code 2" in out
    assert "line-length" in out  # the tail of ruff's own stderr
    assert "Traceback" not in out
    root = ET.parse(project.path / "junit.xml").getroot()
    (case,) = list(root.iter("testcase"))
    error = case.find("error")
    assert error is not None
    # The report is the element's body, which GitLab shows (it ignores `message`).
    assert "could not be evaluated" in (error.text or "")
    assert "ruff exited with code 2" in (error.text or "")
    assert "Traceback" not in (error.text or "")


def test_exit_code_is_zero_only_when_tests_and_gates_pass(project):
    project.configure({"lint": {}})
    project.write("mod.py", "x = 1\n")
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert result.ret == 0


def test_under_xunit1_the_gate_testcase_carries_its_figures(linted):
    linted.pytester.runpytest("--junitxml=junit.xml", "-o", "junit_family=xunit1")
    root = ET.parse(linted.path / "junit.xml").getroot()
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "lint"]
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["gate.verdict"] == "failed"
    assert props["gate.figure.files_checked"] == "3"
