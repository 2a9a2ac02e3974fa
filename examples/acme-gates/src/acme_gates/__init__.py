"""ACME's gate: no FIXME marker left in the Markdown documentation.

A worked example of a third-party gate (docs/writing-a-gate.md): a ``FileGate`` gets the
project's files from the shared inventory, the per-file cache, fingerprints, the
``unscannable-file`` check and the "no file matched" error from the core; it only reads
its files and returns findings with severities. The core applies ``fail_on``, waivers,
the findings baseline, and writes the report and the evidence.
"""

from __future__ import annotations

import re

from pytest_platformgates import FileAnalysis, FileGate, Finding, Option, Severity, hookimpl

__version__ = "1.0.0"

MARKER = re.compile(r"\bFIXME\b")


class NoFixmeGate(FileGate):
    """Fail on FIXME markers in Markdown files."""

    name = "no-fixme"
    description = "no FIXME left in the documentation"
    patterns = ("*.md",)  # which inventory files this gate checks
    options = (
        Option("severity", "severity", "high", "Severity of a FIXME marker."),
        Option("marker", "str", "FIXME", "The word that marks unfinished text."),
    )

    def tool_versions(self, ctx):  # part of the cache key: a new release re-checks every file
        return {"acme-gates": __version__}

    def analyse(self, files, ctx):  # only the files not already in the cache
        severity = Severity.parse(ctx.settings["severity"])
        marker = re.compile(rf"\b{re.escape(ctx.settings['marker'])}\b")
        findings = []
        for f in files:
            for number, line in enumerate(ctx.inventory.read_text(f).splitlines(), 1):
                if marker.search(line):
                    findings.append(
                        Finding(
                            gate=self.name,
                            rule="ACME001",
                            severity=severity,
                            path=f.path,
                            line=number,
                            message=f"{ctx.settings['marker']} left in the documentation",
                            hint="finish the text, or open an issue and link it instead",
                        )
                    )
        return FileAnalysis(findings=findings)


@hookimpl
def platformgates_gates():
    return [NoFixmeGate()]
