"""A distribution's licence as an SPDX expression, and that expression as a tree.

Installed distributions declare a licence three ways, read in PEP 639's order: a
``License-Expression`` (PEP 639), the legacy free-text ``License`` field, and
``License ::`` trove classifiers. Only what maps to SPDX without guessing counts:
``packaging.licenses`` validates and canonicalises expressions, ``license-expression``
upgrades deprecated ids (``GPL-3.0`` → ``GPL-3.0-only``), and classifiers count only
where :data:`CLASSIFIERS` names exactly one SPDX licence. Free text ("Apache 2.0"),
a broken expression and an ambiguous classifier ("BSD License") leave the licence
unknown, with the reason, rather than a plausible guess.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

LICENSE_EXPRESSION = "License-Expression"
LICENSE_FIELD = "License"
CLASSIFIER = "classifiers"
OVERRIDE = "override"

#: ``License ::`` classifiers that name exactly one SPDX licence. A classifier missing
#: here (``BSD License``, ``Apache Software License``: no version; ``Public Domain``,
#: ``Other/Proprietary License``) is ambiguous and leaves the licence unknown. The
#: un-versioned GNU classifiers ("GPLv3") map to ``-only``, the narrower reading.
CLASSIFIERS: Mapping[str, str] = {
    f"License :: {k}": v
    for k, v in {
        "Aladdin Free Public License (AFPL)": "Aladdin",
        "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
        "CeCILL-B Free Software License Agreement (CECILL-B)": "CECILL-B",
        "CeCILL-C Free Software License Agreement (CECILL-C)": "CECILL-C",
        "Nokia Open Source License (NOKOS)": "Nokia",
        "OSI Approved :: Attribution Assurance License": "AAL",
        "OSI Approved :: Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
        "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
        "OSI Approved :: CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)": (
            "CECILL-2.1"
        ),
        "OSI Approved :: CMU License (MIT-CMU)": "MIT-CMU",
        "OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)": ("CDDL-1.0"),
        "OSI Approved :: Common Public License": "CPL-1.0",
        "OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
        "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
        "OSI Approved :: Educational Community License, Version 2.0 (ECL-2.0)": "ECL-2.0",
        "OSI Approved :: European Union Public Licence 1.0 (EUPL 1.0)": "EUPL-1.0",
        "OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
        "OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
        "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
        "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
            "AGPL-3.0-or-later"
        ),
        "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
        "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
        "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
        "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
        "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
        "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
            "LGPL-2.0-or-later"
        ),
        "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
        "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
            "LGPL-3.0-or-later"
        ),
        "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
        "OSI Approved :: IBM Public License": "IPL-1.0",
        "OSI Approved :: ISC License (ISCL)": "ISC",
        "OSI Approved :: Intel Open Source License": "Intel",
        "OSI Approved :: MIT License": "MIT",
        "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
        "OSI Approved :: MirOS License (MirOS)": "MirOS",
        "OSI Approved :: Motosoto License": "Motosoto",
        "OSI Approved :: Mozilla Public License 1.0 (MPL)": "MPL-1.0",
        "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
        "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
        "OSI Approved :: Mulan Permissive Software License v2 (MulanPSL-2.0)": "MulanPSL-2.0",
        "OSI Approved :: Nethack General Public License": "NGPL",
        "OSI Approved :: Nokia Open Source License": "Nokia",
        "OSI Approved :: Open Group Test Suite License": "OGTSL",
        "OSI Approved :: Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
        "OSI Approved :: PostgreSQL License": "PostgreSQL",
        "OSI Approved :: Python License (CNRI Python License)": "CNRI-Python",
        "OSI Approved :: Python Software Foundation License": "PSF-2.0",
        "OSI Approved :: Qt Public License (QPL)": "QPL-1.0",
        "OSI Approved :: Ricoh Source Code Public License": "RSCPL",
        "OSI Approved :: SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
        "OSI Approved :: Sleepycat License": "Sleepycat",
        "OSI Approved :: Sun Industry Standards Source License (SISSL)": "SISSL",
        "OSI Approved :: Sun Public License": "SPL-1.0",
        "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
        "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
        "OSI Approved :: University of Illinois/NCSA Open Source License": "NCSA",
        "OSI Approved :: Vovida Software License 1.0": "VSL-1.0",
        "OSI Approved :: W3C License": "W3C",
        "OSI Approved :: X.Net License": "Xnet",
        "OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
        "OSI Approved :: NASA Open Source Agreement v1.3 (NASA-1.3)": "NASA-1.3",
    }.items()
}
#: Classifiers that only name a category; they say nothing when a specific one is present.
CATEGORIES = frozenset({"License :: OSI Approved", "License :: DFSG approved"})


class Metadata(Protocol):
    """The part of a distribution's core metadata (an email message) that is read here."""

    def get(self, name: str, failobj: Any = None) -> Any: ...

    def get_all(self, name: str, failobj: Any = None) -> list[Any] | None: ...


@dataclass(frozen=True)
class DeclaredLicense:
    """What a distribution says its licence is: an SPDX expression, or why there is none."""

    expression: str | None
    source: str
    detail: str = ""
    #: the free-text ``License`` value when it was not SPDX (short ones only, for SBOMs)
    text: str = ""

    @property
    def known(self) -> bool:
        return self.expression is not None


def declared_license(metadata: Metadata) -> DeclaredLicense:
    """Read a distribution's licence from its metadata, in PEP 639's order."""
    # Core metadata allows one License-Expression; a distribution declaring several must
    # satisfy them all, never just the first one read.
    expressions = list(
        dict.fromkeys(
            str(v).strip() for v in metadata.get_all("License-Expression") or [] if str(v).strip()
        )
    )
    expression = (
        expressions[0] if len(expressions) == 1 else " AND ".join(f"({e})" for e in expressions)
    )
    if expression:
        try:
            return DeclaredLicense(normalise(expression), LICENSE_EXPRESSION)
        except ValueError as exc:
            # PEP 639: with an expression the other fields are not to be used.
            return DeclaredLicense(None, LICENSE_EXPRESSION, f"License-Expression: {exc}")
    reasons = []
    text = ""
    field = _header(metadata, "License")
    if field and field.upper() != "UNKNOWN":
        try:
            return DeclaredLicense(normalise(field), LICENSE_FIELD)
        except ValueError:
            shown = field if len(field) <= 60 and "\n" not in field else field[:57] + "..."
            shown = " ".join(shown.split())
            reasons.append(f"License {shown!r} is not an SPDX expression")
            text = " ".join(field.split()) if len(field) <= 100 and "\n" not in field else ""
    classifiers = [
        str(c).strip()
        for c in metadata.get_all("Classifier") or []
        if str(c).strip().startswith("License ::")
    ]
    specific = [c for c in classifiers if c not in CATEGORIES]
    unmapped = [c for c in specific if c not in CLASSIFIERS]
    if specific and not unmapped:
        ids = list(dict.fromkeys(CLASSIFIERS[c] for c in specific))
        # Several classifiers do not say whether they are alternatives: require them all.
        return DeclaredLicense(" AND ".join(ids), CLASSIFIER, text=text)
    if unmapped:
        reasons.append(
            "classifier "
            + ", ".join(repr(c.removeprefix("License :: ")) for c in unmapped)
            + " does not name one SPDX licence"
        )
    if not reasons:
        reasons.append("no License-Expression, License field or licence classifier")
    return DeclaredLicense(None, "", "; ".join(reasons), text=text)


def _header(metadata: Metadata, name: str) -> str:
    value = metadata.get(name)
    return str(value).strip() if value is not None else ""


# -- SPDX expressions ------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One licence of an expression, with its exception (``GPL-2.0-only WITH X``)."""

    id: str
    exception: str = ""

    def __str__(self) -> str:
        return f"{self.id} WITH {self.exception}" if self.exception else self.id


@dataclass(frozen=True)
class AllOf:
    """``A AND B``: every part applies."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    """``A OR B``: the licensee chooses one part."""

    parts: tuple[Node, ...]


Node = Term | AllOf | AnyOf


def normalise(expression: str) -> str:
    """The canonical SPDX form of ``expression``; ValueError when it is not SPDX.

    Case and spacing come from ``packaging``; deprecated ids are upgraded through
    ``license-expression`` (``GPL-2.0+`` → ``GPL-2.0-or-later``), and those that fold an
    exception into the id through :data:`FOLDED_EXCEPTIONS`.
    """
    try:
        canonical = str(canonicalize_license_expression(expression))
    except InvalidLicenseExpression as exc:
        raise ValueError(str(exc)) from None
    return render(_upgrade(parse(canonical)))


def parse(expression: str) -> Node:
    """Parse a canonical SPDX expression (AND binds tighter than OR, WITH tightest)."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    node, rest = _or(tokens)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r} in {expression!r}")
    return node


