"""Running a gate's external tool so that every way it can go wrong is an error, never a pass."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from .gate import GateError

TAIL_LINES = 20


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
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    name = Path(argv[0]).name
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise GateError(
            f"{name} is not installed or not on PATH ({argv[0]}): install it in the "
            "environment pytest runs in, or correct the gate setting that names it"
        ) from None
    except subprocess.TimeoutExpired:
        raise GateError(
            f"{name} did not finish within {timeout:g} s and was stopped; raise the gate's "
            "`timeout` or narrow its files"
        ) from None
    except OSError as exc:
        raise GateError(f"{name} could not be started: {exc}") from None
    if proc.returncode not in ok_codes:
        raise GateError(f"{name} exited with code {proc.returncode}", stderr_tail(proc.stderr))
    return proc


def stderr_tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a tool's stderr: where tools say why they failed."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
