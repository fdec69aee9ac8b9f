"""coverage: station status history, walking-distance coverage per building and kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00

Written by hand.

* ``station_status`` — one row per dated status change of a station (status, since, who recorded it). Existing stations get the history their dates state, recorded by
  ``migration 0006``; a planned station without a date is planned from the day of the migration.
* ``coverage_result`` — per building and station kind: the walk to the nearest open station (NULL beyond
  the search cap or on an island), that station, the island flag.
* ``coverage_state`` — per kind: the thresholds and the fingerprints (network, buildings, open stations)
  the rows were computed from.
* ``coverage_generation`` — one row, the buildings' fingerprint: statement triggers on ``building``
  (insert, delete, truncate, and updates that write ``geom`` or ``entrance``) move it to the next value
  of ``coverage_buildings_seq`` in the writer's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'service_centre', 'service_station', 'service_post', 'red_heart_station', 'police_room'"
STATUSES = "'planned', 'building', 'open', 'closed'"


def upgrade() -> None:
    op.create_table(
        'station_status',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by', sa.String(length=100), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f('ck_station_status_status_allowed')),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_station_status_station_id_station'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_station_status_user_id_app_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_station_status')),
    )
    op.create_index('ix_station_status_station_id_since', 'station_status', ['station_id', 'since'], unique=False)
    op.create_index(op.f('ix_station_status_user_id'), 'station_status', ['user_id'], unique=False)
    op.execute("""
        INSERT INTO station_status (station_id, status, since, recorded_by)
        SELECT s.id, e.status, e.since, 'migration 0006'
        FROM station s
        CROSS JOIN LATERAL (VALUES
            (1, 'planned', COALESCE(s.planned_on, CASE WHEN s.status = 'planned'
                                                  THEN (now() AT TIME ZONE 'Asia/Shanghai')::date END)),
            (2, 'building', s.building_since), (3, 'open', s.opened_on), (4, 'closed', s.closed_on)
        ) AS e(rank, status, since)
        WHERE e.since IS NOT NULL
          AND e.rank <= array_position(ARRAY['planned', 'building', 'open', 'closed']::text[], s.status::text)
        ORDER BY s.id, e.rank""")

    op.create_table(
        'coverage_result',
        sa.Column('building_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('distance_m', sa.Float(), nullable=True),
        sa.Column('station_id', sa.Integer(), nullable=True),
        sa.Column('island', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f('ck_coverage_result_kind_allowed')),
        sa.CheckConstraint('distance_m IS NULL OR distance_m >= 0', name=op.f('ck_coverage_result_distance_non_negative')),
        sa.CheckConstraint('NOT island OR distance_m IS NULL', name=op.f('ck_coverage_result_island_never_reached')),
        sa.CheckConstraint('(distance_m IS NULL) = (station_id IS NULL)',
                           name=op.f('ck_coverage_result_distance_has_station')),
        sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_coverage_result_building_id_building'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_coverage_result_station_id_station'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('building_id', 'kind', name=op.f('pk_coverage_result')),
    )
    op.create_index(op.f('ix_coverage_result_station_id'), 'coverage_result', ['station_id'], unique=False)

    op.create_table(
        'coverage_state',
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('threshold_m', sa.Float(), nullable=False),
        sa.Column('cap_m', sa.Float(), nullable=False),
        sa.Column('network_version', sa.String(length=200), nullable=False),
        sa.Column('buildings_version', sa.String(length=200), nullable=False),
        sa.Column('stations_version', sa.String(length=64), nullable=False),
        sa.Column('buildings', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False, comment='last full computation'),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                  comment='last change, full or incremental'),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f('ck_coverage_state_kind_allowed')),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_coverage_state')),
    )

    op.execute("CREATE SEQUENCE coverage_buildings_seq")
    op.create_table(
        'coverage_generation',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('buildings', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_coverage_generation_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_generation')),
    )
    op.execute("INSERT INTO coverage_generation (id, buildings) VALUES (1, nextval('coverage_buildings_seq'))")
    op.execute("""
        CREATE FUNCTION gisgrid_buildings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO coverage_generation (id, buildings) VALUES (1, nextval('coverage_buildings_seq'))
            ON CONFLICT (id) DO UPDATE SET buildings = EXCLUDED.buildings;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER coverage_buildings_changed AFTER INSERT OR DELETE OR UPDATE OF geom, entrance"
               " ON building FOR EACH STATEMENT EXECUTE FUNCTION gisgrid_buildings_changed()")
    op.execute("CREATE TRIGGER coverage_buildings_truncated AFTER TRUNCATE ON building"
               " FOR EACH STATEMENT EXECUTE FUNCTION gisgrid_buildings_changed()")


def downgrade() -> None:
    op.execute("DROP TRIGGER coverage_buildings_changed ON building")
    op.execute("DROP TRIGGER coverage_buildings_truncated ON building")
    op.execute("DROP FUNCTION gisgrid_buildings_changed()")
    op.drop_table('coverage_generation')
    op.execute("DROP SEQUENCE coverage_buildings_seq")
    op.drop_table('coverage_state')
    op.drop_index(op.f('ix_coverage_result_station_id'), table_name='coverage_result')
    op.drop_table('coverage_result')
    op.drop_index(op.f('ix_station_status_user_id'), table_name='station_status')
    op.drop_index('ix_station_status_station_id_since', table_name='station_status')
    op.drop_table('station_status')
