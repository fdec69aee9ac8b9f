"""real data: barriers, building parts, heights, kept attributes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:37:20

* ``barrier`` — rivers, water, railways and walls (lines or polygons) that grid edges follow.
* ``building_part`` — a building too big for one grid, split by entrance (单元) or floor range (楼层段);
  each part has its households and the grid that owns it.
* ``building.height_m`` — height as supplied (it was read and then lost).
* ``attributes`` (JSONB) on buildings, complexes and stations — a file's columns gisgrid has no field
  for are kept there instead of refusing the file.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table('barrier',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=16), server_default='manual', nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True, comment='e.g. OSM way/relation id'),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('river', 'water', 'railway', 'wall', 'other')", name=op.f('ck_barrier_kind_allowed')),
    sa.CheckConstraint("source IN ('synthetic', 'osm', 'import', 'manual')", name=op.f('ck_barrier_source_allowed')),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_barrier_geom_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_barrier')),
    sa.UniqueConstraint('source', 'source_ref', name=op.f('uq_barrier_source_source_ref'))
    )
    op.create_geospatial_index('idx_barrier_geom', 'barrier', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('building_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('part_no', sa.Integer(), nullable=False, comment='1, 2, … within the building'),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('entrance_from', sa.Integer(), nullable=True),
    sa.Column('entrance_to', sa.Integer(), nullable=True),
    sa.Column('floor_from', sa.Integer(), nullable=True),
    sa.Column('floor_to', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=True, comment='the grid that owns this part'),
    sa.CheckConstraint("(kind = 'entrance' AND entrance_from >= 1 AND entrance_to >= entrance_from) OR (kind = 'floors' AND floor_from >= 1 AND floor_to >= floor_from)", name=op.f('ck_building_part_range_matches_kind')),
    sa.CheckConstraint("kind IN ('entrance', 'floors')", name=op.f('ck_building_part_kind_allowed')),
    sa.CheckConstraint('households >= 0', name=op.f('ck_building_part_households_non_negative')),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_building_part_building_id_building'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_building_part')),
    sa.UniqueConstraint('building_id', 'part_no', name=op.f('uq_building_part_building_id_part_no'))
    )
    op.create_index(op.f('ix_building_part_building_id'), 'building_part', ['building_id'], unique=False)
    op.create_index(op.f('ix_building_part_grid_code'), 'building_part', ['grid_code'], unique=False)
    op.add_column('building', sa.Column('height_m', sa.Float(), nullable=True, comment='height in metres, as supplied'))
    op.create_check_constraint(op.f('ck_building_height_range'), 'building',
                               'height_m IS NULL OR (height_m > 0 AND height_m <= 1000)')
    op.add_column('building', sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='columns of the source file gisgrid has no field for'))
    op.add_column('complex', sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='columns of the source file gisgrid has no field for'))
    op.add_column('station', sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='columns of the source file gisgrid has no field for'))


def downgrade() -> None:
    op.drop_column('station', 'attributes')
    op.drop_column('complex', 'attributes')
    op.drop_column('building', 'attributes')
    op.drop_constraint(op.f('ck_building_height_range'), 'building', type_='check')
    op.drop_column('building', 'height_m')
    op.drop_index(op.f('ix_building_part_grid_code'), table_name='building_part')
    op.drop_index(op.f('ix_building_part_building_id'), table_name='building_part')
    op.drop_table('building_part')
    op.drop_geospatial_index('idx_barrier_geom', table_name='barrier', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('barrier')
