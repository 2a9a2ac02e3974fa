"""A warm run, nothing changed: the same verdicts from the cache, without loading the tools.

Importing bandit and detect-secrets (and requests, which detect-secrets imports) costs a
warm run more than everything else it does; with every file cached neither is needed.
"""

from __future__ import annotations

import json

import pytest

from conftest import gate_properties, gates_toml

# Written by the inner session at its end: which tool packages its own process imported.
RECORDER = """
import json, sys

def pytest_sessionfinish(session):
    tools = {"bandit", "detect_secrets", "yaml", "cryptography", "coverage"}
    loaded = sorted({m.split(".")[0] for m in sys.modules} & tools)
    with open("modules.json", "w") as fh:
        json.dump(loaded, fh)
"""

SOURCE = """\
import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)  # nosec B602


def other(cmd):
    return subprocess.call(cmd, shell=True)
"""


@pytest.fixture
def warm_project(project):
    project.write("pyproject.toml", gates_toml({"sast": {}, "secrets": {}}))
    project.write("conftest.py", RECORDER)
    project.write("app.py", SOURCE)
    project.write("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0binary")
    project.git("add", "-A")
    project.git("commit", "-qm", "init")
    return project


def run(project, *args):
    result = project.pytester.runpytest_subprocess("--gates-only", "-p", "no:randomly", *args)
    loaded = json.loads((project.path / "modules.json").read_text())
    return result, loaded


def test_a_warm_run_judges_alike_without_importing_bandit_or_detect_secrets(warm_project):
    cold, cold_loaded = run(warm_project, "--junitxml=cold.xml")
    # Cold, bandit runs (and checks its settings) in its workers only; detect-secrets'
    # name heuristic decided about logo.png here.
    assert cold_loaded == ["detect_secrets"]
    cold.stdout.fnmatch_lines(["*B602*", "*note: 1 binary file(s)*not scanned: logo.png*"])

    warm, warm_loaded = run(warm_project, "--junitxml=warm.xml")
    assert warm_loaded == [], f"a warm run imported {warm_loaded}"
    warm.stdout.fnmatch_lines(["*B602*", "*note: 1 binary file(s)*not scanned: logo.png*"])
    assert warm.ret == cold.ret == 1
    for gate, name in [
        ("sast", "nosec_comments"),
        ("sast", "nosec_blanket"),
        ("sast", "nosec_tests"),
        ("secrets", "files_skipped_binary"),
    ]:
        assert _figure(warm_project, "warm.xml", gate, name) == _figure(
            warm_project, "cold.xml", gate, name
        ), (gate, name)
    assert _figure(warm_project, "warm.xml", "sast", "nosec_tests") == "B602:1"
    assert _figure(warm_project, "warm.xml", "sast", "files_cached") == "2"  # app.py, conftest.py
    assert _figure(warm_project, "warm.xml", "secrets", "files_skipped_binary") == "1"


def test_a_bandit_setting_changed_on_a_warm_run_is_still_validated(warm_project):
    run(warm_project)
    warm_project.write(
        "pyproject.toml",
        gates_toml({"sast": {}, "secrets": {}}) + '\n[tool.bandit]\nskips = ["B999"]\n',
    )
    result, _ = run(warm_project)
    # A changed setting changes every key: app.py is analysed again, and its worker refuses.
    result.stdout.fnmatch_lines(["*ERROR*sast*", "*unknown bandit test 'B999'*"])
    assert result.ret == 1


def _figure(project, report: str, gate: str, name: str) -> str:
    return gate_properties(project.path / report, gate)[f"gate.figure.{name}"]


ADVISORY = """\
id: PYSEC-0000-1
modified: "2024-01-01T00:00:00Z"
summary: a made-up advisory for a package nobody installs
affected:
  - package: {ecosystem: PyPI, name: no-such-package-anywhere}
    versions: ["1.0"]
"""


def test_an_unsigned_warm_run_imports_neither_pyyaml_nor_cryptography(project):
    # PyYAML parses advisory records and cryptography signs: a warm run reads the kept
    # index and answers, and an unsigned run signs nothing. coverage.py is imported only
    # for a project whose coverage gate is on (this one's is off).
    project.write("pyproject.toml", gates_toml({"deps": {"database": "osv:advisories"}}))
    project.write("advisories/PYSEC-0000-1.yaml", ADVISORY)
    project.write("conftest.py", RECORDER)
    project.git("add", "-A")
    project.git("commit", "-qm", "init")
    cold, cold_loaded = run(project)
    assert cold.ret == 0, cold.stdout.str()
    assert "yaml" in cold_loaded
    warm, warm_loaded = run(project)
    assert warm.ret == 0, warm.stdout.str()
    assert warm_loaded == [], f"a warm run imported {warm_loaded}"
