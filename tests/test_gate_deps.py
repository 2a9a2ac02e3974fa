"""The deps gate offline: real interpreters and files, the PyPA snapshot, generated OSV trees."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deps_support import CRITICAL, LOW, make_env, osv_record, write_osv_tree

from conftest import gate_properties, gates_toml


def configure(project, deps_options: dict[str, Any], dependencies: list[str] = ()) -> None:
    """pyproject.toml declaring ``dependencies`` with only the deps gate enabled."""
    declared = ", ".join(f'"{d}"' for d in dependencies)
    project.write(
        "pyproject.toml",
        f'[project]\nname = "demo"\nversion = "0.1"\ndependencies = [{declared}]\n\n'
        + gates_toml({"deps": deps_options}),
        dedent=False,
    )


def run_gate(project, *args: str):
    return project.pytester.runpytest("--gates-only", "-p", "no:randomly", *args)


def figures(project, *args: str) -> dict[str, str]:
    xml = project.path / "junit.xml"
    run_gate(project, f"--junitxml={xml}", *args)
    props = gate_properties(xml, "deps")
    return {
        name.removeprefix("gate.figure."): value
        for name, value in props.items()
        if name.startswith("gate.figure.")
    }


@pytest.fixture
def small_db(tmp_path):
    """Advisories for fake packages: one critical, one low, one unknown severity."""
    return write_osv_tree(
        tmp_path / "osv",
        [
            osv_record("PYSEC-9001", "alpha-lib", fixed="2.0", aliases=["CVE-9001"], cvss=CRITICAL),
            osv_record("GHSA-9001", "alpha-lib", fixed="2.0", aliases=["CVE-9001"]),
            osv_record("PYSEC-9002", "beta-lib", fixed="1.1", cvss=LOW),
            osv_record("PYSEC-9003", "gamma-lib", fixed="3.0"),
        ],
    )


def test_requests_2_19_in_the_project_interpreter_fails_with_pysec_2018_28(
    project, advisory_db, tmp_path
):
    python = make_env(
        tmp_path / "venv",
        {"requests": "2.19.0", "urllib3": "1.24.3"},
        requires={"requests": ["urllib3<1.25,>=1.21.1"]},
    )
    configure(project, {"python": python, "database": f"osv:{advisory_db}"}, ["requests>=2"])
    result = run_gate(project)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*pyproject.toml:4*high*PYSEC-2018-28*requests 2.19.0 (direct): PYSEC-2018-28 "
            "(GHSA-x84v-xcm2-53pg, CVE-2018-18074); severity unknown, taken as high*",
            "*hint: upgrade requests to 2.31.0 or later, the first version no known advisory "
            "affects (this one is fixed in 2.20.0)",
        ]
    )
    assert "urllib3 1.24.3 (transitive, via requests)" in out
    assert "is stale" in out  # the 2024 snapshot is old, and says so without failing


def test_pip_23_2_1_yields_pysec_2023_228_reported_below_fail_on(project, advisory_db, tmp_path):
    python = make_env(tmp_path / "venv", {"pip": "23.2.1"})
    configure(project, {"python": python, "database": f"osv:{advisory_db}"}, ["something-else"])
    result = run_gate(project)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["deps*PASSED*0*0*0*1*"])  # one low finding, reported
    configure(
        project, {"python": python, "database": f"osv:{advisory_db}", "fail_on": "low"}, ["x"]
    )
    result = run_gate(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*low*PYSEC-2023-228*pip 23.2.1 (transitive, installed but required by no declared "
            "dependency): PYSEC-2023-228 (CVE-2023-5752); severity low (PYSEC-2023-228: "
            "CVSS_V3 3.3)*",
            "*hint: upgrade pip to 23.3 or later*",
        ]
    )


def test_direct_and_transitive_policies_and_alias_merging(project, small_db, tmp_path):
    python = make_env(
        tmp_path / "venv",
        {"alpha-lib": "1.0", "beta-lib": "1.0", "delta-lib": "1.0"},
        requires={"delta-lib": ["beta-lib"]},
    )
    # beta-lib's advisory is low: it blocks as a direct dependency only
    options = {"python": python, "database": f"osv:{small_db}", "fail_on_direct": "low"}
    configure(project, options, ["beta-lib", "delta-lib"])
    result = run_gate(project, "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'deps' failed: 2 blocking findings*",
            "*critical*PYSEC-9001*alpha-lib 1.0 (transitive, installed but required by no "
            "declared dependency): PYSEC-9001 (GHSA-9001, CVE-9001)*",
            "*pyproject.toml:4*high*PYSEC-9002*beta-lib 1.0 (direct)*severity low (PYSEC-9002: "
            "CVSS_V3 3.3); blocks as a direct dependency (fail_on_direct = low)*",
        ]
    )
    assert result.stdout.str().count("CVE-9001") == 1  # two records, one vulnerability

    configure(project, options, ["alpha-lib", "delta-lib"])  # beta-lib now transitive
    result = run_gate(project, "-v")
    result.stdout.fnmatch_lines(
        [
            "*1 blocking finding*",
            "*reported, not blocking*",
            "*low*beta-lib 1.0 (transitive, via delta-lib)*",
        ]
    )


def test_unknown_severity_is_configurable(project, small_db, tmp_path):
    python = make_env(tmp_path / "venv", {"gamma-lib": "2.0"})
    configure(project, {"python": python, "database": f"osv:{small_db}"}, ["gamma-lib"])
    run_gate(project).stdout.fnmatch_lines(["*high*PYSEC-9003*severity unknown, taken as high*"])
    configure(
        project,
        {"python": python, "database": f"osv:{small_db}", "unknown_severity": "medium"},
        ["gamma-lib"],
    )
    run_gate(project).assert_outcomes(passed=1)


def test_clean_environment_passes_with_figures(project, small_db, monkeypatch):
    make_env(project.path / ".venv", {"alpha-lib": "2.0", "beta-lib": "1.1", "demo": "0.1"})
    # a relative `python` is the project's own interpreter, whatever the working directory
    python = ".venv/bin/python"
    configure(project, {"python": python, "database": f"osv:{small_db}"}, ["alpha-lib"])
    got = figures(project)
    assert got["dependencies"] == "2"  # the project itself (demo) is not its own dependency
    assert (got["direct"], got["transitive"], got["unaudited"]) == ("1", "1", "0")
    assert (got["vulnerabilities"], got["mode"]) == ("0", "offline")
    assert got["database_index_cached"] == "0"
    sub = project.path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)  # run from elsewhere: `python` is still the project's .venv
    again = figures(project, str(project.path))
    assert again["database_index_cached"] == "1"  # warm: the parsed index is reused
    assert again["dependencies"] == "2"


def test_requirements_file_with_pip_compile_annotations(project, small_db):
    project.write(
        "requirements.txt",
        """\
        # pip-compile output
        alpha-lib==1.0 \\
            --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
            # via -r requirements.in
        gamma-lib==2.0
            # via alpha-lib
        """,
    )
    configure(project, {"source": "requirements.txt", "database": f"osv:{small_db}"})
    result = run_gate(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*requirements.txt:2*critical*PYSEC-9001*alpha-lib 1.0 (direct)*",
            "*requirements.txt:5*high*PYSEC-9003*gamma-lib 2.0 (transitive, via alpha-lib)*",
        ]
    )


def test_pinned_requirements_against_the_pypa_snapshot(project, advisory_db):
    project.write("requirements.txt", "requests==2.19.0\npip==23.2.1\nrequests==2.32.3\n")
    options = {"source": "requirements.txt", "database": f"osv:{advisory_db}", "fail_on": "low"}
    configure(project, options)
    result = run_gate(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*requirements.txt:1*high*PYSEC-2018-28*requests 2.19.0 (direct)*",
            "*requirements.txt:2*low*PYSEC-2023-228*pip 23.2.1 (direct)*",
        ]
    )
    assert "requirements.txt:3" not in result.stdout.str()


def test_pylock_source(project, small_db):
    project.write(
        "pylock.toml",
        """\
        lock-version = "1.0"
        created-by = "hand"

        [[packages]]
        name = "beta-lib"
        version = "1.0"

        [[packages]]
        name = "alpha-lib"
        version = "1.5"
        """,
    )
    configure(project, {"source": "pylock.toml", "database": f"osv:{small_db}"}, ["alpha-lib"])
    result = run_gate(project, "-v")
    result.stdout.fnmatch_lines(
        [
            "*pylock.toml:9*critical*alpha-lib 1.5 (direct)*",
            "*pylock.toml:5*low*beta-lib 1.0 (transitive)*",
        ]
    )


def test_pyproject_source_pins_ranges_from_the_environment_and_fails_on_the_rest(
    project, small_db, tmp_path
):
    python = make_env(tmp_path / "venv", {"alpha-lib": "1.0"})
    declared = ["alpha-lib>=1", "beta-lib==1.1", "gamma-lib>=2"]  # gamma-lib: not installed
    options = {"source": "pyproject", "python": python, "database": f"osv:{small_db}"}
    configure(project, options, declared)
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*could not be evaluated*",
            "*1 of 3 dependencies could not be audited*gamma-lib (not pinned to one version: "
            "gamma-lib>=2)*",
            "*critical*alpha-lib 1.0 (direct)*",
        ]
    )
    configure(project, {**options, "unaudited": "warn", "fail_on": "critical"}, declared)
    result = run_gate(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*note: 1 of 3 dependencies could not be audited*"])


def test_a_version_that_is_not_pep440_is_unaudited(project, small_db, tmp_path):
    python = make_env(tmp_path / "venv", {"gamma-lib": "2.0-weird.build"})
    configure(project, {"python": python, "database": f"osv:{small_db}"})
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gamma-lib 2.0-weird.build (not a PEP 440 version)*"])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "*advisory database*does not exist*"),
        (lambda p: p.mkdir(), "*holds no OSV records*"),
        (
            lambda p: (p.mkdir(), (p / "X.json").write_text('{"id": "X", "affected": ['))[0],
            "*1 unreadable record*",
        ),
    ],
    ids=["missing", "empty", "corrupt"],
)
def test_unusable_database_errors_the_gate(project, tmp_path, setup, message):
    db = tmp_path / "db"
    setup(db)
    python = make_env(tmp_path / "venv", {"alpha-lib": "1.0"})
    configure(project, {"python": python, "database": f"osv:{db}"})
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*could not be evaluated; it does not pass*", message])


def test_staleness_warns_by_default_and_can_fail(project, tmp_path):
    db = write_osv_tree(
        tmp_path / "old", [osv_record("OSV-1", "zeta", modified="2020-01-01T00:00:00Z")]
    )
    python = make_env(tmp_path / "venv", {"alpha-lib": "1.0"})
    configure(project, {"python": python, "database": f"osv:{db}"})
    got = figures(project)
    assert float(got["database_age_days"]) > 7 and got["vulnerabilities"] == "0"
    run_gate(project).assert_outcomes(passed=1)  # stale warns (a note), it does not fail
    configure(project, {"python": python, "database": f"osv:{db}", "stale": "fail"})
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is stale: its newest record was modified 2020-01-01*"])
    configure(
        project,
        {"python": python, "database": f"osv:{db}", "stale": "fail", "max_age_days": 100000},
    )
    run_gate(project).assert_outcomes(passed=1)


def test_a_record_dated_in_the_future_does_not_make_the_database_fresh(project, tmp_path):
    db = write_osv_tree(
        tmp_path / "old",
        [
            osv_record("OSV-1", "zeta", modified="2020-01-01T00:00:00Z"),
            osv_record("OSV-2", "eta", modified="2999-01-01T00:00:00Z"),
        ],
    )
    python = make_env(tmp_path / "venv", {"alpha-lib": "1.0"})
    configure(project, {"python": python, "database": f"osv:{db}"})
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*has a record modified 2999-01-01, in the future*"])


def test_an_interpreter_that_cannot_be_run_errors(project, small_db, tmp_path):
    configure(project, {"python": str(tmp_path / "nope" / "python"), "database": f"osv:{small_db}"})
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the dependencies cannot be listed*does not exist*"])


def test_an_empty_source_errors(project, small_db):
    project.write("requirements.txt", "# nothing pinned here\n")
    configure(project, {"source": "requirements.txt", "database": f"osv:{small_db}"})
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no dependencies found in 'requirements.txt'*"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fail_on": "high", "fail_on_direct": "critical"}, "*fail_on_direct*laxer than fail_on*"),
        ({"database": "osv:x", "service": "pypi"}, "*service applies to online audits only*"),
        ({"database": "advisories/"}, "*write it as 'osv:PATH'*"),
        ({"service": "pypi", "osv_url": "http://127.0.0.1:1/v1/query"}, "*osv_url needs*"),
        ({"unaudited": "ignore"}, "*unaudited = 'ignore' is not one of*"),
    ],
)
def test_impossible_configurations_are_usage_errors(project, options, message):
    configure(project, options)
    result = run_gate(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def waiver(ident: str, expires: str = "2099-12-31") -> str:
    return (
        f'\n[[tool.platformgates.waivers]]\ngate = "deps"\nid = "{ident}"\n'
        f'reason = "internal build, not on any index"\nowner = "platform"\nexpires = {expires}\n'
    )


def test_a_waiver_accepts_one_unaudited_dependency_and_no_other(project, small_db, tmp_path):
    """`unaudited = "fail"` stands; an owned, expiring waiver may accept one package."""
    python = make_env(
        tmp_path / "venv",
        {"gamma-lib": "2.0-weird.build", "Beta_Lib": "1.0-odd", "delta-lib": "1.0"},
    )
    options = {"python": python, "database": f"osv:{small_db}"}
    configure(project, options)
    pyproject = project.path / "pyproject.toml"
    base = pyproject.read_text()
    pyproject.write_text(base + waiver("unaudited:gamma-lib"))
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*1 of 3 dependencies could not be audited*Beta_Lib 1.0-odd*"])
    assert "gamma-lib 2.0-weird.build (not" not in result.stdout.str().split("waived")[0]

    pyproject.write_text(base + waiver("unaudited:gamma-lib") + waiver("unaudited:beta-lib"))
    result = run_gate(project)
    result.assert_outcomes(passed=1)
    got = figures(project)
    assert (got["unaudited"], got["unaudited_waived"], got["vulnerabilities"]) == ("2", "2", "0")
    evidence = json.loads((project.path / "gate-evidence" / "evidence.json").read_text())
    applied = {w["id"] for w in evidence["predicate"]["waivers"] if w["status"] == "applied"}
    assert "unaudited:beta-lib" in applied

    # an expired waiver accepts nothing: the package is an error again, the waiver a failure
    pyproject.write_text(
        base + waiver("unaudited:gamma-lib") + waiver("unaudited:beta-lib", "2020-01-01")
    )
    result = run_gate(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*1 of 3 dependencies could not be audited*Beta_Lib 1.0-odd*"])


def test_a_platform_policy_can_forbid_unaudited_warn(project, small_db, tmp_path):
    """`unaudited = "warn"` only where the policy allows it: a base policy can lock it."""
    python = make_env(tmp_path / "venv", {"gamma-lib": "2.0-weird.build"})
    project.write(
        "platform.toml",
        '[gates.deps]\nunaudited = "fail"\n'
        '[guardrails]\n"gates.deps.unaudited" = { locked = true }\n',
    )
    project.write(
        "pyproject.toml",
        '[project]\nname = "demo"\nversion = "0.1"\n\n'
        + gates_toml(
            {"deps": {"python": python, "database": f"osv:{small_db}", "unaudited": "warn"}},
            extends=["platform.toml"],
        ),
        dedent=False,
    )
    result = run_gate(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*gates.deps.unaudited*platform.toml*"])
