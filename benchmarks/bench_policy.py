"""What the policy layer costs: resolving an extends chain and applying waivers.

Run: ``python benchmarks/bench_policy.py``. Prints the time to load a three-file chain
with guardrails and 200 waivers (against plain ``build_settings`` of the same merged
table), and to apply those waivers to 20,000 findings (against judging them without).
Timings are wall clock on a shared machine: read the ratios, not the milliseconds.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from pytest_platformgates import policy
from pytest_platformgates.config import build_settings
from pytest_platformgates.manager import collect_gates, create_plugin_manager
from pytest_platformgates.model import Analysis, Finding, GateResult, Severity


def _best(fn, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    gates = collect_gates(create_plugin_manager(), {})
    expires = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "org.toml").write_text(
            'fail_on = "high"\n[gates.coverage]\nline = 80\n[guardrails]\n'
            '"fail_on" = { max = "high" }\n"gates.coverage.line" = { min = 80 }\n'
            '"gates.secrets" = { required = true }\n"gates.deps" = { required = true }\n'
        )
        (root / "team.toml").write_text('extends = ["org.toml"]\n[gates.lint]\nformat = false\n')
        entries = [
            {
                "gate": "lint",
                "id": f"R{i}",
                "reason": "r",
                "owner": "o",
                "expires": expires,
            }
            for i in range(200)
        ]
        table = {"extends": ["team.toml"], "fail_on": "medium", "waivers": entries}
        source = root / "pyproject.toml"
        settings = policy.load_settings(source, table, root, gates)
        merged = policy.resolve(source, table).raw
        t_policy = _best(lambda: policy.load_settings(source, table, root, gates))
        t_plain = _best(lambda: build_settings(root, source, merged, gates))
        print(f"load 3-file chain + 200 waivers: {t_policy * 1000:.2f} ms")
        print(f"build_settings of the merged table: {t_plain * 1000:.2f} ms")
        print(f"ratio: {t_policy / t_plain:.1f}x")

        findings = tuple(
            Finding("lint", f"R{i % 400}", Severity.HIGH, f"f{i}.py", 1, "m", fingerprint=str(i))
            for i in range(20_000)
        )
        analysis = Analysis(findings=findings)
        effective = settings.policy

        def with_waivers() -> None:
            waived = effective.waive("lint", analysis, Severity.HIGH)
            GateResult.judge("lint", waived, Severity.HIGH, 0.0)

        t_waive = _best(with_waivers, repeat=3)
        t_judge = _best(lambda: GateResult.judge("lint", analysis, Severity.HIGH, 0.0), repeat=3)
        print(f"judge 20,000 findings with 200 waivers: {t_waive * 1000:.1f} ms")
        print(f"judge 20,000 findings without waivers: {t_judge * 1000:.1f} ms")


if __name__ == "__main__":
    main()
