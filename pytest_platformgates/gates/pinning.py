"""The pinning gate: every build input names exactly one artefact.

Requirement and constraint files (pip's format, ``-r``/``-c`` includes followed),
PEP 751 lock files (``pylock.toml``) and ``[build-system] requires`` are read as
pip and installers read them. A requirement is pinned when it names one version
(``==`` without a wildcard, or ``===``), one archive by hash, or one VCS commit;
anything that lets a later build pick something else is a finding at its file
and line. A line pip would reject is a critical finding: it cannot be judged.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .. import redaction
from ..config import ConfigError, Option
from ..gate import Gate, GateContext
from ..hookspecs import hookimpl
from ..inventory import FileStatus, InventoryFile, glob_to_regex
from ..model import Analysis, Finding, Severity, with_fingerprints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_FILES = [
    "*requirements*.txt",
    "**/requirements/*.txt",
    "*constraints*.txt",
    "pylock.toml",
    "pylock.*.toml",
]

#: Hash algorithms pip accepts in hash-checking mode (``--hash`` and URL fragments).
STRONG_HASHES = {"sha256": 64, "sha384": 96, "sha512": 128}
#: Algorithms a PEP 751 lock may name; anything weaker is a finding.
VCS_SCHEMES = ("git", "hg", "svn", "bzr")
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".zip")
FULL_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")

# pip options that may appear on their own line, and whether they take a value.
GLOBAL_OPTIONS: Mapping[str, bool] = {
    "-i": True,
    "--index-url": True,
    "--extra-index-url": True,
    "--no-index": False,
    "-f": True,
    "--find-links": True,
    "--pre": False,
    "--trusted-host": True,
    "--prefer-binary": False,
    "--only-binary": True,
    "--no-binary": True,
    "--use-feature": True,
    "--require-hashes": False,
}
# pip options allowed after a requirement on the same line.
LINE_OPTIONS: Mapping[str, bool] = {
    "--hash": True,
    "--config-settings": True,
    "--global-option": True,
    "--install-option": True,
}
INCLUDE_OPTIONS = {"-r": "requirement", "--requirement": "requirement"} | {
    "-c": "constraint",
    "--constraint": "constraint",
}


class PinningGate(Gate):
    name = "pinning"
    description = "requirement files, lock files and build requirements pin exact artefacts"
    options = (
        Option(
            "files",
            "list[str]",
            DEFAULT_FILES,
            "Requirement, constraint and PEP 751 lock files to check: glob patterns over the "
            "files in scope (a pattern without a slash matches at any depth). When set, a "
            "pattern without glob characters must name an existing file.",
        ),
        Option(
            "require_hashes",
            "bool",
            False,
            "Also require a --hash on every requirement (pip's hash-checking mode) and a hash "
            "on every lock-file artefact; local directories and VCS checkouts then fail.",
        ),
        Option(
            "build_system",
            "bool",
            True,
            "Check `[build-system] requires` of the project's pyproject.toml files: the build "
            "backend is a build input too.",
        ),
        Option("severity", "severity", "high", "Severity of an unpinned build input."),
    )

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        for pattern in values["files"]:
            if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
                raise ConfigError(
                    f"{where}.files: {pattern!r} must be relative to the project root"
                )

    def check(self, ctx: GateContext) -> Analysis:
        inventory = ctx.inventory
        if inventory.problems:
            return Analysis(problems=inventory.problems)
        patterns = ctx.settings["files"]
        matcher = re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in patterns))
        selected = [f for f in inventory.files if matcher.match(f.path)] if patterns else []
        # A file the project names itself must exist: a typo must not drop it unnoticed.
        named = [p for p in patterns if not _is_glob(p)] if patterns != DEFAULT_FILES else []
        problems = [
            f"files: {p!r} names no file in scope; fix the name, or remove it"
            for p in named
            if not any(re.match(glob_to_regex(p), f.path) for f in selected)
        ]
        pyprojects: list[InventoryFile] = []
        if ctx.settings["build_system"]:
            pyprojects = [f for f in inventory.files if f.name == "pyproject.toml"]
            if (
                "pyproject.toml" not in inventory.by_path
                and (ctx.root / "pyproject.toml").is_file()
            ):
                # The project's own pyproject is a build input even when `paths` omits it.
                pyprojects.insert(0, InventoryFile("pyproject.toml", FileStatus.TEXT))
        if not selected and not pyprojects:
            problems.append(
                f"nothing to check: no file in scope matches {', '.join(patterns) or '(none)'}"
                + (" and there is no pyproject.toml" if ctx.settings["build_system"] else "")
                + ". Point `files` at the project's requirement or lock files, or set "
                "`enabled = false` for the pinning gate if the project has no build inputs."
            )
        if problems:
            return Analysis(problems=tuple(problems))
        # Build inputs beside pyproject.toml that `paths`/`exclude` leave out: say so.
        unchecked = sorted(
            p.name
            for p in ctx.root.iterdir()
            if patterns
            and p.is_file()
            and matcher.match(p.name)
            and p.name not in inventory.by_path
        )
        if unchecked:
            listed = ", ".join(unchecked)
            ctx.notes.append(f"not checked, outside `paths`/`exclude` or ignored by git: {listed}")

        checker = _Checker(
            root=ctx.root,
            severity=Severity.parse(ctx.settings["severity"]),
            require_hashes=ctx.settings["require_hashes"],
        )
        requirement_files = []
        for f in selected:
            if f.status is not FileStatus.TEXT:
                if f.status is not FileStatus.LINK:
                    checker.add(f.path, 0, "unscannable-file", f"cannot be read: {f.status.value}")
            elif f.name.startswith("pylock.") and f.name.endswith(".toml"):
                checker.lock_file(f.path)
            else:
                requirement_files.append(f.path)
        # Constraint files (named so, or included with -c) only pin: pip wants no hashes there.
        roots = [p for p in requirement_files if "constraints" not in p.rsplit("/", 1)[-1]]
        for path in roots:
            checker.requirements_root(path, hashes_apply=True)
        for path in requirement_files:
            if path not in roots or path in checker.constraint_files:
                checker.requirements_root(path, hashes_apply=False)
        for f in pyprojects:
            if f.status is FileStatus.TEXT:
                checker.build_system(f.path)
            elif f.status is not FileStatus.LINK:
                checker.add(f.path, 0, "unscannable-file", f"cannot be read: {f.status.value}")

        findings = []
        for path, file_findings in checker.by_file().items():
            lines = checker.lines.get(path, [])
            findings.extend(with_fingerprints(file_findings, lines))
        figures: dict[str, int | float | str] = {
            "files_read": len(checker.lines),
            "requirements_checked": checker.checked,
            "unpinned": sum(1 for f in findings if f.severity is not Severity.CRITICAL),
        }
        return Analysis(findings=tuple(findings), figures=figures, notes=tuple(ctx.notes))


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


@dataclass
class _Checker:
    """Reads build inputs and collects findings per file, each file read at most once."""

    root: Path
    severity: Severity
    require_hashes: bool
    lines: dict[str, list[str]] = field(default_factory=dict)
    findings: dict[tuple[str, int, str], Finding] = field(default_factory=dict)
    constraint_files: set[str] = field(default_factory=set)
    checked: int = 0

    def add(
        self,
        path: str,
        line: int,
        rule: str,
        message: str,
        hint: str = "",
        severity: Severity | None = None,
    ) -> None:
        # One finding per (file, line, rule): a file included twice reports once.
        key = (path, line, rule)
        if key not in self.findings:
            self.findings[key] = Finding(
                gate=PinningGate.name,
                rule=rule,
                severity=severity or (Severity.CRITICAL if rule in _BROKEN else self.severity),
                path=path,
                line=line,
                message=message,
                hint=hint,
            )

    def by_file(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings.values():
            out.setdefault(f.path, []).append(f)
        return out

    def read(self, path: str) -> list[str] | None:
        if path not in self.lines:
            try:
                text = (self.root / path).read_bytes().decode("utf-8-sig")
            except FileNotFoundError:
                return None
            except (OSError, UnicodeDecodeError) as exc:
                self.lines[path] = []
                self.add(path, 0, "unscannable-file", f"cannot be read: {exc}")
                return []
            self.lines[path] = text.splitlines()
        return self.lines[path]

    # -- requirement files -------------------------------------------------------------

    def requirements_root(self, path: str, hashes_apply: bool) -> None:
        """Check ``path`` as ``pip install -r path`` would read it, includes and all."""
        session = _Session()
        self._requirements(path, session, kind="requirement", stack=())
        pinned_by_constraint = {
            key: where for key, (where, pinned) in session.constraints.items() if pinned
        }
        hash_mode = hashes_apply and (self.require_hashes or session.hash_mode)
        for req in session.requirements:
            self.checked += 1
            problem = req.problem
            if problem and problem[0] == "unpinned" and req.key in pinned_by_constraint:
                problem = None  # `-c` pins it for this install
            if problem:
                rule, message, hint = problem
                self.add(req.path, req.line, rule, message, hint)
            if hash_mode and not req.hashes:
                why = (
                    "require_hashes is set"
                    if self.require_hashes
                    else f"pip's hash-checking mode is on for {path} (other requirements "
                    "have hashes, or --require-hashes is given), so pip will refuse it"
                )
                if req.unhashable:
                    message = f"{req.display}: {req.unhashable}, and {why}"
                    hint = "install it from a pinned archive with a --hash instead"
                else:
                    message = f"{req.display} has no --hash, and {why}"
                    hint = "generate hashes, e.g. `pip-compile --generate-hashes`"
                self.add(req.path, req.line, "missing-hash", message, hint)

    def _requirements(
        self, path: str, session: _Session, kind: str, stack: tuple[str, ...]
    ) -> None:
        lines = self.read(path)
        if lines is None or path in stack:
            return
        for number, text in _logical_lines(lines):
            self._line(path, number, text, session, kind, (*stack, path))

    def _line(
        self,
        path: str,
        number: int,
        text: str,
        session: _Session,
        kind: str,
        stack: tuple[str, ...],
    ) -> None:
        if text.startswith("-"):
            try:
                option, value = _split_option(text)
            except ValueError as exc:
                self.add(path, number, "invalid-requirement", f"pip cannot read this line: {exc}")
                return
            if option in INCLUDE_OPTIONS:
                self._include(path, number, value, session, INCLUDE_OPTIONS[option], stack)
            elif option in ("-e", "--editable"):
                self._requirement(path, number, value, [], session, kind, editable=True)
            elif option == "--require-hashes":
                session.hash_mode = True
            elif option not in GLOBAL_OPTIONS:
                self.add(path, number, "invalid-requirement", f"unknown pip option {option}")
            return
        spec, options = _break_args_options(text)
        try:
            hashes = _line_hashes(options)
        except ValueError as exc:
            self.add(path, number, "invalid-requirement", f"pip cannot read this line: {exc}")
            return
        for algorithm, digest in hashes:
            if STRONG_HASHES.get(algorithm) != len(digest) or not _is_hex(digest):
                self.add(
                    path,
                    number,
                    "weak-hash",
                    f"--hash={algorithm}:{digest[:12]}... is not a sha256, sha384 or sha512 "
                    "hex digest; pip rejects it in hash-checking mode",
                )
        if hashes and kind == "requirement":
            session.hash_mode = True
        self._requirement(path, number, spec, hashes, session, kind, editable=False)

    def _include(
        self,
        path: str,
        number: int,
        target: str,
        session: _Session,
        kind: str,
        stack: tuple[str, ...],
    ) -> None:
        if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE):
            self.add(
                path,
                number,
                "remote-include",
                f"includes {redaction.url_credentials(target)}: a file fetched at install "
                "time is not a pinned input",
                "vendor the file into the repository",
            )
            return
        resolved = (self.root / path).parent / target
        try:
            rel = resolved.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            self.add(
                path,
                number,
                "missing-include",
                f"includes {redaction.url_credentials(target)}, which is outside the project "
                "and cannot be checked",
            )
            return
        if self.read(rel) is None:
            shown = redaction.url_credentials(target)
            self.add(path, number, "missing-include", f"includes {shown}, which does not exist")
            return
        if kind == "constraint":
            self.constraint_files.add(rel)
        self._requirements(rel, session, kind, stack)

    def _requirement(
        self,
        path: str,
        number: int,
        spec: str,
        hashes: list[tuple[str, str]],
        session: _Session,
        kind: str,
        editable: bool,
    ) -> None:
        parsed = _parse_spec(spec, editable)
        if isinstance(parsed, str):
            self.add(path, number, "invalid-requirement", parsed)
            return
        name, display, problem, unhashable = _judge(parsed, hashes, editable)
        key = canonicalize_name(name) if name else display
        if kind == "constraint":
            # A constraint only counts as a pin for the requirements it constrains.
            session.constraints.setdefault(key, (f"{path}:{number}", problem is None))
            if problem and problem[0] != "unpinned":
                self.add(path, number, *problem)
            return
        session.requirements.append(
            _Req(path, number, key, display, problem, bool(hashes), unhashable)
        )

    # -- PEP 751 lock files ----------------------------------------------------------

    def lock_file(self, path: str) -> None:
        lines = self.read(path)
        if lines is None:
            self.add(path, 0, "unscannable-file", "the file vanished while the gate ran")
            return
        try:
            data = tomllib.loads("\n".join(lines))
        except tomllib.TOMLDecodeError as exc:
            line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(exc))) else 0
            self.add(path, line, "invalid-lock", f"not valid TOML: {exc}")
            return
        version = str(data.get("lock-version", ""))
        if not re.fullmatch(r"1(\.\d+)*", version):
            self.add(
                path,
                _key_line(lines, "lock-version"),
                "invalid-lock",
                f"lock-version {version!r} is not a PEP 751 version this gate reads (1.x)",
            )
            return
        packages = data.get("packages", [])
        if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
            self.add(path, 0, "invalid-lock", "`packages` is not an array of tables")
            return
        starts = [i + 1 for i, t in enumerate(lines) if re.match(r"\s*\[\[packages\]\]", t)]
        for index, package in enumerate(packages):
            line = starts[index] if len(starts) == len(packages) else 0
            name = package.get("name")
            if not isinstance(name, str) or not name:
                self.add(path, line, "invalid-lock", "a package has no name")
                continue
            self.checked += 1
            base = posixpath.dirname(path)
            for rule, message in _judge_locked(package, self.require_hashes, base):
                self.add(path, line or _name_line(lines, name), rule, f"{name}: {message}")

    # -- [build-system] ------------------------------------------------------------------

    def build_system(self, path: str) -> None:
        lines = self.read(path)
        if lines is None:
            return
        try:
            data = tomllib.loads("\n".join(lines))
        except tomllib.TOMLDecodeError as exc:
            self.add(path, 0, "invalid-requirement", f"not valid TOML: {exc}")
            return
        table = data.get("build-system")
        if table is None:
            if "project" in data:
                self.add(
                    path,
                    _key_line(lines, "[project]"),
                    "unpinned",
                    "no [build-system] table: pip builds this project with whatever "
                    "setuptools is newest",
                    "declare `[build-system] requires` with `==` pins",
                )
            return
        requires = table.get("requires") if isinstance(table, dict) else None
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            self.add(
                path,
                _key_line(lines, "[build-system]"),
                "invalid-requirement",
                "[build-system] requires must be a list of strings",
            )
            return
        for spec in requires:
            self.checked += 1
            number = _string_line(lines, spec, after="[build-system]")
            parsed = _parse_spec(spec, editable=False)
            if isinstance(parsed, str):
                self.add(path, number, "invalid-requirement", parsed)
                continue
            _, _, problem, _ = _judge(parsed, [], editable=False)
            if problem:
                rule, message, hint = problem
                self.add(path, number, rule, f"build requirement {message}", hint)


_BROKEN = {"invalid-requirement", "invalid-lock", "missing-include", "unscannable-file"}


@dataclass(frozen=True)
class _Req:
    path: str
    line: int
    key: str
    display: str
    problem: tuple[str, str, str] | None
    hashes: bool
    unhashable: str


@dataclass
class _Session:
    """What one ``pip install -r FILE`` reads: requirements, constraints, hash mode."""

    requirements: list[_Req] = field(default_factory=list)
    constraints: dict[str, tuple[str, bool]] = field(default_factory=dict)
    hash_mode: bool = False


@dataclass(frozen=True)
class _Spec:
    """A requirement as pip understands it: a PEP 508 requirement, a URL or a path."""

    text: str
    requirement: Requirement | None = None
    url: str = ""
    path: str = ""


def _logical_lines(lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    """pip's preprocessing: join backslash continuations, drop comments and blanks."""
    start = 0
    parts: list[str] = []
    for index, raw in enumerate(lines, start=1):
        if not parts:
            start = index
        if raw.endswith("\\") and not _comment(raw):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        text = re.sub(r"(^|\s+)#.*$", "", "".join(parts)).strip()
        parts = []
        if text:
            yield start, text
    if parts:
        text = re.sub(r"(^|\s+)#.*$", "", "".join(parts)).strip()
        if text:
            yield start, text


