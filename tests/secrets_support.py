"""Planted secrets for the secrets gate tests, built at run time.

This repository gates itself with the secrets gate, so no test file may hold a
literal secret: every value here is assembled from pieces and random characters
(seeded, so a failure reproduces), and no source line matches a detector.
"""

from __future__ import annotations

import base64
import json
import random
import string
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
B64 = string.ascii_letters + string.digits + "+/"
HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Planted:
    """A secret value and the detect-secrets type that should report it."""

    value: str
    type: str


class Secrets:
    """A deterministic source of real-looking credentials."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def aws_key(self) -> Planted:
        return Planted("AK" + "IA" + self.chars(UPPER_DIGITS, 16), "AWS Access Key")

    def github_token(self) -> Planted:
        return Planted("gh" + "p_" + self.chars(ALNUM, 36), "GitHub Token")

    def stripe_key(self) -> Planted:
        return Planted("sk" + "_li" + "ve_" + self.chars(ALNUM, 24), "Stripe Access Key")

    def jwt(self) -> Planted:
        def part(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        header = part({"alg": "HS256", "typ": "JWT"})
        payload = part({"sub": self.chars(string.digits, 10), "name": "planted"})
        signature = base64.urlsafe_b64encode(self.rng.randbytes(32)).decode().rstrip("=")
        return Planted(f"{header}.{payload}.{signature}", "JSON Web Token")

    def private_key_lines(self) -> tuple[list[str], Planted]:
        """A PEM block; detect-secrets reports its header line."""
        kind = "RSA " + "PRIVATE" + " KEY"
        body = [self.chars(B64, 64) for _ in range(6)]
        header = "-----" + "BEGIN " + kind + "-----"
        lines = [header, *body, "-----" + "END " + kind + "-----"]
        return lines, Planted("BEGIN " + kind, "Private Key")

    def base64_string(self, n: int = 40) -> Planted:
        return Planted(self.chars(B64, n), "Base64 High Entropy String")

    def hex_string(self, n: int = 32) -> Planted:
        value = self.chars(HEX, n)
        while value.isdigit():  # digits alone lower the hex plugin's entropy
            value = self.chars(HEX, n)
        return Planted(value, "Hex High Entropy String")

    def password(self, n: int = 14) -> Planted:
        # Keyword findings are reported as "Secret Keyword"; the value alone has low entropy.
        return Planted(self.chars(string.ascii_lowercase, n), "Secret Keyword")


#: Plugins an inner run of these tests does not need: leaving them out halves its start-up.
LEAN = ("-p", "no:hypothesispytest", "-p", "no:pytest_cov", "-p", "no:xdist")

#: The keyword detect-secrets looks for, never written whole in this file's source.
PASSWORD = "pass" + "word"


def detect_secrets_cli(args: Sequence[str], cwd: Path) -> dict[str, Any]:
    """Run the real detect-secrets CLI; return its JSON report."""
    proc = subprocess.run(
        [sys.executable, "-m", "detect_secrets", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=_utf8_env(),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _utf8_env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONUTF8": "1"}


def cli_findings(report: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {
        (path, entry["line_number"], entry["type"])
        for path, entries in report["results"].items()
        for entry in entries
    }
