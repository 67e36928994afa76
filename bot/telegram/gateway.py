"""The Telegram gateway: every Bot API call of the sweeps and the handlers goes through here.

One place knows Telegram's failure words: pacing before each call, 429 `retry_after`, "message is not
modified" (done), "message can't be edited" (gone for good), a migrated chat, a removed bot. Callers
get an outcome to act on, never a PTB exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, InputMediaPhoto
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")


class Pacer(Protocol):
    """What the gateway needs of bot.services.SendPacer."""

    async def before_send(self, chat_id: int, *, press: bool = ..., n: int = ...) -> None: ...
    async def acquire(self, *, press: bool = ...) -> None: ...
    def block(self, chat_id: int, seconds: float) -> None: ...
    def failed(self, code: str) -> None: ...


def retry_seconds(e: RetryAfter) -> float:
    ra: Any = e.retry_after
    return float(ra.total_seconds()) if isinstance(ra, timedelta) else float(ra)


class SendKind(StrEnum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"  # wait `retry_after` (the chat is blocked in the pacer already)
    MIGRATED = "migrated"  # the group became a supergroup: `new_chat_id`
    FORBIDDEN = "forbidden"  # the bot was removed or blocked
    REFUSED = "refused"  # 400: Telegram will never take this message as it is
    NETWORK = "network"  # timed out or no answer: try again later


@dataclass(frozen=True)
class SendOutcome:
    kind: SendKind
    message_id: int | None = None
    retry_after: float = 0.0
    new_chat_id: int | None = None
    detail: str = ""


async def send_message(bot: Bot, pacer: Pacer, chat_id: int, text: str, *,
                       keyboard: InlineKeyboardMarkup | None = None, reply_to: int | None = None,
                       press: bool = False) -> SendOutcome:
    """One paced sendMessage (HTML, no link previews), as an outcome."""
    await pacer.before_send(chat_id, press=press)

    async def send() -> int:
        msg = await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                     reply_to_message_id=reply_to, allow_sending_without_reply=True,
                                     disable_web_page_preview=True)
        return msg.message_id

    return await _sent(pacer, chat_id, send)


async def _sent(pacer: Pacer, chat_id: int, send: Callable[[], Awaitable[int]]) -> SendOutcome:
    """One send as an outcome: Telegram's failure words for a new message, said once for all kinds."""
    try:
        message_id = await send()
    except RetryAfter as e:
        pacer.block(chat_id, retry_seconds(e))
        pacer.failed("429")
        return SendOutcome(SendKind.RATE_LIMITED, retry_after=retry_seconds(e),
                           detail=f"429 retry_after {retry_seconds(e)}")
    except ChatMigrated as e:
        pacer.failed("400")
        return SendOutcome(SendKind.MIGRATED, new_chat_id=int(e.new_chat_id), detail="chat migrated")
    except Forbidden as e:
        pacer.failed("403")
        return SendOutcome(SendKind.FORBIDDEN, detail=str(e.message))
    except BadRequest as e:
        pacer.failed("400")
        return SendOutcome(SendKind.REFUSED, detail=f"400 {e.message}")
    except (TimedOut, NetworkError) as e:
        pacer.failed("network")
        return SendOutcome(SendKind.NETWORK, detail=f"network: {e}")
    return SendOutcome(SendKind.SENT, message_id=message_id)


async def send_pictures(bot: Bot, pacer: Pacer, chat_id: int, pictures: Sequence[tuple[str, str]], *,
                        reply_to: int | None) -> SendOutcome:
    """(image URL, HTML caption) pairs as one paced sendPhoto (one picture) or sendMediaGroup (2–10; an
    album carries no keyboard). Counted n messages against the group's window, as Telegram counts them."""
    if not 1 <= len(pictures) <= 10:
        raise ValueError("1–10 pictures per send")
    await pacer.before_send(chat_id, press=False, n=len(pictures))

    async def send() -> int:
        if len(pictures) == 1:
            url, caption = pictures[0]
            msg = await bot.send_photo(chat_id, url, caption=caption or None, parse_mode=ParseMode.HTML,
                                       reply_to_message_id=reply_to, allow_sending_without_reply=True)
            return msg.message_id
        album = [InputMediaPhoto(url, caption=caption or None, parse_mode=ParseMode.HTML) for url, caption in pictures]
        msgs = await bot.send_media_group(chat_id, album, reply_to_message_id=reply_to,
                                          allow_sending_without_reply=True)
        return msgs[0].message_id

    return await _sent(pacer, chat_id, send)


class EditKind(StrEnum):
    EDITED = "edited"  # also "message is not modified": the card already shows this
    GONE = "gone"  # the message can never be edited again: send the card anew
    MIGRATED = "migrated"
    RETRY = "retry"  # anything else: leave the card dirty for the next sweep


@dataclass(frozen=True)
class EditOutcome:
    kind: EditKind
    new_chat_id: int | None = None
    detail: str = ""


_PERMANENT_EDIT_FAILURES = ("message can't be edited", "message to edit not found", "message not found",
                            "message_id_invalid")


async def edit_message(bot: Bot, pacer: Pacer, chat_id: int, message_id: int, text: str, *,
                       keyboard: InlineKeyboardMarkup | None, press: bool = False) -> EditOutcome:
    """One paced editMessageText, as an outcome."""
    await pacer.acquire(press=press)
    try:
        await bot.edit_message_text(text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                                    reply_markup=keyboard, disable_web_page_preview=True)
    except BadRequest as e:
        lowered = e.message.lower()
        if "not modified" in lowered:
            return EditOutcome(EditKind.EDITED)
        pacer.failed("400")
        if any(m in lowered for m in _PERMANENT_EDIT_FAILURES):
            return EditOutcome(EditKind.GONE, detail=e.message)
        return EditOutcome(EditKind.RETRY, detail=e.message)
    except ChatMigrated as e:
        pacer.failed("400")
        return EditOutcome(EditKind.MIGRATED, new_chat_id=int(e.new_chat_id))
    except RetryAfter as e:
        pacer.block(chat_id, retry_seconds(e))
        pacer.failed("429")
        return EditOutcome(EditKind.RETRY, detail=f"429 retry_after {retry_seconds(e)}")
    except (TimedOut, NetworkError) as e:
        pacer.failed("network")
        return EditOutcome(EditKind.RETRY, detail=str(e))
    except (Forbidden, TelegramError) as e:
        pacer.failed("403" if isinstance(e, Forbidden) else "error")
        return EditOutcome(EditKind.RETRY, detail=str(e))
    return EditOutcome(EditKind.EDITED)


async def patiently(pacer: Pacer, call: Callable[[], Awaitable[T]]) -> T:
    """One Bot API call of a press: paced, and a short 429 is waited out (twice at most) instead of failing."""
    for attempt in (1, 2, 3):
        await pacer.acquire()
        try:
            return await call()
        except RetryAfter as e:
            wait = retry_seconds(e)
            if attempt == 3 or wait > 3:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


async def answer_query(pacer: Pacer, q: CallbackQuery, text: str | None, *, alert: bool = False) -> None:
    """Answer a press exactly once; a short 429 is waited out so the user's spinner always stops."""
    for attempt in (1, 2, 3):
        await pacer.acquire()
        try:
            await q.answer(text, show_alert=alert)
            return
        except RetryAfter as e:
            wait = retry_seconds(e)
            if attempt == 3 or wait > 3:
                log.warning("could not answer a press: Telegram asked to wait %.0f s", wait)
                return
            await asyncio.sleep(wait)
        except BadRequest as e:  # too old, or already answered: nothing more we can do
            log.warning("could not answer a press: %s", e.message)
            return
