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
KEYWORD = "pass" + "word"


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


# -- generated trees for the parity checks ----------------------------------------------

#: Pieces of lines that exercise detect-secrets' plugins, filters and their edges:
#: keywords in several spellings (including letters a regex folds to ASCII), quotes,
#: assignments, pragmas, comment styles, templating, and characters around line ends.
KEYWORD_SPELLINGS = (
    KEYWORD,
    KEYWORD.upper(),
    "pa\u017fsword",  # long s: a case-insensitive regex reads it as "s"
    "\u212aey",  # Kelvin sign: read as "k"
    "api_" + "key",
    "db_pass",
    "contrase\u00f1a",
    "se" + "cret",
    "private-key",
    "S\u0130GNING_se" + "cret",  # dotted capital I
)
CONNECTORS = (" = ", "=", ": ", ":=", " => ", " == ", "(", " ", '"]: ', "!=")
DECOR = (
    "",
    " ",
    "\t",
    "  # pragma: allowlist secret",
    " // pragma: allowlist secret",
    " <!-- pragma: whitelist secret -->",
    ",",
    ";",
    ")",
    "  ",
    " # id",
    " \u00e9t\u00e9",
)


def tricky_line(s: Secrets) -> str:
    """One line: a secret-ish value in one of many settings, or plain noise."""
    rng = s.rng
    kind = rng.randrange(13)
    quote = rng.choice(['"', "'", "`", ""])
    if kind == 0:
        value = s.password(rng.randrange(3, 20)).value
    elif kind == 1:
        value = s.base64_string(rng.randrange(18, 44)).value
    elif kind == 2:
        value = s.hex_string(rng.randrange(6, 40)).value
    elif kind == 3:
        value = s.aws_key().value
    elif kind == 4:
        value = s.jwt().value
    elif kind == 5:
        value = rng.choice(["${TOKEN}", "<secret>", "{value}", "$ENV_VAR", "get_secret()"])
    elif kind == 6:
        value = "https://user:" + s.password(10).value + "@example.com/path"
    elif kind == 7:
        value = rng.choice(["AAAAAAAAAAAAAAAAAAAAAAAA", "0123456789abcdef0123", "*******"])
    elif kind == 8:
        value = s.github_token().value
    elif kind == 10:
        # All-distinct strings around the length where entropy can first pass each
        # high-entropy plugin's limit (2**3 for hex, 2**4.5 for base64).
        alphabet, sizes = rng.choice([(HEX + "ABCDEF", (7, 8, 9, 10)), (B64 + "-_=", (21, 22, 23))])
        value = "".join(rng.sample(alphabet, rng.choice(sizes)))
    elif kind == 9:
        return rng.choice(
            [
                "-----" + "BEGIN " + "EC PRIVATE KEY-----",
                "# pragma: allowlist nextline secret",
                "",
                "x = 1",
                "    return value  ",
                "\u2603 snow",
            ]
        )
    else:
        value = s.chars(ALNUM + "+/=-_.", rng.randrange(1, 50))
    keyword = rng.choice(KEYWORD_SPELLINGS) if rng.random() < 0.7 else rng.choice(["id", "name"])
    prefix = rng.choice(["", "    ", "export ", "const ", "self.", '{"', "- "])
    return (
        prefix
        + keyword
        + rng.choice(CONNECTORS)
        + quote
        + value
        + quote
        + rng.choice(DECOR)
        + rng.choice(["", "", " ", "\t"])
    )


#: File names covering detect-secrets' file types (keyword regexes differ per type).
PARITY_NAMES = (
    "app/settings.py",
    "app/types.pyi",
    "web/main.js",
    "svc/main.go",
    "svc/Main.java",
    "native/lib.c",
    "native/lib.cpp",
    "native/App.cs",
    "ios/App.m",
    "infra/main.tf",
    "deploy/values.yaml",
    "deploy/other.yml",
    "conf/app.ini",
    "conf/site.cfg",
    "conf/server.conf",
    "conf/app.properties",
    "conf/tool.toml",
    "notes/readme.md",
    "notes/todo.txt",
    ".env",
    "Dockerfile",
    "scripts/run.sh",
    "data/records.json",
    "templates/page.html",
    "config.example",
)


def tricky_tree(root: Path, seed: int, files: int = 40) -> list[str]:
    """Write a tree of tricky files under ``root``; return their relative paths."""
    s = Secrets(seed)
    written = []
    for i in range(files):
        name = PARITY_NAMES[i % len(PARITY_NAMES)]
        if i >= len(PARITY_NAMES):
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}_{i}.{ext}" if dot and "/" not in ext else f"{name}_{i}"
        lines = [tricky_line(s) for _ in range(s.rng.randrange(1, 30))]
        if name.endswith((".yaml", ".yml")):
            lines = ["root:"] + [f"  k{j}: {line!r}" for j, line in enumerate(lines)]
        elif name.endswith((".ini", ".cfg", ".conf")) and s.rng.random() < 0.7:
            lines = ["[section]"] + [f"k{j} = {line}" for j, line in enumerate(lines)]
        if s.rng.random() < 0.2 and len(lines) > 2:
            lines.insert(s.rng.randrange(len(lines)), lines[0])  # a secret seen twice
        newline = "\r\n" if s.rng.random() < 0.2 else "\n"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
        written.append(name)
    return written
