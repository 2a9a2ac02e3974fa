"""Benchmark the sast gate against the raw bandit CLI on real code.

    python benchmarks/bench_sast.py [--corpus django|sqlalchemy|all] [--repeat N]

Fetches the corpus wheels with pip (``pip download --no-deps``) into
``benchmarks/.corpus/sast/`` (gitignored), unpacks each into its own git repository (the
gate lists files with git), then times, on the same files:

- ``bandit -r . -f json`` (the raw CLI, one process),
- the gate cold (empty result cache; bandit sharded over the CPUs),
- the gate warm (same cache, nothing changed),

and checks that the findings are identical (file, line, test id, severity,
confidence). Times are wall-clock minima over ``--repeat`` runs, taken in
alternation so that load from other processes hits every contender alike, plus CPU
seconds, which other processes do not distort.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from corpus import download, git_repo, unpack

from pytest_platformgates.cache import ResultCache
from pytest_platformgates.config import build_settings
from pytest_platformgates.gate import GateContext
from pytest_platformgates.gates.sast import SastGate
from pytest_platformgates.inventory import Inventory

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / ".corpus" / "sast"  # our own: other benchmarks unpack other things
CORPORA = {"django": ("django", "5.2.8"), "sqlalchemy": ("sqlalchemy", "2.0.44")}
CONFIDENCE = re.compile(r"confidence (\w+)")


def fetch(name: str) -> Path:
    """Download and unpack one wheel as a git repository (the gate lists files with git)."""
    project, version = CORPORA[name]
    target = CORPUS_DIR / f"{name}-{version}-wheel"
    if (target / ".git").is_dir():
        return target
    unpack(download(project, version), target)
    git_repo(target, commit=False)
    return target


Found = Counter  # (file, line, test id, severity, confidence) -> how many


@dataclass(frozen=True)
class Timing:
    """One run: wall clock, and CPU seconds of this process and of its children."""

    wall: float
    cpu_self: float
    cpu_children: float
    processes: int = 1

    @property
    def idle_estimate(self) -> float:
        """The wall time on idle CPUs: our own CPU plus one (balanced) shard's."""
        return self.cpu_self + self.cpu_children / self.processes


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(fn):  # type: ignore[no-untyped-def]
    start, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    result = fn()
    return result, (
        time.perf_counter() - start,
        time.process_time() - cpu,
        _children_cpu() - children,
    )


def bandit_cli(root: Path) -> tuple[Timing, Found]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [sys.executable, "-m", "bandit", "-r", ".", "-f", "json", "-q", "-o", out.name]
        proc, times = _measure(
            lambda: subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
        )
        if proc.returncode not in (0, 1):
            raise SystemExit(f"bandit failed: {proc.stderr}")
        report = json.loads(Path(out.name).read_text())
    found = Counter(
        (
            r["filename"].removeprefix("./"),
            r["line_number"],
            r["test_id"],
            r["issue_severity"].lower(),
            r["issue_confidence"].lower(),
        )
        for r in report["results"]
    )
    unparsed = Counter(
        (e["filename"].removeprefix("./"), 0, "unparseable", "", "") for e in report["errors"]
    )
    wall, _, cpu_children = times
    return Timing(wall, 0.0, cpu_children), found + unparsed


def gate_run(root: Path, cache: ResultCache) -> tuple[Timing, Found]:
    def run():  # type: ignore[no-untyped-def]
        gate = SastGate()
        settings = build_settings(root, root / "pyproject.toml", {}, {"sast": gate})
        inventory = Inventory.scan(root)
        ctx = GateContext(
            settings=settings.gates["sast"], project=settings, inventory=inventory, cache=cache
        )
        return gate.check(ctx)

    analysis, times = _measure(run)
    if analysis.problems:
        raise SystemExit(f"the gate could not judge: {analysis.problems}")
    found = Counter(
        (
            f.path,
            f.line,
            f.rule,
            f.severity.label,
            CONFIDENCE.search(f.hint).group(1),  # type: ignore[union-attr]
        )
        for f in analysis.findings
        if re.fullmatch(r"B\d+", f.rule)
    )
    unparsed = Counter(
        (f.path, 0, f.rule, "", "") for f in analysis.findings if f.rule == "unparseable"
    )
    processes = int(analysis.figures.get("bandit_processes", 1))
    return Timing(*times, processes=processes), found + unparsed


def bench(name: str, repeat: int) -> None:
    root = fetch(name)
    files = sum(1 for _ in root.rglob("*.py"))
    cli_runs: list[Timing] = []
    cold_runs: list[Timing] = []
    warm_runs: list[Timing] = []
    cli_found = gate_found = Counter()
    for _ in range(repeat):
        timing, cli_found = bandit_cli(root)
        cli_runs.append(timing)
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResultCache(Path(tmp), "bench")
            timing, gate_found = gate_run(root, cache)
            cold_runs.append(timing)
            timing, warm_found = gate_run(root, cache)
            warm_runs.append(timing)
            if warm_found != gate_found:
                raise SystemExit("warm run findings differ from cold run findings")
    cli = min(t.wall for t in cli_runs)
    cold = min(t.wall for t in cold_runs)
    warm = min(t.wall for t in warm_runs)
    identical = cli_found == gate_found
    print(f"corpus {name}: {files} Python files, {cli_found.total()} bandit findings")
    print("  wall clock (minimum; every run in parentheses):")
    print(f"    bandit -r (CLI)   {cli:7.2f} s  ({_runs(cli_runs)})")
    print(f"    gate cold         {cold:7.2f} s  ({_runs(cold_runs)})  {cli / cold:5.2f}x")
    print(f"    gate warm         {warm:7.2f} s  ({_runs(warm_runs)})  {cli / warm:5.1f}x")
    # Wall clock on a shared machine measures the neighbours too. CPU seconds do not:
    # the CLI's are its wall time on an idle CPU; the gate's idle wall time is its own
    # CPU plus one shard's (shards are balanced by size).
    cli_cpu = min(t.cpu_children for t in cli_runs)
    best = min(cold_runs, key=lambda t: t.idle_estimate)
    print("  CPU seconds (load-independent):")
    print(f"    bandit -r (CLI)   {cli_cpu:7.2f} s")
    print(
        f"    gate cold         {best.cpu_self:7.2f} s in pytest + {best.cpu_children:.2f} s "
        f"in {best.processes} bandit processes = {best.idle_estimate:.2f} s on idle CPUs, "
        f"{cli_cpu / best.idle_estimate:.2f}x"
    )
    print(f"  findings identical: {'yes' if identical else 'NO'}")
    if not identical:
        for extra in sorted((gate_found - cli_found).elements())[:10]:
            print(f"    only the gate: {extra}")
        for missing in sorted((cli_found - gate_found).elements())[:10]:
            print(f"    only the CLI:  {missing}")
        raise SystemExit(1)


def _runs(runs: list[Timing]) -> str:
    return ", ".join(f"{t.wall:.2f}" for t in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=[*CORPORA, "all"], default="django")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; wall-clock minimum of {args.repeat} runs each")
    for name in CORPORA if args.corpus == "all" else [args.corpus]:
        bench(name, args.repeat)


if __name__ == "__main__":
    main()
