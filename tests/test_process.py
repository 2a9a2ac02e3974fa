"""Tools that fork, hang or hold their pipes: ``run_tool`` stops the whole tree, promptly.

Real shell scripts that start grandchildren; each writes its grandchild's pid so the
test can check that nothing outlived the call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_platformgates import process
from pytest_platformgates.gate import GateError


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "tool"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return [str(path)]


def grandchild(tmp_path: Path, timeout: float = 30.0) -> int:
    pidfile = tmp_path / "pid"
    deadline = time.monotonic() + timeout
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the tool never started its grandchild"
        time.sleep(0.02)
    return int(pidfile.read_text())


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def pid_file(tmp_path):
    """The grandchild's pid file; the grandchild is killed afterwards if a test failed."""
    path = tmp_path / "pid"
    yield path
    if path.exists() and path.read_text().strip():
        pid = int(path.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "body",
    [
        # The tool waits for its grandchild: killing only the tool left the grandchild.
        'sleep 60 & echo $! > "$PIDFILE"; wait\n',
        # The tool exits at once, its grandchild keeps the pipes open: run() waited for ever.
        'sleep 60 & echo $! > "$PIDFILE"; exit 0\n',
    ],
    ids=["waits-for-it", "exits-leaving-it"],
)
def test_a_hung_tool_is_stopped_with_its_grandchildren(tmp_path, pid_file, body):
    start = time.monotonic()
    with pytest.raises(GateError, match="did not finish within 1 s and was stopped"):
        process.run_tool(
            script(tmp_path, body), cwd=tmp_path, timeout=1, env={"PIDFILE": str(pid_file)}
        )
    assert time.monotonic() - start < 10
    assert gone(grandchild(tmp_path))


@pytest.mark.parametrize(
    "body",
    ['sleep 60 & echo $! > "$PIDFILE"; wait\n', 'sleep 60 & echo $! > "$PIDFILE"; exit 0\n'],
    ids=["waits-for-it", "exits-leaving-it"],
)
def test_a_hung_git_call_is_stopped_with_what_it_started(tmp_path, pid_file, body):
    # The core's own git calls (inventory, changes, provenance): a hook or filter git
    # starts must not outlive the call's timeout.
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        process.run_captured(
            script(tmp_path, body), cwd=tmp_path, timeout=1, env={"PIDFILE": str(pid_file)}
        )
    assert time.monotonic() - start < 10
    assert gone(grandchild(tmp_path))


def test_a_captured_call_returns_bytes_and_any_exit_code(tmp_path):
    done = process.run_captured(
        script(tmp_path, "printf 'caf\\351\\0b'; echo oops >&2; exit 3\n"), cwd=tmp_path, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, b"caf\xe9\x00b", b"oops\n")
    with pytest.raises(FileNotFoundError):
        process.run_captured([str(tmp_path / "missing")], cwd=tmp_path, timeout=30)
    process.stop_tools()
    try:  # an interrupted run starts none: it is told as a program that could not start
        with pytest.raises(OSError, match="was not started: the pytest run was interrupted"):
            process.run_captured(script(tmp_path, "exit 0\n"), cwd=tmp_path, timeout=30)
    finally:
        process.allow_tools()


def test_a_grandchild_in_a_session_of_its_own_cannot_hang_the_call(tmp_path, pid_file):
    # setsid escapes the tool's process group: it is not killed, but its pipes are not
    # waited for beyond the drain time, so the gate still errors in bounded time.
    body = f'setsid "{sys.executable}" -c "import time; time.sleep(60)" &\necho $! > "$PIDFILE"\n'
    body += "wait\n"
    start = time.monotonic()
    with pytest.raises(GateError, match="did not finish within 1 s"):
        process.run_tool(
            script(tmp_path, body), cwd=tmp_path, timeout=1, env={"PIDFILE": str(pid_file)}
        )
    assert time.monotonic() - start < 1 + process.DRAIN + 5


