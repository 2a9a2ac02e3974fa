"""Policy as code: ``extends`` chains of policy files and the guardrails they set.

A platform team publishes a policy file (a path, or a resource of an installed
package, optionally pinned by sha256) holding the keys of ``[tool.platformgates]``
at its top level plus ``[guardrails]``: settings a project cannot change (``locked``),
floors and ceilings (``min``/``max``) and gates it cannot switch off (``required``).
Layers merge base first, the project last; the guardrails are then checked against
the effective settings, so a weaker project configuration is a usage error that names
the policy file, the key and the limit, never a quietly weaker gate.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import waivers
from .config import GATE_COMMON, GLOBAL, ConfigError, Option, Settings, build_settings
from .model import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from .gate import Gate

PACKAGE_PREFIX = "pkg:"
# Keys of a layer that the policy resolves itself; build_settings never sees them.
POLICY_KEYS = ("extends", "guardrails", "waivers", "waiver_policy")
GUARD_KEYS = ("locked", "min", "max", "required")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Layer:
    """One file of the chain: where it came from and what it sets."""

    name: str  # how messages name it: a path relative to the project, or pkg:...
    digest: str  # sha256 of the file's bytes ("" for the project's own pyproject)
    table: Mapping[str, Any]
    guardrails: Mapping[str, Any]
    waivers: tuple[Any, ...]
    waiver_policy: Mapping[str, Any]
    base: str  # where relative references inside the file resolve (a dir or pkg:dir)


@dataclass(frozen=True)
class Guardrail:
    """One limit a policy puts on an effective setting."""

    key: str
    source: str
    locked: bool = False
    locked_value: Any = None
    minimum: Any = None
    maximum: Any = None
    required: bool = False
    # Set on a floor the policy did not write but implies (_implied_floors): the guardrail
    # that implies it, e.g. gates.coverage.line for gates.coverage.severity.
    implied_by: str = ""

    def describe(self) -> str:
        if self.implied_by:
            return (
                f"not below {_show_floor(self.minimum)} (implied by the guardrail "
                f"{self.implied_by}: a guarded gate's severities may be raised, never lowered)"
            )
        parts = []
        if self.required:
            parts.append("required = true")
        if self.locked:
            parts.append(f"locked = true (value {_show(self.locked_value)})")
        if self.minimum is not None:
            parts.append(f"min = {_show(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"max = {_show(self.maximum)}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "source": self.source}
        if self.required:
            out["required"] = True
        if self.locked:
            out["locked"] = _plain(self.locked_value)
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.implied_by:
            out["implied_by"] = self.implied_by
        return out


@dataclass(frozen=True)
class Policy:
    """The resolved chain: layers (bases first, the project last) and their merge."""

    source: Path
    layers: tuple[Layer, ...]
    raw: Mapping[str, Any]  # the merged table build_settings validates
    provenance: Mapping[str, str]  # dotted key -> name of the layer that set it last

    def set_by(self, key: str) -> str:
        """The layer that set ``key`` (or the table it is in), or ``default``."""
        probe = key
        while probe:
            if probe in self.provenance:
                return self.provenance[probe]
            probe = probe.rpartition(".")[0]
        return "default"


@dataclass(frozen=True)
class EffectivePolicy:
    """What a session runs under beyond the plain settings: guardrails and waivers."""

    policy: Policy
    guardrails: tuple[Guardrail, ...]
    rules: waivers.WaiverRules
    waivers: tuple[waivers.Waiver, ...]
    # Weakening command-line choices made locally (refused in CI); the evidence records them.
    overrides: list[str]
    # The severity floors the guardrails imply (_implied_floors). Not part of effective():
    # they follow from the layers and guardrails, which the evidence already records.
    implied: tuple[Guardrail, ...] = ()

    @property
    def required_gates(self) -> tuple[str, ...]:
        names = set()
        for g in self.guardrails:
            parts = g.key.split(".")
            locked_on = g.locked and len(parts) == 3 and parts[2] == "enabled" and g.locked_value
            if g.required or locked_on:
                names.add(parts[1])
        return tuple(sorted(names))

    def waive(self, gate: str, analysis: Any, fail_on: Severity) -> Any:
        return waivers.apply(self.waivers, self.rules, gate, analysis, fail_on)

    def effective(self) -> dict[str, Any]:
        """Plain data for the evidence and the settings digest; empty when nothing is set."""
        plain = (
            len(self.policy.layers) == 1
            and not self.guardrails
            and not self.waivers
            and self.rules == waivers.WaiverRules.from_table({})
        )
        if plain:
            return {}
        return {
            "layers": [
                {"name": layer.name, "sha256": layer.digest} for layer in self.policy.layers
            ],
            "guardrails": [g.to_dict() for g in self.guardrails],
            "waiver_policy": self.rules.to_dict(),
            "waivers": [w.to_dict() for w in self.waivers],
        }


def resolve(source: Path, table: Mapping[str, Any]) -> Policy:
    """Follow ``extends`` from the project's table and merge every layer, bases first."""
    root = source.parent.resolve()
    layers: list[Layer] = []
    _visit(
        name=_display(source, root),
        ident=str(source.resolve()),
        table=table,
        digest="",
        base=str(root),
        root=root,
        stack=[],
        done=set(),
        layers=layers,
        project=True,
    )
    merged: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for layer in layers:
        _merge(merged, layer.table, layer.name, provenance, "")
        # waiver_policy merges key by key too (_waiver_rules); record who set each key.
        for key in layer.waiver_policy:
            provenance[f"waiver_policy.{key}"] = layer.name
    return Policy(source=source, layers=tuple(layers), raw=merged, provenance=provenance)


