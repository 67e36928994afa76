"""The desk end to end: the real bot against the Telegram and X sandboxes, on a real database."""

from __future__ import annotations

from bot.domain.posts import fallback_text
from bot.domain.tweet_text import weighted_length
from bot.models import CardOutbox, Complaint, Event, ReplyOutbox
from tests.desk_harness import (
    ADMIN,
    BUDI,
    DINKES,
    DPU,
    DPU_HEAD,
    HEALTH,
    OUTSIDER,
    RINA,
    ROAD,
    SITI,
    TRIAGE,
    Desk,
    is_alert,
)


async def _claimed_card(desk: Desk, user: dict = BUDI, *, mention: bool = True) -> tuple[int, dict]:
    desk.tweet(ROAD, mention=mention)
    return await _claimed_card_from(desk, await desk.card(DPU), user)


async def test_tweet_becomes_card_in_the_right_group_and_claim(desk: Desk) -> None:
    tid = desk.tweet(ROAD, mention=True)
    card = await desk.card(DPU)
    text = card["text"]
    assert "@warga_blora" in text and "Blora" in text and "#1" in text
    sent = [c for c in desk.tg.calls() if c["method"] == "sendMessage" and c["ok"]]
    assert any(f"x.com/warga_blora/status/{tid}" in str(c["params"].get("text")) for c in sent)  # link to the tweet
    cid, card = await _claimed_card_from(desk, card)
    c = await desk.complaint(cid)
    assert c.status == "claimed" and c.claimer_id == BUDI["id"] and c.tweet_x_id == tid
    assert "Budi" in desk.message(DPU, card["message_id"])["text"]
    assert ("claim", "claimed") in await desk.events(cid)


async def _claimed_card_from(desk: Desk, card: dict, user: dict = BUDI) -> tuple[int, dict]:
    cid = int(desk.button(card, "cl").split(":")[2])
    answer = await desk.press(DPU, card, user, desk.button(card, "cl"))
    assert not is_alert(answer), answer
    card = await desk.wait_for(lambda: next((m for m in desk.cards(DPU) if m["message_id"] == card["message_id"]
                                             and "rp" in str(m["reply_markup"])), None), what="claimed card")
    return cid, card