def _or(tokens: list[str]) -> tuple[Node, list[str]]:
    parts = []
    node, tokens = _and(tokens)
    parts.append(node)
    while tokens and tokens[0] == "OR":
        node, tokens = _and(tokens[1:])
        parts.append(node)
    return (parts[0] if len(parts) == 1 else AnyOf(tuple(parts))), tokens


def _and(tokens: list[str]) -> tuple[Node, list[str]]:
    parts = []
    node, tokens = _with(tokens)
    parts.append(node)
    while tokens and tokens[0] == "AND":
        node, tokens = _with(tokens[1:])
        parts.append(node)
    return (parts[0] if len(parts) == 1 else AllOf(tuple(parts))), tokens


def _with(tokens: list[str]) -> tuple[Node, list[str]]:
    if not tokens:
        raise ValueError("expression ends too early")
    head, tokens = tokens[0], tokens[1:]
    if head == "(":
        node, tokens = _or(tokens)
        if not tokens or tokens[0] != ")":
            raise ValueError("unbalanced parentheses")
        return node, tokens[1:]
    if head in ("AND", "OR", "WITH", ")"):
        raise ValueError(f"unexpected {head!r}")
    if tokens[:1] == ["WITH"]:
        if len(tokens) < 2:
            raise ValueError("WITH names no exception")
        return Term(head, tokens[1]), tokens[2:]
    return Term(head), tokens


def render(node: Node, top: bool = True) -> str:
    if isinstance(node, Term):
        return str(node)
    joiner = " AND " if isinstance(node, AllOf) else " OR "
    text = joiner.join(render(p, top=False) for p in node.parts)
    return text if top else f"({text})"


def terms(node: Node) -> Iterator[Term]:
    if isinstance(node, Term):
        yield node
    else:
        for part in node.parts:
            yield from terms(part)


#: Deprecated SPDX ids that fold an exception into the licence id. They must become
#: ``ID WITH EXCEPTION``: kept as they are, ``deny = ["GPL-2.0-only"]`` (or ``GPL-2.0-or-later``)
#: would not see the GPL in them. The version-less GPL ones read as ``-only``, the narrower
#: reading, as ``GPL-2.0`` does; eCos and wxWindows state "or any later version".
FOLDED_EXCEPTIONS: Mapping[str, Term] = {
    "GPL-2.0-with-GCC-exception": Term("GPL-2.0-only", "GCC-exception-2.0"),
    "GPL-2.0-with-autoconf-exception": Term("GPL-2.0-only", "Autoconf-exception-2.0"),
    "GPL-2.0-with-bison-exception": Term("GPL-2.0-only", "Bison-exception-2.2"),
    "GPL-2.0-with-classpath-exception": Term("GPL-2.0-only", "Classpath-exception-2.0"),
    "GPL-2.0-with-font-exception": Term("GPL-2.0-only", "Font-exception-2.0"),
    "GPL-3.0-with-GCC-exception": Term("GPL-3.0-only", "GCC-exception-3.1"),
    "GPL-3.0-with-autoconf-exception": Term("GPL-3.0-only", "Autoconf-exception-3.0"),
    "eCos-2.0": Term("GPL-2.0-or-later", "eCos-exception-2.0"),
    "wxWindows": Term("LGPL-2.0-or-later", "WxWindows-exception-3.1"),
}


def _upgrade(node: Node) -> Node:
    if isinstance(node, Term):
        folded = FOLDED_EXCEPTIONS.get(node.id)
        if folded is not None and not node.exception:
            return folded
        return Term(upgrade_id(node.id), node.exception)
    return type(node)(tuple(_upgrade(p) for p in node.parts))


