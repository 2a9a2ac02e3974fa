"""All gates together against the raw tools run one after another, on the Django wheel.

    python benchmarks/bench_all.py [--skip-raw]

Unpacks the Django 5.2.8 wheel (fetched with pip into ``benchmarks/.corpus/``, gitignored)
into a git repository with a ``[tool.platformgates]`` table enabling lint (check and
format), secrets, sast, deps (offline, against ``../shared/advisory-db``), licences and
the SBOM, and times, as a user would run them:

- the raw CLIs one after another on the same files: ``ruff check``, ``ruff format
  --check``, ``detect-secrets scan --all-files``, ``bandit -r``, ``cyclonedx-py
  environment`` (pip-audit has no offline mode, so its online run is not timed here;
  ``bench_deps.py`` compares the deps gate with pip-audit against a local OSV server);
- ``pytest --gates-only`` cold (no result cache), warm (nothing changed), with one
  file changed, and ``--gates-changed=HEAD`` with that one file changed and no result
  cache (file gates scan one file; the others judge the whole project);

and prints each time with its ratio (warm and one-file runs also with their CPU time).
Wall-clock times on a shared 2-core machine are noisy: run it twice and quote the second,
or compare revisions with ``bench_ab.py``. pytest starts with bytecode caches (as any machine
that ran it before), and without hypothesis's plugin, which our own test extra installs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from corpus import ADVISORIES, BIN, CORPUS, clear_caches, download, git_repo, load, timed, unpack

PYPROJECT = """\
[tool.pytest.ini_options]
# Makes this directory pytest's rootdir even inside another project's tree.

[tool.platformgates]
# The wheel ships a few compiled message catalogues and fonts that are not text.
exclude = ["**/*.mo"]

[tool.platformgates.gates.lint]
presets = []

[tool.platformgates.gates.deps]
database = "osv:{advisories}"

[tool.platformgates.gates.licenses]
unknown_severity = "low"
unknown_transitive_severity = "low"

[tool.platformgates.gates.pinning]
enabled = false   # a wheel has no requirement or lock files

[tool.platformgates.gates.coverage]
enabled = false   # no tests in a wheel

[tool.platformgates.gates.commits]
enabled = false
"""


def corpus() -> Path:
    target = CORPUS / "all-gates" / "django-5.2.8"
    if not (target / ".git").is_dir():
        unpack(download("django", "5.2.8"), target)
        (target / "pyproject.toml").write_text(PYPROJECT.format(advisories=ADVISORIES))
        git_repo(target)
    (target / "pyproject.toml").write_text(PYPROJECT.format(advisories=ADVISORIES))
    return target


def median_of(n: int, run: Callable[[int], tuple[float, int]]) -> tuple[float, float, int]:
    """The median wall and CPU time of ``n`` runs, and the last run's exit code.

    CPU time (user and system, of pytest and every process it started) moves less than
    wall time on a shared machine, whose other tenants take turns on the same cores.
    """
    times, cpus, code = [], [], 0
    for i in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, code = run(i)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(seconds)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpus), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-raw", action="store_true", help="time only the gates")
    args = parser.parse_args()
    root = corpus()
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
    print(f"corpus: {root} ({len(files.stdout.splitlines())} files)")
    print(f"start: {load()}")

    raw_total = 0.0
    if not args.skip_raw:
        raw = {
            "ruff check": [str(BIN / "ruff"), "check", "--no-cache", "."],
            "ruff format --check": [str(BIN / "ruff"), "format", "--check", "--no-cache", "."],
            "detect-secrets scan --all-files": [
                str(BIN / "detect-secrets"),
                "scan",
                "--all-files",
                "--no-verify",
                "--exclude-files",
                r"^\.git/",
            ],
            "bandit -r": [str(BIN / "bandit"), "-q", "-r", ".", "-f", "json", "-o", "/dev/null"],
            "cyclonedx-py environment": [
                str(BIN / "cyclonedx-py"),
                "environment",
                sys.executable,
                "--of",
                "JSON",
                "-o",
                "/dev/null",
            ],
        }
        for label, argv in raw.items():
            seconds, code = timed(argv, root)
            raw_total += seconds
            print(f"raw   {label:<34} {seconds:7.2f} s  (exit {code})")
        print(f"raw   {'sum, one after another':<34} {raw_total:7.2f} s")

    # hypothesis's pytest plugin is in this venv for our own tests, not the project's.
    pytest = [str(BIN / "pytest"), "--gates-only", "-q", "-p", "no:hypothesispytest"]
    timed([*pytest, "--co"], root)  # bytecode caches, as on any machine that ran pytest before
    clear_caches(root)
    cold, code = timed(pytest, root)
    print(f"gates cold                               {cold:7.2f} s  (exit {code})")
    # Warm and one-changed runs are short: the median of three, against the machine's noise.
    warm, warm_cpu, code = median_of(3, lambda _: timed(pytest, root))
    print(f"gates warm (nothing changed)             {warm:7.2f} s  (exit {code})")
    print(f"  its CPU time (pytest and its tools)    {warm_cpu:7.2f} s")
    changed = root / "django" / "utils" / "text.py"
    original = changed.read_bytes()
    try:

        def one_change(i: int) -> tuple[float, int]:
            changed.write_bytes(original + f"\n# change {i}\n".encode())
            return timed(pytest, root)

        one, one_cpu, code = median_of(3, one_change)
        print(f"gates with one file changed              {one:7.2f} s  (exit {code})")
        print(f"  its CPU time (pytest and its tools)    {one_cpu:7.2f} s")
        clear_caches(root)
        partial, code = timed([*pytest, "--gates-changed=HEAD"], root)
        print(f"--gates-changed=HEAD, no result cache    {partial:7.2f} s  (exit {code})")
    finally:
        changed.write_bytes(original)
    # The floor no gate can go under: Python and pytest starting with every plugin imported.
    with tempfile.TemporaryDirectory() as empty:
        floor, _, _ = median_of(3, lambda _: timed([*pytest, "--co"], Path(empty)))
    print(f"pytest start-up, empty directory         {floor:7.2f} s")
    if raw_total:
        print(f"cold / raw sum        {cold / raw_total:6.3f}   (issue 8 target: <= 0.3)")
    print(f"warm / cold           {warm / cold:6.3f}")
    print(f"one changed / cold    {one / cold:6.3f}   (issue 8 target: < 0.05)")
    print(f"  less start-up       {(one - floor) / cold:6.3f}   (the gates' own work)")
    # No schedule finishes before its CPU time spread over every core: the floor of this
    # run on this machine, whatever the gates overlap.
    cores = os.cpu_count() or 1
    bound = one_cpu / cores
    print(f"  CPU / {cores} cores       {bound / cold:6.3f}   ({bound:.2f} s: its bound here)")
    print(f"warm, less start-up   {warm - floor:6.2f} s")
    print(f"--gates-changed / cold {partial / cold:5.3f}")
    print(f"end:   {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
