"""The terminal: progress for a slow gate, and -v detail for the findings of passing gates."""

from __future__ import annotations

from conftest import gates_toml
from pytest_platformgates.model import Finding, GateResult, Severity, Verdict
from pytest_platformgates.terminal import failure_report

#: Two third-party gates: one that takes a while, one with a finding below fail_on.
GATES = """
import os
import time

from pytest_platformgates import Analysis, Finding, Gate, Severity, hookimpl


class SlowGate(Gate):
    name = "slow"
    description = "takes a while"

    def check(self, ctx):
        time.sleep(float(os.environ.get("SLOW_GATE_SECONDS", "0")))
        return Analysis(figures={"slept": 1})


class NoisyGate(Gate):
    name = "noisy"
    description = "one low finding"

    def check(self, ctx):
        finding = Finding(
            gate=self.name, rule="NOISE1", severity=Severity.LOW, path="data.txt", line=3,
            message="a little noise", hint="turn it down", fingerprint="f" * 16,
        )
        return Analysis(findings=(finding,))


@hookimpl
def platformgates_gates():
    return [SlowGate(), NoisyGate()]
"""


def _project(project, monkeypatch, seconds: float):
    monkeypatch.setenv("SLOW_GATE_SECONDS", str(seconds))
    project.write("local_gates.py", GATES)
    project.write("data.txt", "one\ntwo\nthree\n")
    content = '[project]\nname = "demo"\nversion = "0.0.1"\n\n'
    content += gates_toml({"slow": {}, "noisy": {}}, plugins=["local_gates"])
    project.write("pyproject.toml", content, dedent=False)
    project.commit()


def test_a_gate_that_takes_over_a_second_shows_progress(project, monkeypatch):
    _project(project, monkeypatch, 1.6)
    # In a subprocess: the terminal and output capture are real there.
    run = project.pytester.runpytest_subprocess
    result = run("--gates-only", "-p", "no:cacheprovider", "-k", "slow")
    result.assert_outcomes(passed=1, deselected=1)
    # The progress line, then the item's own result on a line of its own, as pytest writes it.
    result.stdout.fnmatch_lines(
        ["platformgates ", "platformgates: gate 'slow' still running (? s)", "platformgates .*"]
    )
    result = run("--gates-only", "-p", "no:cacheprovider", "-k", "slow", "-v")
    result.stdout.fnmatch_lines(
        ["platformgates: gate 'slow' still running (? s)", "platformgates::slow PASSED*"]
    )
    # -q: no file prefix; the progress line is a line of its own between the letters.
    result = run("--gates-only", "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines(
        [r"^\.$", r"^platformgates: gate 'slow' still running \(\d s\)$", r"^\. +\[100%\]$"]
    )


def test_a_quick_gate_prints_no_progress(project, monkeypatch):
    _project(project, monkeypatch, 0)
    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "still running" not in result.stdout.str()


def test_findings_of_passing_gates_are_counted_then_listed_with_v(project, monkeypatch):
    _project(project, monkeypatch, 0)
    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["1 non-blocking finding in passing gates (run with -v to list them;*"]
    )
    assert "a little noise" not in result.stdout.str()

    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(
        [
            "gate 'noisy' passed with 1 finding below fail_on = high:",
            "  data.txt:3  low      NOISE1       a little noise",
        ]
    )
    assert "hint: turn it down" not in result.stdout.str()

    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider", "-vv")
    result.stdout.fnmatch_lines(["*hint: turn it down"])


def test_quiet_lists_no_more_than_the_default(project, monkeypatch):
    # -q is verbosity -1, which is true: it listed what only -v should.
    _project(project, monkeypatch, 0)
    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider", "-q")
    result.stdout.fnmatch_lines(["1 non-blocking finding in passing gates*"])
    assert "a little noise" not in result.stdout.str()


