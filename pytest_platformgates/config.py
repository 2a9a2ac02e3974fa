"""Loading and strictly validating ``[tool.platformgates]``.

A typo must never quietly weaken a gate, so every key is declared (globally here,
per gate by the gate itself) and anything undeclared, mistyped or impossible is a
:class:`ConfigError` naming the file and the key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import redaction
from .locate import locate
from .model import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from .gate import Gate

TABLE = ("tool", "platformgates")


class ConfigError(Exception):
    """The configuration cannot be used as written; the message names file and key."""


@dataclass(frozen=True)
class Option:
    """One configuration key: its type, default and limits, and a line of help."""

    name: str
    kind: str  # bool | int | number | str | severity | list[str] | choice
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # A choice whose value is the severity a gate reports findings at (sast's blanket_nosec):
    # a guarded gate's may not be lowered (policy._severity_like). Options of kind severity
    # not named fail_on* are severity-like without it.
    severity_like: bool = False

    def coerce(self, value: Any, where: str) -> Any:
        """Check ``value`` against this option and return it in canonical form."""
        key = f"{where}.{self.name}" if where else self.name
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool):
                fix = _unquote(value, boolean=True)
                raise ConfigError(f"{key} must be true or false, not {_show(value)}{fix}")
            return value
        if kind in ("int", "number"):
            ok_types = (int,) if kind == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, ok_types):
                what = "a whole number" if kind == "int" else "a number"
                raise ConfigError(f"{key} must be {what}, not {_show(value)}{_unquote(value)}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{key} must be a finite number, not {value}")
            if self.minimum is not None and value < self.minimum:
                raise ConfigError(f"{key} = {value} is below its minimum {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise ConfigError(f"{key} = {value} is above its maximum {self.maximum:g}")
            return value
        if kind == "severity":
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be a severity string, not {_show(value)}")
            try:
                return Severity.parse(value).label
            except ValueError as exc:
                raise ConfigError(f"{key}: {exc}") from None
        if kind in ("str", "choice"):
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be a string, not {_show(value)}")
            if not value.strip():
                raise ConfigError(f"{key} must not be empty")
            if self.choices and value not in self.choices:
                raise ConfigError(
                    f"{key} = {value!r} is not one of: {', '.join(map(repr, self.choices))}"
                )
            return value
        if kind == "list[str]":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key} must be a list of strings, not {_show(value)}")
            bad = [v for v in value if self.choices and v not in self.choices]
            if bad:
                raise ConfigError(
                    f"{key}: unknown value {bad[0]!r} (choose from {', '.join(self.choices)})"
                )
            if any(not v.strip() for v in value):
                raise ConfigError(f"{key} must not contain empty strings")
            return list(value)
        raise AssertionError(f"option {self.name} has unknown kind {kind}")  # pragma: no cover

    @property
    def default_text(self) -> str:
        if self.default is None:
            return "(unset)"
        return json.dumps(self.default)


def _unquote(value: Any, boolean: bool = False) -> str:
    """The fix for a number or boolean written as a TOML string, the commonest slip."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if boolean:
        return (
            f"; write it without quotes: {text.lower()}"
            if text.lower() in ("true", "false")
            else ""
        )
    try:
        float(text)
    except ValueError:
        return ""
    return f"; write it without quotes: {text}"


def _show(value: Any) -> str:
    kind = type(value).__name__
    kind = {"dict": "table", "list": "array", "str": "string"}.get(kind, kind)
    return f"{value!r} ({kind})" if not isinstance(value, dict) else "a table"


# Keys every gate table takes, before the gate's own.
GATE_COMMON: tuple[Option, ...] = (
    Option("enabled", "bool", True, "Run this gate. Every registered gate runs unless disabled."),
    Option(
        "fail_on",
        "severity",
        None,
        "Lowest severity that blocks for this gate; unset, the global fail_on applies.",
    ),
    Option(
        "timeout",
        "number",
        600,
        "Seconds the gate's tool may run before the gate errors.",
        minimum=1,
        maximum=86400,
    ),
    Option(
        "new_code_only",
        "bool",
        None,
        "Only findings on lines changed since `base` block; the rest are known debt. "
        "Unset, the global new_code_only applies.",
    ),
    Option(
        "allow_baseline",
        "bool",
        True,
        "Findings of this gate may be accepted by the committed baseline (a policy can "
        "lock this at false, e.g. for secrets).",
    ),
)

