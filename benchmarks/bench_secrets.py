"""Benchmark the secrets gate against the raw detect-secrets CLI on real code.

    python benchmarks/bench_secrets.py [--corpus django|sqlalchemy|all] [--repeat N]

Fetches the corpus wheels with pip (``pip download --no-deps``) into
``benchmarks/.corpus/`` (gitignored), unpacks each into its own git repository
(``benchmarks/.corpus/wheels/<name>-<version>``), then
times, on the same files:

- ``detect-secrets scan --all-files --no-verify`` (the raw CLI; it uses a process per
  CPU; ``.git/`` is excluded so that both see exactly the wheel's files),
- the gate cold (empty result cache; a worker per CPU),
- the gate warm (same cache, nothing changed),

and checks that the findings are identical (file, line, type and hashed secret).
Times are wall-clock minima over ``--repeat`` runs, taken in alternation so that load
from other processes hits every contender alike; CPU seconds (own plus children's)
are printed beside them, being less sensitive to a shared machine.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from corpus import download, git_repo, unpack

from pytest_platformgates.cache import ResultCache
from pytest_platformgates.config import build_settings
from pytest_platformgates.gate import GateContext
from pytest_platformgates.gates.secrets import SecretsGate
from pytest_platformgates.inventory import Inventory

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / ".corpus"
CORPORA = {"django": ("django", "5.2.8"), "sqlalchemy": ("sqlalchemy", "2.0.44")}
FINDING = re.compile(r"^(?P<type>.+?) \[redacted, \d+ characters\], hashed_secret (?P<hash>\w+)")

Found = set[tuple[str, int, str, str]]  # (file, line, type, hashed secret)


def fetch(name: str) -> Path:
    """Download and unpack one wheel as a git repository (the gate lists files with git)."""
    project, version = CORPORA[name]
    target = CORPUS_DIR / "wheels" / f"{name}-{version}"  # the wheel's files, nothing else
    if (target / ".git").is_dir():
        return target
    unpack(download(project, version), target)
    git_repo(target, commit=False)
    return target


def out(line: str = "") -> None:
    """The report is this script's output (stdout), not a debugging trace."""
    sys.stdout.write(line + "\n")


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float  # this process and its children, user + system


class Clock:
    def __enter__(self) -> Clock:
        self.start = time.perf_counter()
        self.cpu0 = _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timed = Timed(time.perf_counter() - self.start, _cpu() - self.cpu0)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def detect_secrets_cli(root: Path) -> tuple[Timed, Found]:
    argv = [sys.executable, "-m", "detect_secrets", "scan", "--all-files", "--no-verify"]
    argv += ["--exclude-files", r"^\.git/"]
    with tempfile.TemporaryFile("w+") as out:
        with Clock() as clock:
            proc = subprocess.run(argv, cwd=root, stdout=out, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"detect-secrets failed: {proc.stderr}")
        out.seek(0)
        report = json.load(out)
    found = {
        (path, entry["line_number"], entry["type"], entry["hashed_secret"])
        for path, entries in report["results"].items()
        for entry in entries
    }
    return clock.timed, found


@dataclass(frozen=True)
class GateRun:
    timed: Timed
    found: Found
    unscannable: list[str]
    figures: dict[str, object]


def gate_run(root: Path, cache: ResultCache) -> GateRun:
    gate = SecretsGate()
    with Clock() as clock:
        raw = {"gates": {"secrets": {}}}
        settings = build_settings(root, root / "pyproject.toml", raw, {"secrets": gate})
        inventory = Inventory.scan(root)
        ctx = GateContext(
            settings=settings.gates["secrets"], project=settings, inventory=inventory, cache=cache
        )
        analysis = gate.check(ctx)
    if analysis.problems:
        raise SystemExit(f"the gate could not judge: {analysis.problems}")
    found: Found = set()
    unscannable = []
    for f in analysis.findings:
        if f.rule == "unscannable-file":
            unscannable.append(f.path)
            continue
        match = FINDING.match(f.message)
        if match is None:
            raise SystemExit(f"unexpected finding: {f.rule} at {f.location}")
        found.add((f.path, f.line, match["type"], match["hash"]))
    return GateRun(clock.timed, found, unscannable, dict(analysis.figures))


def bench(name: str, repeat: int) -> bool:
    root = fetch(name)
    files = sum(1 for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    out(f"\n== {name}: {files} files in {root}")
    cli_times, cold_times, warm_times = [], [], []
    cli_found: Found = set()
    cold = warm = None
    for i in range(repeat):
        cli_time, cli_found = detect_secrets_cli(root)
        cli_times.append(cli_time)
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResultCache(Path(tmp), "bench")
            cold = gate_run(root, cache)
            warm = gate_run(root, cache)
        cold_times.append(cold.timed)
        warm_times.append(warm.timed)
        out(
            f"  run {i + 1}: cli {cli_time.wall:6.2f} s   gate cold {cold.timed.wall:6.2f} s"
            f"   warm {warm.timed.wall:5.2f} s"
        )
    if cold is None or warm is None:
        raise SystemExit("--repeat must be at least 1")
    cli_best = min(cli_times, key=lambda t: t.wall)
    cold_best = min(cold_times, key=lambda t: t.wall)
    warm_best = min(warm_times, key=lambda t: t.wall)
    same = cold.found == cli_found and warm.found == cli_found
    figures = cold.figures
    out(f"  detect-secrets CLI : {cli_best.wall:6.2f} s wall  {cli_best.cpu:6.2f} s CPU")
    out(f"  gate, cold         : {cold_best.wall:6.2f} s wall  {cold_best.cpu:6.2f} s CPU")
    out(f"  gate, warm         : {warm_best.wall:6.2f} s wall  {warm_best.cpu:6.2f} s CPU")
    out(
        f"  cold speed-up      : {cli_best.wall / cold_best.wall:6.1f}x wall "
        f"{cli_best.cpu / cold_best.cpu:6.1f}x CPU"
    )
    out(f"  warm speed-up      : {cli_best.wall / warm_best.wall:6.1f}x wall")
    out(
        f"  lines              : {figures.get('lines')} read, "
        f"{figures.get('lines_dispatched')} handed to detect-secrets' plugins "
        f"({figures.get('workers')} workers)"
    )
    out(
        f"  files              : {figures.get('files_checked')} in scope, "
        f"{figures.get('files_skipped')} skipped by detect-secrets' filters, "
        f"{figures.get('files_skipped_binary', 0)} binary with non-text names, "
        f"{len(cold.unscannable)} unscannable (critical findings, not in the CLI's report)"
    )
    out(f"  secrets            : {len(cli_found)} by the CLI, {len(cold.found)} by the gate")
    out(f"  identical findings : {'yes' if same else 'NO'}")
    if not same:
        for item in sorted(cli_found - cold.found):
            out(f"    only the CLI: {item}")
        for item in sorted(cold.found - cli_found):
            out(f"    only the gate: {item}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=[*CORPORA, "all"], default="django")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    names = list(CORPORA) if args.corpus == "all" else [args.corpus]
    ok = all([bench(name, args.repeat) for name in names])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
