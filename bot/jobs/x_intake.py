"""Scheduled X intake: poll recent search into complaints, count usage, look for deleted posts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot import usecases as uc
from bot.db import is_storage_failure
from bot.domain.backoff import backoff
from bot.i18n import t
from bot.models import utcnow
from bot.queries import open_tweet_ids, post_outcomes, usage_report
from bot.services import Services
from bot.twitter_bridge import (
    SearchPage,
    XBridge,
    XError,
    XPaymentRequired,
    XRateLimited,
    XUnauthorized,
    XUnavailable,
    XUsageCapped,
)
from bot.usecases import leases

log = logging.getLogger(__name__)

CURSOR_SINCE = "x_since_id"
# "<newest_id> <next_token>" while a catch-up longer than MAX_PAGES_PER_POLL pages is under way.
CURSOR_RESUME = "x_search_resume"
CURSOR_MENTIONS_SINCE = "x_mentions_since_id"
CURSOR_MENTIONS_RESUME = "x_mentions_resume"
# Why this desk stopped reading X ("kind|since"), for `kemala status` in another process; cleared at start.
CURSOR_X_PAUSED = "x_paused"
MAX_PAGES_PER_POLL = 50


def month_of(now: datetime) -> str:
    return now.strftime("%Y-%m")


async def _to_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def alert_triage(svc: Services, kind: str, text: str) -> None:
    """Queue one alert per kind for the triage group (sent by the card sweep)."""
    await uc.alert_triage(svc.sessions, svc.x.alerted, kind, text)


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
    await uc.advance_cursor(svc.sessions, CURSOR_X_PAUSED, f"{kind}|{utcnow().isoformat()}")
    await alert_triage(svc, kind, why)


async def poll_x(svc: Services) -> int:
    """One poll: recent search for the hashtag, then the desk's mentions (an owned read), each read page
    by page since its saved cursor and committed page by page; each cursor moves after its last page."""
    bridge = svc.bridge
    if bridge is None or svc.x.reads_paused:
        return 0
    if svc.x.poll_in() > 0:
        return 0
    # One X poller across replicas; the lease outlives a few missed polls so a slow page is not a handover.
    ttl = timedelta(seconds=max(30.0, 3 * svc.settings.poll_seconds))
    if not await leases.try_acquire(svc.sessions, leases.X_POLLER, svc.instance, ttl):
        return 0
    if not await ensure_desk(svc):
        return 0
    desk = svc.x.desk
    query = XBridge.search_query(svc.settings.hashtag, desk.username if desk else None)
    try:
        stored = await _read_source(
            svc, lambda since, token: bridge.search_page(query, since_id=since, next_token=token),
            since_cursor=CURSOR_SINCE, resume_cursor=CURSOR_RESUME, what="search")
        if desk is not None and not svc.x.reads_paused:
            stored += await _read_source(
                svc, lambda since, token: bridge.mentions_page(desk.id, since_id=since, next_token=token),
                since_cursor=CURSOR_MENTIONS_SINCE, resume_cursor=CURSOR_MENTIONS_RESUME, what="mentions")
    finally:
        await flush_usage(svc)
    return stored


async def _read_source(svc: Services, fetch: Callable[[str | None, str | None], SearchPage], *, since_cursor: str,
                       resume_cursor: str, what: str) -> int:
    """Every page of one source since its cursor, into complaints; X's failures answered here."""
    desk = svc.x.desk
    since = await uc.read_cursor(svc.sessions, since_cursor)
    policy = uc.IngestPolicy(reply_policy=svc.settings.x_reply_policy, flood_per_hour=svc.settings.flood_per_hour,
                             hashtag=svc.settings.hashtag)
    newest: str | None = None
    token: str | None = None
    resume = await uc.read_cursor(svc.sessions, resume_cursor)
    if resume:
        # The previous poll stopped at the page cap: carry on with its next_token (same since_id).
        saved_newest, _, saved_token = resume.partition(" ")
        newest, token = saved_newest or None, saved_token or None
    stored = 0
    ahead: asyncio.Task[Any] | None = None
    try:
        # The next page is fetched while this one is stored: X's latency and our database work overlap.
        ahead = asyncio.ensure_future(_to_thread(fetch, since, token))
        for n in range(MAX_PAGES_PER_POLL):
            fetching, ahead = ahead, None
            assert fetching is not None
            page = await fetching
            if newest is None:
                newest = page.newest_id
            if page.next_token and n + 1 < MAX_PAGES_PER_POLL:
                ahead = asyncio.ensure_future(_to_thread(fetch, since, page.next_token))
            if page.tweets:
                result = await uc.ingest_tweets(svc.sessions, page.tweets, desk=desk, router=svc.router,
                                                policy=policy)
                stored += result.stored
                svc.metrics.posts_read.inc(len(page.tweets))
                if log.isEnabledFor(logging.INFO):
                    await _log_posts(svc, what, [t.id for t in page.tweets])
            token = page.next_token
            if not token:
                break
        if token:
            # Pages are left: remember where to go on; since_id moves only after the last page.
            await uc.advance_cursor(svc.sessions, resume_cursor, f"{newest or ''} {token}")
        else:
            if resume:
                # Cleared first: a crash before the next line only means re-reading (ids are unique).
                await uc.advance_cursor(svc.sessions, resume_cursor, None)
            if newest:
                await uc.advance_cursor(svc.sessions, since_cursor, newest)
        await _read_ok(svc)
    except XRateLimited as e:
        # Our own 429 handling: wait for the reset the header names, or a minute when it is missing. The
        # header is wall time; the wait is kept on the monotonic clock.
        wait = (e.reset_at - utcnow()).total_seconds() if e.reset_at else 60.0
        svc.x.wait_polls(wait)
        log.warning("X %s rate-limited; next poll in %.0f s", what, svc.x.poll_in())
    except XUsageCapped as e:
        await _pause_x(svc, "usage_capped", t("triage.x_cap", svc.lang, used="?", cap="?", reset=str(e.detail or "")))
    except XPaymentRequired as e:
        await _pause_x(svc, "payment_required", f"X API: payment required (402): {e.detail or e}")
    except XUnauthorized as e:
        await _pause_x(svc, "unauthorized", f"{t('triage.x_401', svc.lang)} ({e.detail or e})")
    except XUnavailable as e:
        # X is down or slow (5xx, timeout): try again at the next poll, never later, so reading resumes
        # within one interval of X answering again; a long outage is told to triage once.
        failing = svc.x.read_failed()
        log.warning("X %s unavailable (%s) for %.0f s; retry at the next poll", what, e, failing)
        await _maybe_alert_outage(svc, failing, str(e))
    except XError as e:
        # An answer we do not expect (400, 403 …): back off and tell the triage group once. A stale saved
        # page token may be the cause, so the next poll starts over from the cursor.
        svc.x.failures += 1
        svc.x.wait_polls(backoff(svc.x.failures, base=svc.settings.poll_seconds, cap=300).total_seconds())
        if resume:
            await uc.advance_cursor(svc.sessions, resume_cursor, None)
        if e.status == 400 and "since_id" in f"{e.detail} {e}".lower():
            # After more than 7 days away the cursor is older than recent search allows: start from
            # what the 7-day window still holds (ids are unique, so nothing is stored twice).
            await uc.advance_cursor(svc.sessions, since_cursor, None)
        log.error("X %s failed (%s); retry in %.0f s", what, e, svc.x.poll_in())
        await alert_triage(svc, f"x_{what}_error", f"X {what} failed: {e}")
    except Exception as e:
        if not is_storage_failure(e):
            raise
        # The database refused the page (full, locked, read-only, gone). The cursor did not move and
        # nothing was parked: the next poll reads the same posts again (ids are unique, so no doubles).
        svc.x.failures += 1
        svc.x.wait_polls(backoff(svc.x.failures, base=svc.settings.poll_seconds, cap=60).total_seconds())
        log.warning("database refused the X page (%s); cursor kept, read again in %.0f s",
                    str(e).splitlines()[0][:200] if str(e) else type(e).__name__, svc.x.poll_in())
    finally:
        if ahead is not None:  # a page fetched ahead of a failure is simply fetched again next time
            ahead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead
    return stored


