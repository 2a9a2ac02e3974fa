"""New code and the ratchet: git change sets (unit) and the coverage gate on a real branch."""

from __future__ import annotations

import json

import pytest

from conftest import gate_properties
from pytest_platformgates.changes import (
    ChangesError,
    changes_since,
    file_at,
    merge_base,
    parse_diff,
)

# -- the change set ---------------------------------------------------------------------


def test_changes_are_since_the_merge_base_and_include_the_working_tree(project):
    project.write("a.py", "one = 1\ntwo = 2\nthree = 3\n")
    project.write("b.py", "b = 1\n")
    project.commit("base")
    project.git("checkout", "-q", "-b", "feature")
    project.write("a.py", "one = 1\ntwo = 'two'\nthree = 3\nfour = 4\n")
    project.commit("feature: edit a")
    project.git("checkout", "-q", "main")
    project.write("b.py", "b = 2\n")  # lands on main after the branch point: not ours
    project.commit("main moves on")
    project.git("checkout", "-q", "feature")
    project.write("a.py", "ONE = 1\ntwo = 'two'\nthree = 3\nfour = 4\n")  # unstaged
    project.write("new.py", "x = 1\ny = 2")  # untracked, no final newline
    project.write(".gitignore", "ignored.py\n")
    project.write("ignored.py", "z = 1\n")

    changes = changes_since(project.path, "main")
    assert changes.commit == merge_base(project.path, "main")
    assert dict(changes.lines) == {
        "a.py": frozenset({1, 2, 4}),
        "new.py": frozenset({1, 2}),
        ".gitignore": frozenset({1}),
    }


def test_lines_that_look_like_headers_and_awkward_names(project):
    project.write("dir/with space é.py", "a = 1\n")
    project.write('q"uote.py', "a = 1\n")
    project.write("gone.py", "a = 1\nb = 2\n")
    project.write("shrink.py", "a = 1\nb = 2\nc = 3\n")
    project.commit("base")
    # an added line whose text makes the diff line read "+++ b/evil.py"
    project.write("dir/with space é.py", "a = 1\n++ b/evil.py\n")
    project.write('q"uote.py', "a = 2\n")
    (project.path / "gone.py").unlink()
    project.write("shrink.py", "a = 1\nc = 3\n")  # a deletion only: no new line
    changes = changes_since(project.path, "HEAD")
    assert dict(changes.lines) == {
        "dir/with space é.py": frozenset({2}),
        'q"uote.py': frozenset({1}),
        "shrink.py": frozenset(),
    }


def test_parse_diff_handles_missing_newline_markers_and_counts():
    patch = (
        b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
        b"@@ -1 +1,2 @@\n-old\n\\ No newline at end of file\n+new\n+newer\n"
        b"\\ No newline at end of file\n"
        b"diff --git a/y.py b/y.py\nnew file mode 100644\n--- /dev/null\n+++ b/y.py\n"
        b"@@ -0,0 +1 @@\n+--- a/trick\n"
    )
    assert parse_diff(patch) == {"x.py": frozenset({1, 2}), "y.py": frozenset({1})}
    with pytest.raises(ChangesError, match="unexpected line"):
        parse_diff(b"+++ b/x.py\n@@ -1 +1 @@\n?garbage\n")


def test_git_that_cannot_answer_is_an_error(project, tmp_path):
    with pytest.raises(ChangesError, match="no commits yet"):
        changes_since(project.path, "main")
    project.write("a.py", "a = 1\n")
    project.commit()
    with pytest.raises(ChangesError, match="base 'origin/main' is not a commit"):
        changes_since(project.path, "origin/main")
    with pytest.raises(ChangesError, match="not a valid revision"):
        changes_since(project.path, "--output=/tmp/x")
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(ChangesError, match="not inside a git working tree"):
        changes_since(outside, "main")
    project.git("checkout", "-q", "--orphan", "island")
    project.commit("unrelated history")
    with pytest.raises(ChangesError, match="no merge-base"):
        changes_since(project.path, "main")


