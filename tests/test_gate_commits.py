"""The commits gate on real git histories: rules, merges, bots, shallow clones."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import gates_toml


@pytest.fixture
def branch(project):
    """A repository with one commit on main and a branch ``work`` checked out from it."""
    project.configure({"commits": {"base": "main"}})
    project.commit("chore: initial commit")
    project.git("checkout", "-q", "-b", "work")
    return project


def figures(project):
    """The commits gate's figures as the evidence bundle records them."""
    evidence = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    (gate,) = evidence["predicate"]["gates"]
    return gate["figures"]


def commit(project, message, *extra):
    project.git("commit", "-q", "--allow-empty", "-m", message, *extra)


def test_conventional_commits_pass(branch):
    commit(branch, "feat(api): add the thing")
    commit(branch, "fix!: stop the other thing\n\nBREAKING CHANGE: it is gone")
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    assert figures(branch)["commits_checked"] == 2


def test_each_rule_is_a_finding_naming_the_commit(branch):
    commit(branch, "Added stuff")
    commit(branch, "feature: wrong type")
    commit(branch, "fixup! feat(api): add the thing")
    commit(branch, "docs: " + "x" * 120)
    commit(branch, "test: body glued\nto the header")
    sha = branch.git("rev-parse", "--short=12", "HEAD~4").strip()
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            f"*conventional-header*commit {sha} 'Added stuff': header is not a Conventional*",
            "*commit-type*'feature: wrong type': type 'feature' is not allowed*",
            "*hint: squash it (`git rebase -i --autosquash`)*",
            "*header-length*header is 126 characters, over 100*",
            "*body-separator*the body does not start after a blank line*",
        ]
    )
    assert "5 blocking findings" in result.stdout.str()


def test_work_item_signoff_and_scopes(project):
    project.configure(
        {
            "commits": {
                "base": "main",
                "work_item": r"[A-Z]+-\d+",
                "signoff": "author",
                "scopes": ["api", "ui"],
                "require_scope": True,
            }
        }
    )
    project.commit("chore: initial commit")
    project.git("checkout", "-q", "-b", "work")
    commit(project, "feat(api): PLAT-12 complete", "-s")
    commit(project, "feat(api): no ticket", "-s")
    commit(project, "feat(db): PLAT-13 wrong scope", "-s")
    commit(project, "feat: PLAT-14 no scope", "-s")
    commit(project, "fix(ui): PLAT-15 unsigned")
    commit(
        project, "fix(ui): PLAT-16 signed by someone else\n\nSigned-off-by: X <x@example.invalid>"
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines_random(
        [
            "*work-item*'feat(api): no ticket': references no work item*",
            "*commit-scope*scope 'db' is not allowed*",
            "*commit-scope*PLAT-14 no scope': header names no scope*",
            "*signoff*PLAT-15 unsigned': carries no Signed-off-by trailer*",
            "*signoff*PLAT-16*is not signed off by its author*",
        ]
    )
    assert "PLAT-12" not in out
    assert "5 blocking findings" in out


def test_merge_commits_and_bots(branch):
    branch.git("checkout", "-q", "-b", "side")
    commit(branch, "feat: side work")
    branch.git("checkout", "-q", "work")
    branch.git("merge", "-q", "--no-ff", "--no-edit", "side")
    commit(
        branch,
        "Bump requests from 2.31 to 2.32",
        "--author",
        "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
    )
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    assert figures(branch)["commits_merges"] == 1
    assert figures(branch)["commits_bots"] == 1

    branch.configure({"commits": {"base": "main", "merge_commits": "forbid", "bots": []}})
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*merge-commit*is a merge commit; the history must be linear*",
            "*conventional-header*'Bump requests from 2.31 to 2.32'*",
        ]
    )
    branch.configure({"commits": {"base": "main", "merge_commits": "check"}})
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*conventional-header*Merge branch 'side' into work*"])


def test_no_commits_since_base_passes_with_a_note(branch):
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*commits: note: no commits since main*nothing to check*"])


def test_an_unknown_base_is_an_error_saying_how_to_fetch_it(branch):
    branch.configure({"commits": {"base": "origin/release"}})
    result = branch.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the commits since 'origin/release' cannot be listed*git fetch origin release*"]
    )


def test_a_shallow_clone_without_the_merge_base_is_an_error(project, tmp_path):
    project.configure({"commits": {"base": "origin/main"}})
    project.commit("chore: initial commit")
    project.git("checkout", "-q", "-b", "work")
    for n in range(3):
        commit(project, f"feat: step {n}")
    project.git("checkout", "-q", "main")
    commit(project, "chore: main moves on")
    project.git("checkout", "-q", "work")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--no-single-branch", project.path.as_uri(), clone],
        check=True,
    )
    subprocess.run(["git", "checkout", "-q", "work"], cwd=clone, check=True)
    result = project.pytester.runpytest_subprocess("--gates-only", f"--rootdir={clone}", clone)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no merge-base between 'origin/main' and HEAD*shallow clone*git fetch --unshallow*"]
    )


def test_the_gate_exists_only_when_configured(project):
    project.write(
        "pyproject.toml",
        '[project]\nname = "demo"\nversion = "0"\n\n'
        + gates_toml({"lint": {}}).replace(
            "[tool.platformgates.gates.commits]\nenabled = false\n", ""
        ),
    )
    project.write("a.py", "x = 1\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    assert "commits" not in result.stdout.str()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"work_item": "[A-Z+"},
            "*commits.work_item: '[[]A-Z+' is not a valid regular expression*",
        ),
        ({"signoff": "yes"}, "*commits.signoff = 'yes' is not one of*"),
        ({"types": []}, "*commits.types must name at least one type*"),
    ],
)
def test_configuration_mistakes_are_usage_errors(project, options, message):
    project.configure({"commits": options})
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])
