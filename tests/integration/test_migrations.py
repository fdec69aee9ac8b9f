"""The initial migration builds the whole data model on an empty database and takes it down again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from layers import bootstrap, migrate
from layers.models import Base

SCRATCH = "gisgrid_test_migrations"


@pytest.fixture
def empty_db(db_url: str) -> Iterator[str]:
    server = bootstrap.Server(
        url=make_url(db_url).set(database="postgres").render_as_string(False), origin="test"
    )
    bootstrap.drop_database(server, SCRATCH)
    bootstrap.create_database(server, SCRATCH, quiet=True)
    url = server.database(SCRATCH)
    bootstrap.ensure_postgis(url, install=False, quiet=True)
    yield url
    bootstrap.drop_database(server, SCRATCH)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_upgrade_then_downgrade_on_an_empty_database(empty_db: str) -> None:
    expected = set(Base.metadata.tables)
    assert len(expected) == 22
    assert _tables(empty_db) == set()

    migrate.upgrade(empty_db)
    assert migrate.current(empty_db) == migrate.head() == "0004"
    assert _tables(empty_db) == expected | {"alembic_version"}

    migrate.downgrade(empty_db, "base")
    assert _tables(empty_db) == {"alembic_version"}
    assert migrate.current(empty_db) is None

    migrate.upgrade(empty_db)  # and up again: the downgrade left nothing behind that blocks it
    assert _tables(empty_db) == expected | {"alembic_version"}


def test_every_geometry_column_has_a_gist_index(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns WHERE f_table_schema='public'"
            )
        ).all()
        indexed = {
            (row.table, row.column)
            for row in conn.execute(
                text(
                    """SELECT t.relname AS table, a.attname AS column
                       FROM pg_index x
                       JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                       JOIN pg_am am ON am.oid = i.relam
                       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey)
                       WHERE am.amname = 'gist'"""
                )
            )
        }
    engine.dispose()
    assert (
        len(columns) == 11
    )  # admin_area, grid, complex, building ×2, station, street ×2, incident, patrol ×2
    for table, column, srid in columns:
        assert srid == 4326, (table, column)
        assert (table, column) in indexed, f"{table}.{column} has no GiST index"


def test_models_and_migrations_agree(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migration is the model, column for column."""
    from layers.migrations_compare import include_object

    engine = create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []
