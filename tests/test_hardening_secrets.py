"""Secret hygiene under every output at once: no planted value in any byte written.

One planted secret per detect-secrets type (the test fails when detect-secrets grows a
type it does not plant), plus secret-bearing lines that the lint and sast tools quote
in their own messages. The run has every output on: terminal at -vv with debug logging,
JUnit, the evidence bundle (SARIF, statement, envelope, HTML, metrics), pytest's cache
and a --co run; then every file under the project and the run's temporary directory is
read byte by byte for each value.
"""

from __future__ import annotations

import string
from pathlib import Path

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from secrets_support import ALNUM, HEX, KEYWORD, Secrets

LOWER_DIGITS = string.ascii_lowercase + string.digits
URLSAFE = ALNUM + "_-"

OUTPUTS = (
    "-vv",
    "-rA",
    "-l",
    "--tb=long",
    "--full-trace",
    "--log-level=DEBUG",
    "--log-cli-level=DEBUG",
    "--junitxml=reports/junit.xml",
    "-p",
    "no:hypothesispytest",
)


def planted(s: Secrets) -> dict[str, tuple[str, str]]:
    """``{detect-secrets type: (file line, the secret value in it)}``, built at run time."""
    c = s.chars
    aws, gh, stripe, jwt = s.aws_key(), s.github_token(), s.stripe_key(), s.jwt()
    b64, hexed, pwd = s.base64_string(), s.hex_string(), s.password()
    basic = c(ALNUM, 16)
    npm = "npm" + "_" + c(ALNUM, 36)
    ip = "52." + ".".join(str(s.rng.randrange(1, 250)) for _ in range(3))
    values = {
        "AWS Access Key": (f"aws = {aws.value}", aws.value),
        "GitHub Token": (f"gh = {gh.value}", gh.value),
        "Stripe Access Key": (f"stripe = {stripe.value}", stripe.value),
        "JSON Web Token": (f"jwt = {jwt.value}", jwt.value),
        "Base64 High Entropy String": (f'blob = "{b64.value}"', b64.value),
        "Hex High Entropy String": (f'digest = "{hexed.value}"', hexed.value),
        "Secret Keyword": (f'{KEYWORD} = "{pwd.value}"', pwd.value),
        "Artifactory Credentials": ("af = " + (v := "AK" + "C" + c(ALNUM, 40)), v),
        "Azure Storage Account access key": (
            "conn = Account" + "Key=" + (v := c(ALNUM + "+/", 86) + "=="),
            v,
        ),
        "Basic Auth Credentials": (f"url = https://deploy:{basic}@example.com/x", basic),
        "Cloudant Credentials": ("cloudant_" + f"{KEYWORD} = '{(v := c(HEX, 64))}'", v),
        "Discord Bot Token": (
            "discord = " + (v := "M" + c(ALNUM, 23) + "." + c(ALNUM, 6) + "." + c(ALNUM, 27)),
            v,
        ),
        "GitLab Token": ("gl = " + (v := "gl" + "pat-" + c(ALNUM, 20)), v),
        "IBM Cloud IAM Key": ("ibm_cloud_iam_" + f"key = '{(v := c(URLSAFE, 44))}'", v),
        "IBM COS HMAC Credentials": (
            "ibm_cos_hmac_" + "secret" + f"_access_key = '{(v := c(HEX, 48))}'",
            v,
        ),
        "Public IP (ipv4)": (f"host = {ip}", ip),
        "Mailchimp Access Key": ("mc = " + (v := c(LOWER_DIGITS, 32) + "-us" + "12"), v),
        "NPM tokens": ("//registry.npmjs.org/:_auth" + f"Token={npm}", npm),
        "OpenAI Token": ("oa = " + (v := "sk-" + c(ALNUM, 20) + "T3Blbk" + "FJ" + c(ALNUM, 20)), v),
        "PyPI Token": ("pypi = " + (v := "pypi-" + "AgEIcHlwaS5vcmc" + c(URLSAFE, 80)), v),
        "SendGrid API Key": (
            "sg = " + (v := "SG" + "." + c(URLSAFE, 22) + "." + c(URLSAFE, 43)),
            v,
        ),
        "Slack Token": (
            "slack = " + (v := "xo" + "xb-" + c(string.digits, 12) + "-" + c(LOWER_DIGITS, 24)),
            v,
        ),
        "SoftLayer Credentials": ("softlayer_api_" + f"key = '{(v := c(LOWER_DIGITS, 64))}'", v),
        "Square OAuth Secret": ("sq = " + (v := "sq0" + "csp-" + c(URLSAFE, 43)), v),
        "Telegram Bot Token": (
            "tg = " + (v := c(string.digits, 9) + ":" + c(URLSAFE, 35)),
            v,
        ),
        "Twilio API Key": ("tw = " + (v := "A" + "C" + c(LOWER_DIGITS, 32)), v),
    }
    pem, _ = s.private_key_lines()
    values["Private Key"] = ("\n".join(pem), pem[1])  # the key material, not the header
    return values


