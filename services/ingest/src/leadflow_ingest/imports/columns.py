"""What each column of an import means: an explicit mapping first, then the German and English names below.

Names are compared without case, spaces, punctuation and umlaut spelling (``E-Mail-Adresse``,
``e-mail address``, ``EMAIL`` and ``Email Adresse`` are one name; ``Straße`` and ``Strasse``
too). A column nobody recognises is kept as a property of the touchpoint under a tidied name.

Targets: ``email``, ``profile.<field>``, ``name`` (a full name, split into first and last
name), ``consent.<purpose>`` (yes/no answers), ``properties.<name>`` and ``ignore``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadflow_ingest.sources import PROFILE_FIELDS

RESERVED_PROPERTIES = ("event", "event_date", "import_id", "consents")
FALLBACK_PROPERTIES = ("country", "company_size", "full_name")  # values that did not fit the profile
MAX_PROPERTY_COLUMNS = 50 - len(RESERVED_PROPERTIES) - len(FALLBACK_PROPERTIES)  # a touchpoint holds at most 50
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_LOOKS_LIKE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "à": "a", "ç": "c"})


def _aliases(target: str, *names: str) -> dict[str, str]:
    return {name: target for name in names}


HEADER_ALIASES: dict[str, str] = {
    **_aliases("email", "email", "emailadresse", "emailaddress", "emailaddresse", "mail", "mailadresse", "email1",
               "emailaddress1", "emailadresse1", "businessemail", "workemail", "geschaeftlicheemail",
               "geschaeftlicheemailadresse", "emailgeschaeftlich", "emaildienstlich", "dienstlicheemail", "kontaktemail",
               "contactemail"),
    **_aliases("profile.first_name", "vorname", "firstname", "givenname", "first", "forename", "rufname"),
    **_aliases("profile.last_name", "nachname", "lastname", "surname", "familyname", "familienname", "last", "zuname"),
    **_aliases("name", "name", "fullname", "vollstaendigername", "kontaktname", "contactname", "ansprechpartner",
               "ansprechpartnerin", "teilnehmer", "teilnehmername", "attendee", "attendeename", "besucher", "besuchername"),
    **_aliases("profile.company", "firma", "unternehmen", "company", "companyname", "firmenname", "unternehmensname",
               "organisation", "organization", "organisationsname", "organizationname", "account", "accountname",
               "arbeitgeber", "employer", "institution"),
    **_aliases("profile.job_title", "position", "jobtitle", "jobtitel", "titel", "title", "funktion", "rolle", "role",
               "berufsbezeichnung", "stellenbezeichnung", "beruf", "job"),
    **_aliases("profile.company_size", "mitarbeiter", "mitarbeiterzahl", "anzahlmitarbeiter", "mitarbeiteranzahl",
               "unternehmensgroesse", "firmengroesse", "companysize", "employees", "numberofemployees", "employeecount",
               "headcount", "beschaeftigte"),
    **_aliases("profile.industry", "branche", "industry", "sector", "sektor", "industrie", "wirtschaftszweig"),
    **_aliases("profile.country", "land", "country", "staat", "countrycode", "laendercode", "laenderkennzeichen",
               "landkennzeichen", "nation"),
    **_aliases("profile.phone", "telefon", "telefonnummer", "tel", "telnr", "phone", "phonenumber", "telephone",
               "telephonenumber", "mobil", "mobile", "mobilephone", "mobiltelefon", "mobilnummer", "handy", "handynummer",
               "durchwahl", "telefongeschaeftlich", "businessphone", "workphone", "rufnummer"),
    **_aliases("properties.city", "stadt", "city", "ort", "town", "wohnort"),
    **_aliases("properties.postal_code", "plz", "postleitzahl", "zip", "zipcode", "postalcode", "postcode"),
    **_aliases("properties.street", "strasse", "street", "address", "adresse", "anschrift", "streetaddress",
               "strasseundhausnummer", "strassehausnummer"),
    **_aliases("properties.state", "bundesland", "state", "region", "kanton", "province"),
    **_aliases("properties.website", "website", "webseite", "homepage", "url", "web", "internetseite", "internet"),
    **_aliases("properties.salutation", "anrede", "salutation"),
    **_aliases("properties.academic_title", "akademischertitel", "academictitle"),
    **_aliases("properties.department", "abteilung", "department", "bereich"),
    **_aliases("properties.notes", "notiz", "notizen", "bemerkung", "bemerkungen", "kommentar", "kommentare", "anmerkung",
               "anmerkungen", "notes", "note", "comment", "comments", "remarks", "gespraechsnotiz", "gespraechsnotizen"),
    **_aliases("properties.interest", "interesse", "interessen", "produktinteresse", "interest", "interests",
               "productinterest", "thema", "themen", "topic", "topics"),
    **_aliases("properties.language", "sprache", "language", "korrespondenzsprache"),
    **_aliases("properties.linkedin", "linkedin", "linkedinprofil", "linkedinprofile", "linkedinurl"),
    **_aliases("properties.scanned_at", "scanzeit", "scanzeitpunkt", "erfasstam", "scannedat", "scantime", "zeitpunkt",
               "timestamp", "datum", "date"),
    **_aliases("properties.booth", "stand", "messestand", "booth"),
    **_aliases("consent.newsletter", "einwilligungnewsletter", "newslettereinwilligung", "newsletterconsent",
               "newsletteroptin", "optinnewsletter", "newsletter", "newsletterabonnieren", "newsletterjanein",
               "newslettergewuenscht", "consentnewsletter", "newsletterzustimmung", "zustimmungnewsletter"),
    **_aliases("consent.sales_contact", "einwilligungkontaktaufnahme", "einwilligungkontakt", "kontaktaufnahmeerwuenscht",
               "kontakterwuenscht", "kontakterlaubt", "rueckrufgewuenscht", "contactconsent", "salescontactconsent",
               "oktocontact", "consenttocontact", "zustimmungkontaktaufnahme"),
    **_aliases("consent.marketing", "einwilligung", "consent", "optin", "marketingconsent", "einwilligungmarketing",
               "werbeeinwilligung", "marketingeinwilligung", "einwilligungwerbung"),
}


class MappingProblem(ValueError):
    """The columns cannot become touchpoints (no e-mail column, a mapping that names no column)."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


