"""The complaint lifecycle: a pure state machine (no I/O, no framework imports)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"  # stored, not yet routed
    TRIAGE = "triage"  # waiting in the provincial admins' triage group
    ROUTED = "routed"  # card in an agency group, nobody has it
    CLAIMED = "claimed"  # a staff member owns it
    DRAFTED = "drafted"  # the owner wrote a reply that is not approved yet
    APPROVED = "approved"  # Kirim pressed: the reply sits in the outbox
    ANSWERED = "answered"  # reply posted on X, or answered outside the desk
    CLOSED = "closed"
    DISMISSED = "dismissed"  # spam / not a complaint
    # Not the province's matter: the citizen was told which regency/city government or vertical body
    # handles it (counted apart from answered and dismissed).
    FORWARDED = "forwarded"


class Action(StrEnum):
    ROUTE = "route"
    SEND_TO_TRIAGE = "send_to_triage"
    CLAIM = "claim"
    RELEASE = "release"
    REASSIGN = "reassign"
    RETURN_TO_TRIAGE = "return_to_triage"
    DRAFT_REPLY = "draft_reply"
    CANCEL_DRAFT = "cancel_draft"
    APPROVE_REPLY = "approve_reply"
    REPLY_POSTED = "reply_posted"
    REPLY_REJECTED = "reply_rejected"
    ANSWER_OUTSIDE = "answer_outside"
    REOPEN = "reopen"
    DISMISS = "dismiss"
    CLOSE = "close"
    FORWARD = "forward"
    UNDISMISS = "undismiss"  # triage's undo of a dismissal (within UNDO_DISMISS_DAYS)


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.NEW, Status.TRIAGE, Status.ROUTED, Status.CLAIMED, Status.DRAFTED, Status.APPROVED}
)
# Nothing left for staff to do on the card (a follow-up may still reopen an answered one).
DONE_STATUSES: frozenset[Status] = frozenset({Status.ANSWERED, Status.CLOSED, Status.DISMISSED, Status.FORWARDED})
_WORKING = (Status.ROUTED, Status.CLAIMED, Status.DRAFTED)

# status × action → next status. Anything absent is illegal.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.NEW, Action.ROUTE): Status.ROUTED,
    (Status.NEW, Action.SEND_TO_TRIAGE): Status.TRIAGE,
    (Status.TRIAGE, Action.ROUTE): Status.ROUTED,
    (Status.TRIAGE, Action.REASSIGN): Status.ROUTED,
    (Status.ROUTED, Action.CLAIM): Status.CLAIMED,
    (Status.CLAIMED, Action.RELEASE): Status.ROUTED,
    (Status.DRAFTED, Action.RELEASE): Status.ROUTED,
    (Status.CLAIMED, Action.DRAFT_REPLY): Status.DRAFTED,
    (Status.DRAFTED, Action.DRAFT_REPLY): Status.DRAFTED,
    (Status.DRAFTED, Action.CANCEL_DRAFT): Status.CLAIMED,
    (Status.DRAFTED, Action.APPROVE_REPLY): Status.APPROVED,
    (Status.APPROVED, Action.REPLY_POSTED): Status.ANSWERED,
    # A rejected reply goes back to its owner, who picks the fallback or rewrites.
    (Status.APPROVED, Action.REPLY_REJECTED): Status.CLAIMED,
    (Status.ANSWERED, Action.CLOSE): Status.CLOSED,
    (Status.DISMISSED, Action.CLOSE): Status.CLOSED,
    (Status.ANSWERED, Action.REOPEN): Status.ROUTED,
    (Status.CLOSED, Action.REOPEN): Status.ROUTED,
}
for _s in _WORKING:
    TRANSITIONS[(_s, Action.REASSIGN)] = Status.ROUTED
    TRANSITIONS[(_s, Action.RETURN_TO_TRIAGE)] = Status.TRIAGE
    TRANSITIONS[(_s, Action.ANSWER_OUTSIDE)] = Status.ANSWERED
for _s in (Status.NEW, Status.TRIAGE, *_WORKING):
    TRANSITIONS[(_s, Action.DISMISS)] = Status.DISMISSED
TRANSITIONS[(Status.TRIAGE, Action.ANSWER_OUTSIDE)] = Status.ANSWERED
for _s in (Status.NEW, Status.TRIAGE):
    TRANSITIONS[(_s, Action.FORWARD)] = Status.FORWARDED
TRANSITIONS[(Status.FORWARDED, Action.CLOSE)] = Status.CLOSED
TRANSITIONS[(Status.DISMISSED, Action.UNDISMISS)] = Status.TRIAGE

# How long triage can take a dismissal back ("Batalkan abaikan" in the triage group).
UNDO_DISMISS_DAYS = 7


class IllegalTransition(Exception):
    """An action that the complaint's current status does not allow."""

    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"cannot {action.value} a complaint that is {status.value}")
        self.status = status
        self.action = action


def next_status(status: Status, action: Action) -> Status:
    """The status after `action`, or IllegalTransition."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalTransition(status, action) from None


def allowed_actions(status: Status) -> frozenset[Action]:
    return frozenset(a for (s, a) in TRANSITIONS if s == status)


def is_open(status: Status) -> bool:
    return status in OPEN_STATUSES
