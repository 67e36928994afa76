"""The callback codec: tiny, versioned button data, parsed once and never trusted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton

CALLBACK_MAX_BYTES = 64
CALLBACK_PREFIX = "k1"

# Reason keys for moving a complaint ("Alihkan…" in triage, "Salah SKPD?" in an agency group) and for
# dismissing it; labels are i18n "reason.<key>". "lainnya" asks for a written reason (ForceReply).
REASONS: tuple[str, ...] = ("nowewenang", "salahrute", "lainnya")
DISMISS_REASONS: tuple[str, ...] = ("spam", "bukanaduan", "ganda", "lainnya")
OTHER_REASON = "lainnya"


class Act(StrEnum):
    """Button actions; the value is the 2-letter wire code."""

    CLAIM = "cl"
    RELEASE = "rl"
    REASSIGN = "ra"  # open the agency picker (page 0)
    PAGE = "pg"  # picker page, arg = page number (0-based)
    TARGET = "tg"  # agency picked in the picker, arg = agency code
    REASON = "rs"  # reassign reason, arg = "<agency code>--<reason key>"
    TRIAGE = "tr"  # return to triage: opens the reason list
    TRIAGE_REASON = "tq"  # arg = reason key
    REPLY = "rp"  # ask for the reply text with a ForceReply prompt
    SEND = "sd"  # publish in-thread, arg = draft id
    EDIT = "ed"
    CANCEL = "cx"  # on a card: close a picker; on a draft preview: discard the draft
    CHOICE = "ch"  # one-tap routing from a triage card, arg = agency code
    OUTSIDE = "ou"  # answered outside the desk
    FALLBACK = "fb"  # publish as a standalone post mentioning the citizen, arg = draft id
    DISMISS = "ds"  # spam / not a complaint
    BACK = "bk"  # from the reason list back to the agency picker
    # Triage's decision on a held re-bind: the id slot carries the request (bind code row) id, version 0,
    # arg "ok" (Setujui) or "no" (Tolak). Not about a complaint: the handler routes it before the card path.
    BIND = "bd"
    # Agency picked for a group's /daftar request: the id slot carries 1 (nothing to version), arg = code.
    REGISTER = "rg"
    DISMISS_REASON = "dr"  # arg = a DISMISS_REASONS key ("ds" only opens the confirmation)
    UNDISMISS = "ud"  # triage's undo of a dismissal
    FORWARD = "fw"  # arg = destination code, or "lainnya" for a written destination
    FORWARD_MENU = "fm"  # open the destination picker, arg = page number
    SHOW = "sh"  # re-post this complaint's card in the chat the button is in (search results)


ARG_ACTS: frozenset[Act] = frozenset(
    {Act.PAGE, Act.TARGET, Act.REASON, Act.TRIAGE_REASON, Act.SEND, Act.CHOICE, Act.FALLBACK, Act.BIND,
     Act.REGISTER, Act.DISMISS_REASON, Act.FORWARD, Act.FORWARD_MENU}
)

# Explicit ASCII classes: `\d` would accept '１２' and other Unicode digits.
_CALLBACK_RE = re.compile(
    r"k1:(?P<act>" + "|".join(sorted(a.value for a in Act)) + r")"
    r":(?P<cid>[1-9][0-9]{0,9})"
    r":(?P<ver>0|[1-9][0-9]{0,5})"
    r"(?::(?P<arg>[a-z0-9-]{1,32}))?"
)
MAX_ID = 2**31 - 1  # complaint and draft ids are 32-bit integers in the database
_INT_ARG_RE = re.compile(r"0|[1-9][0-9]{0,9}")
# The reassign reason carries its target (stateless: no pending server-side choice that a
# restart or a second staff member could lose or overwrite). "--" never occurs inside an
# agency code, so the split is unambiguous; longest code + longest reason = 31 ≤ 32.
_REASON_SEP = "--"


@dataclass(frozen=True)
class Callback:
    """One decoded button press. Untrusted: the handler re-reads and re-checks everything."""

    act: Act
    complaint_id: int
    version: int
    arg: str | None = None

    def int_arg(self) -> int | None:
        """The argument as a non-negative integer (page number, draft id), else None."""
        if self.arg is not None and _INT_ARG_RE.fullmatch(self.arg) and int(self.arg) <= MAX_ID:
            return int(self.arg)
        return None


def encode(cb: Callback) -> str:
    """Serialise a callback as "k1:<act>:<complaint>:<version>[:<arg>]"; ValueError if invalid."""
    data = f"{CALLBACK_PREFIX}:{Act(cb.act).value}:{cb.complaint_id}:{cb.version}"
    if cb.arg is not None:
        data += f":{cb.arg}"
    if len(data.encode("utf-8")) > CALLBACK_MAX_BYTES:
        raise ValueError(f"callback data over {CALLBACK_MAX_BYTES} bytes: {data!r}")
    if parse(data) != cb:
        raise ValueError(f"callback cannot round-trip: {cb!r}")
    return data


def parse(data: str | None) -> Callback | None:
    """Decode callback data; None for anything that is not exactly what `encode` produces."""
    if not isinstance(data, str) or len(data) > CALLBACK_MAX_BYTES:
        return None
    m = _CALLBACK_RE.fullmatch(data)
    if m is None:
        return None
    act = Act(m["act"])
    arg = m["arg"]
    if (arg is not None) != (act in ARG_ACTS):
        return None
    cid = int(m["cid"])
    if cid > MAX_ID:
        return None  # beyond any row id the database can hold
    return Callback(act=act, complaint_id=cid, version=int(m["ver"]), arg=arg)


def reason_arg(target_code: str, reason: str) -> str:
    """Build the REASON argument "<target>--<reason>"."""
    return f"{target_code}{_REASON_SEP}{reason}"


def send_arg(draft_id: int, target: int | None = None) -> str:
    """Kirim's argument: the draft, and (after a follow-up) the stored tweet to answer under."""
    return str(draft_id) if target is None else f"{draft_id}-{target}"


def split_send_arg(arg: str | None) -> tuple[int, int | None] | None:
    """(draft id, tweet row id or None) from Kirim's argument; None unless well formed."""
    if arg is None:
        return None
    draft, _, target = arg.partition("-")
    if not _INT_ARG_RE.fullmatch(draft) or int(draft) > MAX_ID:
        return None
    if not target:
        return (int(draft), None) if "-" not in arg else None
    if not _INT_ARG_RE.fullmatch(target) or int(target) > MAX_ID:
        return None
    return int(draft), int(target)


def split_reason_arg(arg: str | None) -> tuple[str, str] | None:
    """Split a REASON argument into (target code, reason key); None unless both are well formed."""
    if arg is None or arg.count(_REASON_SEP) != 1:
        return None
    target, reason = arg.split(_REASON_SEP)
    if not target or target.startswith("-") or target.endswith("-") or reason not in REASONS:
        return None
    return target, reason


def _button(label: str, cb: Callback) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(cb))
