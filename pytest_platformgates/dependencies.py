"""Where a project's dependencies come from, and which of them the project declared.

Every supply-chain gate asks the same question, "which distributions, at which
versions, and did the project ask for them itself?", of one of four sources:

- ``environment``: the distributions installed for an interpreter (by default the
  one running pytest), listed by running *that* interpreter, never the tool's own;
- ``pyproject``: ``[project].dependencies``, every optional-dependency extra and
  every ``[dependency-groups]`` group of ``pyproject.toml``;
- a pip requirements file (``-r`` includes followed, ``--hash`` options kept,
  pip-compile's ``# via`` annotations read);
- a PEP 751 lock file (``pylock.toml`` or ``pylock.<name>.toml``).

:func:`load` turns a source into :class:`Dependency` records. A dependency is
*direct* when the project declares it in ``pyproject.toml`` (or, for a pip-compile
file, when its ``# via`` names a requirements or project file). A project that
declares nothing cannot tell the two apart, so everything counts as direct: the
stricter policy applies rather than the laxer one. Anything that cannot be read or
parsed raises :class:`DependencyError`; nothing is silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import redaction
from .cache import split_checked, verified_body, write_checked
from .gate import GateError, SessionFacts
from .inventory import RACY_NS, stat_stamp
from .process import run_tool

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENVIRONMENT = "environment"
PYPROJECT = "pyproject"


class DependencyError(Exception):
    """A dependency source cannot be read or understood; the message says which and why."""


@dataclass(frozen=True)
class Dependency:
    """One dependency of the project, as one source states it.

    ``version`` is the exact version that is (or will be) installed: the installed
    version for the environment, an ``==``/``===`` pin for files, ``None`` when the
    source does not fix one (a range, a URL, an editable path). ``source`` and
    ``line`` locate the declaration (``line`` 0 when there is no line to point at).
    ``requirement`` is the requirement as written, without options or hashes.
    ``via`` names the direct dependencies that pull a transitive one in, when known.
    """

    name: str
    version: str | None
    direct: bool
    source: str
    line: int = 0
    requirement: str = ""
    hashes: tuple[str, ...] = ()
    editable: bool = False
    via: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The canonical (PEP 503) name, the only spelling to compare names by."""
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class Declared:
    """What ``pyproject.toml`` says about the project: its own name and what it declares."""

    project: str | None = None
    #: canonical name -> (requirement as written, line in pyproject.toml)
    requirements: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.requirements)


