"""Gates computed in a background process while the tests run (background.py).

The counting gate logs the pid of the process that analysed each file, so a test can
tell where a gate ran; results must be the same wherever that was, and a background
process that dies or hangs must never turn into a pass.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from conftest import COUNTING_GATE, analysed_lines

# A gate that kills its own (background) process, or hangs, when told to by a file.
HOSTILE_GATE = COUNTING_GATE.replace('name = "counting"', 'name = "hostile"').replace(
    '        log = Path(ctx.root) / ".analysed.log"\n',
    textwrap.indent(
        textwrap.dedent(
            """\
                mode = (Path(ctx.root) / "mode").read_text().strip()
                if mode == "kill" and os.environ.get("PG_TEST_PID") != str(os.getpid()):
                    os.kill(os.getpid(), 9)
                if mode == "hang" and os.environ.get("PG_TEST_PID") != str(os.getpid()):
                    import time
                    time.sleep(600)
                log = Path(ctx.root) / ".analysed.log"
                """
        ),
        "        ",
    ),
)


@pytest.fixture
def counted(project):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\njunit.xml\n__pycache__/\n")
    project.configure({"counting": {}}, plugins=["counting_gate"])
    project.write("a.txt", "FORBIDDEN\n")
    project.write("b.txt", "fine\n")
    project.write("test_one.py", "def test_one():\n    assert True\n")
    return project


def _pids(project) -> set[str]:
    return {line.split()[0] for line in analysed_lines(project)}


def test_a_gate_runs_in_a_background_process_with_the_same_result(counted):
    background = counted.pytester.runpytest("-rA")
    background.assert_outcomes(passed=1, failed=1)
    pids = _pids(counted)
    assert pids and str(os.getpid()) not in pids  # computed by another process
    (counted.path / ".analysed.log").unlink()

    inline = counted.pytester.runpytest("-rA", "--gates-inline", "-p", "no:cacheprovider")
    inline.assert_outcomes(passed=1, failed=1)
    assert _pids(counted) == {str(os.getpid())}

    def report(result):
        lines = result.stdout.lines
        start = next(i for i, line in enumerate(lines) if "FAILURES" in line)
        end = next(i for i, line in enumerate(lines) if "short test summary" in line)
        return [re.sub(r"\d+\.\d+s", "N.NNs", line) for line in lines[start:end]]

    assert report(background) == report(inline)
    assert "a.txt:1" in "\n".join(report(background))


def test_the_ini_option_turns_the_background_off(counted):
    counted.write("pytest.ini", "[pytest]\nplatformgates_background = false\n")
    counted.pytester.runpytest().assert_outcomes(passed=1, failed=1)
    assert _pids(counted) == {str(os.getpid())}


def test_a_gates_only_run_computes_inline(counted):
    counted.pytester.runpytest("--gates-only").assert_outcomes(failed=1)
    assert _pids(counted) == {str(os.getpid())}


@pytest.fixture
def hostile(project, monkeypatch):
    project.write("hostile_gate.py", HOSTILE_GATE)
    project.write(".gitignore", ".analysed.log\nmode\n__pycache__/\n")
    project.configure({"hostile": {"timeout": 1}}, plugins=["hostile_gate"])
    project.write("a.txt", "FORBIDDEN\n")
    project.write("test_one.py", "def test_one():\n    assert True\n")
    monkeypatch.setenv("PG_TEST_PID", str(os.getpid()))
    return project


def test_a_killed_background_process_falls_back_to_the_test_process(hostile):
    hostile.write("mode", "kill\n")
    result = hostile.pytester.runpytest("-rA")
    # The finding is still found: computed again here, never read as a pass.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*a.txt:1*forbidden word*",
            "*computed in the test process: the background gate process was killed by "
            "signal 9 before 'hostile' was judged*",
        ]
    )
    assert _pids(hostile) == {str(os.getpid())}


def test_a_background_process_that_outlives_the_timeouts_is_an_error(hostile, monkeypatch):
    from pytest_platformgates import background

    monkeypatch.setattr(background, "GRACE", 1.0)
    hostile.write("mode", "hang\n")
    result = hostile.pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*the background gate process did not finish 'hostile' within 2 s*it was stopped*"]
    )


WAIVER = """
[[tool.platformgates.waivers]]
gate = "counting"
id = "CNT1"
reason = "a planted word"
owner = "test-team"
approved_by = "lead"
expires = {expires}
"""


def _evidence_gates(project) -> list[dict]:
    evidence = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    gates = evidence["predicate"]["gates"]
    for gate in gates:
        gate.pop("duration", None)
    return gates


def test_waivers_apply_in_the_background_exactly_as_inline(counted):
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    counted.configure(
        {"counting": {}}, extra=WAIVER.format(expires=expires), plugins=["counting_gate"]
    )
    counted.write(".gitignore", ".analysed.log\n__pycache__/\ngate-evidence/\n")
    counted.pytester.runpytest().assert_outcomes(passed=2)
    assert str(os.getpid()) not in _pids(counted)
    background = _evidence_gates(counted)
    counted.pytester.runpytest("--gates-inline", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert background == _evidence_gates(counted)
    assert background[0]["findings"][0]["waiver"]["owner"] == "test-team"


def test_a_session_stopped_early_stops_the_background_process(counted, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    from pytest_platformgates.background import BackgroundGates

    closed = []
    close = BackgroundGates.close

    def recording_close(self):
        close(self)
        closed.append(self.proc.returncode)

    monkeypatch.setattr(BackgroundGates, "close", recording_close)
    counted.write("test_one.py", "def test_one():\n    assert False\n")
    result = counted.pytester.runpytest("-x")
    result.assert_outcomes(failed=1)  # the gate item never ran
    assert len(closed) == 1 and closed[0] is not None  # the process ended
    assert list(scratch.iterdir()) == []  # and its files were removed


def test_a_project_module_named_like_the_standard_library_is_not_imported(counted):
    counted.write("json.py", "raise SystemExit('the project json.py was imported')\n")
    counted.pytester.runpytest().assert_outcomes(passed=1, failed=1)
    assert str(os.getpid()) not in _pids(counted)


def test_a_background_process_outliving_a_killed_session_stops_itself(hostile, tmp_path):
    hostile.write("mode", "hang\n")
    hostile.write("test_one.py", "import os\n\ndef test_one():\n    os.kill(os.getpid(), 9)\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"],
        cwd=hostile.path,
        env=env,
        capture_output=True,
        check=False,
    )
    assert run.returncode == -9
    deadline = time.monotonic() + 30
    while any(scratch.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(scratch.iterdir()) == []  # it noticed, removed its files and stopped


def test_gate_timings_are_remembered_and_only_ever_order_the_gates(counted, tmp_path):
    from pytest_platformgates.cache import ResultCache

    counted.pytester.runpytest().assert_outcomes(passed=1, failed=1)
    cache = ResultCache(counted.path / ".pytest_cache" / "d" / "platformgates", "any")
    assert set(cache.timings()) == {"counting"}
    cache.save_timings({"counting": 0.0, "slow": 10.0})
    assert cache.timings()["counting"] > 0  # a fast run forgets a slow one gradually
    (cache.directory / "timings.d.json").write_text("{damaged")
    assert cache.timings() == {}  # only an order: damage costs nothing but that
    counted.pytester.runpytest().assert_outcomes(passed=1, failed=1)


SKIPPING_GATE = """
import pytest
from pytest_platformgates import Analysis, Gate, hookimpl