def _comment(raw: str) -> bool:
    return bool(re.match(r"\s*#", raw))


def _split_option(text: str) -> tuple[str, str]:
    """``-r file``, ``--requirement=file``, ``-rfile`` → (option, value)."""
    tokens = _tokens(text)
    head = tokens[0]
    if head.startswith("--"):
        option, eq, value = head.partition("=")
        takes = {**GLOBAL_OPTIONS, **dict.fromkeys(INCLUDE_OPTIONS, True), "--editable": True}
        if takes.get(option) and not eq:
            if len(tokens) < 2:
                raise ValueError(f"{option} needs a value")
            value = tokens[1]
        return option, value
    option, value = head[:2], head[2:]
    if not value and option in ("-r", "-c", "-e", "-i", "-f"):
        if len(tokens) < 2:
            raise ValueError(f"{option} needs a value")
        value = tokens[1]
    return option, value


def _break_args_options(text: str) -> tuple[str, str]:
    """pip's split of a requirement line into the requirement and its options."""
    tokens = text.split(" ")
    args: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(args), " ".join(tokens[index:])
        args.append(token)
    return " ".join(args), ""


def _tokens(text: str) -> list[str]:
    # shlex only when quoting is used: it costs most of the gate's time on big files.
    return shlex.split(text) if any(c in text for c in "\"'\\") else text.split()


def _line_hashes(options: str) -> list[tuple[str, str]]:
    tokens = _tokens(options)
    hashes = []
    i = 0
    while i < len(tokens):
        option, eq, value = tokens[i].partition("=")
        if option not in LINE_OPTIONS:
            raise ValueError(f"unknown option {option} after a requirement")
        if not eq:
            i += 1
            if i >= len(tokens):
                raise ValueError(f"{option} needs a value")
            value = tokens[i]
        if option == "--hash":
            algorithm, colon, digest = value.partition(":")
            if not colon:
                raise ValueError(f"--hash={value} is not ALGORITHM:DIGEST")
            hashes.append((algorithm.lower(), digest.lower()))
        i += 1
    return hashes


def _is_hex(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]+", text))


def _looks_like_url(text: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:|git\+|hg\+|svn\+|bzr\+)", text, re.IGNORECASE))


def _looks_like_path(text: str) -> bool:
    return (
        text.startswith((".", "/", "~"))
        or "/" in text
        or "\\" in text
        or text.lower().endswith(ARCHIVE_SUFFIXES)
    )


def _parse_spec(spec: str, editable: bool) -> _Spec | str:
    """Parse one requirement; a string is the reason pip would reject it."""
    text = spec.strip()
    if not text:
        return "an option line names no requirement"
    named = re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@", text)
    if not named and _looks_like_url(text):
        return _Spec(text, url=re.split(r"\s+;", text, maxsplit=1)[0].strip())
    if not named and (editable or _looks_like_path(text)):
        return _Spec(text, path=re.split(r"\s+;", text, maxsplit=1)[0].strip())
    try:
        return _Spec(text, requirement=Requirement(text))
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0]
        return f"not a requirement pip can read: {first}"


def _judge(
    spec: _Spec, hashes: list[tuple[str, str]], editable: bool
) -> tuple[str, str, tuple[str, str, str] | None, str]:
    """(name, display, problem as (rule, message, hint) or None, why pip cannot hash it)."""
    req = spec.requirement
    if req is not None and not req.url:
        display = str(req.name) + (str(req.specifier) if req.specifier else "")
        pins = [s for s in req.specifier if s.operator == "===" or s.operator == "=="]
        exact = [s for s in pins if not s.version.endswith(".*")]
        if exact:
            return req.name, display, None, ""
        if pins:
            why = f"`{pins[0]}` is a wildcard, not one version"
        elif req.specifier:
            why = f"`{req.specifier}` allows more than one version"
        else:
            why = "no version is given"
        return (
            req.name,
            display,
            ("unpinned", f"{display} is not pinned: {why}", f"pin it: `{req.name}==VERSION`"),
            "",
        )
    url = req.url if req is not None else spec.url
    name = req.name if req is not None else _egg_name(url or spec.path)
    display = (
        f"{name} @ {redaction.url_credentials(url)}"
        if (req is not None and name)
        else redaction.url_credentials(url or spec.path)
    )
    if url:
        return (name, display, *_judge_url(url, display, hashes))
    return (name, display, *_judge_path(spec.path, display, hashes, editable))


