"""The deps gate online: real pip-audit against an OSV-compatible server on 127.0.0.1."""

from __future__ import annotations

import pytest
from deps_support import CRITICAL, OsvServer, closed_port_url, make_env, osv_record, osv_server

from conftest import gates_toml


def configure(project, options, dependencies=("requests>=2",)) -> None:
    declared = ", ".join(f'"{d}"' for d in dependencies)
    project.write(
        "pyproject.toml",
        f'[project]\nname = "demo"\nversion = "0.1"\ndependencies = [{declared}]\n\n'
        + gates_toml({"deps": options}),
        dedent=False,
    )


@pytest.fixture
def env(tmp_path):
    """The project's interpreter: requests 2.19.0 and a clean transitive dependency."""
    return make_env(
        tmp_path / "venv",
        {"requests": "2.19.0", "idna": "2.7"},
        requires={"requests": ["idna<2.8,>=2.5"]},
    )


def advisories() -> list[dict]:
    return [
        osv_record(
            "PYSEC-2018-28", "requests", fixed="2.20.0", aliases=["CVE-2018-18074", "GHSA-x84v"]
        ),
        osv_record("GHSA-x84v", "requests", fixed="2.20.0", aliases=["CVE-2018-18074"]),
    ]


def test_vulnerable_dependency_found_through_pip_audit(project, env):
    with osv_server(OsvServer(records=advisories())) as server:
        configure(project, {"python": env, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pyproject.toml:4*high*PYSEC-2018-28*requests 2.19.0 (direct): PYSEC-2018-28 "
            "(GHSA-x84v, CVE-2018-18074); severity unknown, taken as high*",
            "*hint: upgrade requests to 2.20.0 or later*",
        ]
    )
    assert result.stdout.str().count("CVE-2018-18074") == 1  # merged by alias
    # the project's interpreter was audited, not pip-audit's own (which has requests 2.3x)
    assert sorted(server.queries) == [("idna", "2.7"), ("requests", "2.19.0")]


