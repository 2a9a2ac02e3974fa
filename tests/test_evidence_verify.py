"""platformgates verify: every tampering, a foreign commit or policy, a failed gate is caught."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from evidence_support import finding, git, keypair, make_run, record, write_bundle

from pytest_platformgates import cli
from pytest_platformgates.evidence import bundle, dsse, manifest
from pytest_platformgates.evidence.verify import Expectations, verify

COMMIT = "c0ffee" + "0" * 34
SBOM = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []})
# Every file of the signed bundle below: the fixed reports and a gate's artifact.
FILES = [
    "junit.xml",
    "findings.sarif",
    "evidence.json",
    "evidence.intoto.jsonl",
    "report.html",
    "metrics.prom",
    "sbom.cdx.json",
    "manifest.json",
]


def expect(run, **overrides):
    values = {
        "commit": COMMIT,
        "policy_digest": run.settings.digest,
        "required": tuple(run.required),
    }
    values.update(overrides)
    return Expectations(**values)


@pytest.fixture
def signed(tmp_path):
    """A passing, signed bundle, its run and the public key that checks it."""
    private, public = keypair(tmp_path)
    signer = dsse.signer_from_environment({dsse.KEY_VARIABLE: str(private)})
    records = [
        record("lint", "passed", [finding("E501", "low")]),
        record("sast", "passed"),
        record("sbom", "passed", artifacts={"sbom.cdx.json": SBOM}),
    ]
    run = make_run(tmp_path, records, commit=COMMIT)
    target = write_bundle(run, signer)
    return target, run, dsse.load_public_key(str(public))


def failures(target, exp):
    report = verify(target, exp)
    return report.failures


def test_an_untouched_signed_bundle_verifies(signed):
    target, run, key = signed
    report = verify(target, expect(run, key=key, require_signature=True))
    assert report.ok, report.lines()
    assert any("pinned key" in line for line in report.passed)


def test_the_signed_bundle_holds_every_file_the_tamper_tests_edit(signed):
    target, _run, _key = signed
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_changing_any_byte_of_any_file_fails(signed, name):
    target, run, key = signed
    path = target / name
    data = path.read_bytes()
    # Flip a byte in the middle, and separately append whitespace: both must be caught.
    for tampered in (
        data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 1]) + data[len(data) // 2 + 1 :],
        data + b" ",
    ):
        path.write_bytes(tampered)
        assert failures(target, expect(run, key=key)), f"{name} tampered, still verified"
    path.write_bytes(data)
    assert not failures(target, expect(run, key=key))


@pytest.mark.parametrize("name", [n for n in FILES if n != "manifest.json"])
def test_a_file_edited_with_a_matching_manifest_still_fails(signed, name):
    # The attacker edits one file and rewrites the manifest to match it: the statement's
    # subjects (or, for the statement and envelope, their agreement) still tell.
    target, run, key = signed
    path = target / name
    data = path.read_bytes()
    path.write_bytes(data.replace(b"}", b" }", 1) if b"}" in data else data + b"\n")
    files = {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"}
    (target / "manifest.json").write_bytes(manifest.render(files))
    for pinned in (key, None):
        problems = failures(target, expect(run, key=pinned))
        assert problems, f"{name} edited with a matching manifest, still verified"
        assert not any("manifest" in p for p in problems), problems  # caught further in


def test_a_consistent_rewrite_without_the_key_fails_the_signature(signed):
    # The attacker edits the statement, re-encodes the envelope and fixes the manifest:
    # every digest matches, only the signature can tell.
    target, run, key = signed
    stmt = json.loads((target / "evidence.json").read_bytes())
    stmt["predicate"]["gates"][0]["findings"] = []  # hide a finding
    data = (json.dumps(stmt, indent=2, sort_keys=True) + "\n").encode()
    envelope = json.loads((target / "evidence.intoto.jsonl").read_bytes())
    envelope["payload"] = base64.b64encode(data).decode()
    (target / "evidence.json").write_bytes(data)
    (target / "evidence.intoto.jsonl").write_bytes(dsse.canonical(envelope) + b"\n")
    files = {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"}
    (target / "manifest.json").write_bytes(manifest.render(files))
    problems = failures(target, expect(run, key=key))
    assert any("does not verify" in p for p in problems), problems


def remanifest(target: Path) -> None:
    """Refresh manifest.json after an edit, as anyone editing a bundle would."""
    files = {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"}
    (target / "manifest.json").write_bytes(manifest.render(files))


def forge(target: Path, edit_envelope=None, edit_statement=None) -> None:
    """Edit the envelope or the statement (keeping the old signature) and remanifest."""
    envelope = json.loads((target / "evidence.intoto.jsonl").read_bytes())
    if edit_statement is not None:
        stmt = json.loads((target / "evidence.json").read_bytes())
        edit_statement(stmt)
        data = json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()
        (target / "evidence.json").write_bytes(data)
        envelope["payload"] = base64.b64encode(data).decode()
    if edit_envelope is not None:
        edit_envelope(envelope)
    (target / "evidence.intoto.jsonl").write_bytes(dsse.canonical(envelope) + b"\n")
    remanifest(target)


# Each: the edit, and the FAIL line that must name it (the statement's edits keep the old
# signature, so with the pinned key "does not verify" must be reported beside it).
MALFORMED = {
    "payload-number": (lambda e: e.__setitem__("payload", 5), None, "payload is not a base64"),
    "sig-number": (
        lambda e: e["signatures"][0].__setitem__("sig", 5),
        None,
        "signature 0 is not a base64 string",
    ),
    "subject-digest-string": (
        None,
        lambda st: st["subject"].append({"name": "x", "digest": "sha256:00"}),
        "is malformed (its digest is a string, not an object)",
    ),
    "subject-name-list": (
        None,
        lambda st: st["subject"].append({"name": ["x"], "digest": {"sha256": "00"}}),
        "is malformed (its name is an array, not a string)",
    ),
    "git-commit-number": (
        None,
        lambda st: st["subject"][0]["digest"].__setitem__("gitCommit", 5),
        "digest does not map algorithms to strings",
    ),
    "signature-claim-string": (
        None,
        lambda st: st["predicate"].__setitem__("signature", "yes"),
        "predicate.signature is a string, not an object",
    ),
    "git-list": (
        None,
        lambda st: st["predicate"].__setitem__("git", []),
        "predicate.git is an array, not an object",
    ),
    "run-list": (
        None,
        lambda st: st["predicate"].__setitem__("run", []),
        "predicate.run is an array, not an object",
    ),
    "policy-list": (
        None,
        lambda st: st["predicate"].__setitem__("policy", []),
        "predicate.policy is an array, not an object",
    ),
    "gates-number": (
        None,
        lambda st: st["predicate"].__setitem__("gates", 5),
        "predicate.gates is a number, not an array",
    ),
    "changed-numbers": (
        None,
        lambda st: st["predicate"]["git"].update(dirty=True, changed=[1, 2]),
        "uncommitted changes (1, 2)",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_bundle_fails_with_a_line_naming_it(signed, case, capsys):
    target, run, key = signed
    edit_envelope, edit_statement, named = MALFORMED[case]
    forge(target, edit_envelope, edit_statement)
    for pinned in (key, None):
        report = verify(target, expect(run, key=pinned))  # never raises
        assert any(named in line for line in report.failures), report.lines()
        if edit_statement is not None and pinned is not None:
            assert any("does not verify" in line for line in report.failures), report.lines()
    # The command line, too, prints FAIL lines and its verdict (no traceback).
    (run.settings.root / "pyproject.toml").write_text("[tool.platformgates]\n")
    argv = ["verify", str(target), "--project", str(run.settings.root), "--commit", COMMIT]
    assert cli.main(argv) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out


def test_a_check_that_trips_over_the_statement_fails_alone(signed, monkeypatch):
    # Belt and braces behind _shape: a check that still raises is a FAIL line naming it.
    from pytest_platformgates.evidence import verify as verifying

    target, run, key = signed

    def tripping(stmt, expect, report):
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(verifying, "_policy", tripping)
    report = verify(target, expect(run, key=key))
    assert report.failures == [
        "evidence.json: malformed, policy cannot be checked (TypeError: unhashable type: 'list')"
    ]
    assert any("pinned key" in line for line in report.passed)  # the others still ran


def _malleate(sig: str) -> str:
    """The same 64 bytes in other base64: the last character's unused low bits flipped."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    edited = sig[:-3] + alphabet[alphabet.index(sig[-3]) ^ 1] + sig[-2:]
    assert edited != sig and base64.b64decode(edited) == base64.b64decode(sig)
    return edited


