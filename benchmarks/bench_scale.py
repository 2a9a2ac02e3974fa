"""The scale curve: all gates cold and warm, and peak memory, at 1x, 2x and 4x corpus size.

    python benchmarks/bench_scale.py [--levels 1,2,4]

1x is the Django 5.2.8 wheel's files (41 MB); 2x adds the SQLAlchemy, Sphinx,
setuptools and pip wheels (about as much again); 4x is the 2x tree twice, in two
subdirectories. Each is a git repository under ``benchmarks/.corpus/scale/`` (wheels
fetched with pip, gitignored) with the gates of ``bench_all.py`` enabled. For each it
times ``pytest --gates-only`` cold (no result cache) and warm (nothing changed) and reads
the peak RSS of the largest single process of the run (pytest or any tool it started,
``getrusage(RUSAGE_CHILDREN)`` of a fresh parent per run), then prints a table.
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
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    gates = pytest_argv("--gates-only")
    rows = []
    print(f"start: {load()}")
    for level in levels:
        root = tree(level)
        files, size_bytes = size(root)
        measured(pytest_argv("--co", "--gates-only"), root)  # bytecode caches
        clear_caches(root)
        cold, _, cold_rss = measured(gates, root)
        warm, _, warm_rss = measured(gates, root)
        rows.append((level, files, size_bytes / 2**20, cold, warm, cold_rss, warm_rss))
        print(f"{level}x measured ({files} files): cold {cold:.2f} s, warm {warm:.2f} s")
    print()
    print("size  files   MB     cold s   cold/1x   warm s   warm/cold   peak RSS cold   warm")
    first = rows[0][3]
    for level, files, mb, cold, warm, cold_rss, warm_rss in rows:
        print(
            f"{level}x    {files:<6}  {mb:5.0f}  {cold:7.2f}   {cold / first:6.2f}   "
            f"{warm:6.2f}   {warm / cold:8.3f}   {cold_rss:8.0f} MB   {warm_rss:5.0f} MB"
        )
    print("targets (issue 8): cold near-linear, warm flat, peak RSS < 400 MB at 4x")
    print(f"end:   {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
