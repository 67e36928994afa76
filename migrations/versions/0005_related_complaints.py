"""related complaints: another citizen's hashtagged reply or quote links to the complaint it answers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('related_to_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_related_to_id'), ['related_to_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_related_to_id'))
        batch_op.drop_column('related_to_id')
