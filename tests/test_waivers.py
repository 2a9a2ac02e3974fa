"""Waivers: owned, reasoned, expiring exceptions, through real gate runs."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pytest_platformgates import cli, waivers
from pytest_platformgates.model import Analysis, Finding, Severity

TODAY = waivers.today()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def waiver_toml(table: str = "tool.platformgates.waivers", **fields: object) -> str:
    entry = {
        "gate": "lint",
        "id": "F401",
        "reason": "re-exported for the public API",
        "owner": "payments-team",
        "approved_by": "security-lead",
        "expires": day(60),
    }
    entry.update(fields)
    lines = [f"\n[[{table}]]"]
    for key, value in entry.items():
        if value is None:
            continue
        lines.append(f"{key} = {value if key in ('expires', 'created') else json.dumps(value)}")
    return "\n".join(lines) + "\n"


def lint_project(project, extra: str = "", severity: str = "high", **top: object) -> None:
    project.configure({"lint": {"format": False, "severity": severity}}, extra=extra, **top)
    project.write("pkg/mod.py", "import os\n")
    project.write("test_ok.py", "def test_ok():\n    assert True\n")


def evidence(project) -> dict:
    return json.loads((project.path / "gate-evidence" / "evidence.json").read_text())["predicate"]


def test_a_valid_waiver_covers_the_finding_and_is_recorded(project):
    lint_project(project, waiver_toml())
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*lint: waiver F401 APPLIED (owner payments-team, expires *, 60 days left, covers 1*"]
    )
    predicate = evidence(project)
    (finding,) = predicate["gates"][0]["findings"]
    assert finding["waiver"]["owner"] == "payments-team"
    assert finding["waiver"]["days_left"] == 60
    (recorded,) = predicate["waivers"]
    assert recorded["status"] == "applied" and recorded["approved_by"] == "security-lead"
    assert recorded["findings"] == [finding["fingerprint"]]
    assert predicate["policy"]["effective"]["policy"]["waivers"][0]["id"] == "F401"
    sarif = json.loads((project.path / "gate-evidence" / "findings.sarif").read_text())
    (res,) = sarif["runs"][0]["results"]
    assert res["suppressions"][0]["justification"] == "re-exported for the public API"


def test_a_waiver_by_fingerprint_and_path_glob(project):
    lint_project(project)
    project.pytester.runpytest()
    fingerprint = evidence(project)["gates"][0]["findings"][0]["fingerprint"]
    lint_project(project, waiver_toml(id=fingerprint, path="pkg/*.py"))
    project.pytester.runpytest().assert_outcomes(passed=2)
    lint_project(project, waiver_toml(id=fingerprint, path="other/*.py"))
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*stale waiver lint:*other/*.py*matches no finding*"])


def test_an_expired_waiver_covers_nothing_and_fails_the_gate_naming_it(project):
    lint_project(project, waiver_toml(expires=day(-3)))
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "waiver-expired" in out
    assert "waiver lint:F401 (pyproject.toml waiver #1) (owner payments-team) expired on" in out
    assert "3 days ago" in out
    assert "F401" in out and "pkg/mod.py:1:8" in out
    assert evidence(project)["waivers"][0]["status"] == "expired"


def test_an_expired_waiver_fails_even_a_gate_with_a_lenient_fail_on(project):
    lint_project(project, waiver_toml(expires=day(-1)), severity="low")
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pyproject.toml*high*waiver-expired*"])


def test_a_stale_waiver_warns_by_default_and_fails_when_the_policy_says_so(project):
    stale = waiver_toml(id="E999")
    lint_project(project, waiver_toml() + stale)
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*stale waiver lint:E999*matches no finding; remove it*"])
    lint_project(
        project, waiver_toml() + stale + '\n[tool.platformgates.waiver_policy]\nstale = "fail"\n'
    )
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*waiver-stale*lint:E999*matches no finding (stale)*"])


def test_a_waiver_expiring_soon_is_warned_about(project):
    lint_project(project, waiver_toml(expires=day(3)))
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*waiver lint:F401*expires in 3 days*renew or fix it*"])


def test_a_critical_finding_is_not_waivable_unless_the_policy_allows_it(project):
    lint_project(project, waiver_toml(), severity="critical")
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*cannot cover a critical finding*"])
    assert evidence(project)["waivers"][0]["status"] == "refused"
    lint_project(project, waiver_toml(), severity="critical", extends=["policy.toml"])
    project.write("policy.toml", "[waiver_policy]\nallow_critical = true\n")
    project.pytester.runpytest().assert_outcomes(passed=2)


def test_the_policy_caps_the_lifetime_and_requires_an_approver(project):
    project.write("policy.toml", "[waiver_policy]\nmax_days = 90\nrequire_approver = true\n")
    cases = [
        (waiver_toml(created=day(-10), expires=day(85)), "lives 95 days"),
        (waiver_toml(), "created is required: the policy caps a waiver's lifetime at 90 days"),
        (waiver_toml(created=day(0), approved_by=None), "approved_by is required by the policy"),
    ]
    for extra, needle in cases:
        lint_project(project, extra, extends=["policy.toml"])
        result = project.pytester.runpytest()
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        err = result.stderr.str()
        assert "pyproject.toml: tool.platformgates.waivers[0]" in err and needle in err, err
    lint_project(project, waiver_toml(created=day(-10), expires=day(80)), extends=["policy.toml"])
    project.pytester.runpytest().assert_outcomes(passed=2)


def test_a_future_created_date_cannot_stretch_the_lifetime_cap(project):
    # created 2099-01-01 / expires 2099-03-31 is 89 days "long", but would cover the
    # finding from today until 2099: the cap is measured from today, not from a future day.
    project.write("policy.toml", "[waiver_policy]\nmax_days = 90\n")
    lint_project(
        project, waiver_toml(created=day(3000), expires=day(3089)), extends=["policy.toml"]
    )
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "pyproject.toml: tool.platformgates.waivers[0]: waiver lint:F401 has created" in err
    assert f"a day in the future (today is {TODAY}, UTC)" in err, err
    assert cli.main(["waivers", "--project", str(project.path)]) == 2
    # Created today, the same lifetime is fine.
    lint_project(project, waiver_toml(created=day(0), expires=day(89)), extends=["policy.toml"])
    project.pytester.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"reason": None}, "reason is required"),
        ({"owner": None}, "owner is required"),
        ({"expires": None}, "expires is required"),
        ({"expires": '"soon"'}, "expires must be a date such as 2026-12-31"),
        ({"expires": "2026-01-01T10:00:00"}, "not a date and time"),
        ({"gate": "nosuch"}, "no such gate 'nosuch'"),
        ({"owner": "  "}, "owner must be a non-empty string"),
        ({"ticket": "X-1"}, "ticket: unknown key"),
        ({"created": day(5), "expires": day(1)}, "is after expires"),
    ],
)
def test_malformed_waivers_are_usage_errors(project, fields, needle):
    lint_project(project, waiver_toml(**fields))
    result = project.pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in result.stderr.str(), result.stderr.str()


def test_a_waivers_file_named_by_the_policy(project):
    project.write("policy/base.toml", '[waiver_policy]\nfile = "../waivers.toml"\n')
    project.write("waivers.toml", waiver_toml(table="waivers"))
    lint_project(project, extends=["policy/base.toml"])
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert evidence(project)["waivers"][0]["source"] == "waivers.toml"


def test_waivers_command_lists_status_and_fails_on_expired(project, capsys, monkeypatch):
    lint_project(project, waiver_toml(expires=day(100)) + waiver_toml(id="E501", expires=day(2)))
    monkeypatch.chdir(project.path)
    assert cli.main(["waivers"]) == 0
    out = capsys.readouterr().out
    assert "EXPIRING lint:E501" in out and "ACTIVE   lint:F401" in out
    assert "100 days left" in out and "owner payments-team" in out
    lint_project(project, waiver_toml(expires=day(-1)))
    assert cli.main(["waivers", "--project", str(project.path)]) == 1
    assert "EXPIRED  lint:F401" in capsys.readouterr().out


def test_control_characters_in_a_waiver_are_spelt_out_where_it_is_listed(project, capsys):
    # TOML takes "\u001b": an owner or reason could conceal the lines after it (ESC[8m)
    # in the run's summary or in `platformgates waivers` while it is reviewed.
    owner, reason = "payments\x1b[8m-team", "re-exported\r\x1b[2K"
    lint_project(project, waiver_toml(owner=owner, reason=reason))
    result = project.pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "\x1b" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*lint: waiver F401 APPLIED (owner payments\\x1b[[]8m-team,*"])
    assert cli.main(["waivers", "--project", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert "owner payments\\x1b[8m-team" in out and "reason: re-exported\\r\\x1b[2K" in out


def test_a_gate_that_could_not_judge_leaves_its_waivers_unchecked():
    w = waivers.Waiver(
        gate="g", id="R1", reason="r", owner="o", expires=TODAY, source="pyproject.toml", index=0
    )
    rules = waivers.WaiverRules.from_table({"stale": "fail"})
    out = waivers.apply([w], rules, "g", Analysis(problems=("tool crashed",)), Severity.HIGH)
    assert out.waivers[0]["status"] == "unchecked"
    assert out.findings == ()
    finding = Finding("g", "R1", Severity.HIGH, "a.py", 1, "m", fingerprint="f")
    out = waivers.apply([w], rules, "g", Analysis(findings=(finding,)), Severity.HIGH)
    assert out.findings[0].waiver["days_left"] == 0  # the expiry day itself still counts
    assert out.waivers[0]["status"] == "applied"


def test_waivers_and_the_plugins_of_a_policy_apply_to_third_party_gates(project):
    from conftest import COUNTING_GATE

    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\n")
    # The policy brings the plugin and requires its gate; the project only waives.
    project.write(
        "policy.toml",
        'plugins = ["counting_gate"]\n[guardrails]\n"gates.counting" = { required = true }\n',
    )
    project.configure({}, extends=["policy.toml"])
    project.write("notes.txt", "fine\nFORBIDDEN here\n")
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    text = project.path / "pyproject.toml"
    text.write_text(text.read_text() + waiver_toml(gate="counting", id="CNT1"))
    result = project.pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*counting: waiver CNT1 APPLIED*covers 1 finding*"])


def test_a_failing_gate_lists_its_waived_findings_as_waived(project):
    project.write("pkg/other.py", "import sys\n")
    lint_project(project, waiver_toml(path="pkg/mod.py"))
    result = project.pytester.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'lint' failed: 1 blocking finding*",
            "*pkg/other.py:1:8*F401*",
            "*pkg/mod.py:1:8*F401*",
            "*waived: F401 (owner payments-team, expires *, 60 days left)*",
        ]
    )


def test_a_waiver_written_against_an_advisory_alias_covers_the_finding():
    # pip-audit and OSV name one advisory PYSEC-…, GHSA-… and CVE-…; teams write whichever
    # their scanner showed them, so any alias must cover the finding, and only that one.
    finding = Finding(
        gate="deps",
        rule="PYSEC-2024-1",
        severity=Severity.HIGH,
        path="",
        line=0,
        message="demo 1.0: PYSEC-2024-1",
        fingerprint="f" * 32,
        aliases=("CVE-2024-1111", "GHSA-aaaa-bbbb-cccc"),
    )
    other = Finding(
        gate="deps",
        rule="PYSEC-2024-2",
        severity=Severity.HIGH,
        path="",
        line=0,
        message="demo 1.0: PYSEC-2024-2",
        fingerprint="e" * 32,
        aliases=("CVE-2024-2222",),
    )
    waiver = waivers.Waiver(
        gate="deps",
        id="CVE-2024-1111",
        reason="not reachable",
        owner="team",
        expires=TODAY + dt.timedelta(days=30),
        source="pyproject.toml",
        index=0,
    )
    rules = waivers.WaiverRules.from_table({})
    out = waivers.apply([waiver], rules, "deps", Analysis(findings=(finding, other)), Severity.HIGH)
    by_rule = {f.rule: f for f in out.findings}
    assert by_rule["PYSEC-2024-1"].waiver is not None
    assert by_rule["PYSEC-2024-1"].waiver["id"] == "CVE-2024-1111"
    assert by_rule["PYSEC-2024-2"].waiver is None
    assert Finding.from_dict(finding.to_dict()).aliases == finding.aliases
