"""Dependency sources: environment, pyproject, requirements files, PEP 751 lock files."""

from __future__ import annotations

import textwrap
from importlib import metadata
from pathlib import Path

import pytest
from deps_support import make_env

from pytest_platformgates import dependencies
from pytest_platformgates.dependencies import DependencyError


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def pyproject(root: Path, deps: list[str], extra: str = "") -> None:
    listed = ", ".join(f'"{d}"' for d in deps)
    write(
        root, "pyproject.toml", f'[project]\nname = "Demo_App"\ndependencies = [{listed}]\n{extra}'
    )


def summary(deps: list[dependencies.Dependency]) -> list[tuple]:
    return [(d.name, d.version, d.direct, d.source, d.line) for d in deps]


def test_environment_lists_the_named_interpreter_with_direct_and_via(tmp_path):
    python = make_env(
        tmp_path / "venv",
        {"web-lib": "1.0", "http-core": "2.0", "orphan": "0.1", "demo-app": "9.9", "opt": "1"},
        requires={"web-lib": ["http-core>=2", "opt; extra == 'fast'"]},
    )
    pyproject(tmp_path, ["web-lib>=1"])
    deps = dependencies.load("environment", tmp_path, python=python)
    assert summary(deps) == [
        ("http-core", "2.0", False, "environment", 0),
        ("opt", "1", False, "environment", 0),
        ("orphan", "0.1", False, "environment", 0),
        ("web-lib", "1.0", True, "pyproject.toml", 3),
    ]  # demo-app is the project itself
    via = {d.name: d.via for d in deps}
    assert via == {"http-core": ("web-lib",), "opt": (), "orphan": (), "web-lib": ()}


def test_extras_asked_for_are_followed(tmp_path):
    python = make_env(
        tmp_path / "venv",
        {"web-lib": "1.0", "opt": "1"},
        requires={"web-lib": ["opt; extra == 'fast'"]},
    )
    pyproject(tmp_path, ["web-lib[fast]"])
    deps = dependencies.load("environment", tmp_path, python=python)
    assert {d.name: d.via for d in deps}["opt"] == ("web-lib",)


def test_environment_defaults_to_the_interpreter_running_pytest(tmp_path):
    deps = dependencies.load("environment", tmp_path)
    assert {(d.key, d.version) for d in deps} == {
        (dependencies.canonicalize_name(d.metadata["Name"]), d.version)
        for d in metadata.distributions()
    } - {("demo-app", None)}
    assert all(d.direct for d in deps)  # nothing declared: everything counts as direct


def test_declarations_cover_extras_and_dependency_groups(tmp_path):
    pyproject(
        tmp_path,
        ["alpha==1.0"],
        '[project.optional-dependencies]\nfast = ["beta>=2"]\n\n'
        '[dependency-groups]\ntest = ["gamma===3.0b1", {include-group = "lint"}]\n'
        'lint = ["delta"]\n',
    )
    deps = dependencies.load("pyproject", tmp_path)
    assert [(d.name, d.version, d.direct) for d in deps] == [
        ("alpha", "1.0", True),
        ("beta", None, True),
        ("delta", None, True),
        ("gamma", "3.0b1", True),
    ]


def test_requirements_file_syntax(tmp_path):
    write(tmp_path, "reqs/base.txt", "shared-lib==1.0 --hash=sha256:abc\n")
    write(
        tmp_path,
        "requirements.txt",
        """\
        --index-url https://example.invalid/simple
        -r reqs/base.txt
        -c constraints.txt
        Pinned_Lib==2.0 ; python_version >= "3"  # trailing comment
        ranged>=1,<2
        wild==1.*
        -e ./local-pkg#egg=local-pkg
        url-lib @ https://example.invalid/url-lib-1.0.tar.gz
        """,
    )
    deps = dependencies.load("requirements.txt", tmp_path)
    assert summary(deps) == [
        ("local-pkg", None, True, "requirements.txt", 7),
        ("Pinned_Lib", "2.0", True, "requirements.txt", 4),
        ("ranged", None, True, "requirements.txt", 5),
        ("shared-lib", "1.0", True, "reqs/base.txt", 1),
        ("url-lib", None, True, "requirements.txt", 8),
        ("wild", None, True, "requirements.txt", 6),
    ]
    assert next(d for d in deps if d.name == "shared-lib").hashes == ("sha256:abc",)
    assert next(d for d in deps if d.name == "local-pkg").editable


