"""The pytest plugin: configuration, gate items, result reporting.

Registered by :mod:`.activation` (the entry point, which also defines the options)
only when the project asked for gates, so installing the package changes nothing for
projects that did not. State lives on ``config.stash``; nothing is kept in module globals.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
import pytest

from . import __version__, activation, background, heap, policy, waivers
from .activation import find_pyproject
from .background import CONCURRENCY, BackgroundGates
from .background import start as start_background
from .cache import ResultCache
from .changes import ChangesError, changes_since, merge_base
from .config import ConfigError, Settings, plugin_modules, read_table
from .evidence.session import EVIDENCE_PLUGIN
from .evidence.session import register as register_evidence
from .gate import FileGate, Gate
from .items import MARKER, NODE_PREFIX, GateFailed, GateItem, GatesCollector
from .manager import collect_gates, create_plugin_manager
from .model import GateResult, Verdict
from .redaction import shown, shown_lines
from .runner import GateRunner, PartialScan
from .terminal import summary_table

RESULT_ATTR = "platformgates_result"
RUN_GATES_KEY = "platformgates_run_gates"
SESSION_PLUGIN = "platformgates-session"
XDIST_PLUGIN = "platformgates-xdist"

# Registered with this plugin, before conftests import the project: coverage starts there.
pytest_plugins = ["pytest_platformgates.measurement", "pytest_platformgates.terminal"]


@dataclass
class State:
    """Per-session state, on ``config.stash``."""

    pm: pluggy.PluginManager
    settings: Settings
    gates: dict[str, Gate]
    runner: GateRunner
    run_gates: bool
    why_not: str = ""
    results: dict[str, GateResult] = field(default_factory=dict)
    background: BackgroundGates | None = None


state_key = pytest.StashKey[State]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Named on the command line (-p pytest_platformgates.plugin) instead of reached through
    # the entry point: bring the entry point along, which holds the options and starts
    # the measurement. Registered by it, this finds it there and does nothing.
    if not pluginmanager.is_registered(activation):
        pluginmanager.register(activation, "platformgates")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    source = find_pyproject(config)
    try:
        raw = read_table(source)
        if raw is None:
            if config.option.gates or config.option.gates_only:
                raise ConfigError(
                    f"{source}: --gates/--gates-only given, but there is no "
                    "[tool.platformgates] table to configure the gates"
                )
            return
        pm, gates, settings = load_project(source, raw)
        partial = _partial_scan(config, settings)
        weakened = policy.guard_options(
            settings,
            no_gates=bool(config.option.no_gates),
            changed=getattr(config.option, "gates_changed", None),
        )
    except ConfigError as exc:  # it may quote a key or a value: the project's text
        raise pytest.UsageError(f"platformgates: {shown(exc)}") from None
    if weakened:
        config.issue_config_time_warning(pytest.PytestConfigWarning(weakened), stacklevel=2)
    if config.option.gates_only and config.option.no_gates:
        raise pytest.UsageError("platformgates: --gates-only and --no-gates contradict each other")

    run_gates, why_not = _decide(config)
    pytest_cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    cache = ResultCache(pytest_cache.mkdir("platformgates"), __version__) if pytest_cache else None
    config.stash[state_key] = State(
        pm=pm,
        settings=settings,
        gates=gates,
        runner=GateRunner(settings, gates, cache, partial=partial),
        run_gates=run_gates,
        why_not=why_not,
    )
    config.addinivalue_line("markers", f"{MARKER}: a quality or security gate (platformgates)")
    config.pluginmanager.register(GateSession(config), SESSION_PLUGIN)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), XDIST_PLUGIN)
    if run_gates and not hasattr(config, "workerinput"):
        narrowed = tuple(sorted(n for n, g in gates.items() if isinstance(g, FileGate)))
        register_evidence(config, pm, settings, partial=partial, narrowed=narrowed)


def load_project(
    source: Path, raw: dict[str, Any]
) -> tuple[pluggy.PluginManager, dict[str, Gate], Settings]:
    """Plugins, gates and effective settings from ``[tool.platformgates]`` of ``source``.

    The one way to load them: the background process (background.py) calls it too, so
    that policy, guardrails and waivers apply there exactly as here.
    """
    root = source.parent
    resolved = policy.resolve(source, raw)  # extends chain, merged bases first
    pm = create_plugin_manager(plugin_modules(resolved.raw, source), root)
    gates = collect_gates(pm, resolved.raw)
    settings = policy.settle(resolved, root, gates)  # guardrails and waivers
    return pm, gates, settings


def _partial_scan(config: pytest.Config, settings: Settings) -> PartialScan | None:
    """``--gates-changed[=BASE]`` as the files to scan; git's failures are usage errors."""
    base = getattr(config.option, "gates_changed", None)
    if base is None or base is False:
        return None
    root = settings.root
    try:
        if base is True:
            base = default_base(root)
        changes = changes_since(root, base)
    except ChangesError as exc:
        hint = ""
        if isinstance(base, str) and (config.invocation_params.dir / base).exists():
            hint = f" ({base!r} is a path: write --gates-changed=BASE before test paths)"
        raise pytest.UsageError(f"platformgates: --gates-changed: {exc}{hint}") from None
    return PartialScan(base=base, commit=changes.commit, paths=changes.paths)


