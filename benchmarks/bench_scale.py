"""The scale curve: all gates cold and warm, and peak memory, at 1x, 2x and 4x corpus size.

    python benchmarks/bench_scale.py [--levels 1,2,4]

1x is the Django 5.2.8 wheel's files (41 MB); 2x adds the SQLAlchemy, Sphinx,
setuptools and pip wheels (about as much again); 4x is the 2x tree twice, in two
subdirectories. Each is a git repository under ``benchmarks/.corpus/scale/`` (wheels
fetched with pip, gitignored) with the gates of ``bench_all.py`` enabled. For each it
times ``pytest --gates-only`` cold (no result cache) and warm (nothing changed) and reads
the peak RSS of the largest single process of the run (pytest or any tool it started,
``getrusage(RUSAGE_CHILDREN)`` of a fresh parent per run). Then, for the overlap at
scale, a session of one test (``bench_tests/``) that keeps a core busy for ``--factor``
times the warm gates' time, so that the test outlasts the gates, warm: the test alone
(``--no-gates``) against the test with the gates (``--gates``); what the second takes
beyond the first is the gates' work left after the test: reading their findings back
from the background process, writing the evidence. A table of it all ends the output.
Wall-clock times on a shared 2-core machine are noisy: run it twice, quote the second.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bench_all import PYPROJECT
from corpus import (
    ADVISORIES,
    CORPUS,
    clear_caches,
    git_repo,
    load,
    measured,
    pytest_argv,
    size,
    wheel_tree,
)

HALF = ("django",)
TEST = """\
import time

SECONDS = {seconds!r}


def test_busy():
    # Keeps one core busy for a fixed wall time, like a CPU-bound test would.
    end = time.perf_counter() + SECONDS
    while time.perf_counter() < end:
        sum(range(1000))
"""
DOUBLE = ("django", "sqlalchemy", "sphinx", "setuptools", "pip")


def tree(level: int) -> Path:
    target = CORPUS / "scale" / f"{level}x"
    if (target / ".git").is_dir():
        return target
    shutil.rmtree(target, ignore_errors=True)
    names = HALF if level == 1 else DOUBLE
    copies = max(1, level // 2) if level > 1 else 1
    for copy in range(copies):
        base = target / f"copy{copy}" if copies > 1 else target
        for name in names:
            shutil.copytree(wheel_tree(name), base / name, ignore=shutil.ignore_patterns(".git"))
    (target / "pyproject.toml").write_text(PYPROJECT.format(advisories=ADVISORIES))
    return git_repo(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,2,4", help="corpus sizes to measure")
    parser.add_argument(
        "--factor", type=float, default=1.5, help="the test's time over the warm gates' time"
    )
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    gates = pytest_argv("--gates-only")
    alone = pytest_argv("--no-gates", "bench_tests")
    overlapped = pytest_argv("--gates", "bench_tests")
    rows = []
    print(f"start: {load()}")
    for level in levels:
        root = tree(level)
        tests = root / "bench_tests"
        tests.mkdir(exist_ok=True)
        (tests / "test_busy.py").write_text(TEST.format(seconds=0.0))  # gated from cold on
        files, size_bytes = size(root)
        measured(pytest_argv("--co", "--gates-only"), root)  # bytecode caches
        clear_caches(root)
        cold, _, cold_rss = measured(gates, root)
        warm, _, warm_rss = measured(gates, root)
        (tests / "test_busy.py").write_text(TEST.format(seconds=round(args.factor * warm, 1)))
        measured(gates, root)  # the test file changed: gated once more, so the rest is warm
        test_alone, _, _ = measured(alone, root)
        with_gates, _, _ = measured(overlapped, root)
        rows.append(
            (
                level,
                files,
                size_bytes / 2**20,
                cold,
                warm,
                cold_rss,
                warm_rss,
                test_alone,
                with_gates,
            )
        )
        print(
            f"{level}x measured ({files} files): cold {cold:.2f} s, warm {warm:.2f} s, "
            f"test alone {test_alone:.2f} s, test and gates {with_gates:.2f} s"
        )
    print()
    print(
        "size  files   MB     cold s   cold/1x   warm s   warm/cold   peak RSS cold   warm"
        "   test alone   + gates   ratio"
    )
    first = rows[0][3]
    for level, files, mb, cold, warm, cold_rss, warm_rss, test_alone, with_gates in rows:
        print(
            f"{level}x    {files:<6}  {mb:5.0f}  {cold:7.2f}   {cold / first:6.2f}   "
            f"{warm:6.2f}   {warm / cold:8.3f}   {cold_rss:8.0f} MB   {warm_rss:5.0f} MB"
            f"   {test_alone:7.2f} s   {with_gates:5.2f} s   {with_gates / test_alone:.3f}x"
        )
    print(
        "targets (issue 8): cold near-linear, warm flat, peak RSS < 400 MB at 4x; "
        "test and gates <= 1.1x the test alone"
    )
    print(f"end:   {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
