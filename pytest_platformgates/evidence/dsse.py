"""``evidence.intoto.jsonl``: the statement in a DSSE envelope, signed with Ed25519.

DSSE signs ``PAE(payloadType, payload)`` (the pre-authentication encoding), so the
signature binds the type as well as the bytes. The configuration names where the
private key comes from (``signing_key``, default ``env:PLATFORMGATES_SIGNING_KEY``: a
variable holding PEM text or a path, or ``file:PATH`` outside the project); the key
itself is never in committed configuration. Without a key the envelope carries no
signature and the statement says so; ``platformgates verify`` refuses such a bundle
in CI. A key that is set but unusable is an error, never a silent unsigned bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

# cryptography is imported where a key is read: an unsigned run (the default) does not pay
# for it. A session with pytester imports it up front (activation.py): an in-process run's
# sys.modules restore would re-create its exception classes, which its Rust code keeps.

PAYLOAD_TYPE = "application/vnd.in-toto+json"
KEY_VARIABLE = "PLATFORMGATES_SIGNING_KEY"


class SigningKeyError(Exception):
    """A signing or verification key that is set but cannot be used."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public: Ed25519PublicKey) -> str:
    """sha256 of the raw 32-byte public key, hex: names the key without revealing anything."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    source: str

    @property
    def keyid(self) -> str:
        return key_id(self.private.public_key())

    @property
    def public_key_b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def sign(self, payload: bytes) -> bytes:
        return self.private.sign(pae(PAYLOAD_TYPE, payload))


def _pem(value: str, what: str, *, from_variable: bool = False) -> tuple[bytes, str]:
    """The PEM bytes ``value`` holds or names.

    A variable may hold the PEM text (newlines escaped or not, quoted as ``.env`` files
    keep it), its base64 (GitLab's masked variables cannot hold newlines) or a path. What
    a variable holds is never repeated in a message: it may be the key.
    """
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    if value.startswith("-----BEGIN"):
        if "\n" not in value:  # a CI secret stored on one line, newlines escaped
            value = value.replace("\\n", "\n")
        return value.encode("ascii", "replace"), f"{what} (PEM text)"
    if from_variable and value.startswith("LS0tLS1CRUdJTi"):  # base64 of "-----BEGIN"
        try:
            return base64.b64decode("".join(value.split()), validate=True), f"{what} (base64)"
        except ValueError:
            raise SigningKeyError(
                f"{what} starts like base64 of a PEM key but does not decode as base64 "
                "(the value is not shown: it may be the key)"
            ) from None
    path = Path(os.path.expanduser(value))
    try:
        return path.read_bytes(), f"{what} ({'a file' if from_variable else path})"
    except (OSError, ValueError) as exc:
        if from_variable:
            reason = exc.strerror if isinstance(exc, OSError) else "not a path"
            raise SigningKeyError(
                f"{what} holds neither PEM text, its base64, nor the path of a readable "
                f"file ({reason}; the value is not shown: it may be the key)"
            ) from None
        raise SigningKeyError(f"{what}: cannot read the key file {path}: {exc}") from None


def signer_from_environment(environ: Mapping[str, str] | None = None) -> Signer | None:
    """The key in ``PLATFORMGATES_SIGNING_KEY``; None when it is not set."""
    return signer_from_setting(f"env:{KEY_VARIABLE}", Path.cwd(), environ)


def signer_from_setting(
    spec: str, root: Path, environ: Mapping[str, str] | None = None
) -> Signer | None:
    """The key the ``signing_key`` setting names; None when its variable is not set.

    ``env:NAME``: the variable holds PEM text or a path; unset or empty means unsigned.
    ``file:PATH``: a PEM file outside the project (a key inside it could be committed);
    a named file that is missing is an error, never an unsigned bundle.
    """
    kind, _, name = spec.partition(":")
    if kind == "env" and name:
        env = os.environ if environ is None else environ
        value = env.get(name, "")
        if not value.strip():
            return None
        data, source = _pem(value, name, from_variable=True)
    elif kind == "file" and name:
        path = Path(os.path.expanduser(name))
        path = path if path.is_absolute() else root / path
        if path.resolve().is_relative_to(root.resolve()):
            raise SigningKeyError(
                f"signing_key = {spec!r} is inside the project, where a private key could "
                "be committed; keep it outside (e.g. in the CI runner's temp directory)"
            )
        data, source = _pem(str(path), "signing_key")
    else:
        raise SigningKeyError(
            f"signing_key = {spec!r}: write env:NAME (a variable holding the key or its "
            "path) or file:PATH"
        )
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(
            f"{source}: the key is encrypted; give an unencrypted Ed25519 key "
            "(keep it in the CI secret store, not on disk)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{source}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{source}: the key is {type(key).__name__}, not Ed25519")
    return Signer(key, source)


def unsigned_reason(spec: str) -> str:
    kind, _, name = spec.partition(":")
    return f"no signing key: {name} is not set" if kind == "env" else f"no signing key ({spec})"


def load_public_key(value: str) -> Ed25519PublicKey:
    """A public key from PEM text or a PEM file (a private key's public half is accepted)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data, source = _pem(value, "verification key")
    try:
        key: Any = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
            raise SigningKeyError(f"{source}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{source}: the key is {type(key).__name__}, not Ed25519")
    return key


def public_key_from_b64(value: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(value, validate=True))
    except ValueError as exc:
        raise SigningKeyError(f"not a raw Ed25519 public key: {exc}") from None


def envelope(payload: bytes, signer: Signer | None) -> bytes:
    """One JSON line: the DSSE envelope of ``payload``, signed when there is a key."""
    signatures = []
    if signer is not None:
        signatures.append(
            {"keyid": signer.keyid, "sig": base64.b64encode(signer.sign(payload)).decode()}
        )
    # canonical({"payload": ..., "payloadType": ..., "signatures": ...}) assembled from
    # its parts: base64 needs no escaping, and the statement's payload is not copied
    # through a str twice (at 45,000 findings the envelope was 29 MB of each).
    rest = canonical({"payloadType": PAYLOAD_TYPE, "signatures": signatures})
    return b'{"payload":"' + base64.b64encode(payload) + b'",' + rest[1:] + b"\n"


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def read_envelope(data: bytes) -> dict[str, Any]:
    """Parse an envelope file, insisting on the exact bytes we write (no silent edits).

    Exactly what :func:`envelope` writes: the three keys, a base64 payload, and
    signatures that are ``{"keyid", "sig"}`` objects of strings with ``sig`` in canonical
    base64. Anything else (a junk entry, an extra field, a ``sig`` re-encoded with other
    padding bits that decodes to the same bytes) changed the file after it was written.
    """
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"payload", "payloadType", "signatures"}:
        raise ValueError("not a DSSE envelope (payload, payloadType, signatures)")
    if canonical(doc) + b"\n" != data:
        raise ValueError("not in the canonical form platformgates writes: the file was edited")
    if doc["payloadType"] != PAYLOAD_TYPE:
        raise ValueError(f"payloadType is {doc['payloadType']!r}, not {PAYLOAD_TYPE!r}")
    _canonical_base64(doc["payload"], "payload")
    signatures = doc["signatures"]
    if not isinstance(signatures, list):
        raise ValueError("signatures is not an array: the file was edited")
    for index, entry in enumerate(signatures):
        what = f"signature {index}"
        if not isinstance(entry, dict) or set(entry) != {"keyid", "sig"}:
            raise ValueError(f"{what} is not a {{keyid, sig}} object: the file was edited")
        if not isinstance(entry["keyid"], str):
            raise ValueError(f"{what}: keyid is not a string: the file was edited")
        _canonical_base64(entry["sig"], what)
    return doc


def _canonical_base64(value: Any, what: str) -> bytes:
    """``value`` decoded, when it is base64 exactly as b64encode writes it; else ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        decoded = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{what} is not base64: {exc}") from None
    # b64decode ignores the unused low bits of the last character: two strings, one value.
    if base64.b64encode(decoded).decode("ascii") != value:
        raise ValueError(f"{what} is not in canonical base64: the file was edited")
    return decoded


def payload(doc: Mapping[str, Any]) -> bytes:
    return _canonical_base64(doc["payload"], "payload")


def check_signature(doc: Mapping[str, Any], public: Ed25519PublicKey) -> str:
    """Return the key id whose signature verifies; raise ValueError otherwise."""
    from cryptography.exceptions import InvalidSignature

    wanted = key_id(public)
    body = pae(PAYLOAD_TYPE, payload(doc))
    signatures = doc["signatures"]
    if not signatures:
        raise ValueError("the envelope is not signed")
    for entry in signatures:
        if not isinstance(entry, dict) or entry.get("keyid") != wanted:
            continue
        try:
            public.verify(_canonical_base64(entry.get("sig"), "sig"), body)
        except (InvalidSignature, ValueError):
            raise ValueError(f"the signature by key {wanted[:16]} does not verify") from None
        return wanted
    ids = ", ".join(str(e.get("keyid", "?"))[:16] for e in signatures if isinstance(e, dict))
    raise ValueError(f"no signature by key {wanted[:16]} (signed by: {ids or 'nobody'})")
