"""pytest-xdist: every gate runs once per session and is reported once."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from conftest import COUNTING_GATE, analysed_lines

pytest.importorskip("xdist")


@pytest.fixture
def suite(project):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\njunit.xml\nfinished.log\n")
    project.write(
        "listener.py",
        "from pathlib import Path\n"
        "from pytest_platformgates import hookimpl\n\n"
        "@hookimpl\n"
        "def platformgates_gate_finished(result, settings):\n"
        "    with open(Path(settings.root) / 'finished.log', 'a') as fh:\n"
        "        fh.write(result.gate + '\\n')\n",
    )
    project.configure(
        {"counting": {}, "lint": {}},
        plugins=["counting_gate", "listener"],
        exclude=["counting_gate.py", "listener.py"],
    )
    for i in range(6):
        project.write(f"notes{i}.txt", "FORBIDDEN\n" if i == 0 else "fine\n")
        project.write(f"test_{i}.py", f"def test_{i}():\n    pass\n")
    project.write("mod.py", "x = 1\n")
    return project


@pytest.mark.parametrize("workers", ["2", "4"])
def test_each_gate_runs_once_under_xdist(suite, workers):
    result = suite.pytester.runpytest_subprocess("-n", workers, "--junitxml=junit.xml")
    result.assert_outcomes(passed=7, failed=1)
    # every file analysed exactly once, all by a single process
    lines = analysed_lines(suite)
    assert sorted(line.split()[1] for line in lines) == [f"notes{i}.txt" for i in range(6)]
    assert len({line.split()[0] for line in lines}) == 1
    # reported once: JUnit, the finished hook on the controller, the summary table
    root = ET.parse(suite.path / "junit.xml").getroot()
    names = [c.get("name") for c in root.iter("testcase") if c.get("classname") == "platformgates"]
    assert sorted(names) == ["counting", "lint"]
    assert sorted((suite.path / "finished.log").read_text().split()) == ["counting", "lint"]
    out = result.stdout.str()
    assert out.count("platformgates summary") == 1
    result.stdout.fnmatch_lines(["counting*FAILED*", "lint*PASSED*"])


def test_workers_follow_the_controllers_decision_for_a_partial_run(suite):
    result = suite.pytester.runpytest_subprocess("-n", "2", "test_0.py")
    result.assert_outcomes(passed=1)
    result = suite.pytester.runpytest_subprocess("-n", "2", "test_0.py", "--gates")
    result.assert_outcomes(passed=2, failed=1)


def test_a_finding_in_a_file_whose_name_is_not_utf8_crosses_the_wire(suite):
    # execnet refuses a string with a lone surrogate (the name's byte): the worker died
    # with an INTERNALERROR, the gate was never reported, and pytest could exit 0.
    suite.write(os.fsdecode(b"bad\xff.py"), "import os\n")
    suite.commit()
    result = suite.pytester.runpytest_subprocess("-n", "2")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines([r"*bad\xff.py:1:8 * F401 *", "lint*FAILED*"])
