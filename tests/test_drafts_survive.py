"""Drafts that survive (issue 16, item 8), end to end against both sandboxes: a citizen's follow-up between
the preview and Kirim keeps the draft valid, shows in the preview and lets Kirim choose the post to answer
under; the fallback's weight (the citizen's @name and the link) is counted where the draft is written."""

from __future__ import annotations

from typing import Any

from bot.domain.posts import fallback_text
from bot.domain.tweet_text import weighted_length
from bot.i18n import t
from bot.models import Event, ReplyOutbox
from tests.desk_harness import BUDI, DPU, ROAD, SITI, Desk, is_alert
from tests.test_staff_first_hour import buttons, data_with, labels, markup_with, said

REPLY = "Terima kasih, tim kami menambal jalan itu minggu ini."


async def claimed_prompt(desk: Desk, *, mention: bool) -> tuple[int, str, dict[str, Any], dict[str, Any]]:
    """Budi claims a new complaint and presses Balas: (complaint id, tweet id, the claimed card, the prompt)."""
    tid = desk.tweet(ROAD, mention=mention)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    assert not is_alert(await desk.press(DPU, card, BUDI, desk.button(card, "cl")))
    claimed = await markup_with(desk, DPU, card["message_id"], "k1:rp:")
    assert not is_alert(await desk.press(DPU, claimed, BUDI, desk.button(claimed, "rp")))
    return cid, tid, claimed, await said(desk, DPU, "tulis balasan")


async def draft_preview(desk: Desk, text: str, *, mention: bool) -> tuple[int, str, dict[str, Any]]:
    """A claimed complaint with a written draft: (complaint id, opening tweet id, the preview message)."""
    cid, tid, _, prompt = await claimed_prompt(desk, mention=mention)
    desk.tg.send_message(DPU, BUDI["id"], text, reply_to_message_id=prompt["message_id"])
    return cid, tid, await said(desk, DPU, "Pratinjau balasan", after=prompt["message_id"])


async def redrawn(desk: Desk, preview: dict[str, Any], needle: str) -> dict[str, Any]:
    message: dict[str, Any] = await desk.wait_for(
        lambda: (m if needle in ((m := desk.message(DPU, preview["message_id"])).get("text") or "") else None),
        what=f"the preview drawn again with {needle!r}")
    return message


async def test_followup_that_mentions_the_desk_offers_kirim_under_it(desk: Desk) -> None:
    cid, tid, preview = await draft_preview(desk, REPLY, mention=True)
    old_kirim = data_with(preview, "k1:sd:")
    followup = desk.x.add_tweet(username="warga_blora", in_reply_to=tid,
                                text="@KemalaDesk tambahan: lubangnya sekarang dua, dekat SD Negeri 3")
    live = await redrawn(desk, preview, "lubangnya sekarang dua")
    text = live["text"]
    assert REPLY in text and t("draft.followups") in text  # the same draft, and what the citizen added
    assert labels(live)[:2] == [t("btn.send_latest"), t("btn.send_earlier")]
    # Kirim is still what was written: the version bump of the follow-up did not make it "kedaluwarsa".
    assert (await desk.complaint(cid)).status == "drafted"
    latest = buttons(live)[0]
    draft = old_kirim.split(":")[-1]
    assert latest.split(":")[-1].startswith(draft + "-") and buttons(live)[1].split(":")[-1] == draft
    assert not is_alert(await desk.press(DPU, live, BUDI, latest))
    posted = await desk.wait_for(lambda: desk.x.posted(), what="the reply on X")
    assert len(posted) == 1 and posted[0]["in_reply_to_tweet_id"] == followup
    assert posted[0]["text"] == REPLY
    under = await desk.db(lambda s: _approved_under(s, cid))
    assert under == followup
    await redrawn(desk, preview, "Terkirim ke X")


async def test_old_kirim_still_answers_under_the_first_post(desk: Desk) -> None:
    cid, tid, preview = await draft_preview(desk, REPLY, mention=True)
    old_kirim = data_with(preview, "k1:sd:")
    desk.x.add_tweet(username="warga_blora", in_reply_to=tid,
                     text="@KemalaDesk mohon cepat ya, sudah ada motor jatuh kemarin")
    await redrawn(desk, preview, "motor jatuh")
    # A press on the button as it was before the preview was drawn again (a stale phone screen).
    answer = await desk.press(DPU, preview, BUDI, old_kirim)
    assert not is_alert(answer), answer
    posted = await desk.wait_for(lambda: desk.x.posted(), what="the reply on X")
    assert [p["in_reply_to_tweet_id"] for p in posted] == [tid]


