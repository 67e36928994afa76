"""JobQueue sweeps: poll X, send and refresh cards, publish replies, look for deleted tweets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot import leases
from bot import repository as repo
from bot import usecases as uc
from bot.db import is_storage_failure, unit_of_work
from bot.domain.lifecycle import OPEN_STATUSES
from bot.domain.outbox import CARD_DUE, REPLY_DUE, CardState, ReplyState
from bot.i18n import t
from bot.models import AgencyChat, CardOutbox, Complaint, ReplyOutbox, utcnow
from bot.queries import build_view
from bot.services import Services
from bot.telegram.cards import render_card
from bot.telegram.keyboards import card_keyboard
from bot.telegram.text import clip_utf16, mask_personal_data, strip_bidi
from bot.twitter_bridge import (
    OwnReplyMatch,
    PostKind,
    XBridge,
    XError,
    XPaymentRequired,
    XRateLimited,
    XUnauthorized,
    XUnavailable,
    XUsageCapped,
)

log = logging.getLogger(__name__)

CURSOR_SINCE = "x_since_id"
# "<newest_id> <next_token>" while a catch-up longer than MAX_PAGES_PER_POLL pages is under way.
CURSOR_RESUME = "x_search_resume"
MAX_PAGES_PER_POLL = 50
SEND_CLAIM = timedelta(seconds=30)  # well above PTB's send timeouts
BACKOFF_CAP_S = 900.0
# Replies posted within this window are the ones whose X posts can still show up in reconciliation pages.
OWNED_LOOKBACK = timedelta(days=90)
RECORD_ATTEMPTS = 6  # ~12 s of retries for recording a message Telegram already has


def backoff(attempts: int, base: float = 2.0, cap: float = BACKOFF_CAP_S) -> timedelta:
    """Exponential backoff with full jitter, capped."""
    return timedelta(seconds=random.uniform(0.5, 1.0) * min(cap, base * 2 ** min(attempts, 16)))


def retry_seconds(e: RetryAfter) -> float:
    ra: Any = e.retry_after
    return float(ra.total_seconds()) if isinstance(ra, timedelta) else float(ra)


def month_of(now: datetime) -> str:
    return now.strftime("%Y-%m")


async def _to_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


# --- X: polling ------------------------------------------------------------------------------------------

async def ensure_desk(svc: Services) -> bool:
    """Learn the desk's own account (GET /2/users/me) once; False while X cannot tell us."""
    if svc.x.desk is not None:
        return True
    if svc.bridge is None:
        return False
    try:
        svc.x.desk = await _to_thread(svc.bridge.me)
        log.info("X desk account is @%s (%s)", svc.x.desk.username, svc.x.desk.id)
        return True
    except XUnauthorized as e:
        await _pause_x(svc, "unauthorized", f"X credentials refused: {e.detail or e}")
    except (XUnavailable, XRateLimited) as e:
        log.warning("X users/me not available yet: %s", e)
    return False


async def _pause_x(svc: Services, kind: str, why: str) -> None:
    svc.x.reads_paused = kind
    log.error("X polling paused (%s): %s", kind, why)
    await alert_triage(svc, kind, why)


async def alert_triage(svc: Services, kind: str, text: str) -> None:
    """Queue one alert per kind for the triage group (sent by the card sweep)."""
    if kind in svc.x.alerted:
        return
    svc.x.alerted.add(kind)
    async with unit_of_work(svc.sessions) as s:
        triage = await repo.triage_agency(s)
        chat = await repo.chat_of_agency(s, triage.id)
        repo.add_event(s, complaint_id=None, actor="system", action="alert", kind=kind, text=text)
        if chat is not None:
            s.add(CardOutbox(complaint_id=None, chat_id=chat.chat_id, kind="notice", text=f"⚠️ {text}"))


