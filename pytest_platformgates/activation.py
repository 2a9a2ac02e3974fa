"""What pytest loads from the package's entry point: the options, and the switch.

Installing the package must cost a project without a ``[tool.platformgates]`` table
nothing, not even the import of the plugin (a quarter of a second of every ``pytest``
run on a small machine). So this module imports only the standard library and pytest.
It defines every command-line option, since options must exist before the command line
is parsed, and in ``pytest_load_initial_conftests`` it decides whether the project asked
for gates. Only then does it register the plugin proper (:mod:`.plugin`) and start
coverage measurement. That hook runs before conftests import the project, so import-time
lines count.

The project asked for gates when ``pyproject.toml`` has the table, when it cannot be
parsed (the plugin reports that as a usage error; a broken file never switches gates off),
or when ``--gates``/``--gates-only`` was given (the plugin reports a missing table).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PLUGIN = "pytest_platformgates.plugin"
# Imported with the plugin in a session that uses pytester: their C extensions cannot be
# imported twice in one process (coverage's tracer and PyYAML's loader break; the classes
# cryptography's Rust code keeps would no longer be the module's), which its in-process
# runs would do: they restore sys.modules, dropping what an inner run imported.
NOT_REIMPORTABLE = (
    PLUGIN,
    "pytest_platformgates.measurement",
    "coverage",
    "yaml",
    "cryptography.exceptions",
    "cryptography.hazmat.primitives.serialization",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("platformgates", "quality and security gates (pytest-platformgates)")
    group.addoption(
        "--gates",
        action="store_true",
        default=False,
        help="run the gates even when only some tests are named on the command line.",
    )
    group.addoption(
        "--gates-only",
        action="store_true",
        default=False,
        help="run the gates and deselect every test.",
    )
    group.addoption(
        "--no-gates",
        action="store_true",
        default=False,
        help="run the tests only; no gate items are collected.",
    )
    group.addoption(
        "--gates-changed",
        nargs="?",
        const=True,
        default=None,
        metavar="BASE",
        help="file gates check only the files changed since BASE (a branch, tag or commit; "
        "its merge-base with HEAD), uncommitted and untracked files included. Without "
        "BASE: the remote's default branch, else main, else master, else HEAD. Write "
        "--gates-changed=BASE. The report says the scan was partial.",
    )
    group.addoption(
        "--gates-inline",
        action="store_true",
        default=False,
        help="compute the gates in the test process when their items run, not in a "
        "background process started after collection (ini: platformgates_background).",
    )
    group.addoption(
        "--gates-update-ratchet",
        action="store_true",
        default=False,
        help="record the measured line coverage in the coverage gate's ratchet file.",
    )
    group.addoption(
        "--gates-explain",
        metavar="ID",
        default=None,
        help="print what a gate finding's rule id means and how to fix it, then exit "
        "(e.g. F401, B602, unpinned, PYSEC-2023-74, 'AWS Access Key').",
    )
    parser.addini(
        "platformgates_background",
        "compute the gates in a background process while the tests run (default true).",
        type="bool",
        default=True,
    )


def find_pyproject(config: pytest.Config) -> Path:
    """The ``pyproject.toml`` whose table configures the gates of this session."""
    inipath = config.inipath
    if inipath is not None and inipath.name == "pyproject.toml":
        return inipath
    return config.rootpath / "pyproject.toml"


def asks_for_gates(config: pytest.Config) -> bool:
    """Whether this session needs the plugin (see the module's docstring)."""
    ns = config.known_args_namespace
    if getattr(ns, "gates", False) or getattr(ns, "gates_only", False):
        return True
    try:
        data = tomllib.loads(find_pyproject(config).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    tool = data.get("tool")
    return isinstance(tool, dict) and "platformgates" in tool


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    if not asks_for_gates(early_config):
        return
    from . import heap  # the standard library's gc and pytest only

    heap.defer_restore(early_config)
    # Registered already when it was named on the command line (-p pytest_platformgates.plugin).
    if not early_config.pluginmanager.has_plugin(PLUGIN):
        early_config.pluginmanager.import_plugin(PLUGIN)
    from . import measurement  # registered with the plugin (its pytest_plugins)

    measurement.begin(early_config)


def pytest_plugin_registered(plugin: Any, plugin_name: str | None) -> None:
    if plugin_name == "pytester" or getattr(plugin, "__name__", "") == "_pytest.pytester":
        for name in NOT_REIMPORTABLE:
            importlib.import_module(name)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    rule = config.option.gates_explain
    if rule is None:
        return None
    from .explain import report

    def write(text: str, file: Any = None, end: str = "\n") -> None:
        (file or sys.stdout).write(text + end)

    code = report(rule, find_pyproject(config), write)
    return int(pytest.ExitCode.OK if code == 0 else pytest.ExitCode.USAGE_ERROR)