async def test_claim_race_has_one_owner(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    data = desk.button(card, "cl")
    q1 = desk.tg.press(DPU, card["message_id"], BUDI["id"], data)
    q2 = desk.tg.press(DPU, card["message_id"], SITI["id"], data)
    answers = await desk.wait_for(lambda: [a for a in desk.tg.callback_answers()
                                           if a["callback_query_id"] in (q1, q2)] if len(
        [a for a in desk.tg.callback_answers() if a["callback_query_id"] in (q1, q2)]) == 2 else None)
    assert sorted(is_alert(a) for a in answers) == [False, True]
    cid = int(data.split(":")[2])
    c = await desk.complaint(cid)
    assert c.claimer_id in (BUDI["id"], SITI["id"])
    assert await desk.count(Event, Event.complaint_id == cid, Event.action == "claim") == 1


async def test_outsiders_and_leavers_are_refused_and_nothing_changes(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    data = desk.button(card, "cl")
    cid = int(data.split(":")[2])
    before = (await desk.complaint(cid)).version
    desk.tg.set_member(DPU, OUTSIDER, "left")
    for user in (OUTSIDER, RINA):
        answer = await desk.press(DPU, card, user, data)
        assert is_alert(answer) and "anggota grup" in answer["text"]
    # A member presses once (membership is read), leaves, and presses again at once.
    # As a member she gets past membership and meets the next rule: moving a complaint (a forged Alihkan:
    # agency groups have no such button) is for triage admins, in the triage group.
    answer = await desk.press(DPU, card, SITI, f"k1:ra:{cid}:{before}")
    assert is_alert(answer) and "triase" in answer["text"].lower() and "anggota grup" not in answer["text"]
    desk.tg.set_member(DPU, SITI, "left")
    answer = await desk.press(DPU, card, SITI, data)
    assert is_alert(answer) and "anggota grup" in answer["text"]
    c = await desk.complaint(cid)
    assert c.status == "routed" and c.claimer_id is None and c.version == before
    assert await desk.count(Event, Event.complaint_id == cid, Event.action == "refused") >= 3


async def test_admin_reassigns_with_picker_and_staff_return_to_triage(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    # The agency group's keyboard has no Alihkan; a forged one is refused, naming where it is done.
    assert "k1:ra:" not in str(card["reply_markup"])
    answer = await desk.press(DPU, card, ADMIN, f"k1:ra:{cid}:{(await desk.complaint(cid)).version}")
    assert is_alert(answer) and "grup triase" in answer["text"]
    # In the triage group, /cari N posts the card with the triage buttons.
    desk.tg.send_message(TRIAGE, ADMIN["id"], f"/cari {cid}")
    copy = await desk.card(TRIAGE, containing=f"#{cid}")
    desk.tg.set_member(TRIAGE, BUDI, "member")  # a member of triage, not one of its admins
    answer = await desk.press(TRIAGE, copy, BUDI, desk.button(copy, "ra"))
    assert is_alert(answer) and "admin grup triase" in answer["text"].lower()
    assert not is_alert(await desk.press(TRIAGE, copy, ADMIN, desk.button(copy, "ra")))
    picker = desk.message(TRIAGE, copy["message_id"])
    # Page forward until Dinkes is offered, then choose it and a reason.
    for page in range(1, 9):
        if ":dinkes" in str(picker["reply_markup"]):
            break
        forward = next(b["callback_data"] for row in picker["reply_markup"]["inline_keyboard"] for b in row
                       if b.get("callback_data", "").startswith("k1:pg:") and b["callback_data"].endswith(f":{page}"))
        assert not is_alert(await desk.press(TRIAGE, picker, ADMIN, forward))
        before = picker["reply_markup"]
        picker = await desk.wait_for(lambda: next((m for m in [desk.message(TRIAGE, copy["message_id"])]
                                                   if m["reply_markup"] != before), None))  # noqa: B023
    target = next(b["callback_data"] for row in picker["reply_markup"]["inline_keyboard"] for b in row
                  if b.get("callback_data", "").endswith(":dinkes"))
    assert not is_alert(await desk.press(TRIAGE, picker, ADMIN, target))
    reasons = desk.message(TRIAGE, copy["message_id"])
    reason = next(b["callback_data"] for row in reasons["reply_markup"]["inline_keyboard"] for b in row
                  if "salahrute" in b.get("callback_data", ""))
    answer = await desk.press(TRIAGE, reasons, ADMIN, reason)
    assert not is_alert(answer), answer
    new_card = await desk.card(DINKES)
    assert f"#{cid}" in new_card["text"]
    origin = await desk.wait_for(lambda: desk.message(DPU, card["message_id"])
                                 if "Dialihkan" in desk.message(DPU, card["message_id"])["text"] else None)
    assert "Dinkes" in origin["text"]
    c = await desk.complaint(cid)
    assert c.status == "routed" and c.confirmed_agency == "dinkes"
    # Stale card: the old DPU card's Klaim is refused.
    answer = await desk.press(DPU, card["message_id"], BUDI, f"k1:cl:{cid}:{c.version}")
    assert is_alert(answer)
    # Dinkes staff send it back to triage.
    tr = desk.button(new_card, "tr")
    assert not is_alert(await desk.press(DINKES, new_card, RINA, tr))
    options = desk.message(DINKES, new_card["message_id"])
    tq = next(b["callback_data"] for row in options["reply_markup"]["inline_keyboard"] for b in row
              if b.get("callback_data", "").startswith("k1:tq:"))
    assert not is_alert(await desk.press(DINKES, options, RINA, tq))
    triage_card = await desk.card(TRIAGE)
    assert f"#{cid}" in triage_card["text"]
    assert (await desk.complaint(cid)).status == "triage"


async def _write_reply(desk: Desk, card: dict, user: dict, text: str) -> dict:
    answer = await desk.press(DPU, card, user, desk.button(card, "rp"))
    assert not is_alert(answer), answer
    prompt = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                               and "force_reply" in str(m.get("reply_markup"))), None))
    desk.tg.send_message(DPU, user["id"], text, reply_to_message_id=prompt["message_id"])
    return prompt


