"""Before and after on the same machine in the same minutes: warm and one-file-changed runs.

    python benchmarks/bench_ab.py BASE [--rounds N]

On a shared machine the speed itself drifts by a third within minutes, so two runs of
``bench_all.py`` an hour apart cannot show a 10% change. This checks out BASE (any git
revision of this repository) into a temporary worktree and alternates, round after
round, ``pytest --gates-only`` on the Django corpus of ``bench_all.py`` with BASE's
``pytest_platformgates`` first on ``sys.path`` and with this checkout's: warm (nothing
changed) and with one file changed. It prints the median wall and CPU time of each, and
the median of the per-round differences (the steadier figure: a round's two runs are
seconds apart).

Both versions share the corpus's result cache. Before each timed run one untimed run
settles it, so neither version is timed re-analysing a file the other left behind.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_all import corpus
from corpus import BIN, ENV, HERE, load

PYTEST = [str(BIN / "pytest"), "--gates-only", "-q", "-p", "no:hypothesispytest"]


def plugin_flags(tree: Path) -> list[str]:
    """How pytest loads the plugin of ``tree``, whose entry point may differ from ours.

    The installed entry point names ``pytest_platformgates.activation``; a revision from
    before that module existed is loaded by its plugin module instead.
    """
    if (tree / "pytest_platformgates" / "activation.py").exists():
        return []
    return ["-p", "no:platformgates", "-p", "pytest_platformgates.plugin"]


def run(root: Path, env: dict[str, str], flags: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [*PYTEST, *flags],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the git revision to compare this checkout with")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    root = corpus()
    repo = HERE.parent
    changed = root / "django" / "utils" / "text.py"
    original = changed.read_bytes()
    with tempfile.TemporaryDirectory(prefix="platformgates-ab-") as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(worktree), args.base],
            cwd=repo,
            check=True,
        )
        try:
            envs = {
                args.base: ({**ENV, "PYTHONPATH": str(worktree)}, plugin_flags(worktree)),
                "this checkout": (
                    {k: v for k, v in ENV.items() if k != "PYTHONPATH"},
                    plugin_flags(repo),
                ),
            }
            print(f"corpus: {root}")
            print(f"start: {load()}")
            times: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for env, flags in envs.values():
                run(root, env, flags)  # bytecode caches and a warm result cache for both
            for i in range(args.rounds):
                for label, (env, flags) in envs.items():
                    run(root, env, flags)
                    times.setdefault((label, "warm"), []).append(run(root, env, flags))
                    changed.write_bytes(original + f"\n# change {i}\n".encode())
                    one = run(root, env, flags)
                    times.setdefault((label, "one file changed"), []).append(one)
                    changed.write_bytes(original)
                    run(root, env, flags)
        finally:
            changed.write_bytes(original)
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)], cwd=repo, check=False
            )
    for kind in ("warm", "one file changed"):
        for label in envs:
            walls = [w for w, _ in times[(label, kind)]]
            cpus = [c for _, c in times[(label, kind)]]
            print(
                f"{kind:<17} {label:<16} wall median {statistics.median(walls):5.2f} s "
                f"(min {min(walls):.2f}, max {max(walls):.2f}), "
                f"CPU median {statistics.median(cpus):5.2f} s"
            )
        # Each round's two runs came minutes apart at most: their difference drifts less
        # with the machine's speed than either median does.
        base, ours = (times[(label, kind)] for label in envs)
        walls = [b - a for (a, _), (b, _) in zip(base, ours, strict=True)]
        cpus = [b - a for (_, a), (_, b) in zip(base, ours, strict=True)]
        print(
            f"{kind:<17} {'paired':<16} this checkout minus {args.base}, per round: wall "
            f"median {statistics.median(walls):+.3f} s, CPU median {statistics.median(cpus):+.3f} s"
        )
    print(f"end:   {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