async def poll_x(svc: Services) -> int:
    """One poll: every page since the saved cursor, committed page by page; the cursor moves last."""
    bridge = svc.bridge
    if bridge is None or svc.x.reads_paused:
        return 0
    now = utcnow()
    if svc.x.next_poll_at is not None and now < svc.x.next_poll_at:
        return 0
    # One X poller across replicas; the lease outlives a few missed polls so a slow page is not a handover.
    ttl = timedelta(seconds=max(30.0, 3 * svc.settings.poll_seconds))
    if not await leases.try_acquire(svc.sessions, leases.X_POLLER, svc.instance, ttl):
        return 0
    if not await ensure_desk(svc):
        return 0
    desk = svc.x.desk
    query = XBridge.search_query(svc.settings.hashtag, desk.username if desk else None)
    since = await uc.read_cursor(svc.sessions, CURSOR_SINCE)
    policy = uc.IngestPolicy(reply_policy=svc.settings.x_reply_policy, flood_per_hour=svc.settings.flood_per_hour,
                             hashtag=svc.settings.hashtag)
    newest: str | None = None
    token: str | None = None
    resume = await uc.read_cursor(svc.sessions, CURSOR_RESUME)
    if resume:
        # The previous poll stopped at the page cap: carry on with its next_token (same since_id).
        saved_newest, _, saved_token = resume.partition(" ")
        newest, token = saved_newest or None, saved_token or None
    stored = 0
    ahead: asyncio.Task[Any] | None = None
    try:
        # The next page is fetched while this one is stored: X's latency and our database work overlap.
        ahead = asyncio.ensure_future(_to_thread(bridge.search_page, query, since_id=since, next_token=token))
        for n in range(MAX_PAGES_PER_POLL):
            fetching, ahead = ahead, None
            assert fetching is not None
            page = await fetching
            if newest is None:
                newest = page.newest_id
            if page.next_token and n + 1 < MAX_PAGES_PER_POLL:
                ahead = asyncio.ensure_future(_to_thread(bridge.search_page, query, since_id=since,
                                                         next_token=page.next_token))
            if page.tweets:
                result = await uc.ingest_tweets(svc.sessions, page.tweets, desk=desk, router=svc.router,
                                                policy=policy)
                stored += result.stored
            token = page.next_token
            if not token:
                break
        if token:
            # Pages are left: remember where to go on; since_id moves only after the last page.
            await uc.advance_cursor(svc.sessions, CURSOR_RESUME, f"{newest or ''} {token}")
        else:
            if resume:
                # Cleared first: a crash before the next line only means re-reading (ids are unique).
                await uc.advance_cursor(svc.sessions, CURSOR_RESUME, None)
            if newest:
                await uc.advance_cursor(svc.sessions, CURSOR_SINCE, newest)
        svc.x.failures = 0
    except XRateLimited as e:
        # Our own 429 handling: wait for the reset the header names, or a minute when it is missing.
        svc.x.next_poll_at = e.reset_at or (utcnow() + timedelta(seconds=60))
        log.warning("X search rate-limited; next poll at %s", svc.x.next_poll_at.isoformat())
    except XUsageCapped as e:
        await _pause_x(svc, "usage_capped", t("triage.x_cap", svc.lang, used="?", cap="?", reset=str(e.detail or "")))
    except XPaymentRequired as e:
        await _pause_x(svc, "payment_required", f"X API: payment required (402): {e.detail or e}")
    except XUnauthorized as e:
        await _pause_x(svc, "unauthorized", f"{t('triage.x_401', svc.lang)} ({e.detail or e})")
    except XUnavailable as e:
        svc.x.failures += 1
        svc.x.next_poll_at = utcnow() + backoff(svc.x.failures, base=svc.settings.poll_seconds, cap=300)
        log.warning("X search unavailable (%s); retry after %s", e, svc.x.next_poll_at.isoformat())
    except XError as e:
        # An answer we do not expect (400, 403 …): back off and tell the triage group once. A stale saved
        # page token may be the cause, so the next poll starts over from the cursor.
        svc.x.failures += 1
        svc.x.next_poll_at = utcnow() + backoff(svc.x.failures, base=svc.settings.poll_seconds, cap=300)
        if resume:
            await uc.advance_cursor(svc.sessions, CURSOR_RESUME, None)
        if e.status == 400 and "since_id" in f"{e.detail} {e}".lower():
            # After more than 7 days away the cursor is older than recent search allows: start from
            # what the 7-day window still holds (ids are unique, so nothing is stored twice).
            await uc.advance_cursor(svc.sessions, CURSOR_SINCE, None)
        log.error("X search failed (%s); retry after %s", e, svc.x.next_poll_at.isoformat())
        await alert_triage(svc, "x_search_error", f"X search failed: {e}")
    except Exception as e:
        if not is_storage_failure(e):
            raise
        # The database refused the page (full, locked, read-only, gone). The cursor did not move and
        # nothing was parked: the next poll reads the same posts again (ids are unique, so no doubles).
        svc.x.failures += 1
        svc.x.next_poll_at = utcnow() + backoff(svc.x.failures, base=svc.settings.poll_seconds, cap=60)
        log.warning("database refused the X page (%s); cursor kept, read again after %s",
                    str(e).splitlines()[0][:200] if str(e) else type(e).__name__, svc.x.next_poll_at.isoformat())
    finally:
        if ahead is not None:  # a page fetched ahead of a failure is simply fetched again next time
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead
        await flush_usage(svc)
    return stored


