"""``--gates-changed[=BASE]``: file gates scan only what changed, and the report says so."""

from __future__ import annotations

import json
import os

import pytest
from test_evidence_schema import errors as schema_errors

from conftest import COUNTING_GATE, analysed_lines


@pytest.fixture
def branched(project):
    """main has a.txt (clean) and old.txt (FORBIDDEN); the branch changes a.txt, adds new.txt."""
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\n__pycache__/\ngate-evidence/\n")
    project.configure({"counting": {}}, plugins=["counting_gate"])
    project.write("a.txt", "fine\n")
    project.write("old.txt", "FORBIDDEN\n")
    project.write("test_one.py", "def test_one():\n    assert True\n")
    project.commit("chore: base")
    project.git("checkout", "-q", "-b", "feature")
    project.write("a.txt", "fine\nFORBIDDEN too\n")
    project.commit("feat: change a")
    project.write("new.txt", "FORBIDDEN, untracked\n")  # not even added: still ours
    return project


def _analysed(project) -> set[str]:
    return {line.split()[1] for line in analysed_lines(project)}


@pytest.mark.parametrize("option", ["--gates-changed=main", "--gates-changed"])
def test_only_files_changed_since_the_base_are_scanned(branched, option):
    result = branched.pytester.runpytest("--gates-only", "-rA", option)
    result.assert_outcomes(failed=1)
    assert _analysed(branched) == {"a.txt", "new.txt"}
    out = result.stdout.str()
    assert "a.txt:2" in out and "new.txt:1" in out and "old.txt" not in out
    result.stdout.fnmatch_lines(
        [
            "*PARTIAL SCAN: partial scan (--gates-changed): only the 2 file(s) changed since "
            "main (*) were checked; not a full verdict*"
        ]
    )
    evidence = json.loads((branched.path / "gate-evidence" / "evidence.json").read_text())
    (gate,) = evidence["predicate"]["gates"]
    assert any("partial scan (--gates-changed)" in note for note in gate["notes"])


def test_the_full_scan_still_sees_everything(branched):
    result = branched.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    assert "old.txt:1" in result.stdout.str()
    assert "PARTIAL SCAN" not in result.stdout.str()


def test_the_background_process_scans_the_same_changed_files(branched):
    result = branched.pytester.runpytest("--gates", "--gates-changed=main")
    result.assert_outcomes(passed=1, failed=1)
    lines = analysed_lines(branched)
    assert {line.split()[1] for line in lines} == {"a.txt", "new.txt"}
    assert str(os.getpid()) not in {line.split()[0] for line in lines}


def test_a_gate_with_no_changed_file_is_not_evaluated_never_passed(branched):
    branched.write("new.txt", "")
    (branched.path / "new.txt").unlink()
    branched.commit("chore: snapshot")
    branched.git("checkout", "-q", "main")
    branched.git("checkout", "-q", "-b", "docs-only")
    branched.write("README.md", "docs\n")
    result = branched.pytester.runpytest("--gates-only", "-rs", "--gates-changed=main")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*not evaluated: none of the 1 file(s) changed since main (*) is one this gate checks*"]
    )
    assert _analysed(branched) == set()


def test_an_unknown_base_is_a_usage_error(branched):
    result = branched.pytester.runpytest("--gates-only", "--gates-changed=nosuchbranch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--gates-changed: base 'nosuchbranch' is not a commit in this repository*"]
    )


def test_a_path_taken_for_the_base_says_how_to_write_it(branched):
    result = branched.pytester.runpytest("--gates-changed", "test_one.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'test_one.py' is a path: write --gates-changed=BASE*"])


def test_a_partial_scan_keeps_the_cache_of_the_files_it_did_not_see(branched):
    branched.pytester.runpytest("--gates-only").assert_outcomes(failed=1)
    assert len(analysed_lines(branched)) == 3  # a.txt, new.txt, old.txt
    branched.write("a.txt", "fine\nFORBIDDEN, edited\n")
    branched.pytester.runpytest("--gates-only", "--gates-changed=main").assert_outcomes(failed=1)
    assert [line.split()[1] for line in analysed_lines(branched)[3:]] == ["a.txt"]
    result = branched.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    assert len(analysed_lines(branched)) == 4  # nothing analysed again: all cached
    assert "old.txt:1" in result.stdout.str()


def test_without_a_default_branch_only_uncommitted_changes_count(project):
    project.git("checkout", "-q", "-b", "trunk")
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\n__pycache__/\ngate-evidence/\n")
    project.configure({"counting": {}}, plugins=["counting_gate"])
    project.write("old.txt", "FORBIDDEN\n")
    project.commit("chore: base")
    project.write("edited.txt", "FORBIDDEN too\n")
    result = project.pytester.runpytest("--gates-only", "--gates-changed")
    result.assert_outcomes(failed=1)
    assert _analysed(project) == {"edited.txt"}
    result.stdout.fnmatch_lines(["*PARTIAL SCAN*changed since HEAD (*"])


def test_gates_changed_runs_the_gates_even_when_tests_are_named(branched):
    result = branched.pytester.runpytest("--gates-changed=main", "test_one.py")
    result.assert_outcomes(passed=1, failed=1)
    assert _analysed(branched) == {"a.txt", "new.txt"}


def test_a_partial_scan_is_recorded_in_the_statement_and_verify_refuses_it(
    branched, monkeypatch, capsys
):
    # old.txt's finding is in no changed file: the partial scan passes, the commit does not.
    from pytest_platformgates import cli

    (branched.path / "new.txt").unlink()
    branched.write("a.txt", "fine\nstill fine\n")
    branched.commit("feat: a clean change")
    result = branched.pytester.runpytest("--gates", "--gates-changed=main")
    result.assert_outcomes(passed=2)
    statement = branched.path / "gate-evidence" / "evidence.json"
    run = json.loads(statement.read_text())["predicate"]["run"]
    assert run["partial"] == {
        "base": "main",
        "commit": branched.git("merge-base", "main", "HEAD").strip(),
        "gates": ["counting"],
        "paths_count": 1,
        "paths": ["a.txt"],
    }
    assert any(n.startswith("partial scan (--gates-changed): counting") for n in run["notes"])
    assert schema_errors(json.loads(statement.read_text())["predicate"]) == []
    argv = ["verify", str(branched.path / "gate-evidence"), "--project", str(branched.path)]
    monkeypatch.setenv("CI", "true")
    assert cli.main([*argv, "--allow-unsigned"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  the run was a partial scan (--gates-changed): counting checked only" in out
    assert "NOT VERIFIED" in out
    assert cli.main([*argv, "--allow-unsigned", "--allow-partial"]) == 0
    assert "WARN  the run was a partial scan" in capsys.readouterr().out

    result = branched.pytester.runpytest("--gates")
    result.assert_outcomes(passed=1, failed=1)
    assert "old.txt:1" in result.stdout.str()
    assert cli.main([*argv, "--allow-unsigned"]) == 1
    assert "partial scan" not in capsys.readouterr().out
