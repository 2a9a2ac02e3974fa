"""The bundle a gated pytest run leaves: complete, signed on request, once under xdist, atomic."""

from __future__ import annotations

import json
import os
import platform
import xml.etree.ElementTree as ET

import pytest
from evidence_support import INNER, keypair, probe_project

from pytest_platformgates import __version__, cli
from pytest_platformgates.evidence.statement import PREDICATE_TYPE

BUNDLE = {
    "junit.xml",
    "findings.sarif",
    "evidence.json",
    "evidence.intoto.jsonl",
    "report.html",
    "metrics.prom",
    "manifest.json",
}


def verify(project, *extra):
    return cli.main(
        ["verify", str(project.path / "gate-evidence"), "--project", str(project.path), *extra]
    )


def statement(project):
    return json.loads((project.path / "gate-evidence" / "evidence.json").read_text())


def test_a_passing_gated_run_leaves_a_bundle_that_verifies(project, capsys):
    probe_project(project, {"figures": {"checked": 3}})
    result = project.pytester.runpytest(*INNER)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*platformgates evidence*",
            "PASSED: 7 files in gate-evidence/ (UNSIGNED*",
            "*generated xml file: *gate-evidence*junit.xml*",
        ]
    )
    evidence = project.path / "gate-evidence"
    assert {p.name for p in evidence.iterdir()} == BUNDLE
    assert not list(project.path.glob(".gate-evidence*")), "staging left behind"
    stmt = statement(project)
    assert stmt["predicateType"] == PREDICATE_TYPE
    predicate = stmt["predicate"]
    assert predicate["verdicts"] == {"probe": "passed"}
    assert predicate["run"]["tests"] == {"tests": 2, "failures": 0, "errors": 0, "skipped": 0}
    assert predicate["git"]["commit"] == project.git("rev-parse", "HEAD").strip()
    assert predicate["git"]["dirty"] is False
    assert predicate["signature"]["signed"] is False
    # Who judged: the interpreter, the plugin stack and each gate's tool, with timings.
    assert predicate["software"]["python"] == platform.python_version()
    assert predicate["software"]["packages"]["pytest"] == pytest.__version__
    assert predicate["producer"]["version"] == __version__
    (probe,) = predicate["gates"]
    assert probe["tool_versions"] == {"probe": "1.0"}
    assert probe["duration"] >= 0
    assert predicate["run"]["started"] <= predicate["run"]["finished"]
    assert predicate["policy"]["digest"] and predicate["policy"]["source"] == "pyproject.toml"
    assert verify(project) == 0, capsys.readouterr().out


def test_a_failing_gate_is_in_junit_body_and_properties_and_verify_refuses(project, capsys):
    probe_project(
        project,
        {
            "findings": [
                {
                    "rule": "P1",
                    "severity": "high",
                    "path": "probe.json",
                    "line": 1,
                    "message": "probe found a problem",
                    "hint": "fix the probe",
                }
            ]
        },
    )
    result = project.pytester.runpytest(*INNER)
    result.assert_outcomes(passed=1, failed=1)
    root = ET.parse(project.path / "gate-evidence" / "junit.xml").getroot()
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "probe"]
    failure = case.find("failure")
    assert "probe found a problem" in failure.text  # the body, which GitLab shows
    suite_props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert suite_props["platformgates.probe.verdict"] == "failed"
    assert suite_props["platformgates.probe.findings.high"] == "1"
    assert verify(project) == 1
    out = capsys.readouterr().out
    assert "probe: failed" in out
    assert "exited with status 1" in out


def test_a_signed_bundle_verifies_with_the_pinned_key_only(project, tmp_path, monkeypatch, capsys):
    private, public = keypair(tmp_path)
    _other, other_public = keypair(tmp_path, "other")
    probe_project(project, {})
    monkeypatch.setenv("PLATFORMGATES_SIGNING_KEY", private.read_text())  # PEM text form
    result = project.pytester.runpytest(*INNER)
    result.stdout.fnmatch_lines(["PASSED: 7 files in gate-evidence/ (signed, key *"])
    assert statement(project)["predicate"]["signature"]["signed"] is True
    assert verify(project, "--key", str(public)) == 0
    assert verify(project, "--key", str(other_public)) == 1
    assert "no signature by key" in capsys.readouterr().out


