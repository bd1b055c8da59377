"""One cell of a contact list as a clean value: what spreadsheets and people write, read as they meant it."""

from __future__ import annotations

import re

from leadflow_ingest.imports.columns import header_key

YES = frozenset({"ja", "j", "yes", "y", "x", "1", "true", "wahr", "ok", "checked", "optin", "zugestimmt", "einverstanden",
                 "erteilt", "granted", "✓", "✔", "☑"})
NO = frozenset({"nein", "n", "no", "0", "false", "falsch", "optout", "abgelehnt", "declined", "nicht erteilt", "-", "☐"})

COUNTRIES: dict[str, str] = {
    **dict.fromkeys(("deutschland", "germany", "bundesrepublikdeutschland", "brd", "d", "deu", "ger"), "DE"),
    **dict.fromkeys(("oesterreich", "austria", "a", "aut"), "AT"),
    **dict.fromkeys(("schweiz", "switzerland", "suisse", "svizzera", "che"), "CH"),
    **dict.fromkeys(("liechtenstein",), "LI"),
    **dict.fromkeys(("luxemburg", "luxembourg"), "LU"),
    **dict.fromkeys(("niederlande", "netherlands", "holland", "thenetherlands", "nederland"), "NL"),
    **dict.fromkeys(("belgien", "belgium", "belgique", "belgie"), "BE"),
    **dict.fromkeys(("frankreich", "france"), "FR"),
    **dict.fromkeys(("italien", "italy", "italia"), "IT"),
    **dict.fromkeys(("spanien", "spain", "espana"), "ES"),
    **dict.fromkeys(("portugal",), "PT"),
    **dict.fromkeys(("polen", "poland", "polska"), "PL"),
    **dict.fromkeys(("tschechien", "czechia", "czechrepublic", "tschechischerepublik"), "CZ"),
    **dict.fromkeys(("slowakei", "slovakia"), "SK"),
    **dict.fromkeys(("slowenien", "slovenia"), "SI"),
    **dict.fromkeys(("ungarn", "hungary"), "HU"),
    **dict.fromkeys(("kroatien", "croatia"), "HR"),
    **dict.fromkeys(("rumaenien", "romania"), "RO"),
    **dict.fromkeys(("bulgarien", "bulgaria"), "BG"),
    **dict.fromkeys(("griechenland", "greece"), "GR"),
    **dict.fromkeys(("daenemark", "denmark", "danmark"), "DK"),
    **dict.fromkeys(("schweden", "sweden", "sverige"), "SE"),
    **dict.fromkeys(("norwegen", "norway", "norge"), "NO"),
    **dict.fromkeys(("finnland", "finland", "suomi"), "FI"),
    **dict.fromkeys(("estland", "estonia"), "EE"),
    **dict.fromkeys(("lettland", "latvia"), "LV"),
    **dict.fromkeys(("litauen", "lithuania"), "LT"),
    **dict.fromkeys(("irland", "ireland"), "IE"),
    **dict.fromkeys(("grossbritannien", "vereinigteskoenigreich", "unitedkingdom", "uk", "greatbritain", "england",
                     "schottland", "scotland", "wales", "nordirland", "northernireland", "britain"), "GB"),
    **dict.fromkeys(("usa", "vereinigtestaaten", "unitedstates", "unitedstatesofamerica", "amerika", "america"), "US"),
    **dict.fromkeys(("kanada", "canada"), "CA"),
    **dict.fromkeys(("mexiko", "mexico"), "MX"),
    **dict.fromkeys(("brasilien", "brazil", "brasil"), "BR"),
    **dict.fromkeys(("china", "volksrepublikchina", "prchina"), "CN"),
    **dict.fromkeys(("japan",), "JP"),
    **dict.fromkeys(("suedkorea", "southkorea", "korea", "republikkorea"), "KR"),
    **dict.fromkeys(("indien", "india"), "IN"),
    **dict.fromkeys(("singapur", "singapore"), "SG"),
    **dict.fromkeys(("australien", "australia"), "AU"),
    **dict.fromkeys(("neuseeland", "newzealand"), "NZ"),
    **dict.fromkeys(("suedafrika", "southafrica"), "ZA"),
    **dict.fromkeys(("israel",), "IL"),
    **dict.fromkeys(("tuerkei", "turkey", "tuerkiye", "turkiye"), "TR"),
    **dict.fromkeys(("ukraine",), "UA"),
    **dict.fromkeys(("serbien", "serbia"), "RS"),
    **dict.fromkeys(("vereinigtearabischeemirate", "unitedarabemirates", "uae", "vae"), "AE"),
    **dict.fromkeys(("saudiarabien", "saudiarabia"), "SA"),
}

_EXCEL_TEXT = re.compile(r'^="(.*)"$', re.DOTALL)
_ANGLE_ADDRESS = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")
_SIZE_PREFIX = re.compile(r"^(?:ab|über|ueber|mehr als|more than|over|>=|>|≥)\s*")
_SIZE_NUMBER = re.compile(r"\d{1,3}(?:[.,' ]\d{3})+(?!\d)|\d+")
_SIZE_UPPER = re.compile(r"^(?:\+|(?:-|–|—|bis|to|\.\.)\s*\d[\d.,' ]*)\s*")
_SIZE_MORE = re.compile(r"^(?:und mehr|or more|and more)\s*")
_SIZE_UNITS = frozenset({"", "ma", "ma.", "mitarbeiter", "mitarbeitende", "employees", "beschäftigte", "personen", "people"})


def clean(value: str) -> str:
    """Trimmed, without NUL characters and without Excel's ``="..."`` text wrapper (kept leading zeros)."""
    text = value.replace("\x00", "").strip()
    wrapped = _EXCEL_TEXT.match(text)
    return wrapped.group(1).strip() if wrapped else text


def email_candidate(value: str) -> str:
    """``Ada Lovelace <ada@example.com>`` and ``mailto:ada@example.com`` as the bare address."""
    angle = _ANGLE_ADDRESS.search(value)
    if angle:
        return angle.group(1)
    if value[:7].lower() == "mailto:":
        return value[7:].split("?", 1)[0].strip()
    return value


def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 from a code or a German or English country name; None when not recognised."""
    key = header_key(value)
    if key in COUNTRIES:
        return COUNTRIES[key]
    if len(key) == 2 and key.isalpha() and value.strip().isascii():
        return key.upper()
    return None


def company_size(value: str) -> int | None:
    """Employees from ``250``, ``1.000``, ``1,000``, ``50-199`` (lower bound), ``500+``, ``über 1000``; else None."""
    text = _SIZE_PREFIX.sub("", value.strip().lower())
    number = _SIZE_NUMBER.match(text)
    if not number:
        return None
    rest = _SIZE_MORE.sub("", _SIZE_UPPER.sub("", text[number.end():].strip()))
    if rest not in _SIZE_UNITS:
        return None
    size = int(re.sub(r"\D", "", number.group(0)))
    return size if size <= 10_000_000 else None


def consent_answer(value: str) -> bool | None:
    """True for yes (ja, x, 1, true, ...), False for no or empty, None when the answer is not understood."""
    text = value.strip().lower()
    if not text or text in NO:
        return False
    if text in YES or text.replace("-", "").replace(" ", "") in YES:
        return True
    if text.replace("-", "").replace(" ", "") in NO:
        return False
    return None
