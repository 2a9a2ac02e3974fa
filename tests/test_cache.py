"""The result cache: unchanged files are not re-analysed; anything doubtful is discarded."""

from __future__ import annotations

import json

import pytest

from conftest import COUNTING_GATE, analysed_lines, gate_properties


@pytest.fixture
def counted(project):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\njunit.xml\n")
    project.configure({"counting": {}}, plugins=["counting_gate"])
    project.write("a.txt", "FORBIDDEN\n")
    project.write("b.txt", "fine\n")
    project.write("c.txt", "fine\n")
    return project


def _run(project, *args):
    result = project.pytester.runpytest("--gates-only", "--junitxml=junit.xml", *args)
    return result, gate_properties(project.path / "junit.xml", "counting")


def _rewritten(text: str, entries) -> str:
    """The document with other entries and a checksum that matches them: right hash, wrong shape."""
    import hashlib

    head = json.loads(text.partition("\n")[0])
    body = json.dumps(entries)
    head["checksum"] = hashlib.sha256(body.encode()).hexdigest()
    return json.dumps(head) + "\n" + body


def _cache_file(project):
    return project.path / ".pytest_cache" / "d" / "platformgates" / "counting.json"


def test_a_warm_run_reuses_results_and_still_fails(counted):
    result, props = _run(counted)
    result.assert_outcomes(failed=1)
    assert props["gate.figure.files_analysed"] == "3"
    assert len(analysed_lines(counted)) == 3

    result, props = _run(counted)
    result.assert_outcomes(failed=1)  # cached findings still fail: never skipped
    result.stdout.fnmatch_lines(["*a.txt:1*CNT1*forbidden word*"])
    assert props["gate.figure.files_cached"] == "3"
    assert props["gate.figure.files_analysed"] == "0"
    assert len(analysed_lines(counted)) == 3


def test_only_the_changed_file_is_analysed_again(counted):
    _run(counted)
    counted.write("b.txt", "FORBIDDEN too\n")
    result, props = _run(counted)
    result.stdout.fnmatch_lines(["*a.txt:1*CNT1*", "*b.txt:1*CNT1*"])
    assert props["gate.figure.files_analysed"] == "1"
    assert analysed_lines(counted)[-1].endswith("b.txt")


def test_fixing_a_file_clears_its_finding(counted):
    _run(counted)[0].assert_outcomes(failed=1)
    counted.write("a.txt", "fine now\n")
    _run(counted)[0].assert_outcomes(passed=1)


def test_a_gate_setting_change_invalidates(counted):
    _run(counted)
    counted.configure({"counting": {"severity": "low"}}, plugins=["counting_gate"])
    result, props = _run(counted)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_analysed"] == "3"


def test_a_tool_version_change_invalidates(counted, monkeypatch):
    _run(counted)
    monkeypatch.setenv("COUNTING_VERSION", "2.0")
    _, props = _run(counted)
    assert props["gate.figure.files_analysed"] == "3"


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "{not json",
        lambda text: text[: len(text) // 2],
        lambda text: text.replace("forbidden word", "forbidden w0rd"),
        lambda text: _rewritten(text, {"k": [{"gate": 1}]}),
        lambda text: "",
    ],
    ids=["garbage", "truncated", "tampered", "wrong-shape", "empty"],
)
def test_a_corrupt_cache_is_discarded_with_a_note(counted, damage):
    _run(counted)
    path = _cache_file(counted)
    path.write_text(damage(path.read_text()))
    result, props = _run(counted, "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a.txt:1*CNT1*forbidden word*", "note: result cache * discarded"])
    assert props["gate.figure.files_analysed"] == "3"
    # and the next run trusts the freshly written document again
    _, props = _run(counted)
    assert props["gate.figure.files_cached"] == "3"


def test_a_cache_from_another_version_is_rebuilt_quietly(counted):
    _run(counted)
    path = _cache_file(counted)
    head, _, body = path.read_text().partition("\n")
    path.write_text(json.dumps({**json.loads(head), "version": "0.0.0-other"}) + "\n" + body)
    result, props = _run(counted)
    assert props["gate.figure.files_analysed"] == "3"
    assert "discarded" not in result.stdout.str()


def test_the_cache_never_holds_source_text(counted):
    counted.write("a.txt", "FORBIDDEN sentinel-value-xyz\n")
    _run(counted)
    assert "sentinel-value-xyz" not in _cache_file(counted).read_text()


def test_lint_cache_is_invalidated_by_the_ruff_configuration(project):
    project.configure({"lint": {"format": False}}, extra="\n[tool.ruff.lint]\nselect = []\n")
    project.write("mod.py", "import os\n")
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    project.configure({"lint": {"format": False}}, extra='\n[tool.ruff.lint]\nselect = ["F401"]\n')
    project.pytester.runpytest("--gates-only").assert_outcomes(failed=1)


def test_without_pytests_cache_the_gate_still_runs(counted):
    result = counted.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
