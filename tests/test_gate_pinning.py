"""The pinning gate: requirement files, PEP 751 locks and build requirements, read as pip would."""

from __future__ import annotations

import pytest
from installed_support import run_gate

from conftest import gates_toml
from pytest_platformgates.model import Analysis

SHA = "a" * 64
COMMIT = "0123456789abcdef0123456789abcdef01234567"
BUILD = '\n[build-system]\nrequires = ["hatchling==1.27.0"]\nbuild-backend = "hatchling.build"\n'


def analyse(project, **options) -> Analysis:
    """Run the gate's check on the project as the plugin would (real files, real settings)."""
    project.configure({"pinning": options}, extra=BUILD)
    return run_gate(project.path, "pinning")


def found(analysis: Analysis) -> set[tuple[str, int, str]]:
    assert not analysis.problems, analysis.problems
    return {(f.path, f.line, f.rule) for f in analysis.findings}


def test_unpinned_requirement_fails_the_gate_with_file_and_line(project):
    project.configure({"pinning": {}}, extra=BUILD)
    project.write("requirements.txt", "# pinned\nrequests==2.32.3\nflask>=2.0\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'pinning' failed: 1 blocking finding*",
            "*requirements.txt:3*high*unpinned*flask>=2.0 is not pinned*allows more than one*",
        ]
    )
    assert "requests" not in result.stdout.str().split("summary")[0]


def test_fully_pinned_inputs_pass(project):
    project.configure({"pinning": {"require_hashes": True}}, extra=BUILD)
    project.write(
        "requirements.txt",
        f"""\
        --index-url https://pypi.org/simple
        requests==2.32.3 \\
            --hash=sha256:{SHA}
        idna===3.7 --hash=sha512:{"b" * 128}  # comment
        """,
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)


LINES = [
    ("flask", "unpinned"),
    ("flask~=2.0", "unpinned"),
    ("flask==2.*", "unpinned"),
    ("flask!=2.0", "unpinned"),
    ("flask==2.0.1", None),
    ("flask===2.0.1", None),
    ("flask[async]==2.0.1 ; python_version >= '3.8'", None),
    ("flask @ https://example.org/flask-2.0.1.tar.gz", "url-without-hash"),
    (f"flask @ https://example.org/flask-2.0.1.tar.gz#sha256={SHA}", None),
    (f"https://example.org/flask-2.0.1.tar.gz --hash=sha256:{SHA}", None),
    ("https://example.org/flask-2.0.1.tar.gz#egg=flask", "url-without-hash"),
    ("flask @ git+https://github.com/pallets/flask@main", "unpinned-vcs"),
    ("flask @ git+https://github.com/pallets/flask@2.0.1", "unpinned-vcs"),
    ("git+https://github.com/pallets/flask#egg=flask", "unpinned-vcs"),
    (f"flask @ git+https://github.com/pallets/flask@{COMMIT}", None),
    (f"-e git+ssh://git@github.com/pallets/flask.git@{COMMIT}#egg=flask", None),
    ("-e git+ssh://git@github.com/pallets/flask.git@v2#egg=flask", "unpinned-vcs"),
    ("-e .", None),
    ("./vendor/flask-2.0.1.tar.gz", None),
    ("/opt/wheels/flask-2.0.1-py3-none-any.whl", "unpinned-path"),
    ("../wheels/flask-2.0.1-py3-none-any.whl", "unpinned-path"),  # relative, still outside
    ("./vendor/../../flask-2.0.1.tar.gz", "unpinned-path"),
    ("-e ../sibling-checkout", "unpinned-path"),
    ("./vendor/../flask-2.0.1.tar.gz", None),  # back inside the repository
    ("flask==2.0.1 --hash=md5:0123456789abcdef0123456789abcdef", "weak-hash"),
    ("flask==2.0.1 --hash=sha256:abc", "weak-hash"),
    ("flask=2.0.1", "invalid-requirement"),
    ("flask==2.0.1 --frobnicate", "invalid-requirement"),
    ("--no-such-option", "invalid-requirement"),
    ("-r https://example.org/requirements.txt", "remote-include"),
    ("-r missing.txt", "missing-include"),
    ("-r ../../outside.txt", "missing-include"),
]


