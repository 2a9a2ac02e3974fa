"""The file inventory: git decides scope, every unreadable file is accounted for."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pytest_platformgates import inventory
from pytest_platformgates.inventory import FileStatus, Inventory, StatCache, glob_to_regex


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


# -- the stat cache: unchanged files are not read again ------------------------------------


def _age(path, seconds: float = 10.0) -> None:
    """Set a file's modification time back, as for a file written a while ago."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


@pytest.fixture
def stat_project(project, monkeypatch):
    project.write("a.py", "A = 1\n")
    project.write("b.txt", "bee\n")
    project.write("c.bin", b"\0\1\2")
    reads: list[str] = []
    real = Path.read_bytes

    def counting(self):
        reads.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    return project, reads


def test_the_stat_cache_reads_unchanged_files_once_and_changed_ones_again(stat_project, tmp_path):
    project, reads = stat_project
    # The change time cannot be set back: pretend the scans ran well after the files' times.
    stats = StatCache(tmp_path / "stats.json")
    first = Inventory.scan(project.path, stats=stats)
    assert sorted(r for r in reads if r != "stats.json") == ["a.py", "b.txt", "c.bin"]
    # Entries written by that scan are racy (files modified just before it): read again,
    # then stamped with the second scan's start.
    reads.clear()
    _shift_trust(stats, -10)
    second = Inventory.scan(project.path, stats=stats)
    assert [r for r in reads if r != "stats.json"] == []
    assert second.files == first.files

    (project.path / "b.txt").write_text("bumble bee\n")
    reads.clear()
    third = Inventory.scan(project.path, stats=stats)
    assert [r for r in reads if r != "stats.json"] == ["b.txt"]
    assert third.by_path["b.txt"].sha256 != first.by_path["b.txt"].sha256
    assert third.by_path["c.bin"].status is FileStatus.BINARY


def test_a_change_that_restores_size_and_modification_time_is_still_seen(stat_project, tmp_path):
    project, reads = stat_project
    stats = StatCache(tmp_path / "stats.json")
    path = project.path / "a.py"
    Inventory.scan(project.path, stats=stats)
    _shift_trust(stats, -10)
    before = path.stat()
    path.write_text("A = 2\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime: only ctime moved
    reads.clear()
    again = Inventory.scan(project.path, stats=stats)
    assert "a.py" in reads
    assert again.by_path["a.py"].sha256 == _sha("A = 2\n")


def test_a_file_modified_just_before_the_last_scan_is_read_again(stat_project, tmp_path):
    project, reads = stat_project
    stats = StatCache(tmp_path / "stats.json")
    Inventory.scan(project.path, stats=stats)  # the files are seconds old at most: racy
    reads.clear()
    Inventory.scan(project.path, stats=stats)
    assert sorted(r for r in reads if r != "stats.json") == ["a.py", "b.txt", "c.bin"]


@pytest.mark.parametrize("damage", ["{broken", '{"format": 1}', ""])
def test_a_damaged_stat_cache_is_ignored(stat_project, tmp_path, damage):
    project, reads = stat_project
    stats = StatCache(tmp_path / "stats.json")
    first = Inventory.scan(project.path, stats=stats)
    _shift_trust(stats, -10)
    (tmp_path / "stats.json").write_text(damage)
    reads.clear()
    again = Inventory.scan(project.path, stats=stats)
    assert sorted(r for r in reads if r != "stats.json") == ["a.py", "b.txt", "c.bin"]
    assert again.files == first.files


def test_a_tampered_stat_cache_entry_is_not_trusted(stat_project, tmp_path):
    project, _ = stat_project
    stats = StatCache(tmp_path / "stats.json")
    Inventory.scan(project.path, stats=stats)
    _shift_trust(stats, -10)
    head, entries = _read_doc(tmp_path / "stats.json")
    entries["a.py"]["sha256"] = "0" * 64  # without fixing the checksum
    _write_doc(tmp_path / "stats.json", head, entries, fix_checksum=False)
    again = Inventory.scan(project.path, stats=stats)
    assert again.by_path["a.py"].sha256 == _sha("A = 1\n")


def test_a_warm_gate_run_does_not_read_unchanged_files(project):
    # End to end: the second run's inventory comes from the stat cache, and the result
    # is the same; then an edit is seen.
    project.configure({"lint": {}})
    project.write("mod.py", "import os\n")
    project.git("add", "-A")
    project.git("commit", "-qm", "init")
    for path in project.path.rglob("*.py"):
        _age(path, 30)
    first = project.pytester.runpytest("--gates-only", "-p", "no:randomly")
    first.stdout.fnmatch_lines(["*mod.py:1:8*F401*"])
    stats = project.path / ".pytest_cache" / "d" / "platformgates" / "inventory.d.json"
    assert stats.is_file()
    project.write("mod.py", "import sys\n")
    second = project.pytester.runpytest("--gates-only", "-p", "no:randomly")
    second.stdout.fnmatch_lines(["*mod.py:1:8*F401*`sys`*"])


def _shift_trust(stats: StatCache, seconds: float) -> None:
    """Make the recorded scan look ``seconds`` older (negative: the scan ran later)."""
    head, entries = _read_doc(stats.path)
    for entry in entries.values():
        entry["trusted_before"] -= int(seconds * 1e9)
    _write_doc(stats.path, head, entries, fix_checksum=True)


def _read_doc(path: Path):
    head, _, body = path.read_text().partition("\n")
    return json.loads(head), json.loads(body)


def _write_doc(path: Path, head, entries, *, fix_checksum: bool) -> None:
    body = json.dumps(entries)
    if fix_checksum:
        head = {**head, "checksum": hashlib.sha256(body.encode()).hexdigest()}
    path.write_text(json.dumps(head) + "\n" + body)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_git_that_does_not_answer_is_a_problem_not_a_hang(project, monkeypatch, tmp_path):
    project.write("a.py", "x = 1\n")
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    pid_file = tmp_path / "hook.pid"
    # like a hanging fsmonitor hook: a child of git's that would outlive a killed git
    sleep = shutil.which("sleep")
    fake.write_text(f"#!/bin/sh\n{sleep} 30 &\necho $! > {pid_file}\nexec {sleep} 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr(inventory, "GIT_TIMEOUT", 0.5)
    started = time.monotonic()
    inv = Inventory.scan(project.path)
    assert time.monotonic() - started < 10
    assert inv.files == ()
    assert "git rev-parse did not answer within" in inv.problems[0]
    hook = Path(f"/proc/{pid_file.read_text().strip()}/stat")
    # gone, or a zombie its parent (killed too) left for init to reap
    assert not hook.exists() or hook.read_text().rsplit(")", 1)[1].split()[0] == "Z"
