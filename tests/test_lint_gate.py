"""The lint gate: real ruff on real files, the project's ruff config honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import gate_properties, gates_toml
from pytest_platformgates.gates import lint


@pytest.fixture(params=["log", "per-file"])
def ruff_answers(request, monkeypatch):
    """Both ways the gate learns which files ruff left out must give the same answers.

    "log": ruff's ``-v`` log of the files it linted and formatted, and nothing else (asking
    file by file fails the test); "per-file": the log is taken as unusable, so ruff is
    asked about each file (what a ruff whose log changed shape gets).
    """
    if request.param == "per-file":
        monkeypatch.setattr(lint, "_logged_files", lambda *args: None)
    else:

        def refused(*args, **kwargs):
            raise AssertionError("ruff asked file by file though its log accounted for the batch")

        monkeypatch.setattr(lint.LintGate, "_linted", refused)
        monkeypatch.setattr(lint.LintGate, "_format_checked", refused)
    return request.param


LOG = "[2026-12-03][19:15:55][ruff::diagnostics][DEBUG] "


@pytest.mark.parametrize(
    ("stderr", "answer"),
    [
        (f"{LOG}Checking: /p/a.py\n{LOG}Checked 1 files in: 1ms\n", ["a.py"]),
        # A file name holding a newline goes on over the next line.
        (f"{LOG}Checking: /p/new\nline.py\n{LOG}Checked 1 files in: 1ms\n", ["new\nline.py"]),
        (f"{LOG}Checked 0 files in: 1ms\n", []),
        # Whatever does not account for itself is not used: the caller asks file by file.
        (f"{LOG}Checking: /p/a.py\n{LOG}Checked 2 files in: 1ms\n", None),
        (f"{LOG}Checking: /p/a.py\n", None),
        (f"{LOG}Checking: /p/other.py\n{LOG}Checked 1 files in: 1ms\n", None),
        (f"{LOG}Checking: /elsewhere/a.py\n{LOG}Checked 1 files in: 1ms\n", None),
        (f"{LOG}Checking: /p/a.py\n{LOG}Checking: /p/a.py\n{LOG}Checked 2 files in\n", None),
        ("warning: something else entirely\n", None),
        # Everything left out before ruff lints anything: no count, its warning instead.
        (f"{LOG}Identified files\nwarning: No Python files found under the given path(s)\n", []),
    ],
)
def test_ruffs_log_is_used_only_when_it_accounts_for_the_batch(stderr, answer):
    batch = ["a.py", "b.py", "new\nline.py"]
    assert lint._logged_files(stderr, lint.LINT_LOG, Path("/p"), batch) == answer


def test_lint_finding_fails_the_gate_with_a_clean_report(project):
    project.configure({"lint": {}})
    project.write("pkg/mod.py", "import os\n")
    project.write("test_ok.py", "def test_ok():\n    assert True\n")
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'lint' failed: 1 blocking finding (fail_on = high)*",
            "*pkg/mod.py:1:8*high*F401*`os` imported but unused*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret == 1


@pytest.mark.parametrize(
    ("gates", "content", "command", "after"),
    [
        ({"lint": {"format": False}}, "import os\n", "ruff check --fix ", ""),
        ({"lint": {}}, "x=1\n", "ruff format ", "x = 1\n"),
        # py_compile only names the file in its error (exit 1): it stays as it was.
        ({"sast": {}}, "def (:\n", "python -m py_compile ", "def (:\n"),
    ],
)
def test_the_command_in_a_hint_is_safe_to_paste_whatever_the_file_name(
    project, gates, content, command, after
):
    # A hint is a shell command with the file name in it: "; touch pwned;" in a name ran
    # touch for whoever pasted it, and a name starting with "-" was an option.
    names = ["a b;touch pwned;.py", "-rf.py"]
    project.configure(gates)
    for name in names:
        project.write(name, content)
    project.commit()
    project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    data = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    (gate,) = data["predicate"]["gates"]
    hints = {f["path"]: f["hint"] for f in gate["findings"] if command in f["hint"]}
    assert set(hints) == set(names)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name, hint in hints.items():
        pasted = hint.split("`")[1]
        assert pasted.startswith(command)
        done = subprocess.run(["sh", "-c", pasted], cwd=project.path, env=env, check=False)
        assert done.returncode == (1 if "py_compile" in command else 0), pasted
        assert (project.path / name).read_text() == after, pasted
    assert not (project.path / "pwned").exists()


def test_a_finding_in_a_file_whose_name_is_not_utf8_survives_the_cache(project):
    # ruff writes such a name with U+FFFD: its findings matched no file of the selection,
    # so the file was cached as clean and the warm run passed.
    project.configure({"lint": {}})
    project.write(os.fsdecode(b"bad\xff/m.py"), "import os\nx=1\n")
    project.commit()
    for _run in ("cold", "warm"):
        result = project.pytester.runpytest("--gates-only")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [r"*bad\xff/m.py:1:8 * F401 *", r"*bad\xff/m.py:2:1 * format *"], consecutive=False
        )
    result.stdout.fnmatch_lines(["lint  FAILED * 1/1"])


def test_the_projects_ruff_config_is_honoured(project):
    project.configure(
        {"lint": {"format": False}},
        extra='\n[tool.ruff.lint]\nselect = ["F", "E501"]\nignore = ["F401"]\n'
        '[tool.ruff.lint.per-file-ignores]\n"legacy/*" = ["E501"]\n[tool.ruff]\nline-length = 20\n',
    )
    project.write("a.py", "import os\nvalue_with_long_name = 12345678\n")
    project.write("legacy/b.py", "value_with_long_name = 12345678\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "a.py:2:21" in out and "E501" in out
    assert "F401" not in out
    assert "legacy/b.py" not in out


def test_editing_the_ruff_config_of_a_parent_directory_is_seen_by_a_warm_run(project, monkeypatch):
    # a project in a monorepo with no ruff config of its own: ruff uses the nearest one
    # above it, so editing that one must re-lint, though it is outside the project
    project.write(
        "svc/pyproject.toml",
        '[project]\nname = "svc"\nversion = "0"\n\n' + gates_toml({"lint": {"format": False}}),
        dedent=False,
    )
    project.write("ruff.toml", '[lint]\nselect = ["E"]\n')
    project.write("svc/pkg/a.py", "import os\n")
    monkeypatch.chdir(project.path / "svc")
    project.pytester.runpytest_subprocess("--gates-only", "-p", "no:randomly").assert_outcomes(
        passed=1
    )
    project.write("ruff.toml", '[lint]\nselect = ["E", "F"]\n')
    result = project.pytester.runpytest_subprocess("--gates-only", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pkg/a.py:1:8*F401*"])


@pytest.mark.parametrize("chained", [False, True])
def test_editing_an_extended_ruff_config_is_seen_by_a_warm_run(project, chained):
    # ruff merges the file `extend` names (and what that one extends) into the
    # configuration: editing it changes what ruff check reports, so the gate's cached
    # result must not be reused
    project.configure(
        {"lint": {"format": False}}, extra='\n[tool.ruff]\nextend = "configs/base.toml"\n'
    )
    rules = "configs/base.toml"
    if chained:
        project.write("configs/base.toml", 'extend = "shared/rules.toml"\n')
        rules = "configs/shared/rules.toml"
    project.write(rules, '[lint]\nselect = ["E"]\n')
    project.write("pkg/a.py", "import os\n")
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    project.write(rules, '[lint]\nselect = ["E", "F"]\n')
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pkg/a.py:1:8*F401*"])


def test_files_ruffs_include_adds_are_linted_as_ruff_check_lints_them(project):
    # `ruff check .` lints what include/extend-include add (a .pyw, an extensionless
    # script): the gate must not pass a project whose ruff check fails on them
    project.configure(
        {"lint": {"format": False}},
        extra='\n[tool.ruff]\nextend-include = ["*.pyw", "scripts/tool"]\n',
    )
    project.write("pkg/a.py", "def f():\n    return 1\n")
    project.write("pkg/b.pyw", "import os\n")
    project.write("scripts/tool", "import sys\n")
    project.write("scripts/notes", "import sys\n")  # not ruff's: not linted
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "pkg/b.pyw:1:8" in out and "scripts/tool:1:8" in out
    assert "scripts/notes" not in out


def test_files_ruffs_include_leaves_out_are_named_not_linted(project):
    # `include` replaces ruff's own file patterns: `ruff check .` lints src/ alone, and
    # tools/b.py only when handed it by name, which the gate must not do
    project.configure(
        {"lint": {"format": False}}, extra='\n[tool.ruff]\ninclude = ["src/**/*.py"]\n'
    )
    project.write("src/pkg/a.py", "def f():\n    return 1\n")
    project.write("tools/b.py", "import os\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 file(s) skipped by the tool's own configuration: tools/b.py (not matched by the "
            "ruff configuration's include)*"
        ]
    )
    project.write("src/pkg/a.py", "import os\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*src/pkg/a.py:1:8*F401*"])
    # an include that matches none of the files in scope lints nothing: an error
    project.configure(
        {"lint": {"format": False}}, extra='\n[tool.ruff]\ninclude = ["nowhere/*.py"]\n'
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)


@pytest.mark.parametrize("table", ["fix = true\n", "fix = true\nunsafe-fixes = true\n"])
def test_ruff_fix_in_the_config_neither_edits_files_nor_hides_findings(
    project, ruff_answers, table
):
    # `fix = true` makes `ruff check` rewrite the files and report only what it could not
    # fix: the gate judges the code as it is, and must not change the project
    project.configure({"lint": {"format": False}}, extra="\n[tool.ruff]\n" + table)
    project.write("pkg/a.py", "import os\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pkg/a.py:1:8*F401*"])
    assert (project.path / "pkg/a.py").read_text() == "import os\n"


def test_presets_add_debug_and_todo_rules(project):
    project.configure({"lint": {"presets": ["no-debug", "no-todo"], "format": False}})
    project.write(
        "a.py",
        "def f(x):\n    breakpoint()\n    print(x)  # TODO: remove\n    return x\n",
    )
    result = project.pytester.runpytest("--gates-only")
    result.stdout.fnmatch_lines(
        ["*a.py:2:5*T100*breakpoint*", "*a.py:3:5*T201*print*", "*a.py:3:17*FIX002*TODO*"]
    )


def test_blanket_noqa_is_reported_by_default(project):
    project.configure({"lint": {"format": False}})
    project.write("a.py", "# ruff: noqa\nimport os\n")
    result = project.pytester.runpytest("--gates-only")
    result.stdout.fnmatch_lines(["*a.py:1:1*PGH004*"])


def test_format_differences_are_findings(project):
    project.configure({"lint": {}})
    project.write("a.py", "x = {'a':1}\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*a.py:1:6*high*format*not formatted as `ruff format` would write it*"]
    )


def test_a_syntax_error_is_critical_and_not_double_reported(project):
    project.configure({"lint": {"fail_on": "critical"}})
    project.write("ok.py", "x = 1\n")
    project.write("broken.py", "def (:\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "broken.py:1:5" in out and "critical" in out and "invalid-syntax" in out
    assert "format " not in out.split("summary")[0].replace("format`", "")


@pytest.mark.parametrize(
    "table",
    ['[tool.ruff]\nextend-exclude = ["*.py"]', '[tool.ruff.lint]\nexclude = ["*"]'],
    ids=["exclude", "lint.exclude"],  # `ruff check --show-files` does not apply lint.exclude
)
def test_ruff_excluding_every_file_is_an_error_not_a_pass(project, ruff_answers, table):
    project.configure({"lint": {}}, extra=f"\n{table}\n")
    project.write("a.py", "import os\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ruff's configuration excludes all 1 files in scope*"])


@pytest.mark.parametrize(
    ("table", "left_out", "reason"),
    [
        ('[tool.ruff]\nextend-exclude = ["gen"]', "import os\n", "excluded"),
        ('[tool.ruff.lint]\nexclude = ["gen/*"]', "import os\n", "excluded from ruff check"),
        (
            '[tool.ruff.format]\nexclude = ["gen/*"]',
            "def f( a ):\n  return a\n",
            "excluded from ruff format",
        ),
    ],
    ids=["exclude", "lint.exclude", "format.exclude"],
)
def test_files_ruff_leaves_out_are_named(project, ruff_answers, table, left_out, reason):
    # What is left out would fail the gate if it were checked: a pass proves it was not.
    project.configure({"lint": {}}, extra=f"\n{table}\n")
    project.write("a.py", "x = 1\n")
    project.write("gen/b.py", left_out)
    result = project.pytester.runpytest("--gates-only", "--junitxml=j.xml", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*gen/b.py ({reason} by the ruff configuration)*"])
    assert gate_properties(project.path / "j.xml", "lint")["gate.figure.files_skipped"] == "1"


def test_a_file_only_lint_exclude_leaves_out_is_still_format_checked(project, ruff_answers):
    project.configure({"lint": {}}, extra='\n[tool.ruff.lint]\nexclude = ["gen/*"]\n')
    project.write("a.py", "x = 1\n")
    project.write("gen/b.py", "def f( a ):\n  return a\n")
    project.write("gen/c.py", "x = (\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*gen/b.py:1:*format*", "*gen/c.py:*critical*invalid-syntax*"])


def test_format_exclude_of_every_file_is_an_error_unless_format_is_off(project, ruff_answers):
    extra = '\n[tool.ruff.format]\nexclude = ["*"]\n'
    project.configure({"lint": {}}, extra=extra)
    project.write("a.py", "def f( a ):\n  return a\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ruff's configuration excludes all 1 files in scope from ruff format*format = false*"]
    )
    project.configure({"lint": {"format": False}}, extra=extra)
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)


def test_a_file_name_with_a_newline_is_linted(project, ruff_answers):
    # Not "excluded by the ruff configuration": ruff is never asked through a
    # one-path-a-line listing.
    project.configure({"lint": {}})
    project.write("a.py", "x = 1\n")
    project.write("new\nline.py", "import os\n")
    result = project.pytester.runpytest("--gates-only", "-rA")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "F401" in out
    assert "excluded" not in out


def test_notebooks_are_linted(project, ruff_answers):
    import json

    project.configure({"lint": {"format": False}})
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["import os\n"],
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    project.write("nb.ipynb", json.dumps(nb))
    result = project.pytester.runpytest("--gates-only")
    result.stdout.fnmatch_lines(["*nb.ipynb*F401*[[]cell 1[]]*"])


def test_ruff_timeout_is_an_error(project, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    ruff = fake / "ruff"
    ruff.write_text(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'ruff 0.17.0'; exit 0; fi\nsleep 30\n"
    )
    ruff.chmod(0o755)
    project.configure({"lint": {"timeout": 1, "ruff": str(ruff)}})
    project.write("a.py", "x = 1\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ruff did not finish within 1 s and was stopped*"])


def test_a_missing_or_too_old_ruff_is_an_error(project, tmp_path):
    project.write("a.py", "x = 1\n")
    project.configure({"lint": {"ruff": str(tmp_path / "nope" / "ruff")}})
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ruff is not installed or not on PATH*"])
    old = tmp_path / "ruff"
    old.write_text("#!/bin/sh\necho 'ruff 0.0.17'\n")
    old.chmod(0o755)
    project.configure({"lint": {"ruff": str(old)}})
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ruff 0.0.17 is older than the supported 0.9*"])
