"""One permission table: a card shows a button iff some role present in its chat may press it in its
status, and every press is decided by the same table (status × chat kind × role × action)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from bot.domain.lifecycle import Status
from bot.domain.policy import CARD_ACTIONS, ChatKind, DeskAction, Role, decide, offered, roles_present, rule_for
from bot.handlers.buttons import ACTION_OF
from bot.i18n import CATALOGUE
from bot.queries import CardView
from bot.telegram.callbacks import parse
from bot.telegram.keyboards import card_keyboard

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

ROLE_SETS = [frozenset({Role.MEMBER, *extra}) for n in range(4)
             for extra in itertools.combinations((Role.OWNER, Role.GROUP_ADMIN, Role.TRIAGE_ADMIN), n)]


def _view(chat: ChatKind, status: Status, *, deleted: bool) -> CardView:
    return CardView(complaint_id=7, version=3, status=status.value, agency_code="dpubmck", agency_short="DPU",
                    citizen_name="Warga", citizen_username="warga", text="jalan rusak", place_label=None,
                    created_at=datetime(2026, 12, 1, tzinfo=UTC), tweet_url="https://x.com/warga/status/1",
                    reply_eligible=True, desk_username="KemalaDesk", claimer_name="Budi",
                    alternatives=(("dinkes", "Dinkes", 0.4),), deleted=deleted,
                    is_triage_card=chat is ChatKind.TRIAGE)


def _shown(view: CardView) -> set[DeskAction]:
    markup = card_keyboard(view)
    if markup is None:
        return set()
    acts = {parse(str(b.callback_data)) for row in markup.inline_keyboard for b in row}
    return {ACTION_OF[cb.act] for cb in acts if cb is not None}


@pytest.mark.parametrize(("chat", "status", "deleted"),
                         list(itertools.product(ChatKind, Status, (False, True))))
def test_buttons_and_presses_agree_with_the_table(chat: ChatKind, status: Status, deleted: bool) -> None:
    shown = _shown(_view(chat, status, deleted=deleted))
    present = roles_present(chat, status)
    for action in CARD_ACTIONS:
        may = {roles for roles in ROLE_SETS if roles <= present and decide(
            action, chat, status, roles, claimed=Role.OWNER in present, post_exists=not deleted).allowed}
        assert (action in shown) == offered(action, chat, status, post_exists=not deleted) == bool(may), \
            (action, chat, status, deleted, shown)
        for roles in ROLE_SETS:
            d = decide(action, chat, status, roles, claimed=Role.OWNER in present, post_exists=not deleted)
            rule = rule_for(action, chat)
            expected = (action in shown and rule is not None and bool(rule.roles & roles))
            assert d.allowed == expected, (action, chat, status, roles)
            if not d.allowed:
                assert d.refusal in CATALOGUE, d  # every refusal names its rule in words staff read


def test_refusals_name_the_rule_that_failed() -> None:
    a = ChatKind.AGENCY
    member = frozenset({Role.MEMBER})
    # Moving a complaint is triage's: an agency group is told where it is done, not "admins only".
    assert decide(DeskAction.REASSIGN, a, Status.ROUTED, member, claimed=False).refusal \
        == "alert.reassign_in_triage"
    assert decide(DeskAction.REASSIGN, ChatKind.TRIAGE, Status.ROUTED, member, claimed=False).refusal \
        == "alert.not_triage_admin"
    assert decide(DeskAction.FORWARD, ChatKind.TRIAGE, Status.TRIAGE, member, claimed=False).refusal \
        == "alert.not_triage_admin"
    assert decide(DeskAction.FORWARD, ChatKind.TRIAGE, Status.TRIAGE, frozenset({Role.TRIAGE_ADMIN}),
                  claimed=False).allowed
    assert not decide(DeskAction.FORWARD, ChatKind.TRIAGE, Status.ANSWERED, frozenset({Role.TRIAGE_ADMIN}),
                      claimed=False).allowed
    assert decide(DeskAction.REPLY, a, Status.ROUTED, member, claimed=False).refusal == "alert.claim_first"
    assert decide(DeskAction.REPLY, a, Status.CLAIMED, member, claimed=True).refusal == "alert.not_owner"
    assert decide(DeskAction.CLAIM, a, Status.CLAIMED, member, claimed=True).refusal == "alert.already_claimed"
    owner = frozenset({Role.MEMBER, Role.OWNER})
    assert decide(DeskAction.CLAIM, a, Status.CLAIMED, owner, claimed=True).refusal == "alert.already_yours"
    assert decide(DeskAction.REPLY, a, Status.CLAIMED, owner, claimed=True, post_exists=False).refusal \
        == "alert.post_deleted"
    assert decide(DeskAction.RETURN_TO_TRIAGE, ChatKind.TRIAGE, Status.TRIAGE, member, claimed=False).refusal \
        == "alert.same_agency"
    admin = frozenset({Role.MEMBER, Role.GROUP_ADMIN})
    assert decide(DeskAction.RELEASE, a, Status.CLAIMED, admin, claimed=True).allowed
    assert not decide(DeskAction.DISMISS, a, Status.ROUTED, admin | {Role.TRIAGE_ADMIN}, claimed=False).allowed
