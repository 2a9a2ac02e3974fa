"""What text read from the project, its configuration or its command line an output may repeat.

A secret's value must reach no output (``docs/security.md``): not the terminal, JUnit,
SARIF, the statement, the HTML report, the result cache. Gates quote what they read
(ruff names an undefined name, a requirements file's URL, a command-line argument), so
everything quoted from outside passes through here first:

- :func:`url_credentials` masks the user information of every URL in a text
  (``user:token@`` after ``https://`` becomes ``***@``), up to the *last* ``@`` before the
  host, as pip and urllib split it: a password may itself hold an ``@``.
- :func:`source_text` masks what a tool's message quotes from the source: string
  literals, whatever their quotes, and any token shaped like a credential — the names
  and literal contents a tool prints without quotes (an AWS key written without its
  quotes is an undefined *name* to ruff). The shapes are those of the tokens
  detect-secrets' regex plugins find (mixed letters and digits, long upper-case base32,
  long random base62); ordinary names in messages (``os``, ``collections.abc``,
  ``test_rfc3339_dates``) stay readable.
- :func:`shown` spells out what a terminal would act on (escape sequences, carriage
  returns), for the terminal report and ``platformgates verify``.
- :func:`shell_word` quotes a file name for a command a hint tells a person to paste.
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

MASK = "…"
# The authority's user information: everything up to the last "@" before the host's
# path, query or fragment (urllib.parse splits netloc at the last "@" too).
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")
#: A string literal as a tool quotes it: an opening quote not preceded by a letter (so
#: "doesn't" is no literal), any string prefix (r, b, u, f, t and their pairs).
QUOTED_LITERAL = re.compile(r"""(?<![A-Za-z])([rRbBuUfFtT]{0,2})(["'])(?:\\.|(?!\2).)+\2""")
# A run of characters a token may be made of (base64 and URL-safe base64, identifiers,
# dotted names); it is judged by the parts between its separators.
_TOKEN = re.compile(r"[A-Za-z0-9_.+/=-]{12,}")
_SEPARATORS = re.compile(r"[_.+/=-]+")


def url_credentials(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``."""
    return _USERINFO.sub("***@", text) if "://" in text else text


def scrub(text: str, *urls: str) -> str:
    """``text`` with URL credentials masked, and those of ``urls`` wherever they appear.

    For the messages of tools given a URL with credentials: an error may quote its
    network location without the scheme (``nonnumeric port: 'token@host'``).
    """
    text = url_credentials(text)
    for url in urls:
        info = urlsplit(url).netloc.rpartition("@")[0]
        for part in (info, info.partition(":")[2]):
            if len(part) >= 4:  # a short one would mask ordinary words, and guards little
                text = text.replace(part, "***")
    return text


def credential_like(token: str) -> bool:
    """Whether ``token`` (one run of letters, digits and ``_.+/=-``) may be a credential."""
    whole = token.replace("=", "")
    # detect-secrets' own limit for base64 strings; CamelCase names never change case so often.
    if len(whole) >= 20 and _entropy(whole) > 4.5 and _random_case(whole):
        return True
    for part in _SEPARATORS.split(token):
        if len(part) < 12:
            continue
        digits = sum(c.isdigit() for c in part)
        letters = len(part) - digits
        if digits >= 2 and letters >= 2:  # AKIA…, ghp_…, sk_live_…, hex digests
            return True
        if len(part) >= 16 and not any(c.islower() for c in part):  # base32, upper case
            return True
        if len(part) >= 16 and digits and not part.isupper() and not part.islower():
            return True  # base62 with a single digit
        if len(part) >= 20 and _random_case(part):
            return True  # base62 without one: its case changes as often as chance has it
    return False


def source_text(message: str) -> str:
    """A tool's ``message`` with nothing in it that could be a secret from the source."""
    message = QUOTED_LITERAL.sub(rf"\1\2{MASK}\2", message)
    message = _TOKEN.sub(lambda m: MASK if credential_like(m.group()) else m.group(), message)
    return url_credentials(message)


def masked(data: Any) -> Any:
    """``data`` (plain JSON-like values) with :func:`url_credentials` applied to each string."""
    if isinstance(data, str):
        return url_credentials(data)
    if isinstance(data, Mapping):
        return {key: masked(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [masked(value) for value in data]
    return data


def _random_case(text: str) -> bool:
    """Letters change case as often as chance would have it, not once a word (CamelCase)."""
    letters = [c.isupper() for c in text if c.isalpha()]
    flips = sum(a != b for a, b in itertools.pairwise(letters))
    return flips > 0.4 * max(len(letters) - 1, 1)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def shown(text: object) -> str:
    """``text`` with every character a terminal would act on spelt out as an escape.

    File names, tools' messages (ruff quotes the bytes it cannot parse), problems and
    waiver fields come from the project: an escape sequence in one could clear the
    screen or recolour a line, a carriage return overwrite a FAILED line with PASSED.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def shown_lines(text: object) -> list[str]:
    """``text``'s lines, each :func:`shown`: a multi-line note or problem keeps its lines
    (a command's output tail) while what a terminal would act on in them is spelt out."""
    return [shown(line) for line in str(text).splitlines()] or [""]


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8 (a surrogate escape)
        return f"\\x{code - 0xDC00:02x}"
    return repr(char)[1:-1]  # \x1b, \r, \u202e (a bidirectional override)


def shell_word(path: str) -> str:
    """``path`` as one word of a command a person pastes into a shell: quoted if it must
    be (a name may hold ``;`` or ``$(...)``), never read as an option."""
    return shlex.quote(f"./{path}" if path.startswith("-") else path)
