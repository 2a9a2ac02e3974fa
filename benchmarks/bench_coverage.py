"""Benchmark of the coverage gate against coverage.py's CLI and pytest-cov on a real suite.

Run: ``python benchmarks/bench_coverage.py [--runs N] [--workers 2]``.

The corpus is more-itertools' sdist (its package and its pytest suite, 765 tests with
~21k subtests), fetched with ``pip download --no-binary`` into ``benchmarks/.corpus/``
(gitignored) and set up as a git repository whose ``[tool.platformgates]`` enables only
the coverage gate. Each configuration runs the same suite:

- ``pytest`` alone, with no measurement: the floor;
- ``coverage run -m pytest`` then ``coverage report``: the raw CLI;
- ``pytest --cov`` (pytest-cov, when installed);
- ``pytest`` with the coverage gate (measurement in the session, judged by the gate
  item); the gate item's own duration is read from JUnit and compared with
  ``coverage report`` on the same data;
- the last two again under pytest-xdist with ``--workers`` processes.

It prints medians of wall-clock seconds and ratios, and checks that the gate's figure
equals coverage's own report. Timings on a shared machine are noisy: compare ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpus import download, git_repo, junit_gate_properties, unpack

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / ".corpus"
PACKAGE = "more-itertools"
VERSION = "11.2.1"
QUIET = ["-q", "-p", "no:randomly", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"]


def fetch() -> Path:
    """The sdist, unpacked once; a fresh git repository for the runs."""
    unpacked = CORPUS_DIR / f"more_itertools-{VERSION}"
    if not unpacked.is_dir():
        unpack(download(PACKAGE, VERSION, sdist=True), CORPUS_DIR)
    work = CORPUS_DIR / "coverage-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    for part in ("more_itertools", "tests"):
        shutil.copytree(unpacked / part, work / part)
    gates = subprocess.run(
        [sys.executable, "-c", "from pytest_platformgates.gates import BUILTIN; print(*BUILTIN)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tables = "".join(
        f"\n[tool.platformgates.gates.{name}]\nenabled = false\n"
        for name in (m.rsplit(".", 1)[-1] for m in gates)
        if name != "coverage"
    )
    (work / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\n\n'
        '[tool.platformgates]\npaths = ["more_itertools", "tests"]\n'
        "\n[tool.platformgates.gates.coverage]\nline = 0\n"
        + tables
        + '\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
    )
    (work / ".gitignore").write_text(".coverage*\ngate-evidence/\njunit.xml\n")
    return git_repo(work)


def timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}")
    return wall, proc.stdout


def gate_props(work: Path) -> dict[str, str]:
    return junit_gate_properties(work / "junit.xml")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = fetch()
    py = sys.executable
    no_gates = ["-p", "no:platformgates"]
    has_cov = importlib.util.find_spec("pytest_cov") is not None
    has_xdist = importlib.util.find_spec("xdist") is not None

    samples: dict[str, list[float]] = {}
    gate_durations: list[float] = []
    report_walls: list[float] = []
    figures: dict[str, str] = {}
    for _ in range(args.runs):
        wall, _ = timed([py, "-m", "pytest", *QUIET, *no_gates, "tests"], work)
        samples.setdefault("pytest, no measurement", []).append(wall)

        wall, _ = timed(
            [py, "-m", "coverage", "run", "-m", "pytest", *QUIET, *no_gates, "tests"], work
        )
        report_wall, report = timed(
            [py, "-m", "coverage", "report", "--include=more_itertools/*"], work
        )
        samples.setdefault("coverage run + coverage report", []).append(wall + report_wall)
        report_walls.append(report_wall)
        total = re.search(r"^TOTAL\s+(\d+)\s+(\d+)", report, re.MULTILINE)
        if total:
            figures["coverage report statements/missed"] = f"{total[1]}/{total[2]}"

        if has_cov:
            wall, _ = timed(
                [py, "-m", "pytest", *QUIET, *no_gates, "--cov=more_itertools", "tests"], work
            )
            samples.setdefault("pytest-cov", []).append(wall)

        wall, _ = timed([py, "-m", "pytest", *QUIET, "--junitxml=junit.xml"], work)
        samples.setdefault("pytest + coverage gate", []).append(wall)
        props = gate_props(work)
        gate_durations.append(float(props["gate.duration"]))
        figures["gate statements/missed"] = (
            f"{props['gate.figure.statements']}/"
            f"{int(props['gate.figure.statements']) - int(props['gate.figure.statements_run'])}"
        )
        figures["gate line percent"] = props["gate.figure.line_percent"]
        report_json = json.loads((work / "gate-evidence" / "coverage.json").read_text())
        figures["gate files"] = str(len(report_json["files"]))

        if has_xdist:
            n = ["-n", str(args.workers)]
            wall, _ = timed([py, "-m", "pytest", *QUIET, *n, "--junitxml=junit.xml"], work)
            samples.setdefault(f"pytest -n {args.workers} + coverage gate", []).append(wall)
            figures["gate line percent under xdist"] = gate_props(work)["gate.figure.line_percent"]
            if has_cov:
                wall, _ = timed(
                    [py, "-m", "pytest", *QUIET, *no_gates, *n, "--cov=more_itertools", "tests"],
                    work,
                )
                samples.setdefault(f"pytest-cov -n {args.workers}", []).append(wall)

    floor = median(samples["pytest, no measurement"])
    cli = median(samples["coverage run + coverage report"])
    print(f"corpus: {PACKAGE} {VERSION} (runs: {args.runs}; wall-clock seconds, medians)")
    for name, values in samples.items():
        m = median(values)
        print(f"  {name:<36} {m:7.2f} s   x{m / floor:4.2f} of none   x{m / cli:4.2f} of CLI")
    gate = median(gate_durations)
    report = median(report_walls)
    print(f"  gate item (analysis + thresholds)   {gate:7.2f} s")
    print(
        f"  `coverage report` process           {report:7.2f} s   gate/report x{gate / report:4.2f}"
    )
    for key, value in figures.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
