"""The licenses gate: real metadata in real (fake) environments, SPDX evaluated properly."""

from __future__ import annotations

from email.parser import HeaderParser

import pytest
from installed_support import add_dist, dist, fake_env, run_gate

from conftest import gates_toml
from pytest_platformgates import licensing
from pytest_platformgates.gate import GateError
from pytest_platformgates.gates.licenses import Policy

GPL2_PLUS = "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)"
APACHE = "License :: OSI Approved :: Apache Software License"
MIT_CLASSIFIER = "License :: OSI Approved :: MIT License"


def write_project(project, python, deps=(), declare=True, **options):
    head = '[project]\nname = "demo"\nversion = "0.1.0"\n'
    if declare:
        head += "dependencies = [" + ", ".join(f'"{d}"' for d in deps) + "]\n"
    else:
        head = ""
    project.write("pyproject.toml", head + gates_toml({"licenses": {"python": python, **options}}))


def test_denied_unknown_and_allowed_licences_in_one_report(project, tmp_path):
    python, _ = fake_env(
        tmp_path / "venv",
        [
            dist("good", "1.0", License_Expression="MIT"),
            dist("dual", "1.0", License_Expression="MIT OR GPL-3.0-only"),
            dist("both", "2.0", License_Expression="MIT AND GPL-3.0-only"),
            dist("gnu", "3.0", Classifier=[GPL2_PLUS]),
            dist("vague", "4.0", License="Apache 2.0", Classifier=[APACHE]),
            dist("helper", "5.0"),
        ],
    )
    write_project(
        project,
        python,
        deps=["good", "dual", "both", "gnu", "vague"],
        deny=["GPL-*"],
    )
    result = project.pytester.runpytest("--gates-only", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gate 'licenses' failed: 3 blocking findings (fail_on = high)",
            "*pyproject.toml:4*high*license-denied*both 2.0 (direct): MIT AND GPL-3.0-only: "
            "GPL-3.0-only denied",
            "*pyproject.toml:4*high*license-denied*gnu 3.0 (direct): GPL-2.0-or-later: "
            "GPL-2.0-or-later denied",
            "*pyproject.toml:4*high*license-unknown*vague 4.0 (direct): licence cannot be "
            "determined: License 'Apache 2.0' is not an SPDX expression; classifier "
            "'OSI Approved :: Apache Software License' does not name one SPDX licence",
            "*hint: read its licence and record it: overrides = *vague==4.0: SPDX-EXPRESSION*",
            "reported, not blocking (below high): 1",
            "*<project>*medium*license-unknown*helper 5.0 (transitive)*",
        ]
    )
    out = result.stdout.str()
    assert "good 1.0" not in out and "dual 1.0" not in out


def test_only_the_named_interpreter_is_inventoried(project, tmp_path):
    # The tool's own environment (this venv: pytest, pluggy, ...) must not be judged.
    python, _ = fake_env(tmp_path / "venv", [dist("only", "1.0", License_Expression="MIT")])
    write_project(project, python, deps=["only"], allow=["MIT"])
    analysis = run_gate(project.path, "licenses")
    assert analysis.findings == ()
    assert analysis.figures["distributions"] == 1
    project.write(
        "pyproject.toml",
        '[project]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["pytest"]\n'
        + gates_toml({"licenses": {"allow": ["0BSD"]}}),  # no `python`: the running one
    )
    analysis = run_gate(project.path, "licenses")
    assert any(f.message.startswith("pytest ") for f in analysis.findings)


