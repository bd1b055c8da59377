"""Leadflow handover: tells sales systems about sales-qualified leads, signed, retried, recorded."""