def test_per_requirement_build_options_are_not_part_of_the_requirement(tmp_path):
    write(
        tmp_path,
        "requirements.txt",
        """\
        requests==2.19.0 --config-settings=editable_mode=compat --hash=sha256:00
        idna==2.7 --config-settings "--build-option=--x"
        """,
    )
    deps = dependencies.load("requirements.txt", tmp_path)
    assert [(d.name, d.version, d.hashes) for d in deps] == [
        ("idna", "2.7", ()),
        ("requests", "2.19.0", ("sha256:00",)),
    ]


def test_the_project_itself_in_a_requirements_file_is_not_a_dependency(tmp_path):
    write(tmp_path, "sub/pyproject.toml", '[project]\nname = "sub"\n')
    write(
        tmp_path,
        "requirements/dev.txt",
        """\
        -e .
        -e .[dev] ; python_version >= "3"
        ./
        idna==2.7
        """,
    )
    deps = dependencies.load("requirements/dev.txt", tmp_path)
    assert [(d.name, d.version) for d in deps] == [("idna", "2.7")]
    # what the project declares comes with it: audited too, unless the file pins it
    pyproject(tmp_path, ["idna>=2", "requests>=2"])
    deps = dependencies.load("requirements/dev.txt", tmp_path)
    assert summary(deps) == [
        ("idna", "2.7", True, "requirements/dev.txt", 4),
        ("requests", None, True, "pyproject.toml", 3),
    ]
    write(tmp_path, "other.txt", "-e ./sub\n")  # another path still needs a name
    with pytest.raises(DependencyError, match="names no package"):
        dependencies.load("other.txt", tmp_path)


def test_a_byte_order_mark_is_read_as_pip_reads_it(tmp_path):
    (tmp_path / "requirements.txt").write_bytes(b"\xef\xbb\xbfrequests==2.19.0\n-r more.txt\n")
    (tmp_path / "more.txt").write_bytes(b"\xef\xbb\xbfidna==2.7\n")
    deps = dependencies.load("requirements.txt", tmp_path)
    assert [(d.name, d.version, d.line) for d in deps] == [
        ("idna", "2.7", 1),
        ("requests", "2.19.0", 1),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "six==1.16.0\nrequests==2.2.1 \\\n",
        "six==1.16.0\nrequests==2.2.1\\",
        "six==1.16.0\nrequests==2.2.1 \\\n    --hash=sha256:abc \\\n",
    ],
    ids=["then-newline", "at-eof", "after-a-continued-hash"],
)
def test_a_continuation_on_the_last_line_keeps_it_as_pip_does(tmp_path, text):
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    path = tmp_path / "requirements.txt"
    path.write_text(text, encoding="utf-8")
    pip_reads = [
        r.requirement.split()[0] for r in parse_requirements(str(path), session=PipSession())
    ]
    assert pip_reads == ["six==1.16.0", "requests==2.2.1"]  # pip installs the last line
    deps = dependencies.load("requirements.txt", tmp_path)
    assert [(d.name, d.version, d.line) for d in deps] == [
        ("requests", "2.2.1", 2),
        ("six", "1.16.0", 1),
    ]


def test_pip_compile_via_annotations_tell_direct_from_transitive(tmp_path):
    write(
        tmp_path,
        "requirements.txt",
        """\
        certifi==2024.2.2
            # via requests
        idna==3.7
            # via
            #   -r requirements.in
            #   requests
        requests==2.31.0
            # via demo-app (pyproject.toml)
        """,
    )
    deps = dependencies.load("requirements.txt", tmp_path)
    assert [(d.name, d.direct, d.via) for d in deps] == [
        ("certifi", False, ("requests",)),
        ("idna", True, ()),
        ("requests", True, ()),
    ]