def upgrade_id(license_id: str) -> str:
    """A deprecated SPDX id's current form (``GPL-3.0`` → ``GPL-3.0-only``), else itself."""
    if license_id.startswith("LicenseRef-"):
        return license_id  # the project's own reference: never remapped
    if license_id in _spdx_ids(deprecated=False):
        # A current id is its own form (tests/test_gate_licenses.py checks every one):
        # building license-expression's index for it would cost each run 0.1 s.
        return license_id
    try:
        parsed = _spdx_licensing().parse(license_id, validate=True, strict=True)
    except Exception:  # license-expression knows no such id (e.g. ``MPL-1.1+``)
        return license_id
    key = getattr(parsed, "key", None)
    if isinstance(key, str) and not key.startswith("LicenseRef-"):
        return key
    return license_id


@functools.cache
def _spdx_ids(*, deprecated: bool) -> frozenset[str]:
    """The SPDX licence ids ``packaging`` validates against, current or deprecated ones.

    The table is packaging's own (``packaging.licenses._spdx``); were it ever to move,
    no id is taken as current and license-expression decides, as before.
    """
    try:
        from packaging.licenses._spdx import LICENSES
    except ImportError:  # pragma: no cover - a packaging that moved its table
        return frozenset()
    return frozenset(v["id"] for v in LICENSES.values() if bool(v["deprecated"]) == deprecated)


@functools.cache
def _spdx_licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


# -- "-or-later" ----------------------------------------------------------------------

_VERSIONED = re.compile(
    r"^(?P<family>[A-Za-z][A-Za-z0-9.]*?)-(?P<version>\d+(?:\.\d+)*)(?P<suffix>-only|-or-later|\+)?$"
)


@dataclass(frozen=True)
class Versioned:
    """``GPL-2.0-or-later`` as (family ``GPL``, version (2, 0), or_later True)."""

    family: str
    version: tuple[int, ...]
    suffix: str

    @property
    def or_later(self) -> bool:
        return self.suffix in ("-or-later", "+")

    @classmethod
    def of(cls, license_id: str) -> Versioned | None:
        match = _VERSIONED.match(license_id)
        if match is None:
            return None
        version = tuple(int(p) for p in match.group("version").split("."))
        return cls(match.group("family").lower(), version, match.group("suffix") or "")


def later_versions(license_id: str) -> tuple[str, ...]:
    """The licences a licensee may choose under ``X-or-later`` (or ``X+``): X and every later
    version of the family that SPDX lists, each in its ``-only`` (or plain) form."""
    own = Versioned.of(license_id)
    if own is None or not own.or_later:
        return (license_id,)
    found: dict[str, None] = {}
    for known in _known_versioned():
        v = Versioned.of(known)
        if v is not None and v.family == own.family and v.version >= own.version:
            found[_concrete(known, v)] = None
    base = license_id.removesuffix("+").removesuffix("-or-later")
    found.setdefault(base + ("-only" if own.suffix == "-or-later" else ""), None)
    return tuple(sorted(found))


def _concrete(license_id: str, v: Versioned) -> str:
    if v.suffix == "-or-later":
        return license_id.removesuffix("-or-later") + "-only"
    return license_id.removesuffix("+")


@functools.cache
def _known_versioned() -> tuple[str, ...]:
    # The ids packaging accepts are the SPDX list expressions are checked against;
    # deprecated ids (GPL-2.0) are never the "-only" form of a later version.
    symbols = _spdx_ids(deprecated=False) or {
        k for k in _spdx_licensing().known_symbols if not k.startswith("LicenseRef-")
    }
    return tuple(sorted(k for k in symbols if _VERSIONED.match(k)))


def validate_id(text: str) -> str:
    """A policy entry as written in configuration: an SPDX id (``WITH`` allowed), a
    ``LicenseRef-``, or a glob over ids (``GPL-*``). Returns its canonical form."""
    if any(c in text for c in "*?["):
        if not re.fullmatch(r"[A-Za-z0-9.+*?\[\]\- ]+", text):
            raise ValueError(f"{text!r} is not a licence id pattern")
        return text
    try:
        canonical = normalise(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an SPDX licence id ({exc})") from None
    node = parse(canonical)
    if not isinstance(node, Term):
        raise ValueError(f"{text!r} is an expression; list its licences one by one")
    return canonical
