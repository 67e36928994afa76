"""The X side end to end: real tweepy over HTTP against the X sandbox, a real database, the sweeps called directly.

Every test asserts on two records that do not share code: our database rows and the sandbox's own
log of what reached "X" (sb.posted(), sb.calls()).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import commands, jobs
from bot import usecases as uc
from bot.app import bind_triage, make_services
from bot.config import load_settings
from bot.db import unit_of_work
from bot.models import CardOutbox, Complaint, Event, Lease, ReplyOutbox, Tweet, utcnow
from bot.queries import usage_report
from bot.sandbox.x import XSandbox
from bot.services import Services
from bot.usecases import leases

ROOT = Path(__file__).resolve().parent.parent
TRIAGE_CHAT = -100777
STAFF = uc.Staff(id=501, name="Sari", username="sari")
DESK = "KemalaDesk"
# The x usage command may land after this file; the subprocess test waits for it.
X_CLI_WIRED = "x" in commands.COMMANDS

CREDENTIALS = {
    "KEMALA_X_BEARER_TOKEN": "app-bearer",
    "KEMALA_X_CONSUMER_KEY": "consumer-key",
    "KEMALA_X_CONSUMER_SECRET": "consumer-secret",
    "KEMALA_X_ACCESS_TOKEN": "desk-access",
    "KEMALA_X_ACCESS_TOKEN_SECRET": "desk-access-secret",
}


# --- fixtures and helpers --------------------------------------------------------------------------------

@pytest.fixture
def sb() -> Iterator[XSandbox]:
    sandbox = XSandbox(desk_username=DESK, lag_seconds=0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


ServicesFactory = Callable[..., Any]


@pytest.fixture
async def make_svc(db_url: str, sb: XSandbox) -> AsyncIterator[ServicesFactory]:
    """Build Services the way the process does; every one built is disposed at the end."""
    built: list[Services] = []

    async def build(**extra: str) -> Services:
        env = {"KEMALA_DATABASE_URL": db_url, "KEMALA_X_API_URL": sb.url, "KEMALA_X_TIMEOUT_SECONDS": "1",
               "KEMALA_TRIAGE_CHAT_ID": str(TRIAGE_CHAT), **CREDENTIALS, **extra}
        svc = make_services(load_settings(env, env_file=None))
        await bind_triage(svc, TRIAGE_CHAT)
        built.append(svc)
        return svc

    yield build
    for svc in built:
        await svc.engine.dispose()


@pytest.fixture
async def svc(make_svc: ServicesFactory) -> Services:
    result: Services = await make_svc()
    return result


async def poll(svc: Services) -> int:
    """One poll now (a previous error may have set next_poll_at)."""
    svc.x.next_poll_at = None
    return await jobs.poll_x(svc)


async def count(svc: Services, column: Any, *where: Any) -> int:
    async with svc.sessions() as s:
        return int(await s.scalar(select(func.count(column)).where(*where)) or 0)


async def complaint_of(svc: Services, tweet_id: str) -> Complaint:
    async with svc.sessions() as s:
        c = await s.scalar(select(Complaint).where(Complaint.tweet_x_id == tweet_id))
    assert c is not None, f"no complaint for tweet {tweet_id}"
    return c


async def reply_row(svc: Services, reply_id: int) -> ReplyOutbox:
    async with svc.sessions() as s:
        r = await s.get(ReplyOutbox, reply_id)
    assert r is not None
    return r


async def events(svc: Services, action: str, complaint_id: int | None = None) -> list[Event]:
    async with svc.sessions() as s:
        q = select(Event).where(Event.action == action)
        if complaint_id is not None:
            q = q.where(Event.complaint_id == complaint_id)
        return list((await s.scalars(q.order_by(Event.id))).all())


async def seed(svc: Services, sb: XSandbox, *, username: str = "warga_smg",
               text: str = f"@{DESK} jalan rusak berlubang di Jl. Pemuda Kota Semarang #KemalaJateng") -> tuple[str, int]:
    """A citizen tweets, the desk polls: (tweet id, complaint id)."""
    tweet_id = sb.add_tweet(username=username, text=text)
    await poll(svc)
    return tweet_id, (await complaint_of(svc, tweet_id)).id


async def approve(svc: Services, complaint_id: int, text: str) -> int:
    """Claim → prompt → draft → Kirim, through the use cases the handlers call; the reply outbox row id."""
    await uc.claim(svc.sessions, complaint_id=complaint_id, version=None, staff=STAFF)
    await uc.record_prompt(svc.sessions, chat_id=TRIAGE_CHAT, message_id=10_000 + complaint_id,
                           complaint_id=complaint_id, user_id=STAFF.id)
    prompt = await uc.find_prompt(svc.sessions, chat_id=TRIAGE_CHAT, message_id=10_000 + complaint_id)
    assert prompt is not None
    draft = await uc.write_draft(svc.sessions, prompt_id=prompt.id, staff=STAFF, text=text)
    reply = await uc.approve_reply(svc.sessions, complaint_id=complaint_id, draft_id=draft.draft.id,
                                   staff=STAFF, is_admin=True)
    return reply.id


async def make_due(svc: Services) -> int:
    """Pull every pending/unknown reply's next attempt to now (the test does not wait out backoff)."""
    async with unit_of_work(svc.sessions) as s:
        rows = (await s.scalars(select(ReplyOutbox).where(ReplyOutbox.state.in_(["pending", "unknown"])))).all()
        for r in rows:
            r.next_attempt_at = utcnow()
        return len(rows)


