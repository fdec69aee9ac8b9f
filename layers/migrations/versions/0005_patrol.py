"""patrol: weekly plans per worker, grid and day; idempotent, judged check-ins

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:00:00

Written by hand.

* ``patrol_plan`` gains the week (its Monday), the day's index, building ids, leg metres, households,
  street/access metres, the shift flag and the base station; its route becomes a MultiLineString (one
  line per leg, in walking order); one row per (staff, grid, date). Rows already there are kept:
  their week is the Monday of their date and their route becomes a one-leg MultiLineString.
* ``patrol_checkin`` gains the phone's id (unique per staff: a batch sent twice stores each check-in
  once), accuracy, the coordinate system sent, the grid, the matched distance, the plausibility flags
  and whether it counts as a visit.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('patrol_plan', sa.Column('week', sa.Date(), nullable=True, comment='the Monday of the week'))
    op.execute("UPDATE patrol_plan SET week = plan_date - (extract(isodow FROM plan_date)::int - 1)")
    op.alter_column('patrol_plan', 'week', nullable=False)
    op.add_column('patrol_plan', sa.Column('day_index', sa.SmallInteger(), server_default='0', nullable=False,
                                           comment='0 = the week\'s first patrol day'))
    op.alter_column('patrol_plan', 'day_index', server_default=None)
    op.add_column('patrol_plan', sa.Column('building_ids', postgresql.ARRAY(sa.Integer()), server_default='{}', nullable=False))
    op.add_column('patrol_plan', sa.Column('legs_m', postgresql.ARRAY(sa.Float()), server_default='{}', nullable=False))
    op.add_column('patrol_plan', sa.Column('households', sa.Integer(), server_default='0', nullable=False))
    op.add_column('patrol_plan', sa.Column('street_m', sa.Float(), server_default='0', nullable=False))
    op.add_column('patrol_plan', sa.Column('access_m', sa.Float(), server_default='0', nullable=False,
                                           comment='street to doors and back'))
    op.add_column('patrol_plan', sa.Column('over_shift', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('patrol_plan', sa.Column('base_station_id', sa.Integer(), nullable=True))
    op.add_column('patrol_plan', sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                                           nullable=False))
    op.create_foreign_key(op.f('fk_patrol_plan_base_station_id_station'), 'patrol_plan', 'station',
                          ['base_station_id'], ['id'], ondelete='SET NULL')
    op.execute("ALTER TABLE patrol_plan ALTER COLUMN route TYPE geometry(MultiLineString, 4326) USING ST_Multi(route)")
    op.execute("COMMENT ON COLUMN patrol_plan.route IS 'one line per leg, in order'")
    op.create_index(op.f('ix_patrol_plan_week'), 'patrol_plan', ['week'], unique=False)
    op.create_unique_constraint(op.f('uq_patrol_plan_staff_id_grid_code_plan_date'), 'patrol_plan',
                                ['staff_id', 'grid_code', 'plan_date'])
    op.create_check_constraint(op.f('ck_patrol_plan_metres_non_negative'), 'patrol_plan',
                               'street_m >= 0 AND access_m >= 0')
    op.create_check_constraint(op.f('ck_patrol_plan_day_in_week'), 'patrol_plan', 'day_index >= 0 AND day_index < 7')
    op.create_check_constraint(op.f('ck_patrol_plan_date_in_week'), 'patrol_plan',
                               'plan_date >= week AND plan_date < week + 7')
    op.create_check_constraint(op.f('ck_patrol_plan_week_starts_monday'), 'patrol_plan',
                               'extract(isodow FROM week) = 1')

    op.add_column('patrol_checkin', sa.Column('client_id', sa.String(length=64), nullable=True))
    op.add_column('patrol_checkin', sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                                              nullable=False))
    op.add_column('patrol_checkin', sa.Column('accuracy_m', sa.Float(), nullable=True))
    op.add_column('patrol_checkin', sa.Column('source_crs', sa.String(length=8), server_default='wgs84', nullable=False))
    op.add_column('patrol_checkin', sa.Column('grid_code', sa.String(length=15), nullable=True))
    op.add_column('patrol_checkin', sa.Column('distance_m', sa.Float(), nullable=True,
                                              comment='to the matched building'))
    op.add_column('patrol_checkin', sa.Column('flags', postgresql.ARRAY(sa.String(length=16)), server_default='{}',
                                              nullable=False))
    op.add_column('patrol_checkin', sa.Column('is_visit', sa.Boolean(), server_default='false', nullable=False))
    op.create_index(op.f('ix_patrol_checkin_grid_code'), 'patrol_checkin', ['grid_code'], unique=False)
    op.create_unique_constraint(op.f('uq_patrol_checkin_staff_id_client_id'), 'patrol_checkin',
                                ['staff_id', 'client_id'])
    op.create_check_constraint(op.f('ck_patrol_checkin_accuracy_non_negative'), 'patrol_checkin',
                               'accuracy_m IS NULL OR accuracy_m >= 0')
    op.create_check_constraint(op.f('ck_patrol_checkin_visit_has_building'), 'patrol_checkin',
                               'NOT (is_visit AND building_id IS NULL)')
    op.create_check_constraint(op.f('ck_patrol_checkin_flagged_is_no_visit'), 'patrol_checkin',
                               'NOT (is_visit AND cardinality(flags) > 0)')


def downgrade() -> None:
    for name in ('flagged_is_no_visit', 'visit_has_building', 'accuracy_non_negative'):
        op.drop_constraint(op.f(f'ck_patrol_checkin_{name}'), 'patrol_checkin', type_='check')
    op.drop_constraint(op.f('uq_patrol_checkin_staff_id_client_id'), 'patrol_checkin', type_='unique')
    op.drop_index(op.f('ix_patrol_checkin_grid_code'), table_name='patrol_checkin')
    for column in ('is_visit', 'flags', 'distance_m', 'grid_code', 'source_crs', 'accuracy_m', 'received_at',
                   'client_id'):
        op.drop_column('patrol_checkin', column)

    for name in ('week_starts_monday', 'date_in_week', 'day_in_week', 'metres_non_negative'):
        op.drop_constraint(op.f(f'ck_patrol_plan_{name}'), 'patrol_plan', type_='check')
    op.drop_constraint(op.f('uq_patrol_plan_staff_id_grid_code_plan_date'), 'patrol_plan', type_='unique')
    op.drop_index(op.f('ix_patrol_plan_week'), table_name='patrol_plan')
    op.execute("COMMENT ON COLUMN patrol_plan.route IS NULL")
    # a multi-leg route keeps its walk as one line (the legs join end to end)
    op.execute("ALTER TABLE patrol_plan ALTER COLUMN route TYPE geometry(LineString, 4326) "
               "USING ST_LineMerge(route)::geometry(LineString, 4326)")
    op.drop_constraint(op.f('fk_patrol_plan_base_station_id_station'), 'patrol_plan', type_='foreignkey')
    for column in ('created_at', 'base_station_id', 'over_shift', 'access_m', 'street_m', 'households', 'legs_m',
                   'building_ids', 'day_index', 'week'):
        op.drop_column('patrol_plan', column)
