"""The evidence writer of one gated session: a pytest plugin and a platformgates plugin.

Registered by the core, only in the process that owns a session that runs the
gates (the xdist controller, never a worker), so the bundle is written once with
every gate's result. It receives the results through the platformgates hooks like
any third-party writer would, and writes the bundle after pytest's junitxml has
written its file (``trylast``), so that ``junit.xml`` is part of what is signed.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
import pytest

from .. import heap, redaction
from ..config import Settings
from ..hookspecs import hookimpl
from ..model import GateResult
from . import junit

if TYPE_CHECKING:
    from ..runner import PartialScan

EVIDENCE_PLUGIN = "platformgates-evidence"


def register(
    config: pytest.Config,
    pm: pluggy.PluginManager,
    settings: Settings,
    *,
    partial: PartialScan | None = None,
    narrowed: Sequence[str] = (),
) -> None:
    """Start collecting evidence for this session (the owner of a gated session only).

    ``partial`` is the ``--gates-changed`` scan, if any, and ``narrowed`` the gates it
    narrows to the changed files (the file gates): the statement records both.
    """
    if config.option.collectonly:
        return
    session = EvidenceSession(config, settings, partial=partial, narrowed=narrowed)
    config.pluginmanager.register(session, EVIDENCE_PLUGIN)
    pm.register(session, EVIDENCE_PLUGIN)


def unregister(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(EVIDENCE_PLUGIN)
    if plugin is not None:
        config.pluginmanager.unregister(plugin, EVIDENCE_PLUGIN)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def redact(arg: str) -> str:
    """Command-line arguments go into evidence; credentials inside URLs must not."""
    return redaction.url_credentials(arg)


class EvidenceSession:
    """Collects what the bundle needs during the session and publishes it at the end."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        *,
        partial: PartialScan | None = None,
        narrowed: Sequence[str] = (),
    ) -> None:
        from . import bundle, dsse

        self.config = config
        self.settings = settings
        self.partial = partial
        self.narrowed = tuple(narrowed)
        self.target: Path = settings.evidence_dir
        self.results: list[GateResult] = []
        self.started = _now()
        self.git: Any = None
        self._reading_git: concurrent.futures.Future[Any] | None = None
        self.outcome = ""
        self.stopped_early = ""
        # Read defensively: the option is the core's, and a plugin test may build Settings.
        self.key_spec = str(settings.values.get("signing_key", f"env:{dsse.KEY_VARIABLE}"))
        try:
            self.signer = dsse.signer_from_setting(self.key_spec, settings.root)
            bundle.check_target(self.target, settings.root)
        except (dsse.SigningKeyError, bundle.EvidenceError) as exc:
            raise pytest.UsageError(f"platformgates evidence: {exc}") from None
        self.staging = bundle.staging_dir(self.target)
        self.own_junit = junit.ensure_xml(config, str(self.staging / bundle.JUNIT))

    # -- platformgates hooks: how results reach the writer --------------------------

    @hookimpl
    def platformgates_gate_finished(self, result: GateResult) -> None:
        junit.add_gate_properties(self.config, result)

    @hookimpl
    def platformgates_session_finished(self, results: Sequence[GateResult]) -> None:
        self.results = list(results)

    # -- pytest hooks --------------------------------------------------------------

    def pytest_sessionstart(self) -> None:
        from . import bundle, provenance

        self.started = _now()
        bundle.sweep(self.target)
        # The tree as it was tested; our own output does not make it dirty. Git runs while
        # pytest collects, and is awaited before the first test could change the tree.
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="platformgates-git")
        self._reading_git = pool.submit(
            provenance.git_state, self.settings.root, ignore=(self.target, self.staging)
        )
        pool.shutdown(wait=False)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self) -> None:
        self._await_git()

    def _await_git(self) -> None:
        if self._reading_git is not None:
            reading, self._reading_git = self._reading_git, None
            self.git = reading.result()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from . import bundle

        stop = session.shouldstop or session.shouldfail
        if stop:
            self.stopped_early = stop if isinstance(stop, str) else "-x or --maxfail"
        try:
            with heap.paused():  # every finding, encoded three times (heap.py)
                self.outcome = self._publish(int(session.exitstatus))
        except (bundle.EvidenceError, OSError, ValueError) as exc:
            bundle.discard_staging(self.target)
            self.outcome = f"evidence NOT written to {self.target}: {exc}"
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.outcome:
            terminalreporter.write_sep("-", "platformgates evidence")
            terminalreporter.write_line(self.outcome)

    # -- the bundle ------------------------------------------------------------------

    def _junit(self, notes: list[str]) -> bytes | None:
        from . import bundle

        if self.own_junit:
            path = self.staging / bundle.JUNIT
        elif (chosen := junit.user_path(self.config)) is not None:
            path = Path(chosen)
        else:
            notes.append("no JUnit XML: pytest's junitxml plugin is disabled (-p no:junitxml)")
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            notes.append(f"no JUnit XML: {path} could not be read ({exc.strerror})")
            return None

    def _publish(self, exit_status: int) -> str:
        from . import bundle, dsse, provenance
        from .run import EvidenceRun

        notes: list[str] = []
        junit_xml = self._junit(notes)
        tests: dict[str, int] = {}
        if junit_xml is not None:
            try:
                tests = junit.summary(junit_xml)
            except (ValueError, SyntaxError) as exc:
                notes.append(f"junit.xml could not be read back: {exc}")
        self._await_git()  # a session that never reached its tests (collection errors)
        git = self.git or provenance.git_state(self.settings.root, ignore=(self.target,))
        if git.problem:
            notes.append(git.problem)
        # Weakening command-line choices the policy allowed only locally (policy.py).
        notes += getattr(self.settings.policy, "overrides", None) or []
        ran = {r.gate for r in self.results}
        not_run = sorted(n for n, g in self.settings.gates.items() if g.enabled and n not in ran)
        if self.stopped_early and not_run:
            notes.append(
                f"not evaluated: partial run: the run stopped early ({self.stopped_early}); "
                f"gates not run: {', '.join(not_run)}"
            )
        partial = partial_record(self.partial, self.narrowed, self.settings)
        if partial is not None:
            # Where anyone reading the evidence looks for what made it less than complete.
            notes.append(partial_note(partial))
        facts = provenance.RunFacts(
            git=git,
            identity=provenance.ci_identity(),
            software=provenance.software(),
            started=self.started,
            finished=_now(),
            exit_status=exit_status,
            invocation=tuple(redact(a) for a in self.config.invocation_params.args),
            tests=tests,
            notes=tuple(notes),
            partial=partial,
        )
        run = EvidenceRun.build(self.results, self.settings, facts)
        files = bundle.publish(
            self.target,
            self.settings.root,
            run,
            junit_xml,
            self.signer,
            dsse.unsigned_reason(self.key_spec),
        )
        if self.own_junit:
            junit.relocate(self.config, str(self.target / bundle.JUNIT))
        try:
            shown = self.target.relative_to(self.config.invocation_params.dir)
        except ValueError:
            shown = self.target
        signed = (
            f"signed, key {self.signer.keyid[:16]}"
            if self.signer
            else f"UNSIGNED: {dsse.unsigned_reason(self.key_spec)}"
        )
        return f"{run.verdict.upper()}: {len(files)} files in {shown}/ ({signed})"


def partial_record(
    scan: PartialScan | None, narrowed: Sequence[str], settings: Settings
) -> dict[str, Any] | None:
    """``run.partial`` of the statement: what a ``--gates-changed`` scan left unchecked.

    None for a full run. The gates are the enabled file gates, which saw only the
    changed files; ``platformgates verify`` refuses such a bundle without
    ``--allow-partial``: a finding in an unchanged file was never looked for.
    """
    from .provenance import LISTED_PATHS

    if scan is None:
        return None
    gates = sorted(n for n in narrowed if n in settings.gates and settings.gates[n].enabled)
    return {
        "base": scan.base,
        "commit": scan.commit,
        "gates": gates,
        "paths_count": len(scan.paths),
        "paths": list(scan.paths[:LISTED_PATHS]),
    }


def partial_note(partial: dict[str, Any]) -> str:
    gates = ", ".join(partial["gates"]) or "no gate"
    return (
        f"partial scan (--gates-changed): {gates} checked only the {partial['paths_count']} "
        f"file(s) changed since {partial['base']} ({partial['commit'][:12]}); not a full "
        "verdict of the commit (platformgates verify refuses it without --allow-partial)"
    )
