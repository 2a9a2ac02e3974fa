"""Assembling the bundle and publishing it atomically.

Every file is written into a staging directory beside the target as soon as it is
composed (only its digest is kept), and the directory is only then swapped in by
renames: a reader (``verify``) sees the previous complete bundle, no bundle, or the
new complete bundle, never half of one. The statement covers the reports by digest,
the envelope covers the statement by signature, the manifest covers everything by
digest.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import dsse, html, manifest, metrics, sarif, statement
from .run import EvidenceRun

JUNIT = "junit.xml"
SARIF = "findings.sarif"
STATEMENT = "evidence.json"
ENVELOPE = "evidence.intoto.jsonl"
HTML = "report.html"
METRICS = "metrics.prom"
MANIFEST = manifest.NAME
# Files platformgates writes itself; gate-provided artifacts must not take these names.
RESERVED = frozenset({JUNIT, SARIF, STATEMENT, ENVELOPE, HTML, METRICS, MANIFEST})
REQUIRED = RESERVED
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
STAGING_MARK = ".partial-"
OLD_MARK = ".old-"


class EvidenceError(Exception):
    """The bundle cannot be written as asked; the message says why and what to do."""


def artifacts(run: EvidenceRun) -> dict[str, tuple[str, str]]:
    """Files the gates handed over, by name: (gate, text). Names are checked, not trusted."""
    out: dict[str, tuple[str, str]] = {}
    for record in run.records:
        for name, text in sorted(record.get("artifacts", {}).items()):
            if not ARTIFACT_NAME.fullmatch(name) or name in RESERVED:
                raise EvidenceError(
                    f"gate {record['gate']!r} handed over an artifact named {name!r}; "
                    f"names are plain file names other than {', '.join(sorted(RESERVED))}"
                )
            if name in out:
                raise EvidenceError(
                    f"gates {out[name][0]!r} and {record['gate']!r} both provide {name!r}"
                )
            out[name] = (record["gate"], str(text))
    return out


def compose(
    run: EvidenceRun,
    junit: bytes | None,
    signer: dsse.Signer | None,
    unsigned_reason: str = f"no signing key: {dsse.KEY_VARIABLE} is not set",
) -> dict[str, bytes]:
    """Every file of the bundle, by name, in memory (:func:`publish` writes them as made)."""
    files: dict[str, bytes] = {}
    _compose(run, artifacts(run), junit, signer, unsigned_reason, files.__setitem__)
    return files


def publish(
    target: Path,
    root: Path,
    run: EvidenceRun,
    junit: bytes | None,
    signer: dsse.Signer | None,
    unsigned_reason: str = f"no signing key: {dsse.KEY_VARIABLE} is not set",
) -> list[str]:
    """Compose the bundle into the staging directory a file at a time, then swap it in;
    return the names of the files written.

    Each file is written as soon as it is made and only its digest is kept: at 45,000
    findings the SARIF log, the statement and its envelope are 80 MB, and holding them
    all at once was the high-water mark of a whole run.
    """
    check_target(target, root)
    provided = artifacts(run)
    names = set(RESERVED) | set(provided)
    if junit is None:
        names.discard(JUNIT)
    staging = _staging(target, names)
    written: list[str] = []

    def emit(name: str, data: bytes) -> None:
        # No fsync: a file torn by a crash or power loss fails verify on its digest,
        # and a flush per file cost ~10 ms each, paid by every gated run.
        (staging / name).write_bytes(data)
        written.append(name)

    _compose(run, provided, junit, signer, unsigned_reason, emit)
    _swap(target, staging)
    return sorted(written)


def _compose(
    run: EvidenceRun,
    provided: Mapping[str, tuple[str, str]],
    junit: bytes | None,
    signer: dsse.Signer | None,
    unsigned_reason: str,
    emit: Callable[[str, bytes], object],
) -> None:
    """Make every file of the bundle and hand each to ``emit`` as soon as it is made;
    ``provided`` are the gates' artifacts (:func:`artifacts`)."""
    digests: dict[str, str] = {}

    def add(name: str, data: bytes) -> None:
        digests[name] = statement.sha256(data)
        emit(name, data)

    if junit is not None:
        add(JUNIT, junit)
    for name, (_gate, text) in provided.items():
        add(name, text.encode("utf-8", "surrogateescape"))
    add(SARIF, sarif.render(run))
    add(METRICS, metrics.render(run))
    add(HTML, html.render(run, {name: text for name, (_gate, text) in provided.items()}))
    signature: dict[str, Any]
    if signer is None:
        signature = {"signed": False, "reason": unsigned_reason}
    else:
        signature = {
            "signed": True,
            "algorithm": "ed25519",
            "keyid": signer.keyid,
            "public_key": signer.public_key_b64,
        }
    provided_digests = {name: (gate, digests[name]) for name, (gate, _t) in provided.items()}
    payload = statement.render(run, dict(digests), provided_digests, signature)
    add(STATEMENT, payload)
    add(ENVELOPE, dsse.envelope(payload, signer))
    del payload
    emit(MANIFEST, manifest.render_digests(digests))


def staging_dir(target: Path) -> Path:
    """Where this process builds its bundle: beside the target, so the rename is atomic."""
    return target.parent / f".{target.name}{STAGING_MARK}{os.getpid()}"


def check_target(target: Path, root: Path) -> None:
    """Refuse a target we must not replace: the project itself or a directory of other files."""
    resolved = target.resolve()
    if resolved == root.resolve() or resolved in root.resolve().parents:
        raise EvidenceError(
            f"evidence_dir {target} is the project root or above it; "
            "give it a directory of its own, e.g. evidence_dir = 'gate-evidence'"
        )
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise EvidenceError(f"evidence_dir {target} exists and is not a directory")
    if target.is_dir():
        names = {p.name for p in target.iterdir()}
        known = set(RESERVED)
        with contextlib.suppress(OSError, ValueError):
            known |= set(manifest.parse((target / MANIFEST).read_bytes()))
        strangers = sorted(
            n
            for n in names
            if n not in known or (target / n).is_symlink() or not (target / n).is_file()
        )
        if strangers:
            raise EvidenceError(
                f"evidence_dir {target} holds files that are not evidence "
                f"({', '.join(strangers[:5])}); refusing to replace it. "
                "Point evidence_dir at a directory of its own."
            )


def write(target: Path, root: Path, files: Mapping[str, bytes]) -> None:
    """Publish ``files`` as the directory ``target``, replacing a previous bundle atomically."""
    check_target(target, root)
    staging = _staging(target, set(files))
    for name, data in files.items():
        (staging / name).write_bytes(data)  # no fsync, as in publish()
    _swap(target, staging)


def _staging(target: Path, names: set[str]) -> Path:
    """The staging directory, holding nothing but files named ``names`` (junit.xml may
    already be there: pytest's junitxml writes it there when the plugin chose the path)."""
    staging = staging_dir(target)
    staging.mkdir(parents=True, exist_ok=True)
    for stray in staging.iterdir():
        if stray.name not in names:
            _remove(stray)
    return staging


def _swap(target: Path, staging: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}{OLD_MARK}{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(target, old)
    os.rename(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def discard_staging(target: Path) -> None:
    staging = staging_dir(target)
    if staging.exists():
        _remove(staging)


def sweep(target: Path) -> None:
    """Remove staging and replaced directories left by runs that were killed."""
    if not target.parent.is_dir():
        return
    for mark in (STAGING_MARK, OLD_MARK):
        for path in target.parent.glob(f".{target.name}{mark}*"):
            pid = path.name[len(f".{target.name}{mark}") :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                _remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
