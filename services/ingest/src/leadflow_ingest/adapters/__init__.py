"""PostgreSQL adapters of the ingest service (schema ``ingest``)."""