def test_file_at_a_commit(project):
    project.write("sub/r.json", "{}\n")
    commit = project.commit()
    project.write("sub/r.json", "changed\n")
    assert file_at(project.path, commit, "sub/r.json") == "{}\n"
    assert file_at(project.path, commit, "sub/none.json") is None


# -- new-code coverage on a feature branch -----------------------------------------------

PYPROJECT_TAIL = '\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
QUIET = ("-p", "no:randomly", "-p", "no:hypothesispytest")

CALC = """\
def add(a, b):
    return a + b
"""
# Appended on the feature branch: lines 5-8 and 11-12 are new and executable.
CALC_FEATURE = (
    CALC
    + """

def div(a, b):
    if b == 0:
        raise ZeroDivisionError("b")
    return a / b


def mod(a, b):
    return a % b
"""
)
TESTS = "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
TESTS_FEATURE = (
    TESTS + "\n\ndef test_div():\n    from pkg.calc import div\n\n    assert div(4, 2) == 2\n"
)


def feature_branch(project, gate):
    project.configure({"coverage": {"line": 0, "base": "main", **gate}}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TESTS)
    project.commit("base")
    project.git("checkout", "-q", "-b", "feature")
    project.write("pkg/calc.py", CALC_FEATURE)
    project.write("tests/test_calc.py", TESTS_FEATURE)
    project.commit("feature")


def run(project, *args):
    return project.pytester.runpytest_subprocess(*QUIET, "-rs", *args)


def properties(project):
    return gate_properties(project.path / "junit.xml", "coverage")


def test_new_code_below_threshold_lists_the_new_lines_not_run(project):
    feature_branch(project, {"new_code": 90, "max_new_uncovered": 2})
    # untracked and imported by nothing: changed, never measured
    project.write("pkg/fresh.py", "def fresh():\n    return 1\n")
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*max_new_uncovered*4 changed executable line(s) since main not run; at most 2*",
            "*new_code *new-code coverage since main 50% is below 90% "
            "(4 of 8 changed executable lines run)*",
            "*pkg/calc.py:7 *new_code_not_run*2 new line(s) not run: 7, 12*",
            "*pkg/fresh.py:1 *new_code_never_measured*2 new line(s) not run (the tests never "
            "imported this file): 1-2*",
        ]
    )
    props = properties(project)
    assert props["gate.figure.new_lines"] == "8"
    assert props["gate.figure.new_lines_not_run"] == "4"
    assert props["gate.figure.base"] == "main"
    assert len(props["gate.figure.base_commit"]) == 40


def test_one_unrun_line_cannot_hide_in_an_average(project):
    feature_branch(project, {"new_code": 60, "max_new_uncovered": 1})
    result = run(project)
    # 4 of 6 new lines (66%) meets 60%, but 2 new lines went unrun
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*2 changed executable line(s) since main not run; at most 1 allowed*"]
    )
    assert "new-code coverage since" not in result.stdout.str()

    project.configure(
        {"coverage": {"line": 0, "base": "main", "new_code": 60, "max_new_uncovered": 2}},
        extra=PYPROJECT_TAIL,
    )
    result = run(project)
    result.assert_outcomes(passed=3)


def test_a_changed_file_coverage_never_measured_fails_whatever_the_average(project):
    # 4 of 6 new lines of calc.py run; with fresh.py's 2 never-imported lines, 4 of 8 (50%)
    # meets new_code = 50, yet a changed file no test imported fails the new-code check.
    feature_branch(project, {"new_code": 50})
    project.write("pkg/fresh.py", "def fresh():\n    return 1\n")
    project.commit("add fresh")
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pkg/fresh.py:1 *high*new_code_never_measured*2 new line(s) not run (the tests "
            "never imported this file): 1-2*",
        ]
    )
    out = result.stdout.str()
    assert "new-code coverage since main 50% is below" not in out  # the average is met
    assert "1 changed file(s) never measured" in out
    props = properties(project)
    assert props["gate.figure.new_code_percent"] == "50"
    assert props["gate.figure.new_files_never_measured"] == "1"
    # the same file imported by a test: the average decides again
    project.write(
        "tests/test_fresh.py",
        "from pkg.fresh import fresh\n\n\ndef test_fresh():\n    assert fresh() == 1\n",
    )
    project.commit("test fresh")
    run(project).assert_outcomes(passed=4)


