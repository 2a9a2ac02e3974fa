"""`kind = "sarif"` gates: real ruff SARIF, hand-written logs for the mapping, failure modes."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from conftest import toml_value


def configure(project, gates, **top):
    """``project.configure`` with table-valued keys written as sub-tables."""
    extra = ""
    plain = {}
    for name, table in gates.items():
        plain[name] = {k: v for k, v in table.items() if not isinstance(v, dict)}
        for key, value in table.items():
            if isinstance(value, dict):
                extra += f"\n[tool.platformgates.gates.{name}.{key}]\n"
                extra += "".join(f'"{k}" = {toml_value(v)}\n' for k, v in value.items())
    project.configure(plain, extra=extra, **top)


def ruff() -> str:
    from ruff.__main__ import find_ruff_bin

    return str(find_ruff_bin())


def ruff_gate(**extra):
    gate = {
        "kind": "sarif",
        "command": [ruff(), "check", "--no-cache", "--output-format", "sarif", "{files}"],
        "paths": ["*.py"],
        "exit_codes": [0, 1],
    }
    gate.update(extra)
    return gate


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def sarif(results, rules=(), **run):
    doc = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "scanner", "version": "1.2", "rules": list(rules)}},
                "results": list(results),
                **run,
            }
        ],
    }
    return json.dumps(doc)


def finding(rule="R1", path="a.py", line=1, **extra):
    item = {
        "ruleId": rule,
        "message": {"text": f"problem {rule}"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": path}, "region": {"startLine": line}}}
        ],
    }
    item.update(extra)
    return item


def recorded(project, gate="ruffsarif"):
    """Run the gates; return the gate's result as the evidence bundle records it."""
    project.pytester.runpytest("--gates-only")
    evidence = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    return next(g for g in evidence["predicate"]["gates"] if g["gate"] == gate)


def test_ruff_sarif_findings_fail_the_gate_and_a_clean_project_passes(project):
    project.configure({"ruffsarif": ruff_gate()})
    project.write("a.py", "import os\n")
    project.write("b.py", "x = 1\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'ruffsarif' failed: 1 blocking finding (fail_on = high)*",
            "*a.py:1:8*high*F401*`os` imported but unused*",
            "*hint: see https://docs.astral.sh/ruff/rules/unused-import*",
        ]
    )
    project.write("a.py", "x = 2\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)


def test_the_result_is_cached_until_a_covered_file_changes(project):
    project.configure({"ruffsarif": ruff_gate()})
    project.write("a.py", "import os\n")
    project.write("notes.txt", "not covered\n")
    first = recorded(project)
    assert first["figures"]["files_cached"] == 0
    assert "ruff" in first["tool_versions"]
    second = recorded(project)
    assert second["figures"]["files_cached"] == 1
    assert second["verdict"] == "failed"
    project.write("notes.txt", "still not covered, so no rerun\n")
    assert recorded(project)["figures"]["files_cached"] == 1
    project.write("a.py", "x = 1\n")
    third = recorded(project)
    assert third["figures"]["files_cached"] == 0
    assert third["verdict"] == "passed"


def test_a_sarif_file_written_by_the_command_is_read(project):
    gate = ruff_gate(sarif_file="out/ruff.sarif")
    gate["command"] = [*gate["command"][:-1], "--output-file", "out/ruff.sarif", "{files}"]
    project.configure({"ruffsarif": gate})
    project.write("a.py", "import os\n")
    project.write("out/.keep", "")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a.py:1:8*F401*"])


def test_a_command_that_does_not_write_its_sarif_file_is_an_error(project):
    project.write("stale.sarif", sarif([]))
    project.configure(
        {"s": {"kind": "sarif", "command": python("pass"), "sarif_file": "stale.sarif"}}
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not write stale.sarif (missing or unchanged)*"])


def test_an_undeclared_exit_code_is_an_error(project):
    gate = ruff_gate()
    del gate["exit_codes"]
    project.configure({"ruffsarif": gate})
    project.write("a.py", "import os\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*exited with code 1, not one of exit_codes = [[]0[]]*"])


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("not json", "*is not JSON, so not a SARIF log*"),
        ('{"version": "2.0.0", "runs": []}', "*is not a SARIF 2.1.0 log*"),
        ('{"version": "2.1.0", "runs": []}', "*holds no runs*"),
        (
            '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}}]}',
            "*has no `results` list*",
        ),
        (
            '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [],'
            ' "invocations": [{"executionSuccessful": false, "toolExecutionNotifications":'
            ' [{"message": {"text": "parser crashed"}}]}]}]}',
            "*x reports that its execution did not succeed*",
        ),
        (
            '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results":'
            ' [{"ruleId": "a", "level": "fatal", "message": {"text": "m"}}]}]}',
            "*unknown level 'fatal'*",
        ),
    ],
)
def test_output_that_is_not_usable_sarif_is_an_error(project, output, message):
    project.configure(
        {"s": {"kind": "sarif", "command": python(f"print({output!r})")}}, fail_on="low"
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])


