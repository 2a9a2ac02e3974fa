"""What an output may repeat of what the project holds: URL credentials and source text."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from secrets_support import ALNUM, UPPER_DIGITS, Secrets

from pytest_platformgates import redaction
from pytest_platformgates.evidence import dsse
from pytest_platformgates.evidence.session import redact

BASE32 = string.ascii_uppercase + "234567"


# Built from pieces: this repository gates itself, and a URL with a password in a source
# line is what the secrets gate reports.
AT = "@"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"https://user:token{AT}host/x", "https://***@host/x"),
        # pip and urllib split the user information at the last "@": so does the mask.
        (f"https://ci:At{AT}SignPw44{AT}files.example/x", "https://***@files.example/x"),
        (f"--index-url=https://u:p{AT}a{AT}b{AT}idx/simple", "--index-url=https://***@idx/simple"),
        ("git+ssh://git@github.com/acme/x.git", "git+ssh://***@github.com/acme/x.git"),
        ("https://host/path?next=a@b", "https://host/path?next=a@b"),  # no user information
        (
            f"see https://a:b{AT}one/ and http://c:d{AT}two/",
            "see https://***@one/ and http://***@two/",
        ),
        ("no url at all: a@b", "no url at all: a@b"),
    ],
)
def test_url_credentials_are_masked_up_to_the_last_at_before_the_host(text, shown):
    assert redaction.url_credentials(text) == shown
    assert redact(text) == shown  # the command line recorded in the statement


def test_scrub_also_masks_a_url_password_a_tool_quotes_without_its_scheme():
    hidden = "Xk9mQ2" + "pL7vR4"
    url = f"https://osv:{hidden}{AT}mirror.example/v1/query"
    text = f"https://osv:{hidden}{AT}mirror.example/v1/vulns/X: nonnumeric port: '{hidden}{AT}m'"
    assert hidden not in redaction.scrub(text, url)


@pytest.mark.parametrize(
    "message",
    [
        "Undefined name `{}`",
        "`.format` call is missing argument(s) for placeholder(s): {}",
        "`%`-format string has unused named argument(s): user, {}",
        "`{}` is not a valid mode for `open`",
        'Probable insecure usage of temporary file or directory: "{}"',
        "unknown variant `{}`, expected one of `code`, `markdown`, `raw`",
    ],
)
def test_planted_secrets_never_survive_in_a_tools_message(message):
    s = Secrets(seed=5)
    for planted in (s.aws_key(), s.github_token(), s.stripe_key(), s.jwt(), s.hex_string()):
        shown = redaction.source_text(message.format(planted.value))
        assert planted.value not in shown
        assert redaction.MASK in shown


@given(st.text(BASE32, min_size=16, max_size=16))
def test_every_aws_key_id_is_masked(tail):
    assert redaction.credential_like("AKIA" + tail)


@given(st.text(ALNUM, min_size=36, max_size=36))
def test_a_github_token_with_the_digits_of_a_random_one_is_masked(tail):
    # detect-secrets' GitHub tokens are 36 random base62 characters: at least two digits
    # in all but one in a hundred million. Any such token is masked, whatever else it holds.
    digits = sum(c.isdigit() for c in tail)
    if digits >= 2:
        assert redaction.credential_like("ghp_" + tail)


@given(st.text(UPPER_DIGITS, min_size=16, max_size=40))
def test_upper_case_keys_are_masked(token):
    assert redaction.credential_like(token)


@pytest.mark.parametrize(
    "name",
    [
        "os",
        "collections.abc.Mapping",
        "test_parse_rfc3339_dates",
        "SQLALCHEMY_DATABASE_URI",
        "HTTPServerRequestHandlerFactory",
        "DjangoTestSuiteRunnerForPostgreSQLBackends",
        "assertRaisesRegexpWithMessage",
        "1234567890",
    ],
)
def test_ordinary_names_in_messages_stay_readable(name):
    message = f"`{name}` imported but unused"
    assert redaction.source_text(message) == message


def test_string_literals_are_masked_whatever_their_prefix():
    for literal in ("'x'", '"x"', "b'x'", "rb'x'", "f'x'", "t'x'"):
        assert redaction.source_text(f"Probable hardcoded {literal} here") == (
            f"Probable hardcoded {literal.replace('x', redaction.MASK)} here"
        )
    assert redaction.source_text("doesn't matter") == "doesn't matter"


def test_masked_masks_every_string_in_nested_configuration():
    data = {"gates": {"deps": {"osv_url": "https://u:p@mirror/v1/query", "n": 3}}, "x": ["a"]}
    assert redaction.masked(data) == {
        "gates": {"deps": {"osv_url": "https://***@mirror/v1/query", "n": 3}},
        "x": ["a"],
    }


def _pem(tmp_path):
    from evidence_support import keypair

    private, _public = keypair(tmp_path)
    return private.read_text()


@pytest.mark.parametrize(
    "form",
    [
        lambda pem: pem,
        lambda pem: pem.replace("\n", "\\n"),  # one line, newlines escaped
        lambda pem: f'"{pem}"',  # quoted, as .env files and docker --env-file keep it
        lambda pem: base64.b64encode(pem.encode()).decode(),  # GitLab masked variables
    ],
    ids=["pem", "escaped", "quoted", "base64"],
)
def test_a_key_variable_may_hold_the_key_in_the_forms_ci_systems_keep(tmp_path, form):
    pem = _pem(tmp_path)
    signer = dsse.signer_from_setting("env:KEY", tmp_path, {"KEY": form(pem)})
    assert signer is not None


@pytest.mark.parametrize(
    "value",
    [
        "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t!!!",  # base64 of a PEM, damaged
        "MC4CAQAwBQYDK2Vw" + "BCIEIKY0planted0key0body",  # the key's body, no armour
        "/nowhere/key.pem",
    ],
)
def test_a_key_variable_that_is_unusable_is_never_repeated(tmp_path, value):
    with pytest.raises(dsse.SigningKeyError) as info:
        dsse.signer_from_setting("env:KEY", tmp_path, {"KEY": value})
    assert value not in str(info.value)
    assert "KEY" in str(info.value)