@pytest.mark.parametrize(
    ("expression", "allow", "deny", "verdict"),
    [
        ("MIT", [], [], "allowed"),
        ("MIT", ["MIT"], [], "allowed"),
        ("MIT", ["Apache-2.0"], [], "not-allowed"),
        ("MIT OR GPL-3.0-only", ["MIT"], [], "allowed"),
        ("MIT OR GPL-3.0-only", [], ["GPL-3.0-only"], "allowed"),
        ("MIT AND GPL-3.0-only", [], ["GPL-3.0-only"], "denied"),
        ("MIT AND GPL-3.0-only", ["MIT"], [], "not-allowed"),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", ["Apache-2.0", "BSD-*"], [], "allowed"),
        ("GPL-3.0", [], ["GPL-3.0-only"], "denied"),  # deprecated id upgraded
        ("GPL-2.0-or-later", ["GPL-3.0-only"], [], "allowed"),  # the licensee may pick v3
        ("GPL-2.0-or-later", [], ["GPL-2.0-or-later"], "denied"),
        ("GPL-2.0-or-later", [], ["GPL-3.0-or-later"], "allowed"),  # v2 remains possible
        ("GPL-2.0-only", [], ["GPL-3.0-or-later"], "allowed"),
        ("GPL-3.0-only", [], ["GPL-2.0-or-later"], "denied"),
        ("LGPL-2.1+", ["LGPL-3.0-only"], [], "allowed"),
        ("MPL-1.1+", ["MPL-2.0"], [], "allowed"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-2.0-only"], [], "allowed"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", [], ["GPL-*"], "denied"),
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            ["GPL-2.0-only WITH Classpath-exception-2.0"],
            ["GPL-*"],
            "allowed",
        ),
        ("Apache-2.0", ["apache-2.0"], [], "allowed"),  # SPDX ids are case-insensitive
        ("LicenseRef-Proprietary", ["MIT"], [], "not-allowed"),
        ("LicenseRef-Proprietary", ["LicenseRef-*"], [], "allowed"),
        ("AGPL-3.0-or-later", ["MIT"], ["AGPL-*"], "denied"),
        # deprecated ids that fold an exception into the id are the GPL with that exception
        ("GPL-2.0-with-classpath-exception", [], ["GPL-2.0-only"], "denied"),
        ("GPL-2.0-with-GCC-exception", [], ["GPL-2.0-or-later"], "denied"),
        ("GPL-3.0-with-autoconf-exception", [], ["GPL-3.0-only"], "denied"),
        ("eCos-2.0", [], ["GPL-2.0-or-later"], "denied"),
        ("wxWindows", [], ["LGPL-*"], "denied"),
        (
            "GPL-2.0-with-classpath-exception",
            ["GPL-2.0-only WITH Classpath-exception-2.0"],
            ["GPL-*"],
            "allowed",
        ),
    ],
)
def test_policy_evaluates_expressions(expression, allow, deny, verdict):
    policy = Policy(
        tuple(licensing.validate_id(a) for a in allow),
        tuple(licensing.validate_id(d) for d in deny),
    )
    judged = policy.judge(licensing.parse(licensing.normalise(expression)))
    got = "allowed" if judged.allowed else "denied" if judged.denied else "not-allowed"
    assert got == verdict


def metadata(**headers):
    lines = []
    for key, value in headers.items():
        for item in [value] if isinstance(value, str) else value:
            lines.append(f"{key.replace('_', '-')}: {item}")
    return HeaderParser().parsestr("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("headers", "expression", "source"),
    [
        ({"License_Expression": "apache-2.0 or mit"}, "Apache-2.0 OR MIT", "License-Expression"),
        # PEP 639: a broken expression is not rescued by the older fields
        ({"License_Expression": "MIT or", "Classifier": [MIT_CLASSIFIER]}, None, ""),
        ({"License": "BSD-3-Clause"}, "BSD-3-Clause", "License"),
        ({"License": "GPL-2.0+"}, "GPL-2.0-or-later", "License"),
        ({"License": "MIT license", "Classifier": [MIT_CLASSIFIER]}, "MIT", "classifiers"),
        ({"License": "UNKNOWN", "Classifier": [APACHE]}, None, ""),
        (
            {"Classifier": ["License :: OSI Approved", MIT_CLASSIFIER, GPL2_PLUS]},
            "MIT AND GPL-2.0-or-later",
            "classifiers",
        ),
        ({"Classifier": [MIT_CLASSIFIER, "License :: OSI Approved :: BSD License"]}, None, ""),
        ({"Classifier": ["License :: OSI Approved"]}, None, ""),
        # one License-Expression is allowed; several must all hold, not only the first
        (
            {"License_Expression": ["MIT", "GPL-3.0-only OR Apache-2.0", "MIT"]},
            "MIT AND (GPL-3.0-only OR Apache-2.0)",
            "License-Expression",
        ),
        ({}, None, ""),
    ],
)
def test_licence_is_read_in_pep_639_order(headers, expression, source):
    got = licensing.declared_license(metadata(**headers))
    assert (got.expression, got.source if got.known else "") == (expression, source)
    if not got.known:
        assert got.detail


def test_deprecated_ids_with_a_folded_exception_become_id_with_exception():
    """Every deprecated SPDX id that names an exception is rewritten to a current pair."""
    deprecated = licensing._spdx_ids(deprecated=True)
    assert {i for i in deprecated if "-with-" in i} <= set(licensing.FOLDED_EXCEPTIONS)
    for old, term in licensing.FOLDED_EXCEPTIONS.items():
        assert old in deprecated
        assert licensing.normalise(old) == licensing.normalise(str(term)) == str(term)
    got = licensing.declared_license(metadata(License="GPL-2.0-with-classpath-exception"))
    assert got.expression == "GPL-2.0-only WITH Classpath-exception-2.0"


def test_every_mapped_classifier_names_a_current_spdx_id():
    for classifier, spdx in licensing.CLASSIFIERS.items():
        assert licensing.normalise(spdx) == spdx, classifier


def test_overrides_replace_metadata_and_stale_ones_are_noted(project, tmp_path):
    python, _ = fake_env(
        tmp_path / "venv",
        [dist("vague", "4.0", Classifier=[APACHE]), dist("other", "1.0", Classifier=[APACHE])],
    )
    write_project(
        project,
        python,
        deps=["vague", "other"],
        allow=["Apache-2.0"],
        overrides=["vague==4.0: apache-2.0", "other==0.9: Apache-2.0", "gone: MIT"],
    )
    analysis = run_gate(project.path, "licenses")
    assert [(f.rule, f.message.split(" ")[0]) for f in analysis.findings] == [
        ("license-unknown", "other")
    ]
    assert analysis.figures["from_override"] == 1
    notes = " ".join(analysis.notes)
    assert "'other==0.9: Apache-2.0' matches no installed" in notes
    assert "'gone: MIT' matches no installed" in notes


