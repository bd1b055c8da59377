"""Runnable examples of services built on Leadflow's public contract (see each folder's README)."""
