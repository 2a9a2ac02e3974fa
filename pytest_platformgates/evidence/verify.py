"""``platformgates verify DIR``: does this bundle prove that this commit passed its gates?

Checked, in order, each failure named with what to do about it: every file's
digest (and no file unaccounted for), the envelope and the statement agree byte
for byte, the statement's subjects match the files, the signature (against a
pinned key), the commit, a clean working tree, the policy digest against the
project's current configuration, and that every gate the policy requires ran and
passed in a run that pytest itself passed.

Unsigned evidence is accepted locally with a warning and refused in CI (``CI``
set) unless ``--allow-unsigned`` says so on the command line, where it is visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import bundle, dsse, manifest, statement

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

VERIFY_KEY_VARIABLE = "PLATFORMGATES_VERIFY_KEY"


@dataclass
class Report:
    """What verify found: failures make it fail, warnings are printed."""

    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = [f"ok    {line}" for line in self.passed]
        out += [f"WARN  {line}" for line in self.warnings]
        out += [f"FAIL  {line}" for line in self.failures]
        return out


@dataclass(frozen=True)
class Expectations:
    """What the bundle must match: the project as it is now, and the caller's demands."""

    commit: str | None
    policy_digest: str | None
    required: tuple[str, ...]
    key: Ed25519PublicKey | None = None
    require_signature: bool = False
    allow_dirty: bool = False
    allow_partial: bool = False


def head_commit(project: Path) -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "HEAD^{commit}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise ValueError(
            f"cannot read HEAD in {project}: {proc.stderr.strip()}; run verify in the git "
            "checkout the bundle was made from (or --project DIR), or name the commit "
            "with --commit SHA"
        )
    return proc.stdout.strip()


