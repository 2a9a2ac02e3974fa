"""tox: an env per supported Python, lint and docs, and no version silently skipped."""

from __future__ import annotations

import configparser
import importlib.util
import sys
from pathlib import Path

import pluggy
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toxfile(monkeypatch):
    """The inline plugin, loaded as tox loads it (its marker is pluggy's, project "tox")."""
    if importlib.util.find_spec("tox") is None:
        plugin = type(sys)("tox.plugin")
        plugin.impl = pluggy.HookimplMarker("tox")
        monkeypatch.setitem(sys.modules, "tox", type(sys)("tox"))
        monkeypatch.setitem(sys.modules, "tox.plugin", plugin)
    spec = importlib.util.spec_from_file_location("toxfile", ROOT / "toxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tox_has_an_env_per_python_and_lint_and_docs():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    envs = [e.strip() for e in ini["tox"]["envlist"].split(",")]
    assert envs == ["py310", "py311", "py312", "py313", "lint", "docs"]
    # Skipped, a missing interpreter would let `tox` pass without running that version.
    assert ini["tox"]["skip_missing_interpreters"] == "false"
    assert "mkdocs build --strict" in ini["testenv:docs"]["commands"]
    assert "toxfile.py" in ini["testenv:lint"]["commands"]


def _python(root: Path, version: str, name: str, executable: bool = True) -> Path:
    exe = root / "versions" / version / "bin" / name
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755 if executable else 0o644)
    return exe


def test_every_supported_pyenv_python_is_handed_to_discovery(toxfile, tmp_path):
    wanted = [_python(tmp_path, v, f"python{v[:4]}") for v in ("3.10.13", "3.11.7", "3.13.0")]
    _python(tmp_path, "3.9.18", "python3.9")  # older than requires-python
    _python(tmp_path, "3.12.1", "python3.12-config")  # not an interpreter
    _python(tmp_path, "3.12.1", "python3.12", executable=False)
    assert toxfile.pyenv_interpreters(tmp_path) == [str(p) for p in wanted]


def test_the_hook_adds_them_after_those_the_command_line_names(toxfile, tmp_path, monkeypatch):
    exe = _python(tmp_path, "3.10.13", "python3.10")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    options = type("Options", (), {"discover": ["/opt/python3.12", str(exe)]})()
    state = type("State", (), {"conf": type("Conf", (), {"options": options})()})()
    toxfile.tox_add_core_config(None, state)
    assert options.discover == ["/opt/python3.12", str(exe)]
    options.discover = []
    toxfile.tox_add_core_config(None, state)
    assert options.discover == [str(exe)]
