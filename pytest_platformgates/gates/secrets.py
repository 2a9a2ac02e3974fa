"""The secrets gate: detect-secrets on every text file in scope, exactly as its CLI would.

detect-secrets runs as a library in worker processes started in the project root, so
file names, filters and custom plugins resolve as for ``detect-secrets scan`` run
there. Its settings come from the project's ``.secrets.baseline`` (plugins, filters,
exclude regexes) or, without one, from its defaults; the verification filter, which
calls vendor APIs, is always off. A secret the baseline records is accepted unless
``detect-secrets audit`` marked it a true secret; any other secret is critical.

Speed without changing a result: detect-secrets dispatches every line to every plugin
in Python. The workers first ask, per plugin and over the whole file at C speed,
which lines *could* yield a candidate (see :mod:`.secrets_prefilter`), and hand only
those lines to detect-secrets' own per-line code. Filters only ever remove
candidates, so skipping a line no plugin can match cannot change the outcome.

A secret's value never leaves a worker: findings carry the type, the length and
detect-secrets' ``hashed_secret``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, Option
from ..gate import FileAnalysis, FileGate, GateContext, GateError
from ..hookspecs import hookimpl
from ..inventory import FileStatus, InventoryFile
from ..model import Analysis, Finding, Severity
from ..process import installed_version, map_in_threads, run_tool
from .secrets_prefilter import Prefilter

PROTOCOL = 1
DEFAULT_BASELINE = ".secrets.baseline"
VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
BASELINE_FILTER = "detect_secrets.filters.common.is_baseline_file"
EXCLUDE_FILES_FILTER = "detect_secrets.filters.regex.should_exclude_file"
#: detect-secrets' filters that skip a text file for its name alone.
NAME_HEURISTICS = (
    "detect_secrets.filters.heuristic.is_non_text_file",
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_swagger_file",
)
#: Below this many bytes a second worker costs more than it saves.
SHARD_BYTES = 512 * 1024
RULE = "secret"
# A filter as detect-secrets names one: a dotted import path, or a file and a function in it.
FILTER_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|file://.+::[A-Za-z_]\w*")
MIN_DETECT_SECRETS, BELOW_DETECT_SECRETS = "1.5", "2"


class SecretsGate(FileGate):
    name = "secrets"
    description = "detect-secrets on every text file; an unaudited secret always blocks"
    patterns = ("*",)
    skipped_unreadable = (
        "files_skipped_binary",
        "binary file(s) with names detect-secrets deems non-text were not scanned",
    )
    options = (
        Option(
            "baseline",
            "str",
            None,
            "detect-secrets baseline, relative to the project root. Unset: "
            "`.secrets.baseline` when that file exists, else detect-secrets' default "
            "plugins and filters. A baseline named here must exist and be valid.",
        ),
        Option(
            "filename_heuristics",
            "bool",
            True,
            "Honour detect-secrets' filters that skip text files by name alone (extensions "
            "it deems non-text such as .css .svg .map .lock, lock files, any path containing "
            "'swagger'). Skipped files are named in the report; false scans them too.",
        ),
        Option(
            "processes",
            "int",
            0,
            "Worker processes scanning in parallel; 0 means one per available CPU.",
            minimum=0,
            maximum=64,
        ),
    )

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        baseline = values["baseline"]
        if baseline is not None and Path(baseline).is_absolute():
            raise ConfigError(f"{where}.baseline must be relative to the project root")

    # -- what the core needs before scanning ---------------------------------------

    def tool_versions(self, ctx: GateContext) -> Mapping[str, str]:
        return {"detect-secrets": _detect_secrets_version()}

    def cache_inputs(self, ctx: GateContext) -> Mapping[str, str]:
        """The baseline and any custom plugin or filter it loads: editing one rescans."""
        return self._plan(ctx).digests

    def _plan(self, ctx: GateContext) -> Plan:
        # One reading of the baseline per check: the cache key and the judgement must
        # come from the same version of it.
        if id(ctx) not in self._plans:
            self._plans[id(ctx)] = load_plan(ctx)
        return self._plans[id(ctx)]

    def unscannable(self, file: InventoryFile) -> Finding | None:
        """Binary files with an extension detect-secrets deems non-text are skipped knowingly.

        Anything else detect-secrets cannot read (NUL bytes or invalid UTF-8 under a
        text-like name, too large, unreadable) would be dropped by it without a word,
        so it is a critical finding.
        """
        if file.status in (FileStatus.BINARY, FileStatus.UNDECODABLE, FileStatus.TOO_LARGE) and (
            _is_non_text_name(file.path)
        ):
            return None
        finding = super().unscannable(file)
        if finding is None:
            return None
        return Finding(
            gate=finding.gate,
            rule=finding.rule,
            severity=Severity.CRITICAL,
            path=finding.path,
            line=0,
            message=f"{finding.message}: detect-secrets would skip it without a word",
            hint="a secret in it would go unnoticed: convert it to UTF-8 text, or exclude it "
            "with [tool.platformgates] exclude if it holds no secrets",
        )

    def __init__(self) -> None:
        self._plans: dict[int, Plan] = {}

    def check(self, ctx: GateContext) -> Analysis:
        try:
            return super().check(ctx)
        finally:
            self._plans.pop(id(ctx), None)

    def nothing_scanned(self, figures: Mapping[str, int | float | str], ctx: GateContext) -> str:
        """Which of detect-secrets' filters left every file in scope unscanned, and the remedy.

        Its filters (the baseline's ``--exclude-files`` regexes, its name heuristics, the
        baseline itself) are honoured per file; the count is over cached and fresh files
        alike (gate.py), so a warm run errors too.
        """
        plan = self._plan(ctx)
        readable = int(figures.get("files_analysed", 0)) + int(figures.get("files_cached", 0))
        skipped = int(figures.get("files_skipped", 0))
        checked = int(figures["files_checked"])
        binary = int(figures.get("files_skipped_binary", 0))
        parts = [f"{skipped} skipped by its filters (named in the note)"] if skipped else []
        if binary:
            parts.append(f"{binary} binary with names it deems non-text")
        if checked - readable - binary:
            parts.append(f"{checked - readable - binary} it cannot read or that are links")
        patterns = _exclude_files_patterns(plan.config)
        where = plan.baseline_path or DEFAULT_BASELINE
        if patterns:
            shown = ", ".join(repr(p) for p in patterns)
            cause = (
                f"; the baseline {where} excludes files matching {shown} "
                "(detect-secrets' `--exclude-files`)"
            )
            remedy = (
                "narrow that regex (the `pattern` of should_exclude_file in the baseline's "
                "`filters_used`, written by `detect-secrets scan --exclude-files REGEX`)"
            )
        else:
            cause = ""
            remedy = "scan them (`filename_heuristics = false`), or bring text files into scope"
        return (
            f"detect-secrets scanned none of the {checked} file(s) in scope: "
            f"{', '.join(parts)}{cause}. Nothing was looked at, so no secret could be found: "
            f"{remedy}, or disable the secrets gate deliberately"
        )

    # -- scanning -------------------------------------------------------------------

    def analyse(self, files: Sequence[InventoryFile], ctx: GateContext) -> FileAnalysis:
        plan = self._plan(ctx)
        shards = split(files, _process_count(ctx.settings["processes"]))
        request = {
            "protocol": PROTOCOL,
            "config": plan.config,
            # detect-secrets compares file base names with the name it is given.
            "baseline": Path(plan.baseline_path).name if plan.baseline_path else None,
            "filename_heuristics": bool(ctx.settings["filename_heuristics"]),
        }
        replies = map_in_threads(
            lambda shard: _run_worker(request, shard, ctx), shards, len(shards)
        )

        findings: list[Finding] = []
        problems: list[str] = []
        skipped: dict[str, str] = {}
        file_figures: dict[str, dict[str, int]] = {}
        figures = {"lines": 0, "lines_dispatched": 0, "workers": len(shards)}
        for reply in replies:
            problems.extend(reply.problems)
            skipped.update(reply.skipped)
            for key in ("lines", "lines_dispatched"):
                figures[key] += reply.stats.get(key, 0)
            for path in reply.unread:
                findings.append(
                    Finding(
                        gate=self.name,
                        rule="unscannable-file",
                        severity=Severity.CRITICAL,
                        path=path,
                        line=0,
                        message="detect-secrets could not read this file as text",
                        hint="a secret in it would go unnoticed: make it UTF-8 text, or "
                        "exclude it with [tool.platformgates] exclude if it holds no secrets",
                    )
                )
            for path, secrets in reply.secrets.items():
                baselined = 0
                for secret in secrets:
                    finding = plan.judge(self.name, path, secret)
                    if finding is None:
                        baselined += 1
                    else:
                        findings.append(finding)
                file_figures[path] = {"secrets_baselined": baselined}
        return FileAnalysis(
            findings=findings,
            problems=problems,
            skipped=skipped,
            file_figures=file_figures,
            figures=figures,
        )


def _exclude_files_patterns(config: Mapping[str, Any] | None) -> list[str]:
    """The ``--exclude-files`` regexes a baseline's settings hold, as detect-secrets reads them."""
    found: list[str] = []
    for filt in (config or {}).get("filters_used", []):
        if filt.get("path") == EXCLUDE_FILES_FILTER:
            pattern = filt.get("pattern")
            found.extend(map(str, pattern if isinstance(pattern, list) else [pattern]))
    return found


