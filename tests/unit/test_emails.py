"""The per-domain shortcut of e-mail normalisation agrees with email_validator's full check on every address."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow_ingest.emails import InvalidEmail, _full, normalise_email

LOCAL = st.text(alphabet="abcXYZ019._%+-!#~'\"() ", min_size=0, max_size=70)
DOMAIN = st.one_of(
    st.sampled_from([
        "example.com", "Example.COM", "firma.de", "mail.co.uk", "localhost", "test", "x.local", "invalid", "a..b.com",
        "-bad.com", "bad-.com", "123.456", "xn--mnchen-3ya.de", "münchen.de", "[1.2.3.4]", "ex ample.com", "",
        "a" * 64 + ".com", ".".join(["abcdefghij" * 6] * 5) + ".com", "exa_mple.com", "example.com.",
    ]),
    st.text(alphabet="abc-.09ü", min_size=0, max_size=20),
)


def full_or_error(address: str) -> str:
    try:
        return _full(address)
    except InvalidEmail as exc:
        return f"error: {exc}"


def shortcut_or_error(address: str) -> str:
    try:
        return normalise_email(address)
    except InvalidEmail as exc:
        return f"error: {exc}"


@settings(max_examples=3000, deadline=None)
@given(LOCAL, DOMAIN)
def test_the_shortcut_answers_as_the_full_check(local, domain):
    address = f"{local}@{domain}"
    assert shortcut_or_error(address) == full_or_error(address)


@pytest.mark.parametrize("address", [
    "Ada.Lovelace@Example.COM", "x" * 64 + "@example.com", "x" * 65 + "@example.com", "a@" + "b" * 250 + ".com",
    "plain", "@example.com", "a@b@example.com", "first.last+tag@mail.co.uk", ".dot@example.com", "dot.@example.com",
    "two..dots@example.com", "ü@example.com", "a@münchen.de", "user@localhost", "user@x.local", '"quoted"@example.com',
])
def test_known_cases(address):
    assert shortcut_or_error(address) == full_or_error(address)


def test_lower_cased_lead_key():
    assert normalise_email("Ada.Lovelace@Example.COM") == "ada.lovelace@example.com"
    with pytest.raises(InvalidEmail, match="special-use|not valid|reserved"):
        normalise_email("ada@localhost")
