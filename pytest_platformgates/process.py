"""Running a gate's external tool so that every way it can go wrong is an error, never a pass.

Each tool starts in a session (and process group) of its own, and is stopped by killing
that whole group: a tool that forks leaves no grandchild behind holding its pipes, and a
Ctrl-C meant for pytest does not reach the tools half-way; the run stops them instead
(:func:`stop_tools`), whichever thread started them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from packaging.version import InvalidVersion, Version

from .gate import GateError

TAIL_LINES = 20
TRACEBACK = "Traceback (most recent call last):"
# How Python joins the tracebacks of a chain: said once by keeping each exception.
CHAINED = ("The above exception was the direct cause", "During handling of the above exception")
# Seconds to read what a killed tool's group left in the pipes: a process that made a
# session of its own (setsid) escapes the group and may hold them open for ever.
DRAIN = 2.0


class _Running:
    """The tools this process runs, so that an interrupted session can stop all of them.

    Process-wide like the processes themselves: gates run tools from threads of their own.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen[Any]] = set()
        self.stopped: set[subprocess.Popen[Any]] = set()
        self.refusing = False


_RUNNING = _Running()


def run_tool(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    ok_codes: Collection[int] = (0,),
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return it when its exit code is one of ``ok_codes``.

    A missing executable, a timeout or any other exit code raises :class:`GateError`
    carrying the tail of the tool's stderr, so the gate errors instead of passing.
    """
    full_env = _tool_environment(env)
    name = Path(argv[0]).name
    try:
        proc = _start(argv, cwd, full_env)
    except FileNotFoundError:
        raise GateError(
            f"{name} is not installed or not on PATH ({argv[0]}): install it in the "
            "environment pytest runs in, or correct the gate setting that names it"
        ) from None
    except OSError as exc:
        raise GateError(f"{name} could not be started: {exc}") from None
    try:
        stdout, stderr, stopped = _wait(proc, stdin, timeout)
    except subprocess.TimeoutExpired:
        raise GateError(
            f"{name} did not finish within {timeout:g} s and was stopped; raise the gate's "
            "`timeout` or narrow its files"
        ) from None
    if stopped:
        raise GateError(f"{name} was stopped: the pytest run was interrupted")
    if proc.returncode not in ok_codes:
        raise GateError(f"{name} exited with code {proc.returncode}", stderr_tail(stderr))
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def _tool_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``overrides``, as a tool gets it.

    Without ``PYTEST_CURRENT_TEST``: which item pytest is in when a prefetched gate
    starts its tool is chance, and no tool's answer may depend on it.
    """
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)
    if overrides:
        env.update(overrides)
    return env


