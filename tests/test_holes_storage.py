"""Issue 11 item 5: a failure of the database itself never parks posts nor moves the X cursor.

Parking is for posts whose own content cannot be stored; parked posts are listed by `kemala status`
and retried with `kemala status retry posts [ID]`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import make_services, run_bot
from bot.domain.posts import XTweet
from bot.models import Complaint, Cursor, Tweet
from bot.usecases.intake import _park_tweet
from tests.db_faults import Breaker
from tests.desk_harness import DPU, ROAD, Desk
from tests.test_foundation import run_cli


def _bare(x_id: str, username: str) -> XTweet:
    """Just what parking keeps of a post (its id and author): the retry reads the rest from X."""
    return XTweet(id=x_id, text="", author_id="1", author_username=username, author_name=username,
                  author_verified=False, author_location=None, created_at=datetime.now(UTC), conversation_id=x_id,
                  in_reply_to_tweet_id=None, quoted_tweet_id=None, is_retweet=False, mentions=(), hashtags=(),
                  urls=(), photo_urls=(), place_name=None, edit_history_ids=(x_id,), reply_settings=None, raw={})


PLACES = ["Blora", "Cepu", "Rembang", "Pati", "Kudus", "Jepara", "Demak", "Grobogan", "Sragen", "Wonogiri"]


async def _count(d: Desk, model: Any, *where: Any) -> int:
    async def q(s: Any) -> int:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    return await d.db(q)


@pytest.mark.parametrize("mode", ["full", "readonly"])
async def test_a_burst_during_a_storage_fault_is_all_stored_once_the_database_is_back(
        db_url: str, mode: str) -> None:
    if mode == "full" and db_url.startswith("postgresql"):
        pytest.skip("a full disk is simulated on SQLite (max_page_count); PostgreSQL runs the read-only case")
    d = Desk(db_url, env={"KEMALA_DB_FAILURE_EXIT_SECONDS": "120"})
    await d.setup()
    d.svc = make_services(d.settings())
    breaker = Breaker(d.svc.engine, mode=mode)
    d.stop_event = asyncio.Event()
    d.task = asyncio.create_task(run_bot(d.settings(), stop=d.stop_event, svc=d.svc))
    try:
        await d.wait_for(lambda: any(c["method"] == "deleteWebhook" for c in d.tg.calls()), what="polling")
        await breaker.set(True)
        for place in PLACES:
            d.tweet(f"Jalan provinsi di {place} rusak parah, banyak lubang #KemalaJateng",
                    username=f"warga_{place.lower()}")
        # Several poll cycles run while the database refuses the burst (read-only: the poll lease itself
        # fails; full: the posts are fetched and the page insert fails).
        await asyncio.sleep(3.5)
        if mode == "full":
            assert len([c for c in d.x.calls() if "search" in c["path"] and c["status"] == 200]) >= 2
        await breaker.set(False)
        await d.wait_for(lambda: len(d.cards(DPU)) >= len(PLACES), what="every card", timeout=45)
        assert await _count(d, Complaint) == len(PLACES)
        assert await _count(d, Tweet, Tweet.role == "parked") == 0
        assert sorted(c["text"].count("#") > 0 for c in d.cards(DPU))  # cards were sent, one per complaint
        assert len({c["message_id"] for c in d.cards(DPU)}) == len(PLACES)
        assert await _count(d, Cursor) >= 1  # the cursor moved once the page was stored
    finally:
        await breaker.set(False)
        await d.close()


async def test_parked_posts_are_listed_and_retried_from_the_command_line(db_url: str) -> None:
    d = Desk(db_url)
    await d.setup()
    try:
        tid = d.tweet(ROAD, username="warga_parkir")
        other = d.tweet("Banjir di Demak belum surut #KemalaJateng", username="warga_demak")
        svc = make_services(d.settings())
        try:
            for x_id, who in ((tid, "warga_parkir"), (other, "warga_demak")):
                await _park_tweet(svc.sessions, _bare(x_id, who), "invalid byte sequence for encoding")
        finally:
            await svc.engine.dispose()
        extra = {"KEMALA_X_API_URL": d.x.url, "KEMALA_X_BEARER_TOKEN": "AAAAbearer-test-token",
                 "KEMALA_X_CONSUMER_KEY": "ck-test-consumer", "KEMALA_X_CONSUMER_SECRET": "cs-test-consumer-secret",
                 "KEMALA_X_ACCESS_TOKEN": "1-at-test-access", "KEMALA_X_ACCESS_TOKEN_SECRET": "ats-test-access-secret"}
        listed = await asyncio.to_thread(run_cli, db_url, "status", "--json", extra_env=extra)
        assert listed.returncode == 0, listed.stderr
        report = json.loads(listed.stdout)
        assert sorted(p["id"] for p in report["parked_posts"]) == sorted([tid, other])
        assert "invalid byte sequence" in report["parked_posts"][0]["reason"]
        one = await asyncio.to_thread(run_cli, db_url, "status", "retry", "posts", tid, extra_env=extra)
        assert one.returncode == 0, one.stderr
        assert "1 stored" in one.stdout and "0 still parked" in one.stdout
        assert await _count(d, Complaint, Complaint.tweet_x_id == tid) == 1
        assert await _count(d, Tweet, Tweet.role == "parked") == 1
        rest = await asyncio.to_thread(run_cli, db_url, "status", "retry", "posts", extra_env=extra)
        assert rest.returncode == 0, rest.stderr
        assert await _count(d, Complaint) == 2 and await _count(d, Tweet, Tweet.role == "parked") == 0
        again = await asyncio.to_thread(run_cli, db_url, "status", "retry", "posts", extra_env=extra)
        assert again.returncode == 2 and "no parked posts" in again.stderr
        bad = await asyncio.to_thread(run_cli, db_url, "status", "retry", "posts", "12ab", extra_env=extra)
        assert bad.returncode == 2 and "digits" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        await d.close()