# -- the baseline and the settings handed to the workers ------------------------------


@dataclass(frozen=True)
class Secret:
    """One secret as a worker reports it: never the value, only what identifies it."""

    type: str
    hashed_secret: str
    line: int
    length: int


@dataclass(frozen=True)
class Plan:
    """The detect-secrets settings for a run and the secrets the baseline knows."""

    baseline_path: str | None
    config: Mapping[str, Any] | None  # None: detect-secrets' defaults
    known: Mapping[tuple[str, str, str], bool | None]  # (path, type, hash) -> is_secret
    digests: Mapping[str, str]

    def judge(self, gate: str, path: str, secret: Secret) -> Finding | None:
        """The finding for a secret found in ``path``; None when the baseline accepts it."""
        key = (path, secret.type, secret.hashed_secret)
        where = self.baseline_path or DEFAULT_BASELINE
        if key in self.known and self.known[key] is not True:
            return None
        described = (
            f"{secret.type} [redacted, {secret.length} characters], "
            f"hashed_secret {secret.hashed_secret}"
        )
        if key in self.known:
            return Finding(
                gate=gate,
                rule=RULE,
                severity=Severity.CRITICAL,
                path=path,
                line=secret.line,
                message=f"{described}: marked as a true secret in {where}",
                hint="remove it from the file and rotate the credential; the audited "
                "baseline says it is real",
            )
        return Finding(
            gate=gate,
            rule=RULE,
            severity=Severity.CRITICAL,
            path=path,
            line=secret.line,
            message=f"{described}: unaudited secret",
            hint="remove it and rotate the credential. A false positive: add "
            "`# pragma: allowlist secret` to the line, or record it with "
            f"`detect-secrets scan --baseline {where}` and mark it with "
            f"`detect-secrets audit {where}`",
        )


