"""Fuzzed detect-secrets baselines (``.secrets.baseline``): used as written, or refused.

Whatever the bytes, the gate either reads the baseline (every recorded secret known,
one marked ``is_secret: true`` never forgotten) or refuses it with a reason; the
detect-secrets settings it names either configure the scan or make it an error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_platformgates.gate import GateError
from pytest_platformgates.gates.secrets import SetupError, parse_baseline, serve

NAME = ".secrets.baseline"
REFUSED = f"the baseline {NAME} is not a valid detect-secrets baseline: "


def plugin_names() -> list[str]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    return sorted(cls.__name__ for cls in get_mapping_from_secret_type_to_class().values())


def secret_types() -> list[str]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    return sorted(get_mapping_from_secret_type_to_class())


ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
HASH = st.text("0123456789abcdef", min_size=40, max_size=40)
FILENAME = st.sampled_from(["a.py", "conf/.env", "b.yaml", "dir\\win.py", "ünï.txt"])
ENTRY = st.fixed_dictionaries(
    {"type": st.sampled_from(secret_types()), "hashed_secret": HASH},
    optional={
        "is_secret": st.booleans(),
        "is_verified": st.booleans(),
        "line_number": st.integers(1, 10_000),
    },
)
AUDIT = st.sampled_from([{"is_secret": True}, {"is_secret": False}, {}])


def recorded_twice(document: dict, audits: list[dict | None]) -> dict:
    """The first secret of each file recorded again, audited as ``audits`` says (None: not)."""
    results = {}
    for (name, entries), audit in zip(document["results"].items(), audits, strict=False):
        if audit is None or not entries:
            results[name] = entries
            continue
        again = {k: v for k, v in entries[0].items() if k != "is_secret"}
        results[name] = [*entries, {**again, **audit}]
    return {**document, "results": results}


VALID = st.fixed_dictionaries(
    {
        "version": st.sampled_from(["1.5.0", "1.4.0", "1.0.3"]),
        "plugins_used": st.lists(
            st.sampled_from(plugin_names()).map(lambda n: {"name": n}),
            min_size=1,
            max_size=4,
        ),
        "filters_used": st.lists(
            st.sampled_from(
                [
                    "detect_secrets.filters.heuristic.is_likely_id_string",
                    "detect_secrets.filters.heuristic.is_templated_secret",
                    "detect_secrets.filters.allowlist.is_line_allowlisted",
                ]
            ).map(lambda p: {"path": p}),
            max_size=3,
        ),
        "results": st.dictionaries(FILENAME, st.lists(ENTRY, max_size=4), max_size=3),
    },
    optional={"generated_at": st.text(max_size=20)},
).flatmap(
    lambda d: st.lists(AUDIT | st.none(), min_size=3, max_size=3).map(
        lambda audits: recorded_twice(d, audits)
    )
)


def mutated(document: dict) -> st.SearchStrategy[dict]:
    """``document`` with one value anywhere in it replaced, or one key dropped."""
    paths: list[tuple] = []

    def walk(node: object, path: tuple) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(document, ())

    def apply(path: tuple, value: object, drop: bool) -> dict:
        doc = json.loads(json.dumps(document))
        if not path:
            return value if isinstance(value, dict) else doc
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if drop and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        return doc

    return st.builds(apply, st.sampled_from(paths), ANY, st.booleans())


def parsed_or_refused(raw: bytes):
    try:
        return parse_baseline(raw, NAME)
    except GateError as exc:
        assert str(exc).startswith(REFUSED), str(exc)
        assert f"detect-secrets scan --baseline {NAME}" in str(exc)
        return None


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | ANY.map(lambda v: json.dumps(v).encode())
    | VALID.flatmap(mutated).map(lambda d: json.dumps(d).encode())
)
def test_any_document_is_read_or_refused_with_the_reason(raw):
    outcome = parsed_or_refused(raw)
    if outcome is not None:
        config, known = outcome
        assert config["plugins_used"], "a baseline read with no plugin would scan for nothing"
        assert all(v in (True, False, None) for v in known.values())


@settings(max_examples=200, deadline=None)
@given(VALID)
def test_every_recorded_secret_is_known_and_one_marked_true_stays_true(document):
    config, known = parse_baseline(json.dumps(document).encode(), NAME)
    expected: dict[tuple[str, str, str], bool | None] = {}
    for filename, entries in document["results"].items():
        for entry in entries:
            key = (filename.replace("\\", "/"), entry["type"], entry["hashed_secret"])
            said = entry.get("is_secret")
            # Audited as a true secret anywhere: it fails, whatever another copy says.
            if expected.get(key) is True or said is True:
                expected[key] = True
            elif key not in expected or expected[key] is None:
                expected[key] = said
    assert {k for k, v in known.items() if v is True} == {
        k for k, v in expected.items() if v is True
    }
    assert known.keys() == expected.keys()
    assert {p["name"] for p in config["plugins_used"]} == {
        p["name"] for p in document["plugins_used"]
    }


PLUGIN = st.fixed_dictionaries(
    {"name": st.sampled_from([*plugin_names(), "NoSuchDetector", ""])},
    optional={
        "limit": st.floats(-1, 10) | ANY,
        "keyword_exclude": st.sampled_from(["", "[", "x+"]) | ANY,
    },
)
FILTER = st.fixed_dictionaries(
    {
        "path": st.sampled_from(
            [
                "detect_secrets.filters.heuristic.is_likely_id_string",
                "detect_secrets.filters.regex.should_exclude_line",
                "detect_secrets.filters.regex.should_exclude_file",
                "detect_secrets.filters.no_such.filter",
                "not a path",
            ]
        )
    },
    optional={"pattern": st.lists(st.sampled_from(["", "[", "^x", ".*"]), max_size=2) | ANY},
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "conf.py"
    # Built at run time: this file's own source holds no whole key.
    path.write_text("aws = '" + "AKIA" + "Z7Q3XKJ4PLM2WN8R" + "'\n")
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plugins=st.lists(PLUGIN, min_size=1, max_size=3), filters=st.lists(FILTER, max_size=3))
def test_fuzzed_baseline_settings_configure_the_scan_or_are_an_error(planted, plugins, filters):
    document = {"version": "1.5.0", "plugins_used": plugins, "filters_used": filters}
    outcome = parsed_or_refused(json.dumps({**document, "results": {}}).encode())
    if outcome is None:
        return
    # The worker in this process: what it does with the settings the gate read, quickly.
    request = {
        "config": outcome[0],
        "baseline": NAME,
        "filename_heuristics": True,
        "files": [str(planted)],
    }
    try:
        reply = serve(request)
    except SetupError as exc:
        assert str(exc)
        return
    # Read as configured: the file was looked at, and no secret value is in the reply.
    assert (
        set(reply["secrets"]) | set(reply["skipped"]) | set(reply["failed"]) | set(reply["unread"])
        == {str(planted)}
        or reply["problems"]
    ), reply
    assert "Z7Q3XKJ4PLM2WN8R" not in json.dumps(reply)
