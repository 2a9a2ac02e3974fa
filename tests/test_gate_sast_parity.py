"""Parity: the sast gate finds exactly what ``bandit -r`` finds on the same generated tree."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pytest_platformgates.cache import ResultCache
from pytest_platformgates.config import build_settings
from pytest_platformgates.gate import GateContext
from pytest_platformgates.gates.sast import SastGate
from pytest_platformgates.inventory import Inventory

# Snippets that trip bandit tests of every severity and confidence; {n} keeps names apart.
SNIPPETS = [
    "import subprocess\nsubprocess.call(cmd{n}, shell=True)\n",
    "import subprocess\nsubprocess.call(cmd{n}, shell=True)  # nosec B602\n",
    "import subprocess\nsubprocess.Popen(['ls', '-l'])  # nosec B603\n",
    "import pickle\npickle.loads(data{n})\n",
    "eval(expr{n})\n",
    "eval(expr{n})  # nosec\n",
    "exec(code{n})\n",
    "{pw} = 'pw-{n}'\n",
    "def login{n}(user, {pw}='pw-{n}'):\n    return user\n",
    "connect(host, {pw}='pw-{n}')\n",
    "import hashlib\nhashlib.md5(b'{n}')\n",
    "import random\nvalue{n} = random.random()\n",
    "import yaml\nyaml.load(stream{n})\n",
    "import requests\nrequests.get(url{n}, verify=False)\n",
    "query{n} = 'SELECT * FROM t WHERE id = %s' % uid\n",
    "path{n} = '/tmp/data-{n}'\n",
    "sock.bind(('0.0.0.0', {n}))\n",
    "try:\n    work{n}()\nexcept Exception:\n    pass\n",
    "assert ready{n}\n",
    "import telnetlib\n",
    "app.run(debug=True)\n",
    "import os\nos.chmod(path{n}, 0o777)\n",
    "import os\nos.system(cmd{n})\n",
    "import xml.etree.ElementTree as ET\nET.parse(source{n})\n",
    "import ssl\nssl.wrap_socket(sock, ssl_version=ssl.PROTOCOL_SSLv3)\n",
    "from jinja2 import Environment\nEnvironment(autoescape=False)\n",
    "import tarfile\ntarfile.open(archive{n}).extractall()\n",
    "def ok{n}(a, b):\n    return a + b\n",
]
DIRS = ["", "pkg/", "pkg/sub/", "tests/", "vendor/", "tools/scripts/"]
BANDIT_CONFIG = """\
[tool.bandit]
skips = ["B311"]
exclude_dirs = ["vendor"]

[tool.bandit.assert_used]
skips = ["*/tests/*"]
"""
CONFIDENCE = re.compile(r"confidence (\w+)")
CREDENTIAL_NAME = "pass" + "word"  # pieces: our own secrets gate scans this file


def _generate(root: Path) -> None:
    rng = random.Random(20261101)
    for i in range(60):
        parts = rng.sample(SNIPPETS, rng.randint(1, 6))
        body = "".join(p.format(n=i, pw=CREDENTIAL_NAME) for p in parts)
        path = root / f"{rng.choice(DIRS)}mod_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    (root / "pkg" / "broken.py").write_text("def broken(:\n    pass\n")
    (root / "pyproject.toml").write_text('[project]\nname = "gen"\n\n' + BANDIT_CONFIG)
    subprocess.run(["git", "init", "-q", str(root)], check=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    _generate(root)
    return root


def _cli(root: Path, confidence: str) -> tuple[Counter, set[str]]:
    argv = [sys.executable, "-m", "bandit", "-c", "pyproject.toml", "-r", ".", "-f", "json", "-q"]
    if confidence != "low":  # the gate's "low" is bandit's default: everything
        argv += ["--confidence-level", confidence]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    found = Counter(
        (
            r["filename"].removeprefix("./"),
            r["line_number"],
            r["test_id"],
            r["issue_severity"].lower(),
            r["issue_confidence"].lower(),
        )
        for r in report["results"]
    )
    return found, {e["filename"].removeprefix("./") for e in report["errors"]}


def _gate(root: Path, confidence: str, cache_dir: Path):
    gate = SastGate()
    raw = {"gates": {"sast": {"confidence": confidence, "jobs": 2, "blanket_nosec": "off"}}}
    settings = build_settings(root, root / "pyproject.toml", raw, {"sast": gate})
    ctx = GateContext(
        settings=settings.gates["sast"],
        project=settings,
        inventory=Inventory.scan(root),
        cache=ResultCache(cache_dir, "test"),
    )
    return gate.check(ctx)


@pytest.mark.parametrize("confidence", ["low", "medium", "high"])
def test_findings_are_identical_to_the_bandit_cli(tree, tmp_path, confidence):
    expected, errors = _cli(tree, confidence)
    analysis = _gate(tree, confidence, tmp_path)
    assert not analysis.problems
    assert analysis.figures["bandit_processes"] == 2
    found = Counter(
        (f.path, f.line, f.rule, f.severity.label, CONFIDENCE.search(f.hint).group(1))
        for f in analysis.findings
        if re.fullmatch(r"B\d+", f.rule)
    )
    assert found == expected
    assert sum(expected.values()) > 40  # the tree really exercises bandit
    assert (
        {f.path for f in analysis.findings if f.rule == "unparseable"}
        == errors
        == {"pkg/broken.py"}
    )
    # Every finding has a location bandit gave and a fingerprint of our own.
    assert all(f.fingerprint and f.line for f in analysis.findings if f.rule.startswith("B"))
    assert analysis.figures["files_excluded_by_bandit"] == sum(
        1 for p in tree.rglob("*.py") if p.parts[-2] == "vendor"
    )


def test_a_warm_run_gives_the_same_findings_without_running_bandit(tree, tmp_path):
    cold = _gate(tree, "low", tmp_path)
    warm = _gate(tree, "low", tmp_path)
    assert warm.figures["files_analysed"] == 0
    assert warm.figures["files_cached"] == cold.figures["files_checked"]
    assert sorted(warm.findings, key=repr) == sorted(cold.findings, key=repr)
    assert warm.figures["nosec_comments"] == cold.figures["nosec_comments"] > 0
