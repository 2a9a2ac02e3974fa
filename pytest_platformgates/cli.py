"""The ``platformgates`` command: inspect the gates and the effective configuration.

The gates themselves run inside ``pytest``; this command answers "which gates are
there, what can I set, and what does my project's configuration amount to?".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .config import GATE_COMMON, GLOBAL, ConfigError, build_settings, plugin_modules, read_table
from .manager import collect_gates, create_plugin_manager


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformgates", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    gates = sub.add_parser("gates", help="list the registered gates and their options")
    gates.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    config = sub.add_parser(
        "config", help="validate [tool.platformgates] and print the effective configuration"
    )
    config.add_argument("--project", type=Path, default=Path.cwd(), help="project directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "gates":
            return _gates(args.project)
        return _config(args.project)
    except ConfigError as exc:
        print(f"platformgates: error: {exc}", file=sys.stderr)
        return 2


def _gates(project: Path) -> int:
    source = project / "pyproject.toml"
    raw = read_table(source) or {}
    pm = create_plugin_manager(plugin_modules(raw, source), project)
    print("global keys of [tool.platformgates]:")
    for option in GLOBAL:
        print(f"  {option.name} = {option.default_text}  # {option.help}")
    for name, gate in sorted(collect_gates(pm, raw).items()):
        print(f"\n[tool.platformgates.gates.{name}]  # {gate.description}")
        for option in (*GATE_COMMON, *gate.options):
            print(f"  {option.name} = {option.default_text}  # {option.help}")
    return 0


def _config(project: Path) -> int:
    source = project / "pyproject.toml"
    raw = read_table(source)
    if raw is None:
        print(f"platformgates: {source} has no [tool.platformgates] table", file=sys.stderr)
        return 1
    pm = create_plugin_manager(plugin_modules(raw, source), project)
    settings = build_settings(project.resolve(), source, raw, collect_gates(pm, raw))
    print(json.dumps({"digest": settings.digest, "config": settings.effective()}, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
