"""Issue 11 item 9: reply content is checked before anyone can press Kirim."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.models import Event, ReplyOutbox
from tests.desk_harness import BUDI, DPU, ROAD, TOKEN, Desk, is_alert


async def _prompt(desk: Desk, *, mention: bool = True) -> tuple[int, dict[str, Any]]:
    desk.tweet(ROAD, mention=mention)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    assert not is_alert(await desk.press(DPU, card, BUDI, desk.button(card, "cl")))
    card = await desk.wait_for(lambda: next((m for m in desk.cards(DPU) if m["message_id"] == card["message_id"]
                                             and "rp" in str(m["reply_markup"])), None), what="claimed card")
    assert not is_alert(await desk.press(DPU, card, BUDI, desk.button(card, "rp")))
    prompt = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU)[::-1] if m["from_bot"]
                                               and "force_reply" in str(m.get("reply_markup"))), None))
    return cid, prompt


async def _answer(desk: Desk, prompt: dict[str, Any], text: str) -> dict[str, Any]:
    n = len(desk.tg.messages(DPU))
    sent = desk.tg.send_message(DPU, BUDI["id"], text, reply_to_message_id=prompt["message_id"])
    reply = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU)[n:] if m["from_bot"]), None),
                                what="the bot's answer")
    return {"answer": reply, "sent": sent}


async def _drafts(desk: Desk) -> list[ReplyOutbox]:
    async def q(s: Any) -> list[ReplyOutbox]:
        return list((await s.scalars(select(ReplyOutbox))).all())
    return await desk.db(q)


async def test_a_draft_holding_a_configured_secret_is_refused_and_never_reaches_x(desk: Desk) -> None:
    desk.tg.set_member(DPU, desk.tg.bot_id, "administrator")  # the right to delete members' messages
    cid, prompt = await _prompt(desk)
    for secret in (TOKEN, "ats-test-access-secret"):
        got = await _answer(desk, prompt, f"Terima kasih, token kami {secret} ya")
        text = got["answer"]["text"]
        assert "ditolak" in text and "rahasia" in text, text
        assert secret not in text
    # A credential's shape is refused even when it is not this desk's own.
    got = await _answer(desk, prompt, "coba 123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0 ini")
    assert "ditolak" in got["answer"]["text"]
    assert await _drafts(desk) == [] and desk.x.posted() == []
    # The staff message holding the secret is deleted from the group; the refusal is on record, the text not.
    await desk.wait_for(lambda: not any(TOKEN in (m.get("text") or "") for m in desk.tg.messages(DPU)),
                        what="the secret deleted from the group")

    async def events(s: Any) -> list[Event]:
        return list((await s.scalars(select(Event).where(Event.complaint_id == cid,
                                                         Event.action == "refused"))).all())
    refused = await desk.db(events)
    assert [e.detail.get("reason") for e in refused] == ["alert.secret_in_reply"] * 3
    assert all(TOKEN not in str(e.detail) for e in refused)
    # A clean text still makes a draft.
    got = await _answer(desk, prompt, "Terima kasih, laporan diteruskan ke UPT Blora.")
    assert "fb" in str(got["answer"].get("reply_markup")) or "sd" in str(got["answer"].get("reply_markup"))
    assert len(await _drafts(desk)) == 1


async def test_url_only_and_mention_only_drafts_are_warned_and_every_preview_shows_the_url_cost(
        desk: Desk) -> None:
    _, prompt = await _prompt(desk)
    url_only = (await _answer(desk, prompt, "https://jatengprov.go.id/lapor"))["answer"]["text"]
    assert "hanya berisi tautan" in url_only and "$0.20" in url_only
    mention_only = (await _answer(desk, prompt, "@dpubmck_jateng"))["answer"]["text"]
    assert "hanya menyebut akun" in mention_only and "$0.015" in mention_only
    # An in-thread reply with a link shows the link price too (not only the fallback).
    linked = (await _answer(desk, prompt, "Sudah kami cek, info di https://jatengprov.go.id ya"))["answer"]["text"]
    assert "di utas" in linked and "$0.20" in linked and "hanya" not in linked
    plain = (await _answer(desk, prompt, "Sudah kami cek, petugas ke lokasi besok"))["answer"]["text"]
    assert "$0.015" in plain and "Berisi tautan" not in plain
