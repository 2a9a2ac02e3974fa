"""Facts several gates need, computed once per session: the installed environment."""

from __future__ import annotations

import threading
import time

import pytest
from installed_support import dist, fake_env

from conftest import gates_toml
from pytest_platformgates.gate import SessionFacts

MIT = "License :: OSI Approved :: MIT License"


def test_a_fact_is_computed_once_however_many_threads_ask():
    facts = SessionFacts()
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.05)  # long enough that every thread asks while it runs
        return ("listing",)

    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(facts.get("k", compute))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert seen == [("listing",)] * 8
    assert facts.get("other", lambda: 2) == 2  # another key is its own fact


def test_a_failure_is_not_remembered():
    facts = SessionFacts()
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("interpreter crashed")
        return "ok"

    with pytest.raises(RuntimeError, match="crashed"):
        facts.get("env", flaky)
    assert facts.get("env", flaky) == "ok"
    assert len(attempts) == 2


def test_deps_licences_and_sbom_run_the_interpreter_once(project, tmp_path, advisory_db):
    python, _ = fake_env(tmp_path / "venv", [dist("requests", "2.19.0", Classifier=[MIT])])
    log = tmp_path / "runs.log"
    wrapper = tmp_path / "python"
    # Each start of the interpreter is logged: the listing script is recognisable by its output key.
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *distributions*) echo listed >> "{log}";; esac\n'
        f'exec "{python}" "$@"\n'
    )
    wrapper.chmod(0o755)
    project.write(
        "pyproject.toml",
        '[project]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["requests"]\n\n'
        + gates_toml(
            {
                "deps": {"python": str(wrapper), "database": f"osv:{advisory_db}"},
                "licenses": {"python": str(wrapper)},
                "sbom": {"python": str(wrapper)},
            }
        ),
    )
    result = project.pytester.runpytest("--gates-only", "-p", "no:randomly")
    # requests 2.19.0 is vulnerable (PYSEC-2018-28): the deps gate really audited the listing.
    result.stdout.fnmatch_lines(["*PYSEC-2018-28*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == 2, result.stdout.str()
    assert log.read_text().splitlines() == ["listed"], "the environment was listed more than once"


def test_the_licences_and_sbom_gates_read_the_metadata_once(tmp_path, monkeypatch):
    from pytest_platformgates import installed

    python, _ = fake_env(tmp_path / "venv", [dist("alpha", "1.0"), dist("beta", "2.0")])
    reads = []
    real = installed._metadata
    monkeypatch.setattr(installed, "_metadata", lambda where: reads.append(where) or real(where))
    facts = SessionFacts()
    first = installed.environment(python, tmp_path, 60, facts=facts)
    again = installed.environment(python, tmp_path, 60, facts=facts)
    assert again is first and [d.name for d in first.distributions] == ["alpha", "beta"]
    assert len(reads) == 2  # one per distribution, not per gate
    installed.environment(python, tmp_path, 60)  # without facts: read again
    assert len(reads) == 4


def test_metadata_headers_are_read_as_the_whole_file_would_give_them(tmp_path):
    # installed._metadata parses only up to the first empty line: every distribution of
    # this environment, and a file with CRLF line ends, give the same headers as the whole.
    from email.parser import HeaderParser
    from importlib.metadata import distributions

    from pytest_platformgates.installed import _metadata

    checked = 0
    for installed in distributions():
        where = getattr(installed, "_path", None)
        text = installed.read_text("METADATA")
        if where is None or not text:
            continue
        assert list(_metadata(str(where)).items()) == list(HeaderParser().parsestr(text).items())
        checked += 1
    assert checked > 20
    crlf = tmp_path / "crlf-1.0.dist-info"
    crlf.mkdir()
    (crlf / "METADATA").write_bytes(b"Name: crlf\r\nVersion: 1.0\r\n\r\nName: not-a-header\r\n")
    assert list(_metadata(str(crlf)).items()) == [("Name", "crlf"), ("Version", "1.0")]
