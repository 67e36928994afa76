"""Who may press what: the one permission table behind a card's buttons and a press's refusals.

A group's keyboard is the same for every member, so a button is shown iff some role that can be present
in that chat may press it in that status; anyone else who presses it gets the refusal the rule names.
The use cases check again inside their transaction (a press can race another), with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.lifecycle import Status


class Role(StrEnum):
    MEMBER = "member"  # any member of the chat the card is in
    OWNER = "owner"  # the staff member who claimed the complaint
    GROUP_ADMIN = "group_admin"  # an administrator of that chat (or a configured desk admin)
    TRIAGE_ADMIN = "triage_admin"  # an administrator of the triage group (or a configured desk admin)


class ChatKind(StrEnum):
    AGENCY = "agency"
    TRIAGE = "triage"


class DeskAction(StrEnum):
    """Card buttons (and the preview's), by what they do; several wire codes can share one action."""

    CLAIM = "claim"
    RELEASE = "release"
    REASSIGN = "reassign"  # the agency picker and its reasons
    RETURN_TO_TRIAGE = "return_to_triage"
    REPLY = "reply"  # ask for the reply text (also "Ubah" on a preview)
    ANSWER_OUTSIDE = "answer_outside"
    ROUTE_CHOICE = "route_choice"  # one-tap routing from a triage card
    DISMISS = "dismiss"
    SEND = "send"  # Kirim / fallback on a draft preview
    DISCARD_DRAFT = "discard_draft"  # Batal on a draft preview
    FORWARD = "forward"  # not a provincial matter: tell the citizen where it goes (regency, vertical body)
    UNDISMISS = "undismiss"  # undo "Abaikan" (offered for UNDO_DISMISS_DAYS: the keyboard knows the time)


# Actions on the card itself; SEND and DISCARD_DRAFT live on the draft preview.
CARD_ACTIONS: tuple[DeskAction, ...] = (
    DeskAction.ROUTE_CHOICE, DeskAction.REASSIGN, DeskAction.FORWARD, DeskAction.DISMISS, DeskAction.CLAIM,
    DeskAction.REPLY, DeskAction.RELEASE, DeskAction.RETURN_TO_TRIAGE, DeskAction.ANSWER_OUTSIDE,
)

_WORKING = frozenset({Status.CLAIMED, Status.DRAFTED})
_TRIAGE_WAITING = frozenset({Status.NEW, Status.TRIAGE})
# An agency's complaint that triage re-posted in its own group (/cari N there): triage may still move it.
_AT_AGENCY = frozenset({Status.ROUTED}) | _WORKING
_ANY = frozenset(Status)


@dataclass(frozen=True)
class Rule:
    action: DeskAction
    chat: ChatKind
    statuses: frozenset[Status]  # where the action is offered
    roles: frozenset[Role]  # who may take it there
    refusal: str  # i18n key for someone without one of `roles`
    # Offered only while the citizen's post still exists (a deleted post cannot be answered).
    needs_post: bool = False
    # The draft itself (not the complaint's status) decides: the use case checks the draft's state.
    on_preview: bool = False


def _rules() -> tuple[Rule, ...]:
    a, tr = ChatKind.AGENCY, ChatKind.TRIAGE
    member, owner = frozenset({Role.MEMBER}), frozenset({Role.OWNER})
    owner_or_admin = frozenset({Role.OWNER, Role.GROUP_ADMIN})
    triage_admin = frozenset({Role.TRIAGE_ADMIN})
    # A group's keyboard is the same for every member, so an agency group shows only what its members
    # may press; moving a complaint between agencies is the triage admins' job, in the triage group.
    out: list[Rule] = [
        Rule(DeskAction.ROUTE_CHOICE, tr, _TRIAGE_WAITING, triage_admin, "alert.not_triage_admin"),
        Rule(DeskAction.REASSIGN, tr, _TRIAGE_WAITING | _AT_AGENCY, triage_admin, "alert.not_triage_admin"),
        Rule(DeskAction.FORWARD, tr, _TRIAGE_WAITING, triage_admin, "alert.not_triage_admin"),
        Rule(DeskAction.DISMISS, tr, _TRIAGE_WAITING | _AT_AGENCY, triage_admin, "alert.not_triage_admin"),
        Rule(DeskAction.UNDISMISS, tr, frozenset({Status.DISMISSED}), triage_admin, "alert.not_triage_admin"),
        Rule(DeskAction.CLAIM, a, frozenset({Status.ROUTED}), member, "alert.not_member"),
        Rule(DeskAction.RETURN_TO_TRIAGE, a, _AT_AGENCY, member, "alert.not_member"),
        Rule(DeskAction.REPLY, a, _WORKING, owner, "alert.not_owner", needs_post=True),
        Rule(DeskAction.RELEASE, a, _WORKING, owner_or_admin, "alert.not_owner"),
        Rule(DeskAction.ANSWER_OUTSIDE, a, _WORKING, owner_or_admin, "alert.not_owner"),
    ]
    for chat in (a, tr):
        # Approval (an admin's Kirim for agencies that require it) is the use case's business: it knows
        # the agency's setting and the draft.
        out.append(Rule(DeskAction.SEND, chat, _ANY, owner_or_admin, "alert.not_owner", on_preview=True))
        out.append(Rule(DeskAction.DISCARD_DRAFT, chat, _ANY, owner_or_admin, "alert.not_owner", on_preview=True))
    return tuple(out)


RULES: tuple[Rule, ...] = _rules()
# Refusals for an action that a chat kind never offers (other pairs: "alert.illegal").
_NOWHERE: dict[tuple[DeskAction, ChatKind], str] = {
    (DeskAction.RETURN_TO_TRIAGE, ChatKind.TRIAGE): "alert.same_agency",
    (DeskAction.REASSIGN, ChatKind.AGENCY): "alert.reassign_in_triage",
    (DeskAction.FORWARD, ChatKind.AGENCY): "alert.reassign_in_triage",
    (DeskAction.DISMISS, ChatKind.AGENCY): "alert.reassign_in_triage",
}
_BY_KEY: dict[tuple[DeskAction, ChatKind], Rule] = {(r.action, r.chat): r for r in RULES}


def roles_present(chat: ChatKind, status: Status) -> frozenset[Role]:
    """Roles someone in that chat can hold for a complaint in that status (owners only once claimed)."""
    roles = {Role.MEMBER, Role.GROUP_ADMIN, Role.TRIAGE_ADMIN}
    if chat is ChatKind.AGENCY and status in (Status.CLAIMED, Status.DRAFTED, Status.APPROVED):
        roles.add(Role.OWNER)
    return frozenset(roles)


def rule_for(action: DeskAction, chat: ChatKind) -> Rule | None:
    return _BY_KEY.get((action, chat))


def offered(action: DeskAction, chat: ChatKind, status: Status, *, post_exists: bool = True) -> bool:
    """Whether the button is on the card: the action is offered there and some present role may take it."""
    rule = rule_for(action, chat)
    if rule is None or rule.on_preview or status not in rule.statuses:
        return False
    if rule.needs_post and not post_exists:
        return False
    return bool(rule.roles & roles_present(chat, status))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    refusal: str | None = None  # i18n key when not allowed


ALLOW = Decision(True)


def decide(action: DeskAction, chat: ChatKind, status: Status, roles: frozenset[Role], *,
           claimed: bool, post_exists: bool = True) -> Decision:
    """May someone holding `roles` take `action` on a complaint in `status`, in that chat?

    The refusal names the rule that failed, checked in the order staff understand: wrong group kind,
    who you are, then what state the complaint is in.
    """
    rule = rule_for(action, chat)
    if rule is None:
        return Decision(False, _NOWHERE.get((action, chat), "alert.illegal"))
    if not rule.roles & roles:
        if rule.roles == {Role.OWNER} and not claimed:
            return Decision(False, "alert.claim_first")  # nobody owns it yet: claim it, then write
        return Decision(False, rule.refusal)
    if rule.on_preview:
        return ALLOW
    if rule.needs_post and not post_exists:
        return Decision(False, "alert.post_deleted")
    if status not in rule.statuses:
        if action is DeskAction.CLAIM and claimed:
            return Decision(False, "alert.already_yours" if Role.OWNER in roles else "alert.already_claimed")
        return Decision(False, "alert.illegal")
    return ALLOW