def test_an_unusable_signing_key_stops_the_run_before_any_test(project, tmp_path, monkeypatch):
    probe_project(project, {})
    monkeypatch.setenv("PLATFORMGATES_SIGNING_KEY", str(tmp_path / "nowhere.pem"))
    result = project.pytester.runpytest(*INNER)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*PLATFORMGATES_SIGNING_KEY holds neither PEM text, its base64, nor the path of a "
            "readable file (No such file or directory; the value is not shown*"
        ]
    )
    assert "nowhere.pem" not in result.stderr.str()  # a variable's value is never repeated
    rsa_like = tmp_path / "not-ed25519.pem"
    armour = "-----{} PRIVATE KEY-----"
    rsa_like.write_text(f"{armour.format('BEGIN')}\nAAAA\n{armour.format('END')}\n")
    monkeypatch.setenv("PLATFORMGATES_SIGNING_KEY", str(rsa_like))
    result = project.pytester.runpytest(*INNER)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not (project.path / "gate-evidence").exists()


def test_the_configuration_names_where_the_key_comes_from(project, tmp_path, monkeypatch):
    private, public = keypair(tmp_path)
    probe_project(project, {}, signing_key="env:TEAM_EVIDENCE_KEY")
    monkeypatch.setenv("TEAM_EVIDENCE_KEY", str(private))  # a path this time
    project.pytester.runpytest(*INNER).stdout.fnmatch_lines(["PASSED: *(signed, key *"])
    assert verify(project, "--key", str(public)) == 0
    monkeypatch.delenv("TEAM_EVIDENCE_KEY")
    project.pytester.runpytest(*INNER).stdout.fnmatch_lines(
        ["*UNSIGNED: no signing key: TEAM_EVIDENCE_KEY is not set*"]
    )
    probe_project(project, {}, signing_key=f"file:{private}")
    project.pytester.runpytest(*INNER).stdout.fnmatch_lines(["PASSED: *(signed, key *"])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("file:keys/evidence.pem", "*inside the project, where a private key could be committed*"),
        ("file:/nonexistent/evidence.pem", "*cannot read the key file*"),
        ("vault:evidence", "*write env:NAME*or file:PATH*"),
    ],
)
def test_a_key_setting_that_cannot_work_is_a_usage_error(project, spec, message):
    probe_project(project, {}, signing_key=spec)
    result = project.pytester.runpytest(*INNER)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_under_xdist_the_controller_writes_one_bundle_with_every_gate(project):
    probe_project(project, {}, gates={"lint": {}})
    project.write("pkg/mod.py", "X = 1\n")
    for i in range(4):
        project.write(f"test_more_{i}.py", f"def test_{i}():\n    assert True\n")
    project.commit()
    result = project.pytester.runpytest(*INNER, "-n", "2")
    result.assert_outcomes(passed=7)
    predicate = statement(project)["predicate"]
    assert predicate["verdicts"] == {"lint": "passed", "probe": "passed"}
    assert [g["gate"] for g in predicate["gates"]] == ["lint", "probe"]
    assert predicate["run"]["tests"]["tests"] == 7
    assert not list(project.path.glob(".gate-evidence*"))


def test_under_xdist_a_failing_gates_report_and_figures_are_in_the_junit(project, capsys):
    # Gates run in workers; the controller writes junit.xml, with the gate's failure in
    # the element body and its figures as <testsuite> properties (valid under xunit2).
    probe_project(
        project,
        {
            "findings": [
                {
                    "rule": "P1",
                    "severity": "high",
                    "path": "probe.json",
                    "line": 1,
                    "message": "probe found a problem",
                }
            ],
            "figures": {"checked": 3},
        },
    )
    result = project.pytester.runpytest(*INNER, "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    root = ET.parse(project.path / "gate-evidence" / "junit.xml").getroot()
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "probe"]
    assert "probe found a problem" in case.find("failure").text
    assert list(case.iter("property")) == []  # xunit2: no properties on a <testcase>
    suite = root.find("testsuite")
    assert suite[0].tag == "properties"  # xunit2 puts them first in the suite
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["platformgates.probe.verdict"] == "failed"
    assert props["platformgates.probe.findings.high"] == "1"
    assert props["platformgates.probe.figure.checked"] == "3"
    assert statement(project)["predicate"]["run"]["tests"]["failures"] == 1
    assert verify(project) == 1
    assert "probe: failed" in capsys.readouterr().out


def test_the_users_own_junitxml_is_kept_and_copied_in(project):
    probe_project(project, {})
    result = project.pytester.runpytest(*INNER, "--junitxml=reports/j.xml")
    result.assert_outcomes(passed=2)
    own = (project.path / "reports" / "j.xml").read_bytes()
    assert own == (project.path / "gate-evidence" / "junit.xml").read_bytes()


def test_without_junitxml_the_bundle_lacks_junit_xml_says_so_and_does_not_verify(project, capsys):
    # -p no:junitxml never registers --junitxml or junit_family: nothing may ask for them.
    probe_project(project, {})
    result = project.pytester.runpytest(*INNER, "-p", "no:junitxml")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert {p.name for p in (project.path / "gate-evidence").iterdir()} == BUNDLE - {"junit.xml"}
    notes = statement(project)["predicate"]["run"]["notes"]
    assert any("junitxml plugin is disabled" in n for n in notes), notes
    assert verify(project) == 1
    assert "junit.xml: required in a bundle but absent" in capsys.readouterr().out


