"""Outbox states and the moves between them: the words the card and reply sweeps speak.

A row's state only changes through `move()`, so a state written by one sweep can always be read by
the others and an impossible move (a posted reply going back to pending, say) fails loudly.
"""

from __future__ import annotations

from enum import StrEnum


class CardState(StrEnum):
    PENDING = "pending"  # waiting for the card sweep
    SENDING = "sending"  # claimed by one sweep for a short while (see SEND_CLAIM)
    SENT = "sent"  # on Telegram; `needs_edit` asks the sweep to bring it up to date
    PARKED = "parked"  # no chat to send to yet (agency not bound, bot removed)
    FAILED = "failed"  # Telegram refused it for good
    CANCELLED = "cancelled"  # never sent: its complaint moved elsewhere first
    RETIRED = "retired"  # sent, but its message can no longer be edited (chat migrated): re-sent


class CardKind(StrEnum):
    CARD = "card"
    FOLLOWUP = "followup"
    PHOTO = "photo"
    NOTICE = "notice"
    # A reply's draft preview (already sent by the handler): edited to "Terkirim ke X" once it is posted.
    PREVIEW = "preview"


class ReplyState(StrEnum):
    DRAFT = "draft"  # written in Telegram, not approved
    PENDING = "pending"  # approved (Kirim): waiting for the reply sweep
    UNKNOWN = "unknown"  # a POST may have happened: reconcile with our own posts before any retry
    POSTED = "posted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class ReplyMode(StrEnum):
    THREAD = "thread"  # in the citizen's thread
    FALLBACK = "fallback"  # a standalone post that mentions the citizen and links their post


class IllegalMove(Exception):
    """A state change that the outbox's table does not allow."""


CARD_MOVES: dict[CardState, frozenset[CardState]] = {
    CardState.PENDING: frozenset({CardState.SENDING, CardState.PARKED, CardState.CANCELLED, CardState.PENDING}),
    CardState.SENDING: frozenset({CardState.SENT, CardState.PENDING, CardState.FAILED, CardState.PARKED,
                                  CardState.SENDING}),
    CardState.PARKED: frozenset({CardState.PENDING, CardState.CANCELLED}),
    CardState.FAILED: frozenset({CardState.PENDING}),
    CardState.SENT: frozenset({CardState.RETIRED}),
    CardState.CANCELLED: frozenset(),
    CardState.RETIRED: frozenset(),
}

REPLY_MOVES: dict[ReplyState, frozenset[ReplyState]] = {
    ReplyState.DRAFT: frozenset({ReplyState.PENDING, ReplyState.CANCELLED}),
    ReplyState.PENDING: frozenset({ReplyState.UNKNOWN, ReplyState.CANCELLED, ReplyState.REJECTED,
                                   ReplyState.POSTED}),
    # UNKNOWN → UNKNOWN is a further attempt; → PENDING is "retry later" after a clean refusal.
    ReplyState.UNKNOWN: frozenset({ReplyState.UNKNOWN, ReplyState.PENDING, ReplyState.POSTED,
                                   ReplyState.REJECTED, ReplyState.CANCELLED}),
    ReplyState.POSTED: frozenset(),
    ReplyState.REJECTED: frozenset(),
    ReplyState.CANCELLED: frozenset(),
}

# States a sweep still has work in.
CARD_DUE: tuple[CardState, ...] = (CardState.PENDING, CardState.SENDING)
# Card rows that never reached Telegram (a migration moves them to the new chat).
UNSENT: tuple[CardState, ...] = (CardState.PENDING, CardState.SENDING, CardState.PARKED, CardState.FAILED)
REPLY_DUE: tuple[ReplyState, ...] = (ReplyState.PENDING, ReplyState.UNKNOWN)
# States in which an approved reply is already on its way (or there).
REPLY_IN_FLIGHT: tuple[ReplyState, ...] = (ReplyState.PENDING, ReplyState.UNKNOWN, ReplyState.POSTED)


def card_move(current: str, to: CardState) -> CardState:
    """`to`, if a card row in `current` may move there; IllegalMove otherwise."""
    if to not in CARD_MOVES[CardState(current)]:
        raise IllegalMove(f"card outbox: {current} → {to.value} is not a move")
    return to


def reply_move(current: str, to: ReplyState) -> ReplyState:
    """`to`, if a reply row in `current` may move there; IllegalMove otherwise."""
    if to not in REPLY_MOVES[ReplyState(current)]:
        raise IllegalMove(f"reply outbox: {current} → {to.value} is not a move")
    return to


# A notice row telling the owner that X refused their reply carries "rejected:<reason>" as its text.
REJECTED_NOTICE_PREFIX = "rejected:"
