"""More of the desk end to end: binding groups, a group that removed the bot, /antrian, webhook mode."""

from __future__ import annotations

import socket

from bot.models import AgencyChat, CardOutbox, Event
from tests.desk_harness import ADMIN, BUDI, DPU, HEALTH, ROAD, TRIAGE, Desk, is_alert


def _bot_texts(desk: Desk, chat: int) -> list[str]:
    return [m.get("text") or "" for m in desk.tg.messages(chat) if m["from_bot"]]


async def test_binding_with_a_one_time_code(desk: Desk) -> None:
    group = -1002000000077
    desk.tg.add_chat(group, "supergroup", "Dishub Kemala")
    desk.tg.set_member(group, {"id": 801, "first_name": "Dedi", "username": "dedi_dishub"}, "administrator")
    desk.tg.set_member(group, {"id": 802, "first_name": "Eko", "username": "eko_dishub"}, "member")
    desk.tg.set_member(TRIAGE, BUDI, "member")
    # A non-admin in triage cannot create a code; an admin can.
    desk.tg.send_message(TRIAGE, BUDI["id"], "/hubungkan dishub")
    await desk.wait_for(lambda: any("admin" in t.lower() for t in _bot_texts(desk, TRIAGE)))
    # The code goes to the admin's private chat (the admin has started the bot), never to the group.
    desk.tg.add_chat(ADMIN["id"], "private")
    desk.tg.send_message(TRIAGE, ADMIN["id"], "/hubungkan@kemala_test_bot dishub")
    text = await desk.wait_for(lambda: next((t for t in _bot_texts(desk, ADMIN["id"]) if "/bind " in t), None))
    code = text.split("/bind ")[1].split()[0]
    # A plain member of the agency group is refused; the group's administrator binds it.
    desk.tg.send_message(group, 802, f"/bind {code}")
    await desk.wait_for(lambda: any("admin" in t.lower() for t in _bot_texts(desk, group)))
    desk.tg.send_message(group, 801, f"/bind {code}")
    await desk.wait_for(lambda: any("terhubung" in t for t in _bot_texts(desk, group)))
    assert await desk.count(AgencyChat, AgencyChat.chat_id == group) == 1
    # The code is single-use.
    desk.tg.send_message(group, 801, f"/bind {code}")
    await desk.wait_for(lambda: any("sudah dipakai" in t for t in _bot_texts(desk, group)))
    # Unknown codes are refused.
    desk.tg.send_message(group, 801, "/bind deadbeef")
    await desk.wait_for(lambda: any("tidak dikenal" in t for t in _bot_texts(desk, group)))


async def test_group_that_removed_the_bot_parks_cards_and_alerts_triage(desk: Desk) -> None:
    desk.tg.kick_bot(DPU)
    desk.tweet(ROAD)
    await desk.wait_db(lambda s: _parked(s), what="parked card")
    alert = await desk.wait_for(lambda: next((t for t in _bot_texts(desk, TRIAGE) if "⚠️" in t), None))
    assert "DPUBMCK" in alert or "DPU" in alert
    sends = [c for c in desk.tg.calls() if c["method"] == "sendMessage" and str(c["params"].get("chat_id")) == str(DPU)]
    assert len(sends) <= 1  # one refused attempt at most, no retry loop
    assert await desk.count(Event, Event.action == "chat_parked") == 1


async def _parked(s) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    return int(await s.scalar(select(func.count()).where(CardOutbox.state == "parked")) or 0)


async def test_queue_command_lists_open_cards_with_ages(desk: Desk) -> None:
    desk.tweet(ROAD)
    desk.tweet("Jembatan di jalan provinsi Purwodadi retak dan ambles #KemalaJateng", username="warga_grobogan")
    await desk.wait_for(lambda: len(desk.cards(DPU)) >= 2)
    desk.tg.send_message(DPU, BUDI["id"], "/antrian")
    listing = await desk.wait_for(lambda: next((t for t in _bot_texts(desk, DPU) if "#1" in t and "#2" in t
                                                and "Masuk" not in t.split("\n")[0]), None))
    assert "baru saja" in listing or "mnt" in listing
    desk.tg.send_message(DPU, BUDI["id"], "/cari 1")
    await desk.wait_for(lambda: sum("warga_blora" in t for t in _bot_texts(desk, DPU)) >= 2)
    desk.tg.send_message(DPU, BUDI["id"], "/cari 999")
    await desk.wait_for(lambda: any("tidak ditemukan" in t for t in _bot_texts(desk, DPU)))


async def test_health_tweet_goes_to_dinkes_not_dpu(desk: Desk) -> None:
    from tests.desk_harness import DINKES

    desk.tweet(HEALTH, username="warga_solo")
    card = await desk.card(DINKES)
    assert "warga_solo" in card["text"]
    assert not desk.cards(DPU)
    answer = await desk.press(DINKES, card, BUDI, desk.button(card, "cl"))
    assert is_alert(answer) and "anggota grup" in answer["text"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_receives_presses(db_url: str) -> None:
    port = _free_port()
    d = Desk(db_url, env={"KEMALA_WEBHOOK_URL": f"http://127.0.0.1:{port}", "KEMALA_WEBHOOK_SECRET": "s3cret-hook-0123456789abcdefghijkl",
                          "KEMALA_WEB_LISTEN": "127.0.0.1", "KEMALA_WEB_PORT": str(port)})
    await d.setup()
    settings = d.settings()
    import asyncio

    from bot.app import make_services, run_bot

    d.svc = make_services(settings)
    d.stop_event = asyncio.Event()
    d.task = asyncio.create_task(run_bot(settings, stop=d.stop_event, svc=d.svc))
    try:
        await d.wait_for(lambda: any(c["method"] == "setWebhook" and c["ok"] for c in d.tg.calls()))
        hook = next(c for c in d.tg.calls() if c["method"] == "setWebhook")
        assert hook["params"].get("secret_token") == "s3cret-hook-0123456789abcdefghijkl"
        d.tweet(ROAD)
        card = await d.card(DPU)
        answer = await d.press(DPU, card, BUDI, d.button(card, "cl"))
        assert not is_alert(answer)
        assert not any(c["method"] == "getUpdates" for c in d.tg.calls())
    finally:
        await d.close()


async def test_a_regency_matter_waits_in_triage_with_its_proposed_destination(desk: Desk) -> None:
    desk.tweet("Mohon izin pak gubernur, jalan kabupaten di Sragen rusak parah sudah setahun #KemalaJateng",
               username="warga_sragen")
    card = await desk.card(TRIAGE, containing="warga_sragen")
    assert "Bukan kewenangan provinsi" in card["text"] and "Pemkab Sragen" in card["text"]
    assert "Kewenangan Pemkab Sragen: jalan kabupaten" in card["text"]
    buttons = [b.get("callback_data") or "" for row in card["reply_markup"]["inline_keyboard"] for b in row]
    # A destination is never a one-tap route to an agency group: only "Teruskan ke Pemkab Sragen" names it.
    assert buttons and not any(("kab-" in b or "kota-" in b) and not b.startswith("k1:fw:") for b in buttons)
    assert f"k1:fw:{buttons[0].split(':')[2]}:" in buttons[0] and buttons[0].endswith(":kab-sragen")
    assert not desk.cards(DPU)