def _judge_url(
    url: str, display: str, hashes: list[tuple[str, str]]
) -> tuple[tuple[str, str, str] | None, str]:
    scheme = url.split(":", 1)[0].lower()
    vcs = scheme.split("+", 1)[0] if "+" in scheme or scheme in VCS_SCHEMES else ""
    if vcs in VCS_SCHEMES:
        parts = urlsplit(url.split("+", 1)[1] if "+" in scheme else url)
        _, at, revision = parts.path.rpartition("@")
        revision = revision if at else ""
        pinned = (
            FULL_COMMIT.fullmatch(revision.lower()) is not None
            if vcs in ("git", "hg")
            else bool(re.fullmatch(r"\d+|revid:.+", revision))
        )
        unhashable = "pip cannot hash a VCS checkout"
        if pinned:
            return None, unhashable
        what = f"`@{revision}` can move" if revision else "no revision is given"
        return (
            "unpinned-vcs",
            f"{display} is not pinned to a commit: {what}",
            f"pin the full commit id: `{vcs}+...@<40-hex commit>`",
        ), unhashable
    fragment_hash = re.search(r"[#&](sha256|sha384|sha512)=([0-9a-fA-F]+)", url)
    if hashes or fragment_hash:
        return None, ""
    return (
        "url-without-hash",
        f"{display} is a URL without a hash: what it serves can change",
        "add `--hash=sha256:...` (or a #sha256= fragment), or pin a released version",
    ), ""


