"""The sast gate: real bandit on small projects, its quiet passes closed."""

from __future__ import annotations

import re

import pytest

from conftest import gate_properties
from pytest_platformgates.gate import GateError
from pytest_platformgates.gates.sast import load_setup

RISKY = """\
import subprocess


def run(cmd):
    subprocess.call(cmd, shell=True)


def check(x):
    assert x
"""
# B404 (low, import subprocess), B602 (high, shell=True), B101 (low, assert).

SQL = """\
def query(cursor, name):
    cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
"""
# B608: medium severity, medium confidence.

CLEAN = """\
def add(a, b):
    return a + b
"""


def _run(project, *args):
    project.write(".gitignore", "junit.xml\n")
    result = project.pytester.runpytest("--gates-only", "--junitxml=junit.xml", *args)
    return result, gate_properties(project.path / "junit.xml", "sast")


def _out(result):
    return result.stdout.str()


def test_findings_at_fail_on_fail_and_the_rest_are_reported(project):
    project.configure({"sast": {}})
    project.write("pkg/risky.py", RISKY)
    project.write("pkg/db.py", SQL)
    result, props = _run(project, "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'sast' failed: 1 blocking finding (fail_on = high)*",
            "*pkg/risky.py:5:5*high*B602*subprocess call with shell=True identified*",
            "*hint: CWE-78; bandit subprocess_popen_with_shell_equals_true, confidence high;"
            " see https://bandit.readthedocs.io/*b602*",
            "*reported, not blocking (below high): 3*",
        ]
    )
    result.stdout.fnmatch_lines(["*pkg/db.py:2:*medium*B608*"])
    result.stdout.fnmatch_lines(["*pkg/risky.py:9:5*low*B101*Use of assert detected*"])
    assert props["gate.findings.high"] == "1"
    assert props["gate.findings.medium"] == "1"
    assert props["gate.findings.low"] == "2"
    assert props["gate.tool.bandit"]
    assert "Traceback" not in _out(result)
    assert result.ret == 1


def test_per_gate_fail_on_makes_medium_block(project):
    project.configure({"sast": {"fail_on": "medium"}})
    project.write("db.py", SQL)
    result, _ = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 blocking finding (fail_on = medium)*", "*db.py:2*B608*"])


def test_clean_code_passes(project):
    project.configure({"sast": {"fail_on": "low"}})
    project.write("pkg/ok.py", CLEAN)
    result, props = _run(project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_checked"] == "1"
    assert props["gate.figure.nosec_comments"] == "0"
    assert props["gate.figure.bandit_config"] == "bandit's defaults"


def test_confidence_filters_findings_out_entirely(project):
    project.configure({"sast": {"fail_on": "medium", "confidence": "high"}})
    project.write("db.py", SQL)  # B608 has medium confidence
    result, props = _run(project)
    result.assert_outcomes(passed=1)
    assert props["gate.findings.medium"] == "0"
    assert props["gate.figure.below_confidence"] == "1"


def test_a_file_bandit_cannot_parse_fails_the_gate_naming_it(project):
    # Bandit itself exits 0 here and only lists the file under "skipped".
    project.configure({"sast": {"fail_on": "critical"}})
    project.write("broken.py", "def broken(:\n    pass\n")
    result, _ = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 blocking finding (fail_on = critical)*",
            "*broken.py*critical*unparseable*bandit could not analyse this file "
            "(syntax error while parsing AST from file)*",
        ]
    )


def test_an_unparseable_file_among_good_ones_still_fails(project):
    project.configure({"sast": {}})
    project.write("ok.py", CLEAN)
    project.write("py2.py", 'print "hello"\n')
    result, props = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*py2.py*critical*unparseable*"])
    assert props["gate.figure.files_checked"] == "2"


def test_binary_and_non_utf8_python_files_cannot_pass(project):
    project.configure({"sast": {}})
    project.write("ok.py", CLEAN)
    project.write("latin.py", "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"))
    project.write("blob.py", b"\x00\x01binary")
    result, _ = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*blob.py*critical*unscannable-file*binary*"])
    result.stdout.fnmatch_lines(["*latin.py*critical*unscannable-file*undecodable*"])


