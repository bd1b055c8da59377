"""PostgreSQL and Kafka adapters of the scoring service."""