def load_plan(ctx: GateContext) -> Plan:
    """Read and check the baseline the settings name (or the default one, if present)."""
    configured = ctx.settings["baseline"]
    rel = configured or DEFAULT_BASELINE
    path = ctx.root / rel
    if not path.is_file():
        if configured:
            raise GateError(
                f"the baseline {configured} named by the secrets gate's `baseline` does not "
                "exist; create it with `detect-secrets scan > "
                f"{configured}`, or remove the setting"
            )
        return Plan(None, None, {}, {"baseline": "none"})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GateError(f"the baseline {rel} cannot be read: {exc.strerror}") from None
    digests = {"baseline": hashlib.sha256(raw).hexdigest()}
    config, known = parse_baseline(raw, rel)
    for extra in _custom_code_paths(config):
        try:
            digests[extra] = hashlib.sha256((ctx.root / extra).read_bytes()).hexdigest()
        except OSError:
            digests[extra] = "missing"  # the worker reports it properly
    return Plan(Path(rel).as_posix(), config, known, digests)


def parse_baseline(
    raw: bytes, rel: str
) -> tuple[dict[str, Any], dict[tuple[str, str, str], bool | None]]:
    """Validate a baseline document; return its settings and its recorded secrets."""

    def bad(why: str) -> GateError:
        return GateError(
            f"the baseline {rel} is not a valid detect-secrets baseline: {why}",
            f"regenerate it with `detect-secrets scan --baseline {rel}` (or "
            f"`detect-secrets scan > {rel}`) and audit it with `detect-secrets audit {rel}`",
        )

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise bad("the document is not a JSON object")
    if not isinstance(data.get("version"), str):
        raise bad("no `version` string")
    try:
        # upgrade() returns a baseline of the installed version unchanged; not importing
        # detect-secrets for it keeps a warm run free of the tool.
        if data["version"] != _detect_secrets_version():
            from detect_secrets.core import baseline as ds_baseline

            data = ds_baseline.upgrade(data)
    except GateError:
        raise
    except Exception as exc:
        raise bad(f"cannot upgrade it from version {data['version']!r} ({exc!r})") from None
    plugins = data.get("plugins_used")
    if not isinstance(plugins, list) or not plugins:
        raise bad("`plugins_used` is missing or empty, so nothing would be scanned")
    if not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in plugins):
        raise bad("every entry of `plugins_used` needs a `name`")
    filters = data.get("filters_used", [])
    if not isinstance(filters, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in filters
    ):
        raise bad("every entry of `filters_used` needs a `path`")
    for f in filters:
        if not FILTER_PATH.fullmatch(f["path"]):
            # detect-secrets itself fails on such a path with a bare ValueError.
            raise bad(
                f"the filter path {f['path']!r} names no function: write "
                "`package.module.function` or `file://path/to/file.py::function`"
            )
    results = data.get("results")
    if not isinstance(results, dict):
        raise bad("no `results` object")
    known: dict[tuple[str, str, str], bool | None] = {}
    for filename, entries in results.items():
        if not isinstance(entries, list):
            raise bad(f"results[{filename!r}] is not a list")
        for i, entry in enumerate(entries):
            where = f"results[{filename!r}][{i}]"
            if not isinstance(entry, dict):
                raise bad(f"{where} is not an object")
            kind, hashed = entry.get("type"), entry.get("hashed_secret")
            if not isinstance(kind, str) or not isinstance(hashed, str):
                raise bad(f"{where} needs `type` and `hashed_secret` strings")
            is_secret = entry.get("is_secret")
            if is_secret is not None and not isinstance(is_secret, bool):
                raise bad(f"{where}.is_secret must be true, false or absent")
            key = (filename.replace("\\", "/"), kind, hashed)
            # Recorded twice: audited as a true secret in either copy, it stays one.
            if key not in known or is_secret is True:
                known[key] = is_secret
    config = {"plugins_used": plugins, "filters_used": filters}
    return config, known