async def flush_usage(svc: Services) -> None:
    if svc.bridge is None:
        return
    counts = svc.bridge.usage.drain()
    if not any(counts.values()):
        return
    month = month_of(utcnow())
    async with unit_of_work(svc.sessions) as s:
        await repo.add_usage(s, month, counts)
    await check_budget(svc, month)


async def usage_report(sessions: Any, settings: Any, month: str) -> dict[str, Any]:
    from bot.models import XUsage

    async with sessions() as s:
        rows = {u.kind: u.count for u in (await s.scalars(select(XUsage).where(XUsage.month == month))).all()}
    reads, owned = rows.get("posts_read", 0), rows.get("owned_reads", 0)
    created, with_url = rows.get("posts_created", 0), rows.get("posts_with_url", 0)
    cost = (reads * settings.price_post_read + owned * settings.price_owned_read
            + (created - with_url) * settings.price_post_created + with_url * settings.price_post_with_url)
    out: dict[str, Any] = {"month": month, "posts_read": reads, "owned_reads": owned, "posts_created": created,
                           "posts_with_url": with_url, "requests": rows.get("requests", 0),
                           "estimated_usd": round(cost, 4), "budget_usd": settings.x_monthly_budget_usd}
    return out


async def check_budget(svc: Services, month: str) -> None:
    budget = svc.settings.x_monthly_budget_usd
    if not budget:
        return
    report = await usage_report(svc.sessions, svc.settings, month)
    spent = report["estimated_usd"]
    if spent >= budget * 0.8:
        await alert_triage(svc, f"budget80:{month}", t("triage.budget", svc.lang, pct=round(100 * spent / budget),
                                                       spent=f"{spent:.2f}", budget=f"{budget:.2f}"))
    if spent >= budget:
        # Reads slow down to the floor; approved replies are never blocked by the budget.
        svc.x.next_poll_at = utcnow() + timedelta(seconds=svc.settings.x_budget_floor_seconds)


async def check_deleted(svc: Services) -> int:
    """Look up open complaints' tweets; those X no longer has are marked deleted."""
    if svc.bridge is None or svc.x.reads_paused:
        return 0
    async with svc.sessions() as s:
        ids = list((await s.scalars(select(Complaint.tweet_x_id).where(
            Complaint.status.in_([st.value for st in OPEN_STATUSES]), Complaint.deleted.is_(False))
            .order_by(Complaint.id.desc()).limit(500))).all())
    if not ids:
        return 0
    try:
        gone = await _to_thread(svc.bridge.lookup_missing, ids)
    except (XUnavailable, XRateLimited, XUsageCapped, XPaymentRequired, XUnauthorized) as e:
        log.warning("deleted-tweet check skipped: %s", e)
        return 0
    finally:
        await flush_usage(svc)
    return await uc.mark_deleted(svc.sessions, sorted(gone)) if gone else 0


# --- X: replies ------------------------------------------------------------------------------------------

