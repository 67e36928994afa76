"""Pages arrive newest first: a reply can be stored before the tweet it answers, and nothing splits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot import usecases as uc
from bot.domain.posts import DeskAccount, XTweet
from bot.models import Complaint, Event, Tweet
from bot.routing import Router

DESK = DeskAccount(id="1500000000000000001", username="KemalaDesk")
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def tweet(tid: str, text: str, *, author: str = "42", reply_to: str | None = None, conv: str | None = None,
          at: datetime = T0) -> XTweet:
    return XTweet(id=tid, text=text, author_id=author, author_username=f"warga{author}", author_name="Warga",
                  author_verified=False, author_location=None, created_at=at, conversation_id=conv or tid,
                  in_reply_to_tweet_id=reply_to, quoted_tweet_id=None, is_retweet=False,
                  mentions=("kemaladesk",), hashtags=("KemalaJateng",), urls=(), photo_urls=(), place_name=None,
                  edit_history_ids=(tid,), reply_settings="everyone", raw={"id": tid})


async def test_root_arriving_after_its_reply_becomes_the_opener(sessions) -> None:  # type: ignore[no-untyped-def]
    root = tweet("1000000000000000010", "@KemalaDesk Jalan provinsi Blora - Cepu rusak parah #KemalaJateng")
    reply = tweet("1000000000000000020", "@KemalaDesk sampai hari ini belum ada tindakan #KemalaJateng",
                  reply_to=root.id, conv=root.id, at=T0 + timedelta(minutes=5))
    kw = {"desk": DESK, "router": Router.default(), "policy": uc.IngestPolicy()}
    await uc.ingest_tweets(sessions, [reply], **kw)  # page 1 (newest)
    await uc.ingest_tweets(sessions, [root], **kw)  # page 2 (older)
    async with sessions() as s:
        complaints = (await s.scalars(select(Complaint))).all()
        assert len(complaints) == 1
        c = complaints[0]
        assert c.tweet_x_id == root.id and "rusak parah" in c.text and c.followups == 1
        roles = dict((await s.execute(select(Tweet.x_id, Tweet.role))).all())
        assert roles == {root.id: "opening", reply.id: "followup"}
        assert await s.scalar(select(func.count()).where(Event.action == "opener_found")) == 1
