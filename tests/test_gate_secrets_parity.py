"""The secrets gate finds exactly what `detect-secrets scan --all-files` finds.

Two levels: the prefiltered line scan against detect-secrets' own per-line code on
generated files (in process, many examples), and the whole gate against the real CLI
on a generated tree.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secrets_support import PARITY_NAMES, Secrets, cli_findings, detect_secrets_cli, tricky_line
from secrets_support import tricky_tree as make_tree

from pytest_platformgates.config import build_settings
from pytest_platformgates.gate import GateContext
from pytest_platformgates.gates.secrets import Scanner
from pytest_platformgates.inventory import Inventory
from pytest_platformgates.manager import collect_gates, create_plugin_manager
from pytest_platformgates.model import Analysis

FINDING = re.compile(r"^(?P<type>.+?) \[redacted, \d+ characters\], hashed_secret (?P<hash>\w+): ")


@pytest.fixture(scope="module")
def detect_secrets_defaults():
    from detect_secrets.settings import default_settings

    with default_settings() as ds_settings:
        yield ds_settings


def first_seen(secrets) -> list[tuple[str, str, int]]:
    """As SecretsCollection keeps them: one per (type, hash), the first line wins."""
    kept: dict[tuple[str, str], int] = {}
    for s in secrets:
        kept.setdefault((s.type, s.secret_hash), s.line_number)
    return sorted((t, h, n) for (t, h), n in kept.items())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 12), name=st.sampled_from(PARITY_NAMES))
def test_the_prefiltered_scan_equals_detect_secrets_line_scan(
    detect_secrets_defaults, seed, count, name
):
    from detect_secrets.core import scan

    s = Secrets(seed)
    lines = [tricky_line(s) + "\n" for _ in range(count)]
    theirs = scan._process_line_based_plugins(list(enumerate(lines, start=1)), filename=name)
    ours = Scanner()._process(lines, name)
    assert first_seen(ours) == first_seen(theirs)


def run_gate(root: Path, table: dict[str, Any]) -> Analysis:
    """The secrets gate as the runner calls it, without a pytest session around it."""
    raw = {"gates": {"secrets": table}}
    pm = create_plugin_manager((), root)
    gates = collect_gates(pm, raw)
    project = build_settings(root, root / "pyproject.toml", raw, gates)
    inventory = Inventory.scan(root, max_file_size=project.max_file_size)
    ctx = GateContext(settings=project.gates["secrets"], project=project, inventory=inventory)
    return gates["secrets"].check(ctx)


def gate_findings(analysis: Analysis) -> set[tuple[str, int, str]]:
    assert not analysis.problems, analysis.problems
    found = set()
    for f in analysis.findings:
        assert f.rule == "secret", f
        match = FINDING.match(f.message)
        assert match, f.message
        found.add((f.path, f.line, match["type"]))
    return found


@pytest.mark.parametrize("seed", [1, 2])
def test_the_gate_equals_the_cli_on_a_generated_tree(tmp_path, seed):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    files = make_tree(tmp_path, seed, files=60)
    cli = cli_findings(detect_secrets_cli(["scan", "--all-files", "--no-verify"], tmp_path))
    cli = {f for f in cli if not f[0].startswith(".git/")}
    assert len(cli) > 40, "the tree should hold plenty of secrets"
    assert {f[0] for f in cli} <= set(files)

    single = gate_findings(run_gate(tmp_path, {"processes": 1}))
    assert single == cli
    sharded = run_gate(tmp_path, {"processes": 2})
    assert gate_findings(sharded) == cli
    assert sharded.figures["lines_dispatched"] < sharded.figures["lines"]