def settle(policy: Policy, root: Path, gates: Mapping[str, Gate]) -> Settings:
    """Validate the merged settings, check every guardrail, load the waivers."""
    try:
        settings = build_settings(root, policy.source, policy.raw, gates)
    except ConfigError as exc:
        raise ConfigError(_attribute(str(exc), policy)) from None
    rules, rules_sources = _waiver_rules(policy)
    guardrails = _guardrails(policy, gates, rules)
    for guard in guardrails:
        _check(guard, settings, rules, policy)
    implied = _implied_floors(policy, gates)
    for guard in implied:
        _check_floor(guard, settings, policy)
    loaded = _load_waivers(policy, root, gates, rules, rules_sources)
    effective = EffectivePolicy(
        policy=policy,
        guardrails=guardrails,
        rules=rules,
        waivers=loaded,
        overrides=[],
        implied=implied,
    )
    return replace(settings, policy=effective)


def load_settings(
    source: Path, table: Mapping[str, Any], root: Path, gates: Mapping[str, Gate]
) -> Settings:
    """:func:`resolve` then :func:`settle`, for callers that already have the gates."""
    return settle(resolve(source, table), root, gates)


# -- extends ----------------------------------------------------------------------


def _visit(
    *,
    name: str,
    ident: str,
    table: Mapping[str, Any],
    digest: str,
    base: str,
    root: Path,
    stack: list[tuple[str, str]],
    done: set[str],
    layers: list[Layer],
    project: bool,
) -> None:
    where = "tool.platformgates" if project else ""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name}: a policy file must be a table of settings")
    stack = [*stack, (ident, name)]
    for ref, pin in _extends(table.get("extends", []), name, where):
        child_ident, child_name, data, child_base = _fetch(ref, base, root, name)
        if any(child_ident == seen for seen, _ in stack):
            chain = " -> ".join([*(n for _, n in stack), child_name])
            raise ConfigError(f"{name}: extends cycle: {chain}")
        child_digest = hashlib.sha256(data).hexdigest()
        if pin and pin != child_digest:
            raise ConfigError(
                f"{name}: extends {ref!r}: sha256 is {child_digest}, but the pin says {pin}; "
                "the policy changed: review it and update the pin"
            )
        if child_ident in done:
            continue  # reached twice through different bases: merged once, first place
        try:
            child = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{child_name}: not UTF-8 text ({exc.reason})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{child_name}: invalid TOML: {exc}") from None
        _visit(
            name=child_name,
            ident=child_ident,
            table=child,
            digest=child_digest,
            base=child_base,
            root=root,
            stack=stack,
            done=done,
            layers=layers,
            project=False,
        )
    done.add(ident)
    guardrails = table.get("guardrails", {})
    if guardrails and project:
        raise ConfigError(
            f"{name}: tool.platformgates.guardrails: guardrails belong in a policy file that "
            "projects extend; a project cannot guard its own settings against itself"
        )
    if not isinstance(guardrails, Mapping):
        raise ConfigError(f"{name}: {_key(where, 'guardrails')} must be a table")
    entries = table.get("waivers", [])
    if not isinstance(entries, list):
        raise ConfigError(
            f"{name}: {_key(where, 'waivers')} must be an array of tables ([[waivers]])"
        )
    rules = table.get("waiver_policy", {})
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{name}: {_key(where, 'waiver_policy')} must be a table")
    layers.append(
        Layer(
            name=name,
            digest=digest,
            table={k: v for k, v in table.items() if k not in POLICY_KEYS},
            guardrails=dict(guardrails),
            waivers=tuple(entries),
            waiver_policy=dict(rules),
            base=base,
        )
    )


