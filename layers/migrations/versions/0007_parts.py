"""parts: building parts are versioned like grids

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:30:00

Written by hand.

* ``building_part.valid_from`` / ``valid_to`` — a plan or an edit closes the parts it changes and inserts
  new rows, so the parts of any date can be restored (a community rolled back to a date gets its parts
  back). ``(building_id, part_no)`` is unique among the current rows only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('building_part', sa.Column('valid_from', sa.DateTime(timezone=True),
                                             server_default=sa.text('now()'), nullable=False))
    op.add_column('building_part', sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True,
                                             comment='closed by a later plan or edit'))
    op.create_check_constraint(op.f('ck_building_part_valid_period'), 'building_part',
                               'valid_to IS NULL OR valid_to > valid_from')
    op.drop_constraint(op.f('uq_building_part_building_id_part_no'), 'building_part', type_='unique')
    op.create_index('uq_building_part_current', 'building_part', ['building_id', 'part_no'], unique=True,
                    postgresql_where=sa.text('valid_to IS NULL'))


def downgrade() -> None:
    op.execute('DELETE FROM building_part WHERE valid_to IS NOT NULL')
    op.drop_index('uq_building_part_current', table_name='building_part',
                  postgresql_where=sa.text('valid_to IS NULL'))
    op.create_unique_constraint(op.f('uq_building_part_building_id_part_no'), 'building_part',
                                ['building_id', 'part_no'])
    op.drop_constraint(op.f('ck_building_part_valid_period'), 'building_part', type_='check')
    op.drop_column('building_part', 'valid_to')
    op.drop_column('building_part', 'valid_from')
