"""Gates computed in a separate process while the tests run.

At the end of collection the process that owns the session starts ``python -m
pytest_platformgates.background`` for the selected gates that do not need the test
session itself (coverage judges the session's own measurement, so it stays inline).
The background process loads the same configuration the same way (policy, waivers,
guardrails), runs each gate through the same :class:`~.runner.GateRunner` and result
cache, and writes each judged result to its own file as soon as it is known. Gate
items, which run after the tests, only read them.

A process, not a thread: tests may monkeypatch the environment, change directory or
replace modules, and none of that may reach a gate; and gate work then uses the second
core while the tests use the first. Whatever goes wrong in the background is never a
pass: a process that died, or wrote a file that does not read back, makes the item
compute its gate in the test process instead (with a note saying why); a background
run that outlives the gates' own timeouts is an error naming them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import heap
from .cache import write_atomic
from .gate import Gate
from .model import GateResult

# The last bytes of a dead background process's stderr that a note quotes.
STDERR_TAIL = 1500
# Seconds beyond the sum of the gates' own timeouts before the background run is abandoned.
GRACE = 60.0
POLL = 0.05
UNMEASURED = ("COV_CORE_",)
ORPHAN_CHECK = 0.5
# Seconds a stopped background process has to stop its tools before it is killed.
STOP_GRACE = 5.0
# ``python -m`` would put the working directory first on sys.path, where a project's own
# ``secrets.py`` or ``json.py`` would shadow the standard library: drop it first.
BOOTSTRAP = (
    "import sys; del sys.path[0]; "
    "from pytest_platformgates.background import main; sys.exit(main())"
)
# Gates the background process runs at once: most of their time is spent in tools'
# subprocesses, so two overlap well even on one core.
CONCURRENCY = max(2, min(4, os.cpu_count() or 2))


def in_background(gate: Gate) -> bool:
    """Whether ``gate`` may run outside the test session (not ``session_bound``)."""
    return not getattr(gate, "session_bound", False)


@dataclass(frozen=True)
class Job:
    """What the background process is asked to do; written as JSON, read by :func:`main`."""

    pyproject: str
    names: tuple[str, ...]
    cache_dir: str | None = None
    # --gates-changed: the runner's partial scan (runner.PartialScan.to_dict()).
    partial: Mapping[str, Any] | None = None
    # The test process: when it is gone (killed), nobody will read the results.
    parent: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "pyproject": self.pyproject,
            "names": list(self.names),
            "cache_dir": self.cache_dir,
            "partial": dict(self.partial) if self.partial is not None else None,
            "parent": self.parent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            pyproject=str(data["pyproject"]),
            names=tuple(str(n) for n in data["names"]),
            cache_dir=data.get("cache_dir"),
            partial=data.get("partial"),
            parent=int(data.get("parent", 0)),
        )


@dataclass(frozen=True)
class Outcome:
    """What the test process gets for a gate from the background run.

    ``result`` when the background judged it; otherwise ``fallback`` says why the gate
    must be computed in the test process, or ``error`` why it cannot be judged at all.
    """

    result: GateResult | None = None
    fallback: str = ""
    error: str = ""


class BackgroundGates:
    """A handle on the background process; each gate's result is taken at most once."""

    def __init__(self, job: Job, timeout: float, env: Mapping[str, str] | None = None) -> None:
        self.job = job
        self.timeout = timeout
        self.dir = Path(tempfile.mkdtemp(prefix="platformgates-bg-"))  # mode 0700
        (self.dir / "job.json").write_text(json.dumps(job.to_dict()), encoding="utf-8")
        self._err: IO[bytes] = (self.dir / "stderr").open("w+b")
        self._started = time.monotonic()
        self._overdue = ""  # set when the process was stopped for outliving the timeouts
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP, str(self.dir)],
            cwd=Path.cwd(),  # where the test process runs its gates inline
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            env=_environment(os.environ if env is None else env),
            # Its own process group: stopping it stops the tools it started too, and
            # a Ctrl-C meant for the tests does not reach it (close() stops it).
            start_new_session=True,
        )

    @property
    def names(self) -> tuple[str, ...]:
        return self.job.names

    def take(self, name: str) -> Outcome:
        """Wait for ``name``'s result; never a pass unless the background judged it."""
        if name not in self.job.names:
            return Outcome(fallback="not run in the background")
        path = self.dir / f"{name}.json"
        deadline = self._started + self.timeout
        while not path.exists():
            code = self.proc.poll()
            if code is not None:
                if path.exists():  # written just before the process ended
                    break
                if self._overdue:
                    return Outcome(error=self._overdue.format(name=name))
                return Outcome(fallback=self._died(name, code))
            if time.monotonic() > deadline:
                # Gates it finished keep their results; the others are errors, not reruns.
                self._overdue = (
                    "the background gate process did not finish {name!r} within "
                    f"{self.timeout:g} s (the sum of the gates' timeouts plus {GRACE:g} s); "
                    "it was stopped. Raise the gate's `timeout`, or run with --gates-inline "
                    "to see where it hangs"
                )
                self._stop()
                continue
            time.sleep(POLL)
        try:
            with heap.paused():  # all of a gate's findings at once (heap.py)
                data = json.loads(path.read_text(encoding="utf-8"))
                if "recompute" in data:
                    return Outcome(fallback=str(data["recompute"]))
                result = GateResult.from_dict(data)
            if result.gate != name:
                raise ValueError(f"a result for {result.gate!r}")
        except Exception as exc:  # unreadable results are recomputed, never trusted
            return Outcome(
                fallback=f"its background result was unreadable ({type(exc).__name__}: {exc})"
            )
        return Outcome(result=result)

    def _died(self, name: str, code: int) -> str:
        self._err.flush()
        self._err.seek(0)
        tail = self._err.read().decode("utf-8", "replace")[-STDERR_TAIL:].strip()
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        said = f": {tail}" if tail else ""
        return f"the background gate process {how} before {name!r} was judged{said}"

    def _stop(self) -> None:
        if self.proc.poll() is None:
            # SIGTERM first: the process kills its tools, each in a session of its own
            # that killing its group would not reach (:func:`_terminated`).
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def close(self) -> None:
        """Stop the process if it still runs (an interrupted session), remove its files."""
        self._stop()
        self._err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    # Coverage measuring subprocesses (pytest-cov, COVERAGE_PROCESS_START) would measure
    # the gates as if they were the project's tests: the background process is not.
    return {
        k: v
        for k, v in env.items()
        if not k.startswith(UNMEASURED) and k != "COVERAGE_PROCESS_START"
    }