def _extends(value: Any, name: str, where: str) -> list[tuple[str, str]]:
    key = _key(where, "extends")
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, list):
        raise ConfigError(f"{name}: {key} must be a path, a table or an array of them")
    out = []
    for i, item in enumerate(items):
        here = f"{key}[{i}]"
        pin = ""
        if isinstance(item, Mapping):
            unknown = sorted(set(item) - {"path", "sha256"})
            if unknown:
                raise ConfigError(f"{name}: {here}.{unknown[0]}: unknown key (path, sha256)")
            pin = item.get("sha256", "")
            if not isinstance(pin, str) or not _SHA256.fullmatch(pin.lower()):
                raise ConfigError(f"{name}: {here}.sha256 must be 64 hexadecimal digits")
            pin = pin.lower()
            item = item.get("path")
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{name}: {here} must be a non-empty path or pkg:package/resource")
        out.append((item, pin))
    return out


def _fetch(ref: str, base: str, root: Path, parent: str) -> tuple[str, str, bytes, str]:
    """Read ``ref`` (relative to ``base``): its identity, display name, bytes and own base."""
    if ref.startswith(PACKAGE_PREFIX) or (base.startswith(PACKAGE_PREFIX) and not _absolute(ref)):
        if ref.startswith(PACKAGE_PREFIX):
            spec = ref[len(PACKAGE_PREFIX) :]
        else:
            spec = posixpath.normpath(posixpath.join(base[len(PACKAGE_PREFIX) :], ref))
        package, _, resource = spec.partition("/")
        parts = resource.split("/")
        if not package or not resource or any(p in ("", ".", "..") for p in parts):
            raise ConfigError(
                f"{parent}: extends {ref!r}: a package resource is written "
                "pkg:package/path/inside.toml"
            )
        try:
            node = importlib.resources.files(package)
            for part in parts:
                node = node.joinpath(part)
            data = node.read_bytes()
        except ModuleNotFoundError:
            raise ConfigError(
                f"{parent}: extends {ref!r}: no installed package {package!r} "
                "(install the policy package into this environment)"
            ) from None
        except (OSError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{parent}: extends {ref!r}: package {package!r} has no resource {resource!r} "
                f"({type(exc).__name__})"
            ) from None
        name = f"{PACKAGE_PREFIX}{package}/{resource}"
        return name, name, data, f"{PACKAGE_PREFIX}{package}/{posixpath.dirname(resource)}"
    path = Path(ref) if _absolute(ref) else Path(base) / ref
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{parent}: extends {ref!r}: no such file {path}; a path is relative to the "
            "file that extends it, and a policy package installed in this environment is "
            "named pkg:PACKAGE/FILE.toml"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{parent}: extends {ref!r}: cannot read {path}: {exc.strerror}"
        ) from None
    resolved = path.resolve()
    return str(resolved), _display(resolved, root), data, str(resolved.parent)


