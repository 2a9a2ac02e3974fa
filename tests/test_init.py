"""``platformgates init``: inspect, write a section that runs, never overwrite silently."""

from __future__ import annotations

import importlib
import json
import sys

import pytest
from secrets_support import Secrets

from pytest_platformgates.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = """\
# The team's own comments and layout must survive init byte for byte.
[build-system]
requires = ["hatchling==1.33.0"]
build-backend = "hatchling.build"

[project]
name = "shop"
version = "0.1.0"
dependencies = []

[tool.pytest.ini_options]
pythonpath = ["src"]
"""


def _small_project(project):
    project.write("pyproject.toml", PYPROJECT, dedent=False)
    project.write(
        "src/shop/__init__.py",
        '"""A shop."""\n\n\ndef total(prices: list[int]) -> int:\n    return sum(prices)\n',
        dedent=False,
    )
    project.write(
        "tests/test_shop.py",
        "from shop import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n",
        dedent=False,
    )


def _without_gates(text: str) -> dict:
    data = tomllib.loads(text)
    data.get("tool", {}).pop("platformgates", None)
    if "tool" in data and not data["tool"]:
        del data["tool"]
    return data


def test_init_on_a_fresh_project_writes_a_section_that_loads_and_runs(project, capsys):
    _small_project(project)
    project.commit("feat: shop")
    assert main(["init", "--project", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert "src layout: shop" in out
    assert "+[tool.platformgates]" in out  # the diff is shown
    text = (project.path / "pyproject.toml").read_text(encoding="utf-8")
    assert text.startswith(PYPROJECT)
    assert _without_gates(text) == tomllib.loads(PYPROJECT)
    section = tomllib.loads(text)["tool"]["platformgates"]
    assert section["gates"]["deps"]["source"] == "environment"
    assert main(["config", "--project", str(project.path)]) == 0
    capsys.readouterr()

    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    output = result.stdout.str()
    assert "usage" not in result.stderr.str().lower()
    table = output[output.index("platformgates summary") :]
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:] if line.strip()}
    # Gates that judge the project's own files pass on this clean project. The ones that
    # judge the environment ran, with verdicts that depend on it (deps needs the network:
    # offline it is an ERROR, never a pass; licenses judges whatever is installed).
    for gate in ("lint", "pinning", "sast", "secrets"):
        assert rows.get(gate) == "PASSED", (gate, output)
    for gate in ("deps", "licenses", "sbom"):
        assert rows.get(gate) in ("PASSED", "FAILED", "ERROR"), (gate, output)
    assert "platformgates::coverage SKIPPED" in output or "1 skipped" in output


def test_init_keeps_the_file_byte_for_byte_crlf_and_no_final_newline(project, capsys):
    original = PYPROJECT.replace("\n", "\r\n").rstrip("\r\n")  # no newline at the end
    (project.path / "pyproject.toml").write_bytes(original.encode())
    assert main(["init", "--project", str(project.path)]) == 0
    new = (project.path / "pyproject.toml").read_bytes().decode()
    assert new.startswith(original + "\r\n")
    assert "\n" not in new.replace("\r\n", "")  # the file's own line endings throughout
    assert _without_gates(new) == tomllib.loads(original)


def test_an_existing_section_is_refused_with_the_diff_then_replaced_with_force(project, capsys):
    custom = (
        PYPROJECT
        + '\n[tool.platformgates]\nfail_on = "critical"\n\n[tool.ruff]\nline-length = 99\n'
    )
    project.write("pyproject.toml", custom, dedent=False)
    assert main(["init", "--project", str(project.path)]) == 1
    out = capsys.readouterr().out
    assert (project.path / "pyproject.toml").read_text(encoding="utf-8") == custom
    assert '-fail_on = "critical"' in out and "+[tool.platformgates.gates.lint]" in out
    assert "--force" in out and "nothing written" in out

    assert main(["init", "--project", str(project.path), "--force"]) == 0
    capsys.readouterr()
    text = (project.path / "pyproject.toml").read_text(encoding="utf-8")
    assert 'fail_on = "critical"' not in text
    assert text.startswith(PYPROJECT)
    assert tomllib.loads(text)["tool"]["ruff"] == {"line-length": 99}
    assert _without_gates(text) == _without_gates(custom)
    # Running it again finds nothing to change.
    assert main(["init", "--project", str(project.path)]) == 0
    assert "is what init writes" in capsys.readouterr().out


