"""The first hour for staff, end to end against both sandboxes: joining by following the bot, one keyboard
for everyone, forwarding to the regency, reasons and undo, internal notes, /cari, and the texts."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.i18n import t
from bot.models import AgencyChat, BindCode, CardOutbox, Complaint, Event, Note, ReplyOutbox
from tests.desk_harness import ADMIN, BUDI, DINKES, DPU, HEALTH, RINA, ROAD, SITI, TRIAGE, Desk, is_alert

NEW_GROUP = -1002000000099
DEDI = {"id": 811, "first_name": "Dedi", "username": "dedi_dishub"}
EKO = {"id": 812, "first_name": "Eko", "username": "eko_dishub"}
REGENCY = "Mohon izin pak gubernur, jalan kabupaten di Sragen rusak parah sudah setahun #KemalaJateng"


def bot_texts(desk: Desk, chat: int) -> list[str]:
    return [m.get("text") or "" for m in desk.tg.messages(chat) if m["from_bot"]]


async def said(desk: Desk, chat: int, needle: str, *, after: int = 0) -> dict[str, Any]:
    """The first bot message in `chat` after message id `after` that contains `needle`."""
    message: dict[str, Any] = await desk.wait_for(
        lambda: next((m for m in desk.tg.messages(chat) if m["from_bot"] and m["message_id"] > after
                      and needle in (m.get("text") or "")), None), what=f"{needle!r} in {chat}")
    return message


def buttons(message: dict[str, Any]) -> list[str]:
    return [b.get("callback_data") or "" for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row]


def labels(message: dict[str, Any]) -> list[str]:
    return [b.get("text") or "" for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row]


async def markup_with(desk: Desk, chat: int, message_id: int, prefix: str) -> dict[str, Any]:
    message: dict[str, Any] = await desk.wait_for(
        lambda: next((m for m in [desk.message(chat, message_id)] if any(b.startswith(prefix) for b in buttons(m))),
                     None), what=f"a {prefix} button")
    return message


def data_with(message: dict[str, Any], prefix: str, suffix: str = "") -> str:
    return next(b for b in buttons(message) if b.startswith(prefix) and b.endswith(suffix))


async def triage_card(desk: Desk, username: str) -> tuple[int, dict[str, Any]]:
    card = await desk.card(TRIAGE, containing=username)
    return int(buttons(card)[0].split(":")[2]), card


# --- 1. joining a group by following the bot ---------------------------------------------------------


async def test_a_group_joins_by_following_the_bot(desk: Desk) -> None:
    desk.tg.add_chat(NEW_GROUP, "supergroup", "Dishub Pengaduan")
    desk.tg.set_member(NEW_GROUP, DEDI, "administrator")
    desk.tg.set_member(NEW_GROUP, EKO, "member")
    desk.tg.set_member(TRIAGE, BUDI, "member")
    # The bot is added: it says what to do there.
    desk.tg.set_member(NEW_GROUP, desk.tg.bot_id, "left")
    desk.tg.set_member(NEW_GROUP, desk.tg.bot_id, "member")
    await said(desk, NEW_GROUP, "/daftar")
    # /bantuan in an unlinked group says how to join, not what staff do on cards.
    desk.tg.send_message(NEW_GROUP, EKO["id"], "/bantuan")
    help_text = (await said(desk, NEW_GROUP, "belum terhubung"))["text"]
    assert "/daftar" in help_text and "Klaim" not in help_text
    # A plain member may not ask; the group's administrator may.
    desk.tg.send_message(NEW_GROUP, EKO["id"], "/daftar dishub")
    await said(desk, NEW_GROUP, t("bind.not_admin"))
    desk.tg.send_message(NEW_GROUP, DEDI["id"], "/daftar nosuch")
    await said(desk, NEW_GROUP, "Kode SKPD tidak dikenal: nosuch")
    desk.tg.send_message(NEW_GROUP, DEDI["id"], "/daftar kab-sragen")
    await said(desk, NEW_GROUP, "bukan SKPD provinsi")
    desk.tg.send_message(NEW_GROUP, DEDI["id"], "/daftar dishub")
    await said(desk, NEW_GROUP, "dikirim ke admin triase")
    request = await said(desk, TRIAGE, "«Dishub Pengaduan» (admin @dedi_dishub) minta dihubungkan ke Dishub")
    assert labels(request) == [t("btn.bind_ok"), t("btn.bind_no")]
    # One open request per group.
    desk.tg.send_message(NEW_GROUP, DEDI["id"], "/daftar dishub")
    await said(desk, NEW_GROUP, "masih menunggu")
    # Only a triage admin decides.
    answer = await desk.press(TRIAGE, request, BUDI, buttons(request)[0])
    assert is_alert(answer)
    assert await desk.count(AgencyChat, AgencyChat.chat_id == NEW_GROUP) == 0
    assert not is_alert(await desk.press(TRIAGE, request, ADMIN, buttons(request)[0]))
    await said(desk, NEW_GROUP, "Dishub")
    assert await desk.count(AgencyChat, AgencyChat.chat_id == NEW_GROUP) == 1
    await desk.wait_for(lambda: "menyetujui" in desk.message(TRIAGE, request["message_id"])["text"])
    # Its complaints now reach it; /bantuan there names the agency and the staff buttons.
    desk.tweet("Lampu lalu lintas di simpang Kaliwungu Kendal mati, macet parah tiap sore #KemalaJateng",
               username="kendal_kita")
    card = await desk.card(NEW_GROUP, containing="kendal_kita")
    assert labels(card) == ["Klaim", "Salah SKPD?"]
    desk.tg.send_message(NEW_GROUP, EKO["id"], "/bantuan")
    agency_help = (await said(desk, NEW_GROUP, "Salah SKPD?", after=card["message_id"]))["text"]
    assert "Dishub" in agency_help and "/daftar" not in agency_help
    # A triage command unlinks it; the group is told; its cards wait.
    desk.tg.send_message(TRIAGE, BUDI["id"], "/lepas dishub")
    await said(desk, TRIAGE, t("alert.not_triage_admin"))
    desk.tg.send_message(TRIAGE, ADMIN["id"], "/lepas dishub")
    await said(desk, TRIAGE, "diputuskan")
    await said(desk, NEW_GROUP, "memutuskan grup ini")
    assert await desk.count(AgencyChat, AgencyChat.chat_id == NEW_GROUP) == 0


async def test_daftar_without_a_code_offers_the_agencies_as_buttons(desk: Desk) -> None:
    desk.tg.add_chat(NEW_GROUP, "supergroup", "Grup Baru")
    desk.tg.set_member(NEW_GROUP, DEDI, "administrator")
    desk.tg.set_member(NEW_GROUP, EKO, "member")
    desk.tg.send_message(NEW_GROUP, DEDI["id"], "/daftar")
    picker = await said(desk, NEW_GROUP, "Pilih SKPD")
    codes = [b.split(":")[-1] for b in buttons(picker) if b.startswith("k1:rg:") and b.split(":")[-1] != "halaman"]
    assert codes and all(not c.startswith(("kab-", "kota-")) and c != "triase" for c in codes)
    # Paging keeps to provincial agencies; a plain member cannot pick.
    assert is_alert(await desk.press(NEW_GROUP, picker, EKO, data_with(picker, "k1:rg:", ":" + codes[0])))
    nxt = data_with(picker, "k1:rg:", ":halaman")
    assert not is_alert(await desk.press(NEW_GROUP, picker, DEDI, nxt))
    page2 = await desk.wait_for(lambda: (m if buttons(m := desk.message(NEW_GROUP, picker["message_id"]))
                                         != buttons(picker) else None))
    pick = next(b for b in buttons(page2) if not b.endswith(":halaman"))
    assert not is_alert(await desk.press(NEW_GROUP, page2, DEDI, pick))
    await said(desk, TRIAGE, "minta dihubungkan")
    assert await desk.count(BindCode, BindCode.used_chat_id == NEW_GROUP, BindCode.decision == "pending") == 1


async def test_help_says_what_works_in_each_kind_of_chat(desk: Desk) -> None:
    desk.tg.add_chat(ADMIN["id"], "private")
    desk.tg.add_chat(NEW_GROUP, "supergroup", "Belum")
    desk.tg.set_member(NEW_GROUP, DEDI, "administrator")
    texts = {}
    for chat, user in ((TRIAGE, ADMIN), (DPU, BUDI), (NEW_GROUP, DEDI), (ADMIN["id"], ADMIN)):
        desk.tg.send_message(chat, user["id"], "/bantuan")
        texts[chat] = (await said(desk, chat, "Kemala desk"))["text"]
    assert "/lepas" in texts[TRIAGE] and "Teruskan" in texts[TRIAGE]
    assert "DPU" in texts[DPU] and "Salah SKPD?" in texts[DPU] and "/bind" not in texts[DPU]
    assert "/daftar" in texts[NEW_GROUP] and "/daftar" in texts[ADMIN["id"]]
    assert len(set(texts.values())) == 4


# --- 2. one keyboard for everyone ---------------------------------------------------------------------


async def test_salah_skpd_is_for_any_member_and_asks_why(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    assert labels(card) == ["Klaim", "Salah SKPD?"]
    assert not is_alert(await desk.press(DPU, card, SITI, desk.button(card, "tr")))
    reasons = await markup_with(desk, DPU, card["message_id"], "k1:tq:")
    assert [lbl for lbl in labels(reasons)][:3] == ["Bukan tugas SKPD kami", "Salah SKPD", "Lainnya…"]
    assert not is_alert(await desk.press(DPU, reasons, SITI, data_with(reasons, "k1:tq:", ":nowewenang")))
    copy = await desk.card(TRIAGE, containing="warga_blora")
    tomb = await desk.wait_for(lambda: (m if "Dikembalikan" in (m := desk.message(DPU, card["message_id"]))["text"]
                                        or "Dialihkan" in m["text"] else None))
    assert "Bukan tugas SKPD kami" in tomb["text"] and "nowewenang" not in tomb["text"]
    assert "Bukan tugas SKPD kami" in copy["text"] and "nowewenang" not in copy["text"]


async def test_a_card_from_another_group_is_posted_here_not_opened_elsewhere(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    # Dinkes cannot pull DPU's complaint; triage can, with its own buttons.
    mid = desk.tg.send_message(DINKES, RINA["id"], f"/cari {cid}")
    await said(desk, DINKES, "tidak ditangani grup ini", after=mid)
    desk.tg.send_message(TRIAGE, ADMIN["id"], f"/cari #{cid}")
    copy = await desk.card(TRIAGE, containing=f"#{cid}")
    assert {b.split(":")[1] for b in buttons(copy)} >= {"ra", "ds"}
    assert "DPUBMCK" in copy["text"]


# --- 3. forwarding from triage ------------------------------------------------------------------------


async def _set_handle(desk: Desk, code: str, handle: str) -> None:
    from bot.models import Agency

    async def q(s: Any) -> None:
        await s.execute(update(Agency).where(Agency.code == code).values(x_handle=handle))
        await s.commit()
    await desk.db(q)


async def test_triage_forwards_a_regency_matter_and_the_citizen_is_told_once(desk: Desk) -> None:
    await _set_handle(desk, "kab-sragen", "PemkabSragen")
    desk.tweet(REGENCY, username="warga_sragen", mention=True)
    cid, card = await triage_card(desk, "warga_sragen")
    one_tap = buttons(card)[0]
    assert one_tap.startswith("k1:fw:") and one_tap.endswith(":kab-sragen")
    assert labels(card)[0] == "Teruskan ke Pemkab Sragen"
    desk.tg.set_member(TRIAGE, BUDI, "member")
    answer = await desk.press(TRIAGE, card, BUDI, one_tap)
    assert is_alert(answer) and answer["text"] == t("alert.not_triage_admin")
    assert not is_alert(await desk.press(TRIAGE, card, ADMIN, one_tap))
    posted = await desk.wait_for(lambda: desk.x.posted())
    assert len(posted) == 1
    assert "Pemkab Sragen" in posted[0]["text"] and "@PemkabSragen" in posted[0]["text"]
    assert posted[0].get("in_reply_to_tweet_id")  # the citizen mentioned the desk: in the thread
    c = await desk.complaint(cid)
    assert c.status == "forwarded" and c.forwarded_to == "kab-sragen"
    assert ("forward", "forwarded") in await desk.events(cid)
    await desk.wait_for(lambda: "Diteruskan ke Pemkab Sragen" in desk.message(TRIAGE, card["message_id"])["text"])
    # Pressing again (a stale card, an answered complaint) posts nothing more.
    answer = await desk.press(TRIAGE, card, ADMIN, one_tap)
    assert is_alert(answer)
    await desk.wait_db(lambda s: _posted_count(s, cid))
    assert len(desk.x.posted()) == 1


async def _posted_count(s: Any, cid: int) -> bool:
    from sqlalchemy import func, select
    return int(await s.scalar(select(func.count(ReplyOutbox.id)).where(ReplyOutbox.complaint_id == cid,
                                                                       ReplyOutbox.state == "posted")) or 0) == 1


async def test_forward_picker_fallback_and_written_destination(desk: Desk) -> None:
    desk.tweet("Halo min, selamat pagi semuanya, semangat ya kerjanya #KemalaJateng", username="halo_warga")
    cid, card = await triage_card(desk, "halo_warga")
    # Teruskan ke… opens the directory's destinations, then "Lainnya…" asks where in words.
    assert not is_alert(await desk.press(TRIAGE, card, ADMIN, data_with(card, "k1:fm:")))
    picker = await markup_with(desk, TRIAGE, card["message_id"], "k1:fw:")
    assert any(b.endswith(":kab-sragen") for b in buttons(picker)) or any(b.startswith("k1:fm:") for b in
                                                                           buttons(picker))
    other = data_with(picker, "k1:fw:", ":lainnya")
    assert not is_alert(await desk.press(TRIAGE, picker, ADMIN, other))
    prompt = await said(desk, TRIAGE, "tulis alasan untuk aduan")
    desk.tg.send_message(TRIAGE, ADMIN["id"], "Kantor Pertanahan Kab. Demak", reply_to_message_id=prompt["message_id"])
    posted = await desk.wait_for(lambda: desk.x.posted())
    # The citizen did not mention the desk: a new post that mentions them and links their post.
    assert "@halo_warga" in posted[0]["text"] and "Kantor Pertanahan Kab. Demak" in posted[0]["text"]
    assert not posted[0].get("in_reply_to_tweet_id")
    assert (await desk.complaint(cid)).status == "forwarded"


async def test_an_answered_complaint_cannot_be_forwarded(desk: Desk) -> None:
    desk.tweet(REGENCY, username="warga_sragen")
    cid, card = await triage_card(desk, "warga_sragen")

    async def answered(s: Any) -> None:
        await s.execute(update(Complaint).where(Complaint.id == cid).values(reply_x_id="123"))
        await s.commit()
    await desk.db(answered)
    answer = await desk.press(TRIAGE, card, ADMIN, buttons(card)[0])
    assert is_alert(answer) and "sudah dijawab" in answer["text"]
    assert not desk.x.posted() and (await desk.complaint(cid)).status == "triage"


# --- 4. reasons and undo ------------------------------------------------------------------------------


async def test_dismiss_asks_once_and_can_be_undone_for_seven_days(desk: Desk) -> None:
    desk.tweet("Follow back dong kak, cek bio ada promo pulsa murah!! #KemalaJateng", username="promo88")
    cid, card = await triage_card(desk, "promo88")
    assert not is_alert(await desk.press(TRIAGE, card, ADMIN, desk.button(card, "ds")))
    assert (await desk.complaint(cid)).status == "triage"  # one tap asks, it does not dismiss
    picker = await markup_with(desk, TRIAGE, card["message_id"], "k1:dr:")
    assert labels(picker) == ["Spam atau iklan", "Bukan aduan", "Aduan ganda", "Lainnya…", "Batal"]
    assert not is_alert(await desk.press(TRIAGE, picker, ADMIN, data_with(picker, "k1:dr:", ":spam")))
    c = await desk.complaint(cid)
    assert c.status == "dismissed"
    undo = await markup_with(desk, TRIAGE, card["message_id"], "k1:ud:")
    assert "Spam atau iklan" in undo["text"] and "spam" not in undo["text"].replace("Spam", "")
    assert not is_alert(await desk.press(TRIAGE, undo, ADMIN, desk.button(undo, "ud")))
    assert (await desk.complaint(cid)).status == "triage"
    # Dismissed again, then eight days pass: the undo is refused.
    again = await markup_with(desk, TRIAGE, card["message_id"], "k1:ds:")
    await desk.press(TRIAGE, again, ADMIN, desk.button(again, "ds"))
    picker = await markup_with(desk, TRIAGE, card["message_id"], "k1:dr:")
    await desk.press(TRIAGE, picker, ADMIN, data_with(picker, "k1:dr:", ":bukanaduan"))
    undo = await markup_with(desk, TRIAGE, card["message_id"], "k1:ud:")

    async def age(s: Any) -> None:
        from sqlalchemy import select
        for e in (await s.scalars(select(Event).where(Event.complaint_id == cid, Event.action == "dismiss"))).all():
            e.at = e.at - timedelta(days=8)
        await s.commit()
    await desk.db(age)
    answer = await desk.press(TRIAGE, undo, ADMIN, desk.button(undo, "ud"))
    assert is_alert(answer) and "7 hari" in answer["text"]
    assert (await desk.complaint(cid)).status == "dismissed"


async def test_other_reason_is_written_and_shown_in_staff_words(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    await desk.press(DPU, card, BUDI, desk.button(card, "tr"))
    reasons = await markup_with(desk, DPU, card["message_id"], "k1:tq:")
    assert not is_alert(await desk.press(DPU, reasons, BUDI, data_with(reasons, "k1:tq:", ":lainnya")))
    prompt = await said(desk, DPU, "@budi_dpu tulis alasan untuk aduan")
    assert (await desk.complaint(cid)).status == "routed"  # nothing happens until the reason is written
    # Someone else's answer, an empty one, or one far too long does nothing.
    desk.tg.send_message(DPU, SITI["id"], "bukan saya", reply_to_message_id=prompt["message_id"])
    desk.tg.send_message(DPU, BUDI["id"], "x" * 400, reply_to_message_id=prompt["message_id"])
    await said(desk, DPU, "terlalu panjang")
    assert (await desk.complaint(cid)).status == "routed"
    desk.tg.send_message(DPU, BUDI["id"], "Ruas ini jalan nasional, urusan BBPJN",
                         reply_to_message_id=prompt["message_id"])
    await desk.wait_for(lambda: "Ruas ini jalan nasional" in desk.message(DPU, card["message_id"])["text"])
    c = await desk.complaint(cid)
    assert c.status == "triage"
    copy = await desk.card(TRIAGE, containing="warga_blora")
    assert "Ruas ini jalan nasional, urusan BBPJN" in copy["text"]
    # The prompt is used once.
    desk.tg.send_message(DPU, BUDI["id"], "lagi", reply_to_message_id=prompt["message_id"])
    await desk.wait_for(lambda: sum(1 for x in bot_texts(desk, DPU) if x == t("alert.stale")) >= 1
                        or sum(1 for x in bot_texts(desk, DPU) if "tidak" in x) >= 1)


# --- 5. internal notes --------------------------------------------------------------------------------


async def test_a_reply_to_a_card_is_an_internal_note(desk: Desk) -> None:
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    desk.tg.send_message(DPU, SITI["id"], "Sudah saya cek, lubang di km 12", reply_to_message_id=card["message_id"])
    await desk.wait_for(lambda: "📝 1 catatan" in desk.message(DPU, card["message_id"])["text"])
    desk.tg.send_message(DPU, BUDI["id"], "Tim UPT Cepu berangkat besok", reply_to_message_id=card["message_id"])
    text = await desk.wait_for(lambda: (x if "📝 2 catatan" in (x := desk.message(DPU, card["message_id"])["text"])
                                        else None))
    assert "Tim UPT Cepu berangkat besok" in text
    assert await desk.count(Note, Note.complaint_id == cid) == 2
    # /cari N lists them.
    mid = desk.tg.send_message(DPU, BUDI["id"], f"/cari {cid}")
    listed = await said(desk, DPU, f"Catatan #{cid}", after=mid)
    assert "Sudah saya cek" in listed["text"] and "Tim UPT Cepu" in listed["text"]
    assert not desk.x.posted()


@pytest.mark.slow
async def test_fuzzed_group_messages_never_reach_x(desk: Desk) -> None:
    desk.tg.configure(rate_limits=False)
    desk.tweet(ROAD)
    card = await desk.card(DPU)
    cid = int(desk.button(card, "cl").split(":")[2])
    await desk.press(DPU, card, BUDI, desk.button(card, "cl"))
    await desk.press(DPU, await desk.card(DPU), BUDI, desk.button(await desk.card(DPU), "rp"))
    prompt = await said(desk, DPU, "tulis balasan")
    rng = random.Random(16)
    alphabet = "abc xyz jalan rusak /cari /antrian @KemalaDesk #KemalaJateng 😀 \u202e <b>&amp; 0123 ²"
    people = [BUDI, SITI]
    targets = [None, card["message_id"], prompt["message_id"]]
    sent_notes = 0
    for i in range(1000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))).strip() or f"pesan {i}"
        target = rng.choice(targets)
        desk.tg.send_message(DPU, rng.choice(people)["id"], text, reply_to_message_id=target)
        if target == card["message_id"] and not text.startswith("/"):
            sent_notes += 1
    await desk.wait_for(lambda: desk.tg.pending_updates() == 0, timeout=120)
    await desk.wait_db(lambda s: _notes_at_least(s, cid, sent_notes), timeout=60, what="all notes")
    # Nothing was approved, so nothing reached X: 0 posts from 1,000 messages.
    assert desk.x.posted() == []
    assert await desk.count(ReplyOutbox, ReplyOutbox.state.in_(("pending", "posted", "unknown"))) == 0
    assert await desk.count(CardOutbox, CardOutbox.complaint_id == cid, CardOutbox.kind == "card") == 1


async def _notes_at_least(s: Any, cid: int, n: int) -> bool:
    from sqlalchemy import func, select
    return int(await s.scalar(select(func.count(Note.id)).where(Note.complaint_id == cid)) or 0) >= n


# --- 6. texts -----------------------------------------------------------------------------------------


async def test_queued_reply_turns_into_posted_with_the_link(desk: Desk) -> None:
    desk.tweet(ROAD, mention=True)
    card = await desk.card(DPU)
    await desk.press(DPU, card, BUDI, desk.button(card, "cl"))
    claimed = await markup_with(desk, DPU, card["message_id"], "k1:rp:")
    assert "👷 Petugas: Budi" in claimed["text"] and claimed["text"].count("Ditangani") == 1
    await desk.press(DPU, claimed, BUDI, desk.button(claimed, "rp"))
    prompt = await said(desk, DPU, "tulis balasan")
    desk.tg.send_message(DPU, BUDI["id"], "Terima kasih, segera kami tambal.", reply_to_message_id=prompt["message_id"])
    preview = await said(desk, DPU, "Pratinjau balasan")
    assert not is_alert(await desk.press(DPU, preview, BUDI, data_with(preview, "k1:sd:")))
    posted = await desk.wait_for(lambda: desk.x.posted())
    final = await desk.wait_for(lambda: (m if "Terkirim ke X" in (m := desk.message(DPU, preview["message_id"]))
                                         ["text"] else None))
    assert "antrean" not in final["text"]
    edits = [c for c in desk.tg.calls() if c["method"] == "editMessageText" and c["ok"]
             and str(c["params"].get("message_id")) == str(preview["message_id"])]
    assert f"/status/{posted[0]['id']}" in str(edits[-1]["params"].get("text"))  # the link to the reply


async def test_antrean_is_an_alias_and_texts_use_one_spelling(desk: Desk) -> None:
    desk.tweet(ROAD)
    await desk.card(DPU)
    for command in ("/antrian", "/antrean"):
        mid = desk.tg.send_message(DPU, BUDI["id"], command)
        text = (await said(desk, DPU, "Antrean", after=mid))["text"]
        assert "Antrian" not in text


# --- 7. /cari -----------------------------------------------------------------------------------------


async def test_search_by_keyword_handle_place_and_odd_input(desk: Desk) -> None:
    desk.tweet(ROAD, username="warga_blora")
    desk.tweet("Jembatan di Kec. Karangawen Demak retak dan goyang #KemalaJateng", username="karangawen1")
    desk.tweet(HEALTH, username="warga_solo")
    await desk.wait_for(lambda: len(desk.cards(DPU)) >= 2)
    await desk.card(DINKES)

    async def ask(query: str) -> dict[str, Any]:
        mid = desk.tg.send_message(DPU, BUDI["id"], f"/cari {query}".strip())
        return await desk.wait_for(lambda: next((m for m in desk.tg.messages(DPU) if m["from_bot"]
                                                 and m.get("reply_to_message_id") == mid), None),
                                   what=f"the answer to /cari {query}")

    by_word = await ask("jembatan")
    assert "karangawen1" in by_word["text"] and "warga_blora" not in by_word["text"]
    assert [b.split(":")[1] for b in buttons(by_word)] == ["sh"]
    by_handle = await ask("@warga_blora")
    assert "Blora" in by_handle["text"] and "karangawen1" not in by_handle["text"]
    by_place = await ask("demak")
    assert "karangawen1" in by_place["text"]
    # Only this agency's complaints: the Dinkes one is not found from DPU.
    assert "Tidak ada aduan" in (await ask("demam berdarah"))["text"]
    for odd in ("²", "#²", "99999999999999999999999", "%", "_", "'; DROP TABLE complaints; --", ""):
        answer = await ask(odd)
        assert answer["text"] and not is_alert(answer), odd
    assert await desk.count(Complaint) == 3
    # A result's button posts the card here, with this group's buttons.
    before = len(desk.cards(DPU))
    assert not is_alert(await desk.press(DPU, by_word, SITI, buttons(by_word)[0]))
    await desk.wait_for(lambda: len(desk.cards(DPU)) == before + 1)
    assert labels(desk.cards(DPU)[-1]) == ["Klaim", "Salah SKPD?"]