async def test_followup_without_mention_is_shown_and_kirim_stays_single(desk: Desk) -> None:
    cid, tid, preview = await draft_preview(desk, REPLY, mention=True)
    desk.x.add_tweet(username="warga_blora", in_reply_to=tid, text="fotonya menyusul, lokasinya depan pasar #KemalaJateng")
    live = await redrawn(desk, preview, "depan pasar")
    # X would refuse a reply under a post that does not mention the desk: no choice is offered.
    assert labels(live) == [t("btn.send"), t("btn.edit"), t("btn.cancel")]
    assert t("draft.followup_target", desk="KemalaDesk") not in live["text"]
    assert not is_alert(await desk.press(DPU, live, BUDI, data_with(live, "k1:sd:")))
    posted = await desk.wait_for(lambda: desk.x.posted(), what="the reply on X")
    assert [p["in_reply_to_tweet_id"] for p in posted] == [tid]


async def test_kirim_refuses_a_target_it_never_offered(desk: Desk) -> None:
    cid, tid, preview = await draft_preview(desk, REPLY, mention=True)
    old_kirim = data_with(preview, "k1:sd:")
    # Another citizen's post in the same thread that mentions the desk is context, never a target.
    other = desk.x.add_tweet(username="tetangga_blora", in_reply_to=tid, text="@KemalaDesk betul, saya juga lihat")
    await desk.wait_db(lambda s: _events(s, cid, "context"), what="the neighbour's post stored")
    other_row = await desk.db(lambda s: _tweet_row(s, other))
    for forged in (f"{old_kirim}-{other_row}", f"{old_kirim}-999999", f"{old_kirim}-", f"{old_kirim}-0"):
        answer = await desk.press(DPU, preview, BUDI, forged)
        assert is_alert(answer), (forged, answer)
    # Someone who did not write the draft cannot send it either.
    assert is_alert(await desk.press(DPU, preview, SITI, old_kirim))
    assert desk.x.posted() == []
    assert await desk.count(ReplyOutbox, ReplyOutbox.state == "draft") == 1


async def test_fallback_counts_the_mention_and_the_link(desk: Desk) -> None:
    # 265 characters of reply: fits a thread reply (280), not the fallback post (@name + text + link).
    long_text = ("Terima kasih atas laporannya. " * 9)[:265].strip()
    assert weighted_length(long_text) <= 280
    cid, tid, claimed, prompt = await claimed_prompt(desk, mention=False)
    desk.tg.send_message(DPU, BUDI["id"], long_text, reply_to_message_id=prompt["message_id"])
    whole = weighted_length(fallback_text("warga_blora", long_text, tid))
    refusal = await said(desk, DPU, f"{whole}/280", after=prompt["message_id"])
    assert "@warga" in refusal["text"] and "tautan" in refusal["text"]
    assert await desk.count(ReplyOutbox) == 0
    # A reply that fits: the preview counts what X will count, and Kirim (the fallback) agrees.
    assert not is_alert(await desk.press(DPU, claimed, BUDI, desk.button(claimed, "rp")))
    prompt2 = await said(desk, DPU, "tulis balasan", after=refusal["message_id"])
    desk.tg.send_message(DPU, BUDI["id"], REPLY, reply_to_message_id=prompt2["message_id"])
    preview = await said(desk, DPU, "Pratinjau balasan", after=prompt2["message_id"])
    counted = weighted_length(fallback_text("warga_blora", REPLY, tid))
    assert f"({counted}/280)" in preview["text"]
    assert not is_alert(await desk.press(DPU, preview, BUDI, data_with(preview, "k1:fb:")))
    posted = await desk.wait_for(lambda: desk.x.posted(), what="the fallback post")
    assert weighted_length(posted[0]["text"]) == counted and posted[0]["in_reply_to_tweet_id"] is None
    assert await desk.count(ReplyOutbox, ReplyOutbox.complaint_id == cid, ReplyOutbox.mode == "fallback") == 1


async def _approved_under(s: Any, cid: int) -> str | None:
    from sqlalchemy import select
    e = await s.scalar(select(Event).where(Event.complaint_id == cid, Event.action == "approve_reply"))
    return None if e is None else (e.detail or {}).get("under")


async def _events(s: Any, cid: int, action: str) -> int:
    from sqlalchemy import func, select
    return int(await s.scalar(select(func.count(Event.id)).where(Event.complaint_id == cid,
                                                                Event.action == action)) or 0)


async def _tweet_row(s: Any, x_id: str) -> int:
    from sqlalchemy import select

    from bot.models import Tweet
    return int(await s.scalar(select(Tweet.id).where(Tweet.x_id == x_id)))
