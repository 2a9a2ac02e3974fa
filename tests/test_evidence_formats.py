"""The statement, its envelope, the metrics, the HTML report and the facts they record."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from evidence_support import finding, keypair, make_run, record, write_bundle
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from pytest_platformgates.evidence import bundle, dsse, html, metrics, provenance, statement
from pytest_platformgates.evidence.session import redact

# Read before the autouse fixture clears CI: in CI the browser test must run, not skip.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

WAIVER = {
    "id": "PYSEC-2023-74",
    "reason": "redirects are never followed in this service",
    "owner": "payments-team",
    "approved_by": "security-lead",
    "expires": "2031-12-31",
}
COVERAGE = {
    "meta": {"version": "7.17.3"},
    "files": {
        "pkg/core.py": {"summary": {"percent_covered": 91.5, "num_statements": 200}},
        "pkg/cli.py": {"summary": {"percent_covered": 42.0, "num_statements": 50}},
    },
    "totals": {"percent_covered": 81.4},
}


def sample_run(tmp_path, **facts):
    records = [
        record(
            "deps",
            "passed",
            [finding("PYSEC-2023-74", "high", path="", line=0, waiver=WAIVER)],
            tool_versions={"pip-audit": "2.10.1"},
        ),
        record(
            "lint",
            "failed",
            [finding("F401", "high", message="`os` imported but unused <b>")],
            duration=1.5,
        ),
        record(
            "coverage",
            "passed",
            figures={"line": 81.4},
            artifacts={"coverage.json": json.dumps(COVERAGE)},
        ),
    ]
    return make_run(tmp_path, records, gates=["coverage", "deps", "lint", "secrets"], **facts)


def test_the_statement_is_in_toto_v1_with_commit_and_report_subjects(tmp_path):
    run = sample_run(tmp_path, exit_status=1)
    target = write_bundle(run)
    stmt = json.loads((target / "evidence.json").read_bytes())
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == statement.PREDICATE_TYPE
    subjects = {s["name"]: s["digest"] for s in stmt["subject"]}
    assert subjects["git-commit"] == {"gitCommit": "a" * 40}
    for name in ("junit.xml", "findings.sarif", "report.html", "metrics.prom", "coverage.json"):
        assert subjects[name]["sha256"] == statement.sha256((target / name).read_bytes())
    p = stmt["predicate"]
    assert p["verdict"] == "failed"
    assert p["verdicts"] == {
        "coverage": "passed",
        "deps": "passed",
        "lint": "failed",
        "secrets": "not run",  # pragma: allowlist secret
    }
    assert p["required_gates"] == ["coverage", "deps", "lint", "secrets"]
    assert p["policy"]["digest"] == run.settings.digest
    assert p["policy"]["effective"] == run.settings.effective()
    assert p["waivers"] == [
        {"gate": "deps", "status": "applied", **WAIVER, "findings": ["fp-PYSEC-2023-74--high"]}
    ]
    lint = next(g for g in p["gates"] if g["gate"] == "lint")
    assert lint["counts"]["high"] == 1
    assert lint["duration"] == 1.5
    coverage = next(g for g in p["gates"] if g["gate"] == "coverage")
    assert set(coverage["artifacts"]) == {"coverage.json"}
    for key in ("started", "finished", "exit_status", "tests"):
        assert key in p["run"]
    assert p["signature"]["signed"] is False
    assert "PLATFORMGATES_SIGNING_KEY is not set" in p["signature"]["reason"]


def test_the_envelope_is_dsse_signed_over_pae_with_ed25519(tmp_path):
    private, public = keypair(tmp_path)
    signer = dsse.signer_from_environment({dsse.KEY_VARIABLE: str(private)})
    target = write_bundle(sample_run(tmp_path), signer)
    line = (target / "evidence.intoto.jsonl").read_bytes()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    envelope = json.loads(line)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(envelope["payload"])
    assert payload == (target / "evidence.json").read_bytes()
    # Check the signature independently of our own verify code, straight from the DSSE spec.
    pae = b"DSSEv1 %d %b %d %b" % (28, b"application/vnd.in-toto+json", len(payload), payload)
    (sig,) = envelope["signatures"]
    key = dsse.load_public_key(str(public))
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(sig["sig"]), pae)
    assert sig["keyid"] == dsse.key_id(key)
    predicate = json.loads(payload)["predicate"]
    assert predicate["signature"]["keyid"] == sig["keyid"]
    # The envelope is written in canonical form (sorted keys, no spaces), byte for byte,
    # which verify insists on.
    assert line == dsse.canonical(envelope) + b"\n"


def test_an_unsigned_envelope_is_canonical_too():
    payload = b'{"_type": "x", "text": "\xc3\xa9 \\u0000 \\"quoted\\""}\n'
    line = dsse.envelope(payload, None)
    envelope = json.loads(line)
    assert line == dsse.canonical(envelope) + b"\n"
    assert base64.b64decode(envelope["payload"]) == payload
    assert envelope["signatures"] == []


def test_metrics_are_openmetrics_the_reference_parser_reads(tmp_path):
    text = metrics.render(sample_run(tmp_path)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(family, **labels):
        (sample,) = [
            s
            for s in families[family].samples
            if all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return sample.value

    assert value("platformgates_gate_duration_seconds", gate="lint") == 1.5
    assert families["platformgates_gate_duration_seconds"].unit == "seconds"
    assert value("platformgates_findings", gate="lint", severity="high") == 1
    assert value("platformgates_findings", gate="lint", severity="low") == 0
    assert value("platformgates_gate_passed", gate="lint") == 0
    assert value("platformgates_gate_passed", gate="deps") == 1
    assert value("platformgates_gate_passed", gate="secrets") == 0
    assert (
        value("platformgates_gate_verdict", gate="secrets", platformgates_gate_verdict="not run")
        == 1
    )
    assert value("platformgates_run_passed") == 0
    assert families["platformgates_gate_verdict"].type == "stateset"


_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? (\S+)")
_LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"')
# The sample names each OpenMetrics type allows for a family ("" = the family's own name).
_SUFFIXES = {"gauge": ("",), "stateset": ("",), "info": ("_info",), "counter": ("_total",)}


def openmetrics_problems(text: str) -> list[str]:
    """A strict reading of the exposition format, independent of any parser library."""
    problems = []
    if not text.endswith("\n# EOF\n") or text.count("# EOF") != 1:
        problems.append("the text must end with exactly one '# EOF' line")
    families: dict[str, str] = {}
    current = None
    for n, line in enumerate(text.removesuffix("# EOF\n").splitlines(), 1):
        if line.startswith("# "):
            word, name, *rest = line[2:].split(" ", 2)
            if word == "TYPE":
                if name in families:
                    problems.append(f"{n}: family {name} declared twice")
                families[name] = rest[0] if rest else ""
                current = name
                if families[name] not in _SUFFIXES:
                    problems.append(f"{n}: unknown or unused type {families[name]!r}")
            elif word in ("UNIT", "HELP") and name == current and rest:
                if word == "UNIT" and not name.endswith(f"_{rest[0]}"):
                    problems.append(f"{n}: {name} must end with its unit _{rest[0]}")
            else:
                problems.append(f"{n}: {word} before its family's TYPE: {line!r}")
            continue
        match = _SAMPLE.fullmatch(line)
        if match is None or current is None:
            problems.append(f"{n}: not a sample of a declared family: {line!r}")
            continue
        name, labels, value = match.groups()
        if name not in {current + s for s in _SUFFIXES[families[current]]}:
            problems.append(f"{n}: sample {name} outside its family {current}")
        inner = (labels or "{}")[1:-1]
        if inner and not all(_LABEL.fullmatch(x) for x in re.split(r",(?=[a-zA-Z_])", inner)):
            problems.append(f"{n}: bad labels {labels}")
        try:
            float(value)
        except ValueError:
            problems.append(f"{n}: value {value!r} is not a number")
    return problems


def test_metrics_are_strict_openmetrics_text(tmp_path):
    text = metrics.render(sample_run(tmp_path)).decode()
    assert openmetrics_problems(text) == []
    assert "# UNIT platformgates_gate_duration_seconds seconds" in text.splitlines()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert types["platformgates_gate_verdict"] == "stateset"
    assert types["platformgates_run"] == "info"
    # The checker itself refuses what the format forbids.
    assert openmetrics_problems(text.removesuffix("# EOF\n"))
    assert openmetrics_problems(
        text.replace(
            "# UNIT platformgates_gate_duration_seconds seconds",
            "# UNIT platformgates_gate_duration_seconds bytes",
        )
    )
    assert openmetrics_problems("x 1\n# EOF\n")
    assert openmetrics_problems('# TYPE x gauge\nx{a="1"} one\n# EOF\n')


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []
        self.tags = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.parts.append(data)


def test_the_report_is_self_contained(tmp_path):
    page = html.render(sample_run(tmp_path), {"coverage.json": json.dumps(COVERAGE)}).decode()
    parser = _Text()
    parser.feed(page)
    assert not parser.tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<b>" not in page  # finding text is escaped
    assert "&lt;b&gt;" in page


# What the HTML standard's parser calls an error in the input stream ("control-character-
# in-input-stream", "noncharacter-in-input-stream", "unexpected-null-character").
NOT_IN_HTML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


def test_control_characters_in_what_the_report_quotes_are_spelt_out(tmp_path):
    hostile = "a\x1b[2J\x00\x07\x85\ufffe <i>x</i>"
    records = [
        record(
            "lint",
            "error",
            [finding(path=f"p{hostile}.py", message=hostile, hint=hostile)],
            problems=[f"ruff crashed:\n{hostile}"],
            notes=[hostile],
        )
    ]
    page = html.render(make_run(tmp_path, records)).decode("utf-8")
    assert not NOT_IN_HTML.search(page), NOT_IN_HTML.findall(page)
    assert "a\\x1b[2J\\x00\\x07\\x85\\ufffe &lt;i&gt;x&lt;/i&gt;" in page
    assert "ruff crashed:\na\\x1b" in page  # a problem keeps its lines (in a <pre>)


def test_bidirectional_controls_cannot_make_a_name_in_the_report_read_as_another(tmp_path):
    # "\u202e" (right-to-left override) shows "evil\u202eyp.txt" as "eviltxt.py".
    records = [record("lint", "failed", [finding(path="evil\u202eyp.txt", message="m\u2066x")])]
    page = html.render(make_run(tmp_path, records)).decode("utf-8")
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page)
    assert "evil\\u202eyp.txt" in page and "m\\u2066x" in page


@pytest.mark.skipif(
    CHROMIUM is None and not IN_CI,
    reason="no chromium here (apt-get install chromium); CI installs it and runs this test",
)
def test_the_report_renders_in_a_headless_browser_with_the_key_facts(tmp_path):
    assert CHROMIUM, "chromium is required in CI: .ci/run must install it"
    page = tmp_path / "report.html"
    page.write_bytes(html.render(sample_run(tmp_path), {"coverage.json": json.dumps(COVERAGE)}))
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    parser = _Text()
    parser.feed(dom)
    text = " ".join(" ".join(parser.parts).split())
    assert "Overall verdict: FAILED" in text
    for fact in (
        "a" * 40,  # the commit
        "lint FAILED",
        "secrets NOT RUN",
        "`os` imported but unused <b>",
        "pkg/mod.py:3",  # the finding's location
        "line 81.4",  # a gate's figure
        "files_checked 2",
        "PYSEC-2023-74",
        "payments-team",
        "2031-12-31",
        "pkg/cli.py 42.00 %",
        "pkg/core.py 91.50 %",
        "Policy digest",
    ):
        assert fact in text, fact


def test_git_state_reads_commit_branch_and_what_changed(project):
    project.write("a.py", "A = 1\n")
    project.write("b.py", "B = 1\n")
    commit = project.commit()
    state = provenance.git_state(project.path)
    assert (state.commit, state.branch, state.dirty) == (commit, "main", False)
    project.git("mv", "a.py", "c.py")
    project.write("b.py", "B = 2\n")
    project.write("gate-evidence/report.html", "ours\n")
    project.write("new.txt", "x\n")
    state = provenance.git_state(project.path, ignore=(project.path / "gate-evidence",))
    assert state.dirty
    assert state.changed == ("b.py", "c.py")
    assert state.untracked == ("new.txt",)
    project.git("checkout", "-q", "--detach")
    assert provenance.git_state(project.path).branch is None
    assert state.prefix == ""
    (project.path / "services" / "app").mkdir(parents=True)
    assert provenance.git_state(project.path / "services" / "app").prefix == "services/app"


def test_outside_git_there_is_no_commit_and_the_reason_is_kept(tmp_path):
    state = provenance.git_state(tmp_path)
    assert state.commit is None
    assert "no git commit" in state.problem


def test_ci_identity_reads_only_allowlisted_variables():
    env = {
        "GITLAB_CI": "true",
        "CI": "true",
        "GITLAB_USER_LOGIN": "dev1",
        "CI_JOB_ID": "77",
        "CI_PROJECT_PATH": "group/app",
        "CI_JOB_TOKEN": "glcbt-" + "s3cr3t" * 4,  # pragma: allowlist secret
        "CI_REGISTRY_PASSWORD": "hunter" + "2",  # pragma: allowlist secret
    }
    identity = provenance.ci_identity(env)
    assert identity["provider"] == "gitlab"
    assert identity["variables"] == {
        "GITLAB_USER_LOGIN": "dev1",
        "CI_JOB_ID": "77",
        "CI_PROJECT_PATH": "group/app",
    }
    assert provenance.ci_identity({})["provider"] == "local"
    assert provenance.ci_identity({"CI": "1"})["provider"] == "generic"


def test_credentials_in_url_arguments_are_redacted():
    assert redact("--osv-url=https://user:" + "tok" + "en@osv.test/v1") == (
        "--osv-url=https://***@osv.test/v1"
    )
    assert redact("tests/test_x.py") == "tests/test_x.py"


def test_the_manifest_lists_every_other_file(tmp_path):
    target = write_bundle(sample_run(tmp_path))
    listed = json.loads((target / "manifest.json").read_bytes())["files"]
    assert set(listed) == {p.name for p in target.iterdir()} - {"manifest.json"}
    assert set(listed) >= bundle.REQUIRED - {"manifest.json"}