@dataclass(frozen=True)
class Column:
    index: int
    name: str
    """The header as written in the file."""
    target: str
    by: str
    """How the target was chosen: ``mapping`` (given), ``name`` (recognised) or ``unrecognised`` (kept as property)."""

    @property
    def label(self) -> str:
        return self.name.strip() or f"column {self.index + 1}"


@dataclass(frozen=True)
class Columns:
    columns: tuple[Column, ...]

    @property
    def email(self) -> Column:
        return next(c for c in self.columns if c.target == "email")

    def as_list(self) -> list[dict[str, str]]:
        return [{"column": c.label, "maps_to": c.target, "by": c.by} for c in self.columns]


def header_key(name: str) -> str:
    """The comparable form of a column name: ``E-Mail-Adresse`` -> ``emailadresse``."""
    folded = unicodedata.normalize("NFKC", name).strip().lower().translate(_TRANSLITERATE)
    return re.sub(r"[^a-z0-9]+", "", folded)


def property_name(name: str) -> str:
    """A property name from a column name: ``Messe-Stand Nr.`` -> ``messe_stand_nr``."""
    folded = unicodedata.normalize("NFKC", name).strip().lower().translate(_TRANSLITERATE)
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")[:64]


def check_target(target: str) -> str:
    """A target as written in a mapping, in its canonical form; ``first_name`` is short for ``profile.first_name``."""
    value = target.strip()
    if value in ("email", "name", "ignore"):
        return value
    if value in PROFILE_FIELDS:
        return f"profile.{value}"
    head, _, tail = value.partition(".")
    if head == "profile" and tail in PROFILE_FIELDS:
        return value
    if head in ("properties", "consent") and _NAME.match(tail):
        if head == "properties" and tail in RESERVED_PROPERTIES:
            raise ValueError(f"`{tail}` is set by the import itself (the event's name and date, the consents)")
        return value
    raise ValueError(
        f"unknown target {target[:80]!r}: use email, name, ignore, {', '.join(PROFILE_FIELDS)} (or profile.<field>), "
        "consent.<purpose> or properties.<name>"
    )


def check_mapping(mapping: Mapping[str, Any]) -> dict[str, str]:
    """Column name -> canonical target; every error names its column."""
    checked, errors = {}, []
    for column, target in mapping.items():
        if not isinstance(target, str):
            errors.append({"in": "body", "field": f"mapping.{column}", "message": "the target must be a string"})
            continue
        try:
            checked[column] = check_target(target)
        except ValueError as exc:
            errors.append({"in": "body", "field": f"mapping.{column}", "message": str(exc)})
    if errors:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        raise MappingProblem(f"The column mapping is invalid: {summary}.", errors)
    return checked