async def test_reply_preview_kirim_posts_exactly_once(desk: Desk) -> None:
    cid, card = await _claimed_card(desk, mention=True)
    await _write_reply(desk, card, BUDI, "Terima kasih, laporan diteruskan ke UPT Blora dan akan ditangani minggu ini.")
    preview = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                                and "sd" in str(m.get("reply_markup"))), None))
    assert "/280" in preview["text"]
    send = desk.button(preview, "sd")
    # Someone else may not press Kirim.
    assert is_alert(await desk.press(DPU, preview, SITI, send))
    assert not is_alert(await desk.press(DPU, preview, BUDI, send))
    again = await desk.press(DPU, preview, BUDI, send)
    assert is_alert(again)
    posted = await desk.wait_for(lambda: desk.x.posted() or None, what="reply on X")
    c = await desk.wait_db(lambda s: _answered(s, cid), what="answered")
    assert len(desk.x.posted()) == 1 and posted[0]["in_reply_to_tweet_id"] == c.tweet_x_id
    assert c.reply_x_id == posted[0]["id"]
    await desk.wait_for(lambda: any(c["method"] == "editMessageText" and posted[0]["id"] in str(c["params"].get("text"))
                                    for c in desk.tg.calls()), what="card links the reply")
    final = desk.message(DPU, card["message_id"])
    assert "Budi" in final["text"] and not (final.get("reply_markup") or {}).get("inline_keyboard")
    assert await desk.count(ReplyOutbox, ReplyOutbox.state == "posted") == 1


async def _answered(s, cid: int) -> Complaint | None:  # type: ignore[no-untyped-def]
    c = await s.get(Complaint, cid)
    return c if c is not None and c.status == "answered" else None


async def test_not_eligible_uses_fallback_and_over_long_is_refused(desk: Desk) -> None:
    cid, card = await _claimed_card(desk, mention=False)
    assert "⚠️ Balasan jadi post baru" in desk.message(DPU, card["message_id"])["text"]
    await _write_reply(desk, card, BUDI, "x" * 300)
    c = await desk.complaint(cid)
    whole = weighted_length(fallback_text(c.author_username, "x" * 300, c.tweet_x_id))  # what X would count
    assert whole > 300
    refusal = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                                and f"{whole}/280" in (m.get("text") or "")), None))
    assert refusal
    prompt = next(m for m in desk.tg.messages(DPU) if "force_reply" in str(m.get("reply_markup")))
    desk.tg.send_message(DPU, BUDI["id"], "Sudah kami teruskan ke UPT, terima kasih.",
                         reply_to_message_id=prompt["message_id"])
    preview = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                                and "fb" in str(m.get("reply_markup"))), None))
    assert is_alert(await desk.press(DPU, preview, BUDI, desk.button(preview, "sd"))) if "k1:sd" in str(preview) else True
    assert not is_alert(await desk.press(DPU, preview, BUDI, desk.button(preview, "fb")))
    posted = await desk.wait_for(lambda: desk.x.posted() or None)
    assert posted[0]["in_reply_to_tweet_id"] is None and "@warga_blora" in posted[0]["text"]
    assert "x.com/warga_blora/status/" in posted[0]["text"]
    await desk.wait_db(lambda s: _answered(s, cid))


