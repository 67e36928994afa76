"""one X post per reply: unique reply_outbox.posted_x_id

Rows that already share an X post (the adoption bug of issue 11) keep it on the oldest reply; the others
go back to "unknown" so the reply sweep reconciles them again, strictly, and posts when they are not on X.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 00:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, posted_x_id FROM reply_outbox WHERE posted_x_id IN ("
        "SELECT posted_x_id FROM reply_outbox WHERE posted_x_id IS NOT NULL "
        "GROUP BY posted_x_id HAVING COUNT(*) > 1) ORDER BY posted_x_id, id")).all()
    keep: set[str] = set()
    for reply_id, x_id in rows:
        if x_id not in keep:
            keep.add(x_id)
            continue
        conn.execute(sa.text(
            "UPDATE reply_outbox SET posted_x_id = NULL, posted_at = NULL, state = 'unknown', "
            "last_error = :why, next_attempt_at = :now WHERE id = :id").bindparams(
                sa.bindparam("now", type_=bot.models.UTCDateTime())),
            {"id": reply_id, "now": datetime.now(UTC),
             "why": f"shared X post {x_id} with an older reply (migration 0004)"})
    with op.batch_alter_table('reply_outbox', schema=None) as batch_op:
        batch_op.create_index('uq_reply_outbox_posted_x_id', ['posted_x_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('reply_outbox', schema=None) as batch_op:
        batch_op.drop_index('uq_reply_outbox_posted_x_id')
