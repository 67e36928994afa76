"""Photos and video on the card, end to end: the real bot against the Telegram and X sandboxes.

Assertions count what the Telegram sandbox shows (card texts, photo messages, albums and what they
reply to) and the outbox rows: each picture is sent once, after its card, within the group's limits.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.outbox import CardKind, CardState
from bot.models import CardOutbox
from tests.desk_harness import DPU, ROAD, TRIAGE, Desk

pytestmark = pytest.mark.slow


def _pictures(desk: Desk, chat: int) -> list[dict[str, Any]]:
    return desk.tg.photos(chat)


async def _photo_rows(desk: Desk) -> list[CardOutbox]:
    async def q(s: Any) -> list[CardOutbox]:
        return list((await s.scalars(select(CardOutbox).where(CardOutbox.kind == CardKind.PHOTO)
                                     .order_by(CardOutbox.id))).all())
    return await desk.db(q)


async def test_photos_follow_their_card_as_one_album_and_a_single_photo(desk: Desk) -> None:
    desk.x.add_tweet(username="warga_blora", text=f"@KemalaDesk {ROAD}",
                     media=[{"type": "photo", "alt_text": "Lubang besar di tengah jalan"},
                            {"type": "photo"}, {"type": "photo"}])
    card = await desk.card(DPU, containing="Blora")
    album = (await desk.wait_for(lambda: _pictures(desk, DPU), what="the album"))[0]
    assert album["kind"] == "album" and len(album["message_ids"]) == 3
    assert album["reply_to_message_id"] == card["message_id"]  # under its card, never before it
    assert min(album["message_ids"]) > card["message_id"]
    assert "Lubang besar di tengah jalan" in (album["captions"][0] or "")
    assert "1/3" in (album["captions"][0] or "") and "3/3" in (album["captions"][2] or "")
    assert "foto 1" in card["text"] and "foto 3" in card["text"]  # the card links them too

    desk.x.add_tweet(username="warga_cepu", text="Jalan provinsi Cepu - Randublatung rusak #KemalaJateng",
                     photos=1)
    single = await desk.wait_for(lambda: _pictures(desk, DPU)[1:], what="a single photo")
    assert single[0]["kind"] == "photo" and len(single[0]["message_ids"]) == 1
    rows = await _photo_rows(desk)
    assert [r.state for r in rows] == [CardState.SENT, CardState.SENT]
    # Nothing twice: one album and one photo, whatever the sweeps did since.
    await desk.wait_for(lambda: len(desk.cards(DPU)) == 2, what="two cards")
    assert len(_pictures(desk, DPU)) == 2


async def test_ten_photos_and_a_video_with_its_preview_and_link(desk: Desk) -> None:
    desk.tweet(ROAD, mention=True, media=[{"type": "video", "alt_text": "rekaman jalan"}] + [{"type": "photo"}] * 9)
    card = await desk.card(DPU)
    album = (await desk.wait_for(lambda: _pictures(desk, DPU), what="the album"))[0]
    assert len(album["message_ids"]) == 10 and album["reply_to_message_id"] == card["message_id"]
    assert "video_thumb" in album["sources"][0]  # the video's still, not the video
    assert "Video" in (album["captions"][0] or "") and "rekaman jalan" in (album["captions"][0] or "")
    assert "video 1" in card["text"]


async def test_a_photo_telegram_refuses_becomes_a_link_and_the_card_stays(desk: Desk) -> None:
    desk.tg.configure(refused_urls=["pbs.twimg.com/media/"])
    desk.tweet(ROAD, mention=True, photos=2)
    card = await desk.card(DPU)
    links = await desk.wait_for(lambda: [m for m in desk.tg.messages(DPU) if "Lampiran aduan" in (m["text"] or "")],
                                what="the links message")
    assert links[0]["reply_to_message_id"] == card["message_id"]
    assert "foto 1" in links[0]["text"] and "foto 2" in links[0]["text"]
    assert _pictures(desk, DPU) == []
    rows = await _photo_rows(desk)
    assert len(rows) == 1 and rows[0].state == CardState.SENT and (rows[0].text or "").startswith("links:")
    assert len(desk.cards(DPU)) == 1


async def test_an_album_hitting_429_is_sent_once_later(desk: Desk) -> None:
    desk.tg.fault("sendMediaGroup", status=429, retry_after=1)
    desk.tweet(ROAD, mention=True, photos=4)
    card = await desk.card(DPU)
    album = await desk.wait_for(lambda: _pictures(desk, DPU), what="the album", timeout=20)
    assert album[0]["reply_to_message_id"] == card["message_id"]
    refused = [c for c in desk.tg.calls() if c["method"] == "sendMediaGroup" and not c["ok"]]
    assert len(refused) == 1 and refused[0]["error_code"] == 429
    await desk.wait_for(lambda: len([c for c in desk.tg.calls() if c["method"] == "sendMediaGroup" and c["ok"]]),
                        what="the retried album")
    assert len(_pictures(desk, DPU)) == 1


async def test_photos_setting_links_sends_no_pictures(db_url: str) -> None:
    d = Desk(db_url, env={"KEMALA_PHOTOS": "links"})
    await d.setup()
    await d.start_bot()
    try:
        d.tweet(ROAD, mention=True, photos=3)
        card = await d.card(DPU)
        assert "foto 3" in card["text"]
        other = d.tweet("Jalan provinsi Cepu - Randublatung rusak #KemalaJateng")
        assert other
        await d.wait_for(lambda: len(d.cards(DPU)) == 2, what="the second card")
        assert d.tg.photos() == [] and await _photo_rows(d) == []
    finally:
        await d.close()


async def test_a_missing_media_key_leaves_the_card_and_the_other_photos(desk: Desk) -> None:
    desk.tweet(ROAD, mention=True, media=[{"type": "photo", "missing": True}, {"type": "photo"}])
    card = await desk.card(DPU)
    assert "lampiran 1 (lihat di X)" in card["text"]
    single = await desk.wait_for(lambda: _pictures(desk, DPU), what="the one photo X described")
    assert single[0]["kind"] == "photo"
    assert not [m for m in desk.tg.messages(TRIAGE) if "Blora" in (m["text"] or "")]


async def test_an_album_to_a_group_that_removed_the_bot_is_parked_not_retried(desk: Desk) -> None:
    desk.tg.fault("sendMediaGroup", status=403)
    desk.tweet(ROAD, mention=True, photos=3)
    await desk.card(DPU)

    async def parked(s: Any) -> bool:
        rows = (await s.scalars(select(CardOutbox).where(CardOutbox.kind == CardKind.PHOTO))).all()
        return bool(rows) and all(r.state == CardState.PARKED for r in rows)
    await desk.wait_db(parked, what="the album row parked")
    tries = [c for c in desk.tg.calls() if c["method"] == "sendMediaGroup"]
    assert len(tries) == 1 and _pictures(desk, DPU) == []
