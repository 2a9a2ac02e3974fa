"""The file inventory: git decides scope, every unreadable file is accounted for."""

from __future__ import annotations

import os
import subprocess

import pytest

from pytest_platformgates.inventory import FileStatus, Inventory, glob_to_regex


def _status(inv: Inventory) -> dict[str, FileStatus]:
    return {f.path: f.status for f in inv.files}


def test_tracked_and_untracked_unignored_files_are_in_scope(project):
    project.write(".gitignore", "build/\n*.log\n")
    project.write("src/a.py", "a = 1\n")
    project.write("build/out.py", "b = 1\n")
    project.write("debug.log", "x\n")
    project.commit()
    project.write("src/new_not_added.py", "c = 1\n")
    inv = Inventory.scan(project.path)
    assert inv.source == "git"
    assert sorted(_status(inv)) == [".gitignore", "src/a.py", "src/new_not_added.py"]
    assert inv.problems == ()


def test_a_tracked_file_deleted_from_the_work_tree_is_not_listed(project):
    project.write("gone.py", "x = 1\n")
    project.write("kept.py", "x = 1\n")
    project.commit()
    (project.path / "gone.py").unlink()
    assert sorted(_status(Inventory.scan(project.path))) == ["kept.py"]


def test_outside_git_the_walk_honours_gitignore(tmp_path):
    (tmp_path / ".gitignore").write_text("ignored/\n*.tmp\n!keep.tmp\n")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "x.py").write_text("x = 1\n")
    (tmp_path / "a.tmp").write_text("x")
    (tmp_path / "keep.tmp").write_text("x")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("m = 1\n")
    inv = Inventory.scan(tmp_path)
    assert inv.source == "walk"
    assert sorted(_status(inv)) == [".gitignore", "keep.tmp", "pkg/m.py"]


def test_paths_and_exclude_narrow_the_scope(project):
    for p in ("src/app/a.py", "src/app/gen/b.py", "tests/t.py", "docs/_build/x.html", "setup.py"):
        project.write(p, "x = 1\n")
    project.write("vendor/src/v.py", "x = 1\n")
    inv = Inventory.scan(project.path, paths=["src", "setup.py"], exclude=["src/**/gen"])
    assert sorted(_status(inv)) == ["setup.py", "src/app/a.py"]  # paths are root-relative
    assert inv.excluded == 4
    inv = Inventory.scan(project.path, exclude=["docs/_build/**", "*.py"])
    assert sorted(_status(inv)) == []  # no slash: any depth, as in .gitignore
    inv = Inventory.scan(project.path, exclude=["/*.py"])
    assert "setup.py" not in _status(inv)
    assert "tests/t.py" in _status(inv)
    inv = Inventory.scan(project.path, exclude=["**/*.py"])
    assert sorted(_status(inv)) == ["docs/_build/x.html"]
    inv = Inventory.scan(project.path, exclude=["src"])
    assert "vendor/src/v.py" not in _status(inv)  # exclude reads like .gitignore


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("src", "src/a.py", True),
        ("src", "srcx/a.py", False),
        ("*.py", "a.py", True),
        ("*.py", "pkg/a.py", True),
        ("/*.py", "pkg/a.py", False),
        ("pkg/*.py", "pkg/deep/a.py", False),
        ("**/*.py", "pkg/deep/a.py", True),
        ("**/*.py", "a.py", True),
        ("docs/_build/**", "docs/_build/a/b.html", True),
        ("./src/", "src/a.py", True),
        ("a?.py", "ab.py", True),
        ("a.py", "abpy", False),
    ],
)
def test_glob_patterns(pattern, path, matches):
    import re

    assert bool(re.match(glob_to_regex(pattern), path)) is matches


