"""Issue 11 item 7: a group migrated to a supergroup mid-flight gets its live cards again, once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from bot.models import AgencyChat, CardOutbox
from tests.desk_harness import ADMIN, BUDI, DPU, DPU_HEAD, SITI, Desk, is_alert

GROUP = -4009001  # a basic group: Telegram gives it a new -100… id when it becomes a supergroup
TEXTS = [f"Jalan provinsi di {p} rusak parah, banyak lubang #KemalaJateng"
         for p in ("Blora", "Cepu", "Rembang", "Pati", "Kudus", "Jepara")]


async def _cards_by_chat(d: Desk) -> dict[tuple[int, str], int]:
    async def q(s: Any) -> dict[tuple[int, str], int]:
        out: dict[tuple[int, str], int] = {}
        for row in (await s.scalars(select(CardOutbox).where(CardOutbox.kind == "card"))).all():
            out[(row.chat_id, row.state)] = out.get((row.chat_id, row.state), 0) + 1
        return out
    return await d.db(q)


async def test_a_migration_during_a_burst_resends_each_live_card_once_and_the_desk_works_there(
        db_url: str) -> None:
    d = Desk(db_url)
    await d.setup()
    d.tg.add_chat(GROUP, "group", "DPUBMCK Kemala (grup biasa)")
    for user, status in ((ADMIN, "administrator"), (DPU_HEAD, "administrator"), (BUDI, "member"), (SITI, "member")):
        d.tg.set_member(GROUP, user, status)

    async def move(s: Any) -> None:
        await s.execute(update(AgencyChat).where(AgencyChat.chat_id == DPU).values(chat_id=GROUP))
        await s.commit()
    await d.db(move)
    await d.start_bot()
    try:
        for i, text in enumerate(TEXTS[:3]):
            d.tweet(text, username=f"warga_{i}")
        await d.wait_for(lambda: len(d.cards(GROUP)) >= 3, what="three cards in the basic group")
        first = d.cards(GROUP)[0]
        assert not is_alert(await d.press(GROUP, first, BUDI, d.button(first, "cl")))
        # The group is upgraded while more complaints arrive.
        new_id = d.tg.upgrade(GROUP)
        for i, text in enumerate(TEXTS[3:], start=3):
            d.tweet(text, username=f"warga_{i}")
        await d.wait_for(lambda: len(d.cards(new_id)) >= len(TEXTS), what="every card in the supergroup", timeout=30)
        await asyncio.sleep(3)  # a few sweeps more: nothing is sent twice, nothing loops
        cards = d.cards(new_id)
        numbers = sorted(int(d.button(c, "cl" if "k1:cl" in str(c["reply_markup"]) else "rp").split(":")[2])
                         for c in cards if c.get("reply_markup"))
        assert len(cards) == len(TEXTS) and len(set(numbers)) == len(TEXTS)  # each complaint once
        by_chat = await _cards_by_chat(d)
        assert by_chat.get((GROUP, "retired")) == 3 and by_chat.get((new_id, "sent")) == len(TEXTS)
        assert not any(k[0] == GROUP and k[1] != "retired" for k in by_chat)
        edits_old = [c for c in d.tg.calls() if c["method"] == "editMessageText" and c["error_code"]]
        assert len(edits_old) <= 2  # at most the edit in flight when the group moved, never a loop
        # The claimed complaint shows its owner in the new chat and can be acted on there.
        claimed = next(c for c in cards if "Budi" in (c.get("text") or ""))
        assert not is_alert(await d.press(new_id, claimed, BUDI, d.button(claimed, "rp")))
        unclaimed = next(c for c in cards if "k1:cl" in str(c["reply_markup"]))
        assert not is_alert(await d.press(new_id, unclaimed, SITI, d.button(unclaimed, "cl")))
    finally:
        await d.close()


async def test_a_card_whose_message_cannot_be_edited_is_sent_again(desk: Desk) -> None:
    tid = desk.tweet(TEXTS[0])
    card = await desk.card(DPU)
    desk.tg.delete_message(DPU, card["message_id"])  # someone in the group deleted the card
    # The citizen adds to the thread: the card needs an edit, its message is gone, so it comes back as new.
    desk.tweet("Sudah seminggu belum ada perbaikan #KemalaJateng", in_reply_to=tid)
    again = await desk.wait_for(lambda: next((m for m in desk.cards(DPU) if m["message_id"] != card["message_id"]
                                              and "k1:cl" in str(m.get("reply_markup"))), None),
                                what="the card sent again", timeout=20)
    await asyncio.sleep(2)  # more sweeps: sent once, no edit loop
    assert len([m for m in desk.cards(DPU) if "k1:cl" in str(m.get("reply_markup"))]) == 1
    failed_edits = [c for c in desk.tg.calls() if c["method"] == "editMessageText" and c["error_code"]]
    assert len(failed_edits) == 1
    assert not is_alert(await desk.press(DPU, again, BUDI, desk.button(again, "cl")))
