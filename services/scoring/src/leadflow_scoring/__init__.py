"""Leadflow scoring: owns lead state, applies the scoring model, emits stage changes."""
