"""intake hot path: reference-data generation, one GiST index for the duplicates search

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:30:00

Written by hand.

* ``reference_generation`` — one row (an instance id and a counter) that a statement trigger on every
  table intake reads as reference data (``grid``, ``admin_area``, ``assignment``, ``staff``,
  ``complex``, ``station``, ``department``) moves to the next value of ``reference_generation_seq``
  in the writer's transaction. Intake decides with the copy of that data it holds in memory
  (:mod:`layers.placement`) and writes only while the row still holds the generation it read; a
  sequence, not ``generation + 1``, so a value taken by a rolled-back change never comes back.
* ``idx_incident_geom_category`` — GiST over ``(geom, category_code)`` (``btree_gist``, a trusted
  extension shipped with PostgreSQL) replaces ``idx_incident_geom``: the possible-duplicates search
  is one index scan on both conditions, and a geometry-only search uses it as before.
  ``ix_incident_category_code`` and ``ix_incident_category_code_status`` (0002, for that search) go:
  they only ever served it, and on a table without statistics they lured its plan away from the GiST.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_TABLES = ('grid', 'admin_area', 'assignment', 'staff', 'complex', 'station', 'department')


def upgrade() -> None:
    op.execute("CREATE SEQUENCE reference_generation_seq")
    op.create_table(
        'reference_generation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance', postgresql.UUID(as_uuid=False), server_default=sa.text('gen_random_uuid()'),
                  nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_reference_generation_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_generation')),
        comment='moves on every change to the reference data intake keeps in memory (layers/placement.py)',
    )
    op.execute("INSERT INTO reference_generation (id, generation) VALUES (1, nextval('reference_generation_seq'))")
    op.execute("""
        CREATE FUNCTION gisgrid_reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO reference_generation (id, generation) VALUES (1, nextval('reference_generation_seq'))
            ON CONFLICT (id) DO UPDATE SET generation = EXCLUDED.generation;
            RETURN NULL;
        END $$""")
    for table in REFERENCE_TABLES:
        op.execute(f"CREATE TRIGGER reference_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION gisgrid_reference_changed()")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.drop_index('idx_incident_geom', table_name='incident', postgresql_using='gist')
    op.drop_index(op.f('ix_incident_category_code'), table_name='incident')
    op.drop_index('ix_incident_category_code_status', table_name='incident')
    op.create_index('idx_incident_geom_category', 'incident', ['geom', 'category_code'],
                    unique=False, postgresql_using='gist')


def downgrade() -> None:
    op.drop_index('idx_incident_geom_category', table_name='incident', postgresql_using='gist')
    op.create_index('ix_incident_category_code_status', 'incident', ['category_code', 'status'], unique=False)
    op.create_index(op.f('ix_incident_category_code'), 'incident', ['category_code'], unique=False)
    op.create_index('idx_incident_geom', 'incident', ['geom'], unique=False, postgresql_using='gist')
    for table in REFERENCE_TABLES:
        op.execute(f"DROP TRIGGER reference_changed ON {table}")
    op.execute("DROP FUNCTION gisgrid_reference_changed()")
    op.drop_table('reference_generation')
    op.execute("DROP SEQUENCE reference_generation_seq")
