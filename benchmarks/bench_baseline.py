"""Benchmark the findings baseline on real legacy code: Django 5.2.8 under sast and lint.

    python benchmarks/bench_baseline.py [--repeat N]

Unpacks the Django wheel (fetched with pip into ``benchmarks/.corpus/``, gitignored)
as a git repository with the sast (bandit) and lint (ruff) gates at ``fail_on = "low"``,
so that every finding would block, then measures:

- ``platformgates baseline`` from scratch (the gates run in that process),
- ``pytest --gates-only`` with a warm cache, without and with the baseline (the cost of
  matching, next to the gates' own work), and ``baseline.apply`` alone, in process,
- a refactor: a comment line inserted at the top of every file that has a finding: every
  entry must still match (``platformgates baseline`` exits 0, nothing new, nothing stale).

Times are wall-clock minima over ``--repeat`` runs on a shared machine (noisy).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from corpus import BIN, CORPUS, ENV, git_repo, pytest_argv, timed, wheel_tree

TARGET = CORPUS / "baseline" / "django"
BASELINE = ".platformgates-baseline.json"
DISABLED = ("coverage", "deps", "pinning", "licenses", "sbom", "secrets", "commits")


def prepare() -> Path:
    if TARGET.exists():
        shutil.rmtree(TARGET)
    shutil.copytree(wheel_tree("django"), TARGET)
    # Its own pytest rootdir: without an ini section pytest would walk up to ours.
    lines = [
        "[tool.pytest.ini_options]",
        "[tool.platformgates]",
        'fail_on = "low"',
        'base = "main"',
    ]
    lines += ["[tool.platformgates.gates.lint]", "format = false"]
    lines += ["[tool.platformgates.gates.sast]"]
    for name in DISABLED:
        lines += [f"[tool.platformgates.gates.{name}]", "enabled = false"]
    (TARGET / "pyproject.toml").write_text("\n".join(lines) + "\n")
    (TARGET / ".gitignore").write_text("gate-evidence/\n.pytest_cache/\n")
    return git_repo(TARGET)


def baseline_cli(*args: str) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "platformgates"), "baseline", *args],
        cwd=TARGET,
        env=ENV,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, proc.returncode, proc.stdout + proc.stderr


def apply_in_process() -> tuple[float, int, int]:
    """Seconds for baseline.apply over both gates' findings (gates run once, cached)."""
    from pytest_platformgates import baseline, policy
    from pytest_platformgates.cache import ResultCache
    from pytest_platformgates.config import plugin_modules, read_table
    from pytest_platformgates.gate import GateContext
    from pytest_platformgates.manager import collect_gates, create_plugin_manager
    from pytest_platformgates.runner import GateRunner

    source = TARGET / "pyproject.toml"
    resolved = policy.resolve(source, read_table(source) or {})
    gates = collect_gates(
        create_plugin_manager(plugin_modules(resolved.raw, source), TARGET), resolved.raw
    )
    settings = policy.settle(resolved, TARGET, gates)
    cache = ResultCache(TARGET / ".pytest_cache" / "d" / "platformgates", "bench")
    runner = GateRunner(settings, {n: gates[n] for n in ("lint", "sast")}, cache)
    total = 0.0
    findings = debt = 0
    for name in ("lint", "sast"):
        gs = settings.gates[name]
        ctx = GateContext(settings=gs, project=settings, inventory=runner.inventory, cache=cache)
        analysis = gates[name].check(ctx)
        start = time.perf_counter()
        marked = baseline.apply(settings, name, analysis, gs)
        total += time.perf_counter() - start
        findings += len(analysis.findings)
        debt += sum(1 for f in marked.findings if f.known_debt)
    return total, findings, debt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = prepare()
    print(f"corpus: {root}")

    seconds, code, out = baseline_cli()
    entries = json.loads((root / BASELINE).read_text())["entries"]
    per_gate = Counter(e["gate"] for e in entries)
    print(f"platformgates baseline (cold, no cache): {seconds:.2f} s, exit {code}")
    print(
        f"  entries: {len(entries)} ({', '.join(f'{g} {n}' for g, n in sorted(per_gate.items()))})"
    )
    size = (root / BASELINE).stat().st_size
    print(f"  file: {size / 1024:.0f} kB, {size / max(len(entries), 1):.0f} bytes an entry")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "baseline"],
        cwd=root,
        check=True,
    )

    argv = pytest_argv("--gates-only", "-p", "no:randomly")
    timed(argv, root)  # warm the result cache
    moved = root / (BASELINE + ".off")
    with_b, without_b = [], []
    for _ in range(args.repeat):
        t, rc_with = timed(argv, root)
        with_b.append(t)
        (root / BASELINE).rename(moved)
        t, rc_without = timed(argv, root)
        without_b.append(t)
        moved.rename(root / BASELINE)
    print(
        f"pytest --gates-only, warm cache: without baseline {min(without_b):.2f} s (exit "
        f"{rc_without}), with {min(with_b):.2f} s (exit {rc_with})"
    )
    seconds, findings, debt = apply_in_process()
    print(
        f"baseline.apply alone: {seconds * 1000:.1f} ms for {findings} findings "
        f"({debt} matched as known debt)"
    )

    # A refactor: a line above every finding, in every file that has one.
    paths = sorted({e["path"] for e in entries if e["path"].endswith(".py")})
    for rel in paths:
        p = root / rel
        p.write_text("# moved by a refactor\n" + p.read_text(encoding="utf-8"), encoding="utf-8")
    seconds, code, out = baseline_cli()
    print(f"after inserting a line at the top of {len(paths)} files: baseline check exit {code}")
    print(
        "  " + "\n  ".join(line for line in out.splitlines() if "lint:" in line or "sast:" in line)
    )
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=root, check=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