def _absolute(ref: str) -> bool:
    return Path(ref).is_absolute()


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _merge(
    into: dict[str, Any], layer: Mapping[str, Any], name: str, prov: dict[str, str], prefix: str
) -> None:
    """Later layers win key by key; gate tables merge, every other value is replaced."""
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        deep = dotted == "gates" or (prefix == "gates." and isinstance(value, Mapping))
        if deep and isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, name, prov, f"{dotted}.")
            continue
        into[key] = _copy(value)
        for stale in [k for k in prov if k == dotted or k.startswith(f"{dotted}.")]:
            del prov[stale]
        if isinstance(value, Mapping):  # a table sets its leaves, not the keys it leaves out
            _provenance(value, name, prov, f"{dotted}.")
        else:
            prov[dotted] = name


def _provenance(table: Mapping[str, Any], name: str, prov: dict[str, str], prefix: str) -> None:
    for key, value in table.items():
        if isinstance(value, Mapping):
            _provenance(value, name, prov, f"{prefix}{key}.")
        else:
            prov[f"{prefix}{key}"] = name


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


_KEY_IN_MESSAGE = re.compile(r"tool\.platformgates\.([A-Za-z0-9_.\-]+)")


def _attribute(message: str, policy: Policy) -> str:
    """Name the policy file that set a key the merged configuration rejects."""
    match = _KEY_IN_MESSAGE.search(message)
    if not match:
        return message
    setter = policy.set_by(match.group(1).rstrip("."))
    project = policy.layers[-1].name
    if setter in ("default", project):
        return message
    return f"{message} (the value comes from the policy {setter})"


# -- guardrails -------------------------------------------------------------------


def _schema(key: str, gates: Mapping[str, Gate]) -> Option | None:
    """The option a dotted guardrail key addresses; None for a whole gate (gates.NAME)."""
    parts = key.split(".")
    if len(parts) == 1:
        option = next((o for o in GLOBAL if o.name == key), None)
        if option is None or key == "plugins":
            raise ConfigError(f"no such setting {key!r}")
        return option
    if parts[0] == "gates" and len(parts) in (2, 3):
        if parts[1] not in gates:
            known = ", ".join(sorted(gates)) or "none"
            raise ConfigError(
                f"guards gate {parts[1]!r}, which is not registered (registered: {known}); "
                "is the plugin that provides it installed?"
            )
        if len(parts) == 2:
            return None
        options = (*GATE_COMMON, *gates[parts[1]].options)
        option = next((o for o in options if o.name == parts[2]), None)
        if option is None:
            raise ConfigError(f"gate {parts[1]!r} has no setting {parts[2]!r}")
        return option
    if parts[0] == "waiver_policy" and len(parts) == 2:
        option = next((o for o in waivers.RULES if o.name == parts[1]), None)
        if option is None:
            raise ConfigError(f"waiver_policy has no setting {parts[1]!r}")
        return option
    raise ConfigError(f"no such setting {key!r} (write fail_on, gates.NAME.KEY or gates.NAME)")


