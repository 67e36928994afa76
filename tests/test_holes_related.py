"""Issue 11 item 8: another citizen's hashtagged reply or quote is a complaint of its own, linked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.models import Complaint, Tweet
from tests.desk_harness import DPU, ROAD, Desk

SAME = "Sama, di Purwodadi juga jembatan retak dan jalan provinsi berlubang #KemalaJateng"


async def _complaints(desk: Desk) -> list[Complaint]:
    async def q(s: Any) -> list[Complaint]:
        return list((await s.scalars(select(Complaint).order_by(Complaint.id))).all())
    return await desk.db(q)


@pytest.mark.parametrize("how", ["reply", "quote"])
async def test_a_second_citizens_hashtag_post_is_its_own_complaint_linked_on_both_cards(desk: Desk, how: str) -> None:
    first_tweet = desk.tweet(ROAD, username="warga_blora")
    first_card = await desk.card(DPU, containing="@warga_blora")
    link = {"in_reply_to": first_tweet} if how == "reply" else {"quote_of": first_tweet}
    second_tweet = desk.tweet(SAME, username="warga_purwodadi", **link)
    second_card = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) + desk.tg.messages(-1009000000001)
                                                    if m["from_bot"] and "@warga_purwodadi" in (m.get("text") or "")
                                                    and "k1:" in str(m.get("reply_markup"))), None),
                                      what="the second citizen's card")
    first, second = await _complaints(desk)
    assert (first.tweet_x_id, second.tweet_x_id) == (first_tweet, second_tweet)
    assert second.author_username == "warga_purwodadi" and second.related_to_id == first.id
    assert f"terkait #{first.id}" in second_card["text"]
    await desk.wait_for(lambda: f"terkait #{second.id}" in desk.message(DPU, first_card["message_id"])["text"],
                        what="the first card to show the link")
    assert first.followups == 0  # not counted as the first citizen's follow-up

    # The second citizen's own follow-up joins their complaint; a comment without the hashtag (found
    # through its desk mention) stays context of the first.
    desk.tweet("Tolong segera ya #KemalaJateng", username="warga_purwodadi", in_reply_to=second_tweet)
    desk.tweet("@KemalaDesk wah parah", username="warga_lain", in_reply_to=first_tweet)

    async def roles(s: Any) -> dict[str, tuple[str, int | None]]:
        return {t.author_username: (t.role, t.complaint_id) for t in (await s.scalars(select(Tweet))).all()
                if t.author_username in ("warga_lain",) or t.text.startswith("Tolong")}
    got = await desk.wait_db(lambda s: _two(roles, s), what="follow-up and context stored")
    assert got["warga_lain"] == ("context", first.id)
    assert got["warga_purwodadi"] == ("followup", second.id)
    assert len(await _complaints(desk)) == 2


async def _two(fn: Any, s: Any) -> Any:
    got = await fn(s)
    return got if len(got) == 2 else None
