"""Each service's Alembic migrations build exactly the tables its SQLAlchemy metadata describes.

The test database was migrated by the services' own ``migrate`` commands; Alembic's autogenerate
comparison must then find nothing to do - a table, column, index or comment added to the
metadata without a migration (or the other way round) fails here, naming the difference.
"""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration

# the modules each service's migrations/env.py imports to register its tables
METADATA = {
    "scoring": ["leadflow_scoring.funnel", "leadflow_scoring.lead_search", "leadflow_scoring.adapters.tables"],
    "handover": ["leadflow_handover.adapters.tables"],
}


def metadata_of(service: str) -> MetaData:
    modules = [importlib.import_module(m) for m in METADATA[service]]
    return modules[-1].metadata


@pytest.mark.parametrize("service", sorted(METADATA))
async def test_the_migrations_match_the_metadata(test_env, service):
    metadata = metadata_of(service)
    schema = metadata.schema

    def differences(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={
            "target_metadata": metadata, "include_schemas": True, "compare_type": True, "compare_server_default": False,
            "include_name": lambda name, type_, parent: name == schema if type_ == "schema" else name != "alembic_version",
        })
        return compare_metadata(context, metadata)

    engine = create_async_engine(test_env.database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(differences)
    finally:
        await engine.dispose()
    assert diff == [], f"{service}: the metadata and the migrations differ: {diff}"
