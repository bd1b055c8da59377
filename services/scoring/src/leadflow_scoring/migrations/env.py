from leadflow_runtime.alembic_env import run

from leadflow_scoring.adapters.tables import metadata

run(metadata)
