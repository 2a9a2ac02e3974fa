"""Policy as code: extends chains, package policies, pins, guardrails, CLI refusals."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from conftest import write_sign_package
from pytest_platformgates import cli, policy
from pytest_platformgates.config import ConfigError, read_table
from pytest_platformgates.manager import collect_gates, create_plugin_manager

PROJECT_HEAD = '[project]\nname = "demo"\nversion = "0.0.1"\n\n[tool.platformgates]\n'


@pytest.fixture(scope="module")
def gates():
    return collect_gates(create_plugin_manager(), {})


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def load(root: Path, gates, project: str, **files: str):
    """Settings of a project whose [tool.platformgates] body is ``project``."""
    _write(root, {k.replace("__", "/").replace("_toml", ".toml"): v for k, v in files.items()})
    source = root / "pyproject.toml"
    source.write_text(PROJECT_HEAD + textwrap.dedent(project), encoding="utf-8")
    return policy.load_settings(source, read_table(source), root, gates)


def refused(root: Path, gates, project: str, *needles: str, **files: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(root, gates, project, **files)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    return message


BASE = """
fail_on = "high"
[gates.coverage]
line = 80
[gates.lint]
presets = ["no-debug"]
[guardrails]
"gates.coverage.line" = { min = 80 }
"fail_on" = { max = "high" }
"gates.secrets.enabled" = { locked = true }
"gates.lint" = { required = true }
"""


def test_a_chain_of_two_merges_base_first_and_records_who_set_what(tmp_path, gates):
    settings = load(
        tmp_path,
        gates,
        'extends = ["base.toml"]\nfail_on = "medium"\n[tool.platformgates.gates.coverage]\n'
        "line = 90\n",
        base_toml=BASE,
    )
    assert settings.values["fail_on"] == "medium"
    assert settings.gates["coverage"]["line"] == 90
    assert settings.gates["lint"]["presets"] == ["no-debug"]  # from the base, kept
    resolved = settings.policy.policy
    assert resolved.set_by("gates.lint.presets") == "base.toml"
    assert resolved.set_by("gates.coverage.line") == "pyproject.toml"
    assert resolved.set_by("exclude") == "default"
    assert settings.policy.required_gates == ("lint", "secrets")
    assert settings.effective()["policy"]["layers"][0]["name"] == "base.toml"


def test_a_chain_of_three_resolves_each_extends_relative_to_its_own_file(tmp_path, gates):
    settings = load(
        tmp_path,
        gates,
        'extends = "policies/team.toml"\n',
        policies__team_toml='extends = ["org/base.toml"]\nfail_on = "medium"\n'
        "[gates.lint]\nformat = false\n",
        policies__org__base_toml=BASE,
    )
    names = [layer.name for layer in settings.policy.policy.layers]
    assert names == ["policies/org/base.toml", "policies/team.toml", "pyproject.toml"]
    assert settings.values["fail_on"] == "medium"
    assert settings.gates["lint"]["format"] is False
    assert settings.gates["lint"]["presets"] == ["no-debug"]
    assert settings.policy.policy.set_by("fail_on") == "policies/team.toml"


def test_policy_command_prints_each_key_its_value_and_its_file(tmp_path, gates, capsys):
    load(tmp_path, gates, 'extends = ["base.toml"]\n', base_toml=BASE)
    assert cli.main(["policy", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "base.toml  sha256 " in out
    assert any(
        line.split() == ["gates.coverage.line", "=", "80", "#", "base.toml"]
        for line in out.splitlines()
    ), out
    assert "gates.coverage.line: min = 80  # base.toml" in out
    assert "required gates: lint, secrets" in out


def test_policy_command_spells_out_control_characters_in_values(tmp_path, gates, capsys):
    load(tmp_path, gates, 'exclude = ["x\\u001b[8m"]\n')
    assert cli.main(["policy", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and '["x\\x1b[8m"]' in out


def test_policy_command_names_the_file_that_set_each_waiver_rule(tmp_path, gates, capsys):
    load(
        tmp_path,
        gates,
        'extends = ["base.toml"]\n[tool.platformgates.waiver_policy]\nmax_days = 30\n',
        base_toml="[waiver_policy]\nmax_days = 90\nrequire_approver = true\n",
    )
    assert cli.main(["policy", "--project", str(tmp_path)]) == 0
    rows = {
        line.split()[0]: line.split()[-1]
        for line in capsys.readouterr().out.splitlines()
        if line.strip().startswith("waiver_policy.")
    }
    assert rows["waiver_policy.max_days"] == "pyproject.toml"
    assert rows["waiver_policy.require_approver"] == "base.toml"
    assert rows["waiver_policy.stale"] == "default"


def test_a_policy_from_an_installed_package(tmp_path, gates, monkeypatch):
    pkg = tmp_path / "site" / "acme_policy"
    _write(
        pkg,
        {
            "__init__.py": "",
            "base.toml": 'extends = ["common/strict.toml"]\nfail_on = "medium"\n',
            "common/strict.toml": BASE,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    root = tmp_path / "proj"
    root.mkdir()
    settings = load(root, gates, 'extends = ["pkg:acme_policy/base.toml"]\n')
    names = [layer.name for layer in settings.policy.policy.layers]
    assert names == [
        "pkg:acme_policy/common/strict.toml",
        "pkg:acme_policy/base.toml",
        "pyproject.toml",
    ]
    assert settings.values["fail_on"] == "medium"
    refused(root, gates, 'extends = ["pkg:acme_policy/nope.toml"]\n', "has no resource 'nope.toml'")
    refused(root, gates, 'extends = ["pkg:no_such_pkg_x/base.toml"]\n', "no installed package")
    refused(root, gates, 'extends = ["pkg:acme_policy"]\n', "pkg:package/path/inside.toml")


def test_a_pinned_policy_must_have_the_pinned_digest(tmp_path, gates):
    digest = hashlib.sha256(textwrap.dedent(BASE).encode()).hexdigest()
    settings = load(
        tmp_path,
        gates,
        f'extends = [{{ path = "base.toml", sha256 = "{digest}" }}]\n',
        base_toml=BASE,
    )
    assert settings.policy.policy.layers[0].digest == digest
    wrong = "0" * 64
    message = refused(
        tmp_path,
        gates,
        f'extends = [{{ path = "base.toml", sha256 = "{wrong}" }}]\n',
        f"sha256 is {digest}, but the pin says {wrong}",
        "the policy changed",
        base_toml=BASE,
    )
    assert message.startswith("pyproject.toml")
    refused(
        tmp_path, gates, 'extends = [{ path = "base.toml", sha256 = "abc" }]\n', "64 hexadecimal"
    )


def test_cycles_and_missing_files_are_clear_errors(tmp_path, gates):
    refused(
        tmp_path,
        gates,
        'extends = ["a.toml"]\n',
        "extends cycle: pyproject.toml -> a.toml -> b.toml -> a.toml",
        a_toml='extends = ["b.toml"]\n',
        b_toml='extends = ["a.toml"]\n',
    )
    refused(
        tmp_path,
        gates,
        'extends = ["a.toml"]\n',
        "a.toml: extends 'missing.toml': no such file",
        a_toml='extends = ["missing.toml"]\n',
    )
    refused(
        tmp_path, gates, 'extends = ["bad.toml"]\n', "bad.toml: invalid TOML", bad_toml="x = [\n"
    )


def test_a_diamond_merges_the_shared_base_once(tmp_path, gates):
    settings = load(
        tmp_path,
        gates,
        'extends = ["a.toml", "b.toml"]\n',
        a_toml='extends = ["base.toml"]\n',
        b_toml='extends = ["base.toml"]\nfail_on = "low"\n',
        base_toml='fail_on = "medium"\n',
    )
    names = [layer.name for layer in settings.policy.policy.layers]
    assert names == ["base.toml", "a.toml", "b.toml", "pyproject.toml"]
    assert settings.values["fail_on"] == "low"


@pytest.mark.parametrize(
    ("project", "needles"),
    [
        (
            "[tool.platformgates.gates.coverage]\nline = 70\n",
            [
                "gates.coverage.line = 70 is below the floor 80",
                "guardrail gates.coverage.line: min",
            ],
        ),
        (
            'fail_on = "critical"\n',
            ["fail_on = 'critical' is above the ceiling 'high'", "guardrail fail_on: max"],
        ),
        (
            '[tool.platformgates.gates.sast]\nfail_on = "critical"\n',
            ["gates.sast.fail_on = 'critical' is above the ceiling 'high'", "guardrail fail_on"],
        ),
        (
            "[tool.platformgates.gates.secrets]\nenabled = false\n",
            ["gates.secrets.enabled = false, but the policy base.toml locks it at true"],
        ),
        (
            "[tool.platformgates.gates.lint]\nenabled = false\n",
            ["gates.lint.enabled = false", "requires gate 'lint'", "cannot be disabled"],
        ),
        (
            "[tool.platformgates.gates.lint]\npresets = []\n",
            ["gates.lint.presets = [], but the policy base.toml locks it at ['no-debug']"],
        ),
        (
            "[tool.platformgates.gates.coverage]\nmax_new_uncovered = 10\n",
            ["gates.coverage.max_new_uncovered = 10 is above the ceiling 3"],
        ),
        (
            "[tool.platformgates.waiver_policy]\nmax_days = 400\n",
            ["waiver_policy.max_days = 400 is above the ceiling 90"],
        ),
        (
            "[tool.platformgates.waiver_policy]\nallow_critical = true\n",
            ["waiver_policy.allow_critical = true, but the policy base.toml locks it at false"],
        ),
    ],
)
def test_every_guardrail_violation_names_file_key_and_limit(tmp_path, gates, project, needles):
    base = BASE.replace("line = 80\n", "line = 80\nmax_new_uncovered = 2\n") + (
        '"gates.lint.presets" = { locked = true }\n'
        '"gates.coverage.max_new_uncovered" = { max = 3 }\n'
        '"waiver_policy.max_days" = { max = 90 }\n'
        '"waiver_policy.allow_critical" = { locked = true }\n'
        "[waiver_policy]\nmax_days = 90\n"
    )
    message = refused(
        tmp_path, gates, 'extends = ["base.toml"]\n' + project, *needles, base_toml=base
    )
    # the file that set the value, the policy that guards it, and the guardrail's key
    assert message.startswith("pyproject.toml: "), message
    assert "policy base.toml" in message and "(guardrail " in message, message


def test_leaving_a_capped_count_unset_is_not_unlimited(tmp_path, gates):
    # max_new_uncovered and max_days unset mean "no limit": above any ceiling
    for key, guard in [
        ("gates.coverage.max_new_uncovered", "3"),
        ("waiver_policy.max_days", "90"),
    ]:
        refused(
            tmp_path,
            gates,
            'extends = ["base.toml"]\n',
            f"pyproject.toml: {key} is not set (no limit), above the ceiling {guard} set by "
            f"the policy base.toml (guardrail {key}: max); set it to at most {guard}",
            base_toml=f'[guardrails]\n"{key}" = {{ max = {guard} }}\n',
        )
    settings = load(
        tmp_path,
        gates,
        'extends = ["base.toml"]\n[tool.platformgates.waiver_policy]\nmax_days = 30\n',
        base_toml='[guardrails]\n"waiver_policy.max_days" = { max = 90 }\n',
    )
    assert settings.policy.rules.get("max_days") == 30


def test_a_violation_deep_in_a_chain_of_three_names_the_layer_that_set_it(tmp_path, gates):
    files = {
        "org_toml": BASE,
        "team_toml": 'extends = ["org.toml"]\n[waiver_policy]\nstale = "fail"\n',
    }
    # the middle policy loosens what the first guards
    refused(
        tmp_path,
        gates,
        'extends = ["team.toml"]\n',
        "team.toml: gates.secrets.enabled = false, but the policy org.toml locks it at true "
        "(guardrail gates.secrets.enabled: locked = true)",
        org_toml=BASE,
        team_toml='extends = ["org.toml"]\n[gates.secrets]\nenabled = false\n',
    )
    # the project, at the end of the chain, loosens it
    refused(
        tmp_path,
        gates,
        'extends = ["team.toml"]\nfail_on = "critical"\n',
        "pyproject.toml: fail_on = 'critical' is above the ceiling 'high' set by the policy "
        "org.toml (guardrail fail_on: max)",
        **files,
    )


def test_tightening_within_the_guardrails_is_allowed(tmp_path, gates):
    settings = load(
        tmp_path,
        gates,
        'extends = ["base.toml"]\nfail_on = "low"\n'
        "[tool.platformgates.gates.coverage]\nline = 95\n",
        base_toml=BASE,
    )
    assert settings.fail_on.label == "low"
    assert settings.gates["coverage"]["line"] == 95


@pytest.mark.parametrize(
    ("project", "needles"),
    [
        # The floor on coverage.line promises nothing if a missed line is reported at low.
        (
            '[tool.platformgates.gates.coverage]\nseverity = "low"\n',
            [
                "pyproject.toml: gates.coverage.severity = 'low' is below the floor 'high', "
                "its value in the policy base.toml",
                "implied by the guardrail gates.coverage.line",
            ],
        ),
        (
            '[tool.platformgates.gates.lint]\nformat_severity = "medium"\n',
            ["gates.lint.format_severity = 'medium' is below the floor 'high'", "gates.lint"],
        ),
        # The fail_on ceiling guards every gate: none may report below its severities.
        (
            '[tool.platformgates.gates.deps]\nunknown_severity = "low"\n',
            ["gates.deps.unknown_severity = 'low' is below", "the guardrail fail_on"],
        ),
        (
            '[tool.platformgates.gates.sast]\nblanket_nosec = "off"\n',
            ["gates.sast.blanket_nosec = 'off' is below the floor 'high'", "guardrail fail_on"],
        ),
        (
            '[tool.platformgates.gates.licenses]\nunknown_transitive_severity = "low"\n',
            ["gates.licenses.unknown_transitive_severity = 'low' is below the floor 'medium'"],
        ),
    ],
)
def test_a_guarded_gates_severities_cannot_be_lowered(tmp_path, gates, project, needles):
    message = refused(
        tmp_path, gates, 'extends = ["base.toml"]\n' + project, *needles, base_toml=BASE
    )
    assert "never lower them (to accept a finding, write a waiver)" in message


def test_a_guarded_sarif_gate_keeps_its_level_and_rule_severities(tmp_path):
    base = textwrap.dedent(
        """
        [gates.scan]
        kind = "sarif"
        sarif_file = "scan.sarif"
        [gates.scan.rule_severity]
        R1 = "critical"
        [guardrails]
        "gates.scan" = { required = true }
        """
    )
    sarif_gates = collect_gates(
        create_plugin_manager(), {"gates": {"scan": {"kind": "sarif", "sarif_file": "x"}}}
    )
    cases = [
        ('levels]\nerror = "medium"\n', "gates.scan.levels.error = 'medium' is below the floor"),
        ('rule_severity]\nR1 = "high"\n', "gates.scan.rule_severity.R1 = 'high' is below"),
        (
            'rule_severity]\nR3 = "critical"\n',
            "pyproject.toml: gates.scan.rule_severity.R1 is removed, but the policy base.toml "
            "maps it to 'critical'",
        ),
        (
            'rule_severity]\nR1 = "critical"\nR2 = "low"\n',
            "gates.scan.rule_severity.R2 = 'low', but the policy base.toml does not map it, so "
            "it keeps the tool's own severity, which may be 'critical': map it to "
            "'critical' or not at all",
        ),
    ]
    for table, needle in cases:
        refused(
            tmp_path,
            sarif_gates,
            'extends = ["base.toml"]\n' + f"[tool.platformgates.gates.scan.{table}",
            needle,
            "implied by the guardrail gates.scan",
            base_toml=base,
        )
    raised = load(
        tmp_path,
        sarif_gates,
        'extends = ["base.toml"]\n[tool.platformgates.gates.scan.levels]\nwarning = "high"\n',
        base_toml=base,
    )
    assert raised.gates["scan"]["levels"]["warning"] == "high"


def test_raising_severities_or_an_explicit_allowance_is_fine(tmp_path, gates, capsys):
    project = 'extends = ["base.toml"]\n[tool.platformgates.gates.coverage]\nseverity = "%s"\n'
    settings = load(tmp_path, gates, project % "critical", base_toml=BASE)
    assert settings.gates["coverage"]["severity"] == "critical"
    assert cli.main(["policy", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "gates.coverage.severity: not below 'high' (implied by the guardrail "
        "gates.coverage.line: a guarded gate's severities may be raised, never lowered)"
        "  # base.toml" in out
    ), out
    # The policy's own guardrail on the option replaces the implied floor.
    allowing = BASE + '"gates.coverage.severity" = { min = "low" }\n'
    settings = load(tmp_path, gates, project % "low", base_toml=allowing)
    assert settings.gates["coverage"]["severity"] == "low"
    # A gate nothing guards, under a policy without a fail_on guardrail, is the project's.
    settings = load(
        tmp_path,
        gates,
        'extends = ["base.toml"]\n[tool.platformgates.gates.sast]\nblanket_nosec = "off"\n',
        base_toml='[guardrails]\n"gates.coverage.line" = { min = 80 }\n',
    )
    assert settings.gates["sast"]["blanket_nosec"] == "off"


def test_a_later_policy_cannot_lower_a_severity_an_earlier_policy_guards(tmp_path, gates):
    refused(
        tmp_path,
        gates,
        'extends = ["team.toml"]\n',
        "team.toml: gates.coverage.severity = 'medium' is below the floor 'high', its value "
        "in the policy base.toml",
        team_toml='extends = ["base.toml"]\n[gates.coverage]\nseverity = "medium"\n',
        base_toml=BASE,
    )


def test_a_later_policy_cannot_loosen_an_earlier_policys_guardrail(tmp_path, gates):
    refused(
        tmp_path,
        gates,
        'extends = ["team.toml"]\n',
        "team.toml: gates.coverage.line = 50 is below the floor 80 set by the policy base.toml",
        team_toml='extends = ["base.toml"]\n[gates.coverage]\nline = 50\n',
        base_toml=BASE,
    )


@pytest.mark.parametrize(
    ("guard", "needle"),
    [
        ('"fail_onn" = { max = "high" }', "no such setting 'fail_onn'"),
        ('"gates.nosuch.enabled" = { locked = true }', "guards gate 'nosuch', which is not"),
        ('"gates.lint.nosuch" = { locked = true }', "gate 'lint' has no setting 'nosuch'"),
        ('"paths" = { min = 1 }', "only numbers and severities take min/max"),
        ('"fail_on" = { max = "urgent" }', "unknown severity 'urgent'"),
        ('"fail_on" = { maximum = "high" }', "maximum: unknown key"),
        ('"fail_on" = { locked = "yes" }', "locked must be true or false"),
        ('"fail_on" = { min = "high", max = "low" }', "min is above max"),
        ('"fail_on" = "high"', "must be a table such as"),
        ('"gates.lint" = { locked = true }', "a whole gate takes only { required = true }"),
        ('"gates.lint.enabled" = { required = true }', "applies to a gate (gates.NAME)"),
    ],
)
def test_a_malformed_guardrail_is_an_error_naming_the_policy(tmp_path, gates, guard, needle):
    message = refused(
        tmp_path, gates, 'extends = ["base.toml"]\n', needle, base_toml=f"[guardrails]\n{guard}\n"
    )
    assert message.startswith("base.toml: guardrails.")


def test_guardrails_in_the_project_itself_are_refused(tmp_path, gates):
    refused(
        tmp_path,
        gates,
        '[tool.platformgates.guardrails]\n"fail_on" = { max = "high" }\n',
        "guardrails belong in a policy file",
    )


def test_a_bad_value_in_a_policy_names_the_policy(tmp_path, gates):
    refused(
        tmp_path,
        gates,
        'extends = ["base.toml"]\n',
        "gates.lint.timeout = 0 is below its minimum",
        "(the value comes from the policy base.toml)",
        base_toml="[gates.lint]\ntimeout = 0\n",
    )


# -- the command line, through pytest ------------------------------------------------


REQUIRE_LINT = '[guardrails]\n"gates.lint" = { required = true }\n'


def _guarded_project(project) -> None:
    project.configure({"lint": {"format": False}}, extends=["policy.toml"])
    project.write("policy.toml", REQUIRE_LINT)
    project.write("test_ok.py", "def test_ok():\n    assert True\n")


def test_no_gates_is_refused_in_ci_when_the_policy_requires_gates(project, monkeypatch):
    _guarded_project(project)
    monkeypatch.setenv("CI", "true")
    result = project.pytester.runpytest("--no-gates")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--no-gates skips the gates the policy requires (lint)*CI*"])


def test_no_gates_locally_is_allowed_with_a_loud_warning(project):
    _guarded_project(project)
    result = project.pytester.runpytest("--no-gates")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*WEAKENED RUN: --no-gates skips the gates*policy.toml*"])


def test_gates_changed_is_refused_in_ci_and_recorded_locally(project, monkeypatch):
    _guarded_project(project)
    project.commit()
    result = project.pytester.runpytest("--gates-changed=HEAD")
    result.assert_outcomes(passed=1, skipped=1)  # nothing changed since HEAD: lint skips
    result.stdout.fnmatch_lines(
        [
            "*WEAKENED RUN: --gates-changed checks only changed files for the gates the policy "
            "requires (lint); the policy policy.toml requires them*"
        ]
    )
    notes = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())["predicate"][
        "run"
    ]["notes"]
    assert any(n.startswith("WEAKENED RUN: --gates-changed") for n in notes), notes
    assert "FAILED: " in result.stdout.str()  # the required gate did not pass: no clean bundle
    monkeypatch.setenv("CI", "true")
    result = project.pytester.runpytest("--gates-changed=HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--gates-changed checks only changed files*policy.toml*refused in CI (CI is set)*"]
    )


def test_deselecting_a_required_gate_is_refused_in_ci(project, monkeypatch):
    _guarded_project(project)
    monkeypatch.setenv("CI", "1")
    result = project.pytester.runpytest("-m", "not gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*required gate lint deselected*refused in CI*"])


def test_deselecting_a_required_gate_locally_warns_and_the_evidence_records_it(project):
    _guarded_project(project)
    project.write("other.py", "x = 1\n")
    result = project.pytester.runpytest("-k", "not lint")
    result.assert_outcomes(passed=1, deselected=1)
    out = result.stdout.str()
    assert "WEAKENED RUN: required gate lint deselected" in out
    statement = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    notes = statement["predicate"]["run"]["notes"]
    assert any("WEAKENED RUN: required gate lint deselected" in n for n in notes), notes
    assert statement["predicate"]["verdicts"]["lint"] == "not run"


def test_deselecting_an_optional_gate_is_not_a_weakening(project, monkeypatch):
    project.configure({"lint": {"format": False}}, extends=["policy.toml"])
    project.write("policy.toml", '[guardrails]\n"fail_on" = { max = "high" }\n')
    project.write("test_ok.py", "def test_ok():\n    assert True\n")
    monkeypatch.setenv("CI", "true")
    result = project.pytester.runpytest("-m", "not gate")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()


def test_a_guardrail_violation_stops_pytest_with_a_usage_error(project):
    project.configure({"lint": {}}, extends=["policy.toml"], fail_on="critical")
    project.write("policy.toml", '[guardrails]\n"fail_on" = { max = "high" }\n')
    project.write("test_ok.py", "def test_ok():\n    assert True\n")
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*pyproject.toml: fail_on = 'critical' is above the ceiling 'high' set by the policy "
            "policy.toml*"
        ]
    )


def test_coverage_thresholds_from_a_policy_switch_on_branch_measurement(project):
    # Coverage starts before the gates are configured: it must see the policy's settings too.
    project.configure(
        {"coverage": {}},
        extra='\n[tool.pytest.ini_options]\npythonpath = ["."]\n',
        extends=["policy.toml"],
    )
    project.write(
        "policy.toml",
        '[gates.coverage]\nline = 50\nbranch = 80\n[guardrails]\n"gates.coverage.branch" = '
        "{ min = 80 }\n",
    )
    write_sign_package(project)
    project.commit()
    result = project.pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*branch coverage 25% is below 80% (1 of 4 branches taken)*"])


def test_locking_an_invalid_value_names_the_policy(tmp_path, gates):
    refused(
        tmp_path,
        gates,
        'extends = ["base.toml"]\n[tool.platformgates.gates.lint]\ntimeout = 5\n',
        "base.toml: guardrails.gates.lint.timeout: locks an invalid value",
        base_toml="[gates.lint]\ntimeout = 0\n[guardrails]\n"
        '"gates.lint.timeout" = { locked = true }\n',
    )


def test_config_command_and_digest_include_the_policy(tmp_path, gates, capsys):
    plain = load(tmp_path, gates, 'fail_on = "high"\n')
    assert "policy" not in plain.effective()  # nothing to record: digest as before
    settings = load(tmp_path, gates, 'extends = ["base.toml"]\n', base_toml=BASE)
    assert cli.main(["config", "--project", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["digest"] == settings.digest
    guards = data["config"]["policy"]["guardrails"]
    assert {"key": "fail_on", "source": "base.toml", "max": "high"} in guards


def test_deselecting_a_required_gate_under_xdist_is_refused_in_ci(project, monkeypatch):
    _guarded_project(project)
    monkeypatch.setenv("CI", "true")
    result = project.pytester.runpytest_subprocess("-n", "1", "-m", "not gate", "-p", "no:randomly")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*required gate lint deselected*refused in CI*"])


def test_a_key_left_out_of_a_policys_table_is_reported_as_default(tmp_path, gates):
    settings = load(tmp_path, gates, 'extends = ["base.toml"]\n', base_toml=BASE)
    resolved = settings.policy.policy
    assert resolved.set_by("gates.lint.presets") == "base.toml"
    assert resolved.set_by("gates.lint.timeout") == "default"


def test_gates_changed_is_a_weakening_of_required_gates(tmp_path, gates, monkeypatch):
    # The option itself belongs to another part; the refusal reads its value by name.
    settings = load(tmp_path, gates, 'extends = ["p.toml"]\n', p_toml=REQUIRE_LINT)
    warning = policy.guard_options(settings, no_gates=False, changed="origin/main")
    assert warning.startswith("WEAKENED RUN: --gates-changed checks only changed files")
    assert settings.policy.overrides == [warning]
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ConfigError, match="refused in CI"):
        policy.guard_options(settings, no_gates=False, changed="origin/main")
    plain = load(tmp_path, gates, 'fail_on = "high"\n')
    assert policy.guard_options(plain, no_gates=True, changed=True) == ""