def _guardrails(
    policy: Policy, gates: Mapping[str, Gate], rules: waivers.WaiverRules
) -> tuple[Guardrail, ...]:
    out = []
    merged: dict[str, Any] = {}
    scratch: dict[str, str] = {}
    rules_so_far: dict[str, Any] = {}
    for layer in policy.layers:
        _merge(merged, layer.table, layer.name, scratch, "")
        rules_so_far.update(layer.waiver_policy)
        for key, spec in sorted(layer.guardrails.items()):
            where = f"{layer.name}: guardrails.{key}"
            try:
                option = _schema(key, gates)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if not isinstance(spec, Mapping) or not spec:
                raise ConfigError(
                    f"{where} must be a table such as {{ locked = true }}, {{ min = 80 }}, "
                    '{ max = "high" } or { required = true }'
                )
            unknown = sorted(set(spec) - set(GUARD_KEYS))
            if unknown:
                raise ConfigError(f"{where}.{unknown[0]}: unknown key ({', '.join(GUARD_KEYS)})")
            for flag in ("locked", "required"):
                if flag in spec and not isinstance(spec[flag], bool):
                    raise ConfigError(f"{where}.{flag} must be true or false")
            if option is None:
                if set(spec) != {"required"}:
                    raise ConfigError(f"{where}: a whole gate takes only {{ required = true }}")
                out.append(Guardrail(key, layer.name, required=bool(spec["required"])))
                continue
            if "required" in spec:
                raise ConfigError(f"{where}.required: applies to a gate (gates.NAME), not a key")
            bounds = {}
            for bound in ("min", "max"):
                if bound not in spec:
                    continue
                if option.kind not in ("int", "number", "severity"):
                    raise ConfigError(
                        f"{where}.{bound}: {key} is a {option.kind} setting; only numbers "
                        "and severities take min/max (use locked = true)"
                    )
                bounds[bound] = option.coerce(spec[bound], f"{where}")
            if "min" in bounds and "max" in bounds and _rank(bounds["min"]) > _rank(bounds["max"]):
                raise ConfigError(f"{where}: min is above max")
            locked = bool(spec.get("locked", False))
            try:
                value = _value_at(merged, rules_so_far, key, option) if locked else None
            except ConfigError as exc:
                raise ConfigError(f"{where}: locks an invalid value: {exc}") from None
            out.append(
                Guardrail(
                    key,
                    layer.name,
                    locked=locked,
                    locked_value=value,
                    minimum=bounds.get("min"),
                    maximum=bounds.get("max"),
                )
            )
    return tuple(out)


def _value_at(merged: Mapping[str, Any], rules: Mapping[str, Any], key: str, option: Option) -> Any:
    """The value ``key`` has as of a layer: set so far, or the option's default."""
    parts = key.split(".")
    if parts[0] == "waiver_policy":
        node: Any = rules
        name = parts[1]
        where = "waiver_policy"
    elif parts[0] == "gates":
        gates = merged.get("gates", {})
        node = gates.get(parts[1], {}) if isinstance(gates, Mapping) else {}
        name = parts[2]
        where = f"gates.{parts[1]}"
        if name == "fail_on" and (not isinstance(node, Mapping) or "fail_on" not in node):
            return _value_at(merged, rules, "fail_on", next(o for o in GLOBAL if o.name == name))
    else:
        node, name, where = merged, key, ""
    if isinstance(node, Mapping) and name in node:
        return option.coerce(node[name], where)
    return _copy(option.default)


def _rank(value: Any) -> float:
    if isinstance(value, str):
        return float(Severity.parse(value))
    return float(value)


def _effective(settings: Settings, rules: waivers.WaiverRules, key: str) -> list[tuple[str, Any]]:
    """The effective value(s) a guardrail key constrains, with the key each is known by."""
    parts = key.split(".")
    if parts[0] == "waiver_policy":
        return [(key, rules.get(parts[1]))]
    if parts[0] == "gates":
        return [(key, settings.gates[parts[1]].values[parts[2]])]
    found = [(key, settings.values[key])]
    if key == "fail_on":
        # A gate's own fail_on must not step around the project-wide ceiling.
        found += [
            (f"gates.{n}.fail_on", g.values["fail_on"]) for n, g in sorted(settings.gates.items())
        ]
    return found


