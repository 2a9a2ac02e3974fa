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
alternation so that load from other processes hits every contender alike.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

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
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*pip, "-d", str(CORPUS_DIR), f"{project}=={version}"], check=True)
    wheel = next(CORPUS_DIR.glob(f"{project}-{version}-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    return target


Found = Counter  # (file, line, test id, severity, confidence) -> how many


def bandit_cli(root: Path) -> tuple[float, Found]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "bandit", "-r", ".", "-f", "json", "-q", "-o", out.name],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
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
    return elapsed, found + unparsed


def gate_run(root: Path, cache: ResultCache) -> tuple[float, Found]:
    gate = SastGate()
    start = time.perf_counter()
    settings = build_settings(root, root / "pyproject.toml", {}, {"sast": gate})
    inventory = Inventory.scan(root)
    ctx = GateContext(
        settings=settings.gates["sast"], project=settings, inventory=inventory, cache=cache
    )
    analysis = gate.check(ctx)
    elapsed = time.perf_counter() - start
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
    return elapsed, found + unparsed


def bench(name: str, repeat: int) -> None:
    root = fetch(name)
    files = sum(1 for _ in root.rglob("*.py"))
    cli_times, cold_times, warm_times = [], [], []
    cli_found = gate_found = Counter()
    for _ in range(repeat):
        elapsed, cli_found = bandit_cli(root)
        cli_times.append(elapsed)
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResultCache(Path(tmp), "bench")
            elapsed, gate_found = gate_run(root, cache)
            cold_times.append(elapsed)
            elapsed, warm_found = gate_run(root, cache)
            warm_times.append(elapsed)
            if warm_found != gate_found:
                raise SystemExit("warm run findings differ from cold run findings")
    cli, cold, warm = min(cli_times), min(cold_times), min(warm_times)
    identical = cli_found == gate_found
    print(f"corpus {name}: {files} Python files, {cli_found.total()} bandit findings")
    shown = ", ".join(f"{t:.2f}" for t in cli_times)
    print(f"  bandit -r (CLI)   {cli:7.2f} s   (runs: {shown})")
    shown = ", ".join(f"{t:.2f}" for t in cold_times)
    print(
        f"  gate cold         {cold:7.2f} s   {cli / cold:5.2f}x faster than the CLI"
        f" (runs: {shown})"
    )
    print(f"  gate warm         {warm:7.2f} s   {cli / warm:5.1f}x faster than the CLI")
    print(f"  findings identical: {'yes' if identical else 'NO'}")
    if not identical:
        for extra in sorted((gate_found - cli_found).elements())[:10]:
            print(f"    only the gate: {extra}")
        for missing in sorted((cli_found - gate_found).elements())[:10]:
            print(f"    only the CLI:  {missing}")
        raise SystemExit(1)


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
