"""The files in scope: one shared inventory per session, every file accounted for.

Git decides what belongs to the project (tracked files plus untracked files it does not
ignore, so a file not yet added is still checked). Outside a repository git still
decides, through a throw-away index, so ``.gitignore`` means the same everywhere.
Every file is read once here: its hash keys the result cache, and anything a gate
could not read (binary, not UTF-8, too large, a broken or escaping link) is
recorded with the reason instead of crashing or vanishing.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .cache import split_checked, verified_body, write_checked
from .process import run_captured

SNIFF_BYTES = 8192
#: Seconds git may take to list the files. Listing is fast; a git that does not answer (an
#: fsmonitor hook that hangs, a stuck network file system) must not hang the test run.
GIT_TIMEOUT = 120.0
#: A file modified this close to the previous scan may have changed again within the
#: file system's timestamp granularity (2 s on FAT): its content is always read again.
RACY_NS = 2_000_000_000


class FileStatus(str, enum.Enum):
    """Whether a gate can read a file, and if not, why."""

    TEXT = "text"
    BINARY = "binary"
    UNDECODABLE = "undecodable"
    TOO_LARGE = "too large"
    UNREADABLE = "unreadable"
    OUTSIDE = "outside the project"
    LINK = "link"


@dataclass(frozen=True)
class InventoryFile:
    """One file in scope. ``path`` is POSIX and relative to the project root."""

    path: str
    status: FileStatus
    size: int = 0
    sha256: str = ""
    detail: str = ""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        name = self.name
        return name[name.rfind(".") :] if "." in name else ""


@dataclass(frozen=True)
class Inventory:
    """The project's files after ``paths``/``exclude``, plus what could not be listed."""

    root: Path
    files: tuple[InventoryFile, ...]
    source: str
    problems: tuple[str, ...] = ()
    excluded: int = 0
    #: ``paths`` entries that match no file git lists: usually a typo, named in reports
    unmatched: tuple[str, ...] = ()

    @cached_property
    def by_path(self) -> dict[str, InventoryFile]:
        return {f.path: f for f in self.files}

    def abspath(self, file: InventoryFile) -> Path:
        return self.root / file.path

    def read_text(self, file: InventoryFile) -> str:
        """The text of a TEXT file (UTF-8, a BOM dropped)."""
        return self.abspath(file).read_bytes().decode("utf-8-sig")

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.status.value] = counts.get(f.status.value, 0) + 1
        return counts

    @classmethod
    def scan(
        cls,
        root: Path,
        *,
        paths: Sequence[str] = (),
        exclude: Sequence[str] = (),
        max_file_size: int = 10 * 1024 * 1024,
        only: Iterable[str] | None = None,
        stats: StatCache | None = None,
    ) -> Inventory:
        """List, filter and read the files of the project rooted at ``root``.

        ``only`` narrows further to these relative paths (changed-files runs). With
        ``stats``, a file whose metadata is unchanged since the last scan is not read
        and hashed again (see :class:`StatCache`).
        """
        root = root.resolve()
        known = stats.load() if stats is not None else {}
        started = time.time_ns()
        seen: dict[str, _Seen] = {}
        try:
            listed, source = _list_files(root)
        except InventoryError as exc:
            return cls(root=root, files=(), source="none", problems=(str(exc),))
        keep = _PathFilter(paths, exclude)
        wanted = set(only) if only is not None else None
        files = []
        excluded = 0
        for rel in sorted(set(listed)):
            if wanted is not None and rel not in wanted:
                continue
            if not keep(rel):
                excluded += 1
                continue
            entry = _inspect(root, rel, max_file_size, known.get(rel), seen, started)
            if entry is not None:
                files.append(entry)
        # A narrowed scan saw only some files: saving would forget the others.
        if stats is not None and only is None and seen != known:
            stats.save(seen)
        matchers = {p: re.compile(glob_to_regex(p, root_relative=True)) for p in paths}
        unmatched = tuple(p for p, rx in matchers.items() if not any(map(rx.match, listed)))
        return cls(
            root=root, files=tuple(files), source=source, excluded=excluded, unmatched=unmatched
        )