@pytest.mark.parametrize(("line", "rule"), LINES)
def test_each_kind_of_requirement_line(project, line, rule):
    project.write("requirements.txt", f"{line}\n")
    expected = {("requirements.txt", 1, rule)} if rule else set()
    assert found(analyse(project)) == expected


def test_continuations_comments_and_line_numbers(project):
    project.write(
        "requirements/prod.txt",
        """\
        # a comment with flask>=1 in it
        requests==2.32.3 \\
          ; python_version >= "3.8"

        idna  # floating
        """,
    )
    assert found(analyse(project)) == {("requirements/prod.txt", 5, "unpinned")}


def test_a_continuation_on_the_last_line_is_still_judged_as_pip_keeps_it(project):
    project.write("requirements.txt", "requests==2.32.3\nidna>=3 \\\n")
    assert found(analyse(project)) == {("requirements.txt", 2, "unpinned")}


def test_includes_are_followed_and_reported_where_the_line_is(project):
    project.write("requirements.txt", "-r base.txt\nrequests==2.32.3\n")
    project.write("base.txt", "idna>=3\n--requirement=more.txt\n")
    project.write("more.txt", "-r base.txt\ncertifi\n")  # a cycle is read once
    assert found(analyse(project)) == {("base.txt", 1, "unpinned"), ("more.txt", 2, "unpinned")}


def test_a_constraints_file_pins_the_requirements_it_constrains(project):
    project.write("requirements.txt", "-c constraints.txt\nrequests\nidna\n")
    project.write("constraints.txt", "requests==2.32.3\n")
    assert found(analyse(project)) == {("requirements.txt", 3, "unpinned")}


def test_hash_mode_is_switched_on_by_one_hash_as_pip_does(project):
    project.write("requirements.txt", f"requests==2.32.3 --hash=sha256:{SHA}\nidna==3.7\n-e .\n")
    project.write("constraints.txt", "idna==3.7\n")  # constraints need no hashes
    analysis = analyse(project)
    assert found(analysis) == {
        ("requirements.txt", 2, "missing-hash"),
        ("requirements.txt", 3, "missing-hash"),
    }
    messages = " ".join(f.message for f in analysis.findings)
    assert "hash-checking mode is on" in messages and "local directory" in messages


def test_require_hashes_demands_a_hash_everywhere(project):
    project.write("requirements.txt", f"requests==2.32.3\nidna==3.7 --hash sha256:{SHA}\n")
    assert found(analyse(project, require_hashes=True)) == {("requirements.txt", 1, "missing-hash")}
    project.write("requirements.txt", "requests==2.32.3\n")
    assert found(analyse(project)) == set()


def test_credentials_in_urls_are_never_printed(project):
    token = "ghp_" + "x" * 36
    project.write("requirements.txt", f"pkg @ https://user:{token}@example.org/pkg.tar.gz\n")
    analysis = analyse(project)
    assert found(analysis) == {("requirements.txt", 1, "url-without-hash")}
    assert token not in repr(analysis)
    # Every message quoting a URL masks it, the password up to the host's "@" included.
    hidden = "At@" + "SignPw44Xy"
    project.write(
        "requirements.txt",
        f"-r https://deploy:{token}@git.example/base.txt\n"
        f"-c https://deploy:{token}@git.example/constraints.txt\n"
        f"other @ https://ci:{hidden}@files.example/o.tar.gz\n",
    )
    analysis = analyse(project)
    assert {rule for _path, _line, rule in found(analysis)} >= {"remote-include"}
    assert token not in repr(analysis)
    assert "SignPw44Xy" not in repr(analysis)


