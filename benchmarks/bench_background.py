"""Gates overlapping the tests: wall time with gates against the tests alone.

    python benchmarks/bench_background.py [--factor 1.5] [--tests 10]

Builds a project from part of the Django 5.2.8 wheel (``django/db``, ``django/core``,
``django/utils``; fetched with pip into ``benchmarks/.corpus/``) with lint, format,
secrets, sast, deps (offline), licences and the SBOM enabled, plus a test suite
whose tests each keep one core busy for a fixed wall time, so that the suite takes
``--factor`` times as long as the gates alone (calibrated by a cold ``--gates-only``
run). Then times, cold (no result cache):

- the tests alone (``--no-gates``);
- tests and gates, the gates in the background process (the default);
- tests and gates, the gates inline in the test process (``--gates-inline``);

and prints each against the tests alone (issue 8 target: background <= 1.1x).
Wall-clock times on a shared 2-core machine are noisy: run it twice, quote the second.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from corpus import ADVISORIES, CORPUS, clear_caches, git_repo, load, pytest_argv, timed, wheel_tree

PARTS = ("django/db", "django/core", "django/utils")

PYPROJECT = """\
[tool.pytest.ini_options]
testpaths = ["bench_tests"]

[tool.platformgates]
paths = {paths}
exclude = ["**/*.mo"]

[tool.platformgates.gates.lint]
presets = []

[tool.platformgates.gates.deps]
database = "osv:{advisories}"

[tool.platformgates.gates.licenses]
unknown_severity = "low"
unknown_transitive_severity = "low"

[tool.platformgates.gates.pinning]
enabled = false

[tool.platformgates.gates.coverage]
enabled = false

[tool.platformgates.gates.commits]
enabled = false
"""

TESTS = """\
import time

import pytest

SECONDS = {seconds!r}


@pytest.mark.parametrize("n", range({count}))
def test_work(n):
    # Keeps one core busy for a fixed wall time, like a CPU-bound test would.
    end = time.perf_counter() + SECONDS
    while time.perf_counter() < end:
        sum(range(1000))
"""


def project() -> Path:
    target = CORPUS / "background" / "django-part"
    if not (target / ".git").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        source = wheel_tree("django")
        for part in PARTS:
            shutil.copytree(source / part, target / part, ignore=shutil.ignore_patterns(".git"))
        paths = "[" + ", ".join(f'"{p}"' for p in PARTS) + "]"
        (target / "pyproject.toml").write_text(PYPROJECT.format(paths=paths, advisories=ADVISORIES))
        (target / "bench_tests").mkdir()
        (target / "bench_tests" / "test_work.py").write_text(TESTS.format(seconds=0.0, count=1))
        (target / ".gitignore").write_text("gate-evidence/\n__pycache__/\n")
        git_repo(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=float, default=1.5, help="tests' time / gates' time")
    parser.add_argument("--tests", type=int, default=10, help="how many tests share that time")
    args = parser.parse_args()
    root = project()
    tests = root / "bench_tests" / "test_work.py"
    timed(pytest_argv("--co", "--gates"), root)  # bytecode caches, as after any earlier run

    clear_caches(root)
    gates, _ = timed(pytest_argv("--gates-only"), root)
    print(f"corpus: {root} ({', '.join(PARTS)})")
    print(f"start: {load()}")
    print(f"gates alone, cold (--gates-only)            {gates:7.2f} s")
    per_test = gates * args.factor / args.tests
    tests.write_text(TESTS.format(seconds=round(per_test, 3), count=args.tests))

    alone, code = timed(pytest_argv("--no-gates"), root)
    print(f"tests alone (--no-gates)                    {alone:7.2f} s  (exit {code})")
    clear_caches(root)
    background, code = timed(pytest_argv("--gates"), root)
    print(f"tests + gates, background, cold             {background:7.2f} s  (exit {code})")
    warm, code = timed(pytest_argv("--gates"), root)
    print(f"tests + gates, background, warm             {warm:7.2f} s  (exit {code})")
    clear_caches(root)
    inline, code = timed(pytest_argv("--gates", "--gates-inline"), root)
    print(f"tests + gates, inline, cold                 {inline:7.2f} s  (exit {code})")
    print(f"background cold / tests alone  {background / alone:6.3f}   (issue 8 target: <= 1.1)")
    print(f"background warm / tests alone  {warm / alone:6.3f}")
    print(f"inline cold / tests alone      {inline / alone:6.3f}")
    print(f"end:   {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