# Edits of the envelope that leave the signed statement intact but change the file.
ENVELOPE_EDITS = {
    "junk-signature-entry": (
        lambda e: e["signatures"].append({"keyid": "00" * 32, "sig": "AAAA", "note": "x"}),
        "signature 1 is not a {keyid, sig} object",
    ),
    "non-object-signature": (
        lambda e: e["signatures"].insert(0, "not a DSSE signature"),
        "signature 0 is not a {keyid, sig} object",
    ),
    "extra-field-in-signature": (
        lambda e: e["signatures"][0].__setitem__("comment", "added after signing"),
        "signature 0 is not a {keyid, sig} object",
    ),
    "keyid-number": (
        lambda e: e["signatures"][0].__setitem__("keyid", 5),
        "signature 0: keyid is not a string",
    ),
    "signatures-object": (
        lambda e: e.__setitem__("signatures", {"a": 1}),
        "signatures is not an array",
    ),
    "sig-other-padding-bits": (
        lambda e: e["signatures"][0].__setitem__("sig", _malleate(e["signatures"][0]["sig"])),
        "signature 0 is not in canonical base64",
    ),
}


@pytest.mark.parametrize("case", ENVELOPE_EDITS)
def test_an_envelope_not_exactly_as_written_fails_even_with_the_key(signed, case):
    target, run, key = signed
    edit, named = ENVELOPE_EDITS[case]
    forge(target, edit_envelope=edit)
    for pinned in (key, None):
        problems = failures(target, expect(run, key=pinned))
        assert problems == [f"evidence.intoto.jsonl: {named}: the file was edited"]