async def publish_replies(svc: Services, *, limit: int = 20) -> int:
    """Post approved replies exactly once: mark the attempt, call X, record the outcome."""
    bridge = svc.bridge
    if bridge is None:
        return 0
    now = utcnow()
    if svc.x.posts_paused_until is not None and now < svc.x.posts_paused_until:
        return 0
    async with svc.sessions() as s:
        due = list((await s.scalars(select(ReplyOutbox.id).where(
            ReplyOutbox.state.in_(REPLY_DUE), ReplyOutbox.next_attempt_at <= now)
            .order_by(ReplyOutbox.id).limit(limit))).all())
    done = 0
    for reply_id in due:
        try:
            done += await _publish_one(svc, bridge, reply_id)
        except Exception:  # one bad row must not stop the others; it is retried later
            log.exception("publishing reply %s failed; will retry", reply_id)
            async with unit_of_work(svc.sessions) as s:
                r = await s.get(ReplyOutbox, reply_id, with_for_update=True)
                if r is not None and r.state in REPLY_DUE:
                    r.next_attempt_at = utcnow() + backoff(r.attempts)
    await flush_usage(svc)
    return done


async def _publish_one(svc: Services, bridge: XBridge, reply_id: int) -> int:
    # The hold outlasts the worst case of one attempt (reconcile pages + the post, each up to two
    # timeouts), so no other sweep or replica takes the row while this attempt is still running.
    hold = timedelta(seconds=max(30.0, 8 * svc.settings.x_timeout_seconds))
    async with unit_of_work(svc.sessions) as s:
        r = await s.get(ReplyOutbox, reply_id, with_for_update=True)
        if r is None or r.state not in REPLY_DUE or r.next_attempt_at > utcnow():
            return 0  # another replica took it
        text, in_reply_to, state = r.text, r.in_reply_to, r.state
        # Mark the attempt before the call: a crash between the call and the commit leaves "unknown",
        # which the next sweep reconciles instead of posting blindly.
        r.state, r.attempts = ReplyState.UNKNOWN, r.attempts + 1
        r.next_attempt_at = utcnow() + hold
        attempt = r.attempts

    if state == ReplyState.UNKNOWN and await _adopt_if_posted(svc, bridge, reply_id, in_reply_to, text, attempt):
        return 1

    outcome = await _to_thread(bridge.post, text, in_reply_to=in_reply_to)
    if outcome.kind is PostKind.UNKNOWN and outcome.duplicate:
        if await _adopt_if_posted(svc, bridge, reply_id, in_reply_to, text, attempt):
            return 1
        async with unit_of_work(svc.sessions) as s:
            r = await _still_ours(s, reply_id, attempt)
            if r is not None:
                await uc.reply_rejected(s, r, "duplicate")
        return 1

    async with unit_of_work(svc.sessions) as s:
        r = await _still_ours(s, reply_id, attempt)
        if r is None:
            return 0  # the row moved on without us (it should not: the hold covers the attempt)
        if outcome.kind is PostKind.POSTED and outcome.tweet_id:
            await uc.reply_posted(s, r, outcome.tweet_id)
            return 1
        if outcome.kind is PostKind.REJECTED:
            await uc.reply_rejected(s, r, outcome.reason or "rejected")
        elif outcome.kind is PostKind.RETRY_LATER:
            r.state, r.last_error = ReplyState.PENDING, outcome.reason
            r.next_attempt_at = outcome.retry_at or (utcnow() + backoff(r.attempts))
            if outcome.auth_failed:
                svc.x.posts_paused_until = utcnow() + timedelta(minutes=5)
        else:  # UNKNOWN: maybe posted; the next sweep reconciles first
            r.state, r.last_error = ReplyState.UNKNOWN, outcome.reason
            r.next_attempt_at = utcnow() + backoff(r.attempts, base=1.0, cap=120)
    if outcome.kind is PostKind.REJECTED:
        if in_reply_to and outcome.reason.startswith("target_gone"):
            # X says the tweet is gone before our periodic lookup saw it: the same as the lookup finding it.
            await uc.target_gone(svc.sessions, reply_id, in_reply_to)
        return 1
    if outcome.auth_failed:
        await alert_triage(svc, "x_post_unauthorized", t("triage.x_401", svc.lang))
    return 0


async def _still_ours(s: Any, reply_id: int, attempt: int) -> ReplyOutbox | None:
    """The row, if it is still in the state this attempt left it in (nobody else wrote an outcome)."""
    r = await s.get(ReplyOutbox, reply_id, with_for_update=True, populate_existing=True)
    return r if r is not None and r.state == ReplyState.UNKNOWN and r.attempts == attempt else None


