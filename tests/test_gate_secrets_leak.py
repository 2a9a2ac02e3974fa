"""No planted secret's value is written anywhere: terminal, JUnit, cache, evidence, logs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from secrets_support import KEYWORD, LEAN, Secrets

REPORT_OPTIONS = (
    "-vv",
    "-rA",
    "-l",
    "--tb=long",
    "--full-trace",
    "--durations=0",
    "--log-level=DEBUG",
    "--log-cli-level=DEBUG",
    "--junitxml=reports/junit.xml",
)


def test_secret_values_appear_in_no_output_and_no_file(project):
    s = Secrets(seed=11)
    aws, aws2, token, stripe, jwt = (
        s.aws_key(),
        s.aws_key(),
        s.github_token(),
        s.stripe_key(),
        s.jwt(),
    )
    b64, hexed, pwd = s.base64_string(), s.hex_string(), s.password()
    pem, pem_secret = s.private_key_lines()
    planted_files = {
        ".env": f"AWS_ACCESS_KEY_ID={aws.value}\n",
        "config/db.ini": f"[db]\nhost = localhost\n{KEYWORD} = {pwd.value}\n",
        "deploy/values.yaml": f"auth:\n  token: {token.value}\n  jwt: {jwt.value}\n",
        "app/settings.py": f'STRIPE = "{stripe.value}"\nSIGNING = "{b64.value}"\n',
        "app/ids.json": json.dumps({"checksum": hexed.value, "aws": aws2.value}),
        "keys/id_rsa": "\n".join(pem) + "\n",
    }
    for path, text in planted_files.items():
        project.write(path, text)
    project.write("tests/test_app.py", "def test_app():\n    assert True\n")
    # Reports name each secret's hash; like any generated file they stay out of scope.
    project.write(".gitignore", "reports/\ngate-evidence/\n__pycache__/\n")
    project.configure({"secrets": {}})

    values = [p.value for p in (aws, aws2, token, stripe, jwt, b64, hexed, pwd)]
    values += pem[1:-1]  # the key material itself, not the header detect-secrets reports
    values.append(token.value[4:])  # what detect-secrets does not capture must not leak either

    outputs = []
    for args in (
        (*REPORT_OPTIONS, *LEAN, "--gates"),  # cold: the workers run
        (*REPORT_OPTIONS, *LEAN, "--gates"),  # warm: everything from the cache
        (*REPORT_OPTIONS, *LEAN[:4], "--gates", "-n", "2"),  # results cross xdist's wire
    ):
        result = project.pytester.runpytest(*args)
        assert result.ret == 1
        outputs.append(result.stdout.str() + result.stderr.str())

    # The gate did find them, so the checks below are not vacuous. detect-secrets hashes
    # what its regex captured: all of most secrets, a JWT up to its signature.
    cold = outputs[0]
    assert "11 blocking findings" in cold
    captured = [aws, aws2, stripe, b64, hexed, pwd, pem_secret]
    for planted in captured:
        digest = hashlib.sha1(planted.value.encode(), usedforsecurity=False).hexdigest()
        assert digest in cold, planted.type
    for planted in (token, jwt):
        assert planted.type in cold
    assert all("11 blocking findings" in output for output in outputs)

    written = _files_written(project.path, exclude=set(planted_files))
    names = {p.relative_to(project.path).as_posix() for p in written}
    assert "reports/junit.xml" in names
    assert ".pytest_cache/d/platformgates/secrets.json" in names
    assert any(n.startswith("gate-evidence/") for n in names)
    for value in values:
        for i, output in enumerate(outputs):
            assert value not in output, f"a secret value in the output of run {i}"
        for path in written:
            assert value.encode() not in path.read_bytes(), f"a secret value in {path}"


def _files_written(root: Path, exclude: set[str]) -> list[Path]:
    """Every file under the project except the planted ones and git's object store."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in exclude and not rel.startswith(".git/"):
            found.append(path)
    return found


def test_secrets_a_tool_quotes_without_quotes_appear_in_no_output(project):
    """ruff names an undefined *name* (a key written without its quotes), a format string's
    placeholders and a dict's unused keys, all without quotes; the lint gate masks them."""
    s = Secrets(seed=23)
    aws, token, stripe = s.aws_key(), s.github_token(), s.stripe_key()
    source = (
        f"AWS_ACCESS_KEY_ID = {aws.value}  # the quotes forgotten: an undefined name\n"
        f'URL = "https://{{{token.value}}}@github.com/acme/x.git".format()\n'
        f'QUERY = "%(user)s" % {{"user": "u", "{stripe.value}": 1}}\n'
    )
    project.write("app/keys.py", source, dedent=False)
    project.write(".gitignore", "reports/\ngate-evidence/\n__pycache__/\n")
    project.configure({"lint": {"format": False, "presets": []}, "secrets": {}})
    outputs = []
    for _ in range(2):  # cold, then warm from the result cache
        result = project.pytester.runpytest(*REPORT_OPTIONS, *LEAN, "--gates-only")
        assert result.ret == 1
        outputs.append(result.stdout.str() + result.stderr.str())
    for rule in ("F821", "F524", "F504"):  # ruff did quote them, so the checks are not vacuous
        assert rule in outputs[0]
    written = _files_written(project.path, exclude={"app/keys.py"})
    assert any(p.name == "lint.json" for p in written)
    for value in (aws.value, token.value, stripe.value):
        for output in outputs:
            assert value not in output
        for path in written:
            assert value.encode() not in path.read_bytes(), f"a secret value in {path}"
