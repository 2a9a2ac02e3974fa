"""The sbom gate: a real CycloneDX 1.6 SBOM of a real interpreter, validated, kept as evidence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from installed_support import add_dist, dist, fake_env, run_gate

from conftest import gate_properties, gates_toml
from pytest_platformgates.gate import GateError

MIT = "License :: OSI Approved :: MIT License"
BSD = "License :: OSI Approved :: BSD License"

DISTS = [
    dist(
        "Foo_Bar",
        "1.0",
        License_Expression="MIT OR Apache-2.0",
        Requires_Dist=["baz>=1", 'qux; extra == "x"', "absent>=1"],
    ),
    dist("baz", "2.0.post1", License="Apache 2.0", Classifier=[MIT], Requires_Dist=["qux[y]"]),
    dist("qux", "3", Classifier=[BSD], Requires_Dist=['baz; extra == "y"']),
    dist("tool", "9.9", License="BSD-3-Clause"),
]


def write_project(project, python, **options):
    table = {"python": python, **options} if python else options
    project.write(
        "pyproject.toml",
        '[project]\nname = "demo"\nversion = "0.1.0"\ndependencies = ["foo-bar"]\n\n'
        + gates_toml({"sbom": table}),
    )


def sbom_of(project) -> dict:
    return json.loads((project.path / "gate-evidence" / "sbom.cdx.json").read_text())


def junit_figures(path: Path) -> dict[str, str]:
    return gate_properties(path, "sbom")


def test_a_valid_sbom_of_the_environment_lands_in_the_evidence(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", DISTS)
    write_project(project, python)
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(passed=1)
    text = (project.path / "gate-evidence" / "sbom.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    root = bom["metadata"]["component"]
    assert (root["name"], root["version"], root["purl"]) == ("demo", "0.1.0", "pkg:pypi/demo@0.1.0")
    components = {c["name"]: c for c in bom["components"]}
    assert sorted(components) == ["Foo_Bar", "baz", "qux", "tool"]
    assert components["Foo_Bar"]["purl"] == "pkg:pypi/foo-bar@1.0"
    assert components["Foo_Bar"]["licenses"] == [
        {"expression": "MIT OR Apache-2.0", "acknowledgement": "declared"}
    ]
    assert components["baz"]["licenses"] == [
        {"license": {"id": "MIT", "acknowledgement": "declared"}}
    ]
    assert components["qux"]["licenses"] == [
        {"license": {"name": BSD, "acknowledgement": "declared"}}
    ]
    graph = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert graph["root-component"] == ["Foo_Bar==1.0"]
    # qux is only asked for with extra "x", which nobody requests; qux[y] asks baz back.
    assert graph["Foo_Bar==1.0"] == ["baz==2.0.post1"]
    assert graph["baz==2.0.post1"] == ["qux==3"]
    assert graph["qux==3"] == ["baz==2.0.post1"]
    assert graph["tool==9.9"] == []


def cyclonedx_py() -> str:
    found = shutil.which("cyclonedx-py", path=str(Path(sys.executable).parent))
    assert found, "cyclonedx-bom (the cyclonedx-py CLI) is a dependency of this project"
    return found


def test_same_components_as_cyclonedx_py_environment(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", DISTS)
    write_project(project, python)
    ours = json.loads(run_gate(project.path, "sbom").artifacts["sbom.cdx.json"])
    proc = subprocess.run(
        [cyclonedx_py(), "environment", python, "--sv", "1.6", "--of", "JSON"],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(proc.stdout)

    def described(bom):
        return {
            (c["name"], c["version"], c["purl"], c["bom-ref"], json.dumps(c.get("licenses")))
            for c in bom["components"]
        }

    assert described(ours) == described(theirs)
    assert len(ours["components"]) == 4


def test_purls_are_spelt_as_the_purl_spec_and_cyclonedx_py_spell_them(project, tmp_path):
    dists = [dist("Zope.Interface", "5.0+local.1"), dist("Foo_Bar.baz", "1!2.0")]
    python, _ = fake_env(tmp_path / "venv", dists)
    project.write(
        "pyproject.toml",
        '[project]\nname = "My_App.core"\nversion = "0.1.0"\n\n'
        + gates_toml({"sbom": {"python": python}}),
    )
    ours = json.loads(run_gate(project.path, "sbom").artifacts["sbom.cdx.json"])
    purls = {c["name"]: c["purl"] for c in ours["components"]}
    assert purls == {
        "Zope.Interface": "pkg:pypi/zope.interface@5.0%2Blocal.1",
        "Foo_Bar.baz": "pkg:pypi/foo-bar.baz@1%212.0",
    }
    assert ours["metadata"]["component"]["purl"] == "pkg:pypi/my-app.core@0.1.0"
    proc = subprocess.run(
        [cyclonedx_py(), "environment", python, "--sv", "1.6", "--of", "JSON"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert purls == {c["name"]: c["purl"] for c in json.loads(proc.stdout)["components"]}


def test_two_versions_of_one_distribution_both_get_their_place_in_the_graph(project, tmp_path):
    dists = [
        dist("Foo_Bar", "1.0", Requires_Dist=["qux>=3"]),
        dist("qux", "2.0", Requires_Dist=["tool"]),
        dist("qux", "3.0"),
        dist("tool", "9.9"),
    ]
    python, _ = fake_env(tmp_path / "venv", dists)
    write_project(project, python)
    bom = json.loads(run_gate(project.path, "sbom").artifacts["sbom.cdx.json"])
    assert sorted(c["bom-ref"] for c in bom["components"]) == [
        "Foo_Bar==1.0",
        "qux==2.0",
        "qux==3.0",
        "tool==9.9",
    ]
    graph = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert graph == {
        "root-component": ["Foo_Bar==1.0"],
        "Foo_Bar==1.0": ["qux==3.0"],  # the version its specifier admits
        "qux==2.0": ["tool==9.9"],
        "qux==3.0": [],
        "tool==9.9": [],
    }


def test_only_the_named_interpreter_is_listed(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", DISTS)
    write_project(project, python)
    names = {
        c["name"]
        for c in json.loads(run_gate(project.path, "sbom").artifacts["sbom.cdx.json"])["components"]
    }
    assert names == {"Foo_Bar", "baz", "qux", "tool"}  # not pytest, pluggy, ... of this venv
    write_project(project, None)  # default: the interpreter running pytest
    analysis = run_gate(project.path, "sbom")
    bom = json.loads(analysis.artifacts["sbom.cdx.json"])
    # foo-bar is not installed here: the library's warning about that is a note
    assert any("has no defined dependencies" in n for n in analysis.notes)
    names = {canonical["name"].lower() for canonical in bom["components"]}
    assert {"pytest", "pluggy", "cyclonedx-python-lib"} <= names
    assert "foo_bar" not in names


def test_required_fields_are_findings(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", [*DISTS, dist("bare", "1.0")])
    write_project(project, python, require=["version", "purl", "license"])
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*<project>*high*sbom-missing-license*bare 1.0: the SBOM has no license*"]
    )
    assert "Foo_Bar" not in result.stdout.str().split("summary")[0]


def test_a_warm_run_reuses_the_validated_sbom_until_the_environment_changes(project, tmp_path):
    python, site = fake_env(tmp_path / "venv", DISTS)
    write_project(project, python)
    first_junit = tmp_path / "first.xml"
    project.pytester.runpytest("--gates-only", f"--junitxml={first_junit}").assert_outcomes(
        passed=1
    )
    first = sbom_of(project)
    warm_junit = tmp_path / "warm.xml"
    project.pytester.runpytest("--gates-only", f"--junitxml={warm_junit}").assert_outcomes(passed=1)
    warm = sbom_of(project)
    assert junit_figures(first_junit)["gate.figure.cached"] == "0"
    assert junit_figures(warm_junit)["gate.figure.cached"] == "1"
    assert warm["serialNumber"] != first["serialNumber"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(warm)) is None
    assert warm["components"] == first["components"]

    add_dist(site, dist("late", "1.0", License_Expression="MIT"))
    project.pytester.runpytest("--gates-only", f"--junitxml={warm_junit}").assert_outcomes(passed=1)
    assert junit_figures(warm_junit)["gate.figure.cached"] == "0"
    assert "late" in {c["name"] for c in sbom_of(project)["components"]}


def test_a_corrupt_cache_is_discarded_not_trusted(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", DISTS)
    write_project(project, python)
    project.pytester.runpytest("--gates-only").assert_outcomes(passed=1)
    (cached,) = project.path.glob(".pytest_cache/**/sbom-document.json")
    doc = json.loads(cached.read_text())
    doc["sbom"] = doc["sbom"].replace('"Foo_Bar"', '"Evil"')
    cached.write_text(json.dumps(doc))
    result = project.pytester.runpytest("--gates-only", "-rA")
    result.assert_outcomes(passed=1)
    assert "Evil" not in json.dumps(sbom_of(project))
    assert "Foo_Bar" in json.dumps(sbom_of(project))


def test_an_sbom_that_fails_schema_validation_errors_the_gate(project, tmp_path):
    # CycloneDX caps versions at 1024 characters: corrupt metadata makes an invalid SBOM.
    python, _ = fake_env(tmp_path / "venv", [dist("huge", "1." + "0" * 1100)])
    write_project(project, python)
    with pytest.raises(GateError, match=r"not valid CycloneDX 1\.6"):
        run_gate(project.path, "sbom")
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    assert not (project.path / "gate-evidence" / "sbom.cdx.json").exists()


def test_no_distributions_is_an_error_not_an_empty_sbom(project, tmp_path):
    python, _ = fake_env(tmp_path / "venv", [])
    write_project(project, python)
    result = project.pytester.runpytest("--gates-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no installed distributions found*"])


# Run in a fresh interpreter: whether jsonschema and rfc3987-syntax are imported yet is
# what the stand-in depends on, and this test process imported both long ago.
IRI_PROBE = """
import json, sys
if sys.argv[1] == "stand-in":
    from pytest_platformgates.gates import sbom
    with sbom._iri_checks_on_demand():
        from cyclonedx.validation.json import JsonStrictValidator
    assert "rfc3987_syntax" not in sys.modules, "the stand-in outlived the import"