async def drain(svc: Services, *, sweeps: int = 8) -> int:
    """Run the reply sweep until no reply is pending or unknown; the number of sweeps it took."""
    for n in range(sweeps):
        if not await make_due(svc):
            return n
        svc.x.posts_paused_until = None
        await jobs.publish_replies(svc)
    raise AssertionError(f"replies still pending or unknown after {sweeps} sweeps")


def api_calls(sb: XSandbox, endpoint: str) -> list[dict[str, Any]]:
    return [c for c in sb.calls() if c["endpoint"] == endpoint]


# --- 1. bursts -------------------------------------------------------------------------------------------

async def test_burst_of_1000_across_ten_pages_is_ingested_exactly_once(svc: Services, sb: XSandbox) -> None:
    ids = [sb.add_tweet(username=f"warga{i:04d}", text=f"jalan rusak di Semarang nomor {i} #KemalaJateng")
           for i in range(1000)]
    newest = max(ids, key=int)

    assert await poll(svc) == 1000

    assert await count(svc, Tweet.id) == 1000
    assert await count(svc, Complaint.id) == 1000
    assert await count(svc, Tweet.id, Tweet.role == "opening") == 1000
    async with svc.sessions() as s:
        per_complaint = (await s.execute(select(CardOutbox.complaint_id, func.count(CardOutbox.id))
                                         .where(CardOutbox.kind == "card").group_by(CardOutbox.complaint_id))).all()
    assert len(per_complaint) == 1000 and {n for _, n in per_complaint} == {1}
    assert await uc.read_cursor(svc.sessions, jobs.CURSOR_SINCE) == newest

    searches = api_calls(sb, "search")
    assert [c["status"] for c in searches] == [200] * 10
    assert {c["query"]["max_results"] for c in searches} == {"100"}
    assert "since_id" not in searches[0]["query"] and "next_token" not in searches[0]["query"]
    assert all("next_token" in c["query"] for c in searches[1:])

    # The next poll asks only for what is newer than the cursor, and stores nothing.
    assert await poll(svc) == 0
    again = api_calls(sb, "search")[10:]
    assert len(again) == 1 and again[0]["query"]["since_id"] == newest
    assert await count(svc, Tweet.id) == 1000
    assert await count(svc, Complaint.id) == 1000
    assert await count(svc, CardOutbox.id, CardOutbox.kind == "card") == 1000


async def test_flood_from_one_author_is_grouped(svc: Services, sb: XSandbox) -> None:
    assert svc.settings.flood_per_hour == 5
    ids = [sb.add_tweet(username="pembanjir", text=f"@{DESK} lampu PJU mati di Kota Semarang titik {i} #KemalaJateng")
           for i in range(8)]
    sb.add_tweet(username="warga_lain", text=f"@{DESK} lampu PJU mati di Kota Semarang juga #KemalaJateng")

    assert await poll(svc) == 9

    assert await count(svc, Complaint.id, Complaint.author_username == "pembanjir") == 5
    assert await count(svc, Complaint.id, Complaint.author_username == "warga_lain") == 1
    assert await count(svc, Tweet.id, Tweet.role == "flood") == 3
    fifth = await complaint_of(svc, ids[4])
    assert fifth.followups == 3
    assert len(await events(svc, "flood_grouped", fifth.id)) == 3
    assert await count(svc, CardOutbox.id, CardOutbox.kind == "card") == 6


