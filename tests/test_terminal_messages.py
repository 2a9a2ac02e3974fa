"""Error messages a newcomer meets: what happened, where (file, key, line), what to do next."""

from __future__ import annotations

import pytest

from pytest_platformgates.cli import main
from pytest_platformgates.locate import key_line

PYPROJECT = """\
[project]
name = "demo"
version = "0.0.1"

[tool.platformgates]
fail_on = "high"

[tool.platformgates.gates.lint]
presets = ["no-debug"]
"""


def _write(project, extra: str = "", replace: tuple[str, str] = ("", "")) -> None:
    text = PYPROJECT.replace(*replace) if replace[0] else PYPROJECT
    project.write("pyproject.toml", text + extra, dedent=False)


def test_an_unknown_key_names_file_line_key_and_the_likely_fix(project):
    _write(project, replace=('presets = ["no-debug"]', 'presets = ["no-debug"]\nformt = false'))
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"{project.path / 'pyproject.toml'}:10: tool.platformgates.gates.lint.formt" in err
    assert "unknown key (did you mean 'format'?)" in err


def test_a_configuration_error_spells_out_control_characters_it_quotes(project, capsys):
    # TOML takes "\u001b" in a key or a value; the error quoting it went to the terminal raw.
    _write(project, replace=("[tool.platformgates]", '[tool.platformgates]\n"a\\u001b[2Jb" = 1'))
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "\x1b" not in err and "tool.platformgates.a\\x1b[2Jb: unknown key" in err
    assert main(["config", "--project", str(project.path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "tool.platformgates.a\\x1b[2Jb: unknown key" in err


def test_a_quoted_number_or_boolean_says_to_drop_the_quotes(project, capsys):
    _write(project, '\n[tool.platformgates.gates.coverage]\nline = "80"\n')
    assert main(["config", "--project", str(project.path)]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml:12: tool.platformgates.gates.coverage.line must be a number" in err
    assert "write it without quotes: 80" in err
    _write(project, replace=('presets = ["no-debug"]', 'format = "false"'))
    assert main(["config", "--project", str(project.path)]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml:9: tool.platformgates.gates.lint.format must be true or false" in err
    assert "write it without quotes: false" in err


def test_an_unknown_gate_names_the_line_of_its_table(project, capsys):
    _write(project, "\n[tool.platformgates.gates.secret]\nenabled = true\n")
    assert main(["config", "--project", str(project.path)]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml:11: tool.platformgates.gates.secret: no such gate" in err
    assert "registered gates:" in err and "secrets" in err


def test_a_plugin_that_cannot_be_imported_says_where_and_what_to_do(project):
    _write(project, replace=('fail_on = "high"', 'fail_on = "high"\nplugins = ["acme_gates"]'))
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "pyproject.toml:7: tool.platformgates.plugins: cannot import 'acme_gates'" in err
    assert "install the package that provides it" in err


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("[tool.platformgates]\nfail_on = 'high'\n", "tool.platformgates.fail_on", 2),
        ("[tool]\nplatformgates.fail_on = 'high'\n", "tool.platformgates.fail_on", 2),
        ('[tool.platformgates]\n"fail_on" = 1\n', "tool.platformgates.fail_on", 2),
        (
            "[tool.platformgates.gates]\nlint = { format = 1 }\n",
            "tool.platformgates.gates.lint.format",
            2,
        ),
        (
            '[tool.x]\ns = """\n[tool.platformgates]\nfail_on = 1\n"""\n'
            "[tool.platformgates]\nfail_on = 2\n",
            "tool.platformgates.fail_on",
            7,
        ),
        (
            "[[tool.platformgates.waivers]]\ngate = 'deps'\n",
            "tool.platformgates.waivers[0].gate",
            2,
        ),
        ("[tool.platformgates]\n", "tool.platformgates.missing", None),
    ],
)
def test_key_line_reads_tables_dotted_quoted_inline_and_skips_strings(text, key, line):
    assert key_line(text, key) == line


def test_a_gate_that_could_not_judge_says_what_to_do_next(project):
    _write(project, replace=('presets = ["no-debug"]', 'ruff = "no-such-ruff-binary"'))
    project.write("a.py", "x = 1\n")
    project.commit()
    result = project.pytester.runpytest("--gates-only", "-k", "lint", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1, deselected=7)
    result.stdout.fnmatch_lines(
        [
            "gate 'lint' could not be evaluated; it does not pass:",
            "  - no-such-ruff-binary is not installed or not on PATH (*): install it in the "
            "environment pytest runs in, or correct the gate setting that names it",
            "next: fix the cause above and rerun this gate alone with "
            "`pytest --gates-only -k lint`; its settings are *tool.platformgates.gates.lint*",
        ]
    )


@pytest.mark.parametrize(
    ("setting", "lines"),
    [
        (
            'source = "requirement.txt"\ndatabase = "osv:advisories"',
            [
                "*requirements file requirement.txt does not exist (source = 'requirement.txt'); "
                "`source` is 'environment', 'pyproject', or a requirements or lock file*",
            ],
        ),
        (
            'source = "requirements.txt"\ndatabase = "osv:advisorie"',
            [
                "*database = 'osv:advisorie': the advisory database *advisorie does not exist",
                "*point `database` at a directory of OSV JSON/YAML records or at OSV's "
                "per-ecosystem zip*, or remove it to query OSV online",
            ],
        ),
    ],
    ids=["source", "database"],
)
def test_a_misspelt_deps_path_names_the_setting_and_what_it_may_be(project, setting, lines):
    _write(project, f"\n[tool.platformgates.gates.deps]\n{setting}\n")
    project.write("requirements.txt", "requests==2.19.0\n")
    (project.path / "advisories").mkdir()
    project.commit()
    result = project.pytester.runpytest("--gates-only", "-k", "deps", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1, deselected=7)
    result.stdout.fnmatch_lines(lines)


def test_a_missing_extends_file_says_how_paths_and_packages_are_written(project, capsys):
    _write(project, replace=('fail_on = "high"', 'extends = ["../policy/servce.toml"]'))
    assert main(["config", "--project", str(project.path)]) == 2
    err = capsys.readouterr().err
    assert "extends '../policy/servce.toml': no such file" in err
    assert "relative to the file that extends it" in err and "pkg:PACKAGE/FILE.toml" in err


def test_verify_outside_a_git_checkout_says_how_to_name_the_commit(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.platformgates]\n")
    (tmp_path / "gate-evidence").mkdir()
    assert main(["verify", str(tmp_path / "gate-evidence"), "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read HEAD in {tmp_path}" in err
    assert "run verify in the git checkout the bundle was made from" in err
    assert "--commit SHA" in err