def test_no_python_files_is_an_error_not_a_pass(project):
    project.configure({"sast": {}})
    project.write("README.md", "# nothing to scan\n")
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*could not be evaluated*", "*no files to check*"])


def test_the_hardcoded_password_never_reaches_any_output(project):
    planted = "Zq" + "8-rotated-" + "kW3x"
    project.configure({"sast": {"fail_on": "low"}})
    keyword = "pass" + "word"  # built at run time: our own secrets gate scans this file
    project.write("settings.py", f'{keyword} = "{planted}"\n')
    result, _ = _run(project, "-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*settings.py:1:*low*B105*Possible hardcoded password*"])
    written = [result.stdout.str(), result.stderr.str()]
    written.append((project.path / "junit.xml").read_text())
    written += [
        p.read_text(errors="replace")
        for p in (project.path / ".pytest_cache").rglob("*")
        if p.is_file()
    ]
    assert not [text for text in written if planted in text]


# -- nosec ---------------------------------------------------------------------------------


def test_nosec_with_a_test_id_suppresses_and_is_counted(project):
    project.configure({"sast": {}})
    project.write(
        "run.py",
        """\
        import subprocess  # nosec B404


        def run(cmd):
            subprocess.call(cmd, shell=True)  # nosec B602 - cmd is a constant tuple
        """,
    )
    result, props = _run(project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.nosec_comments"] == "2"
    assert props["gate.figure.nosec_blanket"] == "0"
    assert props["gate.figure.nosec_tests"] == "B404:1,B602:1"


def test_blanket_nosec_is_a_finding_unless_allowed(project):
    project.configure({"sast": {}})
    project.write(
        "run.py",
        """\
        import subprocess  # nosec B404


        def run(cmd):
            subprocess.call(cmd, shell=True)  # nosec
            subprocess.call(cmd, shell=True)  # nosec - reviewed by the security team
        """,
    )
    result, props = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*run.py:5*high*nosec-blanket*without test ids*", "*run.py:6*high*nosec-blanket*"]
    )
    assert props["gate.figure.nosec_blanket"] == "2"

    project.configure({"sast": {"blanket_nosec": "off"}})
    result, props = _run(project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.nosec_blanket"] == "2"  # still counted


def test_nosec_with_a_mistyped_id_is_reported_as_the_blanket_it_becomes(project):
    project.configure({"sast": {"blanket_nosec": "off"}})
    project.write("ev.py", 'eval("1")  # nosec: B3O7\n')
    result, _ = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ev.py:1*high*nosec-unknown-test*no known bandit test*"])
    assert "B3O7" not in _out(result)  # a finding carries no source text


# -- bandit's own configuration ------------------------------------------------------------


def test_tool_bandit_skips_and_tests_are_honoured(project):
    project.configure({"sast": {"fail_on": "low"}}, extra='[tool.bandit]\nskips = ["B602"]\n')
    project.write("risky.py", RISKY)
    result, props = _run(project, "-v")
    result.assert_outcomes(failed=1)  # B404 and B101 remain
    assert "B602" not in _out(result)
    assert props["gate.findings.high"] == "0"

    project.configure({"sast": {"fail_on": "low"}}, extra='[tool.bandit]\ntests = ["B602"]\n')
    result, props = _run(project, "-v")
    result.assert_outcomes(failed=1)
    assert props["gate.findings.high"] == "1"
    assert props["gate.findings.low"] == "0"


def test_tool_bandit_plugin_options_are_honoured(project):
    extra = '[tool.bandit.assert_used]\nskips = ["*/test_*.py"]\n'
    project.configure({"sast": {"fail_on": "low"}}, extra=extra)
    project.write("tests/test_x.py", "def test_x():\n    assert 1\n")
    result, _ = _run(project)
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ('skip = ["B101"]', ["unknown key 'skip'", "did you mean 'skips'?"]),
        ('exclude = ["tests"]', ["unknown key 'exclude'", "did you mean 'exclude_dirs'?"]),
        ('skips = ["B999"]', ["unknown bandit test 'B999'"]),
        ('skips = ["assert_used"]', ["unknown bandit test 'assert_used'", "write 'B101'"]),
        ('skips = "B101"', ["skips must be a list of strings"]),
        ('tests = ["B101"]\nskips = ["B101"]', ["B101 in both tests and skips"]),
        ('tests = ["B001"]\nskips = ["B001"]', ["B001 in both tests and skips"]),
        (
            "[tool.bandit.any_other_function_with_shell_equals_true]\nno_shell = []",
            [
                "reads the options of any_other_function_with_shell_equals_true from "
                "[shell_injection]"
            ],
        ),
        (
            "[tool.bandit.shell_injection]\nno_shell = []",
            ["shell_injection leaves out shell, subprocess", "replaces the whole"],
        ),
        ("[tool.bandit.assert_used]\nskip = []", ["assert_used.skip is not an option"]),
        ("[tool.bandit]\nassert_used = 3", ["assert_used must be a table"]),
        ('profiles = { a = { include = ["B101"] } }', ["legacy profile configuration"]),
        ('exclude_dirs = [""]', ["an empty exclude entry"]),
        ("tool.bandit = 3", ["tool.bandit must be a table"]),
    ],
)
def test_what_bandit_would_silently_ignore_is_an_error(tmp_path, table, needles):
    if not table.startswith(("[", "tool.")):
        table = "[tool.bandit]\n" + table
    (tmp_path / "pyproject.toml").write_text(table + "\n")
    with pytest.raises(GateError) as excinfo:
        load_setup(tmp_path)
    for needle in needles:
        assert needle in str(excinfo.value)


