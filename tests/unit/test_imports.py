"""Contact-list imports, the pure part: decoding, separators, column names, cell values, row checks, merging,
the touchpoints they become. The fixtures are real exports (tests/fixtures/imports/)."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow_events import TouchpointType
from leadflow_ingest.imports.columns import MAX_PROPERTY_COLUMNS, MappingProblem, check_target, resolve_columns
from leadflow_ingest.imports.contacts import CheckedRows, Contact, ContactAssembly, RowCheck, assemble
from leadflow_ingest.imports.decoding import UnreadableFile, decode, detect_separator
from leadflow_ingest.imports.table import header_and_rows
from leadflow_ingest.imports.touchpoints import ImportedEvent, touchpoint_of
from leadflow_ingest.imports.upload import PreparedList, import_key, prepare
from leadflow_ingest.imports.values import company_size, consent_answer, country_code
from leadflow_ingest.publish import imported_event_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
GERMAN = (FIXTURES / "hannover-messe-2026-excel.csv").read_bytes()
ENGLISH = (FIXTURES / "web-summit-2026-utf8.csv").read_bytes()
BROKEN = (FIXTURES / "broken-rows.csv").read_bytes()


def read(raw: bytes, mapping: dict[str, str] | None = None) -> tuple[PreparedList, CheckedRows, list[Contact]]:
    prepared = prepare(raw, mapping)
    check = prepared.row_check()
    _, rows = header_and_rows(prepared.file)
    check.add_all(rows)
    checked = check.result()
    _, rows = header_and_rows(prepared.file)
    return prepared, checked, assemble(prepared.columns, checked, rows)


def by_email(contacts: list[Contact]) -> dict[str, Contact]:
    return {c.email: c for c in contacts}


# --- real exports ----------------------------------------------------------------------------------

def test_german_excel_export_in_windows_1252_with_semicolons():
    prepared, checked, contacts = read(GERMAN)
    assert prepared.file.encoding == "windows-1252" and prepared.file.separator == ";"
    assert checked.counts.as_dict() == {"rows": 7, "accepted": 6, "rejected": 0, "merged": 1, "blank": 1, "warnings": 0,
                                        "touchpoints": 5}
    people = by_email(contacts)
    juergen = people["juergen.mueller@mueller-soehne.example"]
    assert dict(juergen.profile) == {
        "first_name": "Jürgen", "last_name": "Müller", "company": "Müller & Söhne GmbH", "job_title": "Geschäftsführer",
        "phone": "0049 511 123456", "country": "DE", "company_size": 250,  # Excel's ="..." wrapper is gone
    }
    assert juergen.properties["street"] == "Hauptstraße 5" and juergen.properties["city"] == "Hannover"
    assert juergen.consents == ("newsletter",)
    assert people["anja@baeckerei-koehler.example"].consents == ()  # "nein"
    assert people["lukas.oe@alpen-mb.example"].profile["company_size"] == 50  # "50-199": the lower bound
    assert people["lukas.oe@alpen-mb.example"].profile["country"] == "AT"
    assert people["zoe.braendli@uhren-braendli.example"].profile["first_name"] == "Zoë"


def test_rows_of_the_same_person_are_merged_later_values_winning_and_the_report_names_the_lines():
    _, checked, contacts = read(GERMAN)
    bjoern = by_email(contacts)["b.schaefer@grosshandel-weiss.example"]  # "B.Schaefer@Grosshandel-Weiss.example" on line 7
    assert bjoern.lines == (3, 7)
    assert bjoern.profile["job_title"] == "Leiter Einkauf und Logistik"  # the later scan says more
    assert bjoern.profile["phone"] == "+49 40 998877"  # only the first scan had it
    assert bjoern.profile["company_size"] == 1200  # "1.200"
    assert bjoern.properties["notes"] == "Zweiter Scan am Stand B12"
    assert bjoern.consents == ("newsletter",)  # "x" on the first scan; the empty cell later does not take it back
    assert [(i.line, i.outcome, i.merged_into) for i in checked.report] == [(7, "merged", 3)]
    assert "line 3" in checked.report[0].reason


def test_english_utf8_export_with_bom_quotes_and_line_breaks():
    prepared, checked, contacts = read(ENGLISH)
    assert prepared.file.encoding == "utf-8" and prepared.file.separator == ","
    assert prepared.columns.as_list()[0] == {"column": "Email address", "maps_to": "email", "by": "name"}  # BOM gone
    assert checked.counts.touchpoints == 4 and checked.counts.rejected == 0
    people = by_email(contacts)
    ada = people["ada.lovelace@analytical-engines.example"]
    assert ada.profile["company"] == "Analytical Engines, Ltd." and ada.profile["country"] == "GB"
    assert ada.properties["notes"] == "Asked about the API.\r\nWants a follow-up call."
    assert ada.lines == (2,) and people["grace@navy-systems.example"].lines == (4,)  # Ada's row spans lines 2-3
    assert ada.consents == ("newsletter",) and people["grace@navy-systems.example"].consents == ()
    assert people["margaret@apollo-software.example"].consents == ("newsletter",)  # "true"


def test_broken_rows_are_reported_with_line_column_and_reason_and_never_stop_the_rest():
    _, checked, contacts = read(BROKEN)
    assert checked.counts.as_dict() == {"rows": 11, "accepted": 5, "rejected": 5, "merged": 1, "blank": 1, "warnings": 0,
                                        "touchpoints": 4}
    rejected = {i.line: (i.field, i.reason) for i in checked.report if i.outcome == "rejected"}
    assert rejected[3] == ("E-Mail", "missing e-mail address")
    assert rejected[4][0] == "E-Mail" and rejected[4][1].startswith("not a valid e-mail address")
    assert rejected[6][0] is None and "9 values but the header has 7 columns" in rejected[6][1]
    assert rejected[10][0] == "E-Mail"
    assert rejected[12][0] is None and "quote" in rejected[12][1]  # the unclosed quote swallowed line 13
    assert sorted(by_email(contacts)) == [f"ok.{n}@valid-company.example" for n in ("four", "one", "three", "two")]


def test_warnings_keep_what_does_not_fit_as_properties():
    prepared, checked, _ = read(BROKEN)
    assembly = ContactAssembly(prepared.columns, checked)
    _, rows = header_and_rows(prepared.file)
    otto = next(c for i, r in enumerate(rows) if (c := assembly.add(i, r)) and c.email.startswith("ok.two"))
    assert dict(otto.properties) == {"country": "Atlantis", "company_size": "viele"}
    assert otto.consents == ()  # "vielleicht" is no consent
    assert assembly.counts().warnings == 3
    report, truncated = assembly.report()
    assert [(i.line, i.outcome, i.field) for i in report if i.line == 5] == [
        (5, "warning", "Land"), (5, "warning", "Mitarbeiter"), (5, "warning", "Einwilligung Newsletter")]
    assert [i.line for i in report] == sorted(i.line for i in report) and not truncated


def test_the_report_names_lines_and_columns_but_never_the_values():
    _, checked, _ = read(BROKEN)
    text = " ".join(f"{i.field} {i.reason}" for i in checked.report)
    for value in ("ada(at)example.com", "not-an-address", "Kein", "Nora", "unclosed@valid-company.example"):
        assert value not in text


# --- decoding and separators -------------------------------------------------------------------

def test_utf8_is_tried_strictly_before_windows_1252():
    text = "E-Mail;Firma\nj@x.example;Müller\n"
    assert decode(text.encode("utf-8")).encoding == "utf-8"
    assert decode(text.encode("cp1252")).encoding == "windows-1252"
    assert decode(codecs.BOM_UTF8 + text.encode("utf-8")).text.startswith("E-Mail")
    utf16 = decode(text.encode("utf-16"))  # Excel's "Unicode text": BOM + UTF-16
    assert utf16.encoding == "utf-16" and "Müller" in utf16.text


@pytest.mark.parametrize(("raw", "words"), [
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel workbook"),
    (b"%PDF-1.7\n", "PDF"),
    (b"E\x00-\x00M\x00a\x00i\x00l\x00", "NUL"),
    (b"", "empty"),
    (b"   \r\n\r\n", "empty"),
    (b"E-Mail\n\x81\x8d\x8f\x90\x9d\xc3", "neither UTF-8 nor Windows-1252"),
    (codecs.BOM_UTF8 + b"E-Mail\n\xff\xfe", "not valid UTF-8"),
])
def test_files_that_are_not_csv_get_a_message_a_person_can_act_on(raw, words):
    with pytest.raises(UnreadableFile, match=words) as exc:
        decode(raw)
    assert "CSV" in str(exc.value) or "empty" in str(exc.value)


@pytest.mark.parametrize(("text", "separator"), [
    ("E-Mail;Name;Firma\na@x.example;Müller, Hans;X GmbH\nb@x.example;Meier, Eva;Y AG\n", ";"),
    ('Email,Name,Company\na@x.example,"Smith; John","Acme, Inc."\nb@x.example,"Doe; Jane",Beta\n', ","),
    ("Email\tName\tCompany\na@x.example\tJohn, Jr.\tAcme\n", "\t"),
    ("Email|Name\na@x.example|John\n", "|"),
    ("Email\na@x.example\n", ","),  # one column: nothing to separate
])
def test_the_separator_is_the_one_that_splits_every_line_alike(text, separator):
    assert detect_separator(text) == separator


def test_excel_sep_line_names_the_separator_and_lines_still_count_from_the_top():
    prepared, checked, contacts = read(b"sep=,\r\nE-Mail,Firma\r\n,Nobody\r\nx@y.example,Acme\r\n")
    assert prepared.file.separator == "," and prepared.header.line == 2
    assert checked.report[0].line == 3 and contacts[0].lines == (4,)


# --- columns ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "target"), [
    ("E-Mail", "email"), ("Email", "email"), ("e-mail address", "email"), ("E-Mail-Adresse", "email"),
    (" EMAIL ", "email"), ("Geschäftliche E-Mail", "email"),
    ("Vorname", "profile.first_name"), ("First name", "profile.first_name"), ("FIRSTNAME", "profile.first_name"),
    ("Nachname", "profile.last_name"), ("Last Name", "profile.last_name"),
    ("Firma", "profile.company"), ("Unternehmen", "profile.company"), ("Company", "profile.company"),
    ("Position", "profile.job_title"), ("Job title", "profile.job_title"), ("Titel", "profile.job_title"),
    ("Land", "profile.country"), ("Country", "profile.country"),
    ("Telefon", "profile.phone"), ("Phone", "profile.phone"), ("Mobil", "profile.phone"),
    ("Stadt", "properties.city"), ("City", "properties.city"), ("Straße", "properties.street"), ("Strasse", "properties.street"),
    ("PLZ", "properties.postal_code"), ("Branche", "profile.industry"), ("Mitarbeiter", "profile.company_size"),
    ("Einwilligung Newsletter", "consent.newsletter"), ("Newsletter consent", "consent.newsletter"),
    ("Newsletter-Einwilligung", "consent.newsletter"), ("Einwilligung Kontaktaufnahme", "consent.sales_contact"),
    ("Messe-Stand Nr.", "properties.messe_stand_nr"), ("Event", "properties.csv_event"),
])
def test_german_and_english_column_names_whatever_their_case_spaces_and_dashes(header, target):
    columns = resolve_columns([header, "email"] if target != "email" else [header])
    assert columns.columns[0].target == target


def test_name_means_the_surname_beside_a_first_name_column_and_is_split_otherwise():
    beside = resolve_columns(["Name", "Vorname", "E-Mail"])
    assert beside.columns[0].target == "profile.last_name"
    _, _, contacts = read(b"Name;E-Mail\nAda Lovelace;a@x.example\n\"Hopper, Grace\";g@x.example\n")
    assert [dict(c.profile) for c in contacts] == [
        {"first_name": "Ada", "last_name": "Lovelace"}, {"first_name": "Grace", "last_name": "Hopper"}]


def test_an_explicit_mapping_wins_and_accepts_short_targets():
    columns = resolve_columns(["Kontakt", "Mail", "Stand", "Intern"],
                              {"kontakt": "email", "Mail": "properties.mail_note", "Stand": "company", "Intern": "ignore"})
    assert [(c.target, c.by) for c in columns.columns] == [
        ("email", "mapping"), ("properties.mail_note", "mapping"), ("profile.company", "mapping"), ("ignore", "mapping")]


def test_without_an_email_column_the_message_lists_the_columns_and_shows_the_mapping_to_give():
    with pytest.raises(MappingProblem) as exc:
        resolve_columns(["Vorname", "Nachname", "Kontakt-Mail"])
    detail = exc.value.detail
    assert "`Vorname`, `Nachname`, `Kontakt-Mail`" in detail
    assert '{"Kontakt-Mail": "email"}' in detail and "--mapping 'Kontakt-Mail=email'" in detail


def test_a_first_line_of_data_is_recognised_as_a_missing_header():
    with pytest.raises(MappingProblem, match="header line"):
        resolve_columns(["ada@example.com", "Ada", "Lovelace"])


def test_mapping_errors_name_the_column():
    with pytest.raises(MappingProblem, match="no such column") as exc:
        resolve_columns(["E-Mail"], {"Stand": "properties.booth"})
    assert "`E-Mail`" in exc.value.detail and exc.value.errors[0]["field"] == "mapping.Stand"
    with pytest.raises(MappingProblem, match="unknown target 'emial'"):
        resolve_columns(["E-Mail"], {"E-Mail": "emial"})
    with pytest.raises(MappingProblem, match="more than one column"):
        resolve_columns(["A", "B"], {"A": "email", "B": "email"})
    with pytest.raises(ValueError, match="set by the import"):
        check_target("properties.event_date")


def test_a_second_email_column_and_clashing_property_names_stay_apart():
    columns = resolve_columns(["E-Mail", "Email", "Notiz", "Notizen", "notiz"])
    assert [c.target for c in columns.columns] == [
        "email", "properties.email", "properties.notes", "properties.notes_2", "properties.notes_3"]


def test_at_most_fifty_properties_per_touchpoint():
    columns = resolve_columns(["E-Mail"] + [f"Feld {i}" for i in range(60)])
    kept = [c for c in columns.columns if c.target.startswith("properties.")]
    assert len(kept) == MAX_PROPERTY_COLUMNS and columns.columns[-1].target == "ignore"


# --- cell values ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    ("Deutschland", "DE"), ("germany", "DE"), ("DE", "DE"), ("de", "DE"), ("D", "DE"), ("Österreich", "AT"),
    ("Schweiz", "CH"), ("United Kingdom", "GB"), ("UK", "GB"), ("USA", "US"), ("Vereinigte Staaten", "US"),
    ("Atlantis", None), ("", None),
])
def test_country_names_in_german_and_english_become_iso_codes(text, code):
    assert country_code(text) == code


@pytest.mark.parametrize(("text", "size"), [
    ("250", 250), ("1.000", 1000), ("1,000", 1000), ("10 000", 10000), ("50-199", 50), ("50 – 199", 50), ("500+", 500),
    ("über 1000", 1000), ("1000 Mitarbeiter", 1000), ("viele", None), ("1,5", None), ("", None),
])
def test_company_sizes_as_people_write_them(text, size):
    assert company_size(text) == size


@pytest.mark.parametrize(("text", "answer"), [
    ("ja", True), ("Ja", True), ("x", True), ("X", True), ("1", True), ("yes", True), ("true", True), ("Opt-in", True),
    ("nein", False), ("no", False), ("0", False), ("", False), ("false", False), ("vielleicht", None),
])
def test_consent_answers(text, answer):
    assert consent_answer(text) == answer


def test_addresses_in_angle_brackets_and_mailto_links_are_read():
    _, _, contacts = read(b"E-Mail\nAda Lovelace <Ada@Example.com>\nmailto:grace@example.com\n")
    assert [c.email for c in contacts] == ["ada@example.com", "grace@example.com"]


def test_too_long_values_are_left_out_with_a_warning():
    prepared, checked, _ = read(f"E-Mail;Firma;Notiz\na@x.example;{'F' * 300};{'n' * 3000}\n".encode())
    assembly = ContactAssembly(prepared.columns, checked)
    _, rows = header_and_rows(prepared.file)
    contact = assembly.add(0, next(rows))
    assert contact is not None and "company" not in contact.profile and len(contact.properties["notes"]) == 2048
    report, _ = assembly.report()
    assert [(i.field, i.reason) for i in report] == [
        ("Firma", "longer than 256 characters: left out"), ("Notiz", "longer than 2048 characters: shortened")]


def test_the_report_is_capped_but_the_counts_are_complete():
    raw = ("E-Mail\n" + "kaputt\n" * 50).encode()
    prepared = prepare(raw)
    check = RowCheck(prepared.columns, 1, ";", max_report_items=10)
    check.add_all(header_and_rows(prepared.file)[1])
    result = check.result()
    assert result.counts.rejected == 50 and len(result.report) == 10 and result.report_truncated


# --- contact order, touchpoints, ids ---------------------------------------------------------------

def test_contacts_come_in_the_order_of_their_last_row_on_every_run():
    raw = b"E-Mail;Firma\na@x.example;A1\nb@x.example;B\na@x.example;A2\nc@x.example;C\n"
    _, _, first = read(raw)
    _, _, second = read(raw)
    assert [c.email for c in first] == ["b@x.example", "a@x.example", "c@x.example"] == [c.email for c in second]
    assert by_email(first)["a@x.example"].profile["company"] == "A2"


EVENT = ImportedEvent("hannover-messe-2026", "Hannover Messe 2026", date(2026, 4, 20), "imp_0123456789abcdef",
                      "9f2c6d0b8a7e4f3c" * 4, "messe-2026-v1")


def test_a_contact_becomes_an_event_visited_touchpoint_with_event_profile_and_consent():
    _, _, contacts = read(GERMAN)
    juergen = by_email(contacts)["juergen.mueller@mueller-soehne.example"]
    received = datetime(2026, 4, 22, 8, 0, tzinfo=UTC)
    data = touchpoint_of(juergen, EVENT, received)
    assert data.touchpoint_type == TouchpointType.EVENT_VISITED
    assert data.occurred_at == datetime(2026, 4, 20, tzinfo=UTC) and data.received_at == received
    assert data.identity.lead_key == "juergen.mueller@mueller-soehne.example"
    assert data.profile.company == "Müller & Söhne GmbH" and data.profile.company_size == 250
    assert data.properties["event"] == "Hannover Messe 2026" and data.properties["event_date"] == "2026-04-20"
    assert data.properties["import_id"] == EVENT.import_id and data.source_id == "hannover-messe-2026"
    assert data.consent is not None and data.consent.purpose == "newsletter" and data.consent.granted
    assert data.consent.given_at == data.occurred_at and data.consent.wording_version == "messe-2026-v1"
    assert data.consent.proof == "csv sha256:9f2c6d0b8a7e4f3c line 2"
    anja = touchpoint_of(by_email(contacts)["anja@baeckerei-koehler.example"], EVENT, received)
    assert anja.consent is None


def test_event_ids_depend_on_source_event_and_person_only():
    same = imported_event_id("fair", "Hannover  Messe 2026", date(2026, 4, 20), "ada@example.com")
    assert same == imported_event_id("fair", "hannover messe 2026", date(2026, 4, 20), "ada@example.com")
    assert same != imported_event_id("fair", "Hannover Messe 2026", date(2026, 4, 21), "ada@example.com")
    assert same != imported_event_id("other", "Hannover Messe 2026", date(2026, 4, 20), "ada@example.com")
    assert same != imported_event_id("fair", "Hannover Messe 2026", date(2026, 4, 20), "grace@example.com")
    _, _, once = read(GERMAN)
    _, _, again = read(GERMAN.replace(b"\r\n;;;", b"\r\nHerr;Neu;Neu;Neu AG;;neu@neu.example;;;;;;;;\r\n;;;"))
    ids = {c.email: EVENT.event_id(c.email) for c in once}
    assert all(ids[c.email] == EVENT.event_id(c.email) for c in again if c.email in ids)


def test_the_same_upload_for_the_same_event_is_the_same_import():
    key = import_key("fair", "Hannover Messe", date(2026, 4, 20), "abc", {"A": "email", "B": "ignore"})
    assert key == import_key("fair", "hannover  messe", date(2026, 4, 20), "abc", {"B": "ignore", "A": "email"})
    assert key != import_key("fair", "Hannover Messe", date(2026, 4, 20), "abd", {"A": "email", "B": "ignore"})
    assert key != import_key("fair", "Hannover Messe", date(2026, 4, 20), "abc", {"A": "email"})


# --- any list written by a spreadsheet is read back as written -------------------------------------

NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüßÄÖÜé ABCDEFGHIJKLMNOPQRSTUVWXYZ-.,;&\"'", min_size=1, max_size=30)
EMAIL = st.builds("{}@{}.{}".format, st.from_regex(r"[a-z][a-z0-9]{0,8}(\.[a-z0-9]{1,5})?", fullmatch=True),
                  st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.sampled_from(["de", "com", "example"]))
PERSON = st.tuples(EMAIL, NAME, NAME)


@settings(max_examples=60, deadline=None)
@given(people=st.lists(PERSON, min_size=1, max_size=20, unique_by=lambda p: p[0]),
       separator=st.sampled_from([";", ",", "\t"]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
       newline=st.sampled_from(["\r\n", "\n"]))
def test_any_list_a_spreadsheet_writes_is_read_back_as_written(people, separator, encoding, newline):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=separator, lineterminator=newline)
    writer.writerow(["E-Mail", "Vorname", "Firma"])
    writer.writerows(people)
    _, checked, contacts = read(buffer.getvalue().encode(encoding))
    assert checked.counts.rejected == 0
    assert [(c.email, c.profile.get("first_name"), c.profile.get("company")) for c in contacts] == [
        (email, first.strip() or None, company.strip() or None) for email, first, company in people]