# --- 2. restart mid-ingest -------------------------------------------------------------------------------

async def test_restart_mid_ingest_loses_and_duplicates_nothing(make_svc: ServicesFactory, sb: XSandbox) -> None:
    ids = [sb.add_tweet(username=f"warga{i:04d}", text=f"jalan rusak di Semarang nomor {i} #KemalaJateng")
           for i in range(1000)]
    newest = max(ids, key=int)
    first = await make_svc()
    # Two pages go through (a zero delay is a pass-through fault), the third page is a 503.
    sb.fault(endpoint="search", delay_s=0.0, count=2)
    sb.fault(endpoint="search", status=503)

    assert await poll(first) == 200
    assert [c["status"] for c in api_calls(sb, "search")] == [200, 200, 503]
    assert await count(first, Complaint.id) == 200
    assert await uc.read_cursor(first.sessions, jobs.CURSOR_SINCE) is None, "cursor moved before the last page"
    # X's 503 is retried at the very next poll (no back-off beyond the interval).
    assert first.x.poll_in() == 0
    await first.engine.dispose()

    # A restarted process: nothing in memory survives, only the database. The dead process still holds
    # the X poller lease until it expires; the new one waits rather than polling beside a live one.
    second = await make_svc()
    assert second.instance != first.instance
    assert await jobs.poll_x(second) == 0
    assert len(api_calls(sb, "search")) == 3
    async with unit_of_work(second.sessions) as s:  # the lease's time-to-live passes
        lease = await s.get(Lease, leases.X_POLLER)
        assert lease is not None and lease.holder == first.instance
        lease.expires_at = utcnow() - timedelta(seconds=1)
    assert await jobs.poll_x(second) == 800

    assert await count(second, Tweet.id) == 1000
    assert await count(second, Complaint.id) == 1000
    assert await count(second, CardOutbox.id, CardOutbox.kind == "card") == 1000
    async with second.sessions() as s:
        stored = set((await s.scalars(select(Tweet.x_id))).all())
    assert stored == set(ids)
    assert await uc.read_cursor(second.sessions, jobs.CURSOR_SINCE) == newest