def start(
    gates: Mapping[str, Gate],
    names: Sequence[str],
    *,
    timeouts: Mapping[str, float],
    pyproject: Path,
    cache_dir: Path | None,
    partial: Mapping[str, Any] | None = None,
) -> BackgroundGates | None:
    """Start the background process for those of ``names`` that may run there, if any."""
    chosen = tuple(n for n in names if n in gates and in_background(gates[n]))
    if not chosen:
        return None
    job = Job(
        pyproject=str(pyproject),
        names=chosen,
        cache_dir=str(cache_dir) if cache_dir is not None else None,
        partial=partial,
        parent=os.getpid(),
    )
    return BackgroundGates(job, timeout=sum(timeouts[n] for n in chosen) + GRACE)


def main(argv: Sequence[str] | None = None) -> int:
    """The background process: compute the job's gates, one result file each."""
    from . import __version__
    from .cache import ResultCache
    from .config import read_table
    from .plugin import load_project
    from .runner import GateRunner, PartialScan

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m pytest_platformgates.background DIRECTORY\n")
        return 2
    out = Path(args[0])
    job = Job.from_dict(json.loads((out / "job.json").read_text(encoding="utf-8")))
    source = Path(job.pyproject)
    raw = read_table(source)
    if raw is None:
        sys.stderr.write(f"{source}: no [tool.platformgates] table any more\n")
        return 2
    _, gates, settings = load_project(source, raw)
    cache = ResultCache(Path(job.cache_dir), __version__) if job.cache_dir else None
    partial = PartialScan.from_dict(job.partial) if job.partial is not None else None
    runner = GateRunner(settings, gates, cache, partial=partial)
    heap.tune_for_gates()  # this process runs nothing but gates, until it exits

    signal.signal(signal.SIGTERM, _terminated)
    if job.parent:
        threading.Thread(target=_orphaned, args=(job.parent, out), daemon=True).start()

    def one(name: str) -> None:
        try:
            data: dict[str, Any] = runner.result(name).to_dict()
        except BaseException as exc:  # pytest.skip() and friends: let the test process decide
            data = {"recompute": f"it stopped in the background ({type(exc).__name__})"}
        write_atomic(out / f"{name}.json", json.dumps(data).encode())

    with concurrent.futures.ThreadPoolExecutor(min(CONCURRENCY, len(job.names))) as pool:
        for future in [pool.submit(one, name) for name in job.names]:
            future.result()
    return 0


def _orphaned(parent: int, out: Path) -> None:
    """Exit as soon as the test process is gone (killed): nobody will read the results."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK)
    shutil.rmtree(out, ignore_errors=True)
    _exit_stopping_tools()


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM from the test process (an interrupted session): stop the tools, then exit."""
    _exit_stopping_tools()


def _exit_stopping_tools() -> None:
    from .process import stop_tools

    stop_tools()  # each tool has a session of its own: killing ours would not reach it
    os.killpg(os.getpgrp(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