def test_a_bandit_config_error_errors_the_gate_item(project):
    project.configure({"sast": {}}, extra='[tool.bandit]\nskip = ["B101"]\n')
    project.write("risky.py", RISKY)
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'sast' could not be evaluated; it does not pass:*",
            "*pyproject.toml ?tool.bandit?: unknown key 'skip', which bandit would silently "
            "ignore (did you mean 'skips'?)*",
        ]
    )


def test_exclude_dirs_matching_only_by_substring_is_an_error(project):
    project.configure({"sast": {}}, extra='[tool.bandit]\nexclude_dirs = ["test"]\n')
    project.write("src/attestation.py", RISKY)
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*bandit's exclude entry 'test' excludes src/attestation.py only because*substring*"]
    )


def test_exclude_dirs_naming_a_directory_excludes_it_and_says_so(project):
    project.configure({"sast": {}}, extra='[tool.bandit]\nexclude_dirs = ["vendor"]\n')
    project.write("vendor/lib.py", RISKY)
    project.write("app.py", RISKY)
    result, props = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*app.py:5:5*B602*", "*1 file(s) excluded by bandit's configuration: vendor/lib.py*"]
    )
    assert "vendor/lib.py:" not in _out(result)
    assert props["gate.figure.files_excluded_by_bandit"] == "1"
    assert props["gate.figure.files_checked"] == "1"


def test_excluding_every_file_is_an_error(project):
    project.configure({"sast": {}}, extra='[tool.bandit]\nexclude_dirs = ["src"]\n')
    project.write("src/app.py", RISKY)
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no files to check*"])


