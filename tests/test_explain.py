"""``platformgates explain ID`` and ``pytest --gates-explain ID``: every gate's rule ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_platformgates.cli import main
from pytest_platformgates.explain import UnknownRule, describe_rules, explain

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_platformgates"
GATES = PACKAGE / "gates"

# How the gate modules spell the rule ids they emit (checked below to find at least some).
_EMITTED = (
    r'rule="([a-z][a-z_-]*)"',
    r'\.add\(\s*[^,()]+,\s*[^,()]+,\s*"([a-z][a-z_-]*)"',
    r'yield "([a-z][a-z_-]*)",',
    r'return \(\s*"([a-z][a-z_-]*)",',
    r'self\._finding\(\s*(?:[a-z_]+,\s*)?"([a-z][a-z_-]*)"',
    r'^RULE(?:_[A-Z]+)? = "([a-z][a-z_-]*)"',
    r'_waiver_finding\(\w+, "([a-z][a-z_-]*)"',
)


def _emitted_rule_ids() -> set[str]:
    ids = set()
    for module in [*GATES.glob("*.py"), PACKAGE / "waivers.py", PACKAGE / "baseline.py"]:
        source = module.read_text(encoding="utf-8")
        for pattern in _EMITTED:
            ids.update(re.findall(pattern, source, re.MULTILINE))
    return ids


def test_every_rule_id_a_gate_emits_is_explained():
    emitted = _emitted_rule_ids()
    assert {"unpinned", "secret", "license-unknown", "nosec-blanket", "format"} <= emitted
    assert {"waiver-expired", "baseline-stale"} <= emitted
    missing = []
    for rule in sorted(emitted):
        try:
            explain(rule)
        except UnknownRule:
            missing.append(rule)
    assert not missing, f"explain knows nothing about rule ids the gates emit: {missing}"
    # Coverage's thresholds are its rule ids.
    assert {"line", "branch", "per_file", "new_code", "ratchet"} <= set(
        describe_rules()["coverage"]
    )


def test_a_ruff_code_is_explained_by_ruff_itself(capsys, tmp_path):
    assert main(["explain", "F401", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("F401: unused-import  (ruff ")
    assert "## What it does" in out and "ruff check --fix" in out
    assert "https://docs.astral.sh/ruff/rules/unused-import/" in out


def test_a_bandit_plugin_and_a_blacklist_id_come_from_bandits_metadata(capsys, tmp_path):
    assert main(["explain", "B602", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "subprocess popen with shell equals true  (bandit 1." in out
    assert "shell injection" in out and "# nosec B602" in out
    assert ":Example:" not in out  # the docstring's long tail is left out
    assert main(["explain", "b301", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "blacklisted call: pickle" in out and "CWE-502" in out


@pytest.mark.parametrize("name", ["AWS Access Key", "aws access key", "AWSKeyDetector"])
def test_a_detect_secrets_type_or_plugin_is_explained(capsys, tmp_path, name):
    assert main(["explain", name, "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "detect-secrets plugin AWSKeyDetector" in out and "rotate the credential" in out


def test_an_advisory_id_or_alias_is_read_from_the_configured_database(project, advisory_db, capsys):
    project.configure({"deps": {"database": f"osv:{advisory_db}"}})
    root = str(project.path)
    assert main(["explain", "PYSEC-2023-74", "--project", root]) == 0
    out = capsys.readouterr().out
    assert "a vulnerability advisory for requests" in out and "CVE-2023-32681" in out
    assert main(["explain", "CVE-2023-32681", "--project", root]) == 0  # an alias
    assert "PYSEC-2023-74:" in capsys.readouterr().out
    assert main(["explain", "PYSEC-1999-1", "--project", root]) == 2
    err = capsys.readouterr().err
    assert "no record with this id or alias" in err and "https://osv.dev/vulnerability/" in err


def test_an_advisory_id_without_an_offline_database_points_online(capsys, tmp_path):
    assert main(["explain", "GHSA-j8r2-6x86-q33q", "--project", str(tmp_path)]) == 0
    assert "https://osv.dev/vulnerability/GHSA-j8r2-6x86-q33q" in capsys.readouterr().out


def test_an_unknown_id_is_an_error_that_says_where_ids_come_from(capsys, tmp_path):
    assert main(["explain", "no-such-rule", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'no-such-rule' is not a rule id" in err
    assert "third column of a gate's report" in err and "ruff rule --all" in err


def test_pytest_gates_explain_prints_and_exits_before_running_anything(project):
    project.configure({"lint": {}})
    project.write("test_never.py", "def test_never():\n    raise AssertionError\n")
    result = project.pytester.runpytest("--gates-explain", "unpinned")
    assert result.ret == 0
    assert "unpinned: a build input is not pinned to one exact version  (gate pinning)" in (
        result.stdout.str()
    )
    assert "test session starts" not in result.stdout.str()
    result = project.pytester.runpytest("--gates-explain", "ZZZ-nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "is not a rule id" in result.stdout.str() + result.stderr.str()


def test_a_third_party_rule_is_read_from_the_last_runs_sarif(project, monkeypatch, capsys):
    from test_terminal import _project

    _project(project, monkeypatch, 0)  # a local "noisy" gate with rule NOISE1
    root = str(project.path)
    assert main(["explain", "NOISE1", "--project", root]) == 2  # no run yet: unknown
    assert "is not a rule id" in capsys.readouterr().err
    project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert main(["explain", "NOISE1", "--project", root]) == 0
    out = capsys.readouterr().out
    assert "findings.sarif (platformgates-noisy)" in out
    assert "a little noise" in out and "turn it down" in out


def test_a_rule_read_from_the_last_runs_sarif_is_spelt_out(tmp_path, capsys):
    # The SARIF's descriptions are findings' messages and hints: a tool's text, quoting
    # the project (ruff quotes the bytes it cannot parse).
    rule = {
        "id": "H1",
        "shortDescription": {"text": "probe: H1"},
        "fullDescription": {"text": "Got unexpected token \x1b[8m"},
        "help": {"text": "fix \x07it"},
    }
    log = {"runs": [{"tool": {"driver": {"name": "platformgates-probe", "rules": [rule]}}}]}
    (tmp_path / "gate-evidence").mkdir()
    (tmp_path / "gate-evidence" / "findings.sarif").write_text(json.dumps(log), encoding="utf-8")
    assert main(["explain", "H1", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "Got unexpected token \\x1b[8m" in out and "fix \\x07it" in out
