from leadflow_runtime.alembic_env import run

import leadflow_scoring.funnel  # noqa: F401  (registers the funnel aggregate tables)
import leadflow_scoring.lead_search  # noqa: F401  (registers the search table)
from leadflow_scoring.adapters.tables import metadata

run(metadata)
