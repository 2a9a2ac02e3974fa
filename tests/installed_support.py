"""Fake installed environments for the licences and SBOM gates: real venvs, real metadata."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_platformgates.config import build_settings, read_table
from pytest_platformgates.gate import GateContext
from pytest_platformgates.inventory import Inventory
from pytest_platformgates.manager import collect_gates, create_plugin_manager
from pytest_platformgates.model import Analysis


def dist(name: str, version: str, **headers: str | Sequence[str]) -> dict[str, Any]:
    """One distribution's core metadata; a list value repeats its header (``Classifier``)."""
    return {
        "Name": name,
        "Version": version,
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }


def fake_env(where: Path, dists: Sequence[Mapping[str, Any]]) -> tuple[str, Path]:
    """A venv without pip whose only distributions are ``dists``: (python, site-packages).

    ``importlib.metadata`` in that interpreter, and ``cyclonedx-py environment`` run
    on it, list exactly these.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for headers in dists:
        add_dist(site, headers)
    return str(python), site


def add_dist(site: Path, headers: Mapping[str, Any]) -> Path:
    # importlib.metadata reads the version from METADATA; the directory name need not hold it
    short = headers["Version"] if len(headers["Version"]) < 50 else "0"
    info = site / f"{headers['Name'].replace('-', '_')}-{short}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.4"]
    for key, value in headers.items():
        for item in [value] if isinstance(value, str) else value:
            lines.append(f"{key}: {item}")
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    (info / "INSTALLER").write_text("test\n", encoding="utf-8")
    return info


def run_gate(root: Path, name: str) -> Analysis:
    """Run one gate's check on the project at ``root`` exactly as the plugin would."""
    source = root / "pyproject.toml"
    raw = read_table(source)
    gates = collect_gates(create_plugin_manager(), raw)
    settings = build_settings(root, source, raw, gates)
    inventory = Inventory.scan(
        root,
        paths=settings.paths,
        exclude=settings.exclude,
        max_file_size=settings.max_file_size,
    )
    ctx = GateContext(settings.gates[name], settings, inventory)
    return gates[name].check(ctx)