def run_captured(
    argv: Sequence[str], *, cwd: Path, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run(argv, capture_output=True, timeout=timeout)``, run like a tool.

    For the core's own git calls, which read bytes and judge the exit code themselves:
    whatever exit code is returned; a timeout raises :class:`subprocess.TimeoutExpired`
    and a missing program :class:`OSError`, as ``subprocess.run`` does. Unlike it, the
    program runs in a session of its own and a timeout or an interrupt kills its whole
    group, so a hung hook or filter git started is not left running.
    """
    try:
        proc = _start(argv, cwd, _tool_environment(env), text=False)
    except GateError as exc:  # the run is being interrupted: not started, like a missing one
        raise OSError(str(exc)) from None
    stdout, stderr, _ = _wait(proc, None, timeout)  # a stopped one exits by its signal
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def _wait(proc: subprocess.Popen[Any], stdin: str | None, timeout: float) -> tuple[Any, Any, bool]:
    """``proc``'s output, and whether :func:`stop_tools` stopped it.

    A timeout, or an interrupt in the thread that waits, kills its whole group before the
    exception goes on: the tool must not outlive the call.
    """
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except BaseException:
        _kill(proc)
        raise
    finally:
        with _RUNNING.lock:
            _RUNNING.procs.discard(proc)
            stopped = proc in _RUNNING.stopped
            _RUNNING.stopped.discard(proc)
    return stdout, stderr, stopped


def _start(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, text: bool = True
) -> subprocess.Popen[Any]:
    with _RUNNING.lock:
        # Under the lock: a tool started while stop_tools() runs would escape it.
        if _RUNNING.refusing:
            raise GateError(f"{Path(argv[0]).name} was not started: the pytest run was interrupted")
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if text else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=text,
            encoding="utf-8" if text else None,
            errors="replace" if text else None,
            start_new_session=True,
        )
        _RUNNING.procs.add(proc)
    return proc


def _kill(proc: subprocess.Popen[Any]) -> None:
    """Kill ``proc``'s whole process group and reap it; never wait on escaped pipes."""
    _kill_group(proc)
    try:
        proc.communicate(timeout=DRAIN)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        proc.wait()


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    # The group is named after the tool; a tool not yet reaped (returncode None) keeps
    # that id from being given to anyone else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_tools() -> int:
    """Kill every tool this process is running, refuse new ones until :func:`allow_tools`.

    For an interrupted session: the threads waiting for those tools then raise
    :class:`GateError` at once instead of waiting for the tools' timeouts. Returns how
    many tools were stopped.
    """
    with _RUNNING.lock:
        _RUNNING.refusing = True
        running = [p for p in _RUNNING.procs if p.returncode is None]
        _RUNNING.stopped.update(running)
        for proc in running:
            _kill_group(proc)
    return len(running)


def allow_tools() -> None:
    """Start tools again after :func:`stop_tools` (the next session in this process)."""
    with _RUNNING.lock:
        _RUNNING.refusing = False


_Item = TypeVar("_Item")
_Answer = TypeVar("_Answer")


def map_in_threads(
    call: Callable[[_Item], _Answer], items: Sequence[_Item], workers: int
) -> list[_Answer]:
    """``[call(item) for item in items]``, ``workers`` at a time, for calls that run tools.

    A Ctrl-C reaches the main thread only, never the threads waiting for their tools
    (each in a session of its own, out of the terminal's reach): those are stopped
    (:func:`stop_tools`, as the runner does for prefetched gates), or the interrupted run
    would wait for each of them up to its gate's timeout.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))))
    try:
        answers = list(pool.map(call, items))
    except Exception:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_tools()
        try:
            pool.shutdown(wait=True)
        finally:
            allow_tools()
        raise
    pool.shutdown()
    return answers


def installed_version(distribution: str, minimum: str, below: str) -> str:
    """The installed ``distribution``'s version, read from its metadata without importing
    it, when it is a supported one (:func:`supported_version`); else :class:`GateError`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version(distribution)
    except PackageNotFoundError:
        raise GateError(f"{distribution} is not installed: `pip install {distribution}`") from None
    return supported_version(distribution, found, minimum, below)


def supported_version(tool: str, version: str, minimum: str, below: str) -> str:
    """``version`` of ``tool`` when ``minimum <= version < below``, else :class:`GateError`.

    ``below`` is the next major release: one may change what the tool reports, or how,
    and a gate parsing the old way could pass what it no longer understands.
    """
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise GateError(f"cannot read the {tool} version from {version!r}") from None
    if parsed < Version(minimum):
        raise GateError(f"{tool} {version} is older than the supported {minimum}; upgrade it")
    if parsed.release[0] >= Version(below).release[0]:
        raise GateError(
            f"{tool} {version} is a newer major version than this pytest-platformgates "
            f"supports ({minimum} or later, below {below}); install `{tool}<{below}` or a "
            "pytest-platformgates release that supports it"
        )
    return version


def stderr_tail(text: str, lines: int = TAIL_LINES, *, short_tracebacks: bool = True) -> str:
    """The last ``lines`` lines of a tool's stderr: where tools say why they failed.

    A Python tool that crashed ends its stderr with a traceback, whose frames would fill
    the tail and push out what the tool said before it. It is kept short: the exceptions
    of a chain, and the innermost frame of the last, which together say what went wrong.
    ``short_tracebacks=False`` keeps the tail as the tool wrote it.
    """
    kept = [line for line in text.strip().splitlines() if line.strip()]
    starts = [i for i, line in enumerate(kept) if line.startswith(TRACEBACK)]
    if starts and short_tracebacks:
        # Each traceback of a chain runs to the next one; what precedes the first stays.
        blocks = [kept[a:b] for a, b in zip(starts, [*starts[1:], len(kept)], strict=True)]
        kept = kept[: starts[0]]
        for block in blocks[:-1]:
            kept += [line for line in _exception(block) if not line.startswith(CHAINED)]
        kept += _short_traceback(blocks[-1])
    return "\n".join(kept[-lines:])


def _frames_end(block: list[str]) -> tuple[list[int], int]:
    """Where a traceback's frames start, and where its exception starts (the first
    unindented line after the last frame; ``len(block)`` when it was cut off)."""
    frames = [i for i, line in enumerate(block) if line.lstrip().startswith('File "')]
    first = frames[-1] + 1 if frames else 1
    end = next((i for i in range(first, len(block)) if not block[i][:1].isspace()), len(block))
    return frames, end


def _exception(block: list[str]) -> list[str]:
    """A traceback's exception lines, or the whole block when it has none."""
    frames, end = _frames_end(block)
    return block[end:] if frames and end < len(block) else block


def _short_traceback(block: list[str]) -> list[str]:
    """A traceback's innermost frame and its exception, with how many frames were left out."""
    frames, end = _frames_end(block)
    if not frames or end == len(block):
        return block
    last = [block[frames[-1]], *(line for line in block[frames[-1] + 1 : end] if line.strip(" ^~"))]
    left_out = len(frames) - 1
    head = TRACEBACK + (
        f" ({left_out} outer frame{'s' if left_out > 1 else ''} left out)" if left_out else ""
    )
    return [head, *last, *block[end:]]
