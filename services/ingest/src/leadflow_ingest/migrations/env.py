from leadflow_runtime.alembic_env import run

from leadflow_ingest.adapters.tables import metadata

run(metadata)
