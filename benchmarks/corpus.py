"""The benchmarks' shared corpora: real packages fetched with pip, unpacked as git repositories.

Everything lands in ``benchmarks/.corpus/`` (gitignored). Wheels and sdists are
fetched once with ``pip download --no-deps`` and unpacked into a directory that is
also a git repository, because the gates list a project's files with git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / ".corpus"
ADVISORIES = HERE.parent.parent / "shared" / "advisory-db"
BIN = Path(sys.executable).parent

# Pure-Python wheels of real projects, largest first: the scale curve concatenates them.
WHEELS: Mapping[str, str] = {
    "django": "5.2.8",
    "sqlalchemy": "2.0.44",
    "sphinx": "8.2.3",
    "babel": "2.17.0",
    "setuptools": "80.9.0",
    "pip": "25.3",
}

# Python as users run it: with bytecode caches (this workplace sets PYTHONDONTWRITEBYTECODE,
# which makes every pytest start re-compile, and re-rewrite, every plugin module).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def download(project: str, version: str, *, sdist: bool = False) -> Path:
    """The wheel (or sdist) of ``project==version`` in ``.corpus/``, fetched with pip once."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    stem = project.replace("-", "_")
    pattern = f"{stem}-{version}.tar.gz" if sdist else f"{stem}-{version}-*.whl"
    found = sorted(CORPUS.glob(pattern))
    if not found:
        kind = "--no-binary=:all:" if sdist else "--only-binary=:all:"
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", kind, "-d", str(CORPUS)]
        subprocess.run([*pip, f"{project}=={version}"], check=True)
        found = sorted(CORPUS.glob(pattern))
    if not found:
        raise SystemExit(f"pip did not leave {pattern} in {CORPUS}")
    return found[0]


def unpack(archive: Path, target: Path) -> Path:
    """Extract a wheel or an sdist into ``target`` (created); nothing may land outside it."""
    target.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".whl":
        shutil.unpack_archive(archive, target, format="zip")  # zip names never leave target
    else:
        shutil.unpack_archive(archive, target, filter="data")
    return target


def wheel_tree(name: str, target: Path | None = None) -> Path:
    """One of :data:`WHEELS` unpacked (not a repository), e.g. ``.corpus/trees/django-5.2.8``."""
    version = WHEELS[name]
    target = target or CORPUS / "trees" / f"{name}-{version}"
    if not target.is_dir():
        unpack(download(name, version), target)
    return target


def git_repo(target: Path, *, commit: bool = True) -> Path:
    """Make ``target`` a git repository, its files committed (idempotent)."""
    if not (target / ".git").is_dir():
        subprocess.run([*GIT, "init", "-q", "-b", "main", str(target)], check=True)
    if commit:
        subprocess.run([*GIT, "add", "-A"], cwd=target, check=True)
        subprocess.run([*GIT, "commit", "-qm", "corpus", "--allow-empty"], cwd=target, check=True)
    return target


def combined(names: Sequence[str], target: Path) -> Path:
    """Several wheels side by side in one git repository, one subdirectory each."""
    if (target / ".git").is_dir():
        return target
    for name in names:
        shutil.copytree(wheel_tree(name), target / name, ignore=shutil.ignore_patterns(".git"))
    return git_repo(target)


def size(root: Path) -> tuple[int, int]:
    """Files and bytes git lists under ``root``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = [root / os.fsdecode(n) for n in listed if n]
    return len(files), sum(f.stat().st_size for f in files if f.is_file())


def timed(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[float, int]:
    """Wall seconds and exit code of ``argv``, its output discarded."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(ENV if env is None else env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, proc.returncode


def junit_gate_properties(junit: Path) -> dict[str, str]:
    """Every gate property of a JUnit file as ``gate.NAME`` (one gate per benchmark run).

    Under pytest's default junit_family (xunit2) they are <testsuite> properties named
    ``platformgates.<gate>.NAME``; under xunit1 they are on the gate's <testcase> as ``gate.NAME``.
    """
    import xml.etree.ElementTree as ET

    props = {}
    for prop in ET.parse(junit).getroot().iter("property"):
        name = str(prop.get("name", ""))
        if name.startswith("platformgates."):
            name = "gate." + name.split(".", 2)[-1]
        props[name] = str(prop.get("value", ""))
    return props


def pytest_argv(*args: str) -> list[str]:
    """pytest as a project would run it (hypothesis's plugin is our test extra, not theirs)."""
    return [str(BIN / "pytest"), "-q", "-p", "no:hypothesispytest", *args]


def clear_caches(root: Path, extra: Iterable[str] = ()) -> None:
    """Remove pytest's cache (and with it the gates' result cache) and ``extra`` paths."""
    for rel in (".pytest_cache", *extra):
        shutil.rmtree(root / rel, ignore_errors=True)


# Runs argv as its child and reports the largest RSS of any process in that tree it reaped:
# a fresh parent per measurement, as RUSAGE_CHILDREN only ever grows within a process.
_MEASURE = """\
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
print(wall, code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measured(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[float, int, float]:
    """Wall seconds, exit code and peak RSS in MB (largest single process) of ``argv``."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv],
        cwd=cwd,
        env=dict(ENV if env is None else env),
        capture_output=True,
        text=True,
        check=True,
    )
    wall, code, rss_kb = proc.stdout.split()
    return float(wall), int(code), int(rss_kb) / 1024


def load() -> str:
    """The machine's load averages, printed beside figures: wall times mean little without."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
