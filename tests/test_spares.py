"""Gate workers started ahead of need (``process.Spares``, ``GateRunner.warm_up``).

A spare must change when a worker starts, and nothing else: it answers only the exact
command, directory and environment it was started for, a dead one is never used, an
unused one does not outlive its gate or the run, and a warm run starts none. The
workers here are small Python scripts that log their pid when they start; the last
tests run the real bandit and detect-secrets workers, and a gate of the project's own
through pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_platformgates import process
from pytest_platformgates.gate import GateError, WorkerCommand
from pytest_platformgates.gates import sast, secrets

# Logs "started PID" on start, then answers its request with its pid; exits quietly on an
# empty stdin (how an unused spare ends). With a file named "die" beside the log, the first
# process to see it removes it and dies at once.
WORKER = """
import json, os, sys
log = sys.argv[1]
with open(log, "a") as fh:
    fh.write(f"started {os.getpid()}\\n")
die = os.path.join(os.path.dirname(log), "die")
if os.path.exists(die):
    os.remove(die)
    sys.exit(3)
text = sys.stdin.read()
if not text:
    sys.exit(0)
print(json.dumps({"pid": os.getpid(), "request": text, "env": os.environ.get("SPARE_MARK")}))
"""


def command(log: Path, **env: str) -> WorkerCommand:
    return WorkerCommand((sys.executable, "-c", WORKER, str(log)), env)


def started(log: Path, count: int = 1, within: float = 30.0) -> list[int]:
    """The pids of the first ``count`` workers to start, once they have."""
    deadline = time.monotonic() + within
    while True:
        pids = [int(line.split()[1]) for line in _lines(log) if line.startswith("started")]
        if len(pids) >= count:
            return pids
        assert time.monotonic() < deadline, f"{count} worker(s) never started"
        time.sleep(0.02)


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def ask(cmd: WorkerCommand, cwd: Path, spares: process.Spares | None) -> dict:
    proc = process.run_tool(cmd.argv, cwd=cwd, timeout=30, stdin="req", env=cmd.env, spares=spares)
    return json.loads(proc.stdout)


@pytest.fixture
def spares():
    pool = process.Spares()
    yield pool
    pool.close()


def test_run_tool_takes_the_spare_started_for_its_command(tmp_path, spares):
    log = tmp_path / "log"
    cmd = command(log, SPARE_MARK="x")
    assert spares.offer("g", cmd, tmp_path)
    (spare,) = started(log)
    answer = ask(cmd, tmp_path, spares)
    assert answer == {"pid": spare, "request": "req", "env": "x"}
    assert len(spares) == 0
    # Taken once: the next call starts a process of its own.
    assert ask(cmd, tmp_path, spares)["pid"] != spare


@pytest.mark.parametrize("differs", ["argv", "cwd", "env"])
def test_a_spare_answers_only_exactly_its_command_directory_and_environment(
    tmp_path, spares, differs
):
    log = tmp_path / "log"
    cmd = command(log, SPARE_MARK="x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert spares.offer("g", cmd, tmp_path)
    (spare,) = started(log)
    asked, cwd = cmd, tmp_path
    if differs == "argv":
        asked = WorkerCommand((*cmd.argv, "extra"), cmd.env)
    elif differs == "cwd":
        cwd = elsewhere
    else:
        asked = command(log, SPARE_MARK="y")
    assert ask(asked, cwd, spares)["pid"] != spare
    assert len(spares) == 1 and alive(spare)
    spares.dismiss("g")
    assert gone(spare)


def test_an_environment_changed_since_the_offer_gets_a_new_process(tmp_path, spares, monkeypatch):
    log = tmp_path / "log"
    cmd = command(log)
    assert spares.offer("g", cmd, tmp_path)
    (spare,) = started(log)
    monkeypatch.setenv("PLATFORMGATES_SPARE_TEST", "changed")
    assert ask(cmd, tmp_path, spares)["pid"] != spare


def test_a_tool_never_sees_which_test_pytest_is_in(tmp_path):
    # pytest sets PYTEST_CURRENT_TEST around every test, this one included; a gate
    # prefetched in a thread would start its tool under whichever item runs then.
    assert "PYTEST_CURRENT_TEST" in os.environ
    argv = [sys.executable, "-c", "import os; print('PYTEST_CURRENT_TEST' in os.environ)"]
    assert process.run_tool(argv, cwd=tmp_path, timeout=30).stdout.strip() == "False"


def test_a_spare_that_died_is_not_used_and_a_new_process_answers(tmp_path, spares):
    log = tmp_path / "log"
    (tmp_path / "die").write_text("")
    cmd = command(log)
    assert spares.offer("g", cmd, tmp_path)
    (spare,) = started(log)
    assert gone(spare)  # exited 3 before anyone asked
    assert ask(cmd, tmp_path, spares)["pid"] != spare
    assert len(spares) == 0


def test_a_worker_that_always_crashes_still_fails_the_call(tmp_path, spares):
    cmd = WorkerCommand((sys.executable, "-c", "import sys; sys.exit(5)"))
    assert spares.offer("g", cmd, tmp_path)
    with pytest.raises(GateError, match="exited with code 5"):
        process.run_tool(cmd.argv, cwd=tmp_path, timeout=30, stdin="req", spares=spares)


def test_a_crashing_spare_that_is_taken_alive_fails_the_call(tmp_path, spares):
    # Alive when taken, dies on the request: exactly a fresh worker's crash.
    code = "import sys; sys.stdin.read(); sys.stderr.write('boom'); sys.exit(4)"
    cmd = WorkerCommand((sys.executable, "-c", code))
    assert spares.offer("g", cmd, tmp_path)
    with pytest.raises(GateError, match="exited with code 4") as err:
        process.run_tool(cmd.argv, cwd=tmp_path, timeout=30, stdin="req", spares=spares)
    assert "boom" in str(err.value)


def test_dismissing_a_gate_kills_its_spares_and_refuses_more(tmp_path, spares):
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    assert spares.offer("a", command(log_a), tmp_path)
    assert spares.offer("b", command(log_b), tmp_path)
    (a,), (b,) = started(log_a), started(log_b)
    spares.dismiss("a")
    assert gone(a) and alive(b)
    assert not spares.offer("a", command(log_a), tmp_path)
    spares.close()
    assert gone(b)
    assert not spares.offer("b", command(log_b), tmp_path)
    assert len(started(log_a)) == 1 and len(started(log_b)) == 1


def test_stop_tools_stops_idle_spares_too(tmp_path, spares):
    log = tmp_path / "log"
    cmd = command(log)
    assert spares.offer("g", cmd, tmp_path)
    (spare,) = started(log)
    try:
        assert process.stop_tools() >= 1
        assert gone(spare)
        assert not spares.offer("g2", cmd, tmp_path)  # refused while stopping
    finally:
        process.allow_tools()
    assert ask(cmd, tmp_path, spares)["pid"] != spare


def test_a_spare_the_run_forgets_exits_when_the_run_ends(tmp_path):
    log = tmp_path / "log"
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from pytest_platformgates import process
        from pytest_platformgates.gate import WorkerCommand
        spares = process.Spares()
        assert spares.offer("g", WorkerCommand({command(log).argv!r}), Path.cwd())
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    (spare,) = started(log)
    assert gone(spare)  # its stdin closed with the run: it exits without being asked


@pytest.mark.parametrize("worker", [sast.WORKER, secrets.WORKER], ids=["bandit", "detect-secrets"])
def test_the_real_workers_exit_quietly_when_dismissed_unasked(tmp_path, worker):
    env = process.tool_environment(worker.env)
    proc = subprocess.run(
        worker.argv, cwd=tmp_path, env=env, input="", capture_output=True, text=True, timeout=120
    )
    assert (proc.returncode, proc.stdout) == (0, "")


# A project-local gate whose worker logs its pid, and which logs who answered it.
SPARE_GATE = f"""
import json, sys, time
from pathlib import Path
from pytest_platformgates import FileAnalysis, FileGate, WorkerCommand, hookimpl
from pytest_platformgates.process import run_tool

