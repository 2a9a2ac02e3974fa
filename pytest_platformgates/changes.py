"""What changed since a base revision: which files, and which of their lines, as git sees it.

The base (a branch, tag or commit) is resolved to its merge-base with ``HEAD``: the
point where this branch left it, so commits that landed on the base since do not
count as ours. The comparison is with the working tree, so what counts as changed
is what is on disk and what the tests ran: staged and unstaged edits, and untracked
files git does not ignore (all of their lines). Every way git can fail to answer
(not a repository, no commits, an unknown base, no shared history in a shallow
clone) is a :class:`ChangesError` that says what to do, never an empty change set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .process import run_captured

DEFAULT_TIMEOUT = 120.0

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord('"'): ord('"'),
    ord("\\"): ord("\\"),
}


class ChangesError(Exception):
    """Git could not say what changed; the message says why and what to do."""


@dataclass(frozen=True)
class Changes:
    """Files changed since ``base`` and, for each, the line numbers added or modified.

    Paths are POSIX and relative to the directory the changes were computed in.
    Deleted files are not listed: nothing of them is left to check.
    """

    base: str
    commit: str
    lines: Mapping[str, frozenset[int]] = field(default_factory=dict)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(sorted(self.lines))


def changes_since(root: Path, base: str, *, timeout: float = DEFAULT_TIMEOUT) -> Changes:
    """The files and lines under ``root`` that differ from the merge-base of ``base`` and HEAD."""
    commit = merge_base(root, base, timeout=timeout)
    # Fixed prefixes and no external tools: the output is parsed, so the user's
    # diff.noprefix, diff.external, textconv or colour settings must not shape it.
    proc = _git(
        root,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--find-renames",
        "--ignore-submodules",
        "--relative",
        "--unified=0",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        commit,
        "--",
        timeout=timeout,
    )
    lines = parse_diff(proc.stdout)
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard", timeout=timeout)
    for raw in untracked.stdout.split(b"\0"):
        if not raw or raw.endswith(b"/"):
            continue
        rel = os.fsdecode(raw)
        lines[rel] = frozenset(range(1, _count_lines(root / rel) + 1))
    return Changes(base=base, commit=commit, lines=lines)


def merge_base(root: Path, base: str, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The commit where HEAD's history left ``base``."""
    if not base.strip() or base.startswith("-"):
        raise ChangesError(f"base {base!r} is not a valid revision name")
    inside = _git(root, "rev-parse", "--is-inside-work-tree", timeout=timeout, check=False)
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        raise ChangesError(
            f"{root} is not inside a git working tree, so changes since {base!r} cannot be computed"
        )
    head = _rev(root, "HEAD", timeout)
    if head is None:
        raise ChangesError(
            "the repository has no commits yet, so there is no history to compare with "
            f"{base!r}; commit first"
        )
    target = _rev(root, base, timeout)
    if target is None:
        raise ChangesError(
            f"base {base!r} is not a commit in this repository. Fetch it (for example "
            f"`git fetch origin {base.split('/', 1)[-1]}`; CI checkouts are often shallow "
            "or single-branch) or set `base` to a revision that exists"
        )
    proc = _git(root, "merge-base", target, head, timeout=timeout, check=False)
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.decode().strip()
    shallow = _git(root, "rev-parse", "--is-shallow-repository", timeout=timeout, check=False)
    hint = (
        "this is a shallow clone: fetch more history (`git fetch --unshallow`, or "
        "fetch-depth: 0 in CI)"
        if shallow.stdout.strip() == b"true"
        else "the two histories share no commit"
    )
    raise ChangesError(f"no merge-base between {base!r} and HEAD: {hint}")


def file_at(root: Path, commit: str, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The text of ``path`` (relative to ``root``) at ``commit``; None when it did not exist."""
    spec = f"{commit}:./{path}"
    exists = _git(root, "cat-file", "-e", spec, timeout=timeout, check=False)
    if exists.returncode != 0:
        return None
    proc = _git(root, "cat-file", "blob", spec, timeout=timeout)
    return proc.stdout.decode("utf-8", "replace")


def parse_diff(patch: bytes) -> dict[str, frozenset[int]]:
    """Added or modified line numbers per file from ``git diff --unified=0`` output.

    Hunk bodies are consumed by their line counts, so a changed line whose text looks
    like a header (``+++ b/x``) is never taken for one.
    """
    lines: dict[str, set[int]] = {}
    current: str | None = None
    old_left = new_left = 0
    for raw in patch.split(b"\n"):
        if old_left or new_left:
            marker = raw[:1]
            if marker == b"\\":
                continue  # "\ No newline at end of file"
            if marker == b"-" and old_left:
                old_left -= 1
            elif marker == b"+" and new_left:
                new_left -= 1
            elif marker == b" " and old_left and new_left:
                old_left -= 1
                new_left -= 1
            else:
                raise ChangesError(f"unexpected line in git diff output: {raw[:80]!r}")
            continue
        if raw.startswith(b"diff --git "):
            current = None
        elif raw.startswith(b"+++ "):
            current = _diff_path(raw[4:])
            if current is not None:
                lines.setdefault(current, set())
        elif raw.startswith(b"@@ "):
            match = _HUNK.match(raw)
            if match is None:
                raise ChangesError(f"unreadable hunk header in git diff output: {raw[:80]!r}")
            old_left = int(match[2]) if match[2] is not None else 1
            new_left = int(match[4]) if match[4] is not None else 1
            start = int(match[3])
            if current is not None and new_left:
                lines[current].update(range(start, start + new_left))
    return {path: frozenset(found) for path, found in lines.items()}


def _diff_path(raw: bytes) -> str | None:
    # git appends a tab after a name containing a space; /dev/null is a deletion.
    raw = raw[:-1] if raw.endswith(b"\t") else raw
    if raw == b"/dev/null":
        return None
    if raw.startswith(b'"'):
        raw = _unquote(raw)
    if not raw.startswith(b"b/"):
        raise ChangesError(f"unexpected file name in git diff output: {raw[:80]!r}")
    return os.fsdecode(raw[2:])


def _unquote(quoted: bytes) -> bytes:
    """Undo git's C-style quoting of a path (``"a\\tb\\303\\251"``)."""
    body = quoted[1:-1] if quoted.endswith(b'"') and len(quoted) > 1 else quoted[1:]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != ord("\\") or i + 1 >= len(body):
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif body[i + 1 : i + 4].isdigit():
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(nxt)
            i += 2
    return bytes(out)


def _count_lines(path: Path) -> int:
    try:
        data = path.read_bytes()
    except OSError:
        return 0  # a broken link or unreadable file: the inventory reports it
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _rev(root: Path, name: str, timeout: float) -> str | None:
    proc = _git(
        root,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{name}^{{commit}}",
        timeout=timeout,
        check=False,
    )
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _git(
    root: Path, *args: str, timeout: float, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise ChangesError("git is not installed; it is needed to know what changed")
    argv: Sequence[str] = [git, "-c", "core.quotepath=off", *args]
    try:
        proc = run_captured(argv, cwd=root, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ChangesError(f"`git {args[0]}` did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ChangesError(f"git could not be started: {exc}") from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise ChangesError(f"`git {args[0]}` failed in {root}: {message}")
    return proc
