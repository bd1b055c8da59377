# syntax=docker/dockerfile:1.7
#
# Leadflow scoring service: the lead read API and the touchpoint consumer.
#
#   docker build -f deploy/docker/scoring.Dockerfile -t leadflow-scoring .     # from the repo root
#
# Commands in this image (all on PATH):
#   leadflow-scoring serve          default; HTTP on LEADFLOW_SCORING_PORT (8001)
#   leadflow-scoring migrate        apply the scoring schema migrations (one-shot)
#   leadflow-scoring check-model    validate a scoring model file
#   leadflow-topics create          create the Kafka topics (leadflow-runtime is in every image)
#
# The three service Dockerfiles (ingest, scoring, handover) follow one pattern and differ
# only in the package, the port and the default command. Keep them in step.

ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

# uv is copied out of its official image (same version as the Makefile's UV_VERSION).
FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /uvx /bin/

# Use the image's own Python (never download one); compile bytecode at build time because
# the runtime filesystem may be read-only; copy (not hard-link) out of the cache mount;
# install the environment at /app/.venv, the same path it has at run time.
ENV UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# 1) Third-party dependencies only, from the lock file. uv needs every workspace member's
#    pyproject.toml to check the lock, but no sources: this layer is rebuilt only when the
#    lock or a pyproject changes, not on every code change.
COPY pyproject.toml uv.lock ./
COPY shared/events/pyproject.toml shared/events/
COPY shared/runtime/pyproject.toml shared/runtime/
COPY services/ingest/pyproject.toml services/ingest/
COPY services/scoring/pyproject.toml services/scoring/
COPY services/handover/pyproject.toml services/handover/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable --package leadflow-scoring --no-install-workspace

# 2) This service and the shared packages it depends on, installed as wheels (not editable),
#    so the environment does not need /app/shared or /app/services at run time.
#    Hatchling puts every file under the package folder in the wheel, so
#    default_model.yaml and migrations/ (env.py, versions/, script.py.mako) come along.
#    leadflow-events' pyproject names its README.md as the readme: building the wheel needs it.
COPY shared/events/README.md shared/events/
COPY shared/events/src shared/events/src
COPY shared/runtime/src shared/runtime/src
COPY services/scoring/src services/scoring/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable --package leadflow-scoring

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="leadflow-scoring" \
      org.opencontainers.image.description="Leadflow scoring service (lead state, scoring, lead read API)" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 leadflow \
 && useradd --system --uid 10001 --gid leadflow --no-create-home --home-dir /app --shell /usr/sbin/nologin leadflow

# Only the virtual environment; owned by root, so the service cannot modify its own code.
COPY --from=builder /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

EXPOSE 8001
# Liveness only (readiness depends on Kafka and PostgreSQL; orchestrators probe it separately).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('LEADFLOW_SCORING_PORT', '8001'), timeout=4)"]

CMD ["leadflow-scoring", "serve"]