GLOBAL: tuple[Option, ...] = (
    Option(
        "paths",
        "list[str]",
        [],
        "Gate-checked files: directories or glob patterns relative to the project root. "
        "Empty means every file git tracks plus untracked files it does not ignore.",
    ),
    Option(
        "exclude",
        "list[str]",
        [],
        "Globs removed from the files, read like .gitignore: `**` spans directories, a "
        "pattern without a slash matches at any depth, a directory excludes its contents.",
    ),
    Option(
        "fail_on",
        "severity",
        "high",
        "Lowest severity that blocks: critical, high, medium or low.",
    ),
    Option("evidence_dir", "str", "gate-evidence", "Where the evidence bundle is written."),
    Option(
        "signing_key",
        "str",
        "env:PLATFORMGATES_SIGNING_KEY",
        "Where the Ed25519 key that signs the evidence comes from: env:NAME (a variable "
        "holding the PEM text or a path) or file:PATH (outside the project). Unset: unsigned.",
    ),
    Option(
        "max_file_size",
        "int",
        10 * 1024 * 1024,
        "Files larger than this many bytes are not read; a gate that should check one fails.",
        minimum=1,
    ),
    Option(
        "plugins",
        "list[str]",
        [],
        "Modules to import and register as platformgates plugins (like pytest's -p).",
    ),
    Option(
        "baseline",
        "str",
        ".platformgates-baseline.json",
        "The committed findings baseline (`platformgates baseline` writes it): findings it "
        "lists are known debt, any other blocks. Absent file: no baseline.",
    ),
    Option(
        "baseline_stale",
        "choice",
        "ci",
        "Baseline entries no finding matches any more (fixed): fail the gate, warn, or "
        "fail only in CI (CI set).",
        choices=("ci", "fail", "warn"),
    ),
    Option(
        "baseline_max_entries",
        "int",
        100000,
        "Most entries the baseline may hold (a policy caps it with a guardrail max).",
        minimum=0,
    ),
    Option(
        "new_code_only",
        "bool",
        False,
        "Only findings on lines changed since `base` block, in every gate; the rest are "
        "reported as known debt.",
    ),
    Option(
        "base",
        "str",
        "origin/main",
        "The revision new code is counted from (its merge-base with HEAD) for new_code_only "
        "and for the baseline's change in the evidence.",
    ),
)

# Keys the policy layer (policy.py) resolves before the settings are built; a table that
# reaches build_settings with one of them bypassed it, and ignoring them would be silent.
POLICY_KEYS = ("extends", "guardrails", "waivers", "waiver_policy")


@dataclass(frozen=True)
class GateSettings:
    """The effective settings of one gate, defaults filled in and validated."""

    name: str
    values: Mapping[str, Any]

    @property
    def enabled(self) -> bool:
        return bool(self.values["enabled"])

    @property
    def fail_on(self) -> Severity:
        return Severity.parse(self.values["fail_on"])

    @property
    def timeout(self) -> float:
        return float(self.values["timeout"])

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def digest(self) -> str:
        return _digest(self.values)


