"""The sbom gate: a CycloneDX 1.6 JSON SBOM of the project's environment, schema-validated.

The SBOM lists every distribution installed for the project's interpreter (never the
tool's own, see :mod:`..installed`) as a component with its version, purl and declared
licence, the project as the root component, and the ``Requires-Dist`` graph between
them. It is built with cyclonedx-python-lib, validated offline against the CycloneDX
schema that ships with it, and handed to the evidence bundle as ``sbom.cdx.json``.
A generation or validation failure errors the gate: an SBOM that is not valid is not
evidence.

A warm run reuses the validated document while the environment, the project and the
settings are unchanged, with a fresh serial number and timestamp (both of formats
the gate writes itself, so the schema verdict carries over): validation loads
jsonschema's format checkers, which alone cost over a second.

Of that second, 0.9 s is rfc3987-syntax (jsonschema's checker of the ``iri`` formats)
compiling some forty Lark parsers as it is imported, whether or not the document holds an
IRI. The import of the validator therefore sees a stand-in for that module whose
``is_valid_syntax`` imports the real one the first time an IRI is checked: the same
check, paid for only by an SBOM that has one (see :func:`_iri_checks_on_demand`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import sys
import threading
import types
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .. import __version__, installed, licensing
from ..cache import write_atomic
from ..config import Option
from ..gate import Gate, GateContext, GateError
from ..hookspecs import hookimpl
from ..model import Analysis, Finding, Severity, fingerprint
from ..process import installed_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ARTIFACT = "sbom.cdx.json"
CACHE_FILE = "sbom-document.json"
CACHE_FORMAT = 3  # 3: purls keep dots, as the purl spec does
REQUIREMENTS = ("version", "purl", "license")
# The range cyclonedx-bom declares for it: the gate builds the document with its API.
MIN_CYCLONEDX_LIB, BELOW_CYCLONEDX_LIB = "8", "12"
ROOT_REF = "root-component"


class SbomGate(Gate):
    name = "sbom"
    reads_files = False  # judges the environment, not the files: no wait for the inventory
    description = "a schema-valid CycloneDX 1.6 SBOM of the project's environment"
    options = (
        Option(
            "python",
            "str",
            None,
            "Interpreter whose installed distributions the SBOM lists (a path relative to "
            "the project root, or a command); default: the one running pytest.",
        ),
        Option(
            "format",
            "choice",
            "cyclonedx-json",
            "SBOM format, written to the evidence bundle as sbom.cdx.json.",
            choices=("cyclonedx-json",),
        ),
        Option(
            "require",
            "list[str]",
            ["version", "purl"],
            "What every component must carry: version, purl, license. A component "
            "without one is a finding.",
            choices=REQUIREMENTS,
        ),
        Option(
            "severity", "severity", "high", "Severity of a component missing a `require`d field."
        ),
    )

    def check(self, ctx: GateContext) -> Analysis:
        settings = ctx.settings
        python = installed.interpreter(settings["python"], ctx.root)
        env = installed.environment(python, ctx.root, ctx.timeout, ctx.facts)
        root = _root_component(ctx.root, env)
        lib = _lib_version()
        key = hashlib.sha256(
            json.dumps(
                [env.digest(), settings.digest(), root, lib, __version__], sort_keys=True
            ).encode()
        ).hexdigest()
        notes = list(ctx.notes)
        cache_path = ctx.cache.directory / CACHE_FILE if ctx.cache is not None else None
        cached = _load(cache_path, key, notes) if cache_path is not None else None
        if cached is not None:
            document, findings, figures, said = cached
            document = _refresh(document)
            figures = {**figures, "cached": 1}
        else:
            components = [_component(d) for d in env.distributions]
            document, said = _generate(root, components, _graph(env))
            findings = _requirements(json.loads(document), settings["require"], settings)
            figures = {
                "components": len(components),
                "direct": sum(1 for d in env.distributions if d.direct),
                "with_license": sum(1 for c in components if c.licenses),
            }
            if cache_path is not None:
                note = _save(cache_path, key, document, findings, figures, said)
                if note:
                    notes.append(note)
            figures = {**figures, "cached": 0}
        notes.extend(said)
        return Analysis(
            findings=tuple(findings),
            figures=figures,
            tool_versions={"cyclonedx-python-lib": lib},
            notes=tuple(notes),
            artifacts={ARTIFACT: document},
        )


@dataclass(frozen=True)
class ComponentData:
    """What the SBOM says about one distribution, before cyclonedx-python-lib sees it."""

    name: str
    version: str
    key: str
    ref: str
    #: ("expression", value) | ("id", value) | ("name", value)
    licenses: tuple[tuple[str, str], ...]


def _component(dist: installed.Installed) -> ComponentData:
    declared = licensing.declared_license(dist.metadata)
    licenses: list[tuple[str, str]] = []
    if declared.expression is not None:
        node = licensing.parse(declared.expression)
        simple = isinstance(node, licensing.Term) and not node.exception
        licenses.append(("id" if simple else "expression", declared.expression))
    elif declared.text:
        licenses.append(("name", declared.text))
    else:
        # As cyclonedx-py does: an ambiguous classifier is still what was declared.
        licenses += [
            ("name", str(c).strip())
            for c in dist.metadata.get_all("Classifier") or []
            if str(c).strip().startswith("License ::")
            and str(c).strip() not in licensing.CATEGORIES
        ]
    return ComponentData(
        name=dist.name,
        version=dist.version,
        key=dist.key,
        ref=f"{dist.name}=={dist.version}",
        licenses=tuple(licenses),
    )


def _graph(env: installed.Environment) -> dict[str, list[str]]:
    """``Requires-Dist`` edges between installed distributions, extras followed as asked.

    Markers other than ``extra`` are evaluated for the interpreter running pytest; an
    edge is only drawn to a distribution that is installed. Every installed distribution
    gets its entry, also when two versions of one are installed side by side (an edge
    then goes to the versions the requirement's specifier admits).
    """
    by_key: dict[str, list[installed.Installed]] = {}
    for d in env.distributions:
        by_key.setdefault(d.key, []).append(d)
    parsed = {_ref(d): (d.key, _requirements_of(d.requires)) for d in env.distributions}
    asked: dict[str, set[str]] = {k: set() for k in by_key}
    roots: list[str] = []
    for raw, _line in env.declared.requirements.values():
        with contextlib.suppress(InvalidRequirement):
            req = Requirement(raw)
            key = canonicalize_name(req.name)
            if key in by_key:
                roots += _targets(req, by_key[key])
                asked[key].update(canonicalize_name(e) for e in req.extras)
    changed = True
    while changed:  # extras asked of a distribution switch on more of its requirements
        changed = False
        for key, reqs in parsed.values():
            for req in reqs:
                child = canonicalize_name(req.name)
                if child in by_key and _applies(req, asked[key]):
                    new = {canonicalize_name(e) for e in req.extras} - asked[child]
                    if new:
                        asked[child] |= new
                        changed = True
    graph: dict[str, list[str]] = {ROOT_REF: sorted(set(roots))}
    for ref, (key, reqs) in parsed.items():
        children = {
            target
            for r in reqs
            if canonicalize_name(r.name) in by_key
            and canonicalize_name(r.name) != key
            and _applies(r, asked[key])
            for target in _targets(r, by_key[canonicalize_name(r.name)])
        }
        graph[ref] = sorted(children)
    return graph


def _targets(req: Requirement, versions: Sequence[installed.Installed]) -> list[str]:
    """The refs ``req`` points at among the installed versions of its distribution."""
    if len(versions) > 1:
        fitting = [d for d in versions if req.specifier.contains(d.version, prereleases=True)]
        versions = fitting or versions  # none fits: installed anyway, every one is a candidate
    return [_ref(d) for d in versions]


def _ref(dist: installed.Installed) -> str:
    return f"{dist.name}=={dist.version}"


def _requirements_of(requires: Iterable[str]) -> list[Requirement]:
    out = []
    for raw in requires:
        with contextlib.suppress(InvalidRequirement):
            out.append(Requirement(raw))
    return out


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    try:
        return any(req.marker.evaluate({"extra": e}) for e in sorted(extras | {""}))
    except (InvalidMarker, UndefinedEnvironmentName):
        return True  # the distribution is installed either way


def _root_component(root: Path, env: installed.Environment) -> dict[str, str | None]:
    """The project: name and version from ``[project]``, else the installed version."""
    name = root.name
    ver = None
    with contextlib.suppress(OSError, ValueError):
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get(
            "project", {}
        )
        if isinstance(project, dict):
            name = str(project.get("name") or name)
            static = project.get("version")
            ver = str(static) if isinstance(static, str) else None
    return {"name": name, "version": ver or env.project_version}


def _lib_version() -> str:
    """cyclonedx-python-lib's version when it is a supported one, else :class:`GateError`."""
    return installed_version("cyclonedx-python-lib", MIN_CYCLONEDX_LIB, BELOW_CYCLONEDX_LIB)


IRI_SYNTAX = "rfc3987_syntax"
_IRI_LOCK = threading.Lock()


@contextlib.contextmanager
def _iri_checks_on_demand() -> Iterator[None]:
    """While jsonschema is imported, let it bind ``rfc3987_syntax.is_valid_syntax`` without
    importing that module (0.9 s of parser construction); the binding imports it on first
    use. Nothing changes when jsonschema or the module is loaded already, or the module is
    not installed (jsonschema then has no IRI checks, as it never had). The stand-in is
    taken out of ``sys.modules`` afterwards: anyone else importing it gets the real one."""
    if IRI_SYNTAX in sys.modules or "jsonschema" in sys.modules or not _installed(IRI_SYNTAX):
        yield
        return
    stand_in = types.ModuleType(IRI_SYNTAX)
    stand_in.is_valid_syntax = _is_valid_iri_syntax  # type: ignore[attr-defined]
    sys.modules[IRI_SYNTAX] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(IRI_SYNTAX) is stand_in:
            del sys.modules[IRI_SYNTAX]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _is_valid_iri_syntax(term: str, value: str) -> Any:
    """The real ``rfc3987_syntax.is_valid_syntax``: the module is imported on the first
    call, and is in ``sys.modules`` for every later one."""
    with _IRI_LOCK:
        if getattr(sys.modules.get(IRI_SYNTAX), "is_valid_syntax", None) is _is_valid_iri_syntax:
            del sys.modules[IRI_SYNTAX]  # called while the stand-in is still in place
        module = importlib.import_module(IRI_SYNTAX)
    return module.is_valid_syntax(term, value)


def _generate(
    root: Mapping[str, str | None],
    components: Sequence[ComponentData],
    graph: Mapping[str, Sequence[str]],
) -> tuple[str, list[str]]:
    """Build, serialise and validate the SBOM; :class:`GateError` unless it is valid.

    Returns the document and what cyclonedx-python-lib warned about, as notes (its
    warnings must neither vanish nor, under ``-W error``, crash the gate).
    """
    try:
        from cyclonedx.exception import MissingOptionalDependencyException
        from cyclonedx.schema import SchemaVersion

        with _iri_checks_on_demand():
            from cyclonedx.validation.json import JsonStrictValidator
    except ImportError as exc:
        raise GateError(f"cyclonedx-python-lib cannot be imported: {exc}") from None

    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            document = _build(root, components, graph)
    except GateError:
        raise
    except Exception as exc:
        raise GateError(
            f"cyclonedx-python-lib could not generate the SBOM: {type(exc).__name__}: {exc}"
        ) from None
    said = list(dict.fromkeys(f"cyclonedx-python-lib: {w.message}" for w in caught))
    try:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document, all_errors=True)
    except MissingOptionalDependencyException as exc:
        raise GateError(
            f"the SBOM cannot be validated offline: {exc}",
            "install `cyclonedx-python-lib[json-validation]`",
        ) from None
    if errors is not None:
        listed = [errors] if not isinstance(errors, Iterable) else list(errors)
        details = "\n".join(str(getattr(e, "data", e))[:300] for e in listed[:5])
        raise GateError(
            f"the generated SBOM is not valid CycloneDX 1.6 ({len(listed)} schema error(s)); "
            "it is not kept as evidence",
            details,
        )
    return document, said


