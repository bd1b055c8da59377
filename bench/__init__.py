"""Leadflow benchmarks: ``python -m bench [--smoke] [--only NAME ...] [--no-write]``.

Each scenario runs the real services as processes against the real Kafka broker and
PostgreSQL, in a database and topics of its own, and reports its figures against the
targets; a full run writes ``docs/benchmarks.md`` and ``docs/benchmarks.json``.
"""