class SkippingGate(Gate):
    name = "skipping"
    description = "skips, as a gate that finds nothing to judge may"

    def check(self, ctx):
        pytest.skip("nothing to judge here")


@hookimpl
def platformgates_gates():
    return [SkippingGate()]
"""


def test_a_gate_that_skips_in_the_background_is_skipped_here(project):
    project.write("skipping_gate.py", SKIPPING_GATE)
    project.write(".gitignore", "__pycache__/\n")
    project.configure({"skipping": {}}, plugins=["skipping_gate"])
    project.write("test_one.py", "def test_one():\n    assert True\n")
    result = project.pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*nothing to judge here*"])


def test_an_unreadable_background_result_is_computed_again_here(counted, monkeypatch):
    from pytest_platformgates import background

    def unreadable(data):
        raise ValueError("damaged")

    monkeypatch.setattr(background.GateResult, "from_dict", unreadable)
    result = counted.pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*a.txt:1*forbidden word*",
            "*computed in the test process: its background result was unreadable "
            "(ValueError: damaged)*",
        ]
    )


def test_gates_finished_before_a_hang_keep_their_background_results(hostile, monkeypatch):
    from pytest_platformgates import background

    monkeypatch.setattr(background, "GRACE", 1.0)
    hostile.write("counting_gate.py", COUNTING_GATE)
    hostile.write(".gitignore", ".analysed.log\nmode\n__pycache__/\n")
    hostile.configure(
        {"hostile": {"timeout": 1}, "counting": {"timeout": 1}},
        plugins=["hostile_gate", "counting_gate"],
    )
    hostile.write("mode", "hang\n")
    result = hostile.pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*the background gate process did not finish 'hostile' within 3 s*it was stopped*"]
    )
    assert str(os.getpid()) not in _pids(hostile)  # counting: judged in the background
