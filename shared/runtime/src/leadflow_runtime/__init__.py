"""What every Leadflow service runs on: settings, logs, Kafka and PostgreSQL plumbing, health and metrics."""