def declared(root: Path) -> Declared:
    """Read the project's declared dependencies from ``root/pyproject.toml``."""
    path = root / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Declared()
    except (OSError, UnicodeDecodeError) as exc:
        raise DependencyError(f"pyproject.toml cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DependencyError(f"pyproject.toml is not valid TOML: {exc}") from None
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    strings: list[str] = list(_strings(project.get("dependencies"), "project.dependencies"))
    extras = project.get("optional-dependencies") or {}
    if not isinstance(extras, dict):
        raise DependencyError("pyproject.toml: project.optional-dependencies must be a table")
    for extra, reqs in extras.items():
        strings += _strings(reqs, f"project.optional-dependencies.{extra}")
    groups = data.get("dependency-groups") or {}
    if not isinstance(groups, dict):
        raise DependencyError("pyproject.toml: dependency-groups must be a table")
    for group, reqs in groups.items():
        if not isinstance(reqs, list):
            raise DependencyError(f"pyproject.toml: dependency-groups.{group} must be an array")
        # {include-group = "..."} entries name other groups, which are read in their own right
        strings += _strings([r for r in reqs if isinstance(r, str)], f"dependency-groups.{group}")
    lines = text.splitlines()
    requirements: dict[str, tuple[str, int]] = {}
    for raw in strings:
        try:
            req = Requirement(raw)
        except InvalidRequirement as exc:
            raise DependencyError(
                redaction.url_credentials(f"pyproject.toml: invalid requirement {raw!r}: {exc}")
            ) from None
        requirements.setdefault(canonicalize_name(req.name), (raw, _line_of(lines, raw)))
    name = project.get("name")
    return Declared(
        project=canonicalize_name(name) if isinstance(name, str) else None,
        requirements=requirements,
    )


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DependencyError(f"pyproject.toml: {where} must be an array of strings")
    return list(value)


def _line_of(lines: Sequence[str], requirement: str) -> int:
    for quote in ('"', "'"):
        needle = f"{quote}{requirement}{quote}"
        for number, line in enumerate(lines, 1):
            if needle in line:
                return number
    return 0


def load(
    source: str,
    root: Path,
    *,
    python: str | None = None,
    timeout: float = 120,
    facts: SessionFacts | None = None,
) -> list[Dependency]:
    """The dependencies that ``source`` names, sorted by name.

    ``source`` is ``"environment"``, ``"pyproject"``, or a path relative to ``root``:
    ``pylock.toml``/``pylock.*.toml`` is read as PEP 751, anything else as a pip
    requirements file. ``python`` is the interpreter whose environment is listed.
    """
    decl = declared(root)
    if source == ENVIRONMENT:
        deps = from_environment(python or sys.executable, decl, timeout=timeout, facts=facts)
    elif source in (PYPROJECT, "pyproject.toml"):
        deps = from_pyproject(decl)
    else:
        path = root / source
        if re.fullmatch(r"pylock(\.[^.]+)?\.toml", path.name):
            deps = from_pylock(path, source, decl)
        else:
            deps = from_requirements(path, root, decl)
    return sorted(deps, key=lambda d: (d.key, d.version or "", d.source, d.line))


def from_pyproject(decl: Declared) -> list[Dependency]:
    """The declared requirements themselves: all direct, versioned only when pinned."""
    deps = []
    for _key, (raw, line) in sorted(decl.requirements.items()):
        req = Requirement(raw)
        deps.append(
            Dependency(
                name=req.name,
                version=exact_pin(req),
                direct=True,
                source="pyproject.toml",
                line=line,
                requirement=raw,
            )
        )
    return deps


def exact_pin(req: Requirement) -> str | None:
    """The version a requirement pins exactly (``==1.2`` or ``===1.2``), else None."""
    if req.url:
        return None
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    return specs[0].version


# Run by the project's interpreter: only the standard library is available there.
# Only the metadata headers are read (the email parser behind `dist.metadata` spends
# most of its time on long descriptions we do not need). It also stamps what the listing
# is read from, each path before it is read (see "the listing kept between sessions").
_LIST_SCRIPT = r"""
import json, os, site, sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
from importlib import metadata
stamp = []
def mark(path):  # as inventory.stat_stamp, which this interpreter cannot import
    try:
        st = os.stat(path)
    except OSError:
        stamp.append([path, None])
    else:
        stamp.append([path, [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]])
sites = list(getattr(site, "getsitepackages", lambda: [])())
if site.ENABLE_USER_SITE:
    sites.append(site.getusersitepackages())
for path in [*sys.path, *sites]:
    mark(path)
for site_dir in sites:
    try:
        names = sorted(n for n in os.listdir(site_dir) if n.endswith(".pth"))
    except OSError:
        continue
    for name in names:
        mark(os.path.join(site_dir, name))
out = []
for dist in metadata.distributions():
    where = str(getattr(dist, "_path", ""))
    if where:
        mark(where)
        for name in ("METADATA", "PKG-INFO", "direct_url.json"):
            mark(os.path.join(where, name))
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    headers = {"name": None, "version": None, "requires-dist": []}
    key = None
    for line in text.splitlines():
        if not line:  # the blank line ends the headers; whitespace-only lines continue one
            break
        if line[:1] in " \t" and key:
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "requires-dist":
            headers[key].append(value.strip())
        elif key in ("name", "version") and headers[key] is None:
            headers[key] = value.strip()
    direct_url = dist.read_text("direct_url.json") or ""
    out.append({
        "name": headers["name"],
        "version": headers["version"],
        "requires": headers["requires-dist"],
        "where": where,
        "editable": '"editable": true' in direct_url.replace("'", '"'),
    })
json.dump({"executable": sys.executable, "stamp": stamp, "distributions": out}, sys.stdout)
"""


def from_environment(
    python: str, decl: Declared, *, timeout: float = 120, facts: SessionFacts | None = None
) -> list[Dependency]:
    """Every distribution installed for ``python`` except the project itself.

    The interpreter is run (``importlib.metadata``), so what is listed is exactly
    what that interpreter imports from, whatever tool asks.
    """
    listing = list_environment(python, timeout=timeout, facts=facts)
    dists: dict[tuple[str, str], dict[str, Any]] = {}
    broken = []
    for entry in listing:
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not name or not isinstance(version, str):
            broken.append(str(entry.get("where") or "?"))
            continue
        dists.setdefault((canonicalize_name(name), version), entry)
    if broken:
        raise DependencyError(
            f"{len(broken)} installed distribution(s) of {python} have no readable name or "
            f"version, so they cannot be checked: {', '.join(sorted(broken)[:10])}; "
            "reinstall or remove them"
        )
    requires = {key: e["requires"] for (key, _), e in dists.items()}
    everything_direct = not decl.requirements
    roots = {
        key: frozenset(canonicalize_name(e) for e in Requirement(raw).extras)
        for key, (raw, _) in decl.requirements.items()
    }
    via = _via(requires, roots)
    deps = []
    for (key, version), entry in sorted(dists.items()):
        if key == decl.project:
            continue  # the project itself is not one of its dependencies
        direct = everything_direct or key in decl.names
        line = decl.requirements[key][1] if key in decl.requirements else 0
        deps.append(
            Dependency(
                name=entry["name"],
                version=version,
                direct=direct,
                source="pyproject.toml" if key in decl.requirements else ENVIRONMENT,
                line=line,
                requirement=f"{entry['name']}=={version}",
                editable=bool(entry.get("editable")),
                via=() if direct else via.get(key, ()),
            )
        )
    return deps


def list_environment(
    python: str,
    *,
    timeout: float = 120,
    facts: SessionFacts | None = None,
    keep: Path | None = None,
) -> list[dict[str, Any]]:
    """Raw ``importlib.metadata`` listing of ``python``'s distributions.

    With ``facts``, the interpreter is run once per session however many gates ask, and
    the listing is kept in ``facts.keep`` (or ``keep``) for the next session, which reuses
    it while nothing it was read from changed.
    """
    if facts is not None:
        keep = keep if keep is not None else facts.keep
        return facts.get(
            ("environment", python), lambda: list_environment(python, timeout=timeout, keep=keep)
        )
    return _listing(python, timeout, keep)


def _listing(python: str, timeout: float, keep: Path | None) -> list[dict[str, Any]]:
    found = Path(python) if Path(python).exists() else None
    if found is None and (on_path := shutil.which(python)) is not None:
        found = Path(on_path)
    if found is None:
        # Named for what the user configured, the interpreter, not "a tool not on PATH".
        raise DependencyError(f"the interpreter {python} does not exist")
    kept_file = keep / f"environment-{_listing_key(python, found)}.json" if keep else None
    if kept_file is not None and (kept := _kept_listing(kept_file)) is not None:
        return kept
    started = time.time_ns()
    before = _interpreter_stamp(found)
    try:
        proc = run_tool([python, "-c", _LIST_SCRIPT], cwd=Path.cwd(), timeout=timeout)
    except GateError as exc:
        raise DependencyError(f"listing the distributions of {python} failed: {exc}") from None
    try:
        printed = json.loads(proc.stdout)
        listing = list(printed["distributions"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DependencyError(f"{python} printed an unreadable distribution list ({exc})") from None
    if kept_file is not None:
        _keep_listing(kept_file, started, before, printed, listing)
    return listing


# -- the listing kept between sessions ---------------------------------------------------
#
# Starting the interpreter to list it is a tenth of a second of every warm run. The
# listing is kept with what it was read from, each stamped before it was read as the
# inventory's stat cache stamps a file (inventory.stat_stamp: size, mtime, ctime, inode,
# device): the interpreter and its pyvenv.cfg, every sys.path entry, the site directories
# and their .pth files, each distribution's metadata directory and files. Installers
# (pip, uv) add, remove or replace directory entries, which changes the directories'
# times; an edit in place changes the file's, and ctime cannot be set back. The variables
# that move sys.path are part of the key. Any difference, a path changed within RACY_NS
# before the listing (a second change could hide inside one timestamp: git's "racy clean"
# rule, as the stat cache applies it), or a kept file that does not verify, and the
# interpreter is asked again.

LISTING_FORMAT = 2
# What changes the interpreter's sys.path (or the user site) without touching a file.
_PATH_VARIABLES = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "PYTHONPLATLIBDIR",
    "HOME",
)


def _listing_key(python: str, found: Path) -> str:
    parts = [
        LISTING_FORMAT,
        hashlib.sha256(_LIST_SCRIPT.encode()).hexdigest(),
        python,
        str(found.resolve()),
        str(Path.cwd()),
        [os.environ.get(name) for name in _PATH_VARIABLES],
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _stamp_of(path: str) -> list[int] | None:
    """As the listing script stamps a path: None when it is absent (appearing is a change)."""
    try:
        return list(stat_stamp(os.stat(path)))
    except OSError:
        return None


def _interpreter_stamp(found: Path) -> list[Any]:
    # The binary (an upgrade replaces it) and pyvenv.cfg (system site-packages or not);
    # stamped by this process before the interpreter is run.
    paths = [str(found), str(found.resolve()), str(found.parent.parent / "pyvenv.cfg")]
    return [[p, _stamp_of(p)] for p in paths]


def _kept_listing(kept_file: Path) -> list[dict[str, Any]] | None:
    try:
        header, body_bytes = split_checked(kept_file.read_bytes())
        if header.get("format") != LISTING_FORMAT:
            return None
        body = verified_body(header, body_bytes)
        trusted_before = int(body["trusted_before"]) - RACY_NS
        for path, seen in body["stamp"]:
            if _stamp_of(path) != seen:
                return None  # something was installed, removed or edited: ask again
            if seen is not None and max(seen[1], seen[2]) >= trusted_before:
                return None  # changed just before the listing: a second change could hide
        listing = body["listing"]
        if not isinstance(listing, list) or not all(isinstance(e, dict) for e in listing):
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, unreadable or corrupt: never trusted, asked again
    return listing


def _keep_listing(
    kept_file: Path,
    started: int,
    before: list[Any],
    printed: Mapping[str, Any],
    listing: list[Any],
) -> None:
    stamp = printed.get("stamp")
    if not isinstance(stamp, list):
        return
    body = {"trusted_before": started, "stamp": [*before, *stamp], "listing": listing}
    try:
        kept_file.parent.mkdir(parents=True, exist_ok=True)
        write_checked(kept_file, {"format": LISTING_FORMAT}, body)
    except OSError:
        pass  # the next session asks the interpreter again, as it would have anyway


def _edges(requires: Iterable[str]) -> list[tuple[str, frozenset[str], str | None]]:
    """(child, extras asked of it, extra of ours it belongs to) per ``Requires-Dist``."""
    edges = []
    for raw in requires:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue  # only used for the `via` hint, never for what is checked
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", str(req.marker or ""))
        edges.append(
            (
                canonicalize_name(req.name),
                frozenset(canonicalize_name(e) for e in req.extras),
                canonicalize_name(extra.group(1)) if extra else None,
            )
        )
    return edges


def _via(
    requires: Mapping[str, Sequence[str]], roots: Mapping[str, frozenset[str]]
) -> dict[str, tuple[str, ...]]:
    """For each distribution a direct one requires (transitively), the direct ones that do.

    ``requires`` holds each distribution's raw ``Requires-Dist``; a distribution's are
    parsed when the walk first reaches it (packaging's parser is the slow part), so one
    no declared distribution requires is never parsed. Extras are followed as asked
    for; other markers are not evaluated, so this may name a path that the platform
    does not take. It is a hint, never a filter.
    """
    parsed: dict[str, list[tuple[str, frozenset[str], str | None]]] = {}

    def edges(name: str) -> list[tuple[str, frozenset[str], str | None]]:
        if name not in parsed:
            parsed[name] = _edges(requires.get(name, ()))
        return parsed[name]

    reached: dict[str, set[str]] = {}
    for root, extras in sorted(roots.items()):
        if root not in requires:
            continue
        stack, seen = [(root, extras)], {(root, extras)}
        while stack:
            name, asked = stack.pop()
            for child, child_extras, extra in edges(name):
                if (extra is None or extra in asked) and (child, child_extras) not in seen:
                    seen.add((child, child_extras))
                    stack.append((child, child_extras))
        for name, _ in seen:
            if name != root:
                reached.setdefault(name, set()).add(root)
    return {name: tuple(sorted(r)) for name, r in reached.items()}


# pip options that change where or how packages are fetched, not which: ignored here.
_GLOBAL_OPTIONS = re.compile(
    r"^(-i|--index-url|--extra-index-url|--no-index|-f|--find-links|--trusted-host|--pre"
    r"|--prefer-binary|--only-binary|--no-binary|--require-hashes|--use-feature"
    r"|--config-settings|--global-option)(\s|=|$)"
)
_VIA_HEAD = re.compile(r"^#\s*via\b\s*(.*)$")
_VIA_MORE = re.compile(r"^#\s{2,}(\S.*)$")
# pip-compile and uv write `# via -r requirements.in` or `# via NAME (pyproject.toml)`
_DECLARING_FILES = re.compile(
    r"^(-r\s|--requirement\s)|(^|\()(pyproject\.toml|setup\.cfg|setup\.py)\)?$"
)


def from_requirements(path: Path, root: Path, decl: Declared) -> list[Dependency]:
    """Parse a pip requirements file (and its ``-r`` includes) into dependencies."""
    deps: list[Dependency] = []
    project: list[str] = []
    _read_requirements(path, root, decl, deps, seen=set(), project=project)
    if project:
        # `-e .` installs the project, and with it what it declares: those are audited
        # too (as `source = "pyproject"` would), unless the file pins them itself.
        listed = {d.key for d in deps}
        for dep in from_pyproject(decl):
            if dep.key not in listed:
                deps.append(dep)
    return deps


def _without_comment(logical: str) -> str:
    """A logical requirements line without its comment and surrounding blanks, as pip reads it."""
    return re.sub(r"(^|\s)#.*$", "", logical).strip()


def _read_requirements(
    path: Path,
    root: Path,
    decl: Declared,
    out: list[Dependency],
    seen: set[Path],
    project: list[str],
) -> None:
    rel = _relative(path, root)
    resolved = path.resolve()
    if resolved in seen:
        return
    seen.add(resolved)
    try:
        # utf-8-sig: pip reads a file an editor saved with a BOM, so the audit must too
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DependencyError(f"requirements file {rel} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DependencyError(f"requirements file {rel} cannot be read: {exc}") from None

    entries: list[tuple[int, str, list[str]]] = []  # (line, logical line, via)
    collecting: list[str] | None = None
    logical, start = "", 0
    for number, physical in enumerate(text.splitlines(), 1):
        stripped = physical.strip()
        if not logical and stripped.startswith("#"):
            if entries and (m := _VIA_HEAD.match(stripped)):
                collecting = entries[-1][2]
                if m.group(1):
                    collecting.append(m.group(1).strip())
            elif collecting is not None and (m := _VIA_MORE.match(stripped)):
                collecting.append(m.group(1).strip())
            else:
                collecting = None
            continue
        collecting = None
        if not logical:
            start = number
        if physical.endswith("\\"):
            logical += physical[:-1] + " "
            continue
        logical += physical
        line = _without_comment(logical)
        logical = ""
        if line:
            entries.append((start, line, []))
    # A continuation on the last line: pip keeps the unfinished line as it is (its
    # ``join_lines``), and installs what it names, so it is audited like any other.
    if line := _without_comment(logical):
        entries.append((start, line, []))

    for number, line, via in entries:
        if m := re.match(r"^(-r|--requirement)(\s+|=)(\S+)$", line):
            if re.match(r"^[a-z][a-z0-9+.-]*://", m.group(3), re.IGNORECASE):
                raise DependencyError(
                    f"{rel}:{number}: includes {redaction.url_credentials(m.group(3))}, a file "
                    "fetched at install time, so what it requires cannot be audited; vendor "
                    "it into the repository"
                )
            _read_requirements(path.parent / m.group(3), root, decl, out, seen, project)
            continue
        if re.match(r"^(-c|--constraint)(\s|=)", line) or _GLOBAL_OPTIONS.match(line):
            continue  # constraints limit versions, they do not add dependencies
        editable = False
        if m := re.match(r"^(-e|--editable)(\s+|=)(.+)$", line):
            editable, line = True, m.group(3).strip()
        hashes = tuple(re.findall(r"--hash[=\s]+(\S+)", line))
        spec = re.sub(r"--hash[=\s]+\S+", "", line)
        # pip's other per-requirement option: how to build it, not which version it is
        spec = re.sub(r"(^|\s)--config-settings[=\s]+\S+", " ", spec).strip()
        if spec.startswith("-"):
            raise DependencyError(f"{rel}:{number}: unsupported option {spec.split()[0]!r}")
        if _is_the_project(spec, root):
            project.append(f"{rel}:{number}")  # the project itself: not a dependency of its own
            continue
        name, version = _name_and_pin(spec, editable, rel, number)
        key = canonicalize_name(name)
        if via:
            direct = any(_DECLARING_FILES.search(v) for v in via)
        else:
            direct = key in decl.names if decl.requirements else True
        out.append(
            Dependency(
                name=name,
                version=version,
                direct=direct,
                source=rel,
                line=number,
                requirement=spec,
                hashes=hashes,
                editable=editable,
                via=() if direct else tuple(v for v in via if not v.startswith("-")),
            )
        )


def _is_the_project(spec: str, root: Path) -> bool:
    """Whether a path requirement (``.``, ``./``, ``.[dev]``, ``file:.``) is the project root.

    pip reads such paths from its working directory, the project root; the project is
    not one of its own dependencies, as the environment source leaves it out too.
    """
    m = re.fullmatch(r"(?:file:)?(\.[^\[\s;#]*)(\[[^\]]*\])?\s*(;.*)?(#.*)?", spec)
    if m is None:
        return False
    try:
        return (root / m.group(1)).resolve() == root.resolve()
    except (OSError, RuntimeError):
        return False


def _name_and_pin(spec: str, editable: bool, rel: str, number: int) -> tuple[str, str | None]:
    """Name and exact pin of a requirement line; URLs and paths carry no pin."""
    egg = re.search(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    if editable or re.match(r"^(\.|/|[a-z+]+://|git\+|hg\+|svn\+|bzr\+)", spec):
        if egg:
            return egg.group(1), None
        if " @ " not in spec:
            raise DependencyError(
                f"{rel}:{number}: {redaction.url_credentials(spec)!r} names no package "
                "(add '#egg=NAME' or write "
                "'NAME @ URL') so it cannot be checked"
            )
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise DependencyError(
            redaction.url_credentials(f"{rel}:{number}: invalid requirement {spec!r}: {exc}")
        ) from None
    return req.name, exact_pin(req)


def from_pylock(path: Path, rel: str, decl: Declared) -> list[Dependency]:
    """Parse a PEP 751 lock file: every ``[[packages]]`` entry, with its hashes."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DependencyError(f"lock file {rel} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DependencyError(f"lock file {rel} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DependencyError(f"lock file {rel} is not valid TOML: {exc}") from None
    if "lock-version" not in data:
        raise DependencyError(f"lock file {rel} has no lock-version: is it a PEP 751 lock file?")
    packages = data.get("packages")
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise DependencyError(f"lock file {rel}: packages must be an array of tables")
    lines = text.splitlines()
    deps = []
    for number, pkg in enumerate(packages, 1):
        name = pkg.get("name")
        if not isinstance(name, str) or not name:
            raise DependencyError(f"lock file {rel}: package #{number} has no name")
        version = pkg.get("version")
        hashes = [
            f"{algo}:{digest}"
            for artefact in [pkg.get("sdist"), pkg.get("archive"), *(pkg.get("wheels") or [])]
            if isinstance(artefact, dict)
            for algo, digest in sorted((artefact.get("hashes") or {}).items())
        ]
        key = canonicalize_name(name)
        if key == decl.project:
            continue  # a lock of the project lists it too (`directory = { path = "." }`)
        deps.append(
            Dependency(
                name=name,
                version=version if isinstance(version, str) else None,
                direct=not decl.requirements or key in decl.names,
                source=rel,
                line=_package_line(lines, name),
                requirement=f"{name}=={version}" if isinstance(version, str) else name,
                hashes=tuple(hashes),
                editable=isinstance(pkg.get("directory"), dict)
                and bool(pkg["directory"].get("editable")),
            )
        )
    return deps


def _package_line(lines: Sequence[str], name: str) -> int:
    pattern = re.compile(rf"""^\s*name\s*=\s*["']{re.escape(name)}["']""")
    return next((n for n, line in enumerate(lines, 1) if pattern.match(line)), 0)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