def _judge_path(
    path: str, display: str, hashes: list[tuple[str, str]], editable: bool
) -> tuple[tuple[str, str, str] | None, str]:
    if _outside_repository(path):
        return (
            "unpinned-path",
            f"{display} is a path outside the repository: its content is not pinned",
            "commit the artefact to the repository or install a pinned version",
        ), ""
    if editable or not path.lower().endswith(ARCHIVE_SUFFIXES):
        return None, "pip cannot hash a local directory"
    return None, ""  # an archive in the repository: pinned by the commit


def _outside_repository(path: str, base: str = "") -> bool:
    """Whether a local path (pip reads it from the project root, a lock file from its own
    directory ``base``) lies outside the repository: absolute, or ``..`` climbing out."""
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", path):
        return True
    # `../x.whl`, `-e ../sibling`: relative, but outside the repository all the same
    joined = posixpath.join(base, path.replace("\\", "/"))
    return posixpath.normpath(joined).split("/")[0] == ".."


def _egg_name(url: str) -> str:
    match = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", url)
    return match.group(1) if match else ""


def _judge_locked(
    package: Mapping[str, Any], require_hashes: bool, base: str = ""
) -> Iterator[tuple[str, str]]:
    sources = [k for k in ("vcs", "directory", "archive", "sdist", "wheels") if k in package]
    if not sources:
        yield "unpinned", "names no source (vcs, directory, archive, sdist or wheels)"
        return
    if ("sdist" in package or "wheels" in package) and not package.get("version"):
        yield "unpinned", "has an sdist or wheels but no version"
    vcs = package.get("vcs")
    if isinstance(vcs, Mapping):
        commit = str(vcs.get("commit-id", ""))
        if not FULL_COMMIT.fullmatch(commit.lower()):
            yield "unpinned-vcs", f"vcs source has no full commit-id ({commit or 'missing'})"
    directory = package.get("directory")
    if isinstance(directory, Mapping) and _outside_repository(str(directory.get("path", "")), base):
        yield (
            "unpinned-path",
            f"directory source {directory.get('path')} is outside the repository: its content "
            "is not pinned",
        )
    if "directory" in package and require_hashes:
        yield "missing-hash", "a directory source has no hash, and require_hashes is set"
    artefacts: list[tuple[str, Any]] = []
    for key in ("archive", "sdist"):
        if key in package:
            artefacts.append((key, package[key]))
    wheels = package.get("wheels", [])
    if isinstance(wheels, list):
        artefacts += [(f"wheel {w.get('name', '?')}", w) for w in wheels if isinstance(w, dict)]
    else:
        yield "invalid-lock", "`wheels` is not an array of tables"
    for what, artefact in artefacts:
        hashes = artefact.get("hashes") if isinstance(artefact, Mapping) else None
        if not isinstance(hashes, Mapping) or not hashes:
            yield "missing-hash", f"{what} has no hashes: what it serves can change"
            continue
        if not any(
            STRONG_HASHES.get(str(k).lower()) == len(str(v)) and _is_hex(str(v).lower())
            for k, v in hashes.items()
        ):
            yield "weak-hash", f"{what} has no sha256/sha384/sha512 hash ({', '.join(hashes)})"


def _key_line(lines: Sequence[str], key: str) -> int:
    for number, text in enumerate(lines, start=1):
        if text.strip().startswith(key):
            return number
    return 0


def _name_line(lines: Sequence[str], name: str) -> int:
    pattern = re.compile(r'^\s*name\s*=\s*["\']' + re.escape(name) + r'["\']')
    return next((n for n, t in enumerate(lines, start=1) if pattern.match(t)), 0)


def _string_line(lines: Sequence[str], value: str, after: str) -> int:
    started = False
    for number, text in enumerate(lines, start=1):
        if text.strip().startswith(after):
            started = True
        if started and (f'"{value}"' in text or f"'{value}'" in text):
            return number
    return _key_line(lines, after)


@hookimpl
def platformgates_gates() -> list[Gate]:
    return [PinningGate()]
