"""Issue 11 item 3: taking over triage (or an agency) through a one-time code, replayed end to end.

The real bot runs against the Telegram and X sandboxes on a real database (the `desk` fixture); staff
and attackers are sandbox users sending commands and pressing buttons.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.models import Agency, AgencyChat, BindCode, utcnow
from bot.sandbox.telegram import SandboxNotFound
from tests.desk_harness import ADMIN, BUDI, DPU, DPU_HEAD, OUTSIDER, TRIAGE, Desk, is_alert

OUT_GROUP = -1002000000666  # the outsider's own group, where they are administrator
DISHUB = -1002000000077
NEW_DPU = -1002000000078
DEDI = {"id": 801, "first_name": "Dedi", "username": "dedi_dishub"}
OUTSIDER_2 = {"id": 998, "first_name": "Kawan", "username": "kawan_luar"}
CODE_RE = re.compile(r"/bind ([0-9a-f]{8,})")


def _bot_texts(desk: Desk, chat: int) -> list[str]:
    try:
        return [m.get("text") or "" for m in desk.tg.messages(chat) if m["from_bot"]]
    except SandboxNotFound:  # a private chat the user has not opened yet
        return []


def _everything_in(desk: Desk, chat: int) -> str:
    """All a member of the chat can read there, buttons included."""
    return "\n".join(repr(m) for m in desk.tg.messages(chat))


async def _say(desk: Desk, chat: int, user: dict[str, Any], text: str) -> str:
    """A user writes in a chat; returns the bot's next message there."""
    before = len(_bot_texts(desk, chat))
    desk.tg.send_message(chat, int(user["id"]), text)
    texts = await desk.wait_for(lambda: _bot_texts(desk, chat)[before:], what=f"the bot's answer to {text!r}")
    return str(texts[0])


async def _private_code(desk: Desk, agency: str) -> str:
    """The admin (who started the bot) asks in triage; the code arrives in the admin's private chat only."""
    before = len(_bot_texts(desk, ADMIN["id"]))
    group_reply = await _say(desk, TRIAGE, ADMIN, f"/hubungkan {agency}")
    assert "chat pribadi" in group_reply and not CODE_RE.search(group_reply), group_reply
    text = await desk.wait_for(lambda: next((t for t in _bot_texts(desk, ADMIN["id"])[before:] if CODE_RE.search(t)),
                                            None), what="a code in the admin's private chat")
    match = CODE_RE.search(text)
    assert match is not None
    return match[1]


async def _codes(desk: Desk) -> list[str]:
    async def q(s: Any) -> list[str]:
        return list((await s.scalars(select(BindCode.code))).all())
    return await desk.db(q)


async def _chat_of(desk: Desk, code: str) -> int | None:
    async def q(s: Any) -> int | None:
        return await s.scalar(select(AgencyChat.chat_id).join(Agency, Agency.id == AgencyChat.agency_id)
                              .where(Agency.code == code))
    return await desk.db(q)


def _groups(desk: Desk) -> None:
    desk.tg.add_chat(OUT_GROUP, "supergroup", "Grup Orang Luar")
    desk.tg.set_member(OUT_GROUP, OUTSIDER, "administrator")
    desk.tg.set_member(OUT_GROUP, OUTSIDER_2, "administrator")
    desk.tg.add_chat(DISHUB, "supergroup", "Dishub Kemala")
    desk.tg.set_member(DISHUB, DEDI, "administrator")
    desk.tg.set_member(TRIAGE, BUDI, "member")  # a plain member of the triage group


async def test_triage_group_cannot_be_bound_with_a_code(desk: Desk) -> None:
    _groups(desk)
    refusal = await _say(desk, TRIAGE, ADMIN, "/hubungkan triase")
    assert "KEMALA_TRIAGE_CHAT_ID" in refusal and not CODE_RE.search(refusal)
    assert await _codes(desk) == []

    # A triage code left from before (or written into the table) binds nothing either.
    async def plant(s: Any) -> None:
        triage = await s.scalar(select(Agency).where(Agency.code == "triase"))
        s.add(BindCode(code="cafebabe00", agency_id=triage.id, created_by=ADMIN["id"],
                       expires_at=utcnow() + timedelta(minutes=10)))
        await s.commit()
    await desk.db(plant)
    refusal = await _say(desk, OUT_GROUP, OUTSIDER, "/bind cafebabe00")
    assert "KEMALA_TRIAGE_CHAT_ID" in refusal
    assert await _chat_of(desk, "triase") == TRIAGE

    # The outsider gained no triage rights; the real admin kept them.
    assert "admin" in (await _say(desk, OUT_GROUP, OUTSIDER, "/hubungkan dpubmck")).lower()
    assert "admin" in (await _say(desk, TRIAGE, BUDI, "/hubungkan dpubmck")).lower()
    assert await _codes(desk) == ["cafebabe00"]
    desk.tg.add_chat(ADMIN["id"], "private")  # the admin has started the bot
    assert await _private_code(desk, "dpubmck")


