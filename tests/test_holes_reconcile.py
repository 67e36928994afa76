"""Issue 11 item 2: reconciliation adopts only a post that is provably this reply.

Two citizens who did not mention the desk get the same reply text through the fallback (a standalone
post that mentions them and links their post). The old reconciliation stripped the leading @mention and
masked links, so after an X 503 the second reply adopted the first citizen's post.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.models import Complaint, Event, ReplyOutbox
from tests.desk_harness import BUDI, DPU, ROAD, TRIAGE, Desk, is_alert

SAME = "Terima kasih, laporan sudah kami teruskan ke UPT Blora untuk ditangani minggu ini."


async def _fallback_reply(desk: Desk, username: str, text: str = SAME) -> int:
    """A citizen's complaint without a desk mention, claimed, answered through the fallback."""
    desk.tweet(ROAD, username=username)
    card = await desk.card(DPU, containing=f"@{username}")
    cid = int(desk.button(card, "cl").split(":")[2])
    assert not is_alert(await desk.press(DPU, card, BUDI, desk.button(card, "cl")))
    card = await desk.wait_for(lambda: next((m for m in desk.cards(DPU) if m["message_id"] == card["message_id"]
                                             and "rp" in str(m["reply_markup"])), None), what="claimed card")
    assert not is_alert(await desk.press(DPU, card, BUDI, desk.button(card, "rp")))
    prompt = await desk.wait_for(lambda: next(
        (m for m in desk.tg.messages(DPU)[::-1] if m["from_bot"] and "force_reply" in str(m.get("reply_markup"))
         and f"#{cid}" in (m.get("text") or "")), None), what="reply prompt")
    desk.tg.send_message(DPU, BUDI["id"], text, reply_to_message_id=prompt["message_id"])
    preview = await desk.wait_for(lambda: next(
        (m for m in desk.tg.messages(DPU)[::-1] if m["from_bot"] and f":{cid}:" in str(m.get("reply_markup"))
         and "fb" in str(m.get("reply_markup"))), None), what="preview")
    assert not is_alert(await desk.press(DPU, preview, BUDI, desk.button(preview, "fb")))
    return cid


async def _replies(desk: Desk) -> list[ReplyOutbox]:
    async def q(s: Any) -> list[ReplyOutbox]:
        return list((await s.scalars(select(ReplyOutbox).where(ReplyOutbox.state != "draft")
                                     .order_by(ReplyOutbox.id))).all())
    return await desk.db(q)


async def _status(desk: Desk, cid: int) -> str:
    return (await desk.complaint(cid)).status


async def test_same_text_fallback_after_a_503_is_posted_for_the_second_citizen(desk: Desk) -> None:
    first = await _fallback_reply(desk, "warga_satu")
    await desk.wait_for(lambda: len(desk.x.posted()) == 1, what="first fallback")
    desk.x.fault(endpoint="post", status=503)  # the second post's outcome is unknown (it was not created)
    second = await _fallback_reply(desk, "warga_dua")
    await desk.wait_for(lambda: len(desk.x.posted()) == 2, what="second citizen's own post", timeout=30)
    await desk.wait_db(lambda s: _answered(s, second), what="complaint 2 answered", timeout=30)
    posts = desk.x.posted()
    assert posts[0]["text"].startswith("@warga_satu ") and posts[1]["text"].startswith("@warga_dua ")
    rows = await _replies(desk)
    assert [r.state for r in rows] == ["posted", "posted"]
    assert {r.posted_x_id for r in rows} == {p["id"] for p in posts}  # one X post per reply
    by_complaint = {r.complaint_id: r.posted_x_id for r in rows}
    assert by_complaint[first] == posts[0]["id"] and by_complaint[second] == posts[1]["id"]
    assert (await desk.complaint(second)).reply_x_id == posts[1]["id"]


async def test_a_503_after_the_post_was_created_adopts_that_post_only(desk: Desk) -> None:
    await _fallback_reply(desk, "warga_satu")
    await desk.wait_for(lambda: len(desk.x.posted()) == 1, what="first fallback")
    desk.x.fault(endpoint="post", status=503, after_commit=True)
    second = await _fallback_reply(desk, "warga_dua")
    await desk.wait_db(lambda s: _answered(s, second), what="complaint 2 answered", timeout=30)
    posts = desk.x.posted()
    assert len(posts) == 2  # adopted, not posted twice
    rows = await _replies(desk)
    assert rows[1].posted_x_id == posts[1]["id"] and posts[1]["text"].startswith("@warga_dua ")

    async def adopted(s: Any) -> list[Event]:
        return list((await s.scalars(select(Event).where(Event.complaint_id == second,
                                                         Event.action == "reply_posted"))).all())
    events = await desk.db(adopted)
    assert events and events[-1].detail.get("adopted") is True


async def test_a_look_alike_post_is_parked_with_an_alert_never_adopted(desk: Desk) -> None:
    # Someone at the desk answered by hand on X: same words, same citizen, but a link to another post.
    # (Another post of the same citizen, outside the desk's search: not a complaint, so not a card.)
    citizen_other = desk.tweet("Jalan di Cepu juga rusak", username="warga_tiga")
    desk.x.add_tweet(username="KemalaDesk", text=f"@warga_tiga {SAME} https://x.com/warga_tiga/status/{citizen_other}")
    desk.x.fault(endpoint="post", status=503)
    cid = await _fallback_reply(desk, "warga_tiga")
    await desk.wait_db(lambda s: _reply_state(s, cid, "rejected"), what="parked reply", timeout=30)
    rows = await _replies(desk)
    assert rows[-1].posted_x_id is None and rows[-1].last_error == "near_match"
    assert desk.x.posted() == []  # nothing posted by the desk job, nothing adopted
    c = await desk.complaint(cid)
    assert c.status != "answered" and c.reply_x_id is None
    alert = await desk.wait_for(lambda: next((m for m in desk.tg.messages(TRIAGE)
                                              if m["from_bot"] and f"#{cid}" in (m.get("text") or "")
                                              and "mirip" in (m.get("text") or "")), None), what="triage alert")
    assert alert


async def _answered(s: Any, cid: int) -> Complaint | None:
    c = await s.get(Complaint, cid)
    return c if c is not None and c.status == "answered" else None


async def _reply_state(s: Any, cid: int, state: str) -> ReplyOutbox | None:
    return (await s.scalars(select(ReplyOutbox).where(ReplyOutbox.complaint_id == cid,
                                                      ReplyOutbox.state == state))).first()
