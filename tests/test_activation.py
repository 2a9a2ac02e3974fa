"""The entry point (activation.py): nothing but itself is imported unless gates were asked for."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest

from pytest_platformgates.activation import asks_for_gates
from tests.conftest import gates_toml

# Run in a fresh interpreter: this test process has imported the whole plugin already.
REPORT_MODULES = """
import sys

def pytest_configure(config):
    ours = sorted(m for m in sys.modules if m.startswith("pytest_platformgates"))
    print("imported:", ",".join(ours))
"""


def _imported(result: pytest.RunResult) -> list[str]:
    line = next(line for line in result.outlines if line.startswith("imported:"))
    return [m for m in line.removeprefix("imported:").strip().split(",") if m]


def test_a_project_without_the_table_imports_only_the_entry_point(pytester):
    pytester.makeconftest(REPORT_MODULES)
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    pytester.makepyprojecttoml("[tool.other]\nx = 1\n")
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert _imported(result) == ["pytest_platformgates", "pytest_platformgates.activation"]


def test_a_project_with_the_table_registers_the_plugin(pytester):
    pytester.makeconftest(REPORT_MODULES)
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    pytester.makepyprojecttoml(gates_toml({}))
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly", "--no-gates")
    result.assert_outcomes(passed=1)
    assert "pytest_platformgates.plugin" in _imported(result)
    assert "pytest_platformgates.measurement" in _imported(result)


def test_options_exist_without_the_table_and_gates_asks_for_one(pytester):
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    assert "--gates-changed" in pytester.runpytest_subprocess("--help").stdout.str()
    result = pytester.runpytest_subprocess("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no [tool.platformgates] table" in result.stderr.str()


def test_malformed_toml_never_switches_the_gates_off(pytester):
    pytester.makepyprojecttoml("[tool.platformgates\nfail_on = 'high'\n")
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pyproject.toml" in result.stderr.str()


@pytest.mark.parametrize(
    ("content", "asks"),
    [
        pytest.param(b"[tool.platformgates]\n", True, id="table"),
        pytest.param(b"[tool.other]\n", False, id="no-table"),
        pytest.param(b"[tool.platformgates\n", True, id="malformed"),
        # pytest itself refuses such a file today; the plugin must not be the one to pass it
        pytest.param(b"[tool.platformgates]\nname = '\xff'\n", True, id="not-utf8"),
        pytest.param(None, False, id="absent"),
    ],
)
def test_what_asks_for_gates(tmp_path, content, asks):
    if content is not None:
        (tmp_path / "pyproject.toml").write_bytes(content)
    config = SimpleNamespace(
        known_args_namespace=SimpleNamespace(gates=False, gates_only=False),
        inipath=None,
        rootpath=tmp_path,
    )
    assert asks_for_gates(config) is asks  # type: ignore[arg-type]


def test_in_process_runs_of_a_gated_project_from_an_ungated_one_measure_each_time(pytester):
    # The outer session has no gates, so the plugin is imported first by an inner run; a
    # sys.modules restore after it must not make the next run import coverage again
    # (its C tracer cannot be imported twice): activation imports it with pytester.
    inner = textwrap.dedent(
        """
        import pytest

        pytest_plugins = ["pytester"]

        @pytest.mark.parametrize("run", [1, 2])
        def test_inner(pytester, run):
            pytester.makepyprojecttoml(PYPROJECT)
            pytester.makepyfile(calc="def add(a, b):\\n    return a + b\\n")
            pytester.makepyfile(test_calc="from calc import add\\n\\n"
                                "def test_add():\\n    assert add(1, 2) == 3\\n")
            result = pytester.inline_run("--gates", "-p", "no:cacheprovider")
            passed, _, failed = result.listoutcomes()
            names = sorted(r.nodeid for r in passed)
            assert names == ["platformgates::coverage", "test_calc.py::test_add"], failed
        """
    )
    pyproject = gates_toml({"coverage": {"line": 100, "omit": ["test_*.py"]}})
    pytester.makepyfile(test_outer=f"PYPROJECT = {pyproject!r}\n{inner}")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("plugin", ["platformgates", "pytest_platformgates.plugin"])
def test_named_on_the_command_line_without_autoload_the_plugin_works_whole(
    pytester, monkeypatch, plugin
):
    # By its entry point's name, or by the plugin module itself: either way the options
    # exist and coverage is measured from the start.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyprojecttoml(gates_toml({"coverage": {"line": 100, "omit": ["test_*.py"]}}))
    pytester.makepyfile(calc="def add(a, b):\n    return a + b\n")
    pytester.makepyfile(
        test_calc="from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    result = pytester.runpytest_subprocess("-p", plugin, "--gates", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*coverage*PASSED*"])