async def test_forged_truncated_and_oversized_callback_data(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    real = desk.button(card, "cl")
    cid = int(real.split(":")[2])
    desk.tweet(HEALTH, username="warga_solo")
    other = await desk.card(DINKES)
    other_id = int(desk.button(other, "cl").split(":")[2])
    for data in (real[:-3], "k1:cl", "k9:cl:1:1", "k1:cl:" + "9" * 40, "💥" * 10, "k1:zz:1:1",
                 f"k1:cl:{other_id}:1", f"k1:cl:{cid}:99"):
        answer = await desk.press(DPU, card, BUDI, data)
        assert is_alert(answer), data
    c = await desk.complaint(cid)
    assert c.status == "routed" and c.claimer_id is None
    assert (await desk.complaint(other_id)).claimer_id is None


async def test_html_and_emoji_tweet_renders_escaped(desk: Desk) -> None:
    desk.tweet("<b>Jalan</b> provinsi <script>alert(1)</script> & jembatan ambrol di Blora 😡🙏 #KemalaJateng")
    card = await desk.card(DPU)
    assert "<script>alert(1)</script>" in card["text"] and "😡🙏" in card["text"]
    assert "&" in card["text"]


async def test_group_upgraded_to_supergroup_keeps_its_binding(desk: Desk) -> None:
    desk.tg.add_chat(-4001, "group", "DPU lama")
    desk.tg.set_member(-4001, BUDI, "member")
    from bot.db import make_engine, make_sessionmaker
    from bot.directory import bind_chat

    engine = make_engine(desk.settings().database_url)
    await bind_chat(make_sessionmaker(engine), code="dpubmck", chat_id=-4001)
    await engine.dispose()
    new_id = desk.tg.upgrade(-4001)
    desk.tweet(ROAD)
    card = await desk.card(new_id)
    assert "Blora" in card["text"]
    assert await desk.count(CardOutbox, CardOutbox.chat_id == new_id) >= 1


async def test_restart_between_prompt_and_answer(desk: Desk) -> None:
    cid, card = await _claimed_card(desk, mention=True)
    answer = await desk.press(DPU, card, BUDI, desk.button(card, "rp"))
    assert not is_alert(answer)
    prompt = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                               and "force_reply" in str(m.get("reply_markup"))), None))
    await desk.stop_bot()
    await desk.start_bot()
    # Someone else answering the prompt is refused; the owner's answer becomes a draft.
    desk.tg.send_message(DPU, SITI["id"], "bukan punya saya", reply_to_message_id=prompt["message_id"])
    desk.tg.send_message(DPU, BUDI["id"], "Sedang kami cek ke lapangan.", reply_to_message_id=prompt["message_id"])
    preview = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                                and "sd" in str(m.get("reply_markup"))), None))
    assert "Sedang kami cek" in preview["text"]
    c = await desk.complaint(cid)
    assert c.status == "drafted"
    assert await desk.count(Event, Event.complaint_id == cid, Event.action == "refused") >= 1


async def test_triage_one_tap_choice_and_followup_joins(desk: Desk) -> None:
    tid = desk.tweet("Halo min, selamat pagi semuanya #KemalaJateng")
    card = await desk.card(TRIAGE)
    cid = int(card["reply_markup"]["inline_keyboard"][-1][0]["callback_data"].split(":")[2])
    assert (await desk.complaint(cid)).status == "triage"
    desk.x.add_tweet(username="warga_blora", text="@KemalaDesk maaf maksud saya jalan di Cepu rusak", in_reply_to=tid)
    await desk.wait_db(lambda s: _followups(s, cid), what="follow-up")
    assert await desk.count(Complaint) == 1
    staff_answer = await desk.press(TRIAGE, card, OUTSIDER, desk.button(card, "ra"))
    assert is_alert(staff_answer)
    choice = f"k1:ch:{cid}:{(await desk.complaint(cid)).version}:dpubmck"
    assert not is_alert(await desk.press(TRIAGE, card["message_id"], ADMIN, choice))
    moved = await desk.card(DPU)
    assert f"#{cid}" in moved["text"]
    assert DPU_HEAD  # the DPU head sees it as any member


async def _followups(s, cid: int) -> int:  # type: ignore[no-untyped-def]
    c = await s.get(Complaint, cid)
    return c.followups if c else 0


async def test_not_eligible_preview_can_mark_answered_outside(desk: Desk) -> None:
    cid, card = await _claimed_card(desk, mention=False)
    await _write_reply(desk, card, BUDI, "Sudah kami tangani lewat telepon, terima kasih.")
    preview = await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                                and "k1:fb:" in str(m.get("reply_markup"))), None))
    assert not is_alert(await desk.press(DPU, preview, BUDI, desk.button(preview, "ou")))
    c = await desk.wait_db(lambda s: _answered(s, cid))
    assert c.reply_x_id is None and not desk.x.posted()