def test_an_override_can_itself_be_denied(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", [dist("vague", "4.0")])
    write_project(project, python, deps=["vague"], deny=["GPL-*"], overrides=["vague: GPL-3.0"])
    (finding,) = run_gate(project.path, "licenses").findings
    assert finding.rule == "license-denied" and "(override)" in finding.message


def test_unknown_severity_is_per_relation_and_everything_is_direct_without_declarations(
    project, tmp_path
):
    python, _ = fake_env(tmp_path / "venv", [dist("a", "1.0"), dist("b", "1.0")])
    write_project(project, python, deps=["a"])
    got = {
        f.message.split(" ")[0]: f.severity.label
        for f in run_gate(project.path, "licenses").findings
    }
    assert got == {"a": "high", "b": "medium"}
    write_project(project, python, deps=["a"], unknown_transitive_severity="critical")
    got = {
        f.message.split(" ")[0]: f.severity.label
        for f in run_gate(project.path, "licenses").findings
    }
    assert got == {"a": "high", "b": "critical"}
    # A project that declares nothing cannot tell direct from transitive: the stricter rule.
    write_project(project, python, declare=False)
    got = {
        f.message.split(" ")[0]: f.severity.label
        for f in run_gate(project.path, "licenses").findings
    }
    assert got == {"a": "high", "b": "high"}


def test_the_project_itself_is_not_judged(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", [dist("demo", "0.1.0"), dist("a", "1", License="MIT")])
    write_project(project, python, deps=["a"])
    analysis = run_gate(project.path, "licenses")
    assert analysis.findings == () and analysis.figures["distributions"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"allow": ["MTI"]}, "*gates.licenses.allow*MTI*"),
        ({"deny": ["MIT OR GPL-3.0-only"]}, "*gates.licenses.deny*an expression*"),
        ({"overrides": ["vague Apache-2.0"]}, "*gates.licenses.overrides*is not `NAME: EXPRE*"),
        ({"overrides": ["vague: Apache 2.0"]}, "*gates.licenses.overrides*not an SPDX expr*"),
    ],
)
def test_policy_typos_are_usage_errors(project, options, message):
    project.configure({"licenses": options})
    result = project.pytester.runpytest("--gates-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])


def test_fails_closed_when_the_environment_cannot_be_read(project, tmp_path):
    write_project(project, str(tmp_path / "nowhere" / "python"))
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*could not be evaluated*", "*interpreter*does not exist*"])

    python, site = fake_env(tmp_path / "empty", [])
    write_project(project, python)
    with pytest.raises(GateError, match="no installed distributions found"):
        run_gate(project.path, "licenses")

    info = add_dist(site, dist("broken", "1.0"))
    (info / "METADATA").unlink()
    with pytest.raises(GateError, match="cannot be read"):
        run_gate(project.path, "licenses")


def test_current_spdx_ids_skip_license_expression_and_mean_the_same(monkeypatch):
    """The fast path (packaging's table) agrees with license-expression on every id."""
    from pytest_platformgates import licensing

    current = sorted(licensing._spdx_ids(deprecated=False))
    deprecated = sorted(licensing._spdx_ids(deprecated=True))
    assert len(current) > 500 and "MIT" in current and "GPL-2.0" in deprecated
    slow = licensing._spdx_licensing()
    for license_id in current:  # what upgrade_id would have asked license-expression
        try:
            key = slow.parse(license_id, validate=True, strict=True).key
        except Exception:  # an id license-expression does not know stays as it is
            key = license_id
        assert key == license_id
    assert licensing.upgrade_id("GPL-2.0+") == "GPL-2.0-or-later"  # deprecated: upgraded
    symbols = {k for k in slow.known_symbols if not k.startswith("LicenseRef-")}
    by_lib = sorted(k for k in symbols if licensing._VERSIONED.match(k))
    for license_id in (i for i in current if i.endswith("-or-later")):
        ours = licensing.later_versions(license_id)
        monkeypatch.setattr(licensing, "_known_versioned", lambda: by_lib)
        assert licensing.later_versions(license_id) == ours, license_id
        monkeypatch.undo()

    # A current id never builds license-expression's index.
    licensing._spdx_licensing.cache_clear()
    built = []
    monkeypatch.setattr(
        licensing, "_spdx_licensing", lambda: built.append(1) or pytest.fail("index built")
    )
    assert licensing.normalise("mit AND apache-2.0") == "MIT AND Apache-2.0"
    assert "GPL-3.0-only" in licensing.later_versions("GPL-2.0-or-later")
    assert built == []