def test_dot_bandit_ini_is_honoured(project):
    project.configure({"sast": {}})
    project.write("risky.py", RISKY)
    project.write(".bandit", "[bandit]\nskips = B602\ntargets = src\n")
    result, props = _run(project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.bandit_config"] == ".bandit"


@pytest.mark.parametrize(
    ("ini", "needle"),
    [
        ("[bandit]\nskips = B101, B602\n", "unknown bandit test ' B602'"),
        (
            "[bandit]\nskip = B602\n",
            "unknown key 'skip', which bandit would silently ignore (did you mean 'skips'?)",
        ),
        ("[tool.bandit]\nskips = B602\n", ".bandit has no [bandit] section"),
        ("skips = B602\n", ".bandit cannot be read"),
        ("[bandit]\nexclude = a,,b\n", "an empty exclude entry"),
    ],
)
def test_dot_bandit_mistakes_are_errors(tmp_path, ini, needle):
    (tmp_path / ".bandit").write_text(ini)
    with pytest.raises(GateError, match=re.escape(needle)):
        load_setup(tmp_path)


def test_dot_bandit_exclude_and_configfile_are_read_as_the_cli_reads_them(tmp_path):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "conf.yaml").write_text("skips: [B101]\n")
    (tmp_path / ".bandit").write_text("[bandit]\nexclude = ./vendor,gen\nconfigfile = conf.yaml\n")
    setup = load_setup(tmp_path)
    assert setup.excludes == ("./vendor/*", "gen")
    assert setup.skips == ("B101",)
    assert setup.excluded_by("vendor/x.py") == "./vendor/*"
    assert setup.excluded_by("src/gen/x.py") == "gen"
    assert setup.excluded_by("src/x.py") is None


def test_a_dot_bandit_below_the_root_is_an_error(project):
    project.configure({"sast": {}})
    project.write("pkg/risky.py", RISKY)
    project.write("pkg/.bandit", "[bandit]\nskips = B602\n")
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pkg/.bandit: only a .bandit at the project root is read*"])


def test_tool_bandit_include_selects_the_files(project):
    # Matched against "./bin/deploy", as under `bandit -r .`: "bin/*" would match nothing.
    extra = '[tool.bandit]\ninclude = ["*.py", "*/bin/*"]\n'
    project.configure({"sast": {}}, extra=extra)
    project.write("bin/deploy", RISKY)
    project.write("notes.txt", RISKY)
    result, props = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*bin/deploy:5:5*high*B602*"])
    assert props["gate.figure.files_checked"] == "1"


def test_a_yaml_config_named_by_the_config_option(project):
    project.configure({"sast": {"config": "bandit.yaml"}})
    project.write("bandit.yaml", "skips: [B602]\n")
    project.write("risky.py", RISKY)
    _run(project)[0].assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.yaml", None, "bandit config file missing.yaml does not exist"),
        ("bandit.cfg", "skips: []", "name it .yaml, .yml or .toml"),
        ("bandit.yaml", "- B101", "must hold a mapping of options"),
        ("bandit.yaml", "skips: [B101", "cannot be read"),
        ("other.toml", "[tool.other]\n", "has no [tool.bandit] table"),
        ("bandit.yaml", "skips: [B1O1]", "unknown bandit test 'B1O1'"),
    ],
)
def test_config_option_mistakes_are_errors(tmp_path, name, content, needle):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(GateError, match=re.escape(needle)):
        load_setup(tmp_path, name)


# -- bandit failing ----------------------------------------------------------------------------


def test_bandit_crashing_on_a_file_is_an_error(project):
    # Parses fine, but bandit's recursive AST visitor overflows the stack on it.
    project.configure({"sast": {}})
    project.write("deep.py", "x = " + " + ".join(["1"] * 3000) + "\n")
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*could not be evaluated*",
            "*bandit could not analyse deep.py: exception while scanning file "
            "(`bandit --debug deep.py` shows the traceback)*",
        ]
    )


def test_a_bandit_test_crashing_is_an_error_not_a_silent_pass(project):
    # Bandit logs the crash, carries on, and that test reports nothing for the file.
    extra = "[tool.bandit.assert_used]\nskips = 3\n"
    project.configure({"sast": {"fail_on": "low"}}, extra=extra)
    project.write("check.py", "assert ready\n")
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*bandit reported an internal error: Bandit internal error running: assert_used*"]
    )


def test_bandit_running_out_of_time_is_an_error(project):
    project.configure({"sast": {"timeout": 1}})
    entries = ",\n".join(f"    'key{i}': ('{i}', {i}, [{i}, {i}])" for i in range(60000))
    project.write("big.py", "TABLE = {\n" + entries + "\n}\n")
    result, _ = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not finish within 1 s and was stopped*"])