def _build(
    root: Mapping[str, str | None],
    components: Sequence[ComponentData],
    graph: Mapping[str, Sequence[str]],
) -> str:
    """The BOM as cyclonedx-python-lib builds and serialises it (imported only here)."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import (
        DisjunctiveLicense,
        LicenseAcknowledgement,
        LicenseExpression,
    )
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.spdx import is_supported_id
    from packageurl import PackageURL

    declared = LicenseAcknowledgement.DECLARED

    def licence(kind: str, value: str) -> Any:
        if kind == "id" and is_supported_id(value):
            return DisjunctiveLicense(id=value, acknowledgement=declared)
        if kind in ("id", "expression"):
            return LicenseExpression(value, acknowledgement=declared)
        return DisjunctiveLicense(name=value, acknowledgement=declared)

    root_version = root["version"]
    root_component = Component(
        name=str(root["name"]),
        version=root_version,
        type=ComponentType.APPLICATION,
        bom_ref=ROOT_REF,
        purl=PackageURL(type="pypi", name=str(root["name"]), version=root_version)
        if root_version
        else None,
    )
    tools = ToolRepository(
        components=[
            Component(name="pytest-platformgates", version=__version__),
            Component(name="cyclonedx-python-lib", version=_lib_version()),
        ]
    )
    bom = Bom(metadata=BomMetaData(component=root_component, tools=tools))
    made = {}
    for c in components:
        made[c.ref] = Component(
            name=c.name,
            version=c.version,
            type=ComponentType.LIBRARY,
            bom_ref=c.ref,
            # packageurl writes a pypi name as the purl spec does: lowercased, `_` as `-`, dots
            # kept (`pkg:pypi/zope.interface`, as cyclonedx-py), not PEP 503's form.
            purl=PackageURL(type="pypi", name=c.name, version=c.version),
            licenses=[licence(kind, value) for kind, value in c.licenses],
        )
        bom.components.add(made[c.ref])
    if len(bom.components) != len(components):
        raise GateError(
            f"the SBOM holds {len(bom.components)} components for {len(components)} "
            "installed distributions; two of them could not be told apart"
        )
    everything = {ROOT_REF: root_component, **made}
    for ref, children in graph.items():
        bom.register_dependency(everything[ref], [everything[c] for c in children])
    return str(JsonV1Dot6(bom).output_as_string(indent=2))


def _requirements(bom: Mapping[str, Any], require: Sequence[str], settings: Any) -> list[Finding]:
    """A finding for every component missing a required field, read from the document."""
    severity = Severity.parse(settings["severity"])
    components = bom.get("components") or []
    if not components:
        raise GateError("the generated SBOM lists no components; an empty SBOM is not evidence")
    findings = []
    fields = {"version": "version", "purl": "purl", "license": "licenses"}
    for comp in components:
        for need in require:
            if comp.get(fields[need]):
                continue
            who = f"{comp.get('name')} {comp.get('version') or '(no version)'}"
            findings.append(
                Finding(
                    gate=SbomGate.name,
                    rule=f"sbom-missing-{need}",
                    severity=severity,
                    path="",
                    line=0,
                    message=f"{who}: the SBOM has no {need} for this component",
                    hint=(
                        "declare it in the distribution's metadata (License-Expression), or "
                        "drop the requirement from `require`"
                    ),
                    fingerprint=fingerprint(
                        SbomGate.name, f"sbom-missing-{need}", str(comp.get("name")), "", 0
                    ),
                )
            )
    return findings


def _refresh(document: str) -> str:
    """A fresh serial number and timestamp: every SBOM instance gets its own (CycloneDX)."""
    data = json.loads(document)
    data["serialNumber"] = f"urn:uuid:{uuid.uuid4()}"
    data.setdefault("metadata", {})["timestamp"] = datetime.now(timezone.utc).isoformat()
    return json.dumps(data, indent=2)


def _checksum(key: str, document: str, findings: Any, figures: Any, notes: Any) -> str:
    payload = json.dumps([key, document, findings, figures, notes], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8", "surrogateescape")).hexdigest()


def _load(
    path: Path, key: str, notes: list[str]
) -> tuple[str, list[Finding], dict[str, Any], list[str]] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"SBOM cache {path} unreadable ({exc.strerror}); regenerated")
        return None
    try:
        doc = json.loads(raw)
        if doc.get("format") != CACHE_FORMAT or doc.get("key") != key:
            return None  # another environment or version: regenerate quietly
        expected = _checksum(key, doc["sbom"], doc["findings"], doc["figures"], doc["notes"])
        if doc["checksum"] != expected:
            raise ValueError("checksum mismatch")
        findings = [Finding.from_dict(f) for f in doc["findings"]]
        json.loads(doc["sbom"])
        return str(doc["sbom"]), findings, dict(doc["figures"]), [str(n) for n in doc["notes"]]
    except Exception as exc:  # any corruption: never trust it
        notes.append(f"SBOM cache {path} is corrupt ({type(exc).__name__}: {exc}); regenerated")
        return None


def _save(
    path: Path,
    key: str,
    document: str,
    findings: list[Finding],
    figures: dict[str, Any],
    notes: list[str],
) -> str | None:
    plain = [f.to_dict() for f in findings]
    doc = {
        "format": CACHE_FORMAT,
        "key": key,
        "sbom": document,
        "findings": plain,
        "figures": figures,
        "notes": notes,
        "checksum": _checksum(key, document, plain, figures, notes),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(doc).encode("utf-8", "surrogateescape"))
    except OSError as exc:
        return f"SBOM cache not written ({exc.strerror}); the next run regenerates it"
    return None


@hookimpl
def platformgates_gates() -> list[Gate]:
    return [SbomGate()]
