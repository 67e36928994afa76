"""The complaint lifecycle, exhaustively: every status × every action."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.domain.lifecycle import TRANSITIONS, Action, IllegalTransition, Status, allowed_actions, is_open, next_status

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

# The expected table, written out by hand so the test does not read the code it checks.
EXPECTED: dict[tuple[str, str], str] = {
    ("new", "route"): "routed", ("new", "send_to_triage"): "triage", ("new", "dismiss"): "dismissed",
    ("triage", "route"): "routed", ("triage", "reassign"): "routed", ("triage", "dismiss"): "dismissed",
    ("triage", "answer_outside"): "answered",
    ("routed", "claim"): "claimed", ("routed", "reassign"): "routed", ("routed", "return_to_triage"): "triage",
    ("routed", "answer_outside"): "answered", ("routed", "dismiss"): "dismissed",
    ("claimed", "release"): "routed", ("claimed", "draft_reply"): "drafted", ("claimed", "reassign"): "routed",
    ("claimed", "return_to_triage"): "triage", ("claimed", "answer_outside"): "answered",
    ("claimed", "dismiss"): "dismissed",
    ("drafted", "release"): "routed", ("drafted", "draft_reply"): "drafted", ("drafted", "cancel_draft"): "claimed",
    ("drafted", "approve_reply"): "approved", ("drafted", "reassign"): "routed",
    ("drafted", "return_to_triage"): "triage", ("drafted", "answer_outside"): "answered",
    ("drafted", "dismiss"): "dismissed",
    ("approved", "reply_posted"): "answered", ("approved", "reply_rejected"): "claimed",
    ("answered", "close"): "closed", ("answered", "reopen"): "routed",
    ("closed", "reopen"): "routed", ("dismissed", "close"): "closed",
    # Not the province's matter: triage forwards what waits for it; triage can undo a dismissal.
    ("new", "forward"): "forwarded", ("triage", "forward"): "forwarded", ("forwarded", "close"): "closed",
    ("dismissed", "undismiss"): "triage",
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_every_status_action_pair(status: Status, action: Action) -> None:
    expected = EXPECTED.get((status.value, action.value))
    if expected is None:
        with pytest.raises(IllegalTransition) as err:
            next_status(status, action)
        assert err.value.status is status and err.value.action is action
        assert status.value in str(err.value)
    else:
        assert next_status(status, action) == Status(expected)


def test_table_has_no_transition_the_spec_lacks() -> None:
    assert {(s.value, a.value) for (s, a) in TRANSITIONS} == set(EXPECTED)


def test_allowed_actions_and_open_statuses() -> None:
    assert allowed_actions(Status.ROUTED) == {Action.CLAIM, Action.REASSIGN, Action.RETURN_TO_TRIAGE,
                                              Action.ANSWER_OUTSIDE, Action.DISMISS}
    assert allowed_actions(Status.APPROVED) == {Action.REPLY_POSTED, Action.REPLY_REJECTED}
    assert is_open(Status.CLAIMED) and not is_open(Status.ANSWERED) and not is_open(Status.DISMISSED)


_BOT = Path(__file__).resolve().parent.parent / "bot"


@pytest.mark.parametrize("module", [*sorted(p.name for p in (_BOT / "domain").glob("*.py")), "../routing.py"])
def test_domain_modules_are_pure(module: str) -> None:
    path = _BOT / "domain" / module
    assert path.exists(), path
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"telegram", "tweepy", "sqlalchemy", "requests", "httpx"}
