"""Configuration: strict validation, clear usage errors, defaults, a stable digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_platformgates.config import ConfigError, build_settings, read_table
from pytest_platformgates.gates.lint import LintGate


def _usage_error(project, pyproject: str, *needles: str) -> None:
    project.write("pyproject.toml", pyproject)
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "pyproject.toml" in err
    for needle in needles:
        assert needle in err, err


def test_unknown_global_key_is_a_usage_error_naming_key_and_file(project):
    _usage_error(
        project,
        """
        [tool.platformgates]
        fail_onn = "high"
        """,
        "tool.platformgates.fail_onn: unknown key",
        "did you mean 'fail_on'",
    )


def test_unknown_key_inside_a_gate_table_is_a_usage_error(project):
    _usage_error(
        project,
        """
        [tool.platformgates.gates.lint]
        preset = ["no-debug"]
        """,
        "tool.platformgates.gates.lint.preset: unknown key",
        "did you mean 'presets'",
    )


@pytest.mark.parametrize(
    ("snippet", "needle"),
    [
        ("fail_on = 3", "tool.platformgates.fail_on must be a severity string, not 3 (int)"),
        ('fail_on = "urgent"', "unknown severity 'urgent'"),
        ('paths = "src"', "tool.platformgates.paths must be a list of strings"),
        ("max_file_size = 0", "max_file_size = 0 is below its minimum 1"),
        ("max_file_size = true", "max_file_size must be a whole number, not True (bool)"),
        ("[tool.platformgates.gates.lint]\ntimeout = 0", "gates.lint.timeout = 0 is below"),
        ("[tool.platformgates.gates.lint]\nenabled = 1", "gates.lint.enabled must be true or"),
        ('[tool.platformgates.gates.lint]\npresets = ["no-bugs"]', "unknown value 'no-bugs'"),
        ('[tool.platformgates.gates.lint]\nfail_on = "hgh"', "unknown severity 'hgh'"),
        ("[tool.platformgates.gates.nosuch]", "gates.nosuch: no such gate (registered gates:"),
        ("gates = 3", "tool.platformgates.gates must be a table"),
        ('extends = ["base.toml"]', "extends 'base.toml': no such file"),
    ],
)
def test_wrong_types_and_impossible_values_are_usage_errors(project, snippet, needle):
    _usage_error(project, "[tool.platformgates]\n" + snippet + "\n", needle)


def test_malformed_toml_is_a_usage_error(project):
    _usage_error(project, "[tool.platformgates\nfail_on = 'high'\n", "Expected ']'")


def test_read_table_reports_malformed_toml_with_file_and_position(tmp_path):
    source = tmp_path / "pyproject.toml"
    source.write_text("[tool.platformgates]\nfail_on = 'high\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: Expected"):
        read_table(source)


def test_without_the_table_pytest_is_left_exactly_as_it_was(project):
    project.write("pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    project.write("mod.py", "import os\n")  # would fail lint if gates ran
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    result = project.pytester.runpytest("--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "platformgates" not in out.replace("platformgates-", "")  # only the plugins: line
    assert "gate" not in (project.path / "junit.xml").read_text()


def test_disabled_plugin_leaves_pytest_alone_even_with_a_table(project):
    project.configure({"lint": {}})
    project.write("mod.py", "import os\n")
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    result = project.pytester.runpytest("-p", "no:platformgates")
    result.assert_outcomes(passed=1)
    assert "platformgates::" not in result.stdout.str()


def test_gates_option_without_a_table_is_refused(project):
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    result = project.pytester.runpytest("--gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no [tool.platformgates] table" in result.stderr.str()


def _settings(tmp_path: Path, text: str):
    source = tmp_path / "pyproject.toml"
    source.write_text(text)
    raw = read_table(source)
    assert raw is not None
    return build_settings(tmp_path, source, raw, {"lint": LintGate()})


def test_defaults_are_filled_in_and_the_digest_is_stable(tmp_path):
    a = _settings(tmp_path, '[tool.platformgates]\nfail_on = "high"\nexclude = ["x"]\n')
    b = _settings(tmp_path, '[tool.platformgates]\nexclude = ["x"]\nfail_on = "high"\n')
    c = _settings(tmp_path, '[tool.platformgates]\nexclude = ["x"]\nfail_on = "medium"\n')
    assert a.digest == b.digest
    assert a.digest != c.digest
    assert len(a.digest) == 64
    lint = a.gates["lint"]
    assert lint.enabled is True
    assert lint.timeout == 600
    assert lint.fail_on.label == "high"  # inherited from the global fail_on
    assert lint["presets"] == ["no-blanket-noqa"]
    assert c.gates["lint"].fail_on.label == "medium"


def test_a_gate_fail_on_overrides_the_global_one(tmp_path):
    s = _settings(
        tmp_path,
        '[tool.platformgates]\nfail_on = "critical"\n[tool.platformgates.gates.lint]\n'
        'fail_on = "low"\n',
    )
    assert s.fail_on.label == "critical"
    assert s.gates["lint"].fail_on.label == "low"


def test_read_table_reports_non_utf8_pyproject(tmp_path):
    source = tmp_path / "pyproject.toml"
    source.write_bytes(b"[tool.platformgates]\nfail_on = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_table(source)


def test_table_that_is_not_a_table_is_an_error(tmp_path):
    source = tmp_path / "pyproject.toml"
    source.write_text('[tool]\nplatformgates = "on"\n')
    with pytest.raises(ConfigError, match="must be a table"):
        read_table(source)
