"""The documentation site builds in MkDocs' strict mode: a broken link fails the suite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_platformgates.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strictly_without_a_warning(tmp_path):
    # mkdocs.yml sets strict and validation (links, anchors, pages left out of the nav):
    # any warning aborts the build. The output is read too, in case strict is ever dropped.
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    warnings = [line for line in output.splitlines() if re.match(r"(WARNING|ERROR)\b", line)]
    assert proc.returncode == 0 and not warnings, (
        "mkdocs build --strict failed: fix the link, or add a new page to `nav` in mkdocs.yml\n"
        + output
    )
    assert (tmp_path / "site" / "quickstart" / "index.html").is_file()
    assert (tmp_path / "site" / "gates" / "lint" / "index.html").is_file()


def test_every_relative_link_in_the_readme_resolves():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    relative = [link for link in links if "://" not in link and not link.startswith("mailto:")]
    assert relative, "the README links to the docs"
    missing = [link for link in relative if not (ROOT / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_the_commands_page_names_every_command_and_option(capsys):
    page = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--help"])
    commands = re.search(r"\{([a-z,]+)\}", capsys.readouterr().out).group(1).split(",")
    missing = [f"platformgates {c}" for c in commands if f"`platformgates {c}" not in page]
    for command in commands:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", capsys.readouterr().out))
        missing += [
            f"platformgates {command} {o}" for o in sorted(options - {"--help"}) if o not in page
        ]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"],
        cwd=ROOT / "docs",  # no configuration there: the plugin's options only
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    group = proc.stdout.split("(pytest-platformgates):", 1)[1].split("\n\n", 1)[0]
    options = set(re.findall(r"^\s+(--[a-z][a-z-]+)", group, re.MULTILINE))
    assert "--gates-only" in options
    missing += [f"pytest {o}" for o in sorted(options) if f"`{o}" not in page]
    assert not missing, f"docs/commands.md does not name: {missing}"


def test_every_gate_page_documents_each_option_of_its_schema():
    # The pages explain the options in prose tables; the schema is the truth, so a key
    # added to a gate and not to its page fails here (the reference is generated).
    from pytest_platformgates.manager import collect_gates, create_plugin_manager
    from pytest_platformgates.reference import ON_REQUEST

    gates = collect_gates(create_plugin_manager(), {"gates": dict(ON_REQUEST)})
    missing = []
    for name, gate in sorted(gates.items()):
        page = "external" if ON_REQUEST.get(name, {}).get("kind") else name
        text = (ROOT / "docs" / "gates" / f"{page}.md").read_text(encoding="utf-8")
        options = text.split("\n## Options", 1)[1]
        missing += [f"{page}.md: {o.name}" for o in gate.options if f"`{o.name}`" not in options]
        if "../reference.md#every-gate-table" not in options:
            missing.append(f"{page}.md: the link to the common keys")
    assert not missing, f"gate pages do not document: {missing}"


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs" / "gates").glob("*.md")))
def test_every_gate_page_says_what_it_prevents_and_how_to_waive(page):
    text = (ROOT / "docs" / "gates" / page).read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    for wanted in ("The failure it prevents", "How to waive", "How it fails closed"):
        assert wanted in headings, f"docs/gates/{page} has no '## {wanted}' section"
    assert any(h.startswith("Options") for h in headings), f"docs/gates/{page}: no Options"