else:
    from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion

def bom(urls):
    refs = [{"type": "website", "url": url} for url in urls]
    component = {"type": "library", "name": "x", "bom-ref": "x"}
    if refs:
        component["externalReferences"] = refs
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                       "components": [component]})

validator = JsonStrictValidator(SchemaVersion.V1_6)
out = {}
for case in json.loads(sys.argv[2]):
    errors = validator.validate_str(bom(case), all_errors=True)
    out[" ".join(case)] = None if errors is None else len(list(errors))
    out["grammar built after " + " ".join(case)] = "rfc3987_syntax.syntax_helpers" in sys.modules
import rfc3987_syntax
out["real module importable"] = hasattr(rfc3987_syntax, "syntax_parser")
print(json.dumps(out))
"""


def _iri_probe(mode: str, cases: list[list[str]]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", IRI_PROBE, mode, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_iri_checks_wait_for_an_iri_and_then_judge_exactly_as_before():
    pytest.importorskip("rfc3987_syntax", reason="jsonschema has no IRI checks without it")
    cases = [[], ["https://example.com/a?b=c#d"], ["http://exa mple.com/<>"], ["relative/ok"]]
    with_stand_in = _iri_probe("stand-in", cases)
    plain = _iri_probe("plain", cases)
    # The same verdict on every document, the bad IRI refused either way.
    for case in cases:
        assert with_stand_in[" ".join(case)] == plain[" ".join(case)], case
    assert plain["http://exa mple.com/<>"]
    # An SBOM without an IRI (ours have none) never builds rfc3987-syntax's parsers.
    assert with_stand_in["grammar built after "] is False
    assert plain["grammar built after "] is True
    assert with_stand_in["grammar built after https://example.com/a?b=c#d"] is True
    assert with_stand_in["real module importable"] is True


def test_a_cold_sbom_run_never_builds_the_iri_grammar(project, tmp_path):
    pytest.importorskip("rfc3987_syntax", reason="jsonschema has no IRI checks without it")
    python, _ = fake_env(tmp_path / "venv", DISTS)
    write_project(project, python)
    project.write(
        "conftest.py",
        "import sys\n\n\ndef pytest_unconfigure(config):\n"
        "    with open('modules.txt', 'w') as fh:\n"
        "        fh.write('\\n'.join(sorted(sys.modules)))\n",
    )
    result = project.pytester.runpytest_subprocess("--gates-only")
    result.assert_outcomes(passed=1)
    modules = set((project.path / "modules.txt").read_text().split())
    assert "jsonschema" in modules  # the SBOM was validated
    assert "rfc3987_syntax.syntax_helpers" not in modules


@pytest.mark.parametrize("installed", [True, False], ids=["stand-in", "not installed"])
def test_an_import_that_fails_under_the_stand_in_fails_as_itself(monkeypatch, installed):
    from pytest_platformgates.gates import sbom

    for name in ("jsonschema", sbom.IRI_SYNTAX):
        monkeypatch.delitem(sys.modules, name, raising=False)  # as in a fresh interpreter
    monkeypatch.setattr(sbom, "_installed", lambda module: installed)
    with pytest.raises(ImportError, match="no validator here"), sbom._iri_checks_on_demand():
        assert (sbom.IRI_SYNTAX in sys.modules) is installed
        raise ImportError("no validator here")
    assert sbom.IRI_SYNTAX not in sys.modules  # the stand-in never outlives the import