def test_every_detect_secrets_type_is_planted():
    assert set(planted(Secrets(seed=5))) == set(get_mapping_from_secret_type_to_class())


def test_no_secret_value_in_any_byte_written_by_any_output(project, tmp_path, monkeypatch):
    s = Secrets(seed=31)
    secrets = planted(s)
    planted_files = {}
    for i, (_kind, (line, _)) in enumerate(sorted(secrets.items())):
        planted_files[f"conf/s{i:02d}.txt"] = line + "\n"
    # Lines the lint and sast tools quote in their own messages, each holding a secret.
    quoted = [s.aws_key().value, s.github_token().value, s.password().value]
    planted_files["app/quoted.py"] = (
        "import os\n\n"
        f'TMP = "/tmp/{quoted[0]}"\n'
        f'SEEN = {{"{quoted[1]}", "{quoted[1]}"}}\n'
        f'{KEYWORD} = "{quoted[2]}"\n'
        f'if "{quoted[2]}" == "x":\n'
        "    pass\n"
    )
    for path, text in planted_files.items():
        project.write(path, text, dedent=False)
    project.write("tests/test_app.py", "def test_app():\n    assert True\n")
    project.write(".gitignore", "reports/\ngate-evidence/\n__pycache__/\n")
    ruff = '\n[tool.ruff.lint]\nextend-select = ["S108", "B033", "PLR0133"]\n'
    project.configure(
        {"secrets": {}, "lint": {"format": False}, "sast": {"fail_on": "low"}},
        extra=ruff,
        paths=["app", "conf"],
    )
    project.commit()

    tmp = tmp_path / "run-tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the inner runs' temporary files land here
    outputs = []
    for args in ((*OUTPUTS, "--gates"), (*OUTPUTS, "--gates"), ("--co", "-vv", "--gates")):
        result = project.pytester.runpytest_subprocess(*args)
        outputs.append(result.stdout.str() + result.stderr.str())
    cold, warm, listed = outputs
    assert "<GateItem secrets>" in listed

    # Not vacuous: every type was found, and lint and sast did quote-prone findings.
    for kind in secrets:
        # detect-secrets' default filter is_not_alphanumeric_string drops every bare IPv4
        # address (digits and dots only), so its IP plugin never reports under defaults.
        assert (kind in cold) == (kind != "Public IP (ipv4)"), kind
    for rule in ("S108", "B033", "PLR0133", "B105"):
        assert rule in cold, rule
    assert cold.count("FAILED platformgates::") == 3
    assert warm.count("FAILED platformgates::") == 3

    values = [value for _, value in secrets.values()] + quoted
    written = _files(project.path, skip=set(planted_files)) + _files(tmp, skip=set())
    names = {p.relative_to(project.path).as_posix() for p in written if project.path in p.parents}
    for expected in (
        "reports/junit.xml",
        "gate-evidence/findings.sarif",
        "gate-evidence/report.html",
        "gate-evidence/metrics.prom",
        "gate-evidence/evidence.json",
        "gate-evidence/evidence.intoto.jsonl",
        ".pytest_cache/d/platformgates/secrets.json",
        ".pytest_cache/d/platformgates/lint.json",
    ):
        assert expected in names, expected
    for value in values:
        for i, output in enumerate(outputs):
            assert value not in output, f"a secret value in the output of run {i}"
        for path in written:
            assert value.encode() not in path.read_bytes(), f"a secret value in {path}"


def _files(root: Path, skip: set[str]) -> list[Path]:
    """Every file under ``root`` except the planted ones and git's object store."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        wanted = rel not in skip and not rel.startswith(".git/")
        if wanted and path.is_file() and not path.is_symlink():
            found.append(path)
    return found