async def _adopt_if_posted(svc: Services, bridge: XBridge, reply_id: int, in_reply_to: str | None,
                           text: str, attempt: int) -> bool:
    """Reconcile: when our reply is provably on X already, record that post instead of posting again.

    Only an exact match is adopted, and never a post another reply already owns. A post that only looks
    like this reply parks the reply (rejected "near_match", alert in triage): adopting it could leave a
    citizen unanswered while the card says "answered", and posting again could answer twice.
    """
    async with svc.sessions() as s:
        owned = set((await s.scalars(select(ReplyOutbox.posted_x_id).where(
            ReplyOutbox.id != reply_id, ReplyOutbox.posted_x_id.is_not(None),
            ReplyOutbox.posted_at >= utcnow() - OWNED_LOOKBACK))).all())
    found = await _to_thread(_find_own, bridge, in_reply_to, text, owned)
    if found.exact:
        try:
            async with unit_of_work(svc.sessions) as s:
                r = await _still_ours(s, reply_id, attempt)
                if r is not None:
                    await uc.reply_posted(s, r, found.exact, adopted=True)
        except IntegrityError:
            # The unique constraint: another reply took this X post between our read and our write.
            log.warning("reply %s: X post %s already belongs to another reply; not adopted", reply_id, found.exact)
            await _park_near_match(svc, reply_id, attempt, found.exact)
            return True
        log.info("reply %s adopted from X (%s)", reply_id, found.exact)
        return True
    if found.near:
        await _park_near_match(svc, reply_id, attempt, found.near)
        return True
    return False


async def _park_near_match(svc: Services, reply_id: int, attempt: int, x_id: str) -> None:
    async with unit_of_work(svc.sessions) as s:
        r = await _still_ours(s, reply_id, attempt)
        if r is None:
            return
        complaint_id = r.complaint_id
        await uc.reply_rejected(s, r, "near_match")
    log.warning("reply %s parked: X post %s looks like it but is not provably it", reply_id, x_id)
    await alert_triage(svc, f"near_match:{reply_id}",
                       t("triage.near_match", svc.lang, number=complaint_id, x_id=x_id))


def _find_own(bridge: XBridge, in_reply_to: str | None, text: str, owned: set[str]) -> OwnReplyMatch:
    try:
        return bridge.reconcile_reply(in_reply_to=in_reply_to, text=text, exclude=owned)
    except Exception as e:  # reconciliation failing is "still unknown", never "not posted"
        raise RuntimeError(f"reconcile failed: {e}") from e


# --- Telegram: cards -------------------------------------------------------------------------------------

async def sweep_cards(svc: Services, bot: Bot, *, limit: int = 60) -> int:
    """Send due outbox messages within Telegram's limits, then edit cards that changed."""
    sent = await send_cards(svc, bot, limit=limit)
    await refresh_cards(svc, bot, limit=limit)
    return sent


async def send_cards(svc: Services, bot: Bot, *, limit: int = 400, max_sends: int = 120) -> int:
    """Send due outbox rows oldest first, skipping groups whose per-minute window is full."""
    now = utcnow()
    async with svc.sessions() as s:
        due = (await s.execute(select(CardOutbox.id, CardOutbox.chat_id).where(
            CardOutbox.state.in_(CARD_DUE), CardOutbox.next_attempt_at <= now)
            .order_by(CardOutbox.id).limit(limit))).all()
    sent = 0
    for row_id, chat_id in due:
        if sent >= max_sends:
            break
        if not svc.pacer.can_send(chat_id):
            continue  # that group is at its limit: others behind it still go
        if not await _claim_row(svc, row_id):
            continue  # another replica has it
        try:
            if await _send_one(svc, bot, row_id):
                sent += 1
        except Exception:
            log.exception("sending outbox row %s failed; will retry", row_id)
            await _reschedule(svc, row_id, None, "unexpected error")
    return sent


async def _claim_row(svc: Services, row_id: int) -> bool:
    """Take a due row for this process (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer).

    A row stays "sending" until its send is committed; if the process dies in between, the row is due
    again after the claim expires, and at most one extra card can result (Telegram has no idempotency key).
    """
    async with unit_of_work(svc.sessions) as s:
        row = await s.scalar(select(CardOutbox).where(
            CardOutbox.id == row_id, CardOutbox.state.in_(CARD_DUE),
            CardOutbox.next_attempt_at <= utcnow()).with_for_update(skip_locked=True))
        if row is None:
            return False
        row.state, row.next_attempt_at = CardState.SENDING, utcnow() + SEND_CLAIM
        return True