def _custom_code_paths(config: Mapping[str, Any]) -> list[str]:
    """Files of custom plugins and filters a baseline loads (their code shapes results)."""
    paths = []
    for plugin in config.get("plugins_used", []):
        if isinstance(plugin.get("path"), str) and plugin["path"].startswith("file://"):
            paths.append(plugin["path"][len("file://") :])
    for filt in config.get("filters_used", []):
        if filt["path"].startswith("file://"):
            paths.append(filt["path"][len("file://") :].split("::")[0])
    return sorted(set(paths))


# -- running the workers ----------------------------------------------------------------


def _process_count(configured: int) -> int:
    if configured:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def split(files: Sequence[InventoryFile], processes: int) -> list[list[str]]:
    """Balance files over at most ``processes`` shards by size (largest first)."""
    total = sum(f.size for f in files)
    count = max(1, min(processes, len(files), math.ceil(total / SHARD_BYTES)))
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for f in sorted(files, key=lambda f: (-f.size, f.path)):
        i = loads.index(min(loads))
        shards[i].append(f.path)
        loads[i] += f.size
    return [s for s in shards if s]


@dataclass(frozen=True)
class Reply:
    """A worker's account of its files: each one has secrets (maybe none), or was skipped
    by a detect-secrets filter, or could not be read."""

    secrets: Mapping[str, list[Secret]]
    skipped: Mapping[str, str]
    unread: Sequence[str]
    failed: Sequence[str]  # detect-secrets raised on them: each has a problem
    problems: Sequence[str]
    stats: Mapping[str, int]


WORKER_CODE = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"
    "from pytest_platformgates.gates.secrets import worker_main; worker_main()\n"
)


