"""Measuring the test session for the coverage gate, and knowing whether it ran whole.

Coverage is measured where the tests run and judged where all of it is known, which
no other gate needs, so this module hooks into pytest itself:

- Measurement starts in ``pytest_load_initial_conftests``, before conftests import the
  project, so that import-time lines count: :mod:`.activation` calls :func:`begin` there
  when it registers the plugin. A module registered at configure time would be too
  late; nothing is measured unless the project enables the coverage gate.
- When pytest-cov or ``coverage run`` already measures the process, their
  measurement is used: a second tracer would take over theirs.
- Measurement stops when the first gate item starts: the gates' own work is not
  the tests' coverage. Tests are moved ahead of every gate item for that.
- The run is *partial* when tests were deselected, only some were named, some failed
  to collect, or some never ran; the gate does not judge a partial run as if whole.
- Under pytest-xdist each worker measures its share and sends the data with its
  results; the coverage item is taken out of the workers' collection and run by the
  controller once every worker has finished, on the combined data.
"""

from __future__ import annotations

import contextlib
import glob
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from coverage import Coverage, CoverageData

# coverage.py is imported when the coverage gate is on, not for every gated project. Its C
# tracer cannot be imported a second time in one process, which pytester's in-process
# runs would do (they restore sys.modules): a session with pytester imports it up front
# (activation.py).

from . import policy
from .activation import find_pyproject
from .config import ConfigError, read_table
from .items import NODE_PREFIX, GateItem, GatesCollector
from .plugin import state_key

GATE = "coverage"
WORKER_OUTPUT = "platformgates_coverage"
SESSION_PLUGIN = "platformgates-coverage-session"
LISTED = 5

#: Coverage options that decide which files were measured and how they are reported.
OPTIONS = (
    "run:branch",
    "run:source",
    "run:source_pkgs",
    "run:source_dirs",
    "run:include",
    "run:omit",
    "run:relative_files",
    "report:include",
    "report:omit",
    "report:precision",
    "report:fail_under",
)

# Marks a Coverage this module started, so that a nested in-process session (pytester)
# starts its own instead of adopting an outer session's measurement.
_OURS = "_platformgates_measurement"
_CONFIGURED_BRANCH = "_platformgates_configured_branch"


@dataclass(frozen=True)
class SessionCoverage:
    """What the coverage gate judges: the data, how it was measured, how whole the run was.

    ``problems`` mean the data cannot be trusted at all (the gate errors); ``partial``
    lists why the run was not the whole suite (the gate does not judge it as if it were).
    """

    data: CoverageData | None
    options: Mapping[str, Any]
    origin: str
    partial: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    update_ratchet: bool = False
    processes: int = 1


