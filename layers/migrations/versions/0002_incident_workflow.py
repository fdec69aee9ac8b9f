"""incident workflow: routing targets, boundary flag, merge link, state counters, intake answer

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00

Written by hand. ``whistles``, ``verification_failed``, ``escalations`` and ``reopens`` are the parts
of :class:`gisgrid.incidents.IncidentState` that had no column (docs/incidents.md, "Not stored"), so a
transition reads one row instead of replaying the case's events. ``intake`` keeps the answer given at
intake (assignment, duplicates, fingerprint of the request) so an idempotent retry returns it verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('incident', sa.Column('boundary_flag', sa.Boolean(), server_default='false', nullable=False,
                                        comment='within a few metres of a grid boundary: confirm the grid'))
    op.add_column('incident', sa.Column('merged_into_id', sa.Integer(), nullable=True))
    op.add_column('incident', sa.Column('assignee_property_company_id', sa.Integer(), nullable=True))
    op.add_column('incident', sa.Column('assignee_station_id', sa.Integer(), nullable=True))
    op.add_column('incident', sa.Column('whistles', postgresql.JSONB(astext_type=sa.Text()),
                                        server_default='[]', nullable=False))
    op.add_column('incident', sa.Column('verification_failed', sa.Boolean(), server_default='false',
                                        nullable=False))
    op.add_column('incident', sa.Column('escalations', sa.Integer(), server_default='0', nullable=False))
    op.add_column('incident', sa.Column('reopens', sa.Integer(), server_default='0', nullable=False))
    op.add_column('incident', sa.Column('intake', postgresql.JSONB(astext_type=sa.Text()),
                                        server_default='{}', nullable=False,
                                        comment='the answer given at intake, returned again on a retry'))
    op.create_foreign_key(op.f('fk_incident_merged_into_id_incident'), 'incident', 'incident',
                          ['merged_into_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key(op.f('fk_incident_assignee_property_company_id_property_company'), 'incident',
                          'property_company', ['assignee_property_company_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key(op.f('fk_incident_assignee_station_id_station'), 'incident', 'station',
                          ['assignee_station_id'], ['id'], ondelete='SET NULL')
    op.create_index(op.f('ix_incident_merged_into_id'), 'incident', ['merged_into_id'], unique=False)
    op.create_index(op.f('ix_incident_assignee_property_company_id'), 'incident',
                    ['assignee_property_company_id'], unique=False)
    op.create_index(op.f('ix_incident_assignee_station_id'), 'incident', ['assignee_station_id'], unique=False)
    op.create_index('ix_incident_category_code_status', 'incident', ['category_code', 'status'], unique=False)
    op.create_check_constraint(op.f('ck_incident_counters_non_negative'), 'incident',
                               'escalations >= 0 AND reopens >= 0')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_incident_counters_non_negative'), 'incident', type_='check')
    op.drop_index('ix_incident_category_code_status', table_name='incident')
    op.drop_index(op.f('ix_incident_assignee_station_id'), table_name='incident')
    op.drop_index(op.f('ix_incident_assignee_property_company_id'), table_name='incident')
    op.drop_index(op.f('ix_incident_merged_into_id'), table_name='incident')
    op.drop_constraint(op.f('fk_incident_assignee_station_id_station'), 'incident', type_='foreignkey')
    op.drop_constraint(op.f('fk_incident_assignee_property_company_id_property_company'), 'incident',
                       type_='foreignkey')
    op.drop_constraint(op.f('fk_incident_merged_into_id_incident'), 'incident', type_='foreignkey')
    for column in ('intake', 'reopens', 'escalations', 'verification_failed', 'whistles',
                   'assignee_station_id', 'assignee_property_company_id', 'merged_into_id', 'boundary_flag'):
        op.drop_column('incident', column)
