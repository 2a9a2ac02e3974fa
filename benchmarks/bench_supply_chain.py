"""Benchmark of the licenses, sbom and pinning gates against the raw tools, on real data.

Run: ``python benchmarks/bench_supply_chain.py [--python PATH] [--runs 5]``.

It describes the interpreter running this script (or ``--python``), as the gates do
in our own CI, and prints:

- the parts: listing the environment, reading every licence, building the SBOM with
  cyclonedx-python-lib, validating it against the CycloneDX 1.6 schema (first time in
  a process: jsonschema's format checkers load; then again, warm);
- whole gate runs through pytest (``--gates-only``, one gate enabled), cold (no pytest
  cache) and warm: gate duration as recorded in JUnit and pytest's wall time;
- raw ``cyclonedx-py environment PYTHON --sv 1.6 --of JSON`` (which validates its own
  output) for comparison with the sbom gate;
- the pinning gate on Django's real requirement files (``pip download django==5.2.8
  --no-deps --no-binary :all:`` into ``benchmarks/.corpus/``; skipped when offline)
  and on a generated 5,000-line hashed requirements file.

Timings are wall-clock on a shared 2-core machine: expect noise, compare ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus import download, junit_gate_properties, unpack

from pytest_platformgates import installed, licensing

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / ".corpus"


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def in_fresh_process(code: str, python: str) -> float:
    """Seconds ``code`` takes in a new interpreter (it prints its own timing)."""
    proc = subprocess.run(
        [sys.executable, "-c", code, python], capture_output=True, text=True, check=True
    )
    return float(proc.stdout.strip().splitlines()[-1])


def make_project(where: Path, gate: str, options: str) -> Path:
    where.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=where, check=True)
    from pytest_platformgates.gates import BUILTIN

    tables = "".join(
        f"\n[tool.platformgates.gates.{m.rsplit('.', 1)[-1]}]\nenabled = false\n"
        for m in BUILTIN
        if m.rsplit(".", 1)[-1] != gate
    )
    (where / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\n\n[tool.platformgates]\n'
        + tables
        + f"\n[tool.platformgates.gates.{gate}]\n{options}\n",
        encoding="utf-8",
    )
    return where


def gate_run(project: Path) -> tuple[float, float, str]:
    """(gate duration from JUnit, wall time of pytest, verdict) of one --gates-only run."""
    xml = project / "junit.xml"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--gates-only", "-q", f"--junitxml={xml}"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    props = junit_gate_properties(xml)
    if "gate.duration" not in props:
        sys.exit(f"the gate did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    verdict = str(props["gate.verdict"])
    if "gate.figure.cached" in props:
        verdict += f", cached={props['gate.figure.cached']}"
    return float(props["gate.duration"]), wall, verdict


def cold_and_warm(project: Path, runs: int, label: str) -> float:
    shutil.rmtree(project / ".pytest_cache", ignore_errors=True)
    cold = gate_run(project)
    warm = [gate_run(project) for _ in range(runs)]
    warm_gate = statistics.median(w[0] for w in warm)
    warm_wall = statistics.median(w[1] for w in warm)
    print(f"{label} cold:  gate {cold[0]:.2f} s, pytest wall {cold[1]:.2f} s ({cold[2]})")
    print(
        f"{label} warm:  gate {warm_gate:.2f} s, pytest wall {warm_wall:.2f} s "
        f"({', '.join(sorted({w[2] for w in warm}))})"
    )
    return warm_gate


PARTS = r"""
import sys, time, json
from pathlib import Path
t0 = time.perf_counter()
from pytest_platformgates.gates import sbom
from pytest_platformgates import installed
env = installed.environment(sys.argv[1], Path("."), 120)
comps = [sbom._component(d) for d in env.distributions]
t1 = time.perf_counter()
doc = sbom._generate({"name": "bench", "version": "0"}, comps, sbom._graph(env))
print(time.perf_counter() - t1)
"""

VALIDATE = r"""
import sys, time
t0 = time.perf_counter()
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
doc = open(sys.argv[1]).read()
JsonStrictValidator(SchemaVersion.V1_6).validate_str(doc)
first = time.perf_counter() - t0
t1 = time.perf_counter()
JsonStrictValidator(SchemaVersion.V1_6).validate_str(doc)
print(first)
print(time.perf_counter() - t1)
"""


def django_requirements() -> list[Path]:
    target = CORPUS / "django-5.2.8"
    if not (target / "tests").is_dir():
        try:
            unpack(download("django", "5.2.8", sdist=True), CORPUS)
        except (SystemExit, subprocess.CalledProcessError):
            return []  # offline: the requirement files are an extra, not the benchmark
    return [
        target / "docs" / "requirements.txt",
        *sorted((target / "tests" / "requirements").glob("*.txt")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = args.python
    print(f"interpreter described: {python}")

    t_list, env = timed(lambda: installed.environment(python, ROOT, 120), args.runs)
    n = len(env.distributions)
    print(f"list environment + read metadata ({n} distributions): {t_list * 1000:6.0f} ms")

    def licences() -> int:
        return sum(1 for d in env.distributions if licensing.declared_license(d.metadata).known)

    t_lic, known = timed(licences, args.runs)
    print(f"read and normalise every licence ({known}/{n} known):   {t_lic * 1000:6.0f} ms")
    t_build = statistics.median(in_fresh_process(PARTS, python) for _ in range(3))
    print(f"build + serialise + validate SBOM, fresh process:   {t_build * 1000:6.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        raw_out = tmpdir / "raw.cdx.json"

        def raw(*extra: str) -> None:
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "cyclonedx-py"),
                    "environment",
                    python,
                    "--sv",
                    "1.6",
                    "--of",
                    "JSON",
                    "-o",
                    str(raw_out),
                    *extra,
                ],
                capture_output=True,
                check=True,
            )

        t_raw_nv, _ = timed(lambda: raw("--no-validate"), max(1, args.runs // 2))
        t_raw, _ = timed(raw, max(1, args.runs // 2))
        raw_components = len(json.loads(raw_out.read_text())["components"])
        proc = subprocess.run(
            [sys.executable, "-c", VALIDATE, str(raw_out)],
            capture_output=True,
            text=True,
            check=True,
        )
        first, again = (float(x) for x in proc.stdout.split())
        print(
            f"validate cyclonedx-py's SBOM: first in a process {first * 1000:.0f} ms "
            f"(imports), again {again * 1000:.0f} ms"
        )

        print()
        sbom_project = make_project(tmpdir / "sbom", "sbom", f'python = "{python}"')
        warm_sbom = cold_and_warm(sbom_project, args.runs, "sbom gate    ")
        print(f"raw cyclonedx-py environment ({raw_components} components):  {t_raw:.2f} s")
        print(f"raw cyclonedx-py environment --no-validate:  {t_raw_nv:.2f} s")
        print(f"raw cyclonedx-py (validating) / sbom gate warm:  {t_raw / warm_sbom:.1f}x")

        print()
        lic_project = make_project(tmpdir / "lic", "licenses", f'python = "{python}"')
        cold_and_warm(lic_project, args.runs, "licenses gate")
        print("  (the project declares nothing, so unknown licences count as direct: may fail)")

        print()
        reqs = django_requirements()
        pin_project = make_project(tmpdir / "pin", "pinning", "build_system = false")
        if reqs:
            for i, f in enumerate(reqs):
                shutil.copy(f, pin_project / f"requirements-{i}.txt")
            lines = sum(len(f.read_text().splitlines()) for f in reqs)
            d, wall, verdict = gate_run(pin_project)
            print(
                f"pinning gate, Django 5.2.8's {len(reqs)} requirement files ({lines} lines): "
                f"gate {d * 1000:.0f} ms, pytest wall {wall:.2f} s ({verdict}: Django pins "
                "nothing)"
            )
        else:
            print("pinning gate, Django corpus: skipped (pip download failed: offline?)")
        for f in pin_project.glob("requirements-*.txt"):
            f.unlink()
        big = pin_project / "requirements.txt"
        big.write_text(
            "".join(
                f"package-{i}=={i}.0.{i % 7} \\\n    --hash=sha256:{i:064x} \\\n"
                f"    --hash=sha256:{i + 1:064x}\n"
                for i in range(5000)
            )
        )
        d = statistics.median(gate_run(pin_project)[0] for _ in range(args.runs))
        print(f"pinning gate, 5,000 hashed requirements (15,000 lines): gate {d * 1000:.0f} ms")


if __name__ == "__main__":
    main()
