"""The coverage gate: real coverage measuring real inner pytest sessions (subprocesses).

Every run is a subprocess, as a user's ``pytest`` is: measurement starts before
conftests are imported, and an outer session's tracer must not be involved.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import gate_properties, write_sign_package

PYPROJECT_TAIL = '\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
# Plugins these inner sessions do not need; hypothesis alone costs a second per run.
QUIET = ("-p", "no:randomly", "-p", "no:hypothesispytest")

# pkg/calc.py: 10 statements; `add` and `sub` run by the tests below, `mul`'s body (lines
# 15-16) not: 8 of 10 run.
CALC = """\
RATE = 2
NAME = "calc"
LIMIT = 100


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    result = a * b
    return result
"""
TEST_CALC = """\
from pkg.calc import add, sub


def test_add():
    assert add(1, 2) == 3


def test_sub():
    assert sub(3, 2) == 1
"""


def write_project(project, gate=None, extra="", **top):
    project.configure({"coverage": gate or {}}, extra=PYPROJECT_TAIL + extra, **top)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TEST_CALC)
    project.commit()


def run(project, *args):
    return project.pytester.runpytest_subprocess(*QUIET, "-rs", *args)


def properties(project, path="junit.xml"):
    root = ET.parse(project.path / path).getroot()
    for case in root.iter("testcase"):
        if case.get("classname") == "platformgates" and case.get("name") == "coverage":
            return gate_properties(project.path / path, "coverage")
    raise AssertionError("no coverage testcase in the JUnit report")


def test_threshold_met_passes_with_figures_in_junit(project):
    write_project(project, {"line": 70})
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=3)
    props = properties(project)
    assert props["gate.verdict"] == "passed"
    # 8 of 10 statements: the module-level lines ran at import, `mul`'s body did not
    assert props["gate.figure.statements"] == "10"
    assert props["gate.figure.statements_run"] == "8"
    assert props["gate.figure.line_percent"] == "80"
    assert props["gate.figure.line_threshold"] == "70"
    assert props["gate.figure.measured_by"] == "platformgates"
    assert props["gate.tool.coverage"]
    # per-file figures for the evidence bundle's report, in coverage.py's JSON shape
    report = json.loads((project.path / "gate-evidence" / "coverage.json").read_text())
    calc = report["files"]["pkg/calc.py"]
    assert calc["missing_lines"] == [15, 16]
    assert calc["summary"]["percent_covered_display"] == "80"
    assert report["totals"]["num_statements"] == 10


def test_threshold_missed_fails_with_the_figure_and_the_worst_files(project):
    write_project(project, {"line": 90})
    result = run(project)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*line coverage 80% is below 90% (8 of 10 statements run)*",
            "*hint: lowest: pkg/calc.py 80% (2 of 10 not run)*",
        ]
    )
    assert result.ret == 1


@pytest.mark.parametrize("source", ["", '\n[tool.coverage.run]\nsource = ["pkg"]\n'])
def test_modules_no_test_imports_count_as_zero(project, source):
    # with `source`, coverage lists unimported files with no lines: still never imported
    write_project(project, {"line": 50}, extra=source)
    # 6 statements nobody imports: 8 of 16 run, not the 8 of 10 a naive report shows
    project.write(
        "pkg/unused.py", "A = 1\nB = 2\n\n\ndef f():\n    x = 1\n    y = 2\n    return x + y\n"
    )
    project.write("pkg/nested/deep.py", "C = 3\n")  # no __init__.py: still counted
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*line coverage 47% is below 50% (8 of 17 statements run)*",
            "*2 file(s) never imported by the tests count with all lines missed: "
            "pkg/nested/deep.py, pkg/unused.py*",
        ]
    )
    assert properties(project)["gate.figure.files_never_imported"] == "2"


# The three ways a session is measured: pytest-cov installed but not asked to measure,
# pytest-cov absent (-p no:pytest_cov is how pytest sees an uninstalled plugin), and
# pytest-cov measuring (--cov): the same figures each time.
MEASUREMENTS = [
    pytest.param((), "platformgates", id="pytest-cov-idle"),
    pytest.param(("-p", "no:pytest_cov"), "platformgates", id="without-pytest-cov"),
    pytest.param(("--cov=pkg", "--cov-report="), "pytest-cov", id="with-pytest-cov"),
]


@pytest.mark.parametrize(("args", "measured_by"), MEASUREMENTS)
def test_import_time_lines_imported_by_a_conftest_count(project, args, measured_by):
    if measured_by == "pytest-cov":
        pytest.importorskip("pytest_cov")
    write_project(project, {"line": 100})
    # conftest imports the whole module before any test runs; only mul's body is missed
    project.write("tests/conftest.py", "import pkg.calc  # noqa: F401\n")
    project.write(
        "tests/test_calc.py",
        TEST_CALC
        + "\n\ndef test_mul():\n    from pkg.calc import mul\n    assert mul(2, 3) == 6\n",
    )
    project.commit()
    result = run(project, *args, "--junitxml=junit.xml")
    result.assert_outcomes(passed=4)
    props = properties(project)
    assert props["gate.figure.measured_by"] == measured_by
    assert props["gate.figure.statements_run"] == "10"  # RATE, NAME, LIMIT and the defs too


@pytest.mark.parametrize(
    ("run_lines", "verdict", "shown"),
    [(1999, "failed", "79.9"), (2000, "passed", "80.0")],
)
def test_the_printed_figure_is_the_compared_figure_at_the_edge(project, run_lines, verdict, shown):
    # 1999 of 2500 lines is 79.96%: rounding would print 80.0 and fail, or pass; the
    # gate truncates, so the figure it prints is the figure it compares.
    project.configure(
        {"coverage": {"line": 80}},
        extra=PYPROJECT_TAIL + "\n[tool.coverage.report]\nprecision = 1\n",
    )
    body = "".join(f"    v{i} = {i}\n" for i in range(2500 - run_lines))
    top = "".join(f"a{i} = {i}\n" for i in range(run_lines - 1))
    project.write("pkg/__init__.py", "")
    project.write("pkg/edge.py", top + "\n\ndef never():\n" + (body or "    pass\n"))
    project.write(
        "tests/test_edge.py", "import pkg.edge  # noqa: F401\n\n\ndef test_it():\n    pass\n"
    )
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    props = properties(project)
    assert props["gate.figure.line_percent"] == shown
    assert props["gate.verdict"] == verdict
    if verdict == "failed":
        result.stdout.fnmatch_lines(["*line coverage 79.9% is below 80.0% (1999 of 2500*"])
        assert result.ret == 1
    else:
        assert result.ret == 0


def edge_project(project, run_lines, total, precision):
    """One module of ``total`` statements of which the first ``run_lines`` run at import."""
    project.configure(
        {"coverage": {"line": 80}},
        extra=PYPROJECT_TAIL + f"\n[tool.coverage.report]\nprecision = {precision}\n",
    )
    body = "".join(f"    v{i} = {i}\n" for i in range(total - run_lines))
    top = "".join(f"a{i} = {i}\n" for i in range(run_lines - 1))
    project.write("pkg/__init__.py", "")
    project.write("pkg/edge.py", top + "\n\ndef never():\n" + (body or "    pass\n"))
    project.write(
        "tests/test_edge.py", "import pkg.edge  # noqa: F401\n\n\ndef test_it():\n    pass\n"
    )
    project.commit()


@pytest.mark.parametrize(
    ("precision", "shown", "needed", "args"),
    [
        (0, "79", "80", ()),
        (2, "79.99", "80.00", ()),
        (3, "79.996", "80.000", ()),
        (0, "79", "80", ("--cov=pkg", "--cov-report=")),
    ],
)
def test_79_996_percent_fails_80_and_says_so(project, precision, shown, needed, args):
    # 19999 of 25000 is 79.996%: rounded it prints 80 (pytest-cov's "Total coverage: 80%"
    # beside a failure, or a pass); truncated, the printed figure is the failing one.
    if args:
        pytest.importorskip("pytest_cov")
    edge_project(project, 19999, 25000, precision)
    result = run(project, *args, "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [f"*line coverage {shown}% is below {needed}% (19999 of 25000 statements run)*"]
    )
    props = properties(project)
    assert props["gate.verdict"] == "failed"
    assert props["gate.figure.line_percent"] == shown
    assert props["gate.figure.line_threshold"] == needed


def test_branch_threshold_measures_branches_even_if_coverage_config_does_not(project):
    project.configure({"coverage": {"line": 50, "branch": 80}}, extra=PYPROJECT_TAIL)
    write_sign_package(project)
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    # two ifs, four branch exits; only `x > 0 -> return` taken
    result.stdout.fnmatch_lines(
        [
            "*branch coverage 25% is below 80% (1 of 4 branches taken)*",
            # every figure against its threshold, met or not
            "note: line 50% (required 50%); branch 25% (required 80%)",
        ]
    )
    props = properties(project)
    assert props["gate.figure.branches"] == "4"
    assert props["gate.figure.line_percent"] == "50"
    assert props["gate.figure.branch_threshold"] == "80"


def test_per_file_floor_names_the_file_and_its_unrun_lines(project):
    write_project(project, {"line": 0, "per_file": 90})
    project.write("pkg/weak.py", "def a():\n    return 1\n\n\ndef b():\n    return 2\n")
    project.write(
        "tests/test_weak.py", "from pkg.weak import a\n\n\ndef test_a():\n    assert a() == 1\n"
    )
    project.commit()
    result = run(project)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pkg/calc.py:15*per_file*80% of 10 statements run, below the per-file floor 90%;"
            " not run: 15-16*",
            "*pkg/weak.py:6*per_file*75% of 4 statements run, below the per-file floor 90%;"
            " not run: 6*",
        ]
    )


def test_tool_coverage_configuration_is_honoured(project):
    extra = (
        '\n[tool.coverage.run]\nomit = ["pkg/legacy.py"]\n'
        '\n[tool.coverage.report]\nprecision = 2\nexclude_also = ["def mul"]\n'
    )
    write_project(project, {"line": 100}, extra=extra)
    project.write("pkg/legacy.py", "def old():\n    return 1\n")  # omitted: not counted
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=3)
    props = properties(project)
    assert props["gate.figure.line_percent"] == "100.00"  # mul excluded, legacy omitted
    assert props["gate.figure.statements"] == "7"
    assert props["gate.figure.precision"] == "2"


def test_run_include_is_ignored_when_source_is_set_as_coverage_ignores_it(project):
    # coverage warns "--include is ignored because --source is set" and measures and
    # reports every file of `source`: the gate must not leave out what coverage reports
    extra = '\n[tool.coverage.run]\nsource = ["pkg"]\ninclude = ["pkg/calc.py"]\n'
    write_project(project, {"line": 70}, extra=extra)
    project.write("pkg/other.py", "def z():\n    return 1\n")
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*line coverage 66% is below 70% (8 of 12 statements run)*"])
    assert properties(project)["gate.figure.files"] == "3"
    # without a source, [run] include and [report] include both apply: pkg/calc.py alone
    extra = (
        '\n[tool.coverage.run]\ninclude = ["pkg/*"]\n'
        '[tool.coverage.report]\ninclude = ["*/calc.py"]\n'
    )
    write_project(project, {"line": 70}, extra=extra)
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=3)
    assert properties(project)["gate.figure.statements"] == "10"


def test_relative_files_from_a_subdirectory_is_judged_like_from_the_root(project, monkeypatch):
    # relative_files = true names measured files relative to where coverage started: the
    # gate's measurement starts at the root, and must analyse them there whatever the cwd
    extra = "\n[tool.coverage.run]\nrelative_files = true\n"
    write_project(project, {"line": 70}, extra=extra)
    monkeypatch.chdir(project.path / "tests")
    result = run(project, "--junitxml=../junit.xml")
    result.assert_outcomes(passed=3)
    props = properties(project)
    assert props["gate.figure.statements_run"] == "8"
    assert props["gate.figure.line_percent"] == "80"


def test_subprocess_patching_in_coverage_config_leaves_no_data_files(project):
    # `patch = ["subprocess"]` makes every Python subprocess (the sast gate's bandit
    # workers, a test's child) write a .coverage.* file that the gate's in-memory
    # measurement never reads: nothing may be left in the project
    project.configure(
        {"coverage": {"line": 70}, "sast": {}},
        extra=PYPROJECT_TAIL + '\n[tool.coverage.run]\npatch = ["subprocess"]\n',
    )
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write(
        "tests/test_calc.py",
        TEST_CALC + "\n\ndef test_child():\n    import subprocess, sys\n\n"
        "    subprocess.run([sys.executable, '-c', 'pass'], check=True)\n",
    )
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=5)
    assert properties(project)["gate.figure.line_percent"] == "80"
    assert sorted(p.name for p in project.path.glob(".coverage*")) == []


def test_coverage_fail_under_is_enforced_with_the_same_precision(project):
    write_project(project, {"line": 0}, extra="\n[tool.coverage.report]\nfail_under = 85\n")
    result = run(project)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*total coverage (coverage's fail_under) 80% is below 85%*"])


def test_fail_under_counts_branches_only_when_coverage_measures_them(project):
    # The gate's `branch` threshold turns branch measurement on; coverage's configuration
    # does not, so `coverage report` totals lines only: 5 of 8 (62%) fails fail_under = 65,
    # where lines and branches together (7 of 10, 70%) would pass it.
    project.configure(
        {"coverage": {"line": 0, "branch": 50}},
        extra=PYPROJECT_TAIL + "\n[tool.coverage.report]\nfail_under = 65\n",
    )
    project.write("pkg/__init__.py", "")
    project.write(
        "pkg/calc.py",
        "def f(x):\n    if x:\n        return 1\n    return 2\n\n\n"
        "def never():\n    a = 1\n    b = 2\n    return a + b\n",
    )
    project.write(
        "tests/test_calc.py",
        "from pkg.calc import f\n\n\ndef test_f():\n    assert f(1) == 1\n    assert f(0) == 2\n",
    )
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*total coverage (coverage's fail_under) 62% is below 65%*"])
    props = properties(project)
    assert props["gate.figure.branch_percent"] == "100"
    # with branch = true in coverage's own configuration, its total holds the branches
    project.configure(
        {"coverage": {"line": 0, "branch": 50}},
        extra=PYPROJECT_TAIL
        + "\n[tool.coverage.run]\nbranch = true\n[tool.coverage.report]\nfail_under = 65\n",
    )
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=2)
    assert properties(project)["gate.figure.fail_under_percent"] == "70"


def test_a_typo_in_the_coverage_configuration_is_an_error(project):
    write_project(project, extra="\n[tool.coverage.report]\nfail_undr = 80\n")
    result = run(project)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*could not be evaluated*", "*Unrecognized option*fail_undr=*"])


def test_a_file_coverage_cannot_parse_is_an_error_not_a_smaller_total(project):
    write_project(project, extra="\n[tool.coverage.report]\nignore_errors = true\n")
    project.write("pkg/broken.py", "def broken(:\n    pass\n")
    project.commit()
    result = run(project)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*coverage cannot analyse 1 file(s)*", "*pkg/broken.py: Couldn't parse*"]
    )


def test_no_python_files_to_measure_is_an_error(project):
    project.configure({"coverage": {}}, extra=PYPROJECT_TAIL)
    project.write("tests/test_x.py", "def test_x():\n    pass\n")
    project.commit()
    result = run(project)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*no Python files to measure*"])


def test_tests_running_another_copy_of_the_code_is_an_error(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("site")
    (elsewhere / "other_pkg").mkdir()
    (elsewhere / "other_pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    project.configure({"coverage": {}}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write(
        "tests/test_calc.py",
        f"import sys\nsys.path.insert(0, {str(elsewhere)!r})\nfrom other_pkg import add\n\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n",
    )
    project.commit()
    result = run(project)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*none of them among the 2 files this gate checks*"])


def test_the_gates_own_work_is_not_test_coverage(project):
    # A gate (named to run before coverage) that calls project code: had measuring not
    # stopped at the first gate item, `helper` would count as run.
    project.write(
        "aaa_gate.py",
        "from pytest_platformgates import Analysis, Gate, hookimpl\n\n\n"
        "class Aaa(Gate):\n    name = 'aaa'\n\n    def check(self, ctx):\n"
        "        from pkg.calc import mul\n        mul(2, 2)\n        return Analysis()\n\n\n"
        "@hookimpl\ndef platformgates_gates():\n    return [Aaa()]\n",
    )
    project.configure(
        {"coverage": {"line": 100}, "aaa": {}},
        extra=PYPROJECT_TAIL,
        plugins=["aaa_gate"],
        exclude=["aaa_gate.py"],
    )
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TEST_CALC)
    project.commit()
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*line coverage 80% is below 100%*"])


# -- partial runs ---------------------------------------------------------------------


def test_deselected_tests_make_the_run_partial_and_the_gate_not_evaluated(project):
    write_project(project)
    result = run(project, "-k", "test_add or coverage")
    result.assert_outcomes(passed=1, skipped=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: not evaluated: partial run: 1 test(s) deselected*",
        ]
    )
    assert result.ret == 0


def test_deselecting_other_gates_does_not_make_the_run_partial(project):
    project.configure({"coverage": {"line": 90}, "lint": {}}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TEST_CALC)
    project.commit()
    result = run(project, "-k", "not lint")
    result.assert_outcomes(passed=2, failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*line coverage 80% is below 90%*"])


def test_naming_a_test_file_makes_the_run_partial(project):
    write_project(project)
    project.write("tests/test_more.py", "def test_more():\n    pass\n")
    project.commit()
    result = run(project, "--gates", "tests/test_calc.py")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*not evaluated: partial run: only tests/test_calc.py named on the command line; "
            "test files of the suite left out: tests/test_more.py*"
        ]
    )
    # naming the directory that holds every test file is the whole suite
    result = run(project, "--gates", "tests")
    result.assert_outcomes(passed=4)


def test_named_paths_are_compared_with_testpaths(project):
    tail = '\n[tool.pytest.ini_options]\npythonpath = ["."]\ntestpaths = ["tests"]\n'
    project.configure({"coverage": {}}, extra=tail)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TEST_CALC)
    project.write("scripts/test_by_hand.py", "def test_by_hand():\n    pass\n")  # not the suite
    project.commit()
    result = run(project, "--gates", "tests")
    result.assert_outcomes(passed=3)


def test_a_partial_run_can_be_an_error_or_judged_on_request(project):
    write_project(project, {"line": 90, "partial_run": "error"})
    result = run(project, "-k", "test_add or coverage")
    result.assert_outcomes(passed=1, errors=1, deselected=1)
    result.stdout.fnmatch_lines(["*not evaluated: partial run: 1 test(s) deselected*"])

    write_project(project, {"line": 50, "partial_run": "evaluate"})
    result = run(project, "-k", "test_add or coverage")
    result.assert_outcomes(passed=2, deselected=1)


def test_last_failed_rerun_is_partial(project):
    write_project(project, {"line": 90})
    project.write("tests/test_fails.py", "def test_fails():\n    assert False\n")
    project.commit()
    run(project).assert_outcomes(passed=2, failed=2)  # test_fails and the coverage gate
    result = run(project, "--lf")
    # --lf reruns both failures; test_calc.py is skipped, so coverage is not judged
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not evaluated: partial run: --lf skipped 1 test file(s)*"])


@pytest.mark.parametrize("stop", [("-x",), ("--maxfail=1",), ("-x", "-n", "2")])
def test_stopping_early_never_reports_a_coverage_verdict(project, stop):
    if "-n" in stop:
        pytest.importorskip("xdist")
    write_project(project, {"line": 0})
    project.write("tests/test_fails.py", "def test_fails():\n    assert False\n")
    project.commit()
    result = run(project, *stop, "--junitxml=junit.xml")
    if "-n" in stop:  # xdist stops its workers as an interrupt; they may not have run all
        assert result.ret == pytest.ExitCode.INTERRUPTED
    else:
        result.assert_outcomes(failed=1, passed=2)  # test_calc's two, then the failure
        assert result.ret == 1
    root = ET.parse(project.path / "junit.xml").getroot()
    assert not [c for c in root.iter("testcase") if c.get("name") == "coverage"]
    result.stdout.fnmatch_lines(
        [
            "coverage: not evaluated: partial run: the run stopped early (stopping after 1 "
            "failures) before the coverage gate; no coverage verdict"
        ]
    )
    predicate = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())[
        "predicate"
    ]
    assert predicate["verdicts"]["coverage"] == "not run"
    assert predicate["verdict"] == "failed"
    assert any(
        n.startswith("not evaluated: partial run: the run stopped early")
        and n.endswith("gates not run: coverage")
        for n in predicate["run"]["notes"]
    ), predicate["run"]["notes"]


def test_a_whole_run_says_nothing_about_stopping(project):
    write_project(project, {"line": 0})
    result = run(project, "-x")
    result.assert_outcomes(passed=3)
    assert "stopped early" not in result.stdout.str()


def test_gates_only_is_not_evaluated(project):
    write_project(project)
    result = run(project, "--gates-only")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*not evaluated: partial run: --gates-only: no tests ran*"])


# -- other measurements: xdist, pytest-cov, coverage run --------------------------------


def split_suite(project, gate):
    """Two test files, each running half of the module: 100% only when combined."""
    project.configure({"coverage": gate}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write(
        "tests/test_one.py",
        "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 1) == 2\n",
    )
    project.write(
        "tests/test_two.py",
        "from pkg.calc import mul, sub\n\n\ndef test_sub():\n    assert sub(1, 1) == 0\n\n\n"
        "def test_mul():\n    assert mul(2, 2) == 4\n",
    )
    project.commit()


def test_xdist_workers_data_is_combined_and_judged_once(project):
    pytest.importorskip("xdist")
    split_suite(project, {"line": 100})
    result = run(project, "-n", "2", "--dist", "loadfile", "--junitxml=junit.xml")
    result.assert_outcomes(passed=4)
    props = properties(project)
    assert props["gate.figure.line_percent"] == "100"
    assert props["gate.figure.processes"] == "2"
    assert result.stdout.str().count("platformgates summary") == 1


def test_xdist_failure_reads_as_without_xdist(project):
    pytest.importorskip("xdist")
    write_project(project, {"line": 90})
    result = run(project, "-n", "2")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*line coverage 80% is below 90% (8 of 10 statements run)*"])
    result = run(project, "-n", "2", "-k", "test_add or coverage")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not evaluated: partial run: 1 test(s) deselected*"])


def test_a_crashed_worker_loses_data_so_the_run_is_partial(project):
    pytest.importorskip("xdist")
    write_project(project, {"line": 0})
    project.write("tests/test_crash.py", "import os\n\n\ndef test_crash():\n    os._exit(1)\n")
    project.commit()
    result = run(project, "-n", "2")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not evaluated: partial run: *worker gw? crashed*"])


def test_without_the_measurement_hooks_the_gate_errors(project):
    write_project(project, {"line": 0})
    result = run(project, "-p", "no:pytest_platformgates.measurement")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*coverage was not measured in this session*"])


def test_pytest_cov_data_is_used_when_pytest_cov_measures(project):
    pytest.importorskip("pytest_cov")
    write_project(project, {"line": 90})
    result = run(project, "--cov=pkg", "--cov-report=", "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*line coverage 80% is below 90% (8 of 10 statements run)*"])
    assert properties(project)["gate.figure.measured_by"] == "pytest-cov"


def test_pytest_cov_branch_data_and_its_absence(project):
    pytest.importorskip("pytest_cov")
    project.configure({"coverage": {"line": 50, "branch": 80}}, extra=PYPROJECT_TAIL)
    write_sign_package(project)
    project.commit()
    result = run(project, "--cov=pkg", "--cov-branch", "--cov-report=")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*branch coverage 25% is below 80% (1 of 4 branches taken)*"])
    # pytest-cov measuring lines only: the branch threshold cannot be judged, never passed
    result = run(project, "--cov=pkg", "--cov-report=")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*branch = 80 is required, but branch coverage was not measured*"])


def test_pytest_cov_partial_run_is_not_evaluated(project):
    pytest.importorskip("pytest_cov")
    write_project(project, {"line": 90})
    result = run(project, "--cov=pkg", "--cov-report=", "-k", "test_add or coverage")
    result.assert_outcomes(passed=1, skipped=1, deselected=1)
    result.stdout.fnmatch_lines(["*not evaluated: partial run: 1 test(s) deselected*"])


def test_pytest_cov_under_xdist(project):
    pytest.importorskip("pytest_cov")
    pytest.importorskip("xdist")
    split_suite(project, {"line": 100})
    result = run(project, "-n", "2", "--dist", "loadfile", "--cov=pkg", "--cov-report=")
    result.assert_outcomes(passed=4)


def test_coverage_run_measurement_is_used_not_replaced(project):
    write_project(project, {"line": 90})
    result = project.pytester.run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        "-m",
        "pytest",
        *QUIET,
        "--junitxml=junit.xml",
    )
    assert result.ret == 1
    assert properties(project)["gate.figure.measured_by"] == "coverage run"
    result.stdout.fnmatch_lines(["*line coverage 80% is below 90%*"])
    # coverage run's own data file still has the session in it
    report = project.pytester.run(sys.executable, "-m", "coverage", "report", "--include=pkg/*")
    report.stdout.fnmatch_lines(["*pkg?calc.py*10*2*80%*"])
