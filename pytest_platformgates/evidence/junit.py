"""``junit.xml``: pytest's own JUnit XML, pointed into the bundle.

pytest's junitxml plugin writes the file (tests and gates alike; a gate's failure
report is the element body, which is what GitLab shows). When the user gave no
``--junitxml``, the evidence session asks junitxml for one in the staging
directory; when they did, their file is copied in. Gate verdicts and figures are
also recorded as ``<testsuite>`` properties, which pytest's default ``xunit2``
family allows (testcase-level properties are an ``xunit1`` feature).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # nosec B405 - see summary()
from typing import Any

import pytest

from ..model import GateResult


def _logxml(config: pytest.Config) -> Any:
    # pytest keeps its LogXML on the stash under a private key; reaching it is the
    # only way to add suite-level properties from a hook rather than a fixture.
    from _pytest import junitxml

    return config.stash.get(junitxml.xml_key, None)


def junit_enabled(config: pytest.Config) -> bool:
    """Whether pytest's junitxml plugin is loaded: ``-p no:junitxml`` blocks it."""
    return not config.pluginmanager.is_blocked("junitxml")


def ensure_xml(config: pytest.Config, path: str) -> bool:
    """Make pytest write JUnit XML to ``path`` unless the user chose a file; True if we did."""
    # Under -p no:junitxml its options (--junitxml, junit_family) are never registered, so
    # this is asked first: the bundle then lacks junit.xml, the statement notes it and
    # verify refuses it (session.py, verify.py).
    if not junit_enabled(config):
        return False
    if config.option.xmlpath or _logxml(config) is not None:
        return False
    from _pytest import junitxml

    config.option.xmlpath = path
    # junitxml configures itself before us; run its configure again now that a path is set.
    junitxml.pytest_configure(config)
    return _logxml(config) is not None


def user_path(config: pytest.Config) -> str | None:
    xml = _logxml(config)
    return None if xml is None else str(xml.logfile)


def relocate(config: pytest.Config, path: str) -> None:
    """Tell junitxml where its file ended up, for the "generated xml file" line."""
    xml = _logxml(config)
    if xml is not None:
        xml.logfile = path


def add_gate_properties(config: pytest.Config, result: GateResult) -> None:
    xml = _logxml(config)
    if xml is None:
        return
    prefix = f"platformgates.{result.gate}"
    xml.add_global_property(f"{prefix}.verdict", result.verdict.value)
    xml.add_global_property(f"{prefix}.fail_on", result.fail_on.label)
    xml.add_global_property(f"{prefix}.blocking", str(len(result.blocking)))
    for severity, count in result.counts().items():
        xml.add_global_property(f"{prefix}.findings.{severity}", str(count))
    xml.add_global_property(f"{prefix}.duration", f"{result.duration:.3f}")
    for key, value in sorted(result.figures.items()):
        xml.add_global_property(f"{prefix}.figure.{key}", str(value))
    for tool, version in sorted(result.tool_versions.items()):
        xml.add_global_property(f"{prefix}.tool.{tool}", version)


def summary(data: bytes) -> dict[str, int]:
    """Counts from a JUnit XML document: tests, failures, errors, skipped."""
    # pytest wrote it in this session (or the user's --junitxml did); expat refuses
    # entity-expansion bombs on its own.
    root = ET.fromstring(data)  # nosec B314
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    return counts