async def test_code_reaches_only_the_requesting_admin_in_private(desk: Desk) -> None:
    _groups(desk)
    # The admin never started the bot: Telegram refuses a private message, the group gets a deep link.
    reply = await _say(desk, TRIAGE, ADMIN, "/hubungkan dishub")
    link = re.search(r"t\.me/kemala_test_bot\?start=([A-Za-z0-9_-]{1,64})", reply)
    assert link is not None, reply
    refused = [c for c in desk.tg.calls() if c["method"] == "sendMessage"
               and str(c["params"].get("chat_id")) == str(ADMIN["id"])]
    assert refused and refused[-1]["error_code"] == 403
    assert "can't initiate conversation" in refused[-1]["description"]
    payload = link[1]
    assert payload not in await _codes(desk)

    # A plain triage member who follows the link gets no code.
    answer = await _say(desk, BUDI["id"], BUDI, f"/start {payload}")
    assert "admin" in answer.lower() and not CODE_RE.search(_everything_in(desk, BUDI["id"]))

    # The admin presses Start: the code arrives there, valid 10 minutes, for Dishub only.
    code_text = await _say(desk, ADMIN["id"], ADMIN, f"/start {payload}")
    match = CODE_RE.search(code_text)
    assert match is not None, code_text
    code = match[1]

    async def row(s: Any) -> tuple[BindCode, str]:
        r = await s.scalar(select(BindCode).where(BindCode.code == code))
        return r, (await s.get(Agency, r.agency_id)).code
    bind_code, agency = await desk.db(row)
    assert agency == "dishub"
    assert timedelta(minutes=9) < bind_code.expires_at - bind_code.created_at <= timedelta(minutes=10)

    # Now that the admin started the bot, the next code goes straight to the private chat.
    second = await _private_code(desk, "dinsos")
    # Nothing in the triage group shows any code.
    seen = _everything_in(desk, TRIAGE)
    for c in await _codes(desk):
        assert c not in seen
    assert code not in seen and second not in seen