def _run_worker(request: Mapping[str, Any], paths: list[str], ctx: GateContext) -> Reply:
    proc = run_tool(
        [sys.executable, "-c", WORKER_CODE],
        cwd=ctx.root,
        timeout=ctx.timeout,
        stdin=json.dumps({**request, "files": paths}),
        # UTF-8 as detect-secrets' CLI reads files in a UTF-8 locale; the project's
        # own modules must never shadow ours or the standard library's.
        env={"PYTHONUTF8": "1", "PYTHONSAFEPATH": "1", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        data = json.loads(proc.stdout)
        if data.get("protocol") != PROTOCOL:
            raise ValueError(f"protocol {data.get('protocol')!r}")
        if data.get("fatal"):
            raise GateError(f"detect-secrets could not be set up: {data['fatal']}")
        secrets = {
            str(path): [Secret(str(t), str(h), int(n), int(k)) for t, h, n, k in found]
            for path, found in data["secrets"].items()
        }
        reply = Reply(
            secrets=secrets,
            skipped={str(k): str(v) for k, v in data["skipped"].items()},
            unread=[str(p) for p in data["unread"]],
            failed=[str(p) for p in data["failed"]],
            problems=[str(p) for p in data["problems"]],
            stats={str(k): int(v) for k, v in data["stats"].items()},
        )
    except GateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # Never echo the output itself: it is ours, but be safe about what it may hold.
        raise GateError(
            f"the detect-secrets worker answered something unreadable ({type(exc).__name__})"
        ) from None
    answered = set(reply.secrets) | set(reply.skipped) | set(reply.unread) | set(reply.failed)
    missing = [p for p in paths if p not in answered]
    if missing:
        raise GateError(
            f"the detect-secrets worker did not account for {len(missing)} file(s), e.g. "
            f"{missing[0]}; nothing can be concluded about them"
        )
    return reply


def _detect_secrets_version() -> str:
    # From the distribution's metadata: importing detect-secrets (and requests with it)
    # would cost a warm run with every file cached more than everything else it does.
    # The worker drives detect-secrets' own API and reads its baseline format.
    return installed_version("detect-secrets", MIN_DETECT_SECRETS, BELOW_DETECT_SECRETS)


def _is_non_text_name(path: str) -> bool:
    from detect_secrets.filters.heuristic import is_non_text_file

    return bool(is_non_text_file(path))


# -- the worker: detect-secrets' own scan, minus the lines no plugin can match ----------


def worker_main() -> None:
    """Entry point of a worker process: a JSON request on stdin, a JSON reply on stdout."""
    request = json.loads(sys.stdin.read())
    try:
        reply = serve(request)
    except SetupError as exc:
        reply = {"protocol": PROTOCOL, "fatal": str(exc)}
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()


class SetupError(Exception):
    """detect-secrets could not be configured as the baseline asks."""


class _LogCollector(logging.Handler):
    """detect-secrets warns through its logger and carries on; the gate must not."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Only detect-secrets' own messages are quoted: they name files and filters,
        # never a secret. Custom plugin code could log anything.
        if "detect_secrets" in Path(record.pathname).parts:
            self.messages.append(f"detect-secrets: {record.getMessage()}")
        else:
            self.messages.append(f"a {record.levelname.lower()} from {record.module}")


def serve(request: Mapping[str, Any]) -> dict[str, Any]:
    """Scan the request's files under the request's settings; the reply holds no secret."""
    from detect_secrets.settings import default_settings, get_plugins, transient_settings

    collector = _LogCollector()
    log = logging.getLogger("detect-secrets")
    log.handlers = [collector]
    log.setLevel(logging.WARNING)  # its INFO and DEBUG messages quote secrets
    log.propagate = False

    config = request.get("config")
    context = default_settings() if config is None else transient_settings(dict(config))
    with contextlib.ExitStack() as stack:
        # Whatever custom plugin code prints must not corrupt the reply, nor be kept.
        devnull = stack.enter_context(open(os.devnull, "w"))
        stack.enter_context(contextlib.redirect_stdout(devnull))
        try:
            settings = stack.enter_context(context)
        except Exception as exc:
            raise SetupError(f"{type(exc).__name__}: {exc}") from None
        _adjust(settings, request.get("baseline"), bool(request["filename_heuristics"]))
        try:
            plugins = get_plugins()
        except Exception as exc:
            detail = "; ".join(collector.messages) or f"{type(exc).__name__}: {exc}"
            raise SetupError(f"its plugins cannot be loaded ({detail})") from None
        if not plugins:
            raise SetupError("no plugins are enabled, so nothing would be found")
        scanner = Scanner()
        secrets: dict[str, list[list[Any]]] = {}
        skipped: dict[str, str] = {}
        unread: list[str] = []
        failed: list[str] = []
        problems: list[str] = []
        for path in request["files"]:
            try:
                outcome = scanner.scan(path)
            except Exception as exc:
                # The message of an exception may quote the line; name the place only.
                where = traceback.extract_tb(exc.__traceback__)[-1]
                problems.append(
                    f"detect-secrets failed on {path}: {type(exc).__name__} in "
                    f"{Path(where.filename).name}:{where.lineno} ({where.name})"
                )
                failed.append(path)
                continue
            if outcome.skipped:
                skipped[path] = outcome.skipped
            elif outcome.unread:
                unread.append(path)
            else:
                secrets[path] = [
                    [s.type, s.secret_hash, s.line_number, len(s.secret_value or "")]
                    for s in outcome.secrets
                ]
        problems.extend(dict.fromkeys(collector.messages))
        return {
            "protocol": PROTOCOL,
            "secrets": secrets,
            "skipped": skipped,
            "unread": unread,
            "failed": failed,
            "problems": problems,
            "stats": {"lines": scanner.lines, "lines_dispatched": scanner.dispatched},
        }


def _adjust(settings: Any, baseline: str | None, filename_heuristics: bool) -> None:
    """The gate's fixed departures from plain settings: hermetic, and its baseline unscanned."""
    from detect_secrets.settings import get_filters

    settings.disable_filters(VERIFY_FILTER)  # it calls vendor APIs
    if baseline:
        settings.filters[BASELINE_FILTER] = {"filename": baseline}
    if not filename_heuristics:
        settings.disable_filters(*NAME_HEURISTICS)
    get_filters.cache_clear()


@dataclass
class Outcome:
    """What became of one file: its secrets, or the filter that skipped it, or unread."""

    secrets: list[Any]
    skipped: str = ""
    unread: bool = False


class Scanner:
    """``detect_secrets.core.scan.scan_file``, with the per-line dispatch prefiltered."""

    def __init__(self) -> None:
        self.lines = 0
        self.dispatched = 0
        self._prefilter: Prefilter | None = None

    def scan(self, filename: str) -> Outcome:
        from detect_secrets.core import scan

        for filt in scan.get_filters_with_parameter("filename"):
            try:
                if _call(filt, filename=filename):
                    return Outcome([], skipped=_filter_name(filt))
            except TypeError:
                continue  # needs more than a file name: applied per line, as in scan_file
        found: dict[tuple[str, str], Any] = {}
        phases = 0
        try:
            for lines in scan._get_lines_from_file(filename):
                phases += 1
                for secret in self._process(lines, filename):
                    # As in SecretsCollection: a set, so the first line of a secret wins.
                    found.setdefault((secret.type, secret.secret_hash), secret)
                if found:
                    break
        except OSError:
            return Outcome([], unread=True)
        if phases == 0:  # detect-secrets dropped it as undecodable
            return Outcome([], unread=True)
        return Outcome(list(found.values()))

    def _process(self, lines: list[str], filename: str) -> Iterator[Any]:
        """``scan._process_line_based_plugins`` over the candidate lines only."""
        from detect_secrets.core import scan
        from detect_secrets.settings import get_plugins
        from detect_secrets.util.code_snippet import get_code_snippet

        stripped = [line.rstrip() for line in lines]
        plugins = get_plugins()
        if self._prefilter is None or self._prefilter.plugins is not plugins:
            self._prefilter = Prefilter(plugins)
        candidates = self._prefilter.candidates(stripped, filename)
        self.lines += len(stripped)
        self.dispatched += len(candidates)
        for index in sorted(candidates):
            line_number = index + 1
            line = stripped[index]
            snippet = get_code_snippet(lines=lines, line_number=line_number)
            if scan._is_filtered_out(
                required_filter_parameters=["line"],
                filename=filename,
                line=line,
                context=snippet,
            ):
                continue
            for plugin_index in candidates[index]:
                plugin = plugins[plugin_index]
                for secret in scan._scan_line(
                    plugin=plugin,
                    filename=filename,
                    line=line,
                    line_number=line_number,
                    context=snippet,
                ):
                    if not scan._is_filtered_out(
                        required_filter_parameters=["context"],
                        filename=secret.filename,
                        secret=secret.secret_value,
                        plugin=plugin,
                        line=line,
                        context=snippet,
                    ):
                        yield secret


def _call(func: Any, **kwargs: Any) -> Any:
    from detect_secrets.util.inject import call_function_with_arguments

    return call_function_with_arguments(func, **kwargs)


def _filter_name(func: Any) -> str:
    path = str(getattr(func, "path", getattr(func, "__name__", "a filter")))
    return f"detect-secrets filter {path.rsplit('.', 1)[-1]}"


@hookimpl
def platformgates_gates() -> list[FileGate]:
    return [SecretsGate()]
