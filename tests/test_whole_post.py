# ruff: noqa: F811  (the fixtures imported from test_x_pipeline are parameters here)
"""Intake I on the X side: the whole long post, quotes, reposts, mentions as owned reads, the bill by class.

Real tweepy over HTTP against the X sandbox and a real database; assertions on stored rows and on the
sandbox's own records (calls, posted tweets, its billing ledger).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot import jobs
from bot import usecases as uc
from bot.db import unit_of_work
from bot.domain.posts import MediaKind, media_of
from bot.models import Complaint, Tweet, XRead, XUsage, utcnow
from bot.queries import build_view, usage_report
from bot.sandbox.x import XSandbox
from bot.services import Services
from bot.telegram.cards import render_card
from bot.telegram.text import TELEGRAM_TEXT_LIMIT, visible_utf16_len
from tests.test_x_pipeline import (  # noqa: F401  (fixtures)
    DESK,
    ROOT,
    STAFF,
    TRIAGE_CHAT,
    api_calls,
    complaint_of,
    count,
    drain,
    make_svc,
    poll,
    sb,
    svc,
)

TAIL_ROAD = "Intinya jalan provinsi ruas Blora - Cepu rusak parah dan berlubang, mohon segera diperbaiki."


def long_text(words: int, tail: str) -> str:
    """A Premium-length complaint whose routing words are only in its tail (past X's 280-character cut)."""
    filler = " ".join(f"kemarin{i} saya lewat dan melihat sendiri keadaannya" for i in range(words))
    return f"Selamat pagi admin. {filler}. {tail} #KemalaJateng"


async def approve(svc: Services, complaint_id: int, text: str, *, fallback: bool = False) -> int:
    """Claim → prompt → draft → Kirim (as a standalone post when `fallback`), through the use cases."""
    await uc.claim(svc.sessions, complaint_id=complaint_id, version=None, staff=STAFF)
    await uc.record_prompt(svc.sessions, chat_id=TRIAGE_CHAT, message_id=10_000 + complaint_id,
                           complaint_id=complaint_id, user_id=STAFF.id)
    prompt = await uc.find_prompt(svc.sessions, chat_id=TRIAGE_CHAT, message_id=10_000 + complaint_id)
    assert prompt is not None
    draft = await uc.write_draft(svc.sessions, prompt_id=prompt.id, staff=STAFF, text=text)
    reply = await uc.approve_reply(svc.sessions, complaint_id=complaint_id, draft_id=draft.draft.id,
                                   staff=STAFF, is_admin=True, fallback=fallback)
    return reply.id


async def _card_text(svc: Services, c: Complaint) -> str:
    async with svc.sessions() as s:
        row = await s.get(Complaint, c.id)
        assert row is not None
        view = await build_view(s, row, None, desk_username=DESK)
    return render_card(view, now=utcnow())


# --- 1. the whole post -----------------------------------------------------------------------------------

async def test_long_post_is_stored_routed_and_shown_whole(svc: Services, sb: XSandbox) -> None:
    text = long_text(40, TAIL_ROAD)
    assert len(text) > 1500
    tid = sb.add_tweet(username="warga_blora", text=text)

    assert await poll(svc) == 1
    c = await complaint_of(svc, tid)
    # Without note_tweet the complaint would be the first 280 characters, which name no agency.
    assert c.text == text
    assert c.routing_agency == "dpubmck"
    search = api_calls(sb, "search")[-1]
    assert "note_tweet" in search["query"]["tweet.fields"].split(",")
    card = await _card_text(svc, c)
    assert "Blora - Cepu rusak parah" in card  # 2,000 characters fit on one card


async def test_25000_character_post_with_html_rtl_and_zero_width_is_cut_at_a_word(svc: Services,
                                                                                 sb: XSandbox) -> None:
    unit = "<b>jalan</b> &amp; \u202erusak\u202c\u200b berlubang\u200d di Semarang, "
    text = (unit * 600)[:24_950] + " #KemalaJateng"
    tid = sb.add_tweet(username="warga_smg", text=text)

    assert await poll(svc) == 1
    c = await complaint_of(svc, tid)
    assert c.text == text  # stored whole for the board, HTML and all
    card = await _card_text(svc, c)
    assert visible_utf16_len(card) <= TELEGRAM_TEXT_LIMIT
    assert "… (selengkapnya di X)" in card
    assert "\u202e" not in card and "<b>jalan" not in card  # no bidi override, no live HTML
    body = card.split("<blockquote expandable>")[1].split("</blockquote>")[0]
    before = body.removesuffix("… (selengkapnya di X)")
    assert before != body and before.rstrip() == before  # cut at a word, not inside one
    assert text.replace("<", "&lt;").replace(">", "&gt;")  # (the stored text keeps its HTML as written)


# --- 3. quotes and reposts -------------------------------------------------------------------------------

async def test_quote_post_routes_on_the_quoted_text_and_shows_it(svc: Services, sb: XSandbox) -> None:
    news = sb.add_tweet(username="berita_jateng", text="Jalan provinsi Blora - Cepu rusak parah, banyak lubang.")
    tid = sb.add_tweet(username="warga_cepu", text="Ini kapan diperbaiki? #KemalaJateng", quote_of=news)

    assert await poll(svc) == 1
    c = await complaint_of(svc, tid)
    assert (c.quoted_x_id, c.quoted_author) == (news, "berita_jateng")
    assert c.quoted_text == "Jalan provinsi Blora - Cepu rusak parah, banyak lubang."
    assert c.routing_agency == "dpubmck"  # the quote alone names nothing
    card = await _card_text(svc, c)
    assert "💬 Mengutip @berita_jateng:" in card and "Blora - Cepu rusak parah" in card


async def test_quote_of_a_deleted_post_stands_alone(svc: Services, sb: XSandbox,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    gone = sb.add_tweet(username="akun_hapus", text="Jembatan di Sragen ambrol")
    tid = sb.add_tweet(username="warga_sragen", text="Tolong ditindak lanjuti #KemalaJateng", quote_of=gone)
    sb.delete_tweet(gone)

    with caplog.at_level(logging.INFO, logger="bot.twitter_bridge"):
        assert await poll(svc) == 1
    c = await complaint_of(svc, tid)
    assert c.quoted_x_id == gone and c.quoted_text is None
    assert "💬 Mengutip postingan yang sudah tidak ada di X." in await _card_text(svc, c)
    assert any(gone in r.getMessage() and "no longer" in r.getMessage() for r in caplog.records)


async def test_a_repost_is_never_a_complaint_and_its_count_reaches_the_card(svc: Services, sb: XSandbox) -> None:
    tid = sb.add_tweet(username="warga_blora", text="Jalan provinsi Blora - Cepu rusak parah #KemalaJateng")
    assert await poll(svc) == 1
    c = await complaint_of(svc, tid)
    assert not c.retweet_count

    reposts = [sb.repost(f"teman{i}", tid) for i in range(3)]
    await poll(svc)
    # A repost through any path (here the bridge parses one directly) opens nothing.
    assert svc.bridge is not None
    parsed = svc.bridge.lookup_tweets(reposts[:1])
    assert parsed and parsed[0].is_retweet
    result = await uc.ingest_tweets(svc.sessions, parsed, desk=svc.x.desk, router=svc.router,
                                    policy=uc.IngestPolicy())
    assert (result.reposts, result.stored) == (1, 0)
    assert await count(svc, Complaint.id) == 1
    assert await count(svc, Tweet.id, Tweet.x_id.in_(reposts)) == 0

    await jobs.check_deleted(svc)  # the periodic lookup reads retweet_count
    c = await complaint_of(svc, tid)
    assert c.retweet_count == 3
    assert "🔁 3 kali dibagikan" in await _card_text(svc, c)
    sb.unrepost(reposts[0])
    await jobs.check_deleted(svc)
    assert (await complaint_of(svc, tid)).retweet_count == 2


# --- 4. mentions as owned reads ----------------------------------------------------------------------------

async def test_mentions_come_from_the_mentions_timeline_not_search(svc: Services, sb: XSandbox) -> None:
    only_mention = sb.add_tweet(username="warga_a", text=f"@{DESK} lampu jalan provinsi di Kudus mati semua")
    both = sb.add_tweet(username="warga_b", text=f"@{DESK} jalan rusak di Semarang #KemalaJateng")
    only_tag = sb.add_tweet(username="warga_c", text="jembatan di Pati retak #KemalaJateng")

    assert await poll(svc) == 3
    mentions = api_calls(sb, "mentions")
    assert mentions and all(c["auth"] == "user" for c in mentions)
    assert f"-@{DESK}" in api_calls(sb, "search")[-1]["query"]["query"]
    for tid in (only_mention, both, only_tag):
        await complaint_of(svc, tid)
    bill = sb.usage()  # the sandbox's ledger says which path read which post
    assert (bill["owned_read"], bill["post_read"]) == (2, 1)

    # A second poll, and the same posts reaching us again by either path, add nothing.
    assert await poll(svc) == 0
    again = await uc.ingest_tweets(svc.sessions, svc.bridge.lookup_tweets([both, only_tag]),  # type: ignore[union-attr]
                                   desk=svc.x.desk, router=svc.router, policy=uc.IngestPolicy())
    assert (again.stored, again.duplicates) == (0, 2)
    assert await count(svc, Complaint.id) == 3


async def test_mentions_cursor_moves_and_a_mentions_outage_loses_nothing(svc: Services, sb: XSandbox) -> None:
    first = sb.add_tweet(username="warga_a", text=f"@{DESK} jalan di Demak rusak")
    assert await poll(svc) == 1
    assert await uc.read_cursor(svc.sessions, jobs.CURSOR_MENTIONS_SINCE) == first

    later = sb.add_tweet(username="warga_b", text=f"@{DESK} jalan di Kendal rusak")
    sb.fault(endpoint="mentions", status=503)
    assert await poll(svc) == 0
    assert await uc.read_cursor(svc.sessions, jobs.CURSOR_MENTIONS_SINCE) == first
    assert await poll(svc) == 1
    await complaint_of(svc, later)
    assert await count(svc, Complaint.id) == 2


# --- 5. the bill by price class --------------------------------------------------------------------------

async def test_a_month_of_mixed_traffic_matches_a_hand_computed_bill(svc: Services, sb: XSandbox, db_url: str,
                                                                    tmp_path: Path) -> None:
    today = datetime.now(UTC)
    sb.usage_clock = lambda: today

    tagged = [sb.add_tweet(username=f"warga{i:03d}", text=f"jalan rusak di Semarang nomor {i} #KemalaJateng")
              for i in range(30)]
    mentioning = [sb.add_tweet(username=f"penyebut{i:03d}", text=f"@{DESK} jalan di Demak rusak nomor {i}")
                  for i in range(12)]
    sb.add_tweet(username="warga_panjang", text=long_text(20, TAIL_ROAD))
    assert await poll(svc) == 43
    assert await poll(svc) == 0  # nothing new: no posts returned, nothing billed

    # The deleted-post lookup reads every open complaint's post again: on the same day X bills none of them.
    await jobs.check_deleted(svc)
    # Replies: two summoned (the posts @mention the desk), one summoned with a link (the URL price), one to a
    # post that does not mention the desk: a standalone post that links it (the URL price).
    for tid, text in ((mentioning[0], "Sudah diteruskan ke DPU BMCK, terima kasih."),
                      (mentioning[1], "Laporan diterima, petugas segera ke lokasi."),
                      (mentioning[2], "Info lengkap: https://dpubmck.jatengprov.go.id/aduan"),
                      (tagged[0], "Terima kasih, aduan sudah kami teruskan.")):
        await approve(svc, (await complaint_of(svc, tid)).id, text, fallback=tid == tagged[0])
    await drain(svc)
    assert len(sb.posted()) == 4

    # The UTC day turns: the same lookup (now of the 39 complaints still open) is billed again, once a post.
    sb.usage_clock = lambda: today + timedelta(days=1)
    async with unit_of_work(svc.sessions) as s:
        await s.execute(update(XRead).values(day=(today - timedelta(days=1)).strftime("%Y-%m-%d")))
    await jobs.check_deleted(svc)

    report = await usage_report(svc.sessions, svc.settings, jobs.month_of(utcnow()))
    hand = {
        "posts_read": 31 + 39,  # search: 30 tagged + the long post; the next day's lookup: 39 open posts
        "owned_reads": 12,  # the mentions timeline
        "posts_created": 4,
        "posts_with_url": 2,
        "summoned_replies": 2,
    }
    assert {k: report[k] for k in hand} == hand
    usd = 70 * 0.005 + 12 * 0.001 + 2 * 0.010 + 2 * 0.20
    assert report["cost_by_class"] == {"post_read": 0.35, "owned_read": 0.012, "post_create": 0.0,
                                       "summoned_reply": 0.02, "url_post": 0.4}
    assert report["estimated_usd"] == pytest.approx(usd)
    # An independent ledger (the sandbox's own billing) agrees on every class.
    bill = sb.usage()
    assert (bill["post_read"], bill["owned_read"], bill["summoned_reply"], bill["url_post"],
            bill["post_create"]) == (70, 12, 2, 2, 0)
    assert bill["estimated_usd"] == pytest.approx(usd)

    # What the operator reads: `kemala x usage --json`, a separate process on the same database.
    await svc.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env.update({"KEMALA_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)})
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "x", "usage", "--json", "--month",
                                                jobs.month_of(utcnow()), cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    cli = json.loads(out)
    assert {k: cli[k] for k in hand} == hand
    assert cli["cost_by_class"] == report["cost_by_class"]
    assert cli["estimated_usd"] == pytest.approx(usd)


async def test_reads_within_one_day_are_billed_once_across_flushes(svc: Services) -> None:
    counts: dict[str, Any] = {"posts_read": 3, "owned_reads": 1}
    first = await uc.record_usage(svc.sessions, "2026-12", counts,
                                  [("owned_reads", "11"), ("posts_read", "12"), ("posts_read", "13"),
                                   ("posts_read", "11")], day="2026-12-05")
    assert (first["posts_read"], first["owned_reads"]) == (2, 1)  # 11's first read was owned
    again = await uc.record_usage(svc.sessions, "2026-12", {"posts_read": 2},
                                  [("posts_read", "12"), ("posts_read", "14")], day="2026-12-05")
    assert again["posts_read"] == 1
    nextday = await uc.record_usage(svc.sessions, "2026-12", {"posts_read": 1}, [("posts_read", "12")],
                                    day="2026-12-06")
    assert nextday["posts_read"] == 1
    async with svc.sessions() as s:
        rows = {u.kind: u.count for u in (await s.scalars(select(XUsage).where(XUsage.month == "2026-12"))).all()}
    assert (rows["posts_read"], rows["owned_reads"], rows["reads_returned"]) == (4, 1, 7)
    # Days before yesterday are pruned: nothing bills against them.
    await uc.record_usage(svc.sessions, "2026-12", {}, [("posts_read", "15")], day="2026-12-09")
    async with svc.sessions() as s:
        days = set((await s.scalars(select(XRead.day))).all())
    assert days == {"2026-12-09"}


async def test_usage_cli_json_keeps_its_keys_and_adds_the_classes(svc: Services) -> None:
    await uc.record_usage(svc.sessions, "2026-11", {"posts_created": 3, "posts_with_url": 1,
                                                    "summoned_replies": 1})
    report = await usage_report(svc.sessions, svc.settings, "2026-11")
    for key in ("posts_read", "owned_reads", "posts_created", "posts_with_url", "estimated_usd",
                "summoned_replies", "cost_by_class"):
        assert key in report
    assert report["cost_by_class"]["post_create"] == pytest.approx(0.015)
    assert report["estimated_usd"] == pytest.approx(0.015 + 0.010 + 0.20)


async def test_media_are_stored_in_order_with_a_missing_key_kept_as_a_link(svc: Services, sb: XSandbox,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    tid = sb.add_tweet(username="warga_foto", text="Jalan provinsi Blora - Cepu berlubang #KemalaJateng",
                       media=[{"type": "photo", "alt_text": "Lubang besar di tengah jalan"},
                              {"type": "video"}, {"type": "photo", "missing": True},
                              {"type": "animated_gif", "alt_text": "truk terperosok"}])
    with caplog.at_level(logging.WARNING, logger="bot.twitter_bridge"):
        assert await poll(svc) == 1
    c = await complaint_of(svc, tid)
    media = media_of(c.media)
    assert [m.kind for m in media] == [MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.MISSING, MediaKind.GIF]
    assert media[0].url and media[0].alt_text == "Lubang besar di tengah jalan"
    assert media[1].preview_url and media[1].link and media[1].link.endswith("/video/1")
    assert media[2].link and media[2].url is None
    assert any("not in includes.media" in r.getMessage() for r in caplog.records)
    card = await _card_text(svc, c)
    assert "foto 1" in card and "video 1" in card and "lampiran 1 (lihat di X)" in card and "GIF 1" in card


async def test_due_cards_go_before_pictures_queued_earlier(svc: Services, sb: XSandbox) -> None:
    from bot.domain.outbox import CardKind, CardState
    from bot.models import CardOutbox
    from bot.queries import due_card_rows

    first = sb.add_tweet(username="warga_a", text="Jalan provinsi Blora - Cepu rusak #KemalaJateng", photos=4)
    assert await poll(svc) == 1
    c = await complaint_of(svc, first)
    async with svc.sessions() as s:
        card = await s.scalar(select(CardOutbox).where(CardOutbox.complaint_id == c.id))
        assert card is not None
        card_id = card.id
    async with unit_of_work(svc.sessions) as s:
        row = await s.get(CardOutbox, card_id)
        assert row is not None
        row.state = CardState.SENDING
    await uc.record_card_sent(svc.sessions, card_id, 77)  # the card is on Telegram: its album is queued
    later = sb.add_tweet(username="warga_b", text="Jembatan di Pati retak #KemalaJateng")
    assert await poll(svc) == 1
    due = await due_card_rows(svc.sessions, utcnow() + timedelta(seconds=1), limit=10)
    async with svc.sessions() as s:
        kinds = [(await s.get(CardOutbox, row_id)).kind for row_id, _, _ in due]  # type: ignore[union-attr]
    assert kinds == [CardKind.CARD, CardKind.PHOTO]  # the later card first: it never waits behind pictures
    assert due[1][2] == 4  # the album counts four messages against the group's minute
    assert (await complaint_of(svc, later)).id != c.id


# --- a thread read newest first across pages -----------------------------------------------------------------

async def test_a_reply_read_before_its_opener_is_rerouted_by_the_openers_words(svc: Services, sb: XSandbox) -> None:
    """A long thread spans pages and X returns newest first: the citizen's "tolong dong min" reply opens the
    complaint (nothing in it says whose matter it is: triage), then the first post arrives and says it all.
    The complaint goes where the first post would have sent it, its triage card becomes a tombstone."""
    from bot.models import CardOutbox

    opener = sb.add_tweet(username="warga_cepu", text="Jalan provinsi Blora - Cepu rusak parah, lubang di mana-mana "
                                                      "#KemalaJateng")
    reply = sb.add_tweet(username="warga_cepu", text="Tolong dong min, sudah seminggu begini #KemalaJateng",
                         in_reply_to=opener)
    assert svc.bridge is not None
    desk = svc.bridge.me()
    policy = uc.IngestPolicy(reply_policy="summoned", flood_per_hour=5, hashtag="#KemalaJateng")
    first = await uc.ingest_tweets(svc.sessions, svc.bridge.lookup_tweets([reply]), desk=desk, router=svc.router,
                                   policy=policy)
    assert first.complaints == 1
    c = await complaint_of(svc, reply)
    assert c.status == "triage"
    await uc.ingest_tweets(svc.sessions, svc.bridge.lookup_tweets([opener]), desk=desk, router=svc.router,
                           policy=policy)
    c = await complaint_of(svc, opener)
    assert c.tweet_x_id == opener and c.status == "routed" and c.routing_agency == "dpubmck"
    async with svc.sessions() as s:
        cards = (await s.execute(select(CardOutbox.chat_id, CardOutbox.superseded, CardOutbox.state)
                                 .where(CardOutbox.complaint_id == c.id).order_by(CardOutbox.id))).all()
    assert len(cards) == 2 and cards[0].superseded and not cards[1].superseded
    assert await count(svc, Complaint.id) == 1

    # Once a person has acted, people decide: a claimed complaint stays where it is.
    opener2 = sb.add_tweet(username="warga_dinkes", text="Stok obat TBC di puskesmas kosong, tolong Dinkes provinsi "
                                                         "#KemalaJateng")
    reply2 = sb.add_tweet(username="warga_dinkes", text="Min tolong dibantu #KemalaJateng", in_reply_to=opener2)
    await uc.ingest_tweets(svc.sessions, svc.bridge.lookup_tweets([reply2]), desk=desk, router=svc.router,
                           policy=policy)
    c2 = await complaint_of(svc, reply2)
    await uc.reassign(svc.sessions, complaint_id=c2.id, version=None, staff=STAFF, target_code="dpubmck",
                      reason="salahrute")
    await uc.ingest_tweets(svc.sessions, svc.bridge.lookup_tweets([opener2]), desk=desk, router=svc.router,
                           policy=policy)
    c2 = await complaint_of(svc, opener2)
    assert c2.tweet_x_id == opener2 and c2.routing_agency != "dinkes"  # not re-routed: the router's say is over
    async with svc.sessions() as s:
        from bot.models import Agency

        agency = await s.get(Agency, c2.agency_id)
    assert agency is not None and agency.code == "dpubmck"
