"""`kind = "command"` gates: the exit code decides, the output's tail reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_pass_code_passes_and_a_fail_code_fails_with_the_output_tail(project):
    project.configure({"check": {"kind": "command", "command": python("print('all good')")}})
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": python("import sys; [print('line', i) for i in range(50)]; sys.exit(1)"),
                "tail_lines": 3,
            }
        }
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'check' failed: 1 blocking finding (fail_on = high)*",
            "*<project>*high*exit-1*exited with code 1*",
            "*output of * (last lines):*",
            "*| line 47",
            "*| line 48",
            "*| line 49",
        ]
    )
    assert "line 46" not in result.stdout.str()


def test_an_undeclared_exit_code_is_an_error_not_a_verdict(project):
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": python("import sys; print('usage: oops', file=sys.stderr); sys.exit(2)"),
                "pass_codes": [0],
                "fail_codes": [1],
            }
        }
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*exited with code 2, which is neither a pass code [[]0[]] nor a fail code [[]1[]]*"]
    )
    result.stdout.fnmatch_lines(["*usage: oops*"])


def test_custom_codes_severity_cwd_and_env(project):
    project.write("sub/marker.txt", "x\n")
    code = (
        "import os, sys; print(os.environ['GATE_FLAVOUR'], os.path.exists('marker.txt')); "
        "sys.exit(3)"
    )
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": python(code),
                "cwd": "sub",
                "pass_codes": [0, 1],
                "fail_codes": [3],
                "severity": "medium",
            }
        },
        extra='\n[tool.platformgates.gates.check.env]\nGATE_FLAVOUR = "vanilla"\n',
        fail_on="medium",
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*medium*exit-3*", "*| vanilla True*"])


def test_files_placeholder_and_cache_keyed_by_covered_files(project):
    project.write("src/a.txt", "a\n")
    project.write("src/b.txt", "b\n")
    counter = "import sys, pathlib; p = pathlib.Path('runs.log'); "
    counter += "p.write_text(p.read_text() + ' '.join(sys.argv[1:]) + '\\n' if p.exists() else "
    counter += "' '.join(sys.argv[1:]) + '\\n')"
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": [*python(counter), "{files}"],
                "paths": ["src/*.txt"],
            }
        },
        exclude=["runs.log"],
    )
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    runs = (project.path / "runs.log").read_text().splitlines()
    assert runs == ["src/a.txt src/b.txt"]
    project.write("src/b.txt", "changed\n")
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    assert len((project.path / "runs.log").read_text().splitlines()) == 2


def test_a_failed_check_is_remembered_as_failed(project):
    project.write("src/a.txt", "a\n")
    project.configure(
        {"check": {"kind": "command", "command": python("raise SystemExit(1)"), "paths": ["src"]}}
    )
    project.pytester.runpytest("--gates-only").assert_outcomes(failed=1)
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*result reused: none of the 1 covered files changed*"])


def test_timeout_is_an_error(project):
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": python("import time; time.sleep(30)"),
                "timeout": 1,
            }
        }
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not finish within 1 s and was stopped*"])


def test_a_missing_cwd_is_an_error(project):
    project.configure({"check": {"kind": "command", "command": ["true"], "cwd": "nowhere"}})
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cwd 'nowhere' is not a directory*"])


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"kind": "command"}, "*a command gate needs a `command`*"),
        ({"kind": "command", "command": []}, "*check.command must not be empty*"),
        (
            {"kind": "command", "command": ["x"], "pass_codes": [0, 1]},
            "*exit code 1 is both a pass and a fail code*",
        ),
        ({"kind": "command", "command": ["x"], "sarif_file": "a"}, "*unknown key*"),
        ({"kind": "command", "command": ["x"], "tail_lines": 0}, "*below its minimum*"),
    ],
)
def test_configuration_mistakes_are_usage_errors(project, gate, message):
    project.configure({"check": gate})
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])


def test_a_command_killed_by_a_signal_is_an_error(project):
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    project.configure({"check": {"kind": "command", "command": python(kill)}})
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*exited with code -9, which is neither a pass code*"])


def test_the_tool_version_is_recorded_and_keys_the_cache(project):
    project.write("src/a.txt", "a\n")
    project.write("version.txt", "tool 1.0\n")
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": python("pass"),
                "paths": ["src"],
                "version_command": python("print(open('version.txt').read())"),
            }
        }
    )

    def run():
        project.pytester.runpytest("--gates-only")
        evidence = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
        (gate,) = evidence["predicate"]["gates"]
        return gate

    tool = Path(sys.executable).name
    first = run()
    assert first["tool_versions"] == {tool: "tool 1.0"}
    assert first["figures"]["files_cached"] == 0
    assert run()["figures"]["files_cached"] == 1
    project.write("version.txt", "tool 2.0\n")
    upgraded = run()
    assert upgraded["tool_versions"] == {tool: "tool 2.0"}
    assert upgraded["figures"]["files_cached"] == 0


def test_a_covered_file_that_cannot_be_hashed_is_an_error(project):
    project.write("src/big.txt", "x" * 100)
    project.configure(
        {"check": {"kind": "command", "command": python("pass"), "paths": ["src"]}},
        max_file_size=10,
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*covered files cannot be read*src/big.txt (too*"])


def test_under_xdist_each_gate_runs_once_and_a_warm_run_reuses_it(project):
    """Both kinds under `-n 2`: one run per gate, and the cache keyed by covered files."""
    project.write("src/a.txt", "a\n")
    # Appended in one write (O_APPEND): the two gates may run at once, on two workers, and
    # a read-then-rewrite of the log could lose one of their lines.
    log = "f = open('runs.log', 'a'); f.write('{0}\\n'); f.close(); "
    sarif = json.dumps(
        {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "s"}}, "results": []}]}
    )
    project.configure(
        {
            "check": {
                "kind": "command",
                "command": python(log.format("check") + "raise SystemExit(1)"),
                "paths": ["src/*.txt"],
            },
            "scan": {
                "kind": "sarif",
                "command": python(log.format("scan") + f"print({sarif!r})"),
                "paths": ["src/*.txt"],
            },
        },
        exclude=["runs.log"],
    )
    project.write("test_one.py", "def test_one():\n    pass\n")

    def run():
        result = project.pytester.runpytest("-n", "2", "-p", "xdist", "--gates")
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines(["*FAILED*platformgates::check*"])
        return sorted((project.path / "runs.log").read_text().split())

    assert run() == ["check", "scan"]
    assert run() == ["check", "scan"]  # warm: nothing covered changed, nothing ran again
    project.write("src/a.txt", "changed\n")
    assert run() == ["check", "check", "scan", "scan"]
