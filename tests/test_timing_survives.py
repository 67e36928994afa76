"""Timing that survives (issue 16, item 9), end to end against both sandboxes: a wall clock stepped back
stalls nothing (the loops run on monotonic time; rows due in wall time move with the step), outsiders'
command floods are rate-limited and never delay cards or presses, and after an X outage polling resumes
within one interval while triage hears of the outage once and of the recovery once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot import clock
from bot.i18n import t
from bot.models import CardOutbox
from bot.services import CommandLimiter
from tests.desk_harness import BUDI, DINKES, DPU, HEALTH, OUTSIDER, ROAD, TRIAGE, Desk, is_alert
from tests.test_staff_first_hour import markup_with, said

NEW_GROUP = -1002000000077
STRANGER = {"id": 4242, "first_name": "Tamu", "username": "tamu_grup"}


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The desk's wall clock, stepped by the test and put back afterwards."""
    monkeypatch.setattr(clock, "_step", 0.0)
    return clock


def bot_messages(desk: Desk, chat: int) -> list[dict[str, Any]]:
    return [m for m in desk.tg.messages(chat) if m["from_bot"]]


# --- the wall clock steps back --------------------------------------------------------------------------


async def test_wall_clock_stepped_back_stalls_neither_polling_nor_sweeps(desk: Desk, wall: Any) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    # A card waiting for its due time when the clock steps: Telegram says "retry after 2 s" for DINKES.
    desk.tg.fault("sendMessage", status=429, retry_after=2, count=1)
    desk.tweet(HEALTH, username="warga_solo")
    await desk.wait_db(lambda s: _waiting_cards(s), what="a card waiting for Telegram's retry_after")
    wall.step_wall_clock(-600)  # NTP steps the clock back ten minutes
    started = time.monotonic()
    # The waiting card goes when its two seconds are over, not ten minutes later.
    await desk.card(DINKES, containing="warga_solo")
    waited = time.monotonic() - started
    print(f"clock stepped back 600 s: the waiting card went after {waited:.2f} s")
    assert waited < 8, waited
    # Polling goes on: a new post becomes a card within a few poll intervals.
    desk.tweet("Jembatan di Kec. Karangawen Demak retak dan goyang #KemalaJateng", username="karangawen1")
    started = time.monotonic()
    await desk.card(DPU, containing="karangawen1")
    assert time.monotonic() - started < 8
    # And a press meets a sweep that still edits: the claim shows on the card.
    assert not is_alert(await desk.press(DPU, card, BUDI, desk.button(card, "cl")))
    await markup_with(desk, DPU, card["message_id"], "k1:rp:")
    # The reply sweep posts a reply approved after the step.
    claimed = desk.message(DPU, card["message_id"])
    assert not is_alert(await desk.press(DPU, claimed, BUDI, desk.button(claimed, "rp")))
    prompt = await said(desk, DPU, "tulis balasan")
    desk.tg.send_message(DPU, BUDI["id"], "Terima kasih, segera kami tangani.", reply_to_message_id=prompt["message_id"])
    preview = await said(desk, DPU, "Pratinjau balasan", after=prompt["message_id"])
    fallback = next(b["callback_data"] for row in preview["reply_markup"]["inline_keyboard"] for b in row
                    if b["callback_data"].startswith(("k1:sd:", "k1:fb:")))
    assert not is_alert(await desk.press(DPU, preview, BUDI, fallback))
    await desk.wait_for(lambda: desk.x.posted(), timeout=10, what="the reply on X")


async def _waiting_cards(s: Any) -> bool:
    from sqlalchemy import select

    from bot.models import utcnow
    rows = (await s.scalars(select(CardOutbox).where(CardOutbox.kind == "card", CardOutbox.chat_id == DINKES,
                                                     CardOutbox.next_attempt_at > utcnow()))).all()
    return bool(rows)


def test_step_watch_sees_steps_both_ways(wall: Any) -> None:
    watch = clock.StepWatch(tolerance=2.0)
    assert watch.check() == 0.0
    wall.step_wall_clock(-600)
    assert -601 < watch.check() < -599
    assert watch.check() == 0.0  # told once
    wall.step_wall_clock(+30)
    assert 29 < watch.check() < 31


# --- outsiders' floods ----------------------------------------------------------------------------------


