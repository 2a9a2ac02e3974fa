"""Where a key is written in a TOML file, so that a configuration error can name the line.

tomllib keeps no positions, so this reads the text the way a person does: table headers,
then ``key = value`` lines under them. It only ever adds a line number to a message; when
it cannot tell (the key comes from another file, or is written in a form it does not
follow), the message simply names the file.
"""

from __future__ import annotations

import re
from pathlib import Path

# A dotted key at the start of a configuration message: ``tool.platformgates.gates.x.key``.
_MESSAGE_KEY = re.compile(r"^(tool\.platformgates(?:\.[A-Za-z0-9_-]+)*)")
_INDEX = re.compile(r"\[\d+\]")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=(.*)$"""
)


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in dotted.split("."))


def key_line(text: str, dotted: str) -> int | None:
    """The 1-based line where ``dotted`` (e.g. ``tool.platformgates.gates.lint.format``)
    is set or its table begins; None when the text does not show it plainly."""
    target = _parts(_INDEX.sub("", dotted))
    table: tuple[str, ...] = ()
    inline: int | None = None
    in_string = ""
    for number, line in enumerate(text.splitlines(), 1):
        if in_string:  # inside a multi-line string: nothing here is a key
            if line.count(in_string) % 2 == 1:
                in_string = ""
            continue
        stripped = line.strip()
        if stripped.startswith("["):
            header = stripped.lstrip("[").split("]", 1)[0]
            table = _parts(header)
            if table == target:
                return number
            continue
        match = _KEY.match(line)
        if not match:
            continue
        full = table + _parts(match.group(1))
        if full == target:
            return number
        value = match.group(2).strip()
        if inline is None and value.startswith("{") and target[: len(full)] == full:
            inline = number  # an inline table holding the key: the best line there is
        for quote in ('"""', "'''"):
            if value.count(quote) % 2 == 1:
                in_string = quote
    return inline


def locate(path: Path, message: str) -> str:
    """``path:LINE`` for the key a configuration message starts with, else ``path``."""
    match = _MESSAGE_KEY.match(message)
    if not match:
        return str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return str(path)
    line = key_line(text, match.group(1))
    return f"{path}:{line}" if line else str(path)
