"""The terminal: progress for a slow gate, and -v detail for the findings of passing gates."""

from __future__ import annotations

from conftest import gates_toml

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
