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
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..redaction import shown
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
        """The report as printed: what it quotes from the bundle (file names, notes) may
        hold escape sequences, which must not hide a FAIL line or the verdict."""
        out = [f"ok    {shown(line)}" for line in self.passed]
        out += [f"WARN  {shown(line)}" for line in self.warnings]
        out += [f"FAIL  {shown(line)}" for line in self.failures]
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
    return resolve_commit(project, "HEAD")


def resolve_commit(project: Path, name: str) -> str:
    """The full SHA of commit ``name`` (``HEAD``, a short or upper-case SHA, a tag).

    A full SHA needs no repository (a bundle may be checked away from the checkout); any
    other name is resolved by git in ``project``, so ``--commit af121a80`` means what git
    means by it instead of failing as "another commit".
    """
    if re.fullmatch(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", name):
        return name.lower()
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--end-of-options", f"{name}^{{commit}}"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"cannot ask git for commit {name!r} in {project}: {exc}") from None
    if proc.returncode != 0:
        raise ValueError(
            f"cannot read {name} in {project}: {proc.stderr.strip()}; run verify in the git "
            "checkout the bundle was made from (or --project DIR), or name the commit "
            "with --commit SHA (its full 40 characters work anywhere)"
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
    predicate = stmt["predicate"]
    _shape(predicate, report)
    # The statement is read before its signature is checked, so its shapes are the
    # forger's: each check reads a malformed part as empty (_part), and one that still
    # trips over it fails on its own, with the other checks' results kept.
    checks = {
        "signature": _signature,
        "commit": _commit,
        "policy": _policy,
        "gates": _gates,
        "partial scan": _partial,
    }
    for name, check in checks.items():
        try:
            check(stmt, expect, report)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            report.failures.append(
                f"{bundle.STATEMENT}: malformed, {name} cannot be checked "
                f"({type(exc).__name__}: {exc})"
            )
    return report


# The parts of the predicate verify reads, with the JSON type each must have.
_SHAPES: dict[str, type] = {
    "signature": dict,
    "git": dict,
    "run": dict,
    "policy": dict,
    "verdicts": dict,
    "gates": list,
}
_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number"}


def _json_type(value: Any) -> str:
    for kind, name in _JSON_NAMES.items():
        if isinstance(value, kind) and not isinstance(value, bool):
            return name
    return {True: "true", False: "false", None: "null"}.get(value, type(value).__name__)


def _shape(predicate: dict[str, Any], report: Report) -> None:
    """A FAIL for each part verify reads that is there but of the wrong JSON type."""
    for key, kind in _SHAPES.items():
        if key in predicate and not isinstance(predicate[key], kind):
            report.failures.append(
                f"{bundle.STATEMENT}: predicate.{key} is {_json_type(predicate[key])}, not "
                f"{_JSON_NAMES[kind]}: the statement is malformed"
            )


def _part(predicate: dict[str, Any], key: str) -> dict[str, Any]:
    """``predicate[key]`` when it is an object, else empty (_shape reported it)."""
    value = predicate.get(key)
    return value if isinstance(value, dict) else {}


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
    for index, subject in enumerate(stmt["subject"]):
        malformed = _malformed_subject(subject)
        if malformed:
            # Reported, and the checks go on: with a pinned key the signature tells.
            report.failures.append(
                f"{bundle.STATEMENT}: subject {index} is malformed ({malformed})"
            )
            continue
        if "sha256" in subject["digest"]:
            attested[subject["name"]] = subject["digest"]["sha256"]
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


def _malformed_subject(subject: Any) -> str:
    """Why an in-toto subject is not ``{"name": str, "digest": {str: str}}``; empty if it is."""
    if not isinstance(subject, dict):
        return f"{_json_type(subject)}, not an object"
    if not isinstance(subject.get("name"), str):
        return f"its name is {_json_type(subject.get('name'))}, not a string"
    digest = subject.get("digest")
    if not isinstance(digest, dict):
        return f"its digest is {_json_type(digest)}, not an object"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in digest.items()):
        return "its digest does not map algorithms to strings"
    return ""


def _signature(stmt: dict[str, Any], expect: Expectations, report: Report) -> None:
    envelope = stmt.pop("_envelope")
    claimed = _part(stmt["predicate"], "signature")
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


def _commit(stmt: dict[str, Any], expect: Expectations, report: Report) -> None:
    predicate = stmt["predicate"]
    commits = [
        s["digest"]["gitCommit"]
        for s in stmt["subject"]
        if not _malformed_subject(s) and "gitCommit" in s["digest"]
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
    git = _part(predicate, "git")
    # Outside a repository there is no commit to compare a working tree with: the
    # failure above says so, and "uncommitted changes ()" would only mislead.
    if commits and git.get("dirty"):
        listed = git.get("changed")
        changed = ", ".join(map(str, listed[:5] if isinstance(listed, list) else ()))
        message = f"the run tested a working tree with uncommitted changes ({changed})"
        if expect.allow_dirty:
            report.warnings.append(message)
        else:
            report.failures.append(
                f"{message}: it does not attest the commit; commit and rerun (or --allow-dirty)"
            )


def _policy(stmt: dict[str, Any], expect: Expectations, report: Report) -> None:
    policy = _part(stmt["predicate"], "policy")
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


def _gates(stmt: dict[str, Any], expect: Expectations, report: Report) -> None:
    predicate = stmt["predicate"]
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
    status = _part(predicate, "run").get("exit_status")
    if status != 0:
        report.failures.append(f"pytest exited with status {status}: the run did not pass")


# The note every file gate's result carries on a --gates-changed run (runner.PartialScan):
# a bundle written before run.partial existed still tells by it.
PARTIAL_NOTE = "partial scan (--gates-changed)"


def _partial(stmt: dict[str, Any], expect: Expectations, report: Report) -> None:
    """A ``--gates-changed`` run checked only the changed files: not proof of the commit."""
    predicate = stmt["predicate"]
    partial = _part(predicate, "run").get("partial")
    gate_records = predicate.get("gates")
    noted = sorted(
        str(g.get("gate"))
        for g in (gate_records if isinstance(gate_records, list) else ())
        if isinstance(g, dict)
        and isinstance(g.get("notes"), list)
        and any(isinstance(n, str) and n.startswith(PARTIAL_NOTE) for n in g["notes"])
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
