"""The one normalisation of e-mail addresses, so a lead is the same lead whichever way it arrived."""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import EMAIL_MAX_LENGTH, LOCAL_PART_MAX_LENGTH

# A dot-atom local part of plain ASCII letters, digits and ``_%+-``: email_validator accepts it as it is.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")


class InvalidEmail(ValueError):
    """Not an address mail could be sent to; the message says why (without repeating the address)."""


def normalise_email(value: str) -> str:
    """Syntax-checked (no DNS lookup), normalised and lower-cased: the lead key of a known lead.

    email_validator decides every rule. For the usual address (a plain local part) only its domain
    goes through it, and the verdict is kept per domain, since a domain recurs far more often than an
    address (every visitor of one company, every freemail user); anything unusual takes the full check.
    """
    local, at, domain = value.rpartition("@")
    if at and len(local) <= LOCAL_PART_MAX_LENGTH and _PLAIN_LOCAL.fullmatch(local):
        checked_domain = _domain(domain)
        if checked_domain is not None:
            address = f"{local}@{checked_domain}"
            if len(address.encode()) <= EMAIL_MAX_LENGTH:
                return address.lower()
    return _full(value)


@lru_cache(maxsize=65_536)  # returning visitors send the same address again and again; failures are not cached
def _full(value: str) -> str:
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return checked.normalized.lower()


@lru_cache(maxsize=65_536)
def _domain(domain: str) -> str | None:
    """The normalised domain, or None when email_validator rejects it (the full check then says why)."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None
