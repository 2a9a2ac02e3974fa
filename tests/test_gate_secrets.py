"""The secrets gate: real detect-secrets on small projects, every way it could pass quietly."""

from __future__ import annotations

import hashlib
import json

import pytest
from secrets_support import KEYWORD, LEAN, Secrets, detect_secrets_cli

from conftest import gate_properties
from pytest_platformgates.gate import GateError
from pytest_platformgates.gates.secrets import parse_baseline

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\0" * 32


def sha1(value: str) -> str:
    return hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()


def notes(project):
    """The gate's notes, as the evidence bundle records them (they are not printed on a pass)."""
    evidence = (project.path / "gate-evidence" / "evidence.json").read_text()
    return "\n".join(_notes(json.loads(evidence)))


def _notes(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "notes" and isinstance(value, list):
                yield from map(str, value)
            else:
                yield from _notes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _notes(value)


def run(project, *args):
    result = project.pytester.runpytest("--gates-only", "--junitxml=junit.xml", *LEAN, *args)
    return result, gate_properties(project.path / "junit.xml", "secrets")


@pytest.fixture
def secrets_project(project):
    project.configure({"secrets": {}})
    project.write(".gitignore", "junit.xml\ngate-evidence/\n")
    project.write("app/__init__.py", "VERSION = '1.0'\n")
    return project


def test_a_clean_project_passes(secrets_project):
    result, props = run(secrets_project)
    result.assert_outcomes(passed=1)
    assert int(props["gate.figure.files_checked"]) >= 3
    assert props["gate.tool.detect-secrets"]


def test_planted_secrets_fail_whatever_fail_on_says(secrets_project):
    s = Secrets()
    aws, token, pwd = s.aws_key(), s.github_token(), s.password()
    secrets_project.configure({"secrets": {"fail_on": "critical"}}, fail_on="critical")
    secrets_project.write(".env", f"AWS_ACCESS_KEY_ID={aws.value}\n")
    secrets_project.write("deploy/config.yaml", f"ci:\n  token: {token.value}\n")
    secrets_project.write("app/settings.py", f'DEBUG = False\n{KEYWORD} = "{pwd.value}"\n')
    result, props = run(secrets_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'secrets' failed: 3 blocking findings*",
            f"*.env:1 *critical*secret*AWS Access Key [[]redacted, 20 characters[]], "
            f"hashed_secret {sha1(aws.value)}: unaudited secret*",
            "*hint: remove it and rotate the credential*",
            f"*app/settings.py:2 *critical*Secret Keyword*hashed_secret {sha1(pwd.value)}*",
            # detect-secrets captures only the token's prefix group: that is what it hashes
            f"*deploy/config.yaml:2 *critical*GitHub Token*{sha1(token.value[:3])}*",
        ]
    )
    out = result.stdout.str()
    for planted in (aws, token, pwd):
        assert planted.value not in out
    assert props["gate.findings.critical"] == "3"
    assert "Traceback" not in out