def in_ci(environ: Any = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def verify(directory: Path, expect: Expectations) -> Report:
    report = Report()
    files = _files(directory, report)
    if files is None:
        return report
    stmt = _statement(files, report)
    if stmt is None:
        return report
    _signature(files, stmt, expect, report)
    predicate = stmt["predicate"]
    _commit(stmt, predicate, expect, report)
    _policy(predicate, expect, report)
    _gates(predicate, expect, report)
    _partial(predicate, expect, report)
    return report


def _files(directory: Path, report: Report) -> dict[str, bytes] | None:
    if not directory.is_dir():
        report.failures.append(
            f"{directory} is not a directory: no evidence bundle (did the gated pytest run "
            "finish, and does evidence_dir point here?)"
        )
        return None
    try:
        digests = manifest.parse((directory / bundle.MANIFEST).read_bytes())
    except OSError as exc:
        report.failures.append(f"{bundle.MANIFEST}: cannot be read ({exc.strerror})")
        return None
    except ValueError as exc:
        report.failures.append(f"{bundle.MANIFEST}: {exc}")
        return None
    files: dict[str, bytes] = {}
    ok = True
    present = {p.name: p for p in directory.iterdir()}
    for name in sorted(set(present) - set(digests) - {bundle.MANIFEST}):
        report.failures.append(f"{name}: in the bundle but not in the manifest (added later?)")
        ok = False
    for name, digest in sorted(digests.items()):
        path = present.get(name)
        if path is None or path.is_symlink() or not path.is_file():
            report.failures.append(f"{name}: listed in the manifest but missing")
            ok = False
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            report.failures.append(f"{name}: sha256 does not match the manifest (modified)")
            ok = False
            continue
        files[name] = data
    missing = sorted(bundle.REQUIRED - set(digests) - {bundle.MANIFEST})
    for name in missing:
        report.failures.append(f"{name}: required in a bundle but absent")
        ok = False
    if ok:
        report.passed.append(f"{len(files)} files match the manifest's sha256 digests")
    return files if ok else None


def _statement(files: dict[str, bytes], report: Report) -> dict[str, Any] | None:
    try:
        envelope = dsse.read_envelope(files[bundle.ENVELOPE])
        payload = dsse.payload(envelope)
    except ValueError as exc:
        report.failures.append(f"{bundle.ENVELOPE}: {exc}")
        return None
    if payload != files[bundle.STATEMENT]:
        report.failures.append(
            f"{bundle.STATEMENT} differs from the statement inside {bundle.ENVELOPE}"
        )
        return None
    try:
        stmt = json.loads(payload)
    except ValueError as exc:
        report.failures.append(f"{bundle.STATEMENT}: not JSON ({exc})")
        return None
    if not isinstance(stmt, dict) or stmt.get("_type") != statement.STATEMENT_TYPE:
        report.failures.append(f"{bundle.STATEMENT}: not an in-toto Statement v1")
        return None
    if stmt.get("predicateType") != statement.PREDICATE_TYPE:
        report.failures.append(
            f"{bundle.STATEMENT}: predicateType {stmt.get('predicateType')!r} is not "
            f"{statement.PREDICATE_TYPE!r}"
        )
        return None
    if not isinstance(stmt.get("predicate"), dict) or not isinstance(stmt.get("subject"), list):
        report.failures.append(f"{bundle.STATEMENT}: predicate or subject missing")
        return None
    attested = {}
    for subject in stmt["subject"]:
        digest = subject.get("digest", {}) if isinstance(subject, dict) else {}
        if "sha256" in digest:
            attested[subject.get("name")] = digest["sha256"]
    covered = set(files) - {bundle.STATEMENT, bundle.ENVELOPE, bundle.MANIFEST}
    bad = sorted(
        n for n in covered if attested.get(n) != hashlib.sha256(files[n]).hexdigest()
    ) + sorted(n for n in attested if n not in covered)
    if bad:
        report.failures.append(
            f"{bundle.STATEMENT}: its subject digests do not match {', '.join(bad)}"
        )
        return None
    report.passed.append(f"the statement attests every report ({len(covered)} files)")
    stmt["_envelope"] = envelope
    return stmt


def _signature(
    files: dict[str, bytes], stmt: dict[str, Any], expect: Expectations, report: Report
) -> None:
    envelope = stmt.pop("_envelope")
    claimed = stmt["predicate"].get("signature", {})
    signed = bool(envelope["signatures"])
    if claimed.get("signed") and not signed:
        report.failures.append(
            "the statement says the bundle was signed, but the envelope carries no "
            "signature: it was stripped"
        )
        return
    if expect.key is not None:
        try:
            keyid = dsse.check_signature(envelope, expect.key)
        except ValueError as exc:
            report.failures.append(f"signature: {exc}")
            return
        report.passed.append(f"signature verifies with the pinned key {keyid[:16]}")
        return
    if not signed:
        message = f"the bundle is not signed ({claimed.get('reason', 'no key')})"
        if expect.require_signature:
            report.failures.append(
                f"{message}; in CI evidence must be signed: give the gated run its key "
                f"(signing_key, by default ${dsse.KEY_VARIABLE}) and pass --key PUB here "
                "(or --allow-unsigned to accept it anyway)"
            )
        else:
            report.warnings.append(message)
        return
    # Without a pinned key, the key the bundle names proves integrity, not authorship.
    try:
        named = dsse.public_key_from_b64(str(claimed.get("public_key", "")))
        keyid = dsse.check_signature(envelope, named)
    except (dsse.SigningKeyError, ValueError) as exc:
        report.failures.append(f"signature: {exc}")
        return
    message = (
        f"the signature verifies with the key the bundle names ({keyid[:16]}), but that key "
        f"is not pinned: pass --key PUB (or set {VERIFY_KEY_VARIABLE}) to check who signed"
    )
    if expect.require_signature:
        report.failures.append(f"{message}; in CI the signer must be pinned")
    else:
        report.warnings.append(message)


def _commit(
    stmt: dict[str, Any], predicate: dict[str, Any], expect: Expectations, report: Report
) -> None:
    commits = [
        s["digest"]["gitCommit"]
        for s in stmt["subject"]
        if isinstance(s, dict) and "gitCommit" in s.get("digest", {})
    ]
    if not commits:
        report.failures.append("the bundle names no git commit (the run was not in a repository)")
    elif expect.commit is not None and commits[0] != expect.commit:
        report.failures.append(
            f"the bundle is for commit {commits[0][:12]}, not {expect.commit[:12]}: "
            "it is evidence of another commit"
        )
    elif expect.commit is not None:
        report.passed.append(f"the bundle belongs to commit {expect.commit[:12]}")
    git = predicate.get("git", {})
    if git.get("dirty"):
        changed = ", ".join(git.get("changed", [])[:5])
        message = f"the run tested a working tree with uncommitted changes ({changed})"
        if expect.allow_dirty:
            report.warnings.append(message)
        else:
            report.failures.append(
                f"{message}: it does not attest the commit; commit and rerun (or --allow-dirty)"
            )


def _policy(predicate: dict[str, Any], expect: Expectations, report: Report) -> None:
    policy = predicate.get("policy", {})
    recorded = policy.get("digest")
    effective = policy.get("effective")
    canonical = json.dumps(effective, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    if hashlib.sha256(canonical.encode()).hexdigest() != recorded:
        report.failures.append("the recorded policy does not match its own digest")
        return
    if expect.policy_digest is None:
        return
    if recorded != expect.policy_digest:
        report.failures.append(
            f"policy digest {str(recorded)[:12]} differs from the project's current "
            f"configuration {expect.policy_digest[:12]}: the gates ran under another policy"
        )
        return
    report.passed.append(f"policy digest {recorded[:12]} matches the project's configuration")


def _gates(predicate: dict[str, Any], expect: Expectations, report: Report) -> None:
    verdicts = predicate.get("verdicts", {})
    if not isinstance(verdicts, dict):
        report.failures.append("the statement records no gate verdicts")
        return
    bad = []
    for gate in expect.required:
        verdict = verdicts.get(gate, "not recorded")
        if verdict != "passed":
            bad.append(f"{gate}: {verdict}")
    if bad:
        report.failures.append(f"required gates did not pass: {'; '.join(bad)}")
    else:
        report.passed.append(f"every required gate passed ({', '.join(expect.required)})")
    status = predicate.get("run", {}).get("exit_status")
    if status != 0:
        report.failures.append(f"pytest exited with status {status}: the run did not pass")


# The note every file gate's result carries on a --gates-changed run (runner.PartialScan):
# a bundle written before run.partial existed still tells by it.
PARTIAL_NOTE = "partial scan (--gates-changed)"


def _partial(predicate: dict[str, Any], expect: Expectations, report: Report) -> None:
    """A ``--gates-changed`` run checked only the changed files: not proof of the commit."""
    run = predicate.get("run")
    partial = run.get("partial") if isinstance(run, dict) else None
    noted = sorted(
        str(g.get("gate"))
        for g in predicate.get("gates") or ()
        if isinstance(g, dict)
        and any(isinstance(n, str) and n.startswith(PARTIAL_NOTE) for n in g.get("notes") or ())
    )
    if partial is None and not noted:
        return
    if isinstance(partial, dict):
        gates = partial.get("gates")
        names = ", ".join(map(str, gates)) if isinstance(gates, list) and gates else "no gate"
        message = (
            f"the run was a partial scan (--gates-changed): {names} checked only the "
            f"{partial.get('paths_count', '?')} file(s) changed since {partial.get('base')!s}"
        )
    else:
        message = "the run was a partial scan (--gates-changed)" + (
            f": {', '.join(noted)} checked only the changed files" if noted else ""
        )
    if expect.allow_partial:
        report.warnings.append(message)
    else:
        report.failures.append(
            f"{message}; it is not a full verdict of the commit: run the gates without "
            "--gates-changed (or --allow-partial)"
        )