WORKER = {WORKER!r}


class SpareGate(FileGate):
    name = "spare"
    patterns = ("*.py",)
    worker = WorkerCommand((sys.executable, "-c", WORKER, "spare.log"), {{"SPARE_MARK": "m"}})

    def tool_versions(self, ctx):
        return {{"spare": "1"}}

    def analyse(self, files, ctx):
        # The warm-up offers from a thread of its own: give it time on a slow machine.
        deadline = time.monotonic() + 30
        while not len(ctx.spares) and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(Path(ctx.root) / "spare.log", "a") as fh:
            fh.write(f"asked with {{len(ctx.spares)}} spare(s) waiting\\n")
        proc = run_tool(
            self.worker.argv, cwd=ctx.root, timeout=ctx.timeout,
            stdin=json.dumps([f.path for f in files]), env=self.worker.env, spares=ctx.spares,
        )
        with open(Path(ctx.root) / "spare.log", "a") as fh:
            fh.write(f"answered {{json.loads(proc.stdout)['pid']}}\\n")
        return FileAnalysis(findings=[])


@hookimpl
def platformgates_gates():
    return [SpareGate()]
"""


@pytest.fixture
def spare_project(project):
    project.write("spare_gate.py", SPARE_GATE)
    project.write(".gitignore", "spare.log\n__pycache__/\n")
    project.configure({"spare": {}}, plugins=["spare_gate"])
    project.write("a.py", "A = 1\n")
    project.write("notes.txt", "text\n")
    project.commit()
    return project


def _session(project) -> list[str]:
    log = project.path / "spare.log"
    lines = _lines(log)
    log.unlink(missing_ok=True)
    return lines


def test_a_gates_only_run_starts_the_gates_worker_ahead_only_when_a_file_it_checks_changed(
    spare_project,
):
    project = spare_project

    def run() -> list[str]:
        project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
        # The spares left are killed at the session's end: none outlives it.
        for line in _lines(project.path / "spare.log"):
            if line.startswith("started"):
                assert gone(int(line.split()[1]))
        return _session(project)

    def taken(lines: list[str]) -> None:
        # A spare waited for the gate, and it is the one worker that started and answered.
        assert "asked with 1 spare(s) waiting" in lines
        (pid,) = [line.split()[1] for line in lines if line.startswith("started")]
        assert lines[-1] == f"answered {pid}"

    taken(run())  # cold: no stat cache yet, every file is to be analysed
    assert run() == []  # warm: nothing changed, no worker at all
    project.write("notes.txt", "other text\n")  # a file the gate does not check
    assert run() == []
    project.write("a.py", "A = 2\n")
    taken(run())


def test_the_background_process_starts_the_gates_worker_ahead_too(spare_project):
    project = spare_project
    project.write("test_one.py", "def test_one():\n    assert True\n")
    project.pytester.runpytest().assert_outcomes(passed=2)
    lines = _session(project)
    assert "asked with 1 spare(s) waiting" in lines
    (pid,) = [line.split()[1] for line in lines if line.startswith("started")]
    assert lines[-1] == f"answered {pid}"


def test_without_a_cache_every_run_starts_the_worker_ahead(spare_project):
    for _ in range(2):
        result = spare_project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        lines = _session(spare_project)
        assert "asked with 1 spare(s) waiting" in lines


def test_collecting_only_starts_no_worker(spare_project):
    spare_project.pytester.runpytest("--gates-only", "--co")
    time.sleep(0.5)  # a worker started would have logged by now
    assert _session(spare_project) == []