def test_every_text_file_is_scanned_not_only_python(secrets_project):
    s = Secrets()
    key = s.aws_key()
    notebook = {
        "cells": [{"cell_type": "code", "source": [f'key = "{key.value}"\n'], "metadata": {}}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    secrets_project.write("notebooks/explore.ipynb", json.dumps(notebook, indent=1))
    secrets_project.write("Dockerfile", f"ENV KEY={s.aws_key().value}\n")
    secrets_project.write("docs/setup.md", f"Use `{s.stripe_key().value}` to test.\n")
    result, _ = run(secrets_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*notebooks/explore.ipynb:*AWS Access Key*",
            "*Dockerfile:1 *AWS Access Key*",
            "*docs/setup.md:1 *Stripe Access Key*",
        ]
    )


def test_inline_allowlist_pragmas_work_as_in_detect_secrets(secrets_project):
    s = Secrets()
    secrets_project.write(
        "app/keys.py",
        f'A = "{s.aws_key().value}"  # pragma: allowlist secret\n'
        "# pragma: allowlist nextline secret\n"
        f'B = "{s.aws_key().value}"\n'
        f'C = "{s.aws_key().value}"\n',
    )
    result, _ = run(secrets_project)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "app/keys.py:4 " in out
    assert "app/keys.py:1 " not in out and "app/keys.py:3 " not in out
    assert "1 blocking finding" in out


# -- the baseline ---------------------------------------------------------------------


def make_baseline(project, *files, extra=(), name=".secrets.baseline"):
    """A baseline written by the real CLI, as `detect-secrets scan > .secrets.baseline`."""
    report = detect_secrets_cli(["scan", *extra, *files], project.path)
    project.write(name, json.dumps(report, indent=2))
    return report


def audit(project, marks):
    """Mark results like `detect-secrets audit` does: is_secret true or false."""
    path = project.path / ".secrets.baseline"
    data = json.loads(path.read_text())
    for filename, entries in data["results"].items():
        for entry in entries:
            if (filename, entry["line_number"]) in marks:
                entry["is_secret"] = marks[(filename, entry["line_number"])]
    path.write_text(json.dumps(data, indent=2))


def test_the_baseline_accepts_recorded_and_false_positive_secrets_only(secrets_project):
    s = Secrets()
    recorded, false_positive, real = s.aws_key(), s.aws_key(), s.aws_key()
    secrets_project.write(
        "app/keys.py",
        f'RECORDED = "{recorded.value}"\nFP = "{false_positive.value}"\nREAL = "{real.value}"\n',
    )
    make_baseline(secrets_project, "app/keys.py")
    audit(secrets_project, {("app/keys.py", 2): False, ("app/keys.py", 3): True})
    result, props = run(secrets_project)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "1 blocking finding" in out
    assert "app/keys.py:3 " in out and "marked as a true secret in .secrets.baseline" in out
    assert props["gate.figure.secrets_baselined"] == "2"

    # A new secret in a baselined file is not hidden by the file being in the baseline.
    new = s.aws_key()
    text = (secrets_project.path / "app/keys.py").read_text()
    secrets_project.write("app/keys.py", f'NEW = "{new.value}"\n' + text)
    result, _ = run(secrets_project)
    out = result.stdout.str()
    assert "2 blocking findings" in out
    result.stdout.fnmatch_lines_random(
        [
            f"*app/keys.py:1 *hashed_secret {sha1(new.value)}: unaudited secret*",
            f"*app/keys.py:4 *hashed_secret {sha1(real.value)}: marked as a true secret*",
        ]
    )


def test_a_secret_recorded_twice_stays_a_true_secret_if_either_copy_says_so(secrets_project):
    # A hand-merged baseline can record one secret twice (found by hypothesis): the
    # copy audited as a false positive must not hide the one audited as a true secret.
    s = Secrets()
    secrets_project.write("app/keys.py", f'REAL = "{s.aws_key().value}"\n')
    make_baseline(secrets_project, "app/keys.py")
    audit(secrets_project, {("app/keys.py", 1): True})
    path = secrets_project.path / ".secrets.baseline"
    data = json.loads(path.read_text())
    data["results"]["app/keys.py"].append({**data["results"]["app/keys.py"][0], "is_secret": False})
    path.write_text(json.dumps(data, indent=2))
    result, _ = run(secrets_project)
    result.assert_outcomes(failed=1)
    assert "marked as a true secret in .secrets.baseline" in result.stdout.str()


def test_the_baseline_filters_are_honoured(secrets_project):
    s = Secrets()
    secrets_project.write("fixtures/sample.env", f"KEY={s.aws_key().value}\n")
    secrets_project.write("app/keys.py", f'K = "{s.aws_key().value}"  # fake-for-tests\n')
    secrets_project.write("app/__init__.py", "")
    make_baseline(
        secrets_project,
        "app/__init__.py",
        extra=["--exclude-files", "^fixtures/", "--exclude-lines", "fake-for-tests"],
    )
    result, props = run(secrets_project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_skipped"] == "2"
    named = notes(secrets_project)
    assert "fixtures/sample.env (detect-secrets filter should_exclude_file)" in named
    assert ".secrets.baseline (detect-secrets filter is_baseline_file)" in named


def test_a_baseline_excluding_every_file_is_an_error_not_a_pass(secrets_project):
    s = Secrets()
    secrets_project.write("app/conf.py", f'AWS_KEY = "{s.aws_key().value}"\n')
    make_baseline(secrets_project, extra=["--exclude-files", ".*"])
    for _cold_then_warm in range(2):
        result, props = run(secrets_project)
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            [
                "*detect-secrets scanned none of the * file(s) in scope: * skipped by its "
                "filters*the baseline .secrets.baseline excludes files matching '.*'*",
                "*note: * file(s) skipped by the tool's own configuration: *app/conf.py "
                "(detect-secrets filter should_exclude_file)*",
            ]
        )
        assert props["gate.figure.files_skipped"] == props["gate.figure.files_checked"]
    assert props["gate.figure.files_analysed"] == "0"  # the warm run judged cached skips


def test_the_baseline_file_itself_is_not_scanned(secrets_project):
    s = Secrets()
    secrets_project.write("app/keys.py", f'K = "{s.aws_key().value}"\n')
    make_baseline(secrets_project, "app/keys.py")
    result, _ = run(secrets_project)
    result.assert_outcomes(passed=1)  # its hashed_secret values look like hex secrets


def test_a_baseline_named_in_the_settings_is_used_and_not_scanned(secrets_project):
    s = Secrets()
    secrets_project.write("app/keys.py", f'K = "{s.aws_key().value}"\n')
    make_baseline(secrets_project, "app/keys.py", name="security/secrets.json")
    secrets_project.configure({"secrets": {"baseline": "security/secrets.json"}})
    result, props = run(secrets_project)
    result.assert_outcomes(passed=1)  # scanned, its hashed secrets would look like hex ones
    assert props["gate.figure.secrets_baselined"] == "1"
    assert "security/secrets.json (detect-secrets filter is_baseline_file)" in notes(
        secrets_project
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"results": {}}', "no `version` string"),
        (b'{"version": "1.5.0", "results": {}}', "`plugins_used` is missing or empty"),
        (
            b'{"version": "1.5.0", "plugins_used": [{"limit": 3}], "results": {}}',
            "every entry of `plugins_used` needs a `name`",
        ),
        (
            b'{"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}], '
            b'"filters_used": [{}], "results": {}}',
            "every entry of `filters_used` needs a `path`",
        ),
        (
            b'{"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}], '
            b'"filters_used": [{"path": "not-a-function"}], "results": {}}',
            "the filter path 'not-a-function' names no function",
        ),
        (
            b'{"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}]}',
            "no `results` object",
        ),
        (
            b'{"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}], '
            b'"results": {"a.py": [{"type": "AWS Access Key"}]}}',
            "needs `type` and `hashed_secret` strings",
        ),
        (
            b'{"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}], '
            b'"results": {"a.py": [{"type": "x", "hashed_secret": "y", "is_secret": "no"}]}}',
            "is_secret must be true, false or absent",
        ),
    ],
)
def test_malformed_baselines_are_refused_with_the_reason(content, expected):
    with pytest.raises(GateError) as excinfo:
        parse_baseline(content, ".secrets.baseline")
    message = str(excinfo.value)
    assert "the baseline .secrets.baseline is not a valid detect-secrets baseline" in message
    assert expected in message
    assert "regenerate it with `detect-secrets scan --baseline .secrets.baseline`" in message