def default_base(root: Path) -> str:
    """The base of ``--gates-changed`` without a value.

    The remote's default branch (``origin/HEAD``), else a local ``main``, else
    ``master``; else ``HEAD`` itself, so that only uncommitted changes count.
    """
    for candidate in ("origin/HEAD", "main", "master"):
        try:
            merge_base(root, candidate)
        except ChangesError:
            continue
        return candidate
    return "HEAD"


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    heap.park(config)  # a gates-only session, over: before pytest's collections (heap.py)
    for name in (SESSION_PLUGIN, XDIST_PLUGIN, EVIDENCE_PLUGIN):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin, name)


def _decide(config: pytest.Config) -> tuple[bool, str]:
    """Whether this session runs the gates, and if not, why (PRODUCT.md's rules)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and RUN_GATES_KEY in workerinput:
        return bool(workerinput[RUN_GATES_KEY]), "decided by the xdist controller"
    opt = config.option
    if opt.no_gates:
        return False, "--no-gates given"
    if opt.gates or opt.gates_only or opt.gates_changed:
        return True, ""  # --gates-changed asks for gates as plainly as --gates does
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return True, ""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return True, ""
    root = config.rootpath.resolve()
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        path = path if path.is_absolute() else config.invocation_params.dir / path
        if path.resolve() == root or root.is_relative_to(path.resolve()):
            return True, ""
    return False, "only some tests were named (pass --gates to run the gates too)"


class _XdistHooks:
    """Registered only with pytest-xdist: the controller decides for its workers."""

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        state = node.config.stash.get(state_key, None)
        if state is not None:
            node.workerinput[RUN_GATES_KEY] = state.run_gates


class GateSession:
    """The hooks of an active session, registered as a plugin object like junitxml's LogXML."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state = config.stash[state_key]
        # The process that owns the session: the only one that reports and writes evidence.
        self.owner = not hasattr(config, "workerinput")
        self.decided: dict[str, GateResult] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        # --gates-only: collecting (importing) every test module only to deselect it can
        # cost more than the gates themselves on a large tree.
        if config.option.gates_only and self.state.run_gates:
            return True
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        # tryfirst: gate items must exist before -k/-m and --lf filter the list.
        state = self.state
        if not state.run_gates:
            return
        names = [name for name, g in sorted(state.settings.gates.items()) if g.enabled]
        collector = GatesCollector.for_session(session, state.runner, names)
        # Through the public collection hooks, so pytest counts and reports the gates.
        report = config.hook.pytest_make_collect_report(collector=collector)
        config.hook.pytest_collectreport(report=report)
        gate_items = [node for node in report.result if isinstance(node, GateItem)]
        if config.option.gates_only:
            if items:
                config.hook.pytest_deselected(items=list(items))
            items[:] = gate_items
        else:
            items.extend(gate_items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # After -k/-m/--deselect: a required gate left out is refused in CI (policy.py).
        if not self.state.run_gates or self.config.option.collectonly:
            return
        selected = {item.name for item in session.items if isinstance(item, GateItem)}
        try:
            weakened = policy.guard_selection(self.state.settings, selected)
        except ConfigError as exc:
            message = f"platformgates: {shown(exc)}"  # it may quote the project's text
            if self.owner:
                raise pytest.UsageError(message) from None
            # An xdist worker: a collection error reaches the controller, which stops the run.
            report = pytest.CollectReport(NODE_PREFIX, "failed", message, [])
            self.config.hook.pytest_collectreport(report=report)
            session.items.clear()
            return
        if weakened:
            warnings.warn(pytest.PytestWarning(weakened), stacklevel=1)
        if self.owner and session.items and all(isinstance(i, GateItem) for i in session.items):
            # Nothing but gates runs in this process: no test can notice (heap.py).
            heap.tune_session(self.config)
        self._start_background(session)

    def _start_background(self, session: pytest.Session) -> None:
        """Start computing the selected gates now, while the tests run.

        In a background process when there are tests to overlap; side by side in threads
        of this process when there are none (``--gates-only``). Only in the process that
        owns the session: xdist workers spread the gate items among themselves instead.
        """
        config = self.config
        if not self.owner or config.option.gates_inline or config.option.collectonly:
            return
        if not config.getini("platformgates_background") or self.state.background:
            return
        if config.pluginmanager.get_plugin("dsession") is not None:
            return  # the xdist controller: its workers collect and run the items
        runner = self.state.runner
        names = [item.name for item in session.items if isinstance(item, GateItem)]
        if len(names) == len(session.items):
            # No tests to overlap: computing the gates side by side here is quicker
            # than starting another process for them.
            eligible = [n for n in names if background.in_background(runner.gates[n])]
            eligible = [n for n in eligible if not runner.not_evaluated(n)]
            runner.prefetch(runner.longest_first(eligible), CONCURRENCY)
            return
        names = runner.longest_first([n for n in names if not runner.not_evaluated(n)])
        cache = runner.cache
        self.state.background = runner.background = start_background(
            runner.gates,
            names,
            timeouts={n: self.state.settings.gates[n].timeout for n in names},
            pyproject=self.state.settings.source,
            cache_dir=cache.directory if cache is not None else None,
            partial=runner.partial.to_dict() if runner.partial is not None else None,
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if not isinstance(item, GateItem):
            return report
        if call.excinfo is not None and isinstance(call.excinfo.value, GateFailed):
            # pytest renders setup errors with a traceback; a gate that could not judge
            # gets the same clean report as a failing one.
            report.longrepr = item.repr_failure(call.excinfo)
        if item.result is not None:
            # The verdict rides on the report of the phase that decided it, so that it
            # crosses xdist's wire and the owner sees each gate exactly once.
            deciding = "setup" if item.result.verdict is Verdict.ERROR else "call"
            if call.when == deciding:
                if self.owner:
                    # No wire to cross: the owner keeps the object (thousands of
                    # findings need no trip through JSON); the report names the gate.
                    self.decided[item.result.gate] = item.result
                    setattr(report, RESULT_ATTR, {"gate": item.result.gate, "local": True})
                else:
                    # As JSON text: execnet refuses a string that is not UTF-8 (a file
                    # name's byte kept as a surrogate), which json escapes and restores.
                    wire = {"gate": item.result.gate, "json": json.dumps(item.result.to_dict())}
                    setattr(report, RESULT_ATTR, wire)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, RESULT_ATTR, None)
        if data is None or not self.owner:
            return
        local = data.get("local") and self.decided.get(data["gate"])
        result = local or GateResult.from_dict(json.loads(data["json"]))
        if result.gate not in self.state.results:
            self.state.results[result.gate] = result
            self.state.pm.hook.platformgates_gate_finished(
                result=result, settings=self.state.settings
            )

    def pytest_sessionfinish(self) -> None:
        state = self.state
        if state.background is not None:
            # Its results were taken; an interrupted session (-x, Ctrl-C) never waited.
            state.background.close()
        state.runner.shutdown()
        if not self.owner or not state.results:
            return
        if state.runner.cache is not None:
            state.runner.cache.save_timings({n: r.duration for n, r in state.results.items()})
        results = [state.results[name] for name in sorted(state.results)]
        state.pm.hook.platformgates_session_finished(results=results, settings=state.settings)

    def pytest_report_header(self) -> str:
        state = self.state
        if not state.run_gates:
            return f"platformgates {__version__}: gates not run: {state.why_not}"
        enabled = sorted(n for n, g in state.settings.gates.items() if g.enabled)
        return (
            f"platformgates {__version__}: gates {', '.join(enabled) or 'none'} "
            f"(config {state.settings.digest[:12]})"
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        if not self.owner:
            return
        if not state.run_gates:
            terminalreporter.write_sep("-", "platformgates")
            terminalreporter.write_line(f"gates not run: {state.why_not}")
            return
        if not state.results:
            return
        terminalreporter.write_sep("=", "platformgates summary")
        results = [state.results[name] for name in sorted(state.results)]
        for line in summary_table(results, terminalreporter.verbosity):
            terminalreporter.write_line(line)
        for line in waivers.summary_lines(results):
            terminalreporter.write_line(shown(line))  # owner, reason: the project's text
        for line in state.settings.policy.overrides if state.settings.policy else ():
            terminalreporter.write_line(line, red=True, bold=True)
        if state.runner.partial is not None:
            terminalreporter.write_line(
                f"PARTIAL SCAN: {state.runner.partial.describe()}; not a full verdict",
                yellow=True,
                bold=True,
            )
        # A failing gate's report already carries its notes; a passing gate's would be lost.
        for result in results:
            if result.verdict is Verdict.PASSED:
                for note in result.notes:
                    first, *rest = shown_lines(note)
                    for line in (f"{result.gate}: note: {first}", *rest):
                        terminalreporter.write_line(line)
