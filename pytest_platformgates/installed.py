"""The distributions installed for the project's interpreter, with their core metadata.

The licences and sbom gates describe what an interpreter actually imports from, so
the list comes from running that interpreter (:func:`.dependencies.list_environment`),
never from the tool's own environment; each distribution's metadata is then read
from the ``.dist-info`` directory that interpreter reported. Direct and transitive
are told apart as :mod:`.dependencies` does. Whatever cannot be listed or read is an
error naming the distribution: nothing is silently left out.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from importlib.metadata import PathDistribution
from pathlib import Path

from packaging.utils import canonicalize_name

from . import dependencies
from .gate import GateError, SessionFacts


@dataclass(frozen=True)
class Installed:
    """One installed distribution: who it is, where its metadata lives, whether it is direct."""

    name: str
    version: str
    direct: bool
    where: str
    metadata: Message
    #: line of its declaration in pyproject.toml (0 when the project does not declare it)
    line: int = 0

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    @property
    def requires(self) -> list[str]:
        return [str(r) for r in self.metadata.get_all("Requires-Dist") or []]


@dataclass(frozen=True)
class Environment:
    """What an interpreter has installed, minus the project itself."""

    python: str
    distributions: tuple[Installed, ...]
    project: str | None
    project_version: str | None
    declared: dependencies.Declared

    def digest(self) -> str:
        """Changes whenever a distribution is added, removed, upgraded or re-declared."""
        h = hashlib.sha256()
        for d in self.distributions:
            h.update(f"{d.key}\x1f{d.version}\x1f{d.direct}\x1f{d.where}\x1e".encode())
            # The headers, not the long description: that is all any gate reads.
            for field, value in d.metadata.items():
                h.update(f"{field}\x1f{value}\x1e".encode("utf-8", "surrogateescape"))
        return h.hexdigest()


def interpreter(setting: str | None, root: Path) -> str:
    """The interpreter named by a gate's ``python`` option: a path is relative to the root."""
    if not setting:
        return sys.executable
    if "/" in setting or "\\" in setting:
        path = Path(setting).expanduser()
        return str(path if path.is_absolute() else root / path)
    return setting  # a command name, looked up on PATH when run


def environment(
    python: str, root: Path, timeout: float, facts: SessionFacts | None = None
) -> Environment:
    """List and read ``python``'s distributions; :class:`GateError` when any cannot be.

    With ``facts``, read once per session: the licences and sbom gates read the same.
    """
    if facts is None:
        return _read_environment(python, root, timeout, None)
    return facts.get(
        ("installed", python, str(root)), lambda: _read_environment(python, root, timeout, facts)
    )


def _read_environment(
    python: str, root: Path, timeout: float, facts: SessionFacts | None
) -> Environment:
    try:
        declared = dependencies.declared(root)
        listing = dependencies.list_environment(python, timeout=timeout, facts=facts)
    except dependencies.DependencyError as exc:
        raise GateError(str(exc)) from None
    seen: dict[tuple[str, str], Installed] = {}
    broken: list[str] = []
    project_version = None
    everything_direct = not declared.requirements
    for entry in listing:
        name, version, where = entry.get("name"), entry.get("version"), entry.get("where")
        if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
            broken.append(f"{where or '?'} (no name or version)")
            continue
        key = canonicalize_name(name)
        if key == declared.project:
            project_version = project_version or version
            continue  # the project is the SBOM's root and licenses itself
        if (key, version) in seen:
            continue  # the same distribution reached twice through sys.path
        metadata = _metadata(where)
        if metadata is None:
            broken.append(f"{name} {version} at {where or '?'} (metadata unreadable)")
            continue
        seen[key, version] = Installed(
            name=name,
            version=version,
            direct=everything_direct or key in declared.names,
            where=str(where),
            metadata=metadata,
            line=declared.requirements[key][1] if key in declared.requirements else 0,
        )
    if broken:
        raise GateError(
            f"{len(broken)} distribution(s) installed for {python} cannot be read, so they "
            f"cannot be checked: {'; '.join(sorted(broken)[:10])}",
            "reinstall or remove them (`pip install --force-reinstall NAME`)",
        )
    if not seen:
        raise GateError(
            f"no installed distributions found for {python}: nothing to check. Point the "
            "gate's `python` at the project's interpreter (e.g. `.venv/bin/python`)."
        )
    return Environment(
        python=python,
        distributions=tuple(sorted(seen.values(), key=lambda d: (d.key, d.version))),
        project=declared.project,
        project_version=project_version,
        declared=declared,
    )


def _metadata(where: object) -> Message | None:
    """The core metadata in a ``.dist-info``/``.egg-info`` directory (or egg-info file)."""
    if not isinstance(where, str) or not where:
        return None
    dist = PathDistribution(Path(where))
    try:
        # importlib.metadata's own order; "" reads an egg-info that is a single file
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("")
    except (OSError, UnicodeDecodeError):
        return None
    if not text:
        return None
    # Only the headers: they end at the first empty line, and the long description after
    # it (half of all metadata bytes) would cost the parser as much as they do.
    end = text.find("\n\n")
    message = HeaderParser().parsestr(text if end < 0 else text[: end + 1])
    return message if message.get("Name") else None
