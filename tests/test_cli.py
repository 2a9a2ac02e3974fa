"""The platformgates command: gates, the option reference, the effective configuration."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_platformgates.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_option_reference_in_docs_is_generated_from_the_schemas(tmp_path, capsys):
    assert main(["gates", "--markdown", "--project", str(tmp_path)]) == 0
    generated = capsys.readouterr().out
    committed = (DOCS / "reference.md").read_text(encoding="utf-8")
    assert generated == committed, (
        "docs/reference.md is out of date: regenerate it with "
        "`platformgates gates --markdown --project /tmp > docs/reference.md`"
    )


def test_the_reference_documents_the_gates_that_exist_only_on_request(tmp_path, capsys):
    # The commits gate and declared gates are there only when configured; their keys are
    # validated all the same, so the reference lists them too, from the same schemas.
    from pytest_platformgates.gates.commits import CommitsGate
    from pytest_platformgates.gates.external import CommandGate, SarifGate

    assert main(["gates", "--markdown", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    sections = {
        "`[tool.platformgates.gates.commits]`": CommitsGate.options,
        '`[tool.platformgates.gates.NAME]` with `kind = "sarif"`': SarifGate.options,
        '`[tool.platformgates.gates.NAME]` with `kind = "command"`': CommandGate.options,
    }
    for heading, options in sections.items():
        section = out.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
        for option in options:
            assert f"| `{option.name}` |" in section, (heading, option.name)


def test_gates_lists_every_gate_with_its_options(tmp_path, capsys):
    assert main(["gates", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[tool.platformgates.gates.lint]" in out
    assert 'presets = ["no-blanket-noqa"]' in out
    assert "fail_on = (unset)" in out


def test_config_prints_the_effective_configuration_and_its_digest(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.platformgates]\nfail_on = "medium"\n'
        "[tool.platformgates.gates.lint]\nformat = false\n"
    )
    assert main(["config", "--project", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["digest"]) == 64
    assert data["config"]["fail_on"] == "medium"
    assert data["config"]["gates"]["lint"]["format"] is False
    assert data["config"]["gates"]["lint"]["fail_on"] == "medium"


def test_config_masks_url_credentials_in_what_it_prints_and_the_evidence_records(tmp_path, capsys):
    from pytest_platformgates import config, plugin

    hidden = "Xk9mQ2" + "pL7vR4tZ8w"
    (tmp_path / "pyproject.toml").write_text(
        "[tool.platformgates.gates.deps]\nservice = 'osv'\n"
        f"osv_url = 'https://osvuser:{hidden}{'@'}osv.internal.example/v1/query'\n"
    )
    assert main(["config", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert hidden not in out
    assert json.loads(out)["config"]["gates"]["deps"]["osv_url"] == (
        "https://***@osv.internal.example/v1/query"
    )
    source = tmp_path / "pyproject.toml"
    _pm, _gates, settings = plugin.load_project(source, config.read_table(source) or {})
    assert settings.gates["deps"]["osv_url"].startswith("https://osvuser:")  # the gate's own
    assert hidden not in json.dumps(settings.effective())


def test_config_errors_name_the_key_and_exit_2(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.platformgates]\nfail_onn = 'x'\n")
    assert main(["config", "--project", str(tmp_path)]) == 2
    assert "tool.platformgates.fail_onn: unknown key" in capsys.readouterr().err


def test_config_without_a_table_says_so(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert main(["config", "--project", str(tmp_path)]) == 1
    assert "no [tool.platformgates] table" in capsys.readouterr().err
