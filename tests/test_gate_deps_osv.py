"""OSV matching rules, severities and database loading, on small generated OSV trees."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pytest_platformgates import osv


def record(ident: str, name: str = "demo-pkg", **extra: Any) -> dict[str, Any]:
    """An OSV record for one PyPI package; ``ranges``/``versions`` go into affected[0]."""
    affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name}}
    for key in ("ranges", "versions", "database_specific", "ecosystem_specific"):
        if key in extra:
            affected[key] = extra.pop(key)
    return {"id": ident, "modified": "2026-11-01T00:00:00Z", "affected": [affected], **extra}


def ecosystem(*events: dict[str, str]) -> list[dict[str, Any]]:
    return [{"type": "ECOSYSTEM", "events": list(events)}]


def write_db(path: Path, *records: dict[str, Any], yaml_too: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i, rec in enumerate(records):
        if yaml_too and i % 2:
            import yaml

            (path / f"{rec['id']}.yaml").write_text(yaml.safe_dump(rec), encoding="utf-8")
        else:
            (path / f"{rec['id']}.json").write_text(json.dumps(rec), encoding="utf-8")
    return path


def ids(db: osv.Database, name: str, version: str) -> list[str]:
    return [v.id for v in osv.merge(db.matches(name, version))]


@pytest.mark.parametrize(
    ("version", "affected"),
    [("0.9", False), ("1.0", True), ("1.5rc1", True), ("1.9.9", True), ("2.0", False)],
)
def test_introduced_fixed_range(tmp_path, version, affected):
    db, _ = osv.load(
        write_db(
            tmp_path, record("OSV-1", ranges=ecosystem({"introduced": "1.0"}, {"fixed": "2.0"}))
        )
    )
    assert ids(db, "demo-pkg", version) == (["OSV-1"] if affected else [])


@pytest.mark.parametrize(
    ("version", "affected"), [("1.4", True), ("1.4.0", True), ("1.4.1", False)]
)
def test_last_affected_is_inclusive(tmp_path, version, affected):
    db, _ = osv.load(
        write_db(
            tmp_path,
            record("OSV-1", ranges=ecosystem({"introduced": "0"}, {"last_affected": "1.4"})),
        )
    )
    assert bool(ids(db, "demo-pkg", version)) is affected


@pytest.mark.parametrize(("version", "affected"), [("2.5", True), ("3.0", False), ("3.1", False)])
def test_limit_caps_an_open_range(tmp_path, version, affected):
    db, _ = osv.load(
        write_db(
            tmp_path, record("OSV-1", ranges=ecosystem({"introduced": "2.0"}, {"limit": "3.0"}))
        )
    )
    assert bool(ids(db, "demo-pkg", version)) is affected


def test_several_intervals_in_one_range(tmp_path):
    events = ({"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.3"})
    db, _ = osv.load(write_db(tmp_path, record("OSV-1", ranges=ecosystem(*events))))
    assert [bool(ids(db, "demo-pkg", v)) for v in ("1.1", "1.5", "2.1", "2.3")] == [
        True,
        False,
        True,
        False,
    ]


def test_explicit_versions_and_normalised_equality(tmp_path):
    db, _ = osv.load(write_db(tmp_path, record("OSV-1", versions=["1.0", "0.9-horsea"])))
    assert ids(db, "demo-pkg", "1.0.0") == ["OSV-1"]  # 1.0 == 1.0.0 in PEP 440
    assert ids(db, "demo-pkg", "0.9-horsea") == ["OSV-1"]  # legacy strings match as text
    assert ids(db, "demo-pkg", "1.1") == []


def test_a_local_build_of_a_listed_or_last_affected_release_is_affected(tmp_path, advisory_db):
    """``1.11.0+ubuntu1`` is 1.11.0 with local changes: PEP 440 sorts it above 1.11.0, so
    a plain comparison would clear it of an advisory naming 1.11.0 (the real py record)."""
    db, _ = osv.load(write_db(tmp_path / "db", record("OSV-1", versions=["1.0"])))
    assert ids(db, "demo-pkg", "1.0+cu118") == ["OSV-1"]
    assert ids(db, "demo-pkg", "1.0.post1") == []  # a post-release is another release
    snapshot, _ = osv.load(advisory_db / "vulns" / "py")  # last_affected: '1.11.0'
    assert ids(snapshot, "py", "1.11.0") == ["PYSEC-2022-42969"]
    assert ids(snapshot, "py", "1.11.0+ubuntu1") == ["PYSEC-2022-42969"]
    db, _ = osv.load(
        write_db(
            tmp_path / "ranges",
            record("OSV-2", ranges=ecosystem({"introduced": "1.0"}, {"last_affected": "1.4"})),
            record("OSV-3", ranges=ecosystem({"introduced": "0"}, {"fixed": "2.0"})),
        )
    )
    assert ids(db, "demo-pkg", "1.4+local") == ["OSV-2", "OSV-3"]
    assert ids(db, "demo-pkg", "1.4.1+local") == ["OSV-3"]
    assert ids(db, "demo-pkg", "2.0+local") == []  # built from the fixed release
    assert ids(db, "demo-pkg", "0.9+local") == ["OSV-3"]


def test_names_are_canonicalised(tmp_path):
    db, _ = osv.load(
        write_db(tmp_path, record("OSV-1", name="Zope.Interface_Extra", versions=["1.0"]))
    )
    assert ids(db, "zope-interface-extra", "1.0") == ["OSV-1"]
    assert ids(db, "ZOPE_interface.extra", "1.0") == ["OSV-1"]


def test_withdrawn_records_are_ignored(tmp_path):
    db, _ = osv.load(
        write_db(
            tmp_path,
            record("OSV-1", versions=["1.0"], withdrawn="2026-01-01T00:00:00Z"),
            record("OSV-2", versions=["1.0"]),
        )
    )
    assert ids(db, "demo-pkg", "1.0") == ["OSV-2"]
    assert db.withdrawn == 1


def test_aliases_merge_records_into_one_vulnerability(tmp_path):
    db, _ = osv.load(
        write_db(
            tmp_path,
            record("GHSA-aaaa-bbbb-cccc", aliases=["CVE-2026-1"], versions=["1.0"]),
            record("PYSEC-2026-1", aliases=["CVE-2026-1"], versions=["1.0"]),
            record("PYSEC-2026-2", aliases=["CVE-2026-2"], versions=["1.0"]),
        )
    )
    vulns = osv.merge(db.matches("demo-pkg", "1.0"))
    assert [(v.ids, v.aliases) for v in vulns] == [
        (("PYSEC-2026-1", "GHSA-aaaa-bbbb-cccc"), ("CVE-2026-1",)),
        (("PYSEC-2026-2",), ("CVE-2026-2",)),
    ]


def test_fixed_versions_and_other_packages(tmp_path):
    db, _ = osv.load(
        write_db(
            tmp_path,
            record(
                "OSV-1",
                ranges=ecosystem({"introduced": "0"}, {"fixed": "1.5"}, {"fixed": "1.4.3"}),
            ),
            record("OSV-2", name="other", versions=["1.0"]),
        )
    )
    (vuln,) = osv.merge(db.matches("demo-pkg", "1.0"))
    assert vuln.fixed == ("1.4.3", "1.5")
    assert ids(db, "unrelated", "1.0") == []


def test_git_only_ranges_are_not_evaluated_but_versions_are(tmp_path):
    git = {"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "0"}]}
    db, _ = osv.load(
        write_db(
            tmp_path,
            record("OSV-1", ranges=[git]),
            record("OSV-2", ranges=[git], versions=["1.0"]),
        )
    )
    assert ids(db, "demo-pkg", "1.0") == ["OSV-2"]


def test_an_entry_without_bounds_affects_every_version(tmp_path):
    db, _ = osv.load(write_db(tmp_path, record("MAL-1")))
    assert ids(db, "demo-pkg", "99.0") == ["MAL-1"]


def test_a_version_that_is_not_pep440_cannot_be_matched_against_ranges(tmp_path):
    db, _ = osv.load(write_db(tmp_path, record("OSV-1", ranges=ecosystem({"introduced": "0"}))))
    with pytest.raises(osv.InvalidVersion):
        db.matches("demo-pkg", "0.9-horsea")


@pytest.mark.parametrize(
    ("vector", "score", "label"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "critical"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1, "high"),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N", 3.3, "low"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "low"),
    ],
)
def test_cvss3_scores_follow_the_specification(vector, score, label):
    assert osv.cvss3_base_score(vector) == score
    assert osv.severity_of({"severity": [{"type": "CVSS_V3", "score": vector}]})[0] == label


def test_cvss2_and_database_specific_and_unknown_severities():
    v2 = {"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"}]}
    assert osv.cvss2_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P") == 7.5
    assert osv.severity_of(v2)[0] == "high"  # v2 has no "critical" rating
    assert osv.severity_of({"database_specific": {"severity": "MODERATE"}})[0] == "medium"
    both = {
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N"}],
        "database_specific": {"severity": "CRITICAL"},
    }
    assert osv.severity_of(both)[0] == "critical"  # the highest stated severity wins
    assert osv.severity_of({"severity": [{"type": "CVSS_V3", "score": "garbage"}]}) == ("", "")


@pytest.mark.parametrize(
    ("vector", "score", "label"),
    [
        # FIRST's calculator gives these: v4 scores come from its macrovector tables.
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, "critical"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 8.7, "high"),
        ("CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 1.0, "low"),
    ],
)
def test_cvss4_vectors_are_scored(vector, score, label):
    assert osv.cvss4_base_score(vector) == score
    assert osv.severity_of({"severity": [{"type": "CVSS_V4", "score": vector}]}) == (
        label,
        f"CVSS_V4 {score:.1f}",
    )


def test_a_malformed_cvss4_vector_is_unknown_severity_not_a_crash():
    truncated = {"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L"}]}
    assert osv.severity_of(truncated) == ("", "")
    with pytest.raises(ValueError, match="malformed CVSS v4 vector"):
        osv.cvss4_base_score("CVSS:4.0/AV:N/AC:L")


def test_merged_severity_is_the_highest_member(tmp_path):
    high = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"
    db, _ = osv.load(
        write_db(
            tmp_path,
            record(
                "GHSA-x",
                aliases=["CVE-1"],
                versions=["1.0"],
                severity=[{"type": "CVSS_V3", "score": high}],
            ),
            record("PYSEC-1", aliases=["CVE-1"], versions=["1.0"]),
        )
    )
    (vuln,) = osv.merge(db.matches("demo-pkg", "1.0"))
    assert (vuln.id, vuln.severity) == ("PYSEC-1", "high")
    assert "GHSA-x" in vuln.severity_basis


def test_yaml_and_json_records_and_the_zip_export(tmp_path):
    records = [record(f"OSV-{i}", versions=["1.0"]) for i in range(4)]
    db, _ = osv.load(write_db(tmp_path / "dir", *records, yaml_too=True))
    assert db.records == 4
    assert ids(db, "demo-pkg", "1.0") == [f"OSV-{i}" for i in range(4)]
    archive = tmp_path / "PyPI-all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    zdb, _ = osv.load(archive)
    assert zdb.records == 4 and ids(zdb, "demo-pkg", "1.0") == ids(db, "demo-pkg", "1.0")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.mkdir(), p)[1], "holds no OSV records"),
        (
            lambda p: write_db(
                p, {**record("X"), "affected": [{"package": {"ecosystem": "npm", "name": "x"}}]}
            ),
            "none for the PyPI ecosystem",
        ),
        (
            lambda p: (
                write_db(p, record("OK", versions=["1"])),
                (p / "bad.json").write_text("{no"),
                p,
            )[2],
            "1 unreadable record",
        ),
        (
            lambda p: (
                write_db(p, record("OK", versions=["1"])),
                (p / "bad.yaml").write_text("- a list"),
                p,
            )[2],
            "1 unreadable record",
        ),
        (lambda p: (p.write_bytes(b"not a zip"), p)[1], "not a readable zip"),
    ],
    ids=["missing", "empty", "other-ecosystem", "corrupt-json", "not-a-record", "corrupt-zip"],
)
def test_unusable_databases_raise(tmp_path, make, message):
    path = make(tmp_path / "db")
    with pytest.raises(osv.DatabaseError, match=message):
        osv.load(path)


def test_a_float_version_in_yaml_is_refused_not_misread(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "X.yaml").write_text(
        "id: X\naffected:\n- package: {ecosystem: PyPI, name: p}\n  ranges:\n"
        "  - type: ECOSYSTEM\n    events:\n    - introduced: '0'\n    - fixed: 1.10\n"
    )
    with pytest.raises(osv.DatabaseError, match="unreadable") as info:
        osv.load(db)
    assert "fixed version must be a string" in info.value.detail


def test_index_cache_is_used_refreshed_and_never_trusted_when_corrupt(tmp_path):
    db_path = write_db(tmp_path / "db", record("OSV-1", versions=["1.0"]))
    cache = tmp_path / "cache"
    first, notes = osv.load(db_path, cache)
    assert not first.from_cache and notes == []
    second, _ = osv.load(db_path, cache)
    assert second.from_cache and ids(second, "demo-pkg", "1.0") == ["OSV-1"]

    write_db(db_path, record("OSV-2", versions=["1.0"]))  # a new record: the index is stale
    third, _ = osv.load(db_path, cache)
    assert not third.from_cache and ids(third, "demo-pkg", "1.0") == ["OSV-1", "OSV-2"]

    (cache_file,) = cache.iterdir()
    raw = cache_file.read_bytes()
    cache_file.write_bytes(raw.replace(b"OSV-2", b"OSV-9"))  # tampered body
    fourth, notes = osv.load(db_path, cache)
    assert not fourth.from_cache and "corrupt" in notes[0]
    assert ids(fourth, "demo-pkg", "1.0") == ["OSV-1", "OSV-2"]


def audited(db_path: Path, cache: Path, *packages: tuple[str, str]):
    facts, answers, notes = osv.audit(db_path, packages, cache)
    shown = {key: [v.id for v in a.vulnerabilities] for key, a in answers.items()}
    return facts, shown, notes


def test_audit_keeps_its_answers_and_needs_no_index_when_nothing_changed(tmp_path, monkeypatch):
    db_path = write_db(
        tmp_path / "db",
        record("OSV-1", ranges=ecosystem({"introduced": "0"}, {"fixed": "1.1"})),
        record("OSV-2", name="other", versions=["2.0"]),
    )
    cache = tmp_path / "cache"
    facts, shown, notes = audited(db_path, cache, ("Demo_Pkg", "1.0"), ("other", "3.0"))
    assert shown == {("demo-pkg", "1.0"): ["OSV-1"], ("other", "3.0"): []}
    assert (facts.records, facts.answered_from_cache, notes) == (2, False, [])

    def no_index(*args):
        raise AssertionError("the index was read although every answer was kept")

    monkeypatch.setattr(osv, "_load", no_index)
    facts, shown_again, _ = audited(db_path, cache, ("other", "3.0"), ("demo-pkg", "1.0"))
    assert shown_again == shown
    assert facts.answered_from_cache and facts.records == 2 and facts.newest is not None
    assert osv.audit(db_path, [("demo-pkg", "1.0")], cache)[1][("demo-pkg", "1.0")].clear == "1.1"


def test_audit_asks_the_index_for_what_it_was_not_asked_before(tmp_path):
    db_path = write_db(tmp_path / "db", record("OSV-1", versions=["1.0", "1.2"]))
    cache = tmp_path / "cache"
    audited(db_path, cache, ("demo-pkg", "1.1"))
    facts, shown, _ = audited(db_path, cache, ("demo-pkg", "1.1"), ("demo-pkg", "1.2"))
    assert shown == {("demo-pkg", "1.1"): [], ("demo-pkg", "1.2"): ["OSV-1"]}
    assert not facts.answered_from_cache


def test_audit_answers_are_dropped_when_the_database_or_the_plugin_changes(tmp_path, monkeypatch):
    db_path = write_db(tmp_path / "db", record("OSV-1", versions=["1.0"]))
    cache = tmp_path / "cache"
    audited(db_path, cache, ("demo-pkg", "1.0"))
    write_db(db_path, record("OSV-2", versions=["1.0"]))  # a new record
    facts, shown, notes = audited(db_path, cache, ("demo-pkg", "1.0"))
    assert shown == {("demo-pkg", "1.0"): ["OSV-1", "OSV-2"]}
    assert not facts.answered_from_cache and notes == []

    # Another version of the matching code: its answers may differ, so none is reused.
    monkeypatch.setattr(osv, "__version__", "0.0.0-other")
    facts, shown, notes = audited(db_path, cache, ("demo-pkg", "1.0"))
    assert not facts.answered_from_cache and notes == []
    assert shown == {("demo-pkg", "1.0"): ["OSV-1", "OSV-2"]}


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw.replace(b'"OSV-1"', b'"OSV-7"'),  # body no longer matches its checksum
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"\xff\xfe" + raw,  # not even a header
    ],
    ids=["tampered", "truncated", "garbage"],
)
def test_audit_answers_that_do_not_verify_are_recomputed_with_a_note(tmp_path, damage):
    db_path = write_db(tmp_path / "db", record("OSV-1", versions=["1.0"]))
    cache = tmp_path / "cache"
    audited(db_path, cache, ("demo-pkg", "1.0"))
    (answers,) = cache.glob("osv-answers-*.json")
    answers.write_bytes(damage(answers.read_bytes()))
    facts, shown, notes = audited(db_path, cache, ("demo-pkg", "1.0"))
    assert shown == {("demo-pkg", "1.0"): ["OSV-1"]}
    assert not facts.answered_from_cache
    assert len(notes) == 1 and "corrupt" in notes[0] and "recomputed" in notes[0]
    assert audited(db_path, cache, ("demo-pkg", "1.0"))[0].answered_from_cache  # rewritten


def test_audit_keeps_an_unauditable_version_unauditable(tmp_path):
    db_path = write_db(
        tmp_path / "db", record("OSV-1", ranges=ecosystem({"introduced": "0"}, {"fixed": "2"}))
    )
    cache = tmp_path / "cache"
    for _ in range(2):
        facts, answers, _ = osv.audit(db_path, [("demo-pkg", "not-pep-440")], cache)
        assert answers[("demo-pkg", "not-pep-440")].invalid
    assert facts.answered_from_cache


def test_pypa_snapshot_known_vulnerabilities(advisory_db, tmp_path):
    db, _ = osv.load(advisory_db, tmp_path)
    assert db.records > 2000
    assert "PYSEC-2023-228" in ids(db, "pip", "23.2.1")
    assert "PYSEC-2023-228" not in ids(db, "pip", "23.3")
    assert "PYSEC-2018-28" in ids(db, "requests", "2.19.0")
    assert "PYSEC-2018-28" not in ids(db, "requests", "2.20.0")


def test_audit_answers_are_kept_however_the_location_is_spelt(tmp_path):
    db_path = write_db(tmp_path / "db", record("OSV-1", versions=["1.0"]))
    (tmp_path / "link").symlink_to(db_path)
    cache = tmp_path / "cache"
    audited(db_path, cache, ("demo-pkg", "1.0"))
    facts, shown, notes = audited(tmp_path / "link", cache, ("demo-pkg", "1.0"))
    assert facts.answered_from_cache and notes == []
    assert facts.location == str(tmp_path / "link")
    assert shown == {("demo-pkg", "1.0"): ["OSV-1"]}
