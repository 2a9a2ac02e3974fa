"""Helpers for the deps gate's tests: fake environments, OSV trees, a local OSV server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name


def make_env(
    where: Path, dists: Mapping[str, str], requires: Mapping[str, Sequence[str]] | None = None
) -> str:
    """A real interpreter (a venv without pip) whose only distributions are ``dists``.

    Each distribution is a ``.dist-info`` directory with real metadata, so
    ``importlib.metadata`` in that interpreter lists exactly these.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    bindir = "Scripts" if sys.platform == "win32" else "bin"
    python = where / bindir / ("python.exe" if sys.platform == "win32" else "python")
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for name, version in dists.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in (requires or {}).get(name, ())]
        (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (info / "RECORD").write_text("", encoding="utf-8")
    return str(python)


def osv_record(
    ident: str,
    name: str,
    *,
    fixed: str | None = None,
    introduced: str = "0",
    aliases: Sequence[str] = (),
    cvss: str | None = None,
    modified: str | None = None,
) -> dict[str, Any]:
    """An OSV record; ``modified`` defaults to now, so a database of these is fresh."""
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed:
        events.append({"fixed": fixed})
    rec: dict[str, Any] = {
        "id": ident,
        "modified": modified or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aliases": list(aliases),
        "summary": f"{ident} in {name}",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }
    if cvss:
        rec["severity"] = [{"type": "CVSS_V3", "score": cvss}]
    return rec


def write_osv_tree(path: Path, records: Sequence[Mapping[str, Any]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for rec in records:
        (path / f"{rec['id']}.json").write_text(json.dumps(rec), encoding="utf-8")
    return path


LOW = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N"  # 3.3
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8


@dataclass
class OsvServer:
    """A minimal OSV ``/v1/query`` endpoint on 127.0.0.1 serving given records."""

    records: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    serve_records: bool = True  # answer GET /v1/vulns/ID, as OSV does
    status_get: int = 404  # what GET answers when it does not serve a record
    queries: list[tuple[str, str]] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, name: str, version: str) -> dict[str, Any]:
        from packaging.version import Version

        hits = []
        for rec in self.records:
            for affected in rec.get("affected", [{}]):
                pkg = affected.get("package", {})
                if canonicalize_name(pkg.get("name", "")) != canonicalize_name(name):
                    continue
                events = affected["ranges"][0]["events"]
                low = Version(events[0]["introduced"])
                high = next((Version(e["fixed"]) for e in events if "fixed" in e), None)
                if low <= Version(version) and (high is None or Version(version) < high):
                    hits.append(rec)
        return {"vulns": hits} if hits else {}


@contextmanager
def osv_server(server: OsvServer) -> Iterator[OsvServer]:
    """Serve ``server`` on an ephemeral loopback port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            query = json.loads(self.rfile.read(length) or b"{}")
            name, version = query["package"]["name"], query.get("version", "")
            server.queries.append((name, version))
            if server.status != 200:
                body = b'{"code": 13, "message": "internal error"}'
            else:
                body = json.dumps(server.answer(name, version)).encode()
            self.send_response(server.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            ident = self.path.rsplit("/", 1)[-1]
            server.fetched.append(ident)
            found = [r for r in server.records if r["id"] == ident]
            if not server.serve_records or not found or not self.path.startswith("/v1/vulns/"):
                self.send_error(server.status_get)
                return
            body = json.dumps(found[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/query"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (the port was just released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/query"
