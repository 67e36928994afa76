"""Outbox rows move only as the table allows, and a card that changes while it is being sent is edited
after the send (a press on the new message can come before the send is recorded)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import usecases as uc
from bot.directory import bind_chat
from bot.domain.outbox import CARD_MOVES, REPLY_MOVES, CardState, IllegalMove, ReplyState, card_move, reply_move
from bot.models import CardOutbox
from bot.routing import Router
from tests.test_ingest_order import DESK, tweet

DPU_CHAT = -1001000000013


def test_the_move_tables_cover_every_state_and_refuse_what_they_lack() -> None:
    assert set(CARD_MOVES) == set(CardState) and set(REPLY_MOVES) == set(ReplyState)
    assert card_move("pending", CardState.SENDING) is CardState.SENDING
    with pytest.raises(IllegalMove):
        card_move("sent", CardState.PENDING)  # a card on Telegram is never sent again by mistake
    with pytest.raises(IllegalMove):
        reply_move("posted", ReplyState.PENDING)  # a posted reply is never posted twice


async def test_a_change_during_the_send_is_drawn_after_it(sessions: async_sessionmaker[AsyncSession]) -> None:
    await bind_chat(sessions, code="dpubmck", chat_id=DPU_CHAT, title="DPU")
    t = tweet("1000000000000000100", "@KemalaDesk Jalan provinsi Blora - Cepu rusak parah, banyak lubang #KemalaJateng")
    result = await uc.ingest_tweets(sessions, [t], desk=DESK, router=Router.default(), policy=uc.IngestPolicy())
    [cid] = result.new_ids
    async with sessions() as s:
        row = await s.scalar(select(CardOutbox).where(CardOutbox.complaint_id == cid))
        assert row is not None and row.chat_id == DPU_CHAT
        row_id = row.id
    assert await uc.claim_card_row(sessions, row_id, timedelta(seconds=30))  # the sweep draws and sends…
    staff = uc.Staff(id=601, name="Budi", username="budi_dpu")
    await uc.claim(sessions, complaint_id=cid, version=None, staff=staff)  # …a press lands meanwhile
    await uc.record_card_sent(sessions, row_id, message_id=77)
    async with sessions() as s:
        row = await s.get(CardOutbox, row_id)
        assert row is not None and row.state == CardState.SENT and row.message_id == 77
        assert row.needs_edit, "the card drawn before the claim must be edited after the send"
    assert await uc.take_card_for_edit(sessions, row_id)
    async with sessions() as s:
        assert (await s.get(CardOutbox, row_id)).needs_edit is False  # type: ignore[union-attr]
