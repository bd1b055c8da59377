"""The one normalisation of e-mail addresses, so a lead is the same lead whichever way it arrived."""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    """Not an address mail could be sent to; the message says why (without repeating the address)."""


@lru_cache(maxsize=65_536)  # returning visitors send the same address again and again; failures are not cached
def normalise_email(value: str) -> str:
    """Syntax-checked (no DNS lookup), normalised and lower-cased: the lead key of a known lead."""
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return checked.normalized.lower()
