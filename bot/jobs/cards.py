"""Scheduled card sweep: send due outbox rows within Telegram's limits, then edit cards that changed."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup

from bot import usecases as uc
from bot.db import is_storage_failure
from bot.domain.outbox import CardKind, CardState
from bot.models import utcnow
from bot.queries import OutboxMessage, dirty_card_ids, due_card_rows, outbox_message
from bot.services import Services
from bot.telegram.gateway import EditKind, SendKind, edit_message, send_message, send_pictures
from bot.telegram.messages import render_outbox, render_pictures

log = logging.getLogger(__name__)

SEND_CLAIM = timedelta(seconds=30)  # well above PTB's send timeouts
RECORD_ATTEMPTS = 6  # ~12 s of retries for recording a message Telegram already has


async def sweep_cards(svc: Services, bot: Bot, *, limit: int = 60) -> int:
    """Send due outbox messages within Telegram's limits, then edit cards that changed."""
    sent = await send_cards(svc, bot, limit=limit)
    await refresh_cards(svc, bot, limit=limit)
    return sent


async def send_cards(svc: Services, bot: Bot, *, limit: int = 400, max_sends: int = 120) -> int:
    """Send due outbox rows oldest first, skipping groups whose per-minute window is full."""
    sent = 0
    for row_id, chat_id, messages in await due_card_rows(svc.sessions, utcnow(), limit=limit):
        if sent >= max_sends:
            break
        if not svc.pacer.can_send(chat_id, messages):
            continue  # that group is at its limit: others behind it still go
        if not await uc.claim_card_row(svc.sessions, row_id, SEND_CLAIM):
            continue  # another replica has it
        try:
            if await _send_one(svc, bot, row_id):
                sent += 1
        except Exception:
            log.exception("sending outbox row %s failed; will retry", row_id)
            await uc.reschedule_card(svc.sessions, row_id, delay=None, error="unexpected error")
    return sent


def _draw(svc: Services, m: OutboxMessage) -> tuple[str, InlineKeyboardMarkup | None]:
    return render_outbox(m, lang=svc.lang, tz=svc.settings.tz, mask_personal=svc.settings.mask_personal_data,
                         desk_username=svc.desk_username, now=utcnow(),
                         url_price=svc.settings.price_post_with_url, plain_price=svc.settings.price_post_created)


async def _send_one(svc: Services, bot: Bot, row_id: int) -> bool:
    m = await outbox_message(svc.sessions, row_id, desk_username=svc.desk_username)
    if m is None or m.state != CardState.SENDING:
        return False
    if m.kind is CardKind.PHOTO and m.reply_to_message_id is None and not m.as_links:
        # Pictures answer their card; a card that is not (or no longer) in this chat takes them along as links.
        log.info("outbox row %s: its card is not in chat %s; pictures go as links", row_id, m.chat_id)
        await uc.photos_as_links(svc.sessions, row_id, "card not in this chat")
        return False
    pictures = render_pictures(m, lang=svc.lang) if m.kind is CardKind.PHOTO and not m.as_links else []
    if pictures:
        out = await send_pictures(bot, svc.pacer, m.chat_id, pictures, reply_to=m.reply_to_message_id)
    else:
        text, keyboard = _draw(svc, m)
        out = await send_message(bot, svc.pacer, m.chat_id, text, keyboard=keyboard,
                                 reply_to=m.reply_to_message_id)
    if out.kind is SendKind.REFUSED and pictures:
        # "wrong file identifier/HTTP URL specified": X's URL is not one Telegram will fetch. The card
        # stays; the same row goes out again at once as links.
        log.warning("Telegram refused the pictures of outbox row %s (%s); sending them as links", row_id,
                    out.detail)
        await uc.photos_as_links(svc.sessions, row_id, out.detail)
        return False
    if out.kind is SendKind.RATE_LIMITED:
        await uc.reschedule_card(svc.sessions, row_id, delay=timedelta(seconds=out.retry_after), error=out.detail)
        return False
    if out.kind is SendKind.MIGRATED:
        assert out.new_chat_id is not None
        await uc.migrate_chat(svc.sessions, old_chat_id=m.chat_id, new_chat_id=out.new_chat_id)
        log.info("chat %s migrated to %s; its cards follow", m.chat_id, out.new_chat_id)
        await uc.reschedule_card(svc.sessions, row_id, delay=timedelta(0), error=out.detail)
        return False
    if out.kind is SendKind.FORBIDDEN:
        if await uc.park_chat(svc.sessions, chat_id=m.chat_id, reason=out.detail):
            await uc.alert_kicked(svc.sessions, svc.x.alerted, m.chat_id, svc.lang)
        return False
    if out.kind is SendKind.REFUSED:
        log.error("Telegram refused outbox row %s: %s", row_id, out.detail)
        await uc.reschedule_card(svc.sessions, row_id, delay=None, error=out.detail, failed=True)
        return False
    if out.kind is SendKind.NETWORK:
        await uc.reschedule_card(svc.sessions, row_id, delay=None, error=out.detail)
        return False
    assert out.message_id is not None
    # The message exists now: recording it must survive a short storage fault, or the row is sent again.
    for attempt in range(RECORD_ATTEMPTS):
        try:
            await uc.record_card_sent(svc.sessions, row_id, out.message_id, photos=svc.settings.photos)
            log.info("card sent: outbox row %s (%s, complaint #%s) to chat %s as message %s", row_id, m.kind.value,
                     m.complaint_number, m.chat_id, out.message_id)
            return True
        except Exception as e:
            if not is_storage_failure(e) or attempt + 1 == RECORD_ATTEMPTS:
                raise
            log.warning("recording sent card %s failed (%s); retrying", row_id, str(e).splitlines()[0][:120])
            await asyncio.sleep(min(4.0, 0.5 * 2 ** attempt))
    return True


async def refresh_cards(svc: Services, bot: Bot, *, limit: int = 60) -> int:
    n = 0
    for row_id in await dirty_card_ids(svc.sessions, limit=limit):
        if await refresh_card(svc, bot, row_id):
            n += 1
    return n


async def refresh_card(svc: Services, bot: Bot, row_id: int, *, press: bool = False) -> bool:
    """Edit one sent card to match its complaint; 'message is not modified' counts as done.

    The dirty flag is cleared before rendering: a change committed while we edit sets it again, so the
    next sweep edits once more instead of the change being lost.
    """
    if not await uc.take_card_for_edit(svc.sessions, row_id):
        return False
    m = await outbox_message(svc.sessions, row_id, desk_username=svc.desk_username)
    assert m is not None and m.message_id is not None
    text, keyboard = _draw(svc, m)
    out = await edit_message(bot, svc.pacer, m.chat_id, int(m.message_id), text, keyboard=keyboard, press=press)
    if out.kind is EditKind.EDITED:
        return True
    if out.kind is EditKind.GONE:
        log.warning("editing card %s failed: %s", row_id, out.detail)
        # Retrying would fail forever and leave the complaint without buttons: send the card again.
        if await uc.resend_card(svc.sessions, row_id):
            log.info("card %s re-sent in chat %s: its message cannot be edited", row_id, m.chat_id)
        return True
    if out.kind is EditKind.MIGRATED:
        assert out.new_chat_id is not None
        await uc.migrate_chat(svc.sessions, old_chat_id=m.chat_id, new_chat_id=out.new_chat_id)
        log.info("chat %s migrated to %s; its live cards are sent again there", m.chat_id, out.new_chat_id)
        return True
    log.warning("editing card %s failed: %s", row_id, out.detail)
    await uc.mark_card_dirty(svc.sessions, row_id)
    return False