def _check(
    guard: Guardrail, settings: Settings, rules: waivers.WaiverRules, policy: Policy
) -> None:
    if guard.required:
        gate = guard.key.split(".")[1]
        if not settings.gates[gate].enabled:
            raise ConfigError(
                f"{policy.set_by(guard.key + '.enabled')}: gates.{gate}.enabled = false, but the "
                f"policy {guard.source} requires gate {gate!r} (guardrail {guard.key}: "
                "required = true); it cannot be disabled"
            )
        return
    for key, value in _effective(settings, rules, guard.key):
        setter = policy.set_by(key)
        if guard.locked and _plain(value) != _plain(guard.locked_value):
            raise ConfigError(
                f"{setter}: {key} = {_show(value)}, but the policy {guard.source} locks it at "
                f"{_show(guard.locked_value)} (guardrail {guard.key}: locked = true)"
            )
        if value is None:
            if guard.maximum is not None and not isinstance(guard.maximum, str):
                # An unset count (max_new_uncovered, max_days) means "no limit": above any
                # ceiling, so leaving it unset must not step around the policy's cap.
                raise ConfigError(
                    f"{policy.layers[-1].name}: {key} is not set (no limit), above the ceiling "
                    f"{_show(guard.maximum)} set by the policy {guard.source} (guardrail "
                    f"{guard.key}: max); set it to at most {_show(guard.maximum)}"
                )
            continue
        if guard.minimum is not None and _rank(value) < _rank(guard.minimum):
            raise ConfigError(
                f"{setter}: {key} = {_show(value)} is below the floor {_show(guard.minimum)} "
                f"set by the policy {guard.source} (guardrail {guard.key}: min); "
                "a project may tighten it, not loosen it"
            )
        if guard.maximum is not None and _rank(value) > _rank(guard.maximum):
            raise ConfigError(
                f"{setter}: {key} = {_show(value)} is above the ceiling {_show(guard.maximum)} "
                f"set by the policy {guard.source} (guardrail {guard.key}: max); "
                "a project may tighten it, not loosen it"
            )


# -- implied severity floors ------------------------------------------------------------
#
# A guardrail promises that what it guards blocks: a coverage floor that a missed threshold
# reported at "low" (below fail_on) no longer enforces, or a fail_on ceiling under which a
# gate reports its findings at "low", promises nothing. So a guarded gate's severity-like
# options may not go below the value they have at the guarding policy file.

# A key a severity table of the base does not map keeps the tool's own severity, which may
# be critical: only "critical" can never lower it.
_UNMAPPED_FLOOR = Severity.CRITICAL.label


def _severity_like(option: Option) -> bool:
    """Whether ``option`` says how severe a gate's findings are (lower is laxer).

    Severity options named ``fail_on*`` are thresholds instead (lower is stricter; the
    ``fail_on`` guardrail bounds them). Every other ``severity`` option, a choice marked
    ``severity_like`` (``off`` ranks below low: sast's ``blanket_nosec``; not sast's
    ``confidence``, a filter whose higher value reports less) and a table of severities
    (a SARIF gate's ``levels`` and ``rule_severity``) is severity-like.
    """
    if option.kind == "severity":
        return not option.name.startswith("fail_on")
    if option.severity_like:
        return True
    # Duck-typed: the table option class lives with the external gates that use it.
    return bool(getattr(option, "severity_values", False))


def _implied_floors(policy: Policy, gates: Mapping[str, Gate]) -> tuple[Guardrail, ...]:
    """The floors a layer's guardrails imply on the severity-like options of what they guard.

    A guardrail on ``gates.NAME`` or ``gates.NAME.KEY`` guards gate NAME; one on the global
    ``fail_on`` guards every gate. An explicit guardrail of the same layer on the option
    itself replaces the implied floor (that is how a policy allows lowering it).
    """
    out: list[Guardrail] = []
    merged: dict[str, Any] = {}
    for layer in policy.layers:
        _merge(merged, layer.table, layer.name, {}, "")
        triggers: dict[str, str] = {}
        for key in sorted(layer.guardrails):
            parts = key.split(".")
            if parts[0] == "gates" and len(parts) in (2, 3) and parts[1] in gates:
                triggers.setdefault(parts[1], key)
        if "fail_on" in layer.guardrails:
            for name in gates:
                triggers.setdefault(name, "fail_on")
        for name, trigger in sorted(triggers.items()):
            for option in (*GATE_COMMON, *gates[name].options):
                key = f"gates.{name}.{option.name}"
                if not _severity_like(option) or key in layer.guardrails:
                    continue
                try:
                    value = _value_at(merged, {}, key, option)
                except ConfigError as exc:
                    raise ConfigError(f"{layer.name}: {exc}") from None
                if value is not None:
                    out.append(Guardrail(key, layer.name, minimum=value, implied_by=trigger))
    return tuple(out)