def test_severity_mapping_suppressions_and_locations(project):
    rules = [
        {"id": "R1", "defaultConfiguration": {"level": "note"}},
        {"id": "SEC", "properties": {"security-severity": "9.8"}, "helpUri": "https://x.test/SEC"},
    ]
    results = [
        finding("R1", line=1),  # the rule's default level: note -> low
        finding("R2", line=2, level="error"),  # error -> critical (mapped below)
        finding("SEC", line=3, level="note"),  # the score wins over the level
        finding("R3", line=4, level="warning"),  # overridden by rule_severity
        finding("R4", line=5, suppressions=[{"kind": "inSource"}]),  # suppressed: no finding
        finding("R5", line=6, kind="pass"),  # a passed check: no finding
        finding("R8", line=7, baselineState="absent"),  # fixed since the baseline
        finding("R6", path="sub/b.py", line=1, level="warning"),  # relative to cwd
        finding("R7", path="file:///elsewhere/c.py", line=9, level="warning"),
    ]
    project.write("sub/log.sarif", sarif(results, rules))
    project.write("sub/b.py", "x = 1\n")
    configure(
        project,
        {
            "s": {
                "kind": "sarif",
                "sarif_file": "sub/log.sarif",
                "levels": {"error": "critical"},
                "rule_severity": {"R3": "low"},
            }
        },
        fail_on="low",
    )
    output = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    output.assert_outcomes(failed=1)
    out = output.stdout.str()
    output.stdout.fnmatch_lines_random(
        [
            "*a.py:1 *low*R1*problem R1*",
            "*a.py:2 *critical*R2*",
            "*a.py:3 *critical*SEC*",
            "*hint: see https://x.test/SEC*",
            "*a.py:4 *low*R3*",
            "*sub/b.py:1 *medium*R6*",
            "*file:///elsewhere/c.py:9*medium*R7*",
        ]
    )
    assert "R4" not in out and "R5" not in out and "R8" not in out
    assert "gate 'sast'" not in out
    gate = recorded(project, "s")
    assert gate["figures"]["sarif_suppressed"] == 1
    assert gate["figures"]["sarif_not_problems"] == 2
    assert gate["tool_versions"] == {"scanner": "1.2"}


def test_a_rejected_or_under_review_suppression_does_not_suppress(project):
    # SARIF 2.1.0, 3.35.3: suppressed only with a suppression and none underReview or
    # rejected; an accepted (or status-less) suppression beside them does not outweigh them.
    accepted = {"kind": "inSource"}
    results = [
        finding(
            "OK",
            level="error",
            line=1,
            suppressions=[accepted, {"kind": "external", "status": "accepted"}],
        ),
        finding(
            "REJ",
            level="error",
            line=2,
            suppressions=[accepted, {"kind": "external", "status": "rejected"}],
        ),
        finding(
            "REV",
            level="error",
            line=3,
            suppressions=[{"kind": "external", "status": "underReview"}],
        ),
        finding(
            "ODD",
            level="error",
            line=4,
            suppressions=[accepted, {"kind": "external", "status": "maybe"}],
        ),
        finding("NONE", level="error", line=5, suppressions=[]),
    ]
    project.write("log.sarif", sarif(results))
    configure(project, {"s": {"kind": "sarif", "sarif_file": "log.sarif"}})
    output = project.pytester.runpytest("--gates-only", "-p", "no:cacheprovider")
    output.assert_outcomes(failed=1)
    output.stdout.fnmatch_lines_random(
        ["*a.py:2 *high*REJ*", "*a.py:3 *high*REV*", "*a.py:4 *high*ODD*", "*a.py:5 *high*NONE*"]
    )
    gate = recorded(project, "s")
    assert sorted(f["rule"] for f in gate["findings"]) == ["NONE", "ODD", "REJ", "REV"]
    assert gate["figures"]["sarif_suppressed"] == 1