def resolve_columns(header: Sequence[str], mapping: Mapping[str, str] | None = None,
                    sample: Sequence[Sequence[str]] = ()) -> Columns:
    """What each column of ``header`` means. ``mapping`` is checked (``check_mapping``) and wins over names.

    ``sample`` (the first rows) only helps to name the likely e-mail column when none is recognised.
    """
    given = _match_mapping(header, check_mapping(mapping or {}))
    chosen: list[tuple[str, str]] = []
    for index, name in enumerate(header):
        if index in given:
            chosen.append((given[index], "mapping"))
        elif not name.strip():
            chosen.append(("ignore", "unrecognised"))
        elif (alias := HEADER_ALIASES.get(header_key(name))) is not None:
            chosen.append((alias, "name"))
        else:
            chosen.append((f"properties.{property_name(name) or f'column_{index + 1}'}", "unrecognised"))
    chosen = _one_email(header, chosen, sample)
    chosen = _name_beside_first_name(chosen)
    columns = _distinct_properties(header, chosen)
    return Columns(tuple(columns))


def _match_mapping(header: Sequence[str], mapping: Mapping[str, str]) -> dict[int, str]:
    by_name = {name: i for i, name in reversed(list(enumerate(header)))}
    by_key = {header_key(name): i for i, name in reversed(list(enumerate(header))) if name.strip()}
    matched, unknown = {}, []
    for column, target in mapping.items():
        index = by_name.get(column, by_key.get(header_key(column)))
        if index is None:
            unknown.append(column)
        else:
            matched[index] = target
    if unknown:
        names = ", ".join(f"`{n}`" for n in header if n.strip())
        raise MappingProblem(
            f"The mapping names {', '.join(f'`{u}`' for u in unknown)}, but the file has no such column. Its columns: {names}.",
            [{"in": "body", "field": f"mapping.{u}", "message": "no such column in the file"} for u in unknown],
        )
    emails = [i for i, t in matched.items() if t == "email"]
    if len(emails) > 1:
        raise MappingProblem(
            "The mapping makes more than one column the e-mail address: "
            + ", ".join(f"`{header[i]}`" for i in sorted(emails)) + ". Map one of them to `email`.",
            [{"in": "body", "field": "mapping", "message": "more than one column maps to email"}],
        )
    return matched


def _one_email(header: Sequence[str], chosen: list[tuple[str, str]],
               sample: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    emails = [i for i, (t, _) in enumerate(chosen) if t == "email"]
    if not emails:
        raise MappingProblem(_no_email_column(header, sample),
                             [{"in": "body", "field": "file", "message": "no e-mail column"}])
    keep = next((i for i in emails if chosen[i][1] == "mapping"), emails[0])
    return [
        (f"properties.{property_name(header[i]) or 'email_' + str(i + 1)}", "unrecognised") if i in emails and i != keep
        else chosen[i]
        for i in range(len(chosen))
    ]


def _no_email_column(header: Sequence[str], sample: Sequence[Sequence[str]]) -> str:
    names = [n.strip() for n in header if n.strip()]
    if any(_LOOKS_LIKE_EMAIL.fullmatch(n) for n in names):
        return ("The first line holds an e-mail address, so it is a contact, not column names. Add a header line "
                "such as `E-Mail;Vorname;Nachname;Firma` (or `Email,First name,Last name,Company`) and upload again.")
    listed = ", ".join(f"`{n}`" for n in names[:30]) or "none"
    holding = [sum(1 for row in sample if i < len(row) and _LOOKS_LIKE_EMAIL.fullmatch(row[i].strip()))
               for i in range(len(header))]
    best = max(range(len(header)), key=lambda i: holding[i], default=None)
    if best is not None and holding[best] and header[best].strip():
        example = header[best].strip()
    else:
        example = next((n for n in names if "mail" in n.lower()), names[0] if names else "Kontakt")
    return (
        f"No column holds the e-mail address: none of the columns ({listed}) is named like one (E-Mail, Email, "
        f"E-Mail-Adresse, email address). Name it in the mapping, e.g. {{\"{example}\": \"email\"}} "
        f"(command line: --mapping '{example}=email'), or rename the column."
    )


def _name_beside_first_name(chosen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """German lists say ``Name`` for the surname when a ``Vorname`` column stands beside it."""
    targets = {t for t, _ in chosen}
    if "profile.first_name" in targets and "profile.last_name" not in targets:
        return [("profile.last_name", by) if (t, by) == ("name", "name") else (t, by) for t, by in chosen]
    return chosen


def _distinct_properties(header: Sequence[str], chosen: list[tuple[str, str]]) -> list[Column]:
    """Two columns never write the same property (the second gets a suffix); reserved names and the budget hold."""
    seen: set[str] = set()
    columns, kept = [], 0
    for index, (target, by) in enumerate(chosen):
        if target.startswith("properties."):
            name = target.removeprefix("properties.")
            if name in RESERVED_PROPERTIES:
                name = f"csv_{name}"
            base, n = name, 2
            while name in seen:
                name, n = f"{base[:60]}_{n}", n + 1
            seen.add(name)
            kept += 1
            target = f"properties.{name}" if kept <= MAX_PROPERTY_COLUMNS else "ignore"
        columns.append(Column(index, header[index], target, by))
    return columns