class Measurement:
    """This process's measurement: the Coverage instance, where it came from, what went wrong."""

    def __init__(self, root: Path, origin: str) -> None:
        self.root = root
        self.origin = origin
        self.cov: Coverage | None = None
        self.own = False
        self.problems: list[str] = []

    @classmethod
    def begin(cls, early_config: pytest.Config) -> Measurement | None:
        """Start measuring now, unless the coverage gate is off or someone else measures."""
        ns = early_config.known_args_namespace
        if any(getattr(ns, flag, False) for flag in ("no_gates", "help", "version", "collectonly")):
            return None
        pyproject = find_pyproject(early_config)
        try:
            raw = read_table(pyproject)
            if raw is not None:  # with what the policy files (extends) set, as the core sees it
                raw = dict(policy.resolve(pyproject, raw).raw)
        except ConfigError:
            return None  # the core reports it as a usage error
        table = _gate_table(raw)
        if table is None or table.get("enabled", True) is False:
            return None
        from coverage import Coverage

        root = pyproject.parent
        if getattr(ns, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
            return cls(root, "xdist workers")  # the controller runs no tests
        if getattr(ns, "cov_source", None) and not getattr(ns, "no_cov", False):
            return cls(root, "pytest-cov")  # adopted once pytest-cov has started
        current = Coverage.current()
        if current is not None and not getattr(current, _OURS, False):
            measurement = cls(root, "coverage run")
            measurement.cov = current
            return measurement
        measurement = cls(root, "platformgates")
        branch = table.get("branch", 0)
        omit = table.get("omit")
        if not isinstance(omit, list) or not all(isinstance(p, str) for p in omit):
            omit = _default_omit()  # a wrong value is the core's usage error to report
        measurement._start(
            branch=True if isinstance(branch, (int, float)) and branch else None, omit=omit
        )
        return measurement

    def _start(self, branch: bool | None, omit: list[str]) -> None:
        from coverage import Coverage
        from coverage.exceptions import CoverageException

        # From the project root, as `coverage run` would be: the config file is found
        # there and relative paths in it (source, omit) resolve against it.
        try:
            with _cwd(self.root), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cov = Coverage(data_file=None, config_file=True)
                setattr(cov, _OURS, True)
                # Whether coverage itself measures branches: its total (fail_under) holds
                # them only then, not when the gate's `branch` threshold turned them on.
                setattr(cov, _CONFIGURED_BRANCH, bool(cov.get_option("run:branch")))
                if branch:
                    cov.set_option("run:branch", True)
                # What the gate leaves out (tests) need not be traced: added to coverage's
                # own omit, each as the path itself or anything below it.
                extra = [os.path.join(self.root, p.strip("/")) for p in omit]
                extra += [os.path.join(x, "**") for x in extra if not x.endswith("**")]
                cov.set_option("run:omit", [*(cov.get_option("run:omit") or []), *extra])
                # Relative names would be relative to the root, where this starts, and be
                # looked up from wherever pytest runs; the data is never written, so
                # absolute names lose nothing.
                cov.set_option("run:relative_files", False)
                # Subprocess measurement writes a data file per Python child (the gates'
                # own tool workers among them) that this in-memory measurement never
                # reads: it would only leave .coverage.* files in the project.
                with contextlib.suppress(CoverageException):  # `patch` is new in 7.10
                    patches = cov.get_option("run:patch") or []
                    cov.set_option("run:patch", [p for p in patches if p != "subprocess"])
                cov.start()
        except CoverageException as exc:
            self.problems.append(f"coverage could not start: {exc}")
            return
        # Coverage only warns about a typo in its configuration ("fail_undr"), and a file
        # holding nothing but typos is not read at all: the gate must not judge with it.
        self.problems.extend(
            config_problem(str(w.message)) for w in caught if is_config_typo(str(w.message))
        )
        self.cov = cov
        self.own = True

    def adopt(self) -> None:
        """Pick up the instance pytest-cov started (it starts after this module decides)."""
        if self.cov is None and self.origin == "pytest-cov":
            from coverage import Coverage

            self.cov = Coverage.current()

    def stop(self) -> None:
        if self.own and self.cov is not None:
            from coverage import Coverage  # imported already: this process started it

            if Coverage.current() is self.cov:
                self.cov.stop()

    def collect(self) -> tuple[CoverageData | None, dict[str, Any]]:
        """This process's data so far, and the options it was measured with."""
        if self.cov is None:
            return None, {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no data collected" is judged by the gate
            data = self.cov.get_data()
        return data, coverage_options(self.cov)


def is_config_typo(message: str) -> bool:
    return message.startswith("Unrecognized option")


def config_problem(message: str) -> str:
    return f"coverage configuration: {message}; fix or remove the option"


def coverage_options(cov: Coverage) -> dict[str, Any]:
    from coverage.exceptions import CoverageException

    options: dict[str, Any] = {"config_file": cov.config.config_file}
    for name in OPTIONS:
        try:
            options[name] = cov.get_option(name)
        except CoverageException:
            options[name] = None  # an option this coverage version does not have
    # Branches in coverage's own total: as configured, or as whoever measured chose.
    options["branch_in_total"] = bool(getattr(cov, _CONFIGURED_BRANCH, options["run:branch"]))
    return options


def _default_omit() -> list[str]:
    from .gates.coverage import DEFAULT_OMIT  # imported late: the gate imports this module

    return list(DEFAULT_OMIT)


def _gate_table(raw: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    gates = raw.get("gates", {})
    table = gates.get(GATE, {}) if isinstance(gates, dict) else {}
    return table if isinstance(table, dict) else {}


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# -- pytest hooks of this module (loaded with the core plugin) -------------------------

measurement_key = pytest.StashKey[Measurement]()


def begin(early_config: pytest.Config) -> None:
    """Start measuring, before conftests import the project (called by activation.py)."""
    measurement = Measurement.begin(early_config)
    if measurement is not None:
        early_config.stash[measurement_key] = measurement


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    measurement = config.stash.get(measurement_key, None)
    if measurement is None:
        return
    state = config.stash.get(state_key, None)
    gate = state.gates.get(GATE) if state is not None else None
    settings = state.settings.gates.get(GATE) if state is not None else None
    if state is None or not state.run_gates or gate is None or not settings or not settings.enabled:
        measurement.stop()
        return
    tracker = CoverageSession(config, measurement)
    config.pluginmanager.register(tracker, SESSION_PLUGIN)
    bind = getattr(gate, "bind", None)
    if bind is not None:
        bind(tracker.snapshot)


def pytest_unconfigure(config: pytest.Config) -> None:
    measurement = config.stash.get(measurement_key, None)
    if measurement is not None:
        measurement.stop()
    plugin = config.pluginmanager.get_plugin(SESSION_PLUGIN)
    if plugin is not None:
        config.pluginmanager.unregister(plugin, SESSION_PLUGIN)


def is_gate(nodeid: str) -> bool:
    return nodeid.startswith(f"{NODE_PREFIX}::")


@dataclass
class _Tally:
    """What one process saw of the run's completeness."""

    deselected: int = 0
    collection_errors: int = 0
    lf_skipped_files: int = 0
    selected: bool = False
    tests_after_stop: int = 0
    collected: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)


class CoverageSession:
    """The hooks of a session whose coverage the gate will judge."""

    def __init__(self, config: pytest.Config, measurement: Measurement) -> None:
        self.config = config
        self.measurement = measurement
        self.worker = hasattr(config, "workerinput")
        self.controller = config.pluginmanager.get_plugin("dsession") is not None
        self.tally = _Tally()
        self.stopped = False
        self.named, self.node_ids = _named(config)
        self.workers: dict[str, Mapping[str, Any]] = {}
        self.lost: list[str] = []
        self.judged = False  # the coverage item ran in this process
        self.stopped_early = ""  # why the run stopped before the coverage item, if it did

    # -- collection -----------------------------------------------------------------

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.tally.deselected += sum(1 for item in items if not isinstance(item, GateItem))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.tally.collection_errors += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # After every modifyitems hook (reorderers, --lf, --ff), before xdist sends the
        # collection: tests first, so that measuring can stop at the first gate item.
        tests = [item for item in session.items if not isinstance(item, GateItem)]
        gates = [item for item in session.items if isinstance(item, GateItem)]
        ours = [item for item in gates if item.name == GATE]
        self.tally.selected = bool(ours)
        self.tally.collected = {item.nodeid for item in tests}
        lfplugin = self.config.pluginmanager.get_plugin("lfplugin")
        self.tally.lf_skipped_files = int(getattr(lfplugin, "_skipped_files", 0) or 0)
        if self.worker:
            gates = [item for item in gates if item.name != GATE]  # run by the controller
        session.items[:] = tests + gates
        if not ours:
            self.measurement.stop()  # deselected: nothing will judge the data

    # -- running --------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        self.measurement.adopt()
        try:
            result = yield
        finally:  # -x and --maxfail stop the loop by raising
            if self.controller:
                self.tally.selected = any(w.get("selected") for w in self.workers.values())
            stop = session.shouldstop or session.shouldfail
            # Stopped, the workers may not have reported yet: whether they selected the
            # coverage item is unknown, so a stop is reported as not evaluated anyway.
            maybe = self.tally.selected or (self.controller and not self.workers)
            if stop and maybe and not self.judged and not self.worker:
                self.stopped_early = stop if isinstance(stop, str) else "-x or --maxfail"
        if self.controller and self.tally.selected and not stop:
            self._run_here(session)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        if isinstance(item, GateItem):
            self.judged = self.judged or item.name == GATE
            if not self.stopped:
                self.measurement.stop()
                self.stopped = True
        elif self.stopped:
            self.tally.tests_after_stop += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when in ("teardown", "???") and not is_gate(report.nodeid):
            self.tally.finished.add(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # A run stopped early never reaches the gate items: say so, rather than nothing.
        if self.stopped_early:
            terminalreporter.write_line(
                f"coverage: not evaluated: partial run: the run stopped early "
                f"({self.stopped_early}) before the coverage gate; no coverage verdict"
            )

    def pytest_sessionfinish(self) -> None:
        if not self.worker:
            return
        data, options = self.measurement.collect()
        self.config.workeroutput[WORKER_OUTPUT] = {  # type: ignore[attr-defined]
            "data": data.dumps() if data is not None else None,
            "options": options,
            "origin": self.measurement.origin,
            "problems": list(self.measurement.problems),
            "deselected": self.tally.deselected,
            "collection_errors": self.tally.collection_errors,
            "lf_skipped_files": self.tally.lf_skipped_files,
            "selected": self.tally.selected,
            "tests_after_stop": self.tally.tests_after_stop,
        }

    # -- pytest-xdist, on the controller ---------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.tally.collected.update(i for i in ids if not is_gate(i))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        name = str(getattr(getattr(node, "gateway", None), "id", node))
        output = getattr(node, "workeroutput", None) or {}
        if error is not None or WORKER_OUTPUT not in output:
            why = "crashed" if error is not None else "sent no coverage data"
            self.lost.append(f"worker {name} {why}")
            return
        self.workers[name] = output[WORKER_OUTPUT]

    def _run_here(self, session: pytest.Session) -> None:
        state = self.config.stash[state_key]
        session.testscollected += 1  # the workers' collections left it out
        collector = GatesCollector.for_session(session, state.runner, [GATE])
        item = GateItem.from_parent(collector, name=GATE, runner=state.runner)
        item.ihook.pytest_runtest_protocol(item=item, nextitem=None)

    # -- what the gate reads ---------------------------------------------------------

    def snapshot(self) -> SessionCoverage:
        config = self.config
        problems: list[str] = []
        if self.controller:
            data, options, origins = self._combine(problems)
            processes = len(self.workers)
        else:
            data, options = self.measurement.collect()
            origins = {self.measurement.origin}
            problems.extend(self.measurement.problems)
            processes = 1
        if data is None and not problems:
            problems.append(
                "nothing measured this session's tests: coverage was not running "
                f"(measurement: {', '.join(sorted(origins))})"
            )
        return SessionCoverage(
            data=data,
            options=options,
            origin=", ".join(sorted(origins)),
            partial=tuple(self._partial()),
            problems=tuple(dict.fromkeys(problems)),
            update_ratchet=bool(config.getoption("gates_update_ratchet", False)),
            processes=processes,
        )

    def _combine(self, problems: list[str]) -> tuple[CoverageData | None, dict[str, Any], set[str]]:
        if not self.workers:
            problems.append("no xdist worker sent coverage data")
            return None, {}, {"xdist workers"}
        from coverage import CoverageData
        from coverage.exceptions import CoverageException

        combined = CoverageData(no_disk=True)
        options: dict[str, Any] = {}
        origins = set()
        for name, output in sorted(self.workers.items()):
            origins.add(str(output.get("origin", "?")))
            problems.extend(str(p) for p in output.get("problems", ()))
            options = options or dict(output.get("options") or {})
            if output.get("data") is None:
                problems.append(f"worker {name} measured nothing")
                continue
            part = CoverageData(no_disk=True)
            try:
                part.loads(output["data"])
                combined.update(part)
            except CoverageException as exc:
                problems.append(f"coverage data of worker {name} cannot be combined: {exc}")
        return combined, options, origins

    def _partial(self) -> Iterator[str]:
        tally = self.tally
        deselected = tally.deselected
        errors = tally.collection_errors
        lf_skipped = tally.lf_skipped_files
        after_stop = tally.tests_after_stop
        for output in self.workers.values():
            deselected = max(deselected, int(output.get("deselected", 0)))
            errors = max(errors, int(output.get("collection_errors", 0)))
            lf_skipped = max(lf_skipped, int(output.get("lf_skipped_files", 0)))
            after_stop += int(output.get("tests_after_stop", 0))
        if self.config.getoption("gates_only", False):
            yield "--gates-only: no tests ran"
        elif deselected:
            yield f"{deselected} test(s) deselected (-k, -m, --deselect, --lf or --sw)"
        if lf_skipped:
            yield f"--lf skipped {lf_skipped} test file(s)"
        if self.node_ids:
            yield f"tests named by node id: {', '.join(self.node_ids)}"
        elif self.named is not None:
            left_out = _tests_outside(self.config, self.named)
            if left_out:
                more = " ..." if len(left_out) >= LISTED else ""
                yield (
                    f"only {', '.join(self.named)} named on the command line; test files of "
                    f"the suite left out: {', '.join(left_out)}{more}"
                )
        if errors:
            yield f"{errors} collection error(s): some tests were never collected"
        missing = len(tally.collected - tally.finished)
        if missing:
            yield f"{missing} collected test(s) did not run (before the coverage gate)"
        if after_stop:
            yield f"{after_stop} test(s) ran after the gates started, so were not measured"
        yield from self.lost


def _tests_outside(config: pytest.Config, named: tuple[str, ...]) -> list[str]:
    """Test files a plain ``pytest`` would collect that the named paths leave out.

    Walks the suite (testpaths, globs expanded, or the root) as pytest's collection
    would: the ``python_files`` patterns, minus ``norecursedirs`` and virtual environments.
    """
    root = config.rootpath
    patterns = config.getini("python_files")
    norecurse = config.getini("norecursedirs")
    targets = [Path(p) for t in config.getini("testpaths") for p in glob.glob(str(root / t))]
    found: list[str] = []

    def consider(path: Path) -> bool:
        rel = path.relative_to(root).as_posix()
        name = path.name
        if any(fnmatch(rel if "/" in p else name, p) for p in patterns) and not _under(rel, named):
            found.append(rel)
        return len(found) >= LISTED

    for target in targets or [root]:
        if _under(_relative(config, str(target)), named):
            continue
        if target.is_file():
            if consider(target):
                break
            continue
        for dirpath, dirnames, filenames in os.walk(target):
            here = Path(dirpath)
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not any(fnmatch(d, p) for p in norecurse)
                and not (here / d / "pyvenv.cfg").exists()
                and not _under((here / d).relative_to(root).as_posix(), named)
            )
            if any(consider(here / name) for name in sorted(filenames)):
                return found
    return found
    return found


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(root in (".", "") or path == root or path.startswith(root + "/") for root in roots)


def _named(config: pytest.Config) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Paths named on the command line (root-relative), and node ids naming single tests."""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return None, ()
    paths, node_ids = [], []
    for arg in config.args:
        if "::" in arg:
            node_ids.append(arg)
            continue
        paths.append(_relative(config, arg))
    return tuple(paths), tuple(node_ids)


def _relative(config: pytest.Config, arg: str) -> str:
    path = Path(arg)
    path = path if path.is_absolute() else config.invocation_params.dir / path
    try:
        rel = path.resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:
        return path.as_posix()  # outside the project: never covers a test of it
    return rel or "."