def test_no_bundle_when_the_gates_do_not_run(project):
    probe_project(project, {})
    project.pytester.runpytest(*INNER, "test_ok.py")
    project.pytester.runpytest(*INNER, "--co")
    project.pytester.runpytest(*INNER, "--no-gates")
    assert not (project.path / "gate-evidence").exists()
    assert not list(project.path.glob(".gate-evidence*"))


def test_a_deselected_required_gate_leaves_evidence_that_does_not_verify(project, capsys):
    probe_project(project, {})
    project.pytester.runpytest(*INNER, "--gates", "-k", "test_ok")
    assert statement(project)["predicate"]["verdicts"] == {"probe": "not run"}
    assert verify(project) == 1
    assert "probe: not run" in capsys.readouterr().out


def test_evidence_dir_holding_other_files_is_never_replaced(project):
    probe_project(project, {}, evidence_dir="src")
    project.write("src/app.py", "VALUE = 1\n")
    result = project.pytester.runpytest(*INNER)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*holds files that are not evidence (app.py)*"])
    assert (project.path / "src" / "app.py").read_text() == "VALUE = 1\n"


def test_a_rerun_replaces_the_bundle_and_leaves_nothing_behind(project):
    probe_project(project, {})
    project.pytester.runpytest(*INNER)
    first = statement(project)["predicate"]["run"]["started"]
    project.write("probe.json", json.dumps({"figures": {"round": 2}}))
    project.commit()
    project.pytester.runpytest(*INNER)
    predicate = statement(project)["predicate"]
    assert predicate["gates"][0]["figures"] == {"round": 2, "evidence_in_scope": 0}
    assert predicate["run"]["started"] >= first
    assert sorted(p.name for p in project.path.iterdir() if "evidence" in p.name) == [
        "gate-evidence"
    ]


def test_the_bundle_is_never_an_input_of_the_next_runs_gates(project):
    probe_project(project, {})
    project.write(".gitignore", "__pycache__/\n")  # the bundle is not ignored by git
    project.commit()
    project.pytester.runpytest(*INNER)
    (project.path / ".gate-evidence.partial-1").mkdir()
    (project.path / ".gate-evidence.partial-1" / "junit.xml").write_text("<x/>")
    project.pytester.runpytest(*INNER)
    assert statement(project)["predicate"]["gates"][0]["figures"]["evidence_in_scope"] == 0


def test_a_gates_artifact_is_attested_and_a_bad_name_fails_the_run(project):
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []})
    probe_project(project, {"artifacts": {"sbom.cdx.json": sbom}})
    project.pytester.runpytest(*INNER)
    evidence = project.path / "gate-evidence"
    assert (evidence / "sbom.cdx.json").read_text() == sbom
    stmt = statement(project)
    names = {s["name"] for s in stmt["subject"]}
    assert {"git-commit", "sbom.cdx.json", "junit.xml", "report.html"} <= names
    assert "sbom.cdx.json" in stmt["predicate"]["gates"][0]["artifacts"]
    assert "artifacts" not in json.dumps(stmt["predicate"]["gates"][0]["figures"])

    project.write("probe.json", json.dumps({"artifacts": {"../escape.json": "{}"}}))
    project.commit()
    result = project.pytester.runpytest(*INNER)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*evidence NOT written*'../escape.json'*"])
    assert not (project.path.parent / "escape.json").exists()
    assert (evidence / "sbom.cdx.json").exists()  # the previous bundle is intact


def test_the_tree_is_recorded_as_it_was_before_the_tests_ran(project):
    # Git reads the tree while pytest collects; the tests wait for it, so a test that
    # writes into the tree does not change what the evidence says was tested.
    probe_project(project, {})
    project.write(
        "test_writes.py",
        "import pathlib\n\ndef test_writes():\n    pathlib.Path('made.txt').write_text('x')\n",
    )
    project.commit()
    project.pytester.runpytest(*INNER)
    assert (project.path / "made.txt").exists()
    git = statement(project)["predicate"]["git"]
    assert git["dirty"] is False and git["untracked"] == []


def test_a_dirty_tree_is_recorded_and_refused_by_verify(project, capsys):
    probe_project(project, {})
    project.write("test_ok.py", "def test_ok():\n    assert 1\n")  # uncommitted edit
    project.write("notes.txt", "untracked\n")
    project.pytester.runpytest(*INNER)
    git = statement(project)["predicate"]["git"]
    assert git["dirty"] is True
    assert git["changed"] == ["test_ok.py"]
    assert "notes.txt" in git["untracked"]
    assert verify(project) == 1
    assert "uncommitted changes (test_ok.py)" in capsys.readouterr().out
    assert verify(project, "--allow-dirty") == 0