@dataclass(frozen=True)
class _Seen:
    """A file's metadata when it was last read, and what reading it concluded."""

    stamp: tuple[int, ...]  # size, mtime_ns, ctime_ns, inode, device
    trusted_before: int  # the scan's start: metadata older than this, less RACY_NS, counts
    file: InventoryFile

    def vouches_for(self, st: os.stat_result) -> bool:
        return stat_stamp(st) == self.stamp and max(st.st_mtime_ns, st.st_ctime_ns) < (
            self.trusted_before - RACY_NS
        )


def stat_stamp(st: os.stat_result) -> tuple[int, ...]:
    """What says a file is as it was: size, mtime, ctime (cannot be set back), inode, device."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class StatCache:
    """What the last scan read, keyed by each file's metadata, as git's index does.

    A file whose size, modification and change times, inode and device are all as
    they were is not read again — unless it was modified within :data:`RACY_NS` of
    that scan, where a second change could hide inside one timestamp (git's "racy
    clean" rule). The change time cannot be set back without privileges, so editing a
    file and restoring its modification time still reads it again. A damaged or
    foreign document is ignored: every file is then read, which is always correct.
    """

    FORMAT = 1

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, _Seen]:
        try:
            header, body = split_checked(self.path.read_bytes())
            if header["format"] != self.FORMAT:
                return {}
            entries = verified_body(header, body)
            return {
                rel: _Seen(
                    tuple(int(x) for x in e["stamp"]),
                    int(e["trusted_before"]),
                    InventoryFile(
                        rel, FileStatus(e["status"]), int(e["size"]), e["sha256"], str(e["detail"])
                    ),
                )
                for rel, e in entries.items()
            }
        except Exception:  # missing or damaged: read every file, never trust it
            return {}

    def save(self, seen: Mapping[str, _Seen]) -> None:
        entries = {
            rel: {
                "stamp": list(s.stamp),
                "trusted_before": s.trusted_before,
                "status": s.file.status.value,
                "size": s.file.size,
                "sha256": s.file.sha256,
                "detail": s.file.detail,
            }
            for rel, s in seen.items()
        }
        with contextlib.suppress(OSError):  # a cache not written costs the next run time only
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_checked(self.path, {"format": self.FORMAT}, entries)


class InventoryError(Exception):
    """The files could not be listed at all."""


def _list_files(root: Path) -> tuple[list[str], str]:
    git = shutil.which("git")
    if git is None:
        raise InventoryError(
            "git is not installed: it decides which files are in scope (tracked plus "
            "unignored files). Install git so the gates can list the project's files."
        )
    inside = _git(git, ["rev-parse", "--is-inside-work-tree"], root)
    if inside.returncode == 0 and inside.stdout.strip() == b"true":
        return _git_ls_files(git, root, ["--cached", "--others", "--exclude-standard"]), "git"
    # Not a repository: ask git anyway, through a throw-away repository, so that
    # .gitignore is honoured by git's own rules rather than an imitation of them.
    with tempfile.TemporaryDirectory(prefix="platformgates-git-") as tmp:
        init = _git(git, ["init", "-q", tmp], root)
        if init.returncode != 0:
            message = init.stderr.decode("utf-8", "replace").strip()
            raise InventoryError(f"git init failed: {message}")
        files = _git_ls_files(
            git,
            root,
            ["--others", "--exclude-standard"],
            env={"GIT_DIR": str(Path(tmp) / ".git"), "GIT_WORK_TREE": str(root)},
        )
    return files, "walk"


def _git(
    git: str, args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run git; one that does not answer within GIT_TIMEOUT is an InventoryError."""
    try:
        return run_captured([git, *args], cwd=cwd, env=env, timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        verb = next((a for a in args if not a.startswith("-") and "=" not in a), "")
        raise InventoryError(
            f"git {verb} did not answer within "
            f"{GIT_TIMEOUT:.0f} s in {cwd}, so the files in scope are unknown: check for a "
            "hanging fsmonitor hook or file system (`git status` there shows the same)"
        ) from None


def _git_ls_files(
    git: str, root: Path, flags: list[str], env: dict[str, str] | None = None
) -> list[str]:
    proc = _git(git, ["-c", "core.quotepath=off", "ls-files", "-z", *flags], root, env)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise InventoryError(f"git ls-files failed in {root}: {message}")
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    # A trailing slash is a nested repository git will not look into.
    return [n for n in names if n and not n.endswith("/")]


def _inspect(
    root: Path,
    rel: str,
    max_size: int,
    known: _Seen | None = None,
    seen: dict[str, _Seen] | None = None,
    started: int = 0,
) -> InventoryFile | None:
    # os.path on strings: a Path per file costs more than the lstat on a warm scan.
    full = os.path.join(root, rel)
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None  # tracked but deleted in the work tree: nothing to check
    except OSError as exc:
        return InventoryFile(rel, FileStatus.UNREADABLE, detail=exc.strerror or str(exc))
    if stat.S_ISLNK(st.st_mode):
        return _inspect_link(root, rel, Path(full))
    if stat.S_ISDIR(st.st_mode):
        return None  # a submodule: its own project
    if not stat.S_ISREG(st.st_mode):
        return InventoryFile(rel, FileStatus.UNREADABLE, detail="not a regular file")
    if st.st_size > max_size:
        return InventoryFile(
            rel,
            FileStatus.TOO_LARGE,
            size=st.st_size,
            detail=f"{st.st_size} bytes, over max_file_size = {max_size}",
        )
    if known is not None and known.vouches_for(st):
        if seen is not None:
            seen[rel] = known
        return known.file
    try:
        data = Path(full).read_bytes()
    except OSError as exc:
        return InventoryFile(rel, FileStatus.UNREADABLE, detail=exc.strerror or str(exc))
    entry = _classify(rel, data)
    if seen is not None and len(data) == st.st_size:
        seen[rel] = _Seen(stat_stamp(st), started, entry)
    return entry


def _classify(rel: str, data: bytes) -> InventoryFile:
    digest = hashlib.sha256(data).hexdigest()
    if b"\0" in data[:SNIFF_BYTES]:
        return InventoryFile(rel, FileStatus.BINARY, len(data), digest, "contains NUL bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InventoryFile(
            rel,
            FileStatus.UNDECODABLE,
            len(data),
            digest,
            f"not UTF-8 (invalid byte at offset {exc.start})",
        )
    return InventoryFile(rel, FileStatus.TEXT, len(data), digest)


def _inspect_link(root: Path, rel: str, full: Path) -> InventoryFile:
    try:
        target = full.resolve(strict=True)
    except RuntimeError:
        return InventoryFile(rel, FileStatus.UNREADABLE, detail="symlink loop")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return InventoryFile(rel, FileStatus.UNREADABLE, detail="symlink loop")
        return InventoryFile(rel, FileStatus.UNREADABLE, detail="broken symlink")
    try:
        inside = target.relative_to(root).as_posix()
    except ValueError:
        return InventoryFile(rel, FileStatus.OUTSIDE, detail=f"symlink to {target}")
    return InventoryFile(rel, FileStatus.LINK, detail=f"symlink to {inside}")


class _PathFilter:
    """``paths`` and ``exclude`` as compiled matchers over POSIX relative paths.

    A pattern matches a path or anything below it, so ``src`` and ``docs/_build``
    name whole directories; ``*`` stays within one path segment and ``**`` spans many;
    as in ``.gitignore``, a pattern without a slash (``*.min.js``) matches at any depth.
    """

    def __init__(self, paths: Sequence[str], exclude: Sequence[str]) -> None:
        # ``paths`` always name places from the root; ``exclude`` reads like .gitignore.
        self._include = _compile(paths, root_relative=True) if paths else None
        self._exclude = _compile(exclude, root_relative=False) if exclude else None

    def __call__(self, rel: str) -> bool:
        if self._include is not None and not self._include.match(rel):
            return False
        return not (self._exclude is not None and self._exclude.match(rel))


def _compile(patterns: Sequence[str], root_relative: bool) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{glob_to_regex(p, root_relative)})" for p in patterns))


def glob_to_regex(pattern: str, root_relative: bool = False) -> str:
    """Translate a gitignore-like glob into a regex matching a path and its descendants."""
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    # As in .gitignore: a pattern without a slash (but a trailing one) matches at any depth.
    anchored = root_relative or "/" in pattern.rstrip("/")
    pattern = pattern.strip("/")
    out = [] if anchored else ["(?:.*/)?"]
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out) + "(?:/.*)?$"
