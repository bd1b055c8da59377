"""The ingest migrations build exactly the tables the code declares (migrations are written by hand)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from leadflow_ingest.adapters.tables import SCHEMA, metadata

pytestmark = pytest.mark.integration


async def test_migrated_schema_matches_the_table_definitions(test_env):
    engine = create_async_engine(test_env.database_url)  # migrated by `leadflow-ingest migrate` in the test env

    def differences(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={
            "include_schemas": True, "compare_type": True, "compare_server_default": True,
            "include_name": lambda name, kind, _: name == SCHEMA if kind == "schema" else name != "alembic_version",
        })
        return compare_metadata(context, metadata)

    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(differences)
    finally:
        await engine.dispose()
    assert diff == []
