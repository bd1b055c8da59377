"""PostgreSQL and HTTP adapters of the handover service."""