def _check_floor(guard: Guardrail, settings: Settings, policy: Policy) -> None:
    """Refuse an effective severity-like value below an implied floor, naming both files."""
    _, name, option = guard.key.split(".")
    gate = settings.gates.get(name)
    if gate is None:
        return
    for sub, value, floor in _lowered(gate.values[option], guard.minimum):
        key = f"{guard.key}{sub}"
        setter = policy.set_by(key) if value is not None else _table_setter(policy, guard.key)
        unmapped = isinstance(guard.minimum, Mapping) and sub[1:] not in guard.minimum
        if value is None:
            what = f"{key} is removed, but the policy {guard.source} maps it to {_show(floor)}"
        elif unmapped:
            what = (
                f"{key} = {_show(value)}, but the policy {guard.source} does not map it, so "
                f"it keeps the tool's own severity, which may be {_show(floor)}: map it to "
                f"{_show(floor)} or not at all"
            )
        else:
            what = (
                f"{key} = {_show(value)} is below the floor {_show(floor)}, its value in the "
                f"policy {guard.source}"
            )
        raise ConfigError(
            f"{setter}: {what} (implied by the guardrail {guard.implied_by}: the policy guards "
            f"gate {name!r}, and a finding reported at a lower severity could stop blocking); "
            "a project may raise a guarded gate's severities, never lower them (to accept a "
            "finding, write a waiver)"
        )


def _table_setter(policy: Policy, key: str) -> str:
    """The last layer that wrote table ``key``: a key missing from it was dropped there."""
    names = {name for k, name in policy.provenance.items() if k.startswith(f"{key}.")}
    return next((lay.name for lay in reversed(policy.layers) if lay.name in names), "default")


def _lowered(value: Any, floor: Any) -> list[tuple[str, Any, Any]]:
    """Where a severity-like value is below its floor: (``.KEY`` or "", value, floor)."""
    if isinstance(floor, Mapping):
        values = value if isinstance(value, Mapping) else {}
        out = []
        for key in sorted({*floor, *values}):
            got = values.get(key)
            least = floor.get(key, _UNMAPPED_FLOOR)
            if got is None or _severity_rank(got) < _severity_rank(least):
                out.append((f".{key}", got, least))
        return out
    if value is None or _severity_rank(value) < _severity_rank(floor):
        return [("", value, floor)]
    return []


def _severity_rank(value: str) -> int:
    return 0 if value == "off" else int(Severity.parse(value))


