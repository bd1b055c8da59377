"""The web dashboard served by the scoring service at ``/dashboard``: static pages over the read API."""

from leadflow_scoring.dashboard.routes import router

__all__ = ["router"]