def test_fingerprints_survive_moved_lines_and_use_the_tools_own(project):
    project.write("a.py", "x = 1\ny = 2\n")
    project.write(
        "log.sarif",
        sarif([finding("R1", line=2), finding("R2", line=1, partialFingerprints={"h": "abc"})]),
    )
    project.configure({"s": {"kind": "sarif", "sarif_file": "log.sarif"}})
    project.pytester.runpytest("--gates-only")
    first = _fingerprints(project)
    project.write("a.py", "# moved\nx = 1\ny = 2\n")
    project.write(
        "log.sarif",
        sarif([finding("R1", line=3), finding("R2", line=9, partialFingerprints={"h": "abc"})]),
    )
    project.pytester.runpytest("--gates-only")
    assert _fingerprints(project) == first
    assert len(set(first.values())) == 2


def _fingerprints(project):
    evidence = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    (gate,) = evidence["predicate"]["gates"]
    return {f["rule"]: f["fingerprint"] for f in gate["findings"]}


def test_a_stale_sarif_file_is_an_error(project):
    path = project.write("log.sarif", sarif([]))
    project.configure({"s": {"kind": "sarif", "sarif_file": "log.sarif", "max_age": 60}})
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    old = time.time() - 3600
    os.utime(path, (old, old))
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*log.sarif is 36?? s old, older than max_age = 60 s*"])
    future = time.time() + 86400  # a touched or restored file must not pass every max_age
    os.utime(path, (future, future))
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*log.sarif is dated 86??? s in the future*"])
    path.unlink()
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the SARIF file log.sarif does not exist*"])


def test_timeout_and_missing_tool_are_errors(project):
    project.configure(
        {
            "slow": {
                "kind": "sarif",
                "command": python("import time; time.sleep(30)"),
                "timeout": 1,
            },
            "missing": {"kind": "sarif", "command": ["no-such-scanner-xyz", "--sarif"]},
        }
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*did not finish within 1 s and was stopped*",
            "*no-such-scanner-xyz is not installed or not on PATH*",
        ]
    )


def test_paths_matching_no_file_is_an_error(project):
    project.configure({"ruffsarif": ruff_gate(paths=["src/**/*.py"])})
    project.write("a.py", "x = 1\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no files to check: none of the * files in scope match paths*"])


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"kind": "sarf", "command": ["x"]}, "*kind = 'sarf' is not one of: 'sarif', 'command'*"),
        ({"kind": "sarif", "comand": ["x"]}, "*s.comand: unknown key (did you mean 'command'?)*"),
        ({"kind": "sarif"}, "*a sarif gate needs a `command`*"),
        ({"kind": "sarif", "command": ["x", "{files}"]}, "*uses {files} but the gate declares*"),
        ({"kind": "sarif", "command": ["x"], "exit_codes": ["0"]}, "*list of exit codes*"),
        ({"kind": "sarif", "command": ["x"], "levels": {"fatal": "high"}}, "*unknown key 'fatal'*"),
        ({"kind": "sarif", "command": ["x"], "rule_severity": {"a": "bad"}}, "*unknown severity*"),
        ({"kind": "sarif", "command": "x --sarif"}, "*s.command must be a list of strings*"),
    ],
)
def test_configuration_mistakes_are_usage_errors(project, gate, message):
    configure(project, {"s": gate})
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])


def test_a_declared_gate_cannot_shadow_a_builtin(project):
    project.configure({"lint": {"kind": "sarif", "command": ["x"]}})
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*two plugins provide a gate named 'lint'*"])


