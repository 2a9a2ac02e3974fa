"""Fuzzed OSV records: a database or a DatabaseError, never a crash or a missed version."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion

from pytest_platformgates import osv

ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
VERSIONS = st.sampled_from(["0", "1.0", "1.0.1", "2.0rc1", "0.9.post1", "not-pep440", "", "1!2.0"])
EVENT = st.dictionaries(
    st.sampled_from(["introduced", "fixed", "last_affected", "limit", "bogus"]),
    VERSIONS | ANY,
    min_size=1,
    max_size=2,
)
RANGE = st.fixed_dictionaries(
    {"type": st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT"]) | ANY},
    optional={"events": st.lists(EVENT, max_size=3) | ANY},
)
AFFECTED = st.fixed_dictionaries(
    {
        "package": st.fixed_dictionaries(
            {"ecosystem": st.sampled_from(["PyPI", "npm"]) | ANY},
            optional={"name": st.sampled_from(["demo", "Demo_Pkg", ""]) | ANY},
        )
        | ANY
    },
    optional={"ranges": st.lists(RANGE, max_size=2) | ANY, "versions": st.lists(VERSIONS) | ANY},
)
RECORD = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.sampled_from(["PYSEC-2024-1", "GHSA-xxxx"]) | ANY,
            "aliases": st.lists(st.text(max_size=6), max_size=2) | ANY,
            "modified": st.sampled_from(["2024-01-01T00:00:00Z", "yesterday"]) | ANY,
            "withdrawn": st.sampled_from(["2024-01-01T00:00:00Z"]) | ANY,
            "affected": st.lists(AFFECTED, max_size=2) | ANY,
            "severity": st.lists(st.fixed_dictionaries({"type": ANY, "score": ANY})) | ANY,
            "database_specific": ANY,
        },
    )
    | ANY
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(RECORD, min_size=1, max_size=3), version=VERSIONS)
def test_fuzzed_osv_records_load_or_fail_cleanly(records, version):
    with tempfile.TemporaryDirectory() as tmp:
        for i, record in enumerate(records):
            Path(tmp, f"R-{i}.json").write_text(json.dumps(record))
        try:
            db, _notes = osv.load(Path(tmp))
        except osv.DatabaseError:
            return
        for name in ("demo", "demo-pkg"):
            with contextlib.suppress(InvalidVersion):  # a range cannot judge it: said elsewhere
                db.matches(name, version)


@settings(max_examples=100, deadline=None)
@given(
    listed=st.lists(st.sampled_from(["1.0", "1.0.1", "2.0rc1", "0.9.post1"]), min_size=1),
    extra=st.lists(RANGE, max_size=2),
)
def test_a_listed_version_is_always_matched(listed, extra):
    record = {
        "id": "PYSEC-2024-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "Demo_Pkg"}, "versions": listed}],
    }
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "R.json").write_text(json.dumps(record))
        db, _notes = osv.load(Path(tmp))
        for version in listed:
            assert db.matches("demo-pkg", version), version