async def _render(svc: Services, s: Any, row: CardOutbox) -> tuple[str, InlineKeyboardMarkup | None, int | None]:
    """(HTML text, keyboard, reply_to message id) for an outbox row."""
    reply_to: int | None = None
    if row.reply_to_outbox_id is not None:
        parent = await s.get(CardOutbox, row.reply_to_outbox_id)
        reply_to = parent.message_id if parent is not None and parent.chat_id == row.chat_id else None
    if row.kind == "card":
        c = await s.get(Complaint, row.complaint_id)
        view = await build_view(s, c, row, desk_username=svc.desk_username)
        text = render_card(view, now=utcnow(), lang=svc.lang, tz=svc.settings.tz,
                           mask_personal=svc.settings.mask_personal_data)
        keyboard = card_keyboard(view, svc.lang) if not row.superseded else None
        return text, keyboard, reply_to
    if row.kind == "followup":
        c = await s.get(Complaint, row.complaint_id)
        body = strip_bidi(row.text or "")
        if svc.settings.mask_personal_data:
            body = mask_personal_data(body)
        head = f"↩️ #{c.id} @{escape(c.author_username)}:\n" if c else ""
        # Clip the visible text, then escape: clipping escaped HTML could cut an entity in half.
        return head + escape(clip_utf16(body, 3800)), None, reply_to
    if row.kind == "notice" and (row.text or "").startswith("rejected:"):
        c = await s.get(Complaint, row.complaint_id)
        reason = (row.text or "")[len("rejected:"):]
        todo = {"not_mentioned": "outcome.todo_not_mentioned", "duplicate": "outcome.todo_duplicate",
                "near_match": "outcome.todo_near_match"}.get(reason, "outcome.todo_generic")
        text = t("outcome.rejected", svc.lang, number=c.id if c else "?", reason=reason) + "\n" + t(
            todo, svc.lang, desk=svc.desk_username)
        return escape(text), None, reply_to
    return escape(clip_utf16(row.text or "", 4000)), None, reply_to


async def _send_one(svc: Services, bot: Bot, row_id: int) -> bool:
    async with svc.sessions() as s:
        row = await s.get(CardOutbox, row_id)
        if row is None or row.state != CardState.SENDING:
            return False
        chat_id = row.chat_id
        text, keyboard, reply_to = await _render(svc, s, row)
    await svc.pacer.before_send(chat_id, press=False)
    try:
        msg = await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                     reply_to_message_id=reply_to, allow_sending_without_reply=True,
                                     disable_web_page_preview=True)
    except RetryAfter as e:
        svc.pacer.block(chat_id, retry_seconds(e))
        await _reschedule(svc, row_id, timedelta(seconds=retry_seconds(e)), f"429 retry_after {retry_seconds(e)}")
        return False
    except ChatMigrated as e:
        await uc.migrate_chat(svc.sessions, old_chat_id=chat_id, new_chat_id=int(e.new_chat_id))
        log.info("chat %s migrated to %s; its cards follow", chat_id, e.new_chat_id)
        await _reschedule(svc, row_id, timedelta(0), "chat migrated")
        return False
    except Forbidden as e:
        if await uc.park_chat(svc.sessions, chat_id=chat_id, reason=str(e.message)):
            await _alert_kicked(svc, chat_id)
        return False
    except BadRequest as e:
        log.error("Telegram refused outbox row %s: %s", row_id, e.message)
        await _reschedule(svc, row_id, None, f"400 {e.message}", failed=True)
        return False
    except (TimedOut, NetworkError) as e:
        await _reschedule(svc, row_id, None, f"network: {e}")
        return False
    # The message exists now: recording it must survive a short storage fault, or the row is sent again.
    for attempt in range(RECORD_ATTEMPTS):
        try:
            async with unit_of_work(svc.sessions) as s:
                row = await s.get(CardOutbox, row_id)
                assert row is not None
                row.state, row.message_id, row.sent_at, row.last_error = CardState.SENT, msg.message_id, utcnow(), None
                row.needs_edit = False
            return True
        except Exception as e:
            if not is_storage_failure(e) or attempt + 1 == RECORD_ATTEMPTS:
                raise
            log.warning("recording sent card %s failed (%s); retrying", row_id, str(e).splitlines()[0][:120])
            await asyncio.sleep(min(4.0, 0.5 * 2 ** attempt))
    return True