def test_a_plain_file_uses_the_pyproject_declarations_when_there_are_some(tmp_path):
    pyproject(tmp_path, ["requests"])
    write(tmp_path, "requirements.txt", "requests==2.31.0\nidna==3.7\n")
    deps = dependencies.load("requirements.txt", tmp_path)
    assert [(d.name, d.direct) for d in deps] == [("idna", False), ("requests", True)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("requests=2.0\n", "requirements.txt:1: invalid requirement"),
        ("--frobnicate\n", "unsupported option '--frobnicate'"),
        ("https://example.invalid/x.tar.gz\n", "names no package"),
        ("-r missing.txt\n", "requirements file missing.txt does not exist"),
    ],
)
def test_unreadable_requirements_raise(tmp_path, content, message):
    write(tmp_path, "requirements.txt", content)
    with pytest.raises(DependencyError, match=message):
        dependencies.load("requirements.txt", tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # A remote include is not a missing local file: it cannot be audited here at all.
        ("-r https://deploy:{token}@git.example/raw/base.txt\n", "fetched at install time"),
        ("https://ci:{token}@files.example/private_lib-1.0.tar.gz\n", "names no package"),
        ("pkg @ https://ci:{token}@files.example/p.tar.gz ; bad marker\n", "invalid requirement"),
    ],
)
def test_requirement_errors_never_repeat_url_credentials(tmp_path, content, message):
    token = "Remote" + "IncTok3n99"
    write(tmp_path, "requirements.txt", content.format(token=token))
    with pytest.raises(DependencyError, match=message) as info:
        dependencies.load("requirements.txt", tmp_path)
    assert token not in str(info.value)
    assert "***@" in str(info.value)


def test_pylock(tmp_path):
    pyproject(tmp_path, ["attrs"])
    write(
        tmp_path,
        "pylock.toml",
        """\
        lock-version = "1.0"
        created-by = "test"

        [[packages]]
        name = "attrs"
        version = "25.1.0"
        wheels = [{ name = "attrs-25.1.0-py3-none-any.whl", hashes = { sha256 = "aa" } }]

        [[packages]]
        name = "vcs-lib"
        vcs = { type = "git", url = "https://example.invalid/r", commit-id = "abc" }

        [[packages]]
        name = "demo-app"
        directory = { path = ".", editable = true }
        """,
    )
    deps = dependencies.load("pylock.toml", tmp_path)  # demo-app is the project itself
    assert summary(deps) == [
        ("attrs", "25.1.0", True, "pylock.toml", 5),
        ("vcs-lib", None, False, "pylock.toml", 10),
    ]
    assert deps[0].hashes == ("sha256:aa",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not toml [", "not valid TOML"),
        ('[[packages]]\nname = "x"\n', "no lock-version"),
        ('lock-version = "1.0"\n[[packages]]\nversion = "1"\n', "package #1 has no name"),
    ],
)
def test_unreadable_lock_files_raise(tmp_path, content, message):
    write(tmp_path, "pylock.toml", content)
    with pytest.raises(DependencyError, match=message):
        dependencies.load("pylock.toml", tmp_path)


def test_broken_distributions_and_interpreters_raise(tmp_path):
    python = make_env(tmp_path / "venv", {"fine": "1.0"})
    site = next((tmp_path / "venv").rglob("fine-1.0.dist-info")).parent
    (site / "nameless-1.0.dist-info").mkdir()
    (site / "nameless-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\n")
    with pytest.raises(DependencyError, match="no readable name or version"):
        dependencies.load("environment", tmp_path, python=python)
    with pytest.raises(DependencyError, match="does not exist"):
        dependencies.load("environment", tmp_path, python=str(tmp_path / "no-python"))
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(
        DependencyError, match=r"failed: failing-python exited with code 3\ncannot start"
    ):
        dependencies.list_environment(str(failing))