async def test_backlog_beyond_the_page_cap_is_resumed_not_skipped(svc: Services, sb: XSandbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A catch-up longer than one poll may read continues where it stopped; the cursor moves only at the end."""
    monkeypatch.setattr(jobs.x_intake, "MAX_PAGES_PER_POLL", 3)
    ids = [sb.add_tweet(username=f"warga{i:04d}", text=f"jalan rusak di Semarang nomor {i} #KemalaJateng")
           for i in range(450)]

    assert await poll(svc) == 300
    assert await uc.read_cursor(svc.sessions, jobs.CURSOR_SINCE) is None
    late = sb.add_tweet(username="warga_telat", text="jalan rusak di Semarang, baru saja #KemalaJateng")
    assert await poll(svc) == 150
    assert await uc.read_cursor(svc.sessions, jobs.CURSOR_SINCE) == max(ids, key=int)
    assert await poll(svc) == 1
    assert await uc.read_cursor(svc.sessions, jobs.CURSOR_SINCE) == late
    assert await count(svc, Complaint.id) == 451
    assert await poll(svc) == 0
    assert len(api_calls(sb, "search")) == 3 + 2 + 1 + 1, "no page is read twice"


async def test_unexpected_search_error_backs_off_and_alerts(svc: Services, sb: XSandbox) -> None:
    sb.add_tweet(username="warga_smg", text="jalan rusak di Semarang #KemalaJateng")
    sb.fault(endpoint="search", status=403)

    assert await jobs.poll_x(svc) == 0
    assert svc.x.poll_in() > 0
    assert svc.x.reads_paused is None
    assert (await _alerts(svc, "x_search_error"))[0] == 1
    assert await poll(svc) == 1


# --- 3. follow-ups, edits, deletions ---------------------------------------------------------------------

async def test_followups_join_their_complaint(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)

    own = sb.add_tweet(username="warga_smg", in_reply_to=tweet_id, text=f"@{DESK} sampai sekarang masih rusak")
    other = sb.add_tweet(username="tetangga", in_reply_to=tweet_id, text=f"@{DESK} benar, saya juga lewat situ")
    await poll(svc)

    assert await count(svc, Complaint.id) == 1
    c = await complaint_of(svc, tweet_id)
    assert c.followups == 1
    assert c.reply_target_x_id == own, "the reply goes under the citizen's latest tweet that mentions the desk"
    async with svc.sessions() as s:
        roles = dict((await s.execute(select(Tweet.x_id, Tweet.role))).all())
    assert roles[own] == "followup" and roles[other] == "context"
    assert len(await events(svc, "followup", cid)) == 1
    assert len(await events(svc, "context", cid)) == 1
    assert await count(svc, CardOutbox.id, CardOutbox.kind == "followup", CardOutbox.complaint_id == cid) == 1


async def test_author_reply_reopens_an_answered_complaint(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    await approve(svc, cid, "Terima kasih, tim DPU sudah dijadwalkan menambal jalan.")
    await drain(svc)
    assert (await complaint_of(svc, tweet_id)).status == "answered"

    # Someone else writing under it is context; only the author reopens.
    sb.add_tweet(username="tetangga", in_reply_to=tweet_id, text=f"@{DESK} terima kasih min")
    await poll(svc)
    assert (await complaint_of(svc, tweet_id)).status == "answered"

    sb.add_tweet(username="warga_smg", in_reply_to=tweet_id, text=f"@{DESK} belum ditambal sampai hari ini")
    await poll(svc)

    c = await complaint_of(svc, tweet_id)
    assert c.status == "routed"
    assert await count(svc, Complaint.id) == 1
    reopen = await events(svc, "reopen", cid)
    assert len(reopen) == 1 and reopen[0].from_status == "answered" and reopen[0].to_status == "routed"
    async with svc.sessions() as s:
        cards = (await s.scalars(select(CardOutbox).where(CardOutbox.complaint_id == cid,
                                                          CardOutbox.kind == "card"))).all()
    assert len(cards) == 2 and [card.superseded for card in cards].count(False) == 1


async def test_author_answering_the_desk_reply_reopens(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    await approve(svc, cid, "Terima kasih, tim DPU sudah dijadwalkan menambal jalan.")
    await drain(svc)
    ours = sb.posted()[0]["id"]

    # The citizen answers under the desk's reply (a tweet we never ingest: our own posts are excluded).
    sb.add_tweet(username="warga_smg", in_reply_to=ours, text=f"@{DESK} tapi sampai sekarang belum ditambal")
    await poll(svc)

    assert (await complaint_of(svc, tweet_id)).status == "routed"
    assert await count(svc, Complaint.id) == 1
    assert len(await events(svc, "reopen", cid)) == 1


async def test_edited_tweet_updates_its_complaint(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    edited_text = f"@{DESK} jalan rusak berlubang besar di Jl. Pemuda 12 Kota Semarang #KemalaJateng"
    edit_id = sb.add_tweet(username="warga_smg", text=edited_text, edit_of=tweet_id)

    await poll(svc)

    assert await count(svc, Complaint.id) == 1
    c = await complaint_of(svc, tweet_id)
    assert c.edited is True and c.text == edited_text
    async with svc.sessions() as s:
        row = await s.scalar(select(Tweet).where(Tweet.x_id == edit_id))
    assert row is not None and row.role == "edit" and row.complaint_id == cid
    assert len(await events(svc, "edited", cid)) == 1


async def test_second_edit_updates_the_complaint_again(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    first = sb.add_tweet(username="warga_smg", edit_of=tweet_id,
                         text=f"@{DESK} jalan rusak berlubang di Jl. Pemuda 12 Kota Semarang #KemalaJateng")
    await poll(svc)
    second_text = f"@{DESK} jalan rusak berlubang dalam di Jl. Pemuda 12 Kota Semarang #KemalaJateng"
    sb.add_tweet(username="warga_smg", edit_of=first, text=second_text)
    await poll(svc)

    c = await complaint_of(svc, tweet_id)
    assert c.text == second_text and c.edited is True
    assert await count(svc, Complaint.id) == 1
    assert len(await events(svc, "edited", cid)) == 2


async def test_deleted_tweet_marks_complaint_and_cancels_pending_reply(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    kept_id, kept_cid = await seed(svc, sb, username="warga_solo",
                                   text=f"@{DESK} bus Trans Jateng koridor Solo - Sragen sering telat #KemalaJateng")
    reply_id = await approve(svc, cid, "Laporan diterima, petugas segera meninjau lokasi.")
    sb.delete_tweet(tweet_id)

    assert await jobs.check_deleted(svc) == 1

    c = await complaint_of(svc, tweet_id)
    assert c.deleted is True and c.status == "claimed"
    r = await reply_row(svc, reply_id)
    assert r.state == "cancelled" and r.last_error == "tweet deleted"
    assert (await complaint_of(svc, kept_id)).deleted is False
    assert len(await events(svc, "tweet_deleted", cid)) == 1
    lookups = api_calls(sb, "lookup")
    assert len(lookups) == 1 and set(lookups[0]["query"]["ids"].split(",")) == {tweet_id, kept_id}

    await jobs.publish_replies(svc)
    assert sb.posted() == []
    assert api_calls(sb, "post") == []
    # A second check does not mark it again.
    assert await jobs.check_deleted(svc) == 0
    assert kept_cid != cid


# --- 4. replies, exactly once, per fault -----------------------------------------------------------------

REPLY = "Terima kasih laporannya, tim DPU menambal lubang besok pagi."


def _no_fault(sb: XSandbox) -> None:
    return None


FAULTS: dict[str, tuple[Callable[[XSandbox], None], str, int]] = {
    # name: (inject, reply state after the first sweep, tweets on X after the first sweep)
    "none": (_no_fault, "posted", 1),
    "429_with_reset": (lambda sb: sb.fault(endpoint="post", status=429, reset_in_s=60), "pending", 0),
    "429_without_reset": (lambda sb: sb.fault(endpoint="post", status=429, reset_header=False), "pending", 0),
    "500": (lambda sb: sb.fault(endpoint="post", status=500), "unknown", 0),
    "503": (lambda sb: sb.fault(endpoint="post", status=503), "unknown", 0),
    "503_after_commit": (lambda sb: sb.fault(endpoint="post", status=503, after_commit=True), "unknown", 1),
    "timeout": (lambda sb: sb.fault(endpoint="post", timeout_s=3), "unknown", 0),
    "timeout_after_commit": (lambda sb: sb.fault(endpoint="post", timeout_s=3, after_commit=True), "unknown", 1),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_reply_is_posted_exactly_once(svc: Services, sb: XSandbox, fault: str) -> None:
    inject, first_state, first_posted = FAULTS[fault]
    tweet_id, cid = await seed(svc, sb)
    reply_id = await approve(svc, cid, REPLY)
    inject(sb)

    before = utcnow()
    await jobs.publish_replies(svc)

    r = await reply_row(svc, reply_id)
    assert r.state == first_state
    assert len(sb.posted()) == first_posted
    if fault == "429_with_reset":
        # Our own 429 handling: the next attempt waits for the reset X named (60 s), not a short backoff.
        assert r.next_attempt_at >= before + timedelta(seconds=50)
        assert r.last_error == "rate_limited"
    if fault == "429_without_reset":
        assert before < r.next_attempt_at <= utcnow() + timedelta(seconds=10)
        assert r.last_error == "rate_limited"

    await drain(svc)

    posted = sb.posted()
    assert len(posted) == 1
    assert posted[0]["in_reply_to_tweet_id"] == tweet_id and posted[0]["text"] == REPLY
    r = await reply_row(svc, reply_id)
    assert r.state == "posted" and r.posted_x_id == posted[0]["id"]
    c = await complaint_of(svc, tweet_id)
    assert c.status == "answered" and c.reply_x_id == posted[0]["id"]
    answered = await events(svc, "reply_posted", cid)
    assert len(answered) == 1
    assert answered[0].detail.get("adopted", False) is fault.endswith("after_commit")

    calls = [c["endpoint"] for c in sb.calls() if c["endpoint"] in ("post", "user_tweets")]
    if first_state == "unknown":
        # Reconcile before any second attempt: our timeline is read before the next POST, if any.
        assert calls[0] == "post" and calls[1] == "user_tweets"
    assert calls.count("post") == (1 if fault == "none" or fault.endswith("after_commit") else 2)


async def test_outage_posts_nothing_while_on_and_once_after(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    reply_id = await approve(svc, cid, REPLY)
    sb.set_outage(True)

    for _ in range(3):
        await make_due(svc)
        await jobs.publish_replies(svc)
    assert sb.posted() == []
    r = await reply_row(svc, reply_id)
    assert r.state == "unknown", "an unanswered POST is 'unknown' until reconciled"
    # While X is down, reconciliation fails and the reply is not posted again blindly.
    assert len(api_calls(sb, "post")) == 1

    sb.set_outage(False)
    await drain(svc)

    assert len(sb.posted()) == 1 and sb.posted()[0]["in_reply_to_tweet_id"] == tweet_id
    assert (await reply_row(svc, reply_id)).state == "posted"
    assert (await complaint_of(svc, tweet_id)).status == "answered"


async def test_duplicate_403_adopts_our_earlier_reply(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    reply_id = await approve(svc, cid, REPLY)
    # The desk already said exactly this under the citizen's tweet (say, from a previous process).
    earlier = sb.add_tweet(username=DESK, text=REPLY, in_reply_to=tweet_id)

    await drain(svc)

    assert sb.posted() == []
    assert [c["status"] for c in api_calls(sb, "post")] == [403]
    r = await reply_row(svc, reply_id)
    assert r.state == "posted" and r.posted_x_id == earlier
    c = await complaint_of(svc, tweet_id)
    assert c.status == "answered" and c.reply_x_id == earlier


async def test_duplicate_403_elsewhere_is_rejected_not_retried(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    reply_id = await approve(svc, cid, REPLY)
    sb.add_tweet(username=DESK, text=REPLY)  # the same words, but standalone: not our reply to this tweet

    await drain(svc)

    assert sb.posted() == []
    assert len(api_calls(sb, "post")) == 1
    r = await reply_row(svc, reply_id)
    assert r.state == "rejected" and r.last_error == "duplicate"
    c = await complaint_of(svc, tweet_id)
    assert c.status == "claimed" and c.rejected_reason == "duplicate"


async def test_restriction_403_is_rejected_with_reason_shown(svc: Services, sb: XSandbox) -> None:
    # No @mention of the desk: X does not let a self-serve app reply in the thread.
    tweet_id, cid = await seed(svc, sb, text="jalan rusak berlubang di Jl. Pemuda Kota Semarang #KemalaJateng")
    c = await complaint_of(svc, tweet_id)
    assert c.reply_eligible is False
    await uc.claim(svc.sessions, complaint_id=cid, version=None, staff=STAFF)
    await uc.record_prompt(svc.sessions, chat_id=TRIAGE_CHAT, message_id=1, complaint_id=cid, user_id=STAFF.id)
    prompt = await uc.find_prompt(svc.sessions, chat_id=TRIAGE_CHAT, message_id=1)
    assert prompt is not None
    draft = await uc.write_draft(svc.sessions, prompt_id=prompt.id, staff=STAFF, text=REPLY)
    with pytest.raises(uc.Refused) as refused:
        await uc.approve_reply(svc.sessions, complaint_id=cid, draft_id=draft.draft.id,
                               staff=STAFF, is_admin=True, fallback=False)
    assert refused.value.key == "alert.not_eligible"

    # A row that reached the outbox anyway (an older process, a changed policy): X has the last word.
    async with unit_of_work(svc.sessions) as s:
        row = await s.get(ReplyOutbox, draft.draft.id)
        complaint = await s.get(Complaint, cid)
        assert row is not None and complaint is not None
        row.state, row.in_reply_to, row.next_attempt_at = "pending", tweet_id, utcnow()
        complaint.status = "approved"

    await drain(svc)

    assert sb.posted() == []
    assert [c["status"] for c in api_calls(sb, "post")] == [403]
    r = await reply_row(svc, draft.draft.id)
    assert r.state == "rejected" and r.last_error == "not_mentioned"
    c = await complaint_of(svc, tweet_id)
    assert c.status == "claimed" and c.rejected_reason == "not_mentioned"
    assert c.reply_eligible is False  # the next draft offers the fallback, not another in-thread Kirim
    async with svc.sessions() as s:
        notices = (await s.scalars(select(CardOutbox).where(CardOutbox.complaint_id == cid,
                                                            CardOutbox.kind == "notice"))).all()
    assert len(notices) == 1 and notices[0].chat_id == TRIAGE_CHAT and "not_mentioned" in (notices[0].text or "")


async def test_reply_to_a_deleted_tweet_is_rejected_and_marks_it_deleted(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    reply_id = await approve(svc, cid, REPLY)
    sb.delete_tweet(tweet_id)  # gone before the periodic lookup noticed

    await drain(svc)

    assert sb.posted() == []
    assert len(api_calls(sb, "post")) == 1
    r = await reply_row(svc, reply_id)
    assert r.state == "rejected" and (r.last_error or "").startswith("target_gone")
    c = await complaint_of(svc, tweet_id)
    assert c.deleted is True and c.status == "claimed"
    assert len(await events(svc, "tweet_deleted", cid)) == 1


# --- 5. reads: usage cap, 402, 401, 429 ------------------------------------------------------------------

async def _alerts(svc: Services, kind: str) -> tuple[int, int]:
    ev = [e for e in await events(svc, "alert") if e.detail.get("kind") == kind]
    notices = await count(svc, CardOutbox.id, CardOutbox.kind == "notice", CardOutbox.chat_id == TRIAGE_CHAT)
    return len(ev), notices


@pytest.mark.parametrize(("inject", "kind"), [
    (lambda sb: sb.fault(endpoint="search", usage_cap=True), "usage_capped"),
    (lambda sb: sb.fault(endpoint="search", status=402), "payment_required"),
])
async def test_usage_cap_and_402_stop_polling_with_an_alert(svc: Services, sb: XSandbox,
                                                           inject: Callable[[XSandbox], None], kind: str) -> None:
    sb.add_tweet(username="warga_smg", text="jalan rusak di Semarang #KemalaJateng")
    inject(sb)

    assert await poll(svc) == 0
    assert svc.x.reads_paused == kind
    assert await _alerts(svc, kind) == (1, 1)
    searches = len(api_calls(sb, "search"))
    assert searches == 1

    for _ in range(3):
        assert await poll(svc) == 0
    assert len(api_calls(sb, "search")) == searches, "polling must stop, not hammer X"
    assert await jobs.check_deleted(svc) == 0
    assert await count(svc, Complaint.id) == 0
    assert await _alerts(svc, kind) == (1, 1), "one alert, not one per poll"


async def test_401_pauses_reads_and_keeps_queued_replies(svc: Services, sb: XSandbox) -> None:
    tweet_id, cid = await seed(svc, sb)
    reply_id = await approve(svc, cid, REPLY)
    sb.configure({"revoked_tokens": [CREDENTIALS["KEMALA_X_BEARER_TOKEN"], CREDENTIALS["KEMALA_X_ACCESS_TOKEN"]]})
    sb.add_tweet(username="warga_solo", text="sampah menumpuk di Kota Surakarta #KemalaJateng")

    assert await poll(svc) == 0
    assert svc.x.reads_paused == "unauthorized"
    assert (await _alerts(svc, "unauthorized"))[0] == 1

    await jobs.publish_replies(svc)
    r = await reply_row(svc, reply_id)
    assert r.state == "pending" and r.last_error == "unauthorized"
    assert svc.x.posts_pause_in() > 0
    assert (await _alerts(svc, "x_post_unauthorized"))[0] == 1
    posts = len(api_calls(sb, "post"))
    await make_due(svc)
    await jobs.publish_replies(svc)
    assert len(api_calls(sb, "post")) == posts, "posting waits while the credentials are refused"
    assert (await reply_row(svc, reply_id)).state == "pending"

    # An admin renews the token: the queued reply goes out, once.
    sb.configure({"revoked_tokens": []})
    await drain(svc)
    assert len(sb.posted()) == 1 and sb.posted()[0]["in_reply_to_tweet_id"] == tweet_id
    assert (await reply_row(svc, reply_id)).state == "posted"


@pytest.mark.parametrize("reset_header", [True, False])
async def test_search_429_waits_for_reset(svc: Services, sb: XSandbox, reset_header: bool) -> None:
    sb.add_tweet(username="warga_smg", text="jalan rusak di Semarang #KemalaJateng")
    sb.fault(endpoint="search", status=429, reset_header=reset_header, reset_in_s=120)

    before = time.time()
    assert await poll(svc) == 0
    assert svc.x.reads_paused is None
    wait = svc.x.poll_in()  # monotonic seconds from now
    if reset_header:
        expected = math.ceil(before) + 120 - time.time()
        assert abs(wait - expected) <= 1.5  # the header is whole seconds, counted from the request
    else:
        assert 55 <= wait <= 65

    # Until then, no search call at all.
    assert await jobs.poll_x(svc) == 0
    assert len(api_calls(sb, "search")) == 1
    # After the reset, the poll goes through.
    assert await poll(svc) == 1
    assert await count(svc, Complaint.id) == 1


# --- 6. the cost meter -----------------------------------------------------------------------------------

async def _usage_scenario(svc: Services, sb: XSandbox) -> dict[str, int]:
    """150 tweets over two pages, one empty poll, two replies: what X has seen, counted by the test."""
    for i in range(148):
        sb.add_tweet(username=f"warga{i:04d}", text=f"jalan rusak di Semarang nomor {i} #KemalaJateng")
    t1, c1 = await seed(svc, sb, username="warga_a")
    t2, c2 = await seed(svc, sb, username="warga_b",
                        text=f"@{DESK} bus Trans Jateng koridor Solo - Sragen sering telat #KemalaJateng")
    await poll(svc)  # nothing new
    await approve(svc, c1, REPLY)
    await approve(svc, c2, "Laporan diteruskan ke DLHK Surakarta, terima kasih.")
    await drain(svc)
    assert len(sb.posted()) == 2
    assert await count(svc, Complaint.id) == 150
    # The two seeded posts @mention the desk: they come from the mentions timeline (owned reads), and the
    # replies under them are summoned replies.
    return {"posts_read": 148, "owned_reads": 2, "posts_created": 2, "summoned_replies": 2,
            "requests": len(sb.calls())}


EXPECTED_USD = 148 * 0.005 + 2 * 0.001 + 2 * 0.010


async def test_usage_report_matches_what_was_sent(svc: Services, sb: XSandbox) -> None:
    expected = await _usage_scenario(svc, sb)

    report = await usage_report(svc.sessions, svc.settings, jobs.month_of(utcnow()))

    assert report["posts_read"] == expected["posts_read"]
    assert report["posts_created"] == expected["posts_created"]
    assert report["posts_with_url"] == 0 and report["owned_reads"] == expected["owned_reads"]
    assert report["summoned_replies"] == expected["summoned_replies"]
    assert report["requests"] == expected["requests"]
    assert report["estimated_usd"] == pytest.approx(EXPECTED_USD)


async def test_budget_alerts_and_slows_polling_but_never_blocks_replies(make_svc: ServicesFactory,
                                                                        sb: XSandbox) -> None:
    svc = await make_svc(KEMALA_X_MONTHLY_BUDGET_USD="0.10", KEMALA_X_BUDGET_FLOOR_SECONDS="600")
    for i in range(24):
        sb.add_tweet(username=f"warga{i:04d}", text=f"jalan rusak di Semarang nomor {i} #KemalaJateng")
    tweet_id, cid = await seed(svc, sb)  # 24 post reads and one owned read: $0.121 of a $0.10 budget

    assert (await _alerts(svc, f"budget80:{jobs.month_of(utcnow())}"))[0] == 1
    assert svc.x.poll_in() > 590
    searches = len(api_calls(sb, "search"))
    assert await jobs.poll_x(svc) == 0
    assert len(api_calls(sb, "search")) == searches

    await approve(svc, cid, REPLY)
    await jobs.publish_replies(svc)
    assert len(sb.posted()) == 1


@pytest.mark.skipif(not X_CLI_WIRED, reason="`kemala x usage` is not registered in bot.commands.COMMANDS yet")
async def test_x_usage_cli_json_matches_what_was_sent(svc: Services, sb: XSandbox, db_url: str,
                                                      tmp_path: Path) -> None:
    expected = await _usage_scenario(svc, sb)
    await svc.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env.update({"KEMALA_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)})  # and no X credentials at all

    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "x", "usage", "--json", cwd=tmp_path,
                                                env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)

    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["posts_read"] == expected["posts_read"]
    assert report["posts_created"] == expected["posts_created"]
    assert report["summoned_replies"] == expected["summoned_replies"]
    assert report["estimated_usd"] == pytest.approx(EXPECTED_USD)
