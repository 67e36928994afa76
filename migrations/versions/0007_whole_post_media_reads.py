"""the whole post: attachments, the quoted post, repost count; X reads per UTC day for billing

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('quoted_x_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('quoted_author', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('quoted_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('retweet_count', sa.Integer(), nullable=True))
    op.create_table(
        'x_reads',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('x_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint('day', 'x_id', name=op.f('pk_x_reads')),
    )


def downgrade() -> None:
    op.drop_table('x_reads')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('retweet_count')
        batch_op.drop_column('quoted_text')
        batch_op.drop_column('quoted_author')
        batch_op.drop_column('quoted_x_id')
        batch_op.drop_column('media')