PYLOCK = f"""\
lock-version = "1.0"
created-by = "test"

[[packages]]
name = "requests"
version = "2.32.3"
wheels = [{{ name = "r.whl", url = "https://x/r.whl", hashes = {{ sha256 = "{SHA}" }} }}]

[[packages]]
name = "idna"
version = "3.7"
sdist = {{ url = "https://x/idna-3.7.tar.gz", hashes = {{}} }}

[[packages]]
name = "flask"
vcs = {{ type = "git", url = "https://github.com/pallets/flask", requested-revision = "main" }}

[[packages]]
name = "attrs"
wheels = [{{ name = "a.whl", url = "https://x/a.whl", hashes = {{ md5 = "{"c" * 32}" }} }}]

[[packages]]
name = "local"
directory = {{ path = "." }}

[[packages]]
name = "sourceless"
version = "1.0"
"""


def test_pylock_files_are_checked_per_package(project):
    project.write("pylock.toml", PYLOCK)
    assert found(analyse(project)) == {
        ("pylock.toml", 9, "missing-hash"),
        ("pylock.toml", 14, "unpinned-vcs"),
        ("pylock.toml", 18, "unpinned"),
        ("pylock.toml", 18, "weak-hash"),
        ("pylock.toml", 26, "unpinned"),
    }
    assert ("pylock.toml", 22, "missing-hash") in found(analyse(project, require_hashes=True))


def test_a_lock_file_directory_outside_the_repository_is_not_pinned(project):
    lock = 'lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "{}"\n{}\n'
    project.write("locks/pylock.toml", lock.format("sibling", 'directory = { path = "../../x" }'))
    project.write("pylock.toml", lock.format("inside", 'directory = { path = "./pkg/../src" }'))
    assert found(analyse(project)) == {("locks/pylock.toml", 4, "unpinned-path")}


def test_a_broken_or_foreign_lock_file_is_critical(project):
    project.write("pylock.toml", 'lock-version = "1.0"\n[[packages]\n')
    analysis = analyse(project)
    assert {(f.rule, f.severity.label) for f in analysis.findings} == {("invalid-lock", "critical")}
    project.write("pylock.toml", 'lock-version = "2.0"\n')
    assert found(analyse(project)) == {("pylock.toml", 1, "invalid-lock")}


def test_build_system_requires_are_build_inputs(project):
    project.write(
        "pyproject.toml",
        '[build-system]\nrequires = [\n  "setuptools>=61",\n  "wheel==0.43.0",\n]\n\n'
        + gates_toml({"pinning": {}}),
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pyproject.toml:3*unpinned*build requirement setuptools>=61*"])


def test_a_project_without_build_system_builds_with_floating_setuptools(project):
    project.write("pyproject.toml", '[project]\nname = "x"\n\n' + gates_toml({"pinning": {}}))
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pyproject.toml:1*unpinned*no ?build-system? table*"])


def test_nothing_to_check_is_an_error_not_a_pass(project):
    project.configure({"pinning": {"build_system": False}})
    project.write("requirements.in", "flask\n")  # pip-tools input: deliberately not checked
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*could not be evaluated*", "*- nothing to check: no file*"])


def test_a_literal_file_name_that_matches_nothing_is_an_error(project):
    project.configure({"pinning": {"files": ["requirments.txt", "*.lock.txt"]}}, extra=BUILD)
    project.write("requirements.txt", "flask\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'requirments.txt' names no file in scope*"])


def test_an_unreadable_requirement_file_fails(project):
    project.write("requirements.txt", b"flask==1.0\n\xff\xfe\n")
    analysis = analyse(project)
    assert {(f.path, f.rule, f.severity.label) for f in analysis.findings} == {
        ("requirements.txt", "unscannable-file", "critical")
    }


def test_absolute_file_patterns_are_a_usage_error(project):
    project.configure({"pinning": {"files": ["/etc/requirements.txt"]}})
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*gates.pinning.files*must be relative*"])


def test_build_inputs_left_out_of_scope_are_named(project):
    project.configure({"pinning": {}}, extra=BUILD, paths=["src"])
    project.write("src/requirements.txt", "flask==2.0.1\n")
    project.write("requirements.txt", "flask\n")
    analysis = run_gate(project.path, "pinning")
    assert found(analysis) == set()
    assert "outside `paths`/`exclude` or ignored by git: requirements.txt" in " ".join(
        analysis.notes
    )