async def _reschedule(svc: Services, row_id: int, delay: timedelta | None, error: str, failed: bool = False) -> None:
    async with unit_of_work(svc.sessions) as s:
        r = await s.get(CardOutbox, row_id)
        if r is None:
            return
        r.attempts += 1
        r.last_error = error
        if r.state == CardState.SENDING:
            r.state = CardState.PENDING
        if failed:
            r.state = CardState.FAILED
        r.next_attempt_at = utcnow() + (delay if delay is not None else backoff(r.attempts))


async def _alert_kicked(svc: Services, chat_id: int) -> None:
    async with svc.sessions() as s:
        agency = await repo.agency_of_chat(s, chat_id)
        chat = await s.scalar(select(AgencyChat).where(AgencyChat.chat_id == chat_id))
    name = agency.short_name if agency else "?"
    await alert_triage(svc, f"kicked:{chat_id}", t("triage.kicked", svc.lang, group=(chat.title if chat else None)
                                                   or str(chat_id), agency=name))


async def refresh_cards(svc: Services, bot: Bot, *, limit: int = 60) -> int:
    async with svc.sessions() as s:
        rows = list((await s.scalars(select(CardOutbox.id).where(
            CardOutbox.needs_edit.is_(True), CardOutbox.state == CardState.SENT
        ).order_by(CardOutbox.id).limit(limit))).all())
    n = 0
    for row_id in rows:
        if await refresh_card(svc, bot, row_id):
            n += 1
    return n


async def refresh_card(svc: Services, bot: Bot, row_id: int, *, press: bool = False) -> bool:
    """Edit one sent card to match its complaint; 'message is not modified' counts as done.

    The dirty flag is cleared before rendering: a change committed while we edit sets it again, so the
    next sweep edits once more instead of the change being lost.
    """
    async with unit_of_work(svc.sessions) as s:
        row = await s.get(CardOutbox, row_id)
        if row is None or row.message_id is None:
            return False
        row.needs_edit = False
    async with svc.sessions() as s:
        row = await s.get(CardOutbox, row_id)
        assert row is not None and row.message_id is not None
        text, keyboard, _ = await _render(svc, s, row)
        chat_id, message_id = row.chat_id, row.message_id
    await svc.pacer.acquire(press=press)
    try:
        await bot.edit_message_text(text, chat_id=chat_id, message_id=int(message_id), parse_mode=ParseMode.HTML,
                                    reply_markup=keyboard, disable_web_page_preview=True)
    except BadRequest as e:
        if "not modified" in e.message.lower():
            return True
        log.warning("editing card %s failed: %s", row_id, e.message)
        if _edit_is_permanently_impossible(e.message):
            # Retrying would fail forever and leave the complaint without buttons: send the card again.
            if await uc.resend_card(svc.sessions, row_id):
                log.info("card %s re-sent in chat %s: its message cannot be edited", row_id, chat_id)
            return True
        return await _mark_dirty(svc, row_id)
    except ChatMigrated as e:
        await uc.migrate_chat(svc.sessions, old_chat_id=chat_id, new_chat_id=int(e.new_chat_id))
        log.info("chat %s migrated to %s; its live cards are sent again there", chat_id, e.new_chat_id)
        return True
    except RetryAfter as e:
        svc.pacer.block(chat_id, retry_seconds(e))
        return await _mark_dirty(svc, row_id)
    except (TimedOut, NetworkError, Forbidden, TelegramError) as e:
        log.warning("editing card %s failed: %s", row_id, e)
        return await _mark_dirty(svc, row_id)
    return True


def _edit_is_permanently_impossible(message: str) -> bool:
    text = message.lower()
    return any(m in text for m in ("message can't be edited", "message to edit not found", "message not found",
                                   "message_id_invalid"))


async def _mark_dirty(svc: Services, row_id: int) -> bool:
    """The edit did not happen: leave the card for the next sweep."""
    async with unit_of_work(svc.sessions) as s:
        row = await s.get(CardOutbox, row_id)
        if row is not None:
            row.needs_edit = True
    return False