def test_a_working_tree_with_names_that_are_not_utf8_is_recorded_not_a_crash(project, capsys):
    # git status printed bytes that were decoded strictly: an INTERNALERROR traceback
    # before any test ran, for one stray file in the tree.
    probe_project(project, {})
    edited = os.fsdecode(b"d\xff.txt")
    project.write(edited, "one\n")
    project.commit()
    project.write(edited, "two\n")
    project.write(os.fsdecode(b"u\xfe.txt"), "untracked\n")
    result = project.pytester.runpytest(*INNER)
    result.assert_outcomes(passed=2)
    data = (project.path / "gate-evidence" / "evidence.json").read_bytes().decode("utf-8")
    git = json.loads(data)["predicate"]["git"]
    assert git["dirty"] is True
    assert git["changed"] == ["d\ufffd.txt"]
    assert "u\ufffd.txt" in git["untracked"]
    assert verify(project) == 1
    assert "uncommitted changes (d\ufffd.txt)" in capsys.readouterr().out
    assert verify(project, "--allow-dirty") == 0


def test_verify_spells_out_control_characters_it_quotes_from_the_bundle(project, capsys):
    # ESC[8m (conceal) in a changed file's name hid every line after it, "NOT VERIFIED"
    # included, in a terminal or a CI log that renders escapes.
    probe_project(project, {})
    project.write("e\x1b[8m.txt", "one\n")
    project.commit()
    project.write("e\x1b[8m.txt", "two\n")
    project.pytester.runpytest(*INNER)
    assert verify(project) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "uncommitted changes (e\\x1b[8m.txt)" in out
    assert out.splitlines()[-1].startswith("platformgates verify: NOT VERIFIED")


def test_ci_identity_is_recorded_and_no_secret_value_is_written(project, monkeypatch):
    # A planted secret, built at run time so that our own repository holds none.
    planted = "AKIA" + "Z7Q3" * 4
    ci_credential = "ghp_" + "x1Y2" * 9
    probe_project(
        project,
        {
            "findings": [
                {
                    "rule": "aws-key",
                    "severity": "critical",
                    "path": "conf.py",
                    "line": 1,
                    "message": "AWS access key (value redacted)",
                }
            ]
        },
    )
    project.write("conf.py", f'KEY = "{planted}"\n')
    project.commit()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_TOKEN", ci_credential)
    result = project.pytester.runpytest(*INNER, f"--basetemp={project.path.parent / 'bt'}")
    result.assert_outcomes(passed=1, failed=1)
    identity = statement(project)["predicate"]["identity"]
    assert identity["provider"] == "github"
    assert identity["variables"]["GITHUB_ACTOR"] == "octocat"
    assert identity["variables"]["GITHUB_RUN_ID"] == "4242"
    for path in (project.path / "gate-evidence").iterdir():
        text = path.read_text(encoding="utf-8")
        assert planted not in text, path.name
        assert ci_credential not in text, path.name


def _text_only(value) -> None:
    """No lone surrogate anywhere in a parsed JSON document: RFC 8259 text only."""
    if isinstance(value, str):
        assert not any("\ud800" <= c <= "\udfff" for c in value), repr(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text_only(key)
            _text_only(item)
    elif isinstance(value, list):
        for item in value:
            _text_only(item)


def test_a_finding_on_a_file_name_that_is_not_utf8_leaves_a_bundle_that_verifies(project, capsys):
    # git and the inventory keep such a name's bytes (as surrogate escapes); no JSON,
    # XML or HTML document can hold a lone surrogate. It made every bundle unwritable.
    folder = os.fsdecode(b"d\xff")
    project.write(f"{folder}/m.py", "eval(input())\n")  # a medium bandit finding
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    project.write(".gitignore", "gate-evidence/\n__pycache__/\n")
    project.configure({"sast": {}})
    project.commit()
    result = project.pytester.runpytest(*INNER)
    result.assert_outcomes(passed=2)
    evidence = project.path / "gate-evidence"
    documents = {}
    for name in ("findings.sarif", "evidence.json", "manifest.json"):
        documents[name] = json.loads((evidence / name).read_bytes().decode("utf-8"))
        _text_only(documents[name])
    results = documents["findings.sarif"]["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"d%FF/m.py"}  # the file's own bytes: code scanning finds the file
    (sast,) = documents["evidence.json"]["predicate"]["gates"]
    assert {f["path"] for f in sast["findings"]} == {"d\ufffd/m.py"}
    ET.fromstring((evidence / "junit.xml").read_bytes())
    page = (evidence / "report.html").read_bytes().decode("utf-8")
    assert "d\ufffd/m.py" in page
    assert verify(project) == 0, capsys.readouterr().out
