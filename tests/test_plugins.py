"""The plugin family: third-party gates join exactly as built-in ones do."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from conftest import COUNTING_GATE, analysed_lines


def _counting_project(project, **gate_options):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\n")
    project.configure({"counting": gate_options}, plugins=["counting_gate"])
    project.write("notes.txt", "fine\nFORBIDDEN here\n")
    project.write("test_ok.py", "def test_ok():\n    pass\n")


def test_a_gate_from_a_plain_module_runs_as_an_item(project):
    _counting_project(project)
    result = project.pytester.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "platformgates::counting FAILED*",
            "*notes.txt:2*high*CNT1*forbidden word*",
            "*hint: remove it*",
        ]
    )
    assert analysed_lines(project)[0].endswith("notes.txt")


def test_a_gate_from_the_entry_point_group_is_discovered(project):
    site = project.path / "site"
    project.write("site/acme_gates.py", COUNTING_GATE)
    project.write(
        "site/acme_gates-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: acme-gates\nVersion: 1.0\n",
    )
    project.write(
        "site/acme_gates-1.0.dist-info/entry_points.txt",
        "[platformgates]\nacme = acme_gates\n",
    )
    project.configure({"counting": {"fail_on": "critical"}}, exclude=["site"])
    project.write("notes.txt", "FORBIDDEN\n")
    env_path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    project.pytester._monkeypatch.setenv("PYTHONPATH", env_path)
    result = project.pytester.runpytest_subprocess("--gates-only", "-v")
    # high finding, fail_on critical: reported, not blocking
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["platformgates::counting PASSED*"])


def test_gate_options_of_a_third_party_gate_are_validated(project):
    _counting_project(project, severty="low")
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "gates.counting.severty: unknown key (did you mean 'severity'?)" in (result.stderr.str())


def test_two_gates_with_one_name_are_a_usage_error(project):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write("counting_twin.py", COUNTING_GATE)
    project.configure({"counting": {}}, plugins=["counting_gate", "counting_twin"])
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "two plugins provide a gate named 'counting'" in result.stderr.str()


def test_a_plugin_module_that_cannot_be_imported_is_a_usage_error(project):
    project.configure({}, plugins=["no_such_module_here"])
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot import 'no_such_module_here'" in result.stderr.str()


def test_an_exception_inside_a_gate_is_an_error_never_a_pass(project):
    project.write(
        "broken_gate.py",
        textwrap.dedent(
            """
            from pytest_platformgates import Gate, hookimpl

            class Broken(Gate):
                name = "broken"

                def check(self, ctx):
                    return {}["boom"]

            @hookimpl
            def platformgates_gates():
                return [Broken()]
            """
        ),
    )
    project.configure({"broken": {}}, plugins=["broken_gate"])
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*gate 'broken' could not be evaluated*", "*internal error in gate 'broken': KeyError*"]
    )


def test_a_gate_that_declares_it_reads_no_files_cannot_read_them_by_mistake(project):
    # reads_files = False lets environment gates start before the files are listed; a gate
    # that declares it and then judges ctx.inventory anyway errors instead of seeing none.
    project.write(
        "environment_gate.py",
        textwrap.dedent(
            """
            from pytest_platformgates import Analysis, FileGate, Gate, hookimpl

            class Environment(Gate):
                name = "environment"
                reads_files = False

                def check(self, ctx):
                    return Analysis(figures={"files": len(ctx.inventory.files)})

            class Careless(FileGate):
                name = "careless"
                reads_files = False

                def analyse(self, files, ctx):
                    raise AssertionError("never reached: there is no file list")

            @hookimpl
            def platformgates_gates():
                return [Environment(), Careless()]
            """
        ),
    )
    project.write("a.txt", "text\n")
    project.configure({"environment": {}, "careless": {}}, plugins=["environment_gate"])
    result = project.pytester.runpytest("--gates-only", "-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*gate 'careless' declares reads_files = False*"])


def test_a_file_gate_whose_tool_skips_every_file_errors_cold_and_warm(project):
    # A third-party file gate gets the rule with no code of its own: files in scope, none
    # scanned, nothing found is never a pass (gate.py), also when served from the cache.
    project.write(
        "picky_gate.py",
        textwrap.dedent(
            """
            from pytest_platformgates import FileGate, hookimpl
            from pytest_platformgates.gate import FileAnalysis

            class Picky(FileGate):
                name = "picky"
                patterns = ("*.txt",)

                def analyse(self, files, ctx):
                    return FileAnalysis(skipped={f.path: "excluded by its config" for f in files})

            @hookimpl
            def platformgates_gates():
                return [Picky()]
            """
        ),
    )
    project.write("a.txt", "text\n")
    project.configure({"picky": {}}, plugins=["picky_gate"])
    for _run in ("cold", "warm"):
        result = project.pytester.runpytest("--gates-only", "-p", "no:randomly")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*the tool scanned none of the 1 file(s) in scope*"])


def test_a_gate_returning_the_wrong_type_errors(project):
    project.write(
        "sloppy_gate.py",
        textwrap.dedent(
            """
            from pytest_platformgates import Gate, hookimpl

            class Sloppy(Gate):
                name = "sloppy"

                def check(self, ctx):
                    return None

            @hookimpl
            def platformgates_gates():
                return [Sloppy()]
            """
        ),
    )
    project.configure({"sloppy": {}}, plugins=["sloppy_gate"])
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*returned NoneType, not Analysis*"])


@pytest.mark.parametrize("value", ["float('nan')", "float('inf')", "[1, 2]", "None"])
def test_a_figure_json_cannot_hold_errors_the_gate_and_keeps_the_bundle(project, value):
    project.write(
        "odd_gate.py",
        textwrap.dedent(
            f"""
            from pytest_platformgates import Analysis, Gate, hookimpl

            class Odd(Gate):
                name = "odd"

                def check(self, ctx):
                    return Analysis(figures={{"ratio": {value}, "files": 3}})

            @hookimpl
            def platformgates_gates():
                return [Odd()]
            """
        ),
    )
    project.configure({"odd": {}}, plugins=["odd_gate"])
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*figures the evidence cannot record ('ratio': *)*"])

    def refuse(constant):
        raise AssertionError(f"{constant} in the evidence")

    for name in ("evidence.json", "findings.sarif"):
        text = (project.path / "gate-evidence" / name).read_text(encoding="utf-8")
        json.loads(text, parse_constant=refuse)


def test_hooks_see_every_result_once(project):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(
        "listener.py",
        textwrap.dedent(
            """
            from pathlib import Path
            from pytest_platformgates import hookimpl

            @hookimpl
            def platformgates_gate_finished(result, settings):
                with open(Path(settings.root) / "finished.log", "a") as fh:
                    fh.write(f"{result.gate} {result.verdict.value}\\n")

            @hookimpl
            def platformgates_session_finished(results, settings):
                with open(Path(settings.root) / "finished.log", "a") as fh:
                    fh.write("session " + ",".join(r.gate for r in results) + "\\n")
            """
        ),
    )
    project.write(".gitignore", "finished.log\n.analysed.log\n")
    project.configure(
        {"counting": {}, "lint": {}},
        plugins=["counting_gate", "listener"],
        exclude=["counting_gate.py", "listener.py"],
    )
    project.write("notes.txt", "FORBIDDEN\n")
    project.write("mod.py", "x = 1\n")
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1, failed=1)
    assert (project.path / "finished.log").read_text().splitlines() == [
        "counting failed",
        "lint passed",
        "session counting,lint",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_module_plugins_load_from_the_project_root_only_while_importing(project):
    _counting_project(project)
    before = list(sys.path)
    project.pytester.runpytest()
    assert sys.path == before
