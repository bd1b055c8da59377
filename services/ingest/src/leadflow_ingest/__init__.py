"""Leadflow ingest: the HTTP edge that validates, normalises and publishes touchpoints."""
