"""The findings baseline on real git repositories: adopt, only shrink, clean as you code.

The lint gate (real ruff) supplies the findings: `import x` unused is F401 at high.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from secrets_support import Secrets

from pytest_platformgates import baseline
from pytest_platformgates.cli import main

BASELINE = ".platformgates-baseline.json"
# What detect-secrets records of a GitHub token: the SHA-1 of the captured "ghp" (not a key).
GHP_HASH = hashlib.sha1(b"ghp", usedforsecurity=False).hexdigest()
LEGACY = "def f():\n    import os\n\n\ndef g():\n    import sys\n"


def run_baseline(project, capsys, *args):
    code = main(["baseline", "--project", str(project.path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def entries(project):
    return json.loads((project.path / BASELINE).read_text())["entries"]


def predicate(project):
    doc = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    return doc["predicate"]


@pytest.fixture
def legacy(project):
    """A committed project with two old lint findings and a written baseline."""
    project.configure({"lint": {"format": False}})
    project.write(".gitignore", "gate-evidence/\n")
    project.write("legacy.py", LEGACY)
    project.commit("feat: legacy code")
    return project


def test_baseline_records_findings_in_stable_order_then_the_gates_pass(legacy, capsys):
    code, out = run_baseline(legacy, capsys)
    assert code == 0, out
    assert "wrote .platformgates-baseline.json: 2 entries (lint 2)" in out
    text = (legacy.path / BASELINE).read_text()
    found = entries(legacy)
    assert [set(e) for e in found] == [{"gate", "rule", "path", "fingerprint", "severity"}] * 2
    assert [(e["gate"], e["rule"], e["path"], e["severity"]) for e in found] == [
        ("lint", "F401", "legacy.py", "high")
    ] * 2
    assert found == sorted(found, key=lambda e: (e["gate"], e["path"], e["rule"], e["fingerprint"]))
    # One entry a line: a review diff shows each accepted or dropped finding.
    assert sum('"fingerprint"' in line for line in text.splitlines()) == 2
    # Writing it again changes nothing, byte for byte.
    code, out = run_baseline(legacy, capsys)
    assert code == 0 and "unchanged, 2 entries" in out
    assert (legacy.path / BASELINE).read_text() == text

    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["lint: known debt 2 (2 in the baseline)"])


def test_a_new_finding_fails_naming_only_it(legacy, capsys):
    run_baseline(legacy, capsys)
    legacy.write("new.py", "import json\n")
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*gate 'lint' failed: 1 blocking finding (fail_on = high)*",
            "*new.py:1:8*high*F401*`json` imported but unused*",
            "*known debt, not blocking (2 in the baseline): 2*",
        ]
    )
    blocking = out.split("gate 'lint' failed", 1)[1].split("known debt, not blocking", 1)[0]
    assert "legacy.py" not in blocking


def test_lines_inserted_above_old_findings_still_pass(legacy, capsys):
    run_baseline(legacy, capsys)
    legacy.write("legacy.py", '"""Docs."""\n\nVALUE = 1\n\n\n' + LEGACY.replace("f()", "f(x=1)"))
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["lint: known debt 2 (2 in the baseline)"])


def test_a_duplicate_of_a_baselined_finding_fails(legacy, capsys):
    run_baseline(legacy, capsys)
    legacy.write("legacy.py", LEGACY + "\n\ndef h():\n    import os\n")
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*1 blocking finding*", "*legacy.py:10:12*F401*`os` imported but unused*"]
    )


def test_fixed_findings_are_stale_warned_locally_failed_in_ci_and_pruned(
    legacy, capsys, monkeypatch
):
    run_baseline(legacy, capsys)
    legacy.write("legacy.py", "def f():\n    import os\n")
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*lint: known debt 1 (1 in the baseline); baseline can drop 1 entries*",
            "*note: baseline can drop 1 entry of gate 'lint': the findings are fixed*",
        ]
    )

    monkeypatch.setenv("CI", "true")
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*.platformgates-baseline.json*baseline-stale*baseline can drop 1 entry*"]
    )

    code, out = run_baseline(legacy, capsys)
    assert code == 1
    assert "baseline can drop 1 entries (fixed): run with --prune to drop them" in out
    assert len(entries(legacy)) == 2  # reported, not written

    code, out = run_baseline(legacy, capsys, "--prune")
    assert code == 0, out
    assert len(entries(legacy)) == 1
    legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=1)


def test_stale_entries_follow_the_policy(legacy, capsys, monkeypatch):
    run_baseline(legacy, capsys)
    legacy.write("legacy.py", "X = 1\n")
    legacy.configure({"lint": {"format": False}}, baseline_stale="warn")
    monkeypatch.setenv("CI", "true")
    legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    monkeypatch.delenv("CI")
    legacy.configure({"lint": {"format": False}}, baseline_stale="fail")
    legacy.pytester.runpytest("--gates-only").assert_outcomes(failed=1)


def test_the_baseline_command_spells_out_control_characters_in_names(legacy, capsys):
    run_baseline(legacy, capsys)
    legacy.write("n\x1b[8mew.py", "import json\n")  # ESC[8m: conceal what follows
    code, out = run_baseline(legacy, capsys)
    assert code == 1
    assert "\x1b" not in out
    assert "n\\x1b[8mew.py:1:8  high  F401" in out


def test_a_finding_in_a_file_whose_name_is_not_utf8_can_be_baselined(legacy, capsys):
    # Its path holds the name's byte as a surrogate escape, which the file (written with
    # its non-ASCII names readable) could not encode: a traceback, no baseline.
    legacy.write(os.fsdecode(b"old\xff.py"), "import json\n")
    legacy.commit()
    code, out = run_baseline(legacy, capsys)
    assert code == 0, out
    assert "Traceback" not in out
    (legacy.path / BASELINE).read_bytes().decode("utf-8")
    assert os.fsdecode(b"old\xff.py") in {e["path"] for e in entries(legacy)}
    for _run in ("cold", "warm"):
        legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=1)


def test_rerunning_never_grows_the_baseline_without_add(legacy, capsys):
    run_baseline(legacy, capsys)
    before = (legacy.path / BASELINE).read_text()
    legacy.write("new.py", "import json\n")
    code, out = run_baseline(legacy, capsys)
    assert code == 1
    assert "lint: 1 new finding(s) not in the baseline" in out
    assert "new.py:1:8  high  F401" in out
    assert (legacy.path / BASELINE).read_text() == before

    code, out = run_baseline(legacy, capsys, "--add")
    assert code == 0, out
    after = (legacy.path / BASELINE).read_text()
    # JSON's commas aside, the diff is the one accepted finding.
    added = {x.rstrip(",") for x in after.splitlines()} - {
        x.rstrip(",") for x in before.splitlines()
    }
    assert len(added) == 1 and '"path": "new.py"' in added.pop()
    legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=1)


def test_only_the_named_gate_is_recorded(project, capsys):
    project.configure({"lint": {"format": False}, "pinning": {}})
    project.write("legacy.py", "import os\n")
    project.commit()
    code, out = run_baseline(project, capsys, "--gate", "lint")
    assert code == 0, out
    assert {e["gate"] for e in entries(project)} == {"lint"}
    code, out = run_baseline(project, capsys, "--gate", "nosuch")
    assert code == 2 and "no such gate 'nosuch'" in out


def test_the_session_bound_coverage_gate_is_left_out_saying_so(project, capsys):
    project.configure({"lint": {"format": False}, "coverage": {}})  # coverage: on by default
    project.write("legacy.py", LEGACY)
    project.commit()
    code, out = run_baseline(project, capsys)
    assert code == 0, out
    assert "coverage: left out: the coverage gate judges what a pytest session measures" in out
    assert "-p no:" not in out
    assert "wrote .platformgates-baseline.json: 2 entries (lint 2)" in out
    assert {e["gate"] for e in entries(project)} == {"lint"}

    code, out = run_baseline(project, capsys, "--gate", "coverage")
    assert code == 2 and "error: the coverage gate judges what a pytest session" in out

    project.configure({"coverage": {}})  # nothing this command can judge: nothing written
    (project.path / BASELINE).unlink()
    code, out = run_baseline(project, capsys)
    assert code == 1 and "nothing written: no enabled gate can be judged" in out
    assert not (project.path / BASELINE).exists()


def test_new_code_only_blocks_only_lines_changed_since_base(project):
    project.configure({"lint": {"format": False}}, new_code_only=True, base="main")
    project.write(".gitignore", "gate-evidence/\n")
    project.write("legacy.py", LEGACY)
    project.commit("feat: legacy")
    project.git("checkout", "-q", "-b", "feature")
    project.write("legacy.py", LEGACY + "\n\ndef h():\n    import json\n")
    project.write("new.py", "import re\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*2 blocking findings*",
            "*legacy.py:10:12*F401*json*",
            "*new.py:1:8*F401*re*",
            "*known debt, not blocking (2 not on lines changed since base): 2*",
        ]
    )
    assert "`os` imported" not in out.split("known debt", 1)[0]

    # Per gate, the same; and with nothing new it passes.
    project.configure({"lint": {"format": False, "new_code_only": True}}, base="main")
    project.write("legacy.py", LEGACY)
    (project.path / "new.py").unlink()
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["lint: known debt 2 (2 not on lines changed since base)"])


def test_new_code_only_with_an_unknown_base_fails_closed(project):
    project.configure({"lint": {"format": False}}, new_code_only=True, base="nosuch")
    project.write("legacy.py", "import os\n")
    project.commit()
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*new_code_only: what changed since 'nosuch' is unknown*"])


POLICY = """\
[gates.lint]
allow_baseline = false
[guardrails]
"gates.lint.allow_baseline" = { locked = true }
"baseline_max_entries" = { max = 1 }
"""


def test_a_policy_forbids_a_baseline_for_a_gate(legacy, capsys):
    run_baseline(legacy, capsys)  # written before the policy arrived
    legacy.write("policy.toml", POLICY.replace('"baseline_max_entries" = { max = 1 }\n', ""))
    legacy.configure({"lint": {"format": False}}, extends="policy.toml")
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*baseline-forbidden*the baseline lists 2 finding(s) of gate 'lint'*forbids*"]
    )
    code, out = run_baseline(legacy, capsys)
    assert code == 1
    assert "the policy forbids a baseline for this gate" in out
    code, out = run_baseline(legacy, capsys, "--prune")
    assert entries(legacy) == []

    legacy.configure({"lint": {"format": False, "allow_baseline": True}}, extends="policy.toml")
    result = legacy.pytester.runpytest("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*allow_baseline*locks it*"])


def test_a_policy_caps_the_baseline(legacy, capsys):
    legacy.write(
        "policy.toml",
        'baseline_max_entries = 1\n[guardrails]\n"baseline_max_entries" = { max = 1 }\n',
    )
    legacy.configure({"lint": {"format": False}}, extends="policy.toml")
    code, out = run_baseline(legacy, capsys)
    assert code == 1
    assert "would exceed the policy's cap of 1" in out
    assert not (legacy.path / BASELINE).exists()

    # Written by hand past the cap: not honoured.
    legacy.write(BASELINE, baseline.render(_two_entries(legacy)).decode())
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*baseline-cap*holds 2 entries, more than the policy's cap of 1*"])

    legacy.configure({"lint": {"format": False}}, extends="policy.toml", baseline_max_entries=5)
    result = legacy.pytester.runpytest("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline_max_entries = 5 is above the ceiling 1*"])


def _two_entries(project):
    return [
        baseline.Entry("lint", "legacy.py", "F401", f"{n:032x}", baseline.Severity.HIGH)
        for n in (1, 2)
    ]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 1}',
        '{"version": 2, "entries": []}',
        '{"version": 1, "entries": [{"gate": "lint"}]}',
        '{"version": 1, "entries": [], "extra": 1}',
    ],
)
def test_a_malformed_baseline_fails_closed(legacy, capsys, content):
    legacy.write(BASELINE, content)
    result = legacy.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the baseline .platformgates-baseline.json: *"])
    code, out = run_baseline(legacy, capsys, "--add", "--prune")
    assert code == 2 and "fix it, or delete it" in out
    assert (legacy.path / BASELINE).read_text() == content  # never overwritten


def test_evidence_records_debt_its_change_since_base_and_the_digest(legacy, capsys):
    legacy.configure({"lint": {"format": False}}, base="main")
    run_baseline(legacy, capsys)
    legacy.commit("chore: baseline")
    legacy.git("checkout", "-q", "-b", "feature")
    legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    first = predicate(legacy)
    data = (legacy.path / BASELINE).read_bytes()
    assert first["baseline"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert first["baseline"]["entries_per_gate"] == {"lint": 2}
    assert first["baseline"]["gates"]["lint"] == {
        "known_debt": 2,
        "known_debt_old_code": 0,
        "entries": 2,
        "stale": 0,
        "entries_base": 2,
    }
    lint = next(g for g in first["gates"] if g["gate"] == "lint")
    assert lint["figures"]["known_debt"] == 2
    metrics = (legacy.path / "gate-evidence" / "metrics.prom").read_text()
    assert 'platformgates_known_debt{gate="lint"} 2' in metrics

    # A new finding hidden by growing the baseline: the run passes, the evidence shows it.
    legacy.write("new.py", "import json\n")
    run_baseline(legacy, capsys, "--add")
    legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    second = predicate(legacy)
    assert second["baseline"]["sha256"] != first["baseline"]["sha256"]
    assert second["baseline"]["gates"]["lint"]["known_debt"] == 3
    assert second["baseline"]["gates"]["lint"]["entries"] == 3
    assert second["baseline"]["gates"]["lint"]["entries_base"] == 2
    sarif = json.loads((legacy.path / "gate-evidence" / "findings.sarif").read_text())
    results = sarif["runs"][0]["results"]
    assert results and all(r["suppressions"][0]["status"] == "accepted" for r in results)


def test_the_baseline_file_is_not_a_gate_input(legacy, capsys):
    # Its fingerprints are hex digests: an entropy check must not take them for secrets.
    run_baseline(legacy, capsys)
    legacy.configure({"lint": {"format": False}, "secrets": {}})
    legacy.pytester.runpytest("--gates-only").assert_outcomes(passed=2)


def test_a_baselined_secret_is_recorded_by_hash_never_by_value(project, capsys):
    secret = Secrets().github_token().value
    project.configure({"secrets": {}})
    project.write("settings.py", "VALUE = " + json.dumps(secret) + "\n")
    project.commit()
    project.pytester.runpytest("--gates-only").assert_outcomes(failed=1)
    code, out = run_baseline(project, capsys)
    assert code == 0, out
    text = (project.path / BASELINE).read_text()
    assert secret not in text and secret[4:20] not in text
    assert {e["gate"] for e in entries(project)} == {"secrets"}
    for entry in entries(project):
        assert set(entry) == {"gate", "rule", "path", "fingerprint", "severity"}
    result = project.pytester.runpytest("--gates-only", "-v")
    result.assert_outcomes(passed=1)
    assert secret not in result.stdout.str()


def test_a_baselined_secret_moves_but_a_swapped_or_copied_token_is_new(project, capsys):
    # detect-secrets hashes only what its regex captures: for every GitHub token that is
    # the prefix "ghp", so its hashed_secret cannot tell two tokens apart. The baseline's
    # fingerprint (a hash of the normalised line, never the value) can.
    secrets = Secrets()
    old, other = secrets.github_token().value, secrets.github_token().value
    project.configure({"secrets": {}})
    project.write(".gitignore", "gate-evidence/\n")
    project.write("settings.py", f"VALUE = {json.dumps(old)}\n")
    project.commit()
    code, out = run_baseline(project, capsys)
    assert code == 0, out
    project.write("settings.py", f'"""Settings."""\n\nDEBUG = False\nVALUE = {json.dumps(old)}\n')
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    debt = len(entries(project))  # one a detector that reports the token
    result.stdout.fnmatch_lines([f"secrets: known debt {debt} ({debt} in the baseline)"])

    project.write("settings.py", f'"""Settings."""\n\nDEBUG = False\nVALUE = {json.dumps(other)}\n')
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([f"*{debt} blocking finding*", "*settings.py:4*critical*secret*"])
    assert "settings.py:1" not in out
    # GitHub Token's hashed_secret is the same for both tokens; the baseline still tells.
    assert f"GitHub Token [redacted, 3 characters], hashed_secret {GHP_HASH}" in out

    # A copy in another file is new. (Within one file detect-secrets reports a value once,
    # at its first line, as its own SecretsCollection does; the gate keeps that parity.)
    project.write("settings.py", f"VALUE = {json.dumps(old)}\n")
    project.write("copy.py", f"VALUE = {json.dumps(old)}\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{debt} blocking finding*", "*copy.py:1*critical*secret*"])
    assert "settings.py:1 " not in result.stdout.str().split("known debt")[0]
    assert old not in result.stdout.str() and other not in result.stdout.str()


def test_a_partial_scan_does_not_judge_staleness(legacy, capsys):
    legacy.write("other.py", "import re\n")
    legacy.configure({"lint": {"format": False}}, baseline_stale="fail")
    legacy.commit("feat: other")
    run_baseline(legacy, capsys)
    legacy.commit("chore: baseline")
    legacy.write("new.py", "X = 1\n")  # the only changed file: no entry of it is checked
    result = legacy.pytester.runpytest("--gates-only", "--gates-changed=HEAD")
    result.assert_outcomes(passed=1)
    assert "baseline can drop" not in result.stdout.str()


def test_known_debt_crosses_process_boundaries():
    from pytest_platformgates.model import Finding, GateResult, Severity, Verdict

    finding = Finding("lint", "F401", Severity.HIGH, "a.py", 1, "m", known_debt="baseline")
    assert Finding.from_dict(finding.to_dict()).known_debt == "baseline"
    assert "known_debt" not in Finding("lint", "F401", Severity.HIGH, "a.py", 1, "m").to_dict()
    result = GateResult.judge("lint", baseline.Analysis(findings=(finding,)), Severity.HIGH, 0.0)
    assert result.verdict is Verdict.PASSED and not result.blocking
    assert GateResult.from_dict(result.to_dict()).findings[0].known_debt == "baseline"


def test_a_policy_can_lock_how_stale_entries_are_judged(project):
    project.write(
        "policy.toml",
        'baseline_stale = "fail"\n[guardrails]\n"baseline_stale" = { locked = true }\n',
    )
    project.configure({"lint": {"format": False}}, extends="policy.toml", baseline_stale="warn")
    project.write("a.py", "X = 1\n")
    project.commit()
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline_stale = 'warn', but the policy*locks it at 'fail'*"])


def test_known_debt_of_a_passing_gate_is_counted_and_listed_with_v(legacy, capsys):
    run_baseline(legacy, capsys)
    quiet = legacy.pytester.runpytest("--gates-only")
    quiet.assert_outcomes(passed=1)
    quiet.stdout.fnmatch_lines(["lint: known debt 2 (2 in the baseline)*"])
    assert "legacy.py:1" not in quiet.stdout.str()
    verbose = legacy.pytester.runpytest("--gates-only", "-v")
    verbose.stdout.fnmatch_lines(
        [
            "lint: known debt 2*",
            "gate 'lint' passed with 2 findings not blocking (below fail_on = high, waived or "
            "known debt):",
            "*legacy.py:*F401*",
            "*known debt: baseline",
        ]
    )
