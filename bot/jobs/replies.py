"""Scheduled reply sweep: post approved replies on X exactly once (mark the attempt, call X, record)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot import usecases as uc
from bot.domain.posts import OwnReplyMatch, PostKind, Publisher
from bot.i18n import t
from bot.jobs.x_intake import alert_triage, flush_usage
from bot.models import utcnow
from bot.queries import due_reply_ids, x_ids_owned_by_other_replies
from bot.services import Services

log = logging.getLogger(__name__)

# Replies posted within this window are the ones whose X posts can still show up in reconciliation pages.
OWNED_LOOKBACK = timedelta(days=90)


async def publish_replies(svc: Services, *, limit: int = 20) -> int:
    """Post approved replies exactly once: mark the attempt, call X, record the outcome."""
    bridge = svc.bridge
    if bridge is None:
        return 0
    if svc.x.posts_pause_in() > 0:
        return 0
    done = 0
    for reply_id in await due_reply_ids(svc.sessions, utcnow(), limit=limit):
        try:
            done += await _publish_one(svc, bridge, reply_id)
        except Exception:  # one bad row must not stop the others; it is retried later
            log.exception("publishing reply %s failed; will retry", reply_id)
            await uc.delay_reply(svc.sessions, reply_id)
    await flush_usage(svc)
    return done


async def _publish_one(svc: Services, bridge: Publisher, reply_id: int) -> int:
    # The hold outlasts the worst case of one attempt (reconcile pages + the post, each up to two
    # timeouts), so no other sweep or replica takes the row while this attempt is still running.
    hold = timedelta(seconds=max(30.0, 8 * svc.settings.x_timeout_seconds))
    a = await uc.begin_reply_attempt(svc.sessions, reply_id, hold)
    if a is None:
        return 0  # another replica took it
    if a.was_unknown and await _adopt_if_posted(svc, bridge, a):
        return 1

    # X bills a reply to a post that @mentions the desk as a summoned reply, below a plain post.
    summoned = a.in_reply_to is not None and svc.desk_username.lower() in a.target_mentions
    outcome = await asyncio.to_thread(bridge.post, a.text, in_reply_to=a.in_reply_to, summoned=summoned)
    if outcome.kind is PostKind.UNKNOWN and outcome.duplicate:
        if await _adopt_if_posted(svc, bridge, a):
            return 1
        await uc.attempt_rejected(svc.sessions, a, "duplicate")
        return 1
    if outcome.kind is PostKind.POSTED and outcome.tweet_id:
        if not await uc.attempt_posted(svc.sessions, a, outcome.tweet_id):
            return 0
        log.info("reply posted: reply %s for complaint #%s as X post %s%s", a.reply_id, a.complaint_id,
                 outcome.tweet_id, f" (in reply to {a.in_reply_to})" if a.in_reply_to else " (standalone)")
        return 1
    if outcome.kind is PostKind.REJECTED:
        if await uc.attempt_rejected(svc.sessions, a, outcome.reason or "rejected") is None:
            return 0  # the row moved on without us (it should not: the hold covers the attempt)
        log.info("reply rejected: reply %s for complaint #%s: %s", a.reply_id, a.complaint_id,
                 (outcome.reason or "rejected")[:120])
        if a.in_reply_to and outcome.reason.startswith("target_gone"):
            # X says the tweet is gone before our periodic lookup saw it: the same as the lookup finding it.
            await uc.target_gone(svc.sessions, reply_id, a.in_reply_to)
        return 1
    if outcome.kind is PostKind.RETRY_LATER:
        await uc.attempt_retry_later(svc.sessions, a, outcome.reason, outcome.retry_at)
        if outcome.auth_failed:
            svc.x.pause_posts(300.0)
    else:  # UNKNOWN: maybe posted; the next sweep reconciles first
        await uc.attempt_unknown(svc.sessions, a, outcome.reason)
    if outcome.auth_failed:
        await alert_triage(svc, "x_post_unauthorized", t("triage.x_401", svc.lang))
    return 0


async def _adopt_if_posted(svc: Services, bridge: Publisher, a: uc.ReplyAttempt) -> bool:
    """Reconcile: when our reply is provably on X already, record that post instead of posting again.

    Only an exact match is adopted, and never a post another reply already owns. A post that only looks
    like this reply parks the reply (rejected "near_match", alert in triage): adopting it could leave a
    citizen unanswered while the card says "answered", and posting again could answer twice.
    """
    owned = await x_ids_owned_by_other_replies(svc.sessions, a.reply_id, utcnow() - OWNED_LOOKBACK)
    found = await asyncio.to_thread(_find_own, bridge, a.in_reply_to, a.text, owned)
    if found.exact:
        try:
            await uc.attempt_posted(svc.sessions, a, found.exact, adopted=True)
        except uc.PostTaken:
            # The unique constraint: another reply took this X post between our read and our write.
            log.warning("reply %s: X post %s already belongs to another reply; not adopted", a.reply_id,
                        found.exact)
            await _park_near_match(svc, a, found.exact)
            return True
        log.info("reply %s adopted from X (%s)", a.reply_id, found.exact)
        return True
    if found.near:
        await _park_near_match(svc, a, found.near)
        return True
    return False


async def _park_near_match(svc: Services, a: uc.ReplyAttempt, x_id: str) -> None:
    complaint_id = await uc.attempt_rejected(svc.sessions, a, "near_match")
    if complaint_id is None:
        return
    log.warning("reply %s parked: X post %s looks like it but is not provably it", a.reply_id, x_id)
    await alert_triage(svc, f"near_match:{a.reply_id}",
                       t("triage.near_match", svc.lang, number=complaint_id, x_id=x_id))


def _find_own(bridge: Publisher, in_reply_to: str | None, text: str, owned: set[str]) -> OwnReplyMatch:
    try:
        return bridge.reconcile_reply(in_reply_to=in_reply_to, text=text, exclude=owned)
    except Exception as e:  # reconciliation failing is "still unknown", never "not posted"
        raise RuntimeError(f"reconcile failed: {e}") from e