def test_works_under_xdist(project):
    project.configure(
        {
            "one": ruff_gate(),
            "two": {"kind": "sarif", "command": python(f"print({sarif([finding()])!r})")},
        },
        fail_on="low",
    )
    project.write("a.py", "import os\n")
    result = project.pytester.runpytest("--gates-only", "-n", "2", "-p", "xdist")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(["*a.py:1:8*F401*", "*a.py:1 *medium*R1*"])


def test_uri_base_ids_artifact_indexes_and_cwd(project):
    run = {
        "originalUriBaseIds": {"SRC": {"uri": "file://" + str(project.path / "src") + "/"}},
        "artifacts": [{"location": {"uri": "indexed.py"}}],
    }
    located = [
        finding("B1", path="mod.py"),
        finding("B2", path="plain.py"),
    ]
    located[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] = "SRC"
    indexed = finding("B3")
    indexed["locations"][0]["physicalLocation"]["artifactLocation"] = {"index": 0}
    project.write("tool/log.sarif", sarif([*located, indexed], **run))
    project.configure(
        {"s": {"kind": "sarif", "sarif_file": "log.sarif", "cwd": "tool"}}, fail_on="low"
    )
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        ["*src/mod.py:1 *B1*", "*tool/plain.py:1 *B2*", "*tool/indexed.py:1 *B3*"]
    )


def test_snippets_never_reach_the_output(project):
    planted = "-".join(["sk", "live", "4f9a8b7c", "6d5e4f3a", "2b1c"])
    leaky = finding("SECRET", level="error")
    region = leaky["locations"][0]["physicalLocation"]["region"]
    region["snippet"] = {"text": f"token = '{planted}'"}
    leaky["locations"][0]["physicalLocation"]["contextRegion"] = {"snippet": {"text": planted}}
    project.write("log.sarif", sarif([leaky]))
    project.configure({"s": {"kind": "sarif", "sarif_file": "log.sarif"}})
    result = project.pytester.runpytest("--gates-only", "-v", "--junitxml=j.xml")
    result.assert_outcomes(failed=1)
    assert planted not in result.stdout.str()
    for path in (project.path / "gate-evidence").rglob("*"):
        if path.is_file():
            assert planted not in path.read_text(errors="replace"), path
    assert planted not in (project.path / "j.xml").read_text()


def test_waivers_baseline_evidence_and_sarif_output_apply_as_to_builtin_gates(project):
    """A declared gate's findings go through the same policy as a built-in gate's."""
    from pytest_platformgates.cli import main

    gate = ruff_gate()
    gate["command"] = [*gate["command"][:-1], "--select", "F401,E711", "{files}"]
    project.configure({"ruffsarif": gate})
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("a.py", "x = 1\nif x == None:\n    pass\n")  # E711: known debt
    project.commit("feat: legacy code")
    assert main(["baseline", "--project", str(project.path), "--gate", "ruffsarif"]) == 0
    waiver = (
        '\n[[tool.platformgates.waivers]]\ngate = "ruffsarif"\nid = "F401"\n'
        'reason = "re-exported on purpose"\nowner = "app-team"\nexpires = 2099-12-31\n'
    )
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + waiver)
    project.write("a.py", "import os\nx = 1\nif x == None:\n    pass\n")  # F401: waived
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)

    gate = recorded(project)
    assert gate["verdict"] == "passed"
    waived = [f for f in gate["findings"] if f.get("waiver")]
    assert [(f["rule"], f["waiver"]["owner"]) for f in waived] == [("F401", "app-team")]
    assert [f["rule"] for f in gate["findings"] if f.get("known_debt")] == ["E711"]
    log = json.loads((project.path / "gate-evidence" / "findings.sarif").read_text())
    (run,) = [
        r
        for r in log["runs"]
        if r["automationDetails"]["id"].startswith("platformgates/ruffsarif/")
    ]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["F401"]["suppressions"][0]["justification"] == "re-exported on purpose"
    assert by_rule["F401"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1

    project.write("a.py", "import os\nx = 1\nif x == None:\n    pass\nif x == None:\n    pass\n")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a.py:5:*E711*"])
    assert "a.py:3:" not in result.stdout.str().split("summary")[0]