def test_an_old_baseline_is_upgraded_as_detect_secrets_does():
    old = {
        "version": "0.14.3",
        "exclude": {"files": "^fixtures/", "lines": None},
        "plugins_used": [
            {"name": "AWSKeyDetector"},
            {"name": "Base64HighEntropyString", "base64_limit": 4.5},
        ],
        "results": {"a.py": [{"type": "AWS Access Key", "hashed_secret": "ab" * 20}]},
    }
    config, known = parse_baseline(json.dumps(old).encode(), ".secrets.baseline")
    assert {"name": "Base64HighEntropyString", "limit": 4.5} in config["plugins_used"]
    assert {
        "path": "detect_secrets.filters.regex.should_exclude_file",
        "pattern": ["^fixtures/"],
    } in config["filters_used"]
    assert known == {("a.py", "AWS Access Key", "ab" * 20): None}


def test_a_malformed_baseline_errors_the_gate(secrets_project):
    secrets_project.write(".secrets.baseline", "{not json")
    result, _ = run(secrets_project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'secrets' could not be evaluated*",
            "*the baseline .secrets.baseline is not a valid detect-secrets baseline: not JSON*",
        ]
    )


def test_a_configured_baseline_must_exist(secrets_project):
    secrets_project.configure({"secrets": {"baseline": "security/secrets.json"}})
    result, _ = run(secrets_project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the baseline security/secrets.json named by*does not exist*"])


def test_a_baseline_naming_an_unknown_plugin_is_an_error(secrets_project):
    report = make_baseline(secrets_project, "app/__init__.py")
    report["plugins_used"].append({"name": "NoSuchDetector"})
    secrets_project.write(".secrets.baseline", json.dumps(report))
    result, _ = run(secrets_project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*detect-secrets could not be set up*NoSuchDetector*"])


def test_a_baseline_filter_that_cannot_load_is_an_error(secrets_project):
    report = make_baseline(secrets_project, "app/__init__.py")
    report["filters_used"].append({"path": "file://filters/missing.py::is_fine"})
    secrets_project.write(".secrets.baseline", json.dumps(report))
    result, _ = run(secrets_project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*detect-secrets: Invalid filter: file://filters/missing.py*"])


def test_a_baseline_enabling_fewer_plugins_is_honoured(secrets_project):
    s = Secrets()
    secrets_project.write("app/keys.py", f'K = "{s.github_token().value}"\n')
    report = make_baseline(secrets_project, "app/__init__.py")
    report["plugins_used"] = [p for p in report["plugins_used"] if p["name"] == "AWSKeyDetector"]
    secrets_project.write(".secrets.baseline", json.dumps(report))
    result, _ = run(secrets_project)
    result.assert_outcomes(passed=1)


# -- files detect-secrets cannot read ---------------------------------------------------


def test_binary_files_with_non_text_names_are_skipped_others_are_critical(secrets_project):
    secrets_project.configure({"secrets": {}}, max_file_size=4096)
    secrets_project.write("static/logo.png", PNG)
    secrets_project.write("static/hero.jpg", b"\xff\xd8" + b"\0" * 5000)  # too large, too
    secrets_project.write("locale/de/django.mo", b"\xde\x12\x04\x95\0\0\0\0binary")
    secrets_project.write("app/blob.py", b"x = 1\0\0\0")
    secrets_project.write("config/prod.env", "KEYWORD=gr\xfc\xdfe\n".encode("latin-1"))
    secrets_project.write("data/dump.sql", "-- nothing\n" * 500)
    result, props = run(secrets_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*app/blob.py *critical*unscannable-file*binary*detect-secrets would skip it*",
            "*config/prod.env *critical*unscannable-file*not UTF-8*",
            "*data/dump.sql *critical*unscannable-file*too large*",
            "*note: 3 binary file(s) with names detect-secrets deems non-text were not scanned: "
            "locale/de/django.mo, static/hero.jpg, static/logo.png",
        ]
    )
    assert "3 blocking findings" in result.stdout.str()
    assert props["gate.figure.files_skipped_binary"] == "3"


def test_text_files_skipped_by_detect_secrets_names_are_named_or_scanned(secrets_project):
    s = Secrets()
    secrets_project.write("web/theme.css", f'/* key: "{s.aws_key().value}" */\n')
    secrets_project.write("yarn.lock", f'"{s.aws_key().value}"\n')
    result, props = run(secrets_project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_skipped"] == "2"
    assert "web/theme.css (detect-secrets filter is_non_text_file)" in notes(secrets_project)

    secrets_project.configure({"secrets": {"filename_heuristics": False}})
    result, _ = run(secrets_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(["*web/theme.css:1 *AWS Access Key*", "*yarn.lock:1 *"])


# -- the cache --------------------------------------------------------------------------


def test_warm_runs_reuse_results_and_the_baseline_invalidates_them(secrets_project):
    s = Secrets()
    secrets_project.write("app/keys.py", f'K = "{s.aws_key().value}"\n')
    secrets_project.write("app/other.py", "X = 1\n")
    result, props = run(secrets_project)
    result.assert_outcomes(failed=1)
    assert props["gate.figure.files_cached"] == "0"

    result, props = run(secrets_project)
    result.assert_outcomes(failed=1)  # a cached secret still blocks
    assert props["gate.figure.files_analysed"] == "0"
    assert "gate.figure.workers" not in props  # no worker was started

    secrets_project.write("app/other.py", "X = 2\n")
    _, props = run(secrets_project)
    assert props["gate.figure.files_analysed"] == "1"

    make_baseline(secrets_project, "app/keys.py")
    result, props = run(secrets_project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_cached"] == "0"  # the baseline changed: all rescanned

    secrets_project.configure({"secrets": {"filename_heuristics": False}})
    _, props = run(secrets_project)
    assert props["gate.figure.files_cached"] == "0"  # so did the gate's settings


def test_the_cache_holds_no_secret(secrets_project):
    s = Secrets()
    key = s.aws_key()
    secrets_project.write("app/keys.py", f'K = "{key.value}"\n')
    run(secrets_project)
    cache = secrets_project.path / ".pytest_cache" / "d" / "platformgates" / "secrets.json"
    text = cache.read_text()
    assert sha1(key.value) in text
    assert key.value not in text


# -- custom plugins and filters of the baseline -------------------------------------------

CUSTOM_PLUGIN = """
import re

from detect_secrets.plugins.base import RegexBasedDetector


class InternalTokenDetector(RegexBasedDetector):
    secret_type = "Internal Token"  # pragma: allowlist secret
    denylist = [re.compile(r"itk_[a-z0-9]{12}")]

    def analyze_line(self, filename, line, line_number=0, context=None, **kwargs):
        print("custom plugin code may print anything")
        return super().analyze_line(filename, line, line_number, context, **kwargs)
"""

EXPLODING_FILTER = """
def is_boring(secret, line):
    if "boom" in line:
        raise RuntimeError("the line was " + line)
    return False
"""


def test_custom_plugins_of_the_baseline_run_on_every_line(secrets_project):
    secrets_project.write("plugins/internal.py", CUSTOM_PLUGIN)
    report = make_baseline(secrets_project, "app/__init__.py")
    report["plugins_used"].append(
        {"name": "InternalTokenDetector", "path": "file://plugins/internal.py"}
    )
    secrets_project.write(".secrets.baseline", json.dumps(report))
    secrets_project.write("app/conf.py", "TOKEN = 'itk_" + "0a1b2c3d4e5f'\n")
    result, _ = run(secrets_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*app/conf.py:1 *critical*Internal Token*"])
    assert "may print anything" not in result.stdout.str()

    # The plugin's code is part of what the results depend on.
    secrets_project.write("plugins/internal.py", CUSTOM_PLUGIN.replace("{12}", "{13}"))
    result, props = run(secrets_project)
    result.assert_outcomes(passed=1)
    assert props["gate.figure.files_cached"] == "0"


def test_a_crash_inside_detect_secrets_errors_without_quoting_the_line(secrets_project):
    secrets_project.write("filters/boring.py", EXPLODING_FILTER)
    report = make_baseline(secrets_project, "app/__init__.py")
    report["filters_used"].append({"path": "file://filters/boring.py::is_boring"})
    secrets_project.write(".secrets.baseline", json.dumps(report))
    key = Secrets().aws_key()
    secrets_project.write("app/keys.py", f'K = "{key.value}"  # boom\n')
    result, _ = run(secrets_project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*detect-secrets failed on app/keys.py: RuntimeError in boring.py:4 (is_boring)*"]
    )
    assert key.value not in result.stdout.str()
    assert "the line was" not in result.stdout.str()
