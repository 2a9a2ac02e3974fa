"""Benchmark of the deps gate: cold and warm offline runs, and pip-audit online for scale.

Run: ``python benchmarks/bench_deps.py [--db ../shared/advisory-db] [--runs 5]``.

It audits the interpreter running this script (its installed distributions) against
the PyPA advisory snapshot, as the gate does in our own CI, and prints:

- the parts: listing the environment, parsing the database (no cache), loading the
  cached index, matching every distribution;
- whole gate runs through pytest (``--gates-only``, only the deps gate enabled):
  cold (no pytest cache) and warm (unchanged environment and database), gate duration
  as recorded in JUnit and the wall time of the pytest process;
- for scale, raw ``pip-audit`` on the same pins against an OSV-compatible server on
  127.0.0.1 that serves the same snapshot, and our gate online against that server.

Timings are wall-clock on a shared machine: expect noise, compare ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from corpus import junit_gate_properties
from packaging.utils import canonicalize_name

from pytest_platformgates import dependencies, osv

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def gate_run(project: Path, *args: str) -> tuple[float, float, str]:
    """(gate duration from JUnit, wall time of pytest, verdict) of one --gates-only run."""
    xml = project / "junit.xml"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "--gates-only", "-q", f"--junitxml={xml}", *args],
        cwd=project,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - start
    props = junit_gate_properties(xml)
    return float(props["gate.duration"]), wall, str(props["gate.verdict"])


def make_project(where: Path, options: str) -> Path:
    where.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=where, check=True)
    gates = subprocess.run(
        [sys.executable, "-c", "from pytest_platformgates.gates import BUILTIN; print(*BUILTIN)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tables = "".join(
        f"\n[tool.platformgates.gates.{m.rsplit('.', 1)[-1]}]\nenabled = false\n"
        for m in gates
        if not m.endswith(".deps")
    )
    (where / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\n\n[tool.platformgates]\n'
        + tables
        + f"\n[tool.platformgates.gates.deps]\n{options}\n",
        encoding="utf-8",
    )
    return where


def serve_snapshot(db: Path) -> tuple[ThreadingHTTPServer, str]:
    """An OSV /v1/query endpoint answering from the snapshot's raw records."""
    import yaml

    by_name: dict[str, list[dict[str, Any]]] = {}
    for f in db.rglob("*.yaml"):
        rec = yaml.load(f.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        rec = json.loads(json.dumps(rec, default=str))
        for a in rec.get("affected", []):
            by_name.setdefault(canonicalize_name(a["package"]["name"]), []).append(rec)
    index, _ = osv.load(db)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            q = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name, version = q["package"]["name"], q["version"]
            hit = {m.advisory.id for m in index.matches(name, version)}
            vulns = [r for r in by_name.get(canonicalize_name(name), []) if r["id"] in hit]
            body = json.dumps({"vulns": vulns} if vulns else {}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1/query"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT.parent / "shared" / "advisory-db")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    db = args.db.resolve()
    if not (db / "vulns").is_dir():
        sys.exit(f"no advisory database at {db}; pass --db")

    print(f"interpreter audited: {sys.executable}")
    t_list, deps = timed(lambda: dependencies.load("environment", ROOT), args.runs)
    print(f"list environment ({len(deps)} distributions):     {t_list * 1000:7.0f} ms")
    t_parse, (index, _) = timed(lambda: osv.load(db), max(1, args.runs // 2))
    print(f"parse database ({index.records} records), no cache: {t_parse * 1000:7.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        osv.load(db, Path(tmp))
        t_cached, (index, _) = timed(lambda: osv.load(db, Path(tmp)), args.runs)
    print(f"load cached index:                          {t_cached * 1000:7.0f} ms")

    def match() -> int:
        return sum(len(index.matches(d.name, str(d.version))) for d in deps if d.version)

    t_match, hits = timed(match, args.runs)
    print(f"match all distributions ({hits} hits):          {t_match * 1000:7.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "p", f'database = "osv:{db}"\nfail_on = "critical"')
        cold = gate_run(project)
        warm = [gate_run(project) for _ in range(args.runs)]
        warm_gate = statistics.median(w[0] for w in warm)
        warm_wall = statistics.median(w[1] for w in warm)
        print(
            f"\ngate offline, cold:  gate {cold[0]:.2f} s, pytest wall {cold[1]:.2f} s ({cold[2]})"
        )
        print(f"gate offline, warm:  gate {warm_gate:.2f} s, pytest wall {warm_wall:.2f} s")
        print(f"cold/warm gate ratio: {cold[0] / warm_gate:.1f}x")

        httpd, url = serve_snapshot(db)
        try:
            pins = Path(tmp) / "pins.txt"
            pins.write_text("".join(f"{d.name}=={d.version}\n" for d in deps if d.version))

            def raw() -> None:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip_audit",
                        "-r",
                        str(pins),
                        "--no-deps",
                        "--disable-pip",
                        "-f",
                        "json",
                        "--progress-spinner",
                        "off",
                        "-s",
                        "osv",
                        "--osv-url",
                        url,
                        "--cache-dir",
                        str(Path(tmp) / "pa-cache"),
                    ],
                    capture_output=True,
                    check=False,
                )

            t_raw, _ = timed(raw, max(1, args.runs // 2))
            online = make_project(
                Path(tmp) / "online", f'osv_url = "{url}"\nfail_on = "critical"\ntimeout = 120'
            )
            t_online = statistics.median(gate_run(online)[0] for _ in range(max(1, args.runs // 2)))
        finally:
            httpd.shutdown()
        print(f"\nraw pip-audit -r pins (osv on 127.0.0.1):    {t_raw:.2f} s")
        print(f"gate online (pip-audit inside):             {t_online:.2f} s")
        print(f"raw pip-audit / gate offline warm:           {t_raw / warm_gate:.1f}x")
        shutil.rmtree(project / ".pytest_cache", ignore_errors=True)


if __name__ == "__main__":
    main()