def test_severity_comes_from_the_osv_record(project, env):
    records = advisories()
    records[1]["severity"] = [{"type": "CVSS_V3", "score": CRITICAL}]
    with osv_server(OsvServer(records=records)) as server:
        configure(project, {"python": env, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
    result.stdout.fnmatch_lines(
        ["*critical*PYSEC-2018-28*severity critical (GHSA-x84v: CVSS_V3 9.8)*"]
    )
    assert set(server.fetched) <= {"GHSA-x84v", "PYSEC-2018-28", "CVE-2018-18074"}


def test_severity_that_cannot_be_fetched_is_unknown_and_said(project, env):
    with osv_server(OsvServer(records=advisories(), serve_records=False)) as server:
        server.status_get = 500
        configure(project, {"python": env, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*high*PYSEC-2018-28*severity unknown, taken as high*",
            "*note: severities could not be fetched from the OSV service*HTTP Error 500*",
        ]
    )


def test_clean_environment_passes_online(project, tmp_path):
    python = make_env(tmp_path / "venv", {"requests": "2.20.0"})
    with osv_server(OsvServer(records=advisories())) as server:
        configure(project, {"python": python, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    assert server.queries == [("requests", "2.20.0")]


def test_server_errors_fail_closed_naming_the_packages(project, env):
    with osv_server(OsvServer(records=advisories(), status=500)) as server:
        configure(project, {"python": env, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pip-audit produced no report*none of the 2 dependencies was audited: idna 2.7, "
            "requests 2.19.0*",
        ]
    )


def test_unreachable_service_fails_closed(project, env):
    configure(project, {"python": env, "osv_url": closed_port_url()})
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*none of the 2 dependencies was audited: idna 2.7, requests*"
            '*audit offline: `database = "osv:PATH"`*',
        ]
    )
    out = result.stdout.str()
    assert "No known vulnerabilities" not in out
    # pip-audit's crash is told by its innermost frame and exception, not 20 lines of frames
    result.stdout.fnmatch_lines(
        ["*Traceback (most recent call last): (* outer frames left out)", "*ConnectionError*"]
    )
    assert out.count('  File "') <= 2


def test_advisories_pip_audit_drops_fail_the_gate(project, env):
    broken = {"id": "PYSEC-0000-1", "modified": "2026-01-01T00:00:00Z"}  # no `affected`

    class Broken(OsvServer):
        def answer(self, name, version):
            return {"vulns": [broken]} if name == "requests" else {}

    with osv_server(Broken()) as server:
        configure(project, {"python": env, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pip-audit ignored advisories the service returned*"])


def test_unpinned_and_non_pep440_versions_are_unaudited_online(project, tmp_path):
    python = make_env(tmp_path / "venv", {"requests": "2.20.0", "oddball": "1.0-weird.build"})
    with osv_server(OsvServer(records=advisories())) as server:
        configure(project, {"python": python, "osv_url": server.url})
        result = project.pytester.runpytest("--gates-only")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*1 of 2 dependencies could not be audited*oddball*"])
        configure(project, {"python": python, "osv_url": server.url, "unaudited": "warn"})
        project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    assert ("oddball", "1.0-weird.build") not in server.queries


def test_pypi_service_without_network_never_passes_a_vulnerable_pin(project):
    """TOOLS.md's trap: offline, pip-audit's PyPI service skips everything and exits 0.

    Whatever the network here, the gate must not pass requests 2.19.0: with no
    network it errors naming the unaudited package, with one it finds the CVE.
    """
    project.write("requirements.txt", "requests==2.19.0\n")
    configure(
        project, {"source": "requirements.txt", "service": "pypi", "timeout": 60}, ["requests"]
    )
    result = project.pytester.runpytest("--gates-only")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0
    if outcomes.get("errors"):
        assert "requests" in result.stdout.str()
        assert "could not be audited" in result.stdout.str() or "no report" in result.stdout.str()
    else:
        result.stdout.fnmatch_lines(["*PYSEC-2018-28*"])


def test_two_versions_of_one_package_are_both_audited(project):
    """pip-audit refuses a requirements file naming a package twice: the gate must not
    turn that into "no report" (an error for ever) nor drop one of the versions."""
    project.write(
        "requirements.txt",
        'requests==2.19.0 ; sys_platform == "win32"\n'
        'requests==2.20.0 ; sys_platform != "win32"\n'
        "idna==2.7\n"
        "Idna==2.8\n",
    )
    with osv_server(OsvServer(records=advisories())) as server:
        configure(project, {"source": "requirements.txt", "osv_url": server.url}, ["requests"])
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*requirements.txt:1*PYSEC-2018-28*requests 2.19.0*"])
    assert "requests 2.20.0 (" not in result.stdout.str()
    assert sorted(server.queries) == [
        ("idna", "2.7"),
        ("idna", "2.8"),
        ("requests", "2.19.0"),
        ("requests", "2.20.0"),
    ]


def test_a_record_that_crashes_pip_audit_is_named_not_blamed_on_the_network(project, tmp_path):
    python = make_env(tmp_path / "venv", {"binderhub": "1.0.0"})
    # PYSEC-2021-371 in the PyPA database: its ECOSYSTEM range is `fixed: 0.2.0-n653`
    records = [osv_record("PYSEC-2021-371", "binderhub", fixed="0.2.0-n653")]
    with osv_server(OsvServer(records=records)) as server:
        server.answer = lambda name, version: {"vulns": records}  # type: ignore[method-assign]
        configure(project, {"python": python, "osv_url": server.url}, ["binderhub"])
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*none of the 1 dependencies was audited: binderhub 1.0.0; pip-audit crashed: "
            "*InvalidVersion: Invalid version: '0.2.0-n653'*",
        ]
    )
    assert "osv:PATH" in result.stdout.str()


def test_the_upgrade_hint_names_only_fixes_above_the_installed_version(project, tmp_path):
    # PYSEC-2023-72 (pyspark) in the PyPA database: three intervals in one range
    python = make_env(tmp_path / "venv", {"pyspark": "3.2.1"})
    events = [{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.2.0"}]
    events += [{"fixed": "3.2.2"}, {"introduced": "3.1.1"}, {"fixed": "3.2.0"}]
    record = osv_record("PYSEC-2023-72", "pyspark")
    record["affected"][0]["ranges"][0]["events"] = events
    with osv_server(OsvServer(records=[record])) as server:
        server.answer = lambda name, version: {"vulns": [record]}  # type: ignore[method-assign]
        configure(project, {"python": python, "osv_url": server.url}, ["pyspark"])
        result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hint: upgrade pyspark to 3.2.2 or later (fixed in 3.2.2)*"])
    assert "3.1.1" not in result.stdout.str()