@dataclass(frozen=True)
class Settings:
    """The effective configuration of a project: one place every part reads from."""

    root: Path
    source: Path
    values: Mapping[str, Any]
    gates: Mapping[str, GateSettings] = field(default_factory=dict)
    # The policy.EffectivePolicy (guardrails, waivers) when loaded through policy.py.
    policy: Any = field(default=None, compare=False)

    @property
    def paths(self) -> list[str]:
        return list(self.values["paths"])

    @property
    def exclude(self) -> list[str]:
        return list(self.values["exclude"])

    @property
    def fail_on(self) -> Severity:
        return Severity.parse(self.values["fail_on"])

    @property
    def max_file_size(self) -> int:
        return int(self.values["max_file_size"])

    @property
    def evidence_dir(self) -> Path:
        return self.root / self.values["evidence_dir"]

    def effective(self) -> dict[str, Any]:
        """The whole configuration as plain data, in a canonical order.

        What the evidence records and ``platformgates config`` prints, so the credentials
        of any URL in it (an ``osv_url`` behind basic auth) are masked.
        """
        data = dict(self.values)
        data["gates"] = {name: dict(g.values) for name, g in sorted(self.gates.items())}
        policy = self.policy.effective() if self.policy is not None else None
        if policy:
            data["policy"] = policy
        return redaction.masked(data)

    @property
    def digest(self) -> str:
        """A stable sha256 of the effective configuration (it goes into the evidence)."""
        return _digest(self.effective())


def _digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_table(pyproject: Path) -> dict[str, Any] | None:
    """Return ``[tool.platformgates]`` of ``pyproject``, or None when the table is absent."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{pyproject}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{pyproject}: cannot be read: {exc.strerror}") from None
    node: Any = data
    for part in TABLE:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"{pyproject}: tool.platformgates must be a table")
    return node


def plugin_modules(raw: Mapping[str, Any], source: Path) -> list[str]:
    """The ``plugins`` key, validated early: it decides which gates exist."""
    option = next(o for o in GLOBAL if o.name == "plugins")
    try:
        return list(option.coerce(raw.get("plugins", []), "tool.platformgates"))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def build_settings(
    root: Path, source: Path, raw: Mapping[str, Any], gates: Mapping[str, Gate]
) -> Settings:
    """Validate ``raw`` against the global schema and each registered gate's schema."""
    where = "tool.platformgates"
    try:
        values = _validate(raw, GLOBAL, where, extra={"gates"})
        gate_tables = raw.get("gates", {})
        if not isinstance(gate_tables, dict):
            raise ConfigError(f"{where}.gates must be a table of gate tables")
        unknown = sorted(set(gate_tables) - set(gates))
        if unknown:
            known = ", ".join(sorted(gates)) or "none"
            raise ConfigError(
                f"{where}.gates.{unknown[0]}: no such gate (registered gates: {known}); "
                "is the plugin that provides it installed?"
            )
        gate_settings = {}
        for name, gate in sorted(gates.items()):
            table = gate_tables.get(name, {})
            gwhere = f"{where}.gates.{name}"
            if not isinstance(table, dict):
                raise ConfigError(f"{gwhere} must be a table")
            gvalues = _validate(table, GATE_COMMON + tuple(gate.options), gwhere)
            if gvalues["fail_on"] is None:
                gvalues["fail_on"] = values["fail_on"]
            if gvalues["new_code_only"] is None:
                gvalues["new_code_only"] = values["new_code_only"]
            gate.validate(gvalues, gwhere)
            gate_settings[name] = GateSettings(name, gvalues)
    except ConfigError as exc:
        raise ConfigError(f"{locate(source, str(exc))}: {exc}") from None
    return Settings(root=root, source=source, values=values, gates=gate_settings)


def _validate(
    raw: Mapping[str, Any], options: Sequence[Option], where: str, extra: set[str] = frozenset()
) -> dict[str, Any]:
    by_name = {o.name: o for o in options}
    for key in raw:
        if key in by_name or key in extra:
            continue
        if key in POLICY_KEYS and where == "tool.platformgates":
            raise ConfigError(
                f"{where}.{key}: policy keys are resolved by pytest_platformgates.policy "
                "(load the configuration with policy.load_settings), never ignored"
            )
        near = _nearest(key, by_name)
        hint = f" (did you mean {near!r}?)" if near else ""
        raise ConfigError(
            f"{where}.{key}: unknown key{hint}; known keys: {', '.join(sorted(by_name))}"
        )
    values: dict[str, Any] = {}
    for option in options:
        if option.name in raw:
            values[option.name] = option.coerce(raw[option.name], where)
        else:
            values[option.name] = _copy(option.default)
    return values


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _nearest(key: str, known: Mapping[str, Any]) -> str | None:
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return match[0] if match else None