async def _maybe_alert_outage(svc: Services, failing: float, why: str) -> None:
    if svc.x.outage_alerted or failing < svc.settings.x_alert_after_seconds:
        return
    svc.x.outage_alerted = True
    log.error("X has failed for %.0f s (KEMALA_X_ALERT_AFTER_SECONDS=%g): %s", failing,
              svc.settings.x_alert_after_seconds, why)
    # One alert per outage: the kind names the outage (its start), so the next outage is told again.
    await alert_triage(svc, f"x_down:{svc.x.failing_since}", t("triage.x_down", svc.lang, minutes=_minutes(failing),
                                                              detail=why[:200]))


async def _read_ok(svc: Services) -> None:
    started = svc.x.failing_since
    length = svc.x.read_ok()
    if length is not None:
        log.info("X answers again after %.0f s", length)
        await alert_triage(svc, f"x_up:{started}", t("triage.x_up", svc.lang, minutes=_minutes(length)))


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))}"


async def flush_usage(svc: Services) -> None:
    if svc.bridge is None:
        return
    counts, reads = svc.bridge.usage.drain_all()
    if not any(counts.values()):
        return
    month = month_of(utcnow())
    await uc.record_usage(svc.sessions, month, counts, reads)
    await check_budget(svc, month)


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
        svc.x.wait_polls(svc.settings.x_budget_floor_seconds)


async def check_deleted(svc: Services) -> int:
    """Look up open complaints' tweets; those X no longer has are marked deleted."""
    if svc.bridge is None or svc.x.reads_paused:
        return 0
    ids = await open_tweet_ids(svc.sessions, limit=500)
    if not ids:
        return 0
    try:
        gone, reposts = await _to_thread(svc.bridge.lookup_status, ids)
    except (XUnavailable, XRateLimited, XUsageCapped, XPaymentRequired, XUnauthorized) as e:
        log.warning("deleted-tweet check skipped: %s", e)
        return 0
    finally:
        await flush_usage(svc)
    await uc.update_repost_counts(svc.sessions, reposts)
    return await uc.mark_deleted(svc.sessions, sorted(gone)) if gone else 0




async def _log_posts(svc: Services, what: str, ids: list[str]) -> None:
    """One INFO line per post read: its id and what it became (never its text)."""
    outcomes = await post_outcomes(svc.sessions, ids)
    for x_id in ids:
        role, complaint = outcomes.get(x_id, ("not stored", None))
        where = f" → complaint #{complaint}" if complaint is not None else ""
        log.info("post read %s (%s): %s%s", x_id, what, role, where)