def test_the_summary_table_has_a_row_per_gate_with_counts_time_and_cache(project, monkeypatch):
    _project(project, monkeypatch, 0)
    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*platformgates summary*",
            "gate   verdict  crit  high  med  low  time * cached",
            "noisy  PASSED   0     0     0    1    *s  -",
            "slow   PASSED   0     0     0    0    *s  -",
        ]
    )


def test_control_characters_from_the_project_are_spelt_out_not_sent_to_the_terminal(project):
    # A file name with an escape sequence (clear the screen), one with a carriage return
    # that would overwrite its own line, and code whose bytes ruff quotes in its message.
    project.write("a\x1b[2Jb.py", "import os\n")
    project.write("c\rPASSED.py", "import os\n")
    project.write("d.py", "x = 1 \x07\n")
    project.write("pyproject.toml", gates_toml({"lint": {}}), dedent=False)
    project.commit()
    result = project.pytester.runpytest_subprocess("--gates-only", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert not {"\x1b", "\r", "\x07"} & set(out), repr(out)
    result.stdout.fnmatch_lines(
        [
            r"  a\x1b[[]2Jb.py:1:8 * F401 *",
            r"  c\rPASSED.py:1:8 * F401 *",
            r"  d.py:1:7 *Got unexpected token \x07",
        ]
    )


def test_every_part_of_a_report_spells_out_control_characters():
    # A problem (a tool's stderr, coloured), a note, a hint and a waiver from the
    # configuration: each is the project's text, and none may move the cursor.
    hostile = "x\x1b]0;title\x07\rPASSED\u202e"
    finding = Finding(
        gate="probe",
        rule="P1",
        severity=Severity.HIGH,
        path="m\udcff.py",
        line=1,
        message=hostile,
        hint=hostile,
        waiver={"id": hostile, "owner": hostile},
    )
    blocking = Finding(
        gate="probe", rule="P2", severity=Severity.HIGH, path="a.py", line=1, message=hostile
    )
    result = GateResult(
        gate="probe",
        verdict=Verdict.ERROR,
        fail_on=Severity.HIGH,
        findings=(finding, blocking),
        problems=(f"ruff: \x1b[31merror\x1b[0m {hostile}",),
        notes=(hostile,),
    )
    report = failure_report(result, verbose=2)
    assert report.isprintable() is False  # only its newlines
    assert all(line.isprintable() for line in report.splitlines()), repr(report)
    assert "m\\xff.py:1" in report
    assert "\\x1b[31merror" in report
    assert "x\\x1b]0;title\\x07\\rPASSED\\u202e" in report
    assert report.count("\n") == len(report.splitlines()) - 1


def test_a_multi_line_note_keeps_its_lines_each_spelt_out():
    # A command gate's output tail is a note of several lines: they stay lines.
    note = "output of `check` (last lines):\n  | line 48\n  | \x1b[2Kline 49"
    result = GateResult(gate="check", verdict=Verdict.FAILED, fail_on=Severity.HIGH, notes=(note,))
    lines = failure_report(result).splitlines()
    assert lines[-3:] == [
        "note: output of `check` (last lines):",
        "  | line 48",
        "  | \\x1b[2Kline 49",
    ]


NOTED_GATE = """
from pytest_platformgates import Analysis, Gate, hookimpl


class NotedGate(Gate):
    name = "noted"
    description = "passes with a note quoting a tool"

    def check(self, ctx):
        return Analysis(notes=("tool said: \\x1b[8mhidden\\n  | its second line",))


@hookimpl
def platformgates_gates():
    return [NotedGate()]
"""


def test_a_passing_gates_note_is_spelt_out_in_the_summary(project):
    project.write("noted_gates.py", NOTED_GATE)
    content = '[project]\nname = "demo"\nversion = "0.0.1"\n\n'
    project.write(
        "pyproject.toml", content + gates_toml({"noted": {}}, plugins=["noted_gates"]), dedent=False
    )
    project.commit()
    result = project.pytester.runpytest_subprocess("--gates-only", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "\x1b" not in result.stdout.str()
    result.stdout.fnmatch_lines([r"noted: note: tool said: \x1b[[]8mhidden", "  | its second line"])