async def test_outsider_floods_are_limited_and_never_delay_cards_or_presses(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    # 400 /start from one account in its private chat, 300 /bind guesses from a stranger's own group.
    desk.tg.add_chat(NEW_GROUP, "supergroup", "Grup Tamu")
    desk.tg.set_member(NEW_GROUP, STRANGER, "administrator")
    for _ in range(400):
        desk.tg.send_message(OUTSIDER["id"], OUTSIDER["id"], "/start")
    for i in range(300):
        desk.tg.send_message(NEW_GROUP, STRANGER["id"], f"/bind tebak{i:04d}")
    # Meanwhile citizens write and staff press.
    started = time.monotonic()
    desk.tweet(HEALTH, username="warga_solo")
    desk.tweet("Jembatan di Kec. Karangawen Demak retak dan goyang #KemalaJateng", username="karangawen1")
    answer = await desk.press(DPU, card, BUDI, desk.button(card, "cl"))
    press_s = time.monotonic() - started
    assert not is_alert(answer)
    await desk.card(DINKES, containing="warga_solo")
    await desk.card(DPU, containing="karangawen1")
    cards_s = time.monotonic() - started
    print(f"flood: press answered after {press_s:.2f} s, both new cards after {cards_s:.2f} s")
    assert press_s < 3, press_s
    assert cards_s < 8, cards_s
    await desk.wait_for(lambda: desk.tg.pending_updates() == 0, timeout=60, what="the flood handled")
    # Each flooder got a few answers and one "slow down", then silence.
    slow = t("alert.slow_down", seconds=1).split(" 1 ")[0]
    for chat in (OUTSIDER["id"], NEW_GROUP):
        said_there = [m["text"] for m in bot_messages(desk, chat)]
        assert len(said_there) <= CommandLimiter().burst + 1, (chat, len(said_there))
        assert sum(slow in text for text in said_there) == 1, said_there


async def test_staff_commands_are_not_limited(desk: Desk) -> None:
    desk.tweet(ROAD)
    await desk.card(DPU)
    first = desk.tg.send_message(DPU, BUDI["id"], "/antrean")
    for _ in range(11):
        desk.tg.send_message(DPU, BUDI["id"], "/antrean")
    await desk.wait_for(lambda: sum(1 for m in bot_messages(desk, DPU) if m["message_id"] > first
                                    and "Antrean" in (m.get("text") or "")) == 12, timeout=30,
                        what="twelve answers to /antrean")


def test_command_limiter_refills() -> None:
    now = [0.0]
    limiter = CommandLimiter(burst=3, every=10.0, clock=lambda: now[0])
    assert [limiter.take(1) for _ in range(5)] == ["allow", "allow", "allow", "tell", "drop"]
    assert limiter.take(2) == "allow"  # per user
    now[0] += 10.0
    assert limiter.take(1) == "allow"
    assert limiter.take(1) == "tell"  # told again after it had been allowed
    assert 9.9 < limiter.retry_in(1) <= 10.0


# --- X outages ------------------------------------------------------------------------------------------


async def test_x_outage_resumes_within_one_interval_and_triage_is_told(db_url: str) -> None:
    d = Desk(db_url, env={"KEMALA_X_ALERT_AFTER_SECONDS": "2"})
    await d.setup()
    await d.start_bot()
    try:
        d.tweet(ROAD)
        await d.card(DPU)
        d.x.set_outage(True)
        await d.wait_for(lambda: any("X tidak menjawab" in m.get("text", "") for m in bot_messages(d, TRIAGE)),
                         timeout=15, what="the outage told to triage")
        # Several polls later: still one message.
        await asyncio.sleep(3)
        assert sum("X tidak menjawab" in m.get("text", "") for m in bot_messages(d, TRIAGE)) == 1
        d.tweet(HEALTH, username="warga_solo")
        d.x.set_outage(False)
        back = time.monotonic()
        await d.card(DINKES, containing="warga_solo")
        # Within one poll interval (1 s here) of X answering again, plus the time to send the card.
        resumed = time.monotonic() - back
        print(f"X back: the waiting post became a card after {resumed:.2f} s")
        assert resumed < 1 + 2.5
        up = await d.wait_for(lambda: [m for m in bot_messages(d, TRIAGE) if "X menjawab lagi" in m.get("text", "")],
                              timeout=10, what="the recovery told")
        assert len(up) == 1
        # A second outage is told again.
        d.x.set_outage(True)
        await d.wait_for(lambda: sum("X tidak menjawab" in m.get("text", "") for m in bot_messages(d, TRIAGE)) == 2,
                         timeout=15, what="the second outage told")
    finally:
        await d.close()


def test_x_alert_after_is_validated() -> None:
    from bot.config import ConfigError, load_settings
    base = {"KEMALA_TELEGRAM_TOKEN": "1:x"}
    assert load_settings({**base}, env_file=None).x_alert_after_seconds == 120.0
    assert load_settings({**base, "KEMALA_X_ALERT_AFTER_SECONDS": "30"}, env_file=None).x_alert_after_seconds == 30
    for bad in ("0", "-5", "soon", "nan"):
        with pytest.raises(ConfigError, match="KEMALA_X_ALERT_AFTER_SECONDS"):
            load_settings({**base, "KEMALA_X_ALERT_AFTER_SECONDS": bad}, env_file=None)
