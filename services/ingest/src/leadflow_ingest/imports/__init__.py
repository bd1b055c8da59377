"""Offline leads: contacts from a CSV file (a trade fair's badge scans, an event's guest list) become touchpoints.

    decoding   bytes -> text: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252; the separator
    table      text -> header and records, each with the line it starts on
    columns    header -> what each column means (German and English names, or an explicit mapping)
    values     one cell -> a clean value (country names, company sizes, consent answers)
    contacts   records -> accepted contacts (same e-mail merged), rejected rows, a report
    touchpoints  a contact -> the ``event_visited`` touchpoint it is published as

These modules are pure (no I/O). ``runner`` publishes and records progress; ``api`` is the HTTP side.
"""
