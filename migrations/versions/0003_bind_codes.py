"""bind codes: who used a code, pending re-binds, failed attempts for the rate limit

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bind_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('at', bot.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bind_attempts'))
    )
    with op.batch_alter_table('bind_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_bind_attempts_at', ['at'], unique=False)

    with op.batch_alter_table('bind_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_by', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('used_title', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('decided_by', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bind_codes', schema=None) as batch_op:
        batch_op.drop_column('decided_by')
        batch_op.drop_column('decision')
        batch_op.drop_column('used_title')
        batch_op.drop_column('used_by')

    with op.batch_alter_table('bind_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_bind_attempts_at')

    op.drop_table('bind_attempts')
