"""Gates as ordinary pytest items: selectable, listed, reported, and never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .model import GateResult, Verdict
from .terminal import failure_report

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from .runner import GateRunner

NODE_PREFIX = "platformgates"
MARKER = "gate"


class GateFailed(Exception):
    """Raised by a gate item whose gate found blocking findings."""

    def __init__(self, result: GateResult) -> None:
        super().__init__(result.gate)
        self.result = result


class GateNotEvaluated(GateFailed):
    """Raised in setup when a gate could not judge: pytest reports an ERROR, never a pass."""


class GatesCollector(pytest.Collector):
    """The node ``platformgates`` under the session; its children are the enabled gates.

    A real collector, so that pytest counts and reports gate items like any others.
    """

    def __init__(self, *, runner: GateRunner, names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner = runner
        self.names = names

    @classmethod
    def for_session(
        cls, session: pytest.Session, runner: GateRunner, names: list[str]
    ) -> GatesCollector:
        return cls.from_parent(
            session, name=NODE_PREFIX, nodeid=NODE_PREFIX, runner=runner, names=names
        )

    def collect(self) -> list[GateItem]:
        return [GateItem.from_parent(self, name=name, runner=self.runner) for name in self.names]


class GateItem(pytest.Item):
    """One gate. Node id ``platformgates::<gate>``; carries the ``gate`` marker."""

    def __init__(self, *, runner: GateRunner, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner = runner
        self.add_marker(MARKER)
        self.result: GateResult | None = None

    def setup(self) -> None:
        not_evaluated = self.runner.not_evaluated(self.name)
        if not_evaluated:
            pytest.skip(not_evaluated)  # a skip, never a pass: nothing of its kind changed
        self.result = self.runner.result(self.name)
        self._record_properties(self.result)
        if self.result.verdict is Verdict.ERROR:
            raise GateNotEvaluated(self.result)

    def runtest(self) -> None:
        assert self.result is not None
        if self.result.verdict is Verdict.FAILED:
            raise GateFailed(self.result)

    def _record_properties(self, result: GateResult) -> None:
        # A <testcase> may carry properties only in the xunit1 schema; under pytest's default
        # xunit2 the same figures go on the <testsuite> as platformgates.<gate>.* (evidence).
        # Under -p no:junitxml there is no junit_family to ask (and no XML to write).
        if self.config.pluginmanager.is_blocked("junitxml"):
            return
        if self.config.getini("junit_family") != "xunit1":
            return
        props = self.user_properties
        props.append(("gate.verdict", result.verdict.value))
        props.append(("gate.fail_on", result.fail_on.label))
        props.append(("gate.blocking", len(result.blocking)))
        for severity, count in result.counts().items():
            props.append((f"gate.findings.{severity}", count))
        props.append(("gate.duration", f"{result.duration:.3f}"))
        for key, value in sorted(result.figures.items()):
            props.append((f"gate.figure.{key}", value))
        for tool, version in sorted(result.tool_versions.items()):
            props.append((f"gate.tool.{tool}", version))

    def repr_failure(  # type: ignore[override]
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, GateFailed):
            return failure_report(excinfo.value.result, self.config.option.verbose)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.runner.settings.source, None, f"gate {self.name}"