def test_unreadable_files_are_classified_not_crashed_on(project):
    project.write("ok.py", "x = 1\n")
    project.write("bom.py", b"\xef\xbb\xbfx = 1\n")
    project.write("latin1.py", b"# caf\xe9\n")
    project.write("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    project.write("big.txt", "x" * 2000)
    os.symlink("loop_b", project.path / "loop_a")
    os.symlink("loop_a", project.path / "loop_b")
    os.symlink("/etc/hostname", project.path / "escape.txt")
    os.symlink("ok.py", project.path / "alias.py")
    os.symlink("missing.py", project.path / "broken.py")
    inv = Inventory.scan(project.path, max_file_size=1000)
    status = _status(inv)
    assert status["ok.py"] is FileStatus.TEXT
    assert status["bom.py"] is FileStatus.TEXT
    assert status["latin1.py"] is FileStatus.UNDECODABLE
    assert status["image.png"] is FileStatus.BINARY
    assert status["big.txt"] is FileStatus.TOO_LARGE
    assert status["loop_a"] is FileStatus.UNREADABLE
    assert status["escape.txt"] is FileStatus.OUTSIDE
    assert status["alias.py"] is FileStatus.LINK
    assert status["broken.py"] is FileStatus.UNREADABLE
    details = {f.path: f.detail for f in inv.files}
    assert details["loop_a"] == "symlink loop"
    assert "offset 5" in details["latin1.py"]
    assert "over max_file_size = 1000" in details["big.txt"]
    assert inv.read_text(inv.by_path["bom.py"]) == "x = 1\n"


def test_files_with_unusual_names_are_listed_exactly(project):
    project.write("sp ace/ü.py", "x = 1\n")
    project.write("quo'te.py", "x = 1\n")
    assert sorted(_status(Inventory.scan(project.path))) == ["quo'te.py", "sp ace/ü.py"]


def test_missing_git_is_a_problem_not_an_empty_scope(project, monkeypatch, tmp_path):
    project.write("a.py", "x = 1\n")
    empty_bin = tmp_path / "nobin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    inv = Inventory.scan(project.path)
    assert inv.files == ()
    assert "git is not installed" in inv.problems[0]


def test_unscannable_python_file_fails_the_lint_gate(project):
    project.configure({"lint": {}})
    project.write("good.py", "x = 1\n")
    project.write("legacy.py", b"# caf\xe9\nx = 1\n")
    project.write("fake.py", b"x = 1\n\x00\x01\x02")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fake.py*critical*unscannable-file*cannot be checked: binary*",
            "*legacy.py*critical*unscannable-file*not UTF-8 (invalid byte at offset 5)*",
        ]
    )


def test_explicit_exclude_is_the_deliberate_way_out(project):
    project.configure({"lint": {}}, exclude=["legacy.py"])
    project.write("good.py", "x = 1\n")
    project.write("legacy.py", b"# caf\xe9\n")
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)


def test_an_empty_file_set_errors_instead_of_passing(project):
    project.configure({"lint": {}}, paths=["src"])
    project.write("README.md", "hello\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gate 'lint' could not be evaluated*", "*no files to check*"])


def test_a_paths_entry_matching_no_file_is_named(project):
    project.write("src/app.py", "x = 1\n")
    project.write("README.md", "hello\n")
    inv = Inventory.scan(project.path, paths=["srcc", "src", "*.md", "docs/**/*.md"])
    assert inv.unmatched == ("srcc", "docs/**/*.md")
    assert sorted(_status(inv)) == ["README.md", "src/app.py"]
    project.configure({"lint": {}}, paths=["srcc"])
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no files to check*`paths` entries that match no file: 'srcc' (paths are relative*"]
    )


def test_a_deep_tree_and_many_files(project):
    deep = "/".join(f"d{i}" for i in range(60))
    project.write(f"{deep}/x.py", "x = 1\n")
    for i in range(300):
        project.write(f"many/m{i}.py", f"x{i} = {i}\n")
    inv = Inventory.scan(project.path)
    assert len(inv.files) == 301


def test_git_failure_is_a_problem(project):
    project.write("a.py", "x = 1\n")
    (project.path / ".git" / "index").write_bytes(b"garbage")
    inv = Inventory.scan(project.path)
    assert inv.problems and "git" in inv.problems[0]
    assert subprocess.run(["git", "status"], cwd=project.path, capture_output=True).returncode