def test_a_payload_in_other_base64_is_refused():
    written = dsse.envelope(b"ab", None)  # "YWI=": the "I" carries two unused bits
    doc = dsse.read_envelope(written)
    assert dsse.payload(doc) == b"ab"
    doc["payload"] = "YWJ="
    assert base64.b64decode(doc["payload"]) == b"ab"
    with pytest.raises(ValueError, match="payload is not in canonical base64"):
        dsse.read_envelope(dsse.canonical(doc) + b"\n")


def test_a_manifest_with_another_top_level_key_fails(signed):
    target, run, key = signed
    doc = json.loads((target / "manifest.json").read_bytes())
    doc["comment"] = "not part of the manifest format"
    (target / "manifest.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    problems = failures(target, expect(run, key=key))
    assert problems == [
        "manifest.json: not a platformgates manifest (only algorithm and files; 'comment')"
    ]
    with pytest.raises(ValueError, match="no 'files'"):
        manifest.parse(b'{\n  "algorithm": "sha256"\n}\n')


def test_a_stripped_signature_is_caught_even_without_a_key(signed):
    target, run, _key = signed
    envelope = json.loads((target / "evidence.intoto.jsonl").read_bytes())
    envelope["signatures"] = []
    (target / "evidence.intoto.jsonl").write_bytes(dsse.canonical(envelope) + b"\n")
    files = {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"}
    (target / "manifest.json").write_bytes(manifest.render(files))
    problems = failures(target, expect(run))
    assert any("stripped" in p for p in problems), problems


def test_another_key_does_not_verify(signed, tmp_path):
    target, run, _key = signed
    _private, other = keypair(tmp_path, "other")
    problems = failures(target, expect(run, key=dsse.load_public_key(str(other))))
    assert any("no signature by key" in p for p in problems), problems


def test_an_added_or_removed_file_fails(signed):
    target, run, key = signed
    (target / "extra.txt").write_text("smuggled")
    assert any("not in the manifest" in p for p in failures(target, expect(run, key=key)))
    (target / "extra.txt").unlink()
    (target / "metrics.prom").unlink()
    assert any("missing" in p for p in failures(target, expect(run, key=key)))


def test_a_bundle_of_another_commit_fails(signed):
    target, run, key = signed
    problems = failures(target, expect(run, key=key, commit="d" * 40))
    assert any("another commit" in p for p in problems), problems


def test_a_bundle_made_under_another_policy_fails(signed):
    target, run, key = signed
    problems = failures(target, expect(run, key=key, policy_digest="0" * 64))
    assert any("another policy" in p for p in problems), problems


def test_a_required_gate_that_did_not_run_or_pass_fails(tmp_path):
    run = make_run(
        tmp_path,
        [record("lint", "failed", [finding("F401", "high")]), record("sast", "error")],
        gates=["lint", "sast", "secrets"],
        commit=COMMIT,
        exit_status=1,
    )
    target = write_bundle(run)
    (problem, status) = [p for p in failures(target, expect(run)) if "gate" in p or "status" in p]
    assert "lint: failed" in problem
    assert "sast: error" in problem
    assert "secrets: not run" in problem
    assert "exited with status 1" in status


def test_a_dirty_tree_fails_unless_allowed(tmp_path):
    run = make_run(tmp_path, [record("lint")], commit=COMMIT, dirty=True)
    target = write_bundle(run)
    assert any("uncommitted" in p for p in failures(target, expect(run)))
    assert not failures(target, expect(run, allow_dirty=True))


PARTIAL = {"base": "main", "commit": "b" * 40, "gates": ["lint"], "paths_count": 2, "paths": []}


def test_a_partial_scan_is_refused_unless_allowed(tmp_path):
    run = make_run(tmp_path, [record("lint")], commit=COMMIT, partial=PARTIAL)
    target = write_bundle(run)
    (problem,) = failures(target, expect(run))
    assert "partial scan (--gates-changed): lint checked only the 2 file(s)" in problem
    assert "since main" in problem and "--allow-partial" in problem
    allowed = verify(target, expect(run, allow_partial=True))
    assert allowed.ok
    assert any("partial scan" in w for w in allowed.warnings)


def test_a_partial_scan_recorded_only_in_a_gates_notes_is_refused_too(tmp_path):
    # A bundle written before run.partial existed: each file gate's note still tells.
    note = "partial scan (--gates-changed): only the 2 file(s) changed since main (bbb) were"
    run = make_run(tmp_path, [record("lint", notes=[note])], commit=COMMIT)
    target = write_bundle(run)
    (problem,) = failures(target, expect(run))
    assert "partial scan (--gates-changed): lint checked only the changed files" in problem
    assert verify(target, expect(run, allow_partial=True)).ok


def test_unsigned_evidence_is_a_warning_locally_and_refused_in_ci(tmp_path):
    run = make_run(tmp_path, [record("lint")], commit=COMMIT)
    target = write_bundle(run, signer=None)
    local = verify(target, expect(run))
    assert local.ok
    assert any("not signed" in w for w in local.warnings)
    ci = verify(target, expect(run, require_signature=True))
    assert any("in CI evidence must be signed" in p for p in ci.failures)


def test_a_signed_bundle_without_a_pinned_key_is_refused_in_ci(signed):
    target, run, _key = signed
    local = verify(target, expect(run))
    assert local.ok
    assert any("not pinned" in w for w in local.warnings)
    assert any("pinned" in p for p in failures(target, expect(run, require_signature=True)))


def test_no_bundle_and_a_half_written_bundle_never_verify(tmp_path, monkeypatch):
    run = make_run(tmp_path, [record("lint")], commit=COMMIT)
    target = run.settings.evidence_dir
    assert any("no evidence bundle" in p for p in failures(target, expect(run)))
    # A write that dies between files leaves only the staging directory: nothing to verify.
    files = bundle.compose(run, b"<testsuites/>", None)
    calls = []
    real_write = Path.write_bytes

    def dying_write(self, data):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", dying_write)
    with pytest.raises(OSError):
        bundle.write(target, tmp_path, files)
    monkeypatch.undo()
    assert bundle.staging_dir(target).is_dir()
    assert not target.exists()
    assert failures(target, expect(run))


def test_a_failed_rewrite_leaves_the_previous_bundle_intact(tmp_path, monkeypatch):
    run = make_run(tmp_path, [record("lint")], commit=COMMIT)
    target = write_bundle(run)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    monkeypatch.setattr(bundle.html, "render", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_bundle(run)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert not failures(target, expect(run))


def test_the_command_line_checks_head_and_the_project_policy(
    project, tmp_path, capsys, monkeypatch
):
    project.write("pyproject.toml", "[tool.platformgates]\n[tool.platformgates.gates.lint]\n")
    project.write(".gitignore", "gate-evidence/\n")
    commit = project.commit()
    from pytest_platformgates.config import build_settings, read_table
    from pytest_platformgates.manager import collect_gates, create_plugin_manager

    raw = read_table(project.path / "pyproject.toml")
    pm = create_plugin_manager((), project.path)
    settings = build_settings(
        project.path, project.path / "pyproject.toml", raw, collect_gates(pm, raw)
    )
    required = sorted(n for n, g in settings.gates.items() if g.enabled)
    run = make_run(project.path, [record(g) for g in required], commit=commit)
    run = type(run)(records=run.records, settings=settings, facts=run.facts)
    target = write_bundle(run)
    argv = ["verify", str(target), "--project", str(project.path)]
    assert cli.main(argv) == 0, capsys.readouterr().out
    assert "VERIFIED" in capsys.readouterr().out

    project.write("README.md", "more\n")
    project.commit()
    assert cli.main(argv) == 1
    assert "is for commit" in capsys.readouterr().out
    assert cli.main([*argv, "--commit", commit]) == 0
    # What git means by a name: an abbreviated or upper-case SHA names the same commit.
    assert cli.main([*argv, "--commit", commit[:8]]) == 0
    assert cli.main([*argv, "--commit", commit.upper()]) == 0
    capsys.readouterr()
    assert cli.main([*argv, "--commit", "no-such-ref"]) == 2
    assert "cannot read no-such-ref" in capsys.readouterr().err

    project.write("pyproject.toml", '[tool.platformgates]\nfail_on = "low"\n')
    assert cli.main([*argv, "--commit", commit]) == 1
    assert "another policy" in capsys.readouterr().out

    _private, public = keypair(tmp_path)
    monkeypatch.setenv("PLATFORMGATES_VERIFY_KEY", public.read_text().replace("\n", "\\n"))
    assert cli.main([*argv, "--commit", commit]) == 1  # unsigned, but a key was pinned
    assert "the envelope is not signed" in capsys.readouterr().out
    monkeypatch.delenv("PLATFORMGATES_VERIFY_KEY")
    assert cli.main([*argv, "--key", str(tmp_path / "missing.pem")]) == 2
    assert "cannot read the key file" in capsys.readouterr().err
    shutil.rmtree(target)
    assert cli.main(argv) == 1


def test_verify_in_ci_refuses_unsigned_evidence_unless_told(project, monkeypatch, capsys):
    project.write(
        "pyproject.toml", "[tool.platformgates]\n[tool.platformgates.gates.lint]\nenabled = false\n"
    )
    commit = project.commit()
    assert git(project.path, "rev-parse", "HEAD").strip() == commit
    from pytest_platformgates.config import build_settings, read_table
    from pytest_platformgates.manager import collect_gates, create_plugin_manager

    raw = read_table(project.path / "pyproject.toml")
    pm = create_plugin_manager((), project.path)
    settings = build_settings(
        project.path, project.path / "pyproject.toml", raw, collect_gates(pm, raw)
    )
    required = sorted(n for n, g in settings.gates.items() if g.enabled)
    run = make_run(project.path, [record(g) for g in required], commit=commit)
    run = type(run)(records=run.records, settings=settings, facts=run.facts)
    target = write_bundle(run)
    argv = ["verify", str(target), "--project", str(project.path)]
    monkeypatch.setenv("CI", "true")
    assert cli.main(argv) == 1
    assert "must be signed" in capsys.readouterr().out
    assert cli.main([*argv, "--allow-unsigned"]) == 0


def test_publishing_a_file_at_a_time_writes_the_same_bundle_as_composing_it_whole(signed, tmp_path):
    _target, run, public_key = signed
    private = tmp_path / "key.pem"
    signer = dsse.signer_from_environment({dsse.KEY_VARIABLE: str(private)})
    streamed = tmp_path / "streamed"
    staging = bundle.staging_dir(streamed)
    staging.mkdir()
    (staging / "junit.xml").write_bytes(b"<testsuites/>")  # pytest's junitxml wrote it here
    (staging / "leftover.tmp").write_bytes(b"x")  # a killed attempt's stray file
    written = bundle.publish(streamed, tmp_path, run, b"<testsuites/>", signer)
    whole = bundle.compose(run, b"<testsuites/>", signer)
    assert written == sorted(whole)
    assert sorted(p.name for p in streamed.iterdir()) == sorted(whole)
    for name, data in whole.items():
        assert (streamed / name).read_bytes() == data, name
    assert not staging.exists()
    report = verify(streamed, expect(run, key=public_key, require_signature=True))
    assert report.ok, report.lines()


def test_a_run_outside_git_fails_for_its_missing_commit_only(tmp_path):
    # Outside a repository the git state says "dirty" (nothing is committed); the one
    # failure that means anything is the missing commit.
    run = make_run(tmp_path, [record("lint")], commit=None, dirty=True)
    found = failures(write_bundle(run), expect(run, commit=None))
    assert any("names no git commit" in f for f in found)
    assert not any("uncommitted changes" in f for f in found)
