"""jurisdiction: regency/city Kemendagri codes, the routing's proposed destination, imported labels

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kemendagri_code', sa.String(length=13), nullable=True))
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routing_jurisdiction', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('routing_destination', sa.String(length=40), nullable=True))
    op.create_table(
        'routing_labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('text_hash', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('agency', sa.String(length=40), nullable=False),
        sa.Column('location', sa.String(length=200), nullable=True),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('created_at', bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_labels')),
        sa.UniqueConstraint('text_hash', 'agency', name='uq_routing_labels_text_agency'),
    )


def downgrade() -> None:
    op.drop_table('routing_labels')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('routing_destination')
        batch_op.drop_column('routing_jurisdiction')
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_column('kemendagri_code')
