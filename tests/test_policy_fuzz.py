"""Fuzzed policy, guardrail and waiver input: a valid policy or a ConfigError, never a crash.

And never a silently weaker gate: whatever the project writes, a successful load keeps
the fixed policy's guardrails (fail_on at most high everywhere, the lint gate on, line
coverage at least 80, at most 5 unrun new lines, waivers living at most 90 days from today,
no guarded gate's severities lowered).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_platformgates import policy, waivers
from pytest_platformgates.config import ConfigError
from pytest_platformgates.manager import collect_gates, create_plugin_manager
from pytest_platformgates.model import Analysis, Finding, Severity

GATES = collect_gates(create_plugin_manager(), {})

FIXED = """\
[gates.coverage]
line = 80
max_new_uncovered = 5
[waiver_policy]
max_days = 90
[guardrails]
"fail_on" = { max = "high" }
"gates.lint" = { required = true }
"gates.coverage.line" = { min = 80 }
"gates.coverage.max_new_uncovered" = { max = 5 }
"waiver_policy.max_days" = { max = 90 }
"""

KEYS = st.sampled_from(
    [
        "fail_on",
        "paths",
        "exclude",
        "max_file_size",
        "gates",
        "guardrails",
        "waivers",
        "waiver_policy",
        "extends",
        "lint",
        "enabled",
        "severity",
        "locked",
        "min",
        "max",
        "required",
        "gate",
        "id",
        "reason",
        "owner",
        "expires",
        "created",
        "approved_by",
        "path",
        "stale",
        "max_days",
        "allow_critical",
        "sha256",
        "fail_on.x",
        "gates.lint",
        "gates.lint.fail_on",
        "gates.coverage.line",
        "coverage",
        "line",
        "max_new_uncovered",
    ]
)
SCALARS = st.one_of(
    st.sampled_from(["high", "critical", "low", "lint", "F401", "warn", "fail", "base.toml", ""]),
    st.text(max_size=8),
    st.integers(min_value=-5, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
RANDOM_TABLES = st.dictionaries(KEYS, VALUES, max_size=6)

# Near-valid input reaches the guardrail and waiver checks, not just the first type check.
SEVERITY = st.sampled_from(["low", "medium", "high", "critical", "HIGH", "urgent"])
MAYBE = st.one_of(SCALARS, st.lists(SCALARS, max_size=2))
GATE_TABLE = st.fixed_dictionaries(
    {},
    optional={
        "fail_on": st.one_of(SEVERITY, MAYBE),
        "enabled": st.one_of(st.booleans(), MAYBE),
        "severity": SEVERITY,
        "timeout": st.one_of(st.integers(-1, 100_000), MAYBE),
        "format": st.booleans(),
    },
)
COVERAGE_TABLE = st.fixed_dictionaries(
    {},
    optional={
        "line": st.one_of(st.integers(-1, 101), st.floats(0, 100), MAYBE),
        "max_new_uncovered": st.one_of(st.integers(-1, 10), MAYBE),
        "enabled": st.booleans(),
        "severity": SEVERITY,
    },
)
GUARD = st.fixed_dictionaries(
    {},
    optional={
        "min": st.one_of(SEVERITY, st.integers(-1, 200)),
        "max": st.one_of(SEVERITY, st.integers(-1, 200)),
        "locked": st.one_of(st.booleans(), MAYBE),
        "required": st.booleans(),
    },
)
GUARD_KEYS = st.sampled_from(
    [
        "fail_on",
        "gates.lint.fail_on",
        "gates.lint.timeout",
        "gates.lint",
        "gates.lint.enabled",
        "max_file_size",
        "waiver_policy.max_days",
        "waiver_policy.allow_critical",
        "gates.coverage.line",
        "gates.coverage.max_new_uncovered",
        "paths",
    ]
)
WAIVER = st.fixed_dictionaries(
    {"gate": st.sampled_from(["lint", "sast", "nosuch"])},
    optional={
        "id": st.sampled_from(["F401", "E501", ""]),
        "reason": st.sampled_from(["why", " "]),
        "owner": st.sampled_from(["team", 3]),
        "approved_by": st.sampled_from(["lead", ""]),
        "expires": st.one_of(st.dates(), st.sampled_from(["2030-01-01", "soon"])),
        "created": st.dates(),
        "path": st.sampled_from(["*.py", "a.py", ""]),
    },
)
RULES = st.fixed_dictionaries(
    {},
    optional={
        "max_days": st.one_of(st.integers(-1, 400), MAYBE),
        "require_approver": st.booleans(),
        "stale": st.sampled_from(["warn", "fail", "ignore"]),
        "warn_days": st.integers(-1, 30),
        "allow_critical": st.booleans(),
    },
)
STRUCTURED = st.fixed_dictionaries(
    {},
    optional={
        "fail_on": st.one_of(SEVERITY, MAYBE),
        "gates": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"lint": GATE_TABLE, "sast": GATE_TABLE, "coverage": COVERAGE_TABLE}
            ),
            VALUES,
        ),
        "guardrails": st.dictionaries(GUARD_KEYS, st.one_of(GUARD, MAYBE), max_size=3),
        "waivers": st.lists(WAIVER, max_size=3),
        "waiver_policy": RULES,
        "max_file_size": st.integers(-1, 10**7),
    },
)
TABLES = st.one_of(STRUCTURED, RANDOM_TABLES)
# A project's own guardrails are always refused: mostly leave them out of its table.
PROJECT_TABLES = st.one_of(
    STRUCTURED.map(lambda t: {k: v for k, v in t.items() if k != "guardrails"}), RANDOM_TABLES
)


def _toml(value) -> str:
    """A TOML rendering of a generated value (inline tables for tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"


def _check_invariants(settings) -> None:
    assert settings.gates["lint"].enabled
    for gate in settings.gates.values():
        assert gate.fail_on <= Severity.HIGH
    assert settings.fail_on <= Severity.HIGH
    coverage = settings.gates["coverage"]
    assert coverage["line"] >= 80
    assert coverage["max_new_uncovered"] is not None and coverage["max_new_uncovered"] <= 5
    # A guarded gate's findings are never reported below the severity the policy has.
    assert Severity.parse(coverage["severity"]) >= Severity.HIGH
    assert Severity.parse(settings.gates["lint"]["severity"]) >= Severity.HIGH
    max_days = settings.policy.rules.get("max_days")
    assert max_days is not None and max_days <= 90
    for waiver in settings.policy.waivers:
        # The cap holds from today: no waiver outlives today + max_days.
        assert (waiver.expires - waivers.today()).days <= max_days
    json.dumps(settings.effective())  # the evidence can always record it
    assert len(settings.digest) == 64


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(project_table=PROJECT_TABLES, base_table=TABLES)
def test_fuzzed_configuration_gives_a_valid_policy_or_a_config_error(
    tmp_path_factory, project_table, base_table
):
    root: Path = tmp_path_factory.mktemp("fuzz")
    (root / "fixed.toml").write_text(FIXED)
    base = "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in base_table.items())
    (root / "base.toml").write_text(base)
    table = dict(project_table)
    extends = table.get("extends")
    table["extends"] = ["fixed.toml", "base.toml"]
    if isinstance(extends, str):
        table["extends"].append(extends)
    try:
        settings_ = policy.load_settings(root / "pyproject.toml", table, root, GATES)
    except ConfigError:
        return
    _check_invariants(settings_)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(st.one_of(WAIVER, st.dictionaries(KEYS, VALUES, max_size=8)), max_size=3),
    rules=st.one_of(RULES, RANDOM_TABLES),
)
def test_fuzzed_waivers_parse_or_fail_cleanly_and_apply_without_crashing(entries, rules):
    try:
        parsed_rules = waivers.WaiverRules.from_table(rules)
        parsed = waivers.parse(entries, "pyproject.toml", "waivers", GATES, parsed_rules)
        waivers.check_unique(parsed)
    except ConfigError:
        return
    finding = Finding("lint", "F401", Severity.CRITICAL, "a.py", 1, "m", fingerprint="f" * 32)
    out = waivers.apply(parsed, parsed_rules, "lint", Analysis(findings=(finding,)), Severity.HIGH)
    for f in out.findings:
        if f.waiver:
            assert parsed_rules.get("allow_critical") or f.severity < Severity.CRITICAL
    json.dumps([dict(w) for w in out.waivers])


@pytest.mark.parametrize(
    "table",
    [
        {"extends": 3},
        {"extends": [{"path": 3}]},
        {"extends": [{"sha256": "0" * 64}]},
        {"waivers": {"gate": "lint"}},
        {"waivers": [3]},
        {"waiver_policy": []},
        {"waiver_policy": {"max_days": 0}},
        {"waiver_policy": {"stale": "ignore"}},
        {"waiver_policy": {"nope": 1}},
        {"gates": {"lint": 3}},
    ],
)
def test_known_bad_shapes_are_config_errors(tmp_path, table):
    with pytest.raises(ConfigError):
        policy.load_settings(tmp_path / "pyproject.toml", table, tmp_path, GATES)