def assert_one_unrun_change(project, new_code: int, before: str, after: str) -> None:
    """A branch off main changing pkg/calc.py from CALC + ``before`` to CALC + ``after``,
    which no test runs: one changed executable line, at line 6, not run."""
    project.configure(
        {"coverage": {"line": 0, "base": "main", "new_code": new_code}}, extra=PYPROJECT_TAIL
    )
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC + before)
    project.write("tests/test_calc.py", TESTS)
    project.commit("base")
    project.git("checkout", "-q", "-b", "feature")
    project.write("pkg/calc.py", CALC + after)
    project.commit("feature: change")
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*new-code coverage since main 0% is below {new_code}% "
            "(0 of 1 changed executable lines run)*",
            "*pkg/calc.py:6 *new_code_not_run*1 new line(s) not run: 6*",
        ]
    )
    assert properties(project)["gate.figure.new_lines"] == "1"


def test_a_one_line_diff_is_judged_not_skipped(project):
    negate = "\n\ndef neg(a):\n    return {}\n"
    assert_one_unrun_change(project, 80, negate.format("a"), negate.format("-a"))


def test_a_base_git_does_not_know_is_an_error(project):
    project.configure({"coverage": {"line": 0, "new_code": 80}}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TESTS)
    project.commit()
    result = run(project)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*new code cannot be measured: base 'origin/main' is not a commit in this repository*"]
    )


def test_no_executable_change_is_nothing_to_cover_not_a_skip(project):
    feature_branch(project, {"new_code": 90})
    project.git("checkout", "-q", "main")
    project.git("branch", "-q", "-D", "feature")
    project.git("checkout", "-q", "-b", "docs")
    project.write("pkg/calc.py", "# a comment\n" + CALC)
    project.commit("docs")
    result = run(project, "--junitxml=junit.xml")
    result.assert_outcomes(passed=2)
    props = properties(project)
    assert props["gate.figure.new_code_percent"] == "n/a"
    assert props["gate.figure.new_lines"] == "0"


def test_a_changed_line_inside_a_multi_line_statement_is_new_code(project):
    # coverage counts a multi-line statement at its first line; a diff that edits only
    # a continuation line (an argument) changed that statement, which no test runs
    build = "\n\ndef build(a):\n    return dict(\n        a=a,\n        b={},\n    )\n"
    assert_one_unrun_change(project, 100, build.format(2), build.format("a.upper()"))


# -- the ratchet ------------------------------------------------------------------------


def test_ratchet_is_recorded_on_request_and_holds_on_a_branch(project):
    gate = {"line": 0, "base": "main", "ratchet": "coverage-ratchet.json"}
    project.configure({"coverage": gate}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TESTS)
    project.commit("base")

    result = run(project)  # nothing recorded anywhere yet
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ratchet file coverage-ratchet.json exists neither on main*"])

    run(project, "--gates-update-ratchet").assert_outcomes(passed=2)
    record = json.loads((project.path / "coverage-ratchet.json").read_text())
    assert record["line_percent"] == "100"
    project.commit("record the ratchet")

    project.git("checkout", "-q", "-b", "feature")
    project.write("pkg/calc.py", CALC_FEATURE)  # new code, partly tested
    project.write("tests/test_calc.py", TESTS_FEATURE)
    project.commit("feature")
    result = run(project)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*ratchet*line coverage 75% fell below 100% recorded in coverage-ratchet.json at main*"]
    )
    # lowering the recorded value on the branch does not help: the base's value counts
    project.write("coverage-ratchet.json", '{"line_percent": "10"}\n')
    run(project).assert_outcomes(passed=2, failed=1)


def test_a_corrupt_ratchet_is_an_error(project):
    gate = {"line": 0, "base": "main", "ratchet": "ratchet.json"}
    project.configure({"coverage": gate}, extra=PYPROJECT_TAIL)
    project.write("pkg/__init__.py", "")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TESTS)
    project.write("ratchet.json", '{"line_percent": "lots"}\n')
    project.commit()
    result = run(project)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*the ratchet file ratchet.json at main * is not a ratchet record*"]
    )
