"""The sast gate: bandit on the Python files in scope, under the project's own bandit config.

Bandit runs as a library (``BanditManager`` + ``BanditConfig``) in worker processes,
one manager each, over shards of the files balanced by size: bandit has no
parallelism of its own and is CPU-bound. Its quiet passes are closed: a file it
could not parse is a critical finding, a crash inside bandit or one of its tests is
an error, a file it did not account for is an error, and a ``[tool.bandit]`` key or
test id that bandit would ignore with at most a log line is an error here.

Run as ``python -m pytest_platformgates.gates.sast`` it is that worker: a JSON
request on stdin, a JSON report on stdout.
"""

from __future__ import annotations

import configparser
import copy
import difflib
import fnmatch
import functools
import io
import json
import logging
import os
import re
import sys
import tokenize
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import redaction
from ..config import Option
from ..gate import FileAnalysis, FileGate, GateContext, GateError
from ..hookspecs import hookimpl
from ..inventory import InventoryFile
from ..model import Analysis, Finding, Severity
from ..process import installed_version, map_in_threads, run_tool, stderr_tail

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: Bandit's severities in ours. Bandit has no "critical": that level is kept for
#: files bandit could not analyse at all, which block whatever ``fail_on`` says.
SEVERITY = {"HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}
#: An issue without a severity (only third-party tests can produce one) is still shown.
UNDEFINED_SEVERITY = Severity.LOW

#: Our ``confidence`` option as bandit's lowest accepted confidence. "low" keeps
#: everything ``bandit -r`` reports, including an UNDEFINED confidence.
CONFIDENCE_FLOOR = {"low": "UNDEFINED", "medium": "MEDIUM", "high": "HIGH"}
RANKING = ("UNDEFINED", "LOW", "MEDIUM", "HIGH")

#: ``[tool.bandit]`` keys bandit reads besides the per-test sections.
CONFIG_KEYS = ("tests", "skips", "exclude_dirs", "include")
#: Keys bandit accepts that change nothing about which issues are found.
INERT_KEYS = ("log_format", "plugin_name_pattern")
#: Legacy keys that bandit applies only with ``bandit -p PROFILE``, which the gate has not.
LEGACY_KEYS = ("profiles", "blacklist_calls", "blacklist_imports")
#: Likely typos of the keys above, where difflib would guess wrong or not at all.
KEY_HINTS = {
    "skip": "skips",
    "test": "tests",
    "exclude": "exclude_dirs",
    "excludes": "exclude_dirs",
    "exclude_dir": "exclude_dirs",
    "exclude_paths": "exclude_dirs",
    "includes": "include",
}

#: ``.bandit`` (INI, section ``[bandit]``) keys. These change the findings and are honoured.
INI_HONOURED = ("skips", "tests", "exclude", "configfile")
#: These are the CLI's output or a narrower view of its results: the gate reports everything
#: in scope and has its own ``confidence``/``fail_on``, so they are ignored with a note.
INI_IGNORED = {
    "targets": "the gate checks the files in scope (tool.platformgates paths/exclude)",
    "level": "use this gate's fail_on",
    "confidence": "use this gate's confidence option",
    "profile": "legacy profiles are not supported; use tests/skips",
    "baseline": "the gate fingerprints findings itself; waive findings instead",
    "ignore-nosec": "nosec comments are honoured and counted",
    "recursive": "",
    "aggregate": "",
    "number": "",
    "format": "",
    "msg-template": "",
    "output": "",
    "verbose": "",
    "debug": "",
    "quiet": "",
}

SYNTAX_ERROR = "syntax error while parsing AST from file"  # bandit's reason for skipping
#: Bandit's log lines that accompany a file it skipped.
SKIP_MESSAGES = ("Exception occurred when executing tests against", 'Run "bandit --debug')

DEFAULT_INCLUDE = ("*.py", "*.pyw")  # bandit's own default without a config file
MIN_BYTES_PER_PROCESS = 100_000  # below this, a second process costs more than it saves
MAX_LISTED = 10
MIN_BANDIT, BELOW_BANDIT = "1.8", "2"  # the worker uses bandit's own API
#: Tests whose message quotes the suspected secret itself.
PASSWORD_TESTS = frozenset({"B105", "B106", "B107"})

ID_SHAPED = re.compile(r"\bB\d", re.IGNORECASE)


@dataclass(frozen=True)
class BanditSetup:
    """Bandit's effective configuration for this project, validated."""

    config_file: str | None  # passed to BanditConfig as `bandit -c` would be
    config: Mapping[str, Any]
    tests: tuple[str, ...]
    skips: tuple[str, ...]
    excludes: tuple[str, ...]
    include: tuple[str, ...]
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: where the settings were read, and each list of test ids with the key that gave it:
    #: what :func:`validate_setup` checks against bandit's registry of tests
    where: str = ""
    id_lists: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def digest_input(self) -> str:
        return json.dumps(
            {
                "config": self.config,
                "tests": self.tests,
                "skips": self.skips,
                "excludes": self.excludes,
                "include": self.include,
            },
            sort_keys=True,
            default=str,  # YAML may hold dates and the like; any stable text will do
        )

    @functools.cached_property
    def _include(self) -> re.Pattern[str]:
        # fnmatch.fnmatch's own translation, all globs in one pattern: asked once per file.
        return re.compile("|".join(fnmatch.translate(os.path.normcase(g)) for g in self.include))

    def included(self, path: str) -> bool:
        """Whether an ``include`` glob matches, as bandit matches it under ``bandit -r .``."""
        return self._include.match(os.path.normcase("./" + path)) is not None

    def excluded_by(self, path: str) -> str | None:
        """The exclusion that drops ``path``, matched as bandit matches it under ``bandit -r .``."""
        candidate = "./" + path
        for entry in self.excludes:
            if fnmatch.fnmatch(candidate, entry) or entry in candidate:
                return entry
        return None


@dataclass(frozen=True)
class NosecComment:
    """One ``nosec`` comment: the tests it names as bandit resolves them."""

    line: int
    known: tuple[str, ...]
    mistyped: bool  # names something shaped like a test id that is not one

    @property
    def blanket(self) -> bool:
        """Bandit treats a nosec naming no known test as silencing every test."""
        return not self.known


class SastGate(FileGate):
    name = "sast"
    description = "bandit on the Python files in scope, under the project's own bandit config"
    patterns = DEFAULT_INCLUDE
    options = (
        Option(
            "confidence",
            "choice",
            "low",
            "Lowest bandit confidence reported: low (everything `bandit -r` reports), "
            "medium or high. Findings below it are not reported at all.",
            choices=("low", "medium", "high"),
        ),
        Option(
            "blanket_nosec",
            "choice",
            "high",
            "Severity of a `# nosec` comment that names no bandit test (it silences every "
            "test on its line, including future ones), or `off` to allow them.",
            choices=("off", "low", "medium", "high", "critical"),
            severity_like=True,
        ),
        Option(
            "config",
            "str",
            "",
            "A bandit config file (YAML, or TOML with [tool.bandit]) to use instead of "
            "[tool.bandit] in pyproject.toml, as `bandit -c FILE` would.",
        ),
        Option(
            "jobs",
            "int",
            0,
            "Processes to run bandit in; 0 means one per CPU, fewer for small file sets.",
            minimum=0,
            maximum=256,
        ),
    )

    _setup: BanditSetup | None = None

    # -- selection -------------------------------------------------------------------

    def selects(self, file: InventoryFile) -> bool:
        setup = self._setup
        if setup is None:  # the registered instance: only the default globs are known
            return super().selects(file)
        return setup.included(file.path) and setup.excluded_by(file.path) is None

    def check(self, ctx: GateContext) -> Analysis:
        nested = [
            f.path for f in ctx.inventory.files if f.name == ".bandit" and f.path != ".bandit"
        ]
        if nested:
            # `bandit -r .` would pick such a file up as the project's settings.
            raise GateError(
                f"{nested[0]}: only a .bandit at the project root is read by the gate; "
                "move its settings to the root .bandit or to [tool.bandit]"
            )
        setup = read_setup(ctx.root, ctx.settings["config"])
        ctx.notes.extend(setup.notes)
        bound = copy.copy(self)  # the registered gate stays stateless across sessions
        bound._setup = setup
        bound.patterns = setup.include
        excluded = _excluded_files(setup, ctx)
        if excluded:
            ctx.notes.append(
                f"{len(excluded)} file(s) excluded by bandit's configuration: " + _listing(excluded)
            )
        base = FileGate.check(bound, ctx)
        if not base.figures.get("files_analysed") and not base.figures.get("files_cached"):
            # Neither analysed (which validates) nor vouched for by the cache: check now.
            validate_setup(setup, bandit_extensions())
        return replace(
            base,
            figures={
                **_nosec_figures(base.figures),
                "bandit_config": ", ".join(setup.sources) or "bandit's defaults",
                "files_excluded_by_bandit": len(excluded),
            },
            notes=tuple(ctx.notes),
        )

    # -- cache keys --------------------------------------------------------------------

    def tool_versions(self, ctx: GateContext) -> Mapping[str, str]:
        bandit = installed_version("bandit", MIN_BANDIT, BELOW_BANDIT)
        # The AST differs between Python versions, and bandit's findings with it.
        return {"bandit": bandit, "python": "{}.{}".format(*sys.version_info[:2])}

    def cache_inputs(self, ctx: GateContext) -> Mapping[str, str]:
        from importlib.metadata import entry_points

        # The entry points bandit loads its tests from, read without importing bandit
        # (a third of a warm run's time): installing, removing or moving a plugin
        # changes them, and bandit's own version is in tool_versions.
        installed = entry_points()  # every distribution's entry points, read once
        plugins = sorted(
            f"{group}:{ep.name}={ep.value}"
            for group in ("bandit.plugins", "bandit.blacklists")
            for ep in installed.select(group=group)
        )
        setup = self._setup or read_setup(ctx.root, ctx.settings["config"])
        return {"bandit_config": setup.digest_input(), "bandit_plugins": ",".join(plugins)}

    # -- analysis ----------------------------------------------------------------------

    def analyse(self, files: Sequence[InventoryFile], ctx: GateContext) -> FileAnalysis:
        setup = self._setup or read_setup(ctx.root, ctx.settings["config"])
        shards = _shards(files, ctx.settings["jobs"])
        # The workers validate the settings against bandit's registry of tests and read
        # the nosec comments: bandit is imported there anyway, and importing it here too
        # would cost this process a quarter of a second on every run that analyses a file.
        # Cache entries are written only after this succeeds, under a key holding the
        # settings, bandit's version and its plugins: a cached run needs no validation.
        request = {
            "config_option": ctx.settings["config"],
            "setup": setup.digest_input(),
            "config_file": setup.config_file,
            "tests": list(setup.tests),
            "skips": list(setup.skips),
        }
        reports = map_in_threads(
            lambda shard: _run_worker({**request, "files": shard}, ctx), shards, len(shards)
        )
        for report in reports:
            if report["invalid"]:
                raise GateError(*report["invalid"])

        floor = RANKING.index(CONFIDENCE_FLOOR[ctx.settings["confidence"]])
        findings: list[Finding] = []
        problems: list[str] = []
        stale: list[str] = []
        accounted: set[str] = set()
        below = 0
        for report in reports:
            accounted.update(_relative(p) for p in report["scanned"])
            for path, reason in report["skipped"]:
                path = _relative(path)
                accounted.add(path)
                if reason == SYNTAX_ERROR:
                    findings.append(_unparseable(self.name, path, reason))
                else:
                    problems.append(
                        f"bandit could not analyse {path}: {reason} "
                        f"(`bandit --debug {path}` shows the traceback)"
                    )
            for issue in report["issues"]:
                confidence = issue["confidence"]
                rank = RANKING.index(confidence) if confidence in RANKING else 0
                if rank < floor:
                    below += 1
                    continue
                findings.append(_finding(self.name, issue))
            for level, message in report["records"]:
                if message.startswith(SKIP_MESSAGES):
                    continue  # the skipped file is reported above
                if level >= logging.ERROR:
                    lines = message.strip().splitlines()
                    problems.append(f"bandit reported an internal error: {lines[0]}")
                elif message.startswith("nosec encountered"):
                    stale.append(message)
        missing = sorted({f.path for f in files} - accounted)
        if missing:
            problems.append(
                f"bandit did not report on {len(missing)} of the {len(files)} files it was "
                f"given, so they were not checked: {_listing(missing)}"
            )
        if stale:
            ctx.notes.append(
                f"{len(stale)} `nosec` comment(s) name a test that found nothing on their line "
                "(stale suppressions): " + "; ".join(stale[:MAX_LISTED])
            )
        comments = {
            _relative(path): [
                NosecComment(line, tuple(known), mistyped) for line, known, mistyped in found
            ]
            for report in reports
            for path, found in report["nosec"].items()
        }
        nosec_findings, file_figures = _nosec_audit(self.name, comments, ctx)
        findings.extend(nosec_findings)
        figures = {"bandit_processes": len(shards), "below_confidence": below}
        return FileAnalysis(
            findings=findings, problems=problems, figures=figures, file_figures=file_figures
        )


# -- configuration -------------------------------------------------------------------------


def bandit_extensions() -> Any:
    """Bandit's registry of tests (``extension_loader.MANAGER``), loaded quietly.

    Loading it makes stevedore warn about a deprecated argument and log an error for
    every formatter whose optional dependency is missing: noise in the user's test
    session (and a failure under ``-W error``) that says nothing about their code.
    """
    stevedore_log = logging.getLogger("stevedore")
    level = stevedore_log.level
    stevedore_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from bandit.core import extension_loader
    except ImportError as exc:
        raise GateError(f"bandit is not installed: `pip install bandit` ({exc})") from None
    finally:
        stevedore_log.setLevel(level)
    return extension_loader.MANAGER


def load_setup(root: Path, config_option: str = "") -> BanditSetup:
    """Read and validate bandit's configuration the way ``bandit -c … -r .`` from ``root`` would."""
    setup = read_setup(root, config_option)
    validate_setup(setup, bandit_extensions())
    return setup


def validate_setup(setup: BanditSetup, manager: Any) -> None:
    """Every key and test id must be one bandit reads, and some test must be left to run."""
    _validate_config(setup.config, setup.where, manager)
    for source, ids in setup.id_lists:
        for test_id in ids:
            _check_test_id(test_id, source, manager)
    if not _selected_tests(manager, set(setup.tests), set(setup.skips)):
        raise GateError(
            f"bandit configuration ({setup.where}) leaves no test to run: check tests and skips"
        )


def read_setup(root: Path, config_option: str = "") -> BanditSetup:
    """Bandit's configuration as read, before :func:`validate_setup`: no bandit import.

    Only what can be checked without bandit's registry of tests is checked here.
    """
    notes: list[str] = []
    sources: list[str] = []
    ini = _read_ini(root / ".bandit", notes)
    if ini is not None:
        sources.append(".bandit")
    config_path = config_option or (ini or {}).get("configfile", "")
    where: str
    if config_path:
        path = root / config_path
        where = config_path
        config = _read_config_file(path, config_path)
        config_file: str | None = str(path)
        sources.append(config_path)
    else:
        pyproject = root / "pyproject.toml"
        config = _bandit_table(pyproject) if pyproject.is_file() else None
        where = "pyproject.toml [tool.bandit]"
        config_file = str(pyproject) if config is not None else None
        if config is not None:
            sources.append("pyproject.toml")
        config = config or {}
    for key in CONFIG_KEYS:
        value = config.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise GateError(f"{where}: {key} must be a list of strings, not {value!r}")

    tests = list(config.get("tests") or [])
    skips = list(config.get("skips") or [])
    excludes = list(config.get("exclude_dirs") or [])
    checks = [(where, "tests", tests), (where, "skips", skips)]
    if ini:
        checks += [(".bandit", k, _ini_list(ini, k)) for k in ("tests", "skips")]
        tests += _ini_list(ini, "tests")
        skips += _ini_list(ini, "skips")
        for entry in _ini_list(ini, "exclude"):
            # As the CLI does with -x: a directory becomes "dir/*", relative to the cwd.
            is_dir = bool(entry) and (root / entry).is_dir()
            excludes.append(os.path.join(entry, "*") if is_dir else entry)
    both = sorted(set(tests) & set(skips))
    if both:
        raise GateError(f"bandit configuration lists {', '.join(both)} in both tests and skips")
    for entry in excludes:
        if not entry.strip():
            raise GateError(
                f"{where}: an empty exclude entry; bandit matches it inside every path "
                "and would exclude all files"
            )
    include = tuple(config.get("include") or DEFAULT_INCLUDE)
    return BanditSetup(
        config_file=config_file,
        config=config,
        tests=tuple(sorted(set(tests))),
        skips=tuple(sorted(set(skips))),
        excludes=tuple(excludes),
        include=include,
        sources=tuple(sources),
        notes=tuple(notes),
        where=where,
        id_lists=tuple((f"{source}: {key}", tuple(ids)) for source, key, ids in checks),
    )


def _read_config_file(path: Path, shown: str) -> dict[str, Any]:
    if not path.is_file():
        raise GateError(f"bandit config file {shown} does not exist")
    if path.suffix == ".toml":
        table = _bandit_table(path)
        if table is None:
            raise GateError(f"bandit config file {shown} has no [tool.bandit] table")
        return table
    if path.suffix not in (".yaml", ".yml"):
        raise GateError(
            f"bandit config file {shown}: bandit reads a .toml file's [tool.bandit] table "
            "and any other file as YAML; name it .yaml, .yml or .toml"
        )
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GateError(f"bandit config file {shown} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise GateError(f"bandit config file {shown} must hold a mapping of options")
    return data


def _bandit_table(pyproject: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise GateError(f"{pyproject.name} cannot be read for [tool.bandit]: {exc}") from None
    table = data.get("tool", {}).get("bandit")
    if table is not None and not isinstance(table, dict):
        raise GateError(f"{pyproject.name}: tool.bandit must be a table")
    return table


def _validate_config(config: Mapping[str, Any], where: str, manager: Any) -> None:
    """Every key must be one bandit reads: a typo would be silently ignored by bandit."""
    sections = _plugin_sections(manager)
    by_function = {p.name: s for p in manager.plugins if (s := _takes_config(p))}
    known = set(CONFIG_KEYS) | set(INERT_KEYS) | set(sections)
    for key, value in config.items():
        if key in LEGACY_KEYS:
            raise GateError(
                f"{where}: {key!r} is legacy profile configuration that bandit applies only "
                "with `bandit -p`; select tests with `tests` and `skips` instead"
            )
        if key not in known:
            if key in by_function:
                hint = f"bandit reads the options of {key} from [{by_function[key]}]"
            else:
                near = KEY_HINTS.get(key) or next(
                    iter(difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)), None
                )
                hint = f"did you mean {near!r}?" if near else ""
            raise GateError(
                f"{where}: unknown key {key!r}, which bandit would silently ignore"
                + (f" ({hint})" if hint else "")
                + f"; known keys: {', '.join(sorted(known))}"
            )
        if key in CONFIG_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise GateError(f"{where}: {key} must be a list of strings, not {value!r}")
        elif key in sections:
            _validate_section(key, value, sections[key], where)


def _validate_section(name: str, value: Any, defaults: Mapping[str, Any], where: str) -> None:
    if not isinstance(value, dict):
        raise GateError(f"{where}: {name} must be a table of that test's options")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise GateError(
            f"{where}: {name}.{unknown[0]} is not an option of bandit's {name} tests "
            f"(options: {', '.join(sorted(defaults))}); bandit would ignore it"
        )
    missing = sorted(set(defaults) - set(value))
    if missing:
        raise GateError(
            f"{where}: {name} leaves out {', '.join(missing)}; bandit replaces the whole "
            f"default section with the one given, so those tests would crash or check "
            f"nothing. Give every option (defaults: {json.dumps(dict(defaults))})"
        )


def _plugin_sections(manager: Any) -> dict[str, Mapping[str, Any]]:
    import importlib

    sections: dict[str, Mapping[str, Any]] = {}
    for plugin in manager.plugins:
        name = _takes_config(plugin)
        if name and name not in sections:
            module = importlib.import_module(plugin.plugin.__module__)
            sections[name] = module.gen_config(name) or {}
    return sections


def _takes_config(plugin: Any) -> str | None:
    return getattr(plugin.plugin, "_takes_config", None)


def _check_test_id(test_id: str, where: str, manager: Any) -> None:
    if manager.check_id(test_id):
        return
    by_name = manager.get_test_id(test_id.strip())
    if by_name:
        hint = f"; bandit selects tests by id here: write {by_name!r}"
    elif manager.check_id(test_id.strip()):
        hint = f"; bandit does not strip spaces: write {test_id.strip()!r}"
    else:
        hint = "; `bandit --help` lists the tests"
    raise GateError(
        f"{where}: unknown bandit test {test_id!r}, which bandit would only warn "
        f"about and ignore{hint}"
    )


def _selected_tests(manager: Any, tests: set[str], skips: set[str]) -> set[str]:
    everything = set(manager.plugins_by_id) | set(manager.blacklist_by_id)
    if "B001" in tests:  # bandit: B001 alone means every blacklist test
        tests = (tests - {"B001"}) | set(manager.blacklist_by_id)
    if "B001" in skips:
        skips = (skips - {"B001"}) | set(manager.blacklist_by_id)
    return (tests or everything) - skips


def _read_ini(path: Path, notes: list[str]) -> dict[str, str] | None:
    if not path.is_file():
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise GateError(
            f".bandit cannot be read ({exc}); bandit would silently ignore it"
        ) from None
    if not parser.has_section("bandit"):
        raise GateError(".bandit has no [bandit] section, so bandit would silently ignore it")
    values = dict(parser.items("bandit"))
    for key in values:
        if key in INI_HONOURED:
            continue
        if key in INI_IGNORED:
            why = INI_IGNORED[key]
            notes.append(f".bandit {key} is not used by the gate" + (f": {why}" if why else ""))
            continue
        near = difflib.get_close_matches(key, [*INI_HONOURED, *INI_IGNORED], n=1, cutoff=0.7)
        raise GateError(
            f".bandit: unknown key {key!r}, which bandit would silently ignore"
            + (f" (did you mean {near[0]!r}?)" if near else "")
        )
    return values


def _ini_list(ini: Mapping[str, str], key: str) -> list[str]:
    value = ini.get(key, "")
    return value.split(",") if value else []  # no strip: bandit does not strip either


def _excluded_files(setup: BanditSetup, ctx: GateContext) -> list[str]:
    """Files bandit's exclusions drop; an exclusion that only matches by substring is an error.

    Bandit matches each ``exclude_dirs`` entry both as a glob and as a plain substring of
    the path, so ``test`` drops ``src/attestation.py``. Excluding security analysis by
    accident is the failure this gate exists to prevent, so such a match must be written
    as whole path segments (``tests``, ``pkg/tests``) or as a glob.
    """
    excluded = []
    for f in ctx.inventory.files:
        if not setup.included(f.path):
            continue
        entry = setup.excluded_by(f.path)
        if entry is None:
            continue
        excluded.append(f.path)
        if fnmatch.fnmatch("./" + f.path, entry) or any(c in entry for c in "*?["):
            continue
        segments = entry.removeprefix("./").strip("/")
        if f"/{segments}/" not in f"/{f.path}/":
            raise GateError(
                f"bandit's exclude entry {entry!r} excludes {f.path} only because bandit "
                "matches exclusions as substrings anywhere in the path; name whole "
                "directories (e.g. 'tests' or 'pkg/tests'), use a glob, or exclude the file "
                "with tool.platformgates exclude"
            )
    return excluded


# -- running bandit --------------------------------------------------------------------


def _shards(files: Sequence[InventoryFile], jobs: int) -> list[list[str]]:
    """Split files over processes, largest first onto the lightest shard (bandit time ~ size)."""
    total = sum(f.size for f in files)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = jobs or min(cpus or 1, max(1, total // MIN_BYTES_PER_PROCESS))
    count = max(1, min(count, len(files)))
    shards: list[list[str]] = [[] for _ in range(count)]
    weights = [0] * count
    for f in sorted(files, key=lambda f: (-f.size, f.path)):
        i = weights.index(min(weights))
        shards[i].append("./" + f.path)
        weights[i] += f.size + 1
    return shards


def _run_worker(request: Mapping[str, Any], ctx: GateContext) -> dict[str, Any]:
    proc = run_tool(
        [sys.executable, "-m", __name__],
        cwd=ctx.root,
        timeout=ctx.timeout,
        stdin=json.dumps(request),
        env={"PYTHONIOENCODING": "utf-8"},
    )
    try:
        report = json.loads(proc.stdout)
        for key in ("scanned", "skipped", "issues", "records"):
            if not isinstance(report[key], list):
                raise TypeError(f"{key} is not a list")
        if not isinstance(report["nosec"], dict):
            raise TypeError("nosec is not an object")
        if report["invalid"] is not None and not isinstance(report["invalid"], list):
            raise TypeError("invalid is neither null nor a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise GateError(
            f"the bandit worker printed output that is not its report ({exc})",
            stderr_tail(proc.stderr) or proc.stdout[-2000:],
        ) from None
    return report


def _relative(path: str) -> str:
    return path.removeprefix("./")


def _finding(gate: str, issue: Mapping[str, Any]) -> Finding:
    severity = SEVERITY.get(issue["severity"], UNDEFINED_SEVERITY)
    parts = []
    if issue.get("cwe"):
        parts.append(f"CWE-{issue['cwe']}")
    parts.append(f"bandit {issue['test_name']}, confidence {issue['confidence'].lower()}")
    if issue.get("more_info"):
        parts.append(f"see {issue['more_info']}")
    col = int(issue.get("col", -1))
    return Finding(
        gate=gate,
        rule=issue["test_id"],
        severity=severity,
        path=_relative(issue["filename"]),
        line=int(issue["line"]),
        column=col + 1 if col >= 0 else 0,
        message=issue["text"],
        hint="; ".join(parts),
        url=issue.get("more_info", ""),
    )


def _unparseable(gate: str, path: str, reason: str) -> Finding:
    return Finding(
        gate=gate,
        rule="unparseable",
        severity=Severity.CRITICAL,
        path=path,
        line=0,
        message=f"bandit could not analyse this file ({reason}), so nothing in it was checked",
        hint=f"fix the syntax (`python -m py_compile {redaction.shell_word(path)}` shows "
        "where), or exclude the "
        "file with tool.platformgates exclude if it is not Python source",
    )


# -- nosec -------------------------------------------------------------------------------


def _nosec_audit(
    gate: str, comments: Mapping[str, Sequence[NosecComment]], ctx: GateContext
) -> tuple[list[Finding], dict[str, dict[str, int]]]:
    """Findings for the ``nosec`` comments that silence more than they name, and per-file
    counts (``nosec_test:ID`` per test named), from the comments the workers read.

    Both are cached with the file, so the totals are the project's, not this run's.
    """
    choice = ctx.settings["blanket_nosec"]
    blanket_severity = None if choice == "off" else Severity.parse(choice)
    findings: list[Finding] = []
    per_file: dict[str, dict[str, int]] = {}
    for path, found in sorted(comments.items()):
        counts = {"nosec_comments": 0, "nosec_blanket": 0}
        for comment in found:
            counts["nosec_comments"] += 1
            counts["nosec_blanket"] += comment.blanket
            for test_id in comment.known:
                counts[f"nosec_test:{test_id}"] = counts.get(f"nosec_test:{test_id}", 0) + 1
            finding = _nosec_finding(gate, path, comment, blanket_severity)
            if finding is not None:
                findings.append(finding)
        per_file[path] = counts
    return findings, per_file


def _nosec_figures(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The summed per-file nosec counts as the gate reports them."""
    out = {k: v for k, v in figures.items() if not k.startswith("nosec_test:")}
    by_test = {
        k.removeprefix("nosec_test:"): v for k, v in figures.items() if k.startswith("nosec_test:")
    }
    out["nosec_comments"] = figures.get("nosec_comments", 0)
    out["nosec_blanket"] = figures.get("nosec_blanket", 0)
    out["nosec_tests"] = ",".join(f"{k}:{v}" for k, v in sorted(by_test.items()) if v) or "-"
    return out


def nosec_comments(text: str, manager: Any) -> Iterable[NosecComment]:
    """The ``nosec`` comments of a Python source, read as bandit reads them."""
    from bandit.core.manager import NOSEC_COMMENT, NOSEC_COMMENT_TESTS

    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = NOSEC_COMMENT.search(tok.string)
            if match is None:
                continue
            named = match.group("tests") or ""
            known: list[str] = []
            # As bandit does: each match's last repetition only, so that "B602,B404"
            # names B404 alone, exactly as bandit reads it.
            for name in NOSEC_COMMENT_TESTS.finditer(named):
                word = name.group(1)
                test_id = word if manager.check_id(word) else manager.get_test_id(word)
                if test_id:
                    known.append(test_id)
            yield NosecComment(tok.start[0], tuple(known), bool(ID_SHAPED.search(named)))
    except (tokenize.TokenError, SyntaxError):
        return  # bandit stops reading comments here too; a syntax error is reported anyway


def _nosec_finding(
    gate: str, path: str, comment: NosecComment, blanket_severity: Severity | None
) -> Finding | None:
    if not comment.blanket:
        return None  # other words after valid ids are ignored by bandit: a reason, say
    if comment.mistyped:
        # The message names no id on purpose: a finding never carries source text.
        return Finding(
            gate=gate,
            rule="nosec-unknown-test",
            severity=Severity.HIGH,
            path=path,
            line=comment.line,
            message="`nosec` names no known bandit test (a mistyped id?), so bandit treats "
            "it as a blanket nosec that silences every test on this line",
            hint="write the id it means, e.g. `# nosec B603`; `bandit --help` lists them",
        )
    if blanket_severity is None:
        return None
    return Finding(
        gate=gate,
        rule="nosec-blanket",
        severity=blanket_severity,
        path=path,
        line=comment.line,
        message="`nosec` without test ids silences every bandit test on this line, "
        "including tests added later",
        hint="name what it suppresses, e.g. `# nosec B603`, with the reason after another `#`",
    )


def _listing(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    return shown + (f" ... and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else "")


# -- the worker process ----------------------------------------------------------------


class _Records(logging.Handler):
    """Collects bandit's log records: its errors are the crashes it otherwise swallows."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.getMessage()))


def worker(request: Mapping[str, Any]) -> dict[str, Any]:
    """Run bandit on ``request["files"]`` (paths as ``bandit -r .`` shows them) and report."""
    handler = _Records()
    log = logging.getLogger("bandit")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)  # also keeps bandit's progress bar off
    log.propagate = False

    extensions = bandit_extensions()
    empty: dict[str, Any] = {"scanned": [], "skipped": [], "issues": [], "records": [], "nosec": {}}
    try:
        setup = read_setup(Path.cwd(), request["config_option"])
        if setup.digest_input() != request["setup"]:
            raise GateError(
                "bandit's configuration changed while the gate was running; run it again"
            )
        validate_setup(setup, extensions)
    except GateError as exc:
        return {**empty, "invalid": [exc.message, exc.detail]}
    nosec = {}
    for path in request["files"]:
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue  # bandit reports the file it cannot read as skipped, below
        if b"nosec" in data:  # without the bytes no comment can match
            text = data.decode("utf-8-sig", errors="replace")
            nosec[path] = [
                [c.line, list(c.known), c.mistyped] for c in nosec_comments(text, extensions)
            ]

    from bandit.core import config as b_config
    from bandit.core import docs_utils, manager

    class Manager(manager.BanditManager):
        def _parse_file(self, fname: str, fdata: Any, new_files_list: list[str]) -> None:
            # Bandit tokenizes every file to find nosec comments, a sixth of its time.
            # Without the bytes "nosec" no comment can match, so skipping is exact.
            self.ignore_nosec = b"nosec" not in fdata.read()
            fdata.seek(0)
            super()._parse_file(fname, fdata, new_files_list)

    conf = b_config.BanditConfig(config_file=request["config_file"])
    profile = {"include": set(request["tests"]), "exclude": set(request["skips"])}
    mgr = Manager(conf, "file", profile=profile)
    mgr.files_list = sorted(request["files"])  # the files in scope, exactly: no rediscovery
    mgr.run_tests()
    urls: dict[str, str] = {}
    issues = []
    for issue in mgr.get_issue_list("UNDEFINED", "UNDEFINED"):
        if issue.test_id not in urls:
            urls[issue.test_id] = docs_utils.get_url(issue.test_id)
        issues.append(
            {
                "filename": issue.fname,
                "test_id": issue.test_id,
                "test_name": issue.test,
                "severity": issue.severity,
                "confidence": issue.confidence,
                "cwe": issue.cwe.id,
                "text": _redacted(issue.test_id, issue.text),
                "line": issue.lineno,
                "col": issue.col_offset,
                "more_info": urls[issue.test_id],
            }
        )
    return {
        "scanned": list(mgr.files_list),
        "skipped": [list(s) for s in mgr.get_skipped()],
        "issues": issues,
        "records": handler.records,
        "nosec": nosec,
        "invalid": None,
    }


def _redacted(test_id: str, text: str) -> str:
    """Bandit quotes the suspected password in its message; a finding never carries it."""
    if test_id in PASSWORD_TESTS:
        return "Possible hardcoded password (the value is not shown)"
    return text


def _main() -> None:
    request = json.loads(sys.stdin.read())
    out = sys.stdout
    sys.stdout = sys.stderr  # anything bandit prints must not corrupt the report
    report = worker(request)
    out.write(json.dumps(report))
    out.flush()


@hookimpl
def platformgates_gates() -> list[FileGate]:
    return [SastGate()]


if __name__ == "__main__":
    _main()
