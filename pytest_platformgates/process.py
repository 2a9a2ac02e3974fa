"""Running a gate's external tool so that every way it can go wrong is an error, never a pass.

Each tool starts in a session (and process group) of its own, and is stopped by killing
that whole group: a tool that forks leaves no grandchild behind holding its pipes, and a
Ctrl-C meant for pytest does not reach the tools half-way; the run stops them instead
(:func:`stop_tools`), whichever thread started them.

A gate's worker may also be started ahead of need, as a spare (:class:`Spares`):
``run_tool`` takes it instead of starting the same command itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from .gate import GateError

if TYPE_CHECKING:
    from .gate import WorkerCommand

TAIL_LINES = 20
# Seconds to read what a killed tool's group left in the pipes: a process that made a
# session of its own (setsid) escapes the group and may hold them open for ever.
DRAIN = 2.0


class _Running:
    """The tools this process runs, so that an interrupted session can stop all of them.

    Process-wide like the processes themselves: gates run tools from threads of their own.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen[str]] = set()
        self.stopped: set[subprocess.Popen[str]] = set()
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
    spares: Spares | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return it when its exit code is one of ``ok_codes``.

    A missing executable, a timeout or any other exit code raises :class:`GateError`
    carrying the tail of the tool's stderr, so the gate errors instead of passing.
    With ``spares``, a spare started earlier for exactly this command, directory and
    environment is used instead of a new process.
    """
    full_env = tool_environment(env)
    name = Path(argv[0]).name
    try:
        proc = spares.take(argv, cwd, full_env) if spares is not None else None
        if proc is None:
            proc = _start(argv, cwd, full_env)
    except FileNotFoundError:
        raise GateError(
            f"{name} is not installed or not on PATH ({argv[0]}): install it in the "
            "environment pytest runs in, or correct the gate setting that names it"
        ) from None
    except OSError as exc:
        raise GateError(f"{name} could not be started: {exc}") from None
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise GateError(
            f"{name} did not finish within {timeout:g} s and was stopped; raise the gate's "
            "`timeout` or narrow its files"
        ) from None
    except BaseException:
        # KeyboardInterrupt in the thread that waits: the tool must not outlive the run.
        _kill(proc)
        raise
    finally:
        with _RUNNING.lock:
            _RUNNING.procs.discard(proc)
            stopped = proc in _RUNNING.stopped
            _RUNNING.stopped.discard(proc)
    if stopped:
        raise GateError(f"{name} was stopped: the pytest run was interrupted")
    if proc.returncode not in ok_codes:
        raise GateError(f"{name} exited with code {proc.returncode}", stderr_tail(stderr))
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def tool_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``overrides``, as a tool gets it.

    Without ``PYTEST_CURRENT_TEST``: which item pytest is in when a prefetched gate
    starts its tool is chance, and no tool's answer may depend on it.
    """
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)
    if overrides:
        env.update(overrides)
    return env


def _start(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    with _RUNNING.lock:
        # Under the lock: a tool started while stop_tools() runs would escape it.
        if _RUNNING.refusing:
            raise GateError(f"{Path(argv[0]).name} was not started: the pytest run was interrupted")
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        _RUNNING.procs.add(proc)
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
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


def _kill_group(proc: subprocess.Popen[str]) -> None:
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


class Spares:
    """Gate workers started before their gate asks for them, so that their start-up is
    off the run's critical path.

    The sast and secrets gates analyse files in worker processes, and each worker's
    Python start and its tool's import (bandit's, detect-secrets': 0.2 to 0.3 s) is
    most of what one changed file costs. The runner offers one worker per such gate as
    soon as the stat cache shows that a file the gate checks changed, before pytest has
    collected and long before the gate has looked up its cache (``GateRunner.warm_up``).

    Nothing else changes: a spare is taken only for exactly the command, directory and
    environment :func:`run_tool` would have started, and only while it still runs (a
    spare that died is reaped, and a new process started, which then reports why).
    The spares a gate did not take are killed when it finishes (:meth:`dismiss`), and
    one the run forgets exits by itself when this process's end closes its stdin.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Spare] = []
        self._done: set[str] = set()
        self._closed = False

    def offer(self, owner: str, command: WorkerCommand, cwd: Path) -> bool:
        """Start ``command`` in ``cwd`` for gate ``owner``; False when it was not started
        (the gate finished already, the run is ending, or the command cannot start)."""
        env = tool_environment(command.env)
        with self._lock:
            if self._closed or owner in self._done:
                return False
        try:
            proc = _start(command.argv, cwd, env)
        except (OSError, GateError):
            return False  # the gate starts its own worker, and reports what fails
        with self._lock:
            if not (self._closed or owner in self._done):
                self._idle.append(_Spare(owner, tuple(command.argv), cwd, env, proc))
                return True
        _discard(proc)
        return False

    def take(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]
    ) -> subprocess.Popen[str] | None:
        """A running spare of exactly this command, directory and environment, or None."""
        dead = []
        found = None
        with self._lock:
            for spare in list(self._idle):
                if spare.argv != tuple(argv) or spare.cwd != cwd or spare.env != env:
                    continue
                self._idle.remove(spare)
                if spare.proc.poll() is None:
                    found = spare.proc
                    break
                dead.append(spare.proc)
        for proc in dead:
            _discard(proc)
        return found

    def dismiss(self, owner: str) -> None:
        """Kill ``owner``'s spares, and start none for it from now on: its run is over."""
        with self._lock:
            self._done.add(owner)
            left = [spare.proc for spare in self._idle if spare.owner == owner]
            self._idle = [spare for spare in self._idle if spare.owner != owner]
        for proc in left:
            _discard(proc)

    def close(self) -> None:
        """Kill every spare left, and start no more."""
        with self._lock:
            self._closed = True
            left = [spare.proc for spare in self._idle]
            self._idle = []
        for proc in left:
            _discard(proc)

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)


@dataclass(frozen=True)
class _Spare:
    """One idle spare: the gate it is for, and exactly how it was started."""

    owner: str
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    proc: subprocess.Popen[str]


def _discard(proc: subprocess.Popen[str]) -> None:
    """Kill and reap an unused spare, and forget it."""
    _kill(proc)
    with _RUNNING.lock:
        _RUNNING.procs.discard(proc)
        _RUNNING.stopped.discard(proc)


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


def stderr_tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a tool's stderr: where tools say why they failed."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
