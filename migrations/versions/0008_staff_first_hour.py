"""staff's first hour: forwarded matters, internal notes, the preview a posted reply updates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forwarded_to', sa.String(length=40), nullable=True))
    with op.batch_alter_table('reply_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preview_chat_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('preview_message_id', sa.BigInteger(), nullable=True))
    op.create_table(
        'notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('author_id', sa.BigInteger(), nullable=False),
        sa.Column('author_name', sa.String(length=120), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', bot.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_notes_complaint_id_complaints')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notes')),
    )
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notes_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index('uq_notes_message', ['chat_id', 'message_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('uq_notes_message')
        batch_op.drop_index(batch_op.f('ix_notes_complaint_id'))
    op.drop_table('notes')
    with op.batch_alter_table('reply_outbox', schema=None) as batch_op:
        batch_op.drop_column('preview_message_id')
        batch_op.drop_column('preview_chat_id')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('forwarded_to')
