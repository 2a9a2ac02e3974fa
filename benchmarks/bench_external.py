"""Benchmark a ``kind = "sarif"`` gate against the raw tool it wraps, on real code.

    python benchmarks/bench_external.py [--corpus django|sqlalchemy] [--repeat N]

Fetches the corpus wheel with pip (``pip download --no-deps``) into
``benchmarks/.corpus/external/`` (gitignored), unpacks it into a git repository (the
inventory lists files with git), then times, on the same files:

- ``ruff check --no-cache --output-format sarif <files>`` (the raw CLI),
- the gate cold (empty result cache): the same command, plus reading its SARIF into
  findings,
- the gate warm (same cache, nothing changed): the covered files' hashes match, so
  the command does not run,

and checks that the gate reports as many findings as the raw SARIF has results. The
inventory scan (shared by every gate of a session) is timed separately. Times are
wall-clock minima over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from corpus import download, git_repo, unpack
from ruff.__main__ import find_ruff_bin

from pytest_platformgates.cache import ResultCache
from pytest_platformgates.config import build_settings
from pytest_platformgates.gate import GateContext
from pytest_platformgates.gates.external import SarifGate
from pytest_platformgates.inventory import Inventory

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / ".corpus" / "external"
CORPORA = {"django": ("django", "5.2.8"), "sqlalchemy": ("sqlalchemy", "2.0.44")}
SELECT = "E,F,W,B,UP"  # a realistic rule set with findings on this code


def fetch(name: str) -> Path:
    project, version = CORPORA[name]
    target = CORPUS_DIR / f"{name}-{version}"
    if (target / ".git").is_dir():
        return target
    unpack(download(project, version), target)
    (target / "pyproject.toml").write_text("[tool.ruff]\n", encoding="utf-8")
    git_repo(target, commit=False)
    return target


def command() -> list[str]:
    ruff = str(find_ruff_bin())
    return [ruff, "check", "--no-cache", "--select", SELECT, "--output-format", "sarif"]


def raw_run(root: Path, files: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        [*command(), *files], cwd=root, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"ruff failed: {proc.stderr[-2000:]}")
    return elapsed, len(json.loads(proc.stdout)["runs"][0]["results"])


def gate_run(root: Path, inventory: Inventory, cache: ResultCache) -> tuple[float, int, int]:
    gate = SarifGate("ruff-sarif", "ruff's SARIF")
    raw = {
        "gates": {
            "ruff-sarif": {
                "kind": "sarif",
                "command": [*command(), "{files}"],
                "paths": ["**/*.py"],
                "exit_codes": [0, 1],
            }
        }
    }
    settings = build_settings(root, root / "pyproject.toml", raw, {"ruff-sarif": gate})
    ctx = GateContext(
        settings=settings.gates["ruff-sarif"], project=settings, inventory=inventory, cache=cache
    )
    start = time.perf_counter()
    analysis = gate.check(ctx)
    elapsed = time.perf_counter() - start
    if analysis.problems:
        raise SystemExit(f"the gate could not judge: {analysis.problems}")
    return elapsed, len(analysis.findings), int(analysis.figures.get("files_cached", 0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="django")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = fetch(args.corpus)

    start = time.perf_counter()
    inventory = Inventory.scan(root)
    scan = time.perf_counter() - start
    files = sorted(f.path for f in inventory.files if f.path.endswith(".py"))

    raw_times, cold_times, warm_times = [], [], []
    raw_count = cold_count = warm_count = 0
    for _ in range(args.repeat):
        elapsed, raw_count = raw_run(root, files)
        raw_times.append(elapsed)
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResultCache(Path(tmp), "bench")
            elapsed, cold_count, cached = gate_run(root, inventory, cache)
            assert cached == 0
            cold_times.append(elapsed)
            elapsed, warm_count, cached = gate_run(root, inventory, cache)
            assert cached == len(files), (cached, len(files))
            warm_times.append(elapsed)
    if not raw_count == cold_count == warm_count:
        raise SystemExit(f"finding counts differ: raw {raw_count}, {cold_count}, {warm_count}")
    raw, cold, warm = min(raw_times), min(cold_times), min(warm_times)
    print(f"corpus: {args.corpus}, {len(files)} Python files, {raw_count} results ({SELECT})")
    print(f"inventory scan (shared by all gates): {scan:.3f} s")
    print(f"raw ruff --output-format sarif:        {raw:.3f} s")
    print(f"gate cold (ruff + SARIF -> findings):   {cold:.3f} s  ({cold / raw:.2f}x raw)")
    print(f"gate warm (cache hit, ruff not run):    {warm:.3f} s  ({warm / raw:.3f}x raw)")


if __name__ == "__main__":
    main()