async def test_guessing_is_rate_limited_codes_expire_and_are_single_use(desk: Desk) -> None:
    _groups(desk)
    desk.tg.add_chat(ADMIN["id"], "private")
    code = await _private_code(desk, "dishub")
    # The outsider guesses codes in their own group.
    for i in range(5):
        assert "tidak dikenal" in await _say(desk, OUT_GROUP, OUTSIDER, f"/bind {i:010x}")
    # From then on even the right code is refused for that user and that group.
    assert "terlalu banyak" in (await _say(desk, OUT_GROUP, OUTSIDER, f"/bind {code}")).lower()
    assert "terlalu banyak" in (await _say(desk, OUT_GROUP, OUTSIDER_2, f"/bind {code}")).lower()
    assert await _chat_of(desk, "dishub") is None

    # The agency's own admin binds with the code; triage hears of it.
    assert "terhubung" in await _say(desk, DISHUB, DEDI, f"/bind {code}")
    assert await _chat_of(desk, "dishub") == DISHUB
    await desk.wait_for(lambda: any("🔗" in t and "Dishub Kemala" in t and str(DISHUB) in t
                                    for t in _bot_texts(desk, TRIAGE)), what="the bind announced in triage")
    # Single use.
    assert "sudah dipakai" in await _say(desk, DISHUB, DEDI, f"/bind {code}")

    # Expired after 10 minutes (the clock moved on: the row's expiry is in the past).
    other = -1002000000079
    desk.tg.add_chat(other, "supergroup", "Dinsos Kemala")
    desk.tg.set_member(other, DEDI, "administrator")
    late = await _private_code(desk, "dinsos")

    async def expire(s: Any) -> None:
        await s.execute(update(BindCode).where(BindCode.code == late)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
    await desk.db(expire)
    assert "kedaluwarsa" in await _say(desk, other, DEDI, f"/bind {late}")
    assert await _chat_of(desk, "dinsos") is None


def _bind_button(message: dict[str, Any], arg: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for b in row:
            data = str(b.get("callback_data") or "")
            if data.startswith("k1:bd:") and data.endswith(f":{arg}"):
                return data
    raise AssertionError(f"no bind button {arg} on {message}")


async def _request(desk: Desk, seen: int) -> dict[str, Any]:
    return await desk.wait_for(lambda: next((m for m in desk.tg.messages(TRIAGE)[seen:] if m["from_bot"]
                                             and "k1:bd:" in repr(m.get("reply_markup"))), None),
                               what="a re-bind request in triage")


async def test_rebinding_an_agency_needs_a_triage_admins_approval(desk: Desk) -> None:
    _groups(desk)
    desk.tg.add_chat(NEW_DPU, "supergroup", "DPU Baru")
    desk.tg.set_member(NEW_DPU, DPU_HEAD, "administrator")
    desk.tg.set_member(NEW_DPU, OUTSIDER, "administrator")
    desk.tg.add_chat(ADMIN["id"], "private")
    code = await _private_code(desk, "dpubmck")
    seen = len(desk.tg.messages(TRIAGE))
    # A code for an agency that already has a group only asks to move it.
    assert "persetujuan" in await _say(desk, NEW_DPU, DPU_HEAD, f"/bind {code}")
    assert await _chat_of(desk, "dpubmck") == DPU
    request = await _request(desk, seen)
    assert str(NEW_DPU) in request["text"] and "DPU Baru" in request["text"]
    ok, no = _bind_button(request, "ok"), _bind_button(request, "no")

    # Neither a plain triage member, nor an outsider, nor a forged press elsewhere approves it.
    assert is_alert(await desk.press(TRIAGE, request, BUDI, ok))
    assert is_alert(await desk.press(TRIAGE, request, OUTSIDER, ok))
    pending_reply = next(m for m in desk.tg.messages(NEW_DPU) if m["from_bot"])
    assert is_alert(await desk.press(NEW_DPU, pending_reply, OUTSIDER, ok))
    assert await _chat_of(desk, "dpubmck") == DPU

    # A triage admin approves: the move happens and is announced.
    assert not is_alert(await desk.press(TRIAGE, request, ADMIN, ok))
    assert await _chat_of(desk, "dpubmck") == NEW_DPU
    await desk.wait_for(lambda: "menyetujui" in desk.message(TRIAGE, request["message_id"])["text"], what="edit")
    decided = desk.message(TRIAGE, request["message_id"])
    assert "menyetujui" in decided["text"] and "DPU Baru" in decided["text"]
    assert "k1:bd:" not in repr(decided.get("reply_markup"))
    await desk.wait_for(lambda: any("menyetujui" in t for t in _bot_texts(desk, NEW_DPU)))
    assert is_alert(await desk.press(TRIAGE, request, ADMIN, no))  # already decided
    assert await _chat_of(desk, "dpubmck") == NEW_DPU

    # A second request (back to the old group) is rejected: nothing moves, and triage sees why.
    back = await _private_code(desk, "dpubmck")
    seen = len(desk.tg.messages(TRIAGE))
    assert "persetujuan" in await _say(desk, DPU, DPU_HEAD, f"/bind {back}")
    second = await _request(desk, seen)
    assert not is_alert(await desk.press(TRIAGE, second, ADMIN, _bind_button(second, "no")))
    assert await _chat_of(desk, "dpubmck") == NEW_DPU
    # (The press is answered before the request message is edited: wait for the edit.)
    await desk.wait_for(lambda: "menolak" in desk.message(TRIAGE, second["message_id"])["text"], what="edit")
    await desk.wait_for(lambda: any("menolak" in t for t in _bot_texts(desk, DPU)))
    # The real triage admin keeps every right.
    assert await _private_code(desk, "dinkes")


async def test_a_restart_hands_triage_back_to_the_configured_group(desk: Desk) -> None:
    _groups(desk)
    await desk.stop_bot()

    # What a takeover on the old code left behind: the triage desk bound (from Telegram) to the
    # outsider's group, and the real triage group bound to an agency.
    async def taken_over(s: Any) -> None:
        triage = await s.scalar(select(Agency).where(Agency.code == "triase"))
        dishub = await s.scalar(select(Agency).where(Agency.code == "dishub"))
        row = await s.scalar(select(AgencyChat).where(AgencyChat.agency_id == triage.id))
        row.chat_id, row.bound_by = OUT_GROUP, OUTSIDER["id"]
        await s.flush()
        s.add(AgencyChat(agency_id=dishub.id, chat_id=TRIAGE, title="Triase Kemala", bound_by=OUTSIDER["id"]))
        await s.commit()
    await desk.db(taken_over)

    await desk.start_bot()
    assert await _chat_of(desk, "triase") == TRIAGE
    assert await _chat_of(desk, "dishub") is None
    assert "admin" in (await _say(desk, OUT_GROUP, OUTSIDER, "/hubungkan dpubmck")).lower()
    desk.tg.add_chat(ADMIN["id"], "private")
    assert await _private_code(desk, "dpubmck")
