from leadflow_runtime.alembic_env import run

from leadflow_handover.adapters.tables import metadata

run(metadata)