def test_stop_tools_stops_the_tools_other_threads_wait_for_at_once(tmp_path, pid_file):
    outcome: list[BaseException] = []

    def gate() -> None:
        try:
            process.run_tool(
                script(tmp_path, 'sleep 60 & echo $! > "$PIDFILE"; wait\n'),
                cwd=tmp_path,
                timeout=600,
                env={"PIDFILE": str(pid_file)},
            )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=gate)
    thread.start()
    pid = grandchild(tmp_path)
    try:
        assert process.stop_tools() == 1
        thread.join(10)
        assert not thread.is_alive(), "the thread still waits for its stopped tool"
        assert gone(pid)
        assert isinstance(outcome[0], GateError)
        assert "was stopped: the pytest run was interrupted" in str(outcome[0])
        # Nothing new starts while the session is being stopped ...
        with pytest.raises(GateError, match="true was not started: the pytest run was"):
            process.run_tool(["true"], cwd=tmp_path, timeout=10)
    finally:
        process.allow_tools()
    # ... and tools run again in the next session.
    assert process.run_tool(["true"], cwd=tmp_path, timeout=10).returncode == 0


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt, which pytest itself would act on."""


def test_an_interrupt_while_waiting_kills_the_tool_and_its_grandchildren(tmp_path, pid_file):
    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(Interrupted):
            process.run_tool(
                script(tmp_path, 'sleep 60 & echo $! > "$PIDFILE"; wait\n'),
                cwd=tmp_path,
                timeout=600,
                env={"PIDFILE": str(pid_file)},
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(grandchild(tmp_path))


def test_a_tool_runs_in_a_session_of_its_own_with_stdin_closed(tmp_path):
    # Its own session: a Ctrl-C at the terminal reaches pytest, which stops the tools
    # itself; stdin closed: a tool that reads it sees end of file instead of hanging.
    proc = process.run_tool(
        [sys.executable, "-c", "import os, sys; print(os.getsid(0), repr(sys.stdin.read()))"],
        cwd=tmp_path,
        timeout=30,
    )
    sid, read = proc.stdout.split()
    assert int(sid) != os.getsid(0)
    assert read == "''"
    fed = process.run_tool(["cat"], cwd=tmp_path, timeout=30, stdin="fed\n")
    assert fed.stdout == "fed\n"


def test_a_tool_never_sees_which_test_pytest_is_in(tmp_path):
    # pytest sets PYTEST_CURRENT_TEST around every test, this one included; a gate
    # prefetched in a thread would start its tool under whichever item runs then.
    assert "PYTEST_CURRENT_TEST" in os.environ
    argv = [sys.executable, "-c", "import os; print('PYTEST_CURRENT_TEST' in os.environ)"]
    assert process.run_tool(argv, cwd=tmp_path, timeout=30).stdout.strip() == "False"


CRASH = """\
import sys
def inner():
    raise ValueError("the cause")
def outer():
    try:
        inner()
    except ValueError as exc:
        raise RuntimeError("what went wrong\\nand its second line") from exc
print("scanning 3 files", file=sys.stderr)
outer()
"""


def test_a_crashed_python_tool_is_told_by_its_exceptions_and_innermost_frame(tmp_path):
    script = tmp_path / "tool.py"
    script.write_text(CRASH)
    with pytest.raises(GateError) as caught:
        process.run_tool([sys.executable, str(script)], cwd=tmp_path, timeout=30)
    assert caught.value.detail.splitlines() == [
        "scanning 3 files",
        "ValueError: the cause",
        "Traceback (most recent call last): (1 outer frame left out)",
        f'  File "{script}", line 8, in outer',
        '    raise RuntimeError("what went wrong\\nand its second line") from exc',
        "RuntimeError: what went wrong",
        "and its second line",
    ]


def test_a_tail_without_a_traceback_is_its_last_lines():
    text = "\n".join(f"line {n}" for n in range(30)) + "\n\n"
    assert process.stderr_tail(text, 3) == "line 27\nline 28\nline 29"
    # an unfinished traceback (a tool killed while printing it) is kept as it is
    cut = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
    assert process.stderr_tail(cut) == cut.strip()
    # as the tool wrote it, on request (a command gate's report)
    crash = "\n".join([process.TRACEBACK, *['  File "x.py", line 1, in f'] * 3, "KeyError: 1"])
    assert process.stderr_tail(crash, short_tracebacks=False) == crash
    assert process.stderr_tail(crash).count("File") == 1