# -- cache -----------------------------------------------------------------------------------


def test_warm_run_is_cached_and_config_changes_invalidate(project):
    project.configure({"sast": {}})
    project.write("risky.py", RISKY)
    project.write("ok.py", CLEAN)
    result, props = _run(project)
    result.assert_outcomes(failed=1)
    assert props["gate.figure.files_analysed"] == "2"

    result, props = _run(project)
    result.assert_outcomes(failed=1)  # cached findings still fail
    result.stdout.fnmatch_lines(["*risky.py:5:5*B602*"])
    assert props["gate.figure.files_cached"] == "2"

    project.write("ok.py", CLEAN + "\n\ndef sub(a, b):\n    return a - b\n")
    _, props = _run(project)
    assert props["gate.figure.files_analysed"] == "1"

    project.configure({"sast": {}}, extra='[tool.bandit]\nskips = ["B602"]\n')
    result, props = _run(project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_analysed"] == "2"

    project.configure({"sast": {"fail_on": "low", "confidence": "high"}})
    result, props = _run(project)
    assert props["gate.figure.files_analysed"] == "2"  # the gate's settings changed


def _worker_request(tmp_path, **overrides):
    from pytest_platformgates.gates.sast import read_setup

    setup = read_setup(tmp_path)
    request = {
        "config_option": "",
        "setup": setup.digest_input(),
        "config_file": setup.config_file,
        "tests": list(setup.tests),
        "skips": list(setup.skips),
        "files": ["./app.py"],
    }
    return {**request, **overrides}


def test_the_worker_validates_the_settings_it_was_given_and_reads_nosec(tmp_path, monkeypatch):
    from pytest_platformgates.gates.sast import worker

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text(RISKY.replace("shell=True)", "shell=True)  # nosec B602"))
    report = worker(_worker_request(tmp_path))
    assert report["invalid"] is None
    assert report["nosec"] == {"./app.py": [[5, ["B602"], True]]}  # line, known, id-shaped
    assert {i["test_id"] for i in report["issues"]} == {"B404", "B101"}

    (tmp_path / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B999"]\n')
    refused = worker(_worker_request(tmp_path))
    assert refused["issues"] == [] and refused["scanned"] == []
    assert "unknown bandit test 'B999'" in refused["invalid"][0]


def test_the_worker_refuses_settings_changed_since_the_gate_read_them(tmp_path, monkeypatch):
    from pytest_platformgates.gates.sast import worker

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text(RISKY)
    request = _worker_request(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B602"]\n')
    refused = worker(request)
    assert "changed while the gate was running" in refused["invalid"][0]
    assert refused["issues"] == []


@pytest.mark.parametrize(
    "include", [("*.py", "*.pyw"), ("src/*.py",), ("*/[ab]?.py", "*.txt"), ("*[!x].py",)]
)
def test_include_globs_match_exactly_as_fnmatch_matches_them(include):
    import fnmatch

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from pytest_platformgates.gates.sast import BanditSetup

    setup = BanditSetup(
        config_file=None, config={}, tests=(), skips=(), excludes=(), include=include
    )
    segment = st.text(alphabet="abx.pyw/[]*?!\n", min_size=1, max_size=12)

    @settings(max_examples=300, deadline=None)
    @given(segment)
    def agrees(path):
        expected = any(fnmatch.fnmatch("./" + path, glob) for glob in include)
        assert setup.included(path) == expected

    agrees()


def test_the_worker_reports_a_file_it_cannot_read_instead_of_crashing(tmp_path, monkeypatch):
    from pytest_platformgates.gates.sast import worker

    monkeypatch.chdir(tmp_path)
    request = _worker_request(tmp_path, files=["./gone.py"])  # deleted since the inventory
    report = worker(request)
    assert report["invalid"] is None and report["nosec"] == {}
    assert [path for path, _ in report["skipped"]] == ["./gone.py"]