def test_force_refuses_a_section_it_cannot_replace_safely(project, capsys):
    custom = PYPROJECT + '\n[tool]\nplatformgates = { fail_on = "low" }\n'
    project.write("pyproject.toml", custom, dedent=False)
    assert main(["init", "--project", str(project.path), "--force"]) == 2
    out = capsys.readouterr().err
    assert "cannot replace it safely" in out and "delete it by hand" in out
    assert (project.path / "pyproject.toml").read_text(encoding="utf-8") == custom


def test_dry_run_writes_nothing(project, capsys):
    _small_project(project)
    assert main(["init", "--project", str(project.path), "--dry-run"]) == 0
    assert "+[tool.platformgates]" in capsys.readouterr().out
    assert (project.path / "pyproject.toml").read_text(encoding="utf-8") == PYPROJECT


def test_init_reads_what_the_project_already_has(project, capsys):
    _small_project(project)
    extra = "\n[tool.ruff]\nline-length = 100\n\n[tool.bandit]\nskips = []\n"
    extra += '\n[tool.coverage.run]\nsource = ["src"]\n'
    project.write("pyproject.toml", PYPROJECT + extra, dedent=False)
    project.write("requirements.txt", "requests==2.32.3\n", dedent=False)
    project.write("uv.lock", "version = 1\n", dedent=False)
    project.write(".venv/pyvenv.cfg", "home = /usr/bin\n", dedent=False)
    assert main(["init", "--project", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert "ruff config: [tool.ruff] in pyproject.toml" in out
    assert "bandit config: [tool.bandit] in pyproject.toml" in out
    assert "requirement/lock files: requirements.txt" in out
    assert "virtual environments git does not ignore: .venv" in out
    text = (project.path / "pyproject.toml").read_text(encoding="utf-8")
    section = tomllib.loads(text)["tool"]["platformgates"]
    assert section["gates"]["deps"]["source"] == "requirements.txt"
    assert section["exclude"] == [".venv/**"]
    assert "uv export --format pylock.toml" in text


def test_secrets_baseline_is_made_by_detect_secrets_and_says_what_it_accepts(project, capsys):
    _small_project(project)
    key = Secrets(seed=11).aws_key().value
    project.write("src/shop/settings.py", f'AWS_KEY = "{key}"\n', dedent=False)
    project.commit("feat: shop")
    assert main(["init", "--project", str(project.path), "--secrets-baseline"]) == 0
    out = capsys.readouterr().out
    assert key not in out
    # The baseline accepts what it records: init says so, and where, before anything else.
    assert "WARNING: 1 possible secret(s) are now in the baseline" in out
    assert "src/shop/settings.py:1 AWS Access Key" in out
    baseline = json.loads((project.path / ".secrets.baseline").read_text(encoding="utf-8"))
    assert list(baseline["results"]) == ["src/shop/settings.py"]
    assert key not in json.dumps(baseline)
    section = tomllib.loads((project.path / "pyproject.toml").read_text(encoding="utf-8"))
    assert section["tool"]["platformgates"]["gates"]["secrets"]["baseline"] == ".secrets.baseline"

    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider", "-k", "secrets")
    result.assert_outcomes(passed=1, deselected=7)
    # Audited as real (what `detect-secrets audit` records), it blocks again.
    path = project.path / ".secrets.baseline"
    baseline["results"]["src/shop/settings.py"][0]["is_secret"] = True
    path.write_text(json.dumps(baseline), encoding="utf-8")
    result = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider", "-k", "secrets")
    result.assert_outcomes(failed=1, deselected=7)
    assert key not in result.stdout.str()

    # A second request would drop the audit marks: refused without --force.
    (project.path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    assert main(["init", "--project", str(project.path), "--secrets-baseline"]) == 1
    assert "not replacing it" in capsys.readouterr().out


def test_secrets_baseline_alone_for_a_project_already_configured(project, capsys):
    configured = PYPROJECT + '\n[tool.platformgates]\nfail_on = "high"\n'
    project.write("pyproject.toml", configured, dedent=False)
    project.write("notes.txt", "nothing secret here\n", dedent=False)
    assert main(["init", "--project", str(project.path), "--secrets-baseline"]) == 0
    out = capsys.readouterr().out
    assert "wrote .secrets.baseline" in out and "left as it is" in out
    assert (project.path / "pyproject.toml").read_text(encoding="utf-8") == configured
    assert (project.path / ".secrets.baseline").is_file()


@pytest.mark.parametrize(
    "content", ["[project\nname = 1\n", "\udcff".encode("utf-8", "surrogateescape")]
)
def test_an_unreadable_pyproject_is_an_error_that_says_so(project, capsys, content):
    path = project.path / "pyproject.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert main(["init", "--project", str(project.path)]) == 2
    out = capsys.readouterr().err
    assert "platformgates init: error:" in out and "pyproject.toml" in out


@pytest.mark.parametrize("dry_run", [False, True], ids=["write", "dry-run"])
def test_a_pyproject_that_is_a_directory_is_an_error_not_a_traceback(tmp_path, capsys, dry_run):
    (tmp_path / "pyproject.toml").mkdir()
    args = ["init", "--project", str(tmp_path), *(["--dry-run"] if dry_run else [])]
    assert main(args) == 2  # exit 1 would read as "refused"
    err = capsys.readouterr().err
    assert f"platformgates init: error: {tmp_path / 'pyproject.toml'}: cannot be read" in err
    assert "Traceback" not in err


def test_a_pyproject_linking_to_nothing_is_an_error_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "pyproject.toml").symlink_to(tmp_path / "elsewhere.toml")
    assert main(["init", "--project", str(tmp_path)]) == 2
    assert "elsewhere.toml, which does not exist" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere.toml").exists()


def test_a_secrets_baseline_that_cannot_be_written_is_an_error(project, capsys):
    _small_project(project)
    project.commit("feat: shop")
    (project.path / ".secrets.baseline").mkdir()
    assert main(["init", "--project", str(project.path), "--secrets-baseline"]) == 2
    err = capsys.readouterr().err
    assert f"error: {project.path / '.secrets.baseline'}: cannot be written: Is a directory" in err
    assert "platformgates" not in (project.path / "pyproject.toml").read_text(encoding="utf-8")


def test_any_other_input_init_cannot_read_is_an_error(tmp_path, capsys, monkeypatch):
    # Through sys.modules, as the command imports it: pytester's inner runs drop modules
    # they imported, and `from pytest_platformgates import init` could then patch a
    # module object the command no longer uses (seen under -n 2: exit 0).
    init = importlib.import_module("pytest_platformgates.init")

    def unreadable(root, git):  # what a directory root may not list raises (not as root)
        raise PermissionError(13, "Permission denied", str(root / "venv"))

    monkeypatch.setattr(init, "_unignored_venvs", unreadable)
    assert main(["init", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"platformgates init: error: {tmp_path / 'venv'}: cannot be read: Permission" in err


def test_a_project_directory_that_does_not_exist_is_an_error(tmp_path, capsys):
    assert main(["init", "--project", str(tmp_path / "nope")]) == 2
    assert "is not a directory; pass the project with --project DIR" in capsys.readouterr().err