def _show_floor(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in sorted(value.items())) + "}"
    return _show(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# -- waivers ----------------------------------------------------------------------


def _waiver_rules(policy: Policy) -> tuple[waivers.WaiverRules, dict[str, Layer]]:
    raw: dict[str, Any] = {}
    sources: dict[str, Layer] = {}
    for layer in policy.layers:
        for key, value in layer.waiver_policy.items():
            raw[key] = value
            sources[key] = layer
    try:
        rules = waivers.WaiverRules.from_table(raw)
    except ConfigError as exc:
        text = str(exc)
        match = re.match(r"waiver_policy\.([A-Za-z0-9_]+)", text)
        layer = sources.get(match.group(1)) if match else None
        name = layer.name if layer else policy.layers[-1].name
        raise ConfigError(f"{name}: {text}") from None
    return rules, sources


def _load_waivers(
    policy: Policy,
    root: Path,
    gates: Mapping[str, Gate],
    rules: waivers.WaiverRules,
    sources: Mapping[str, Layer],
) -> tuple[waivers.Waiver, ...]:
    found: list[waivers.Waiver] = []
    for layer in policy.layers:
        where = "tool.platformgates.waivers" if layer is policy.layers[-1] else "waivers"
        found += waivers.parse(layer.waivers, layer.name, where, gates, rules)
    if rules.file:
        layer = sources["file"]
        if layer.base.startswith(PACKAGE_PREFIX):
            raise ConfigError(
                f"{layer.name}: waiver_policy.file must name a file of the project, "
                "not a package resource"
            )
        path = Path(layer.base) / rules.file
        name = _display(path, root.resolve())
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{layer.name}: waiver_policy.file: no such file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{name}: cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{name}: invalid TOML: {exc}") from None
        unknown = sorted(set(data) - {"waivers"})
        if unknown:
            raise ConfigError(f"{name}: {unknown[0]}: unknown key (a waivers file has [[waivers]])")
        entries = data.get("waivers", [])
        if not isinstance(entries, list):
            raise ConfigError(f"{name}: waivers must be an array of tables ([[waivers]])")
        found += waivers.parse(entries, name, "waivers", gates, rules)
    waivers.check_unique(found)
    return tuple(found)


def _key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# -- the command line ---------------------------------------------------------------


def in_ci() -> bool:
    """``CI`` set to anything but empty/0/false/no, as every CI service does."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def guard_options(settings: Settings, *, no_gates: bool, changed: Any) -> str:
    """Refuse (in CI) or record (locally) command-line options that weaken required gates."""
    effective = settings.policy
    if effective is None or not effective.required_gates:
        return ""
    required = ", ".join(effective.required_gates)
    if no_gates:
        return _override(effective, f"--no-gates skips the gates the policy requires ({required})")
    if changed:
        return _override(
            effective,
            f"--gates-changed checks only changed files for the gates the policy requires "
            f"({required})",
        )
    return ""


def guard_selection(settings: Settings, selected: set[str]) -> str:
    """Refuse (in CI) or record (locally) a run that deselected a required gate."""
    effective = settings.policy
    if effective is None:
        return ""
    missing = [g for g in effective.required_gates if g not in selected]
    if not missing:
        return ""
    return _override(
        effective,
        f"required gate{'s' if len(missing) > 1 else ''} {', '.join(missing)} deselected "
        "(by -k, -m, --deselect or another selection)",
    )


def _override(effective: EffectivePolicy, what: str) -> str:
    sources = sorted({g.source for g in effective.guardrails if g.required or g.locked})
    text = f"{what}; the policy {', '.join(sources)} requires them"
    if in_ci():
        raise ConfigError(f"{text}: refused in CI (CI is set)")
    message = f"WEAKENED RUN: {text}; allowed only outside CI, and recorded in the evidence"
    effective.overrides.append(message)
    return message


# -- what `platformgates policy` prints ---------------------------------------------------


def report_lines(settings: Settings) -> list[str]:
    """The effective policy: every key, its value and the file that set it; the guardrails."""
    effective = settings.policy
    resolved: Policy = effective.policy
    out = ["policy files (bases first, the project last):"]
    for layer in resolved.layers:
        digest = f"  sha256 {layer.digest}" if layer.digest else ""
        out.append(f"  {layer.name}{digest}")
    rows: list[tuple[str, Any]] = [
        (k, v) for k, v in settings.values.items() if k not in ("gates",)
    ]
    for name, gate in sorted(settings.gates.items()):
        rows += [(f"gates.{name}.{k}", v) for k, v in gate.values.items()]
    rows += [(f"waiver_policy.{k}", v) for k, v in effective.rules.values.items()]
    out.append("")
    out.append("settings (key = value  # set by):")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        setter = resolved.set_by(key)
        if setter == "default" and key.endswith(".fail_on") and key.startswith("gates."):
            setter = f"fail_on ({resolved.set_by('fail_on')})"
        out.append(f"  {key:<{width}} = {_toml(value)}  # {setter}")
    out.append("")
    if effective.guardrails:
        out.append("guardrails (a project cannot cross them):")
        for g in effective.guardrails:
            out.append(f"  {g.key}: {g.describe()}  # {g.source}")
    else:
        out.append("guardrails: none")
    for g in effective.implied:
        out.append(f"  {g.key}: {g.describe()}  # {g.source}")
    required = effective.required_gates
    out.append(f"required gates: {', '.join(required) if required else 'none'}")
    out.append(f"waivers: {len(effective.waivers)} (platformgates waivers lists them)")
    out.append(f"digest: {settings.digest}")
    return out


def _toml(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
