"""Issue 15, item 6: what is stuck — `kemala status [--json]`, `kemala status retry cards|replies [ID]`, and
/status in the triage group. Rows are made the way the desk makes them (real tables), then read back the
way an operator reads them (the `kemala` process, the Telegram sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker
from bot.models import Agency, AgencyChat, CardOutbox, Complaint, Cursor, ReplyOutbox, Tweet
from tests.desk_harness import ADMIN, BUDI, DPU, ROAD, TRIAGE, Desk

ROOT = Path(__file__).resolve().parent.parent


def kemala(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_")}
    env.update({"PYTHONPATH": str(ROOT), "KEMALA_DATABASE_URL": db_url})
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=90)


async def seed_stuck(db_url: str) -> dict[str, int]:
    """Two complaints, cards parked/failed/sent, replies unknown/rejected/posted, a parked post, a removed
    group and X paused: one of each thing an operator must see."""
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            dinkes = await s.scalar(select(Agency).where(Agency.code == "dinkes"))
            dpu = await s.scalar(select(Agency).where(Agency.code == "dpubmck"))
            assert dinkes is not None and dpu is not None
            s.add(AgencyChat(agency_id=dinkes.id, chat_id=-1001000000012, title="Dinkes",
                             parked_reason="bot removed from the group"))
            ids: dict[str, int] = {}
            for key, agency, status, age_h in (("old", dpu, "routed", 30), ("new", dinkes, "routed", 1),
                                               ("claimed", dpu, "claimed", 2)):
                c = Complaint(tweet_x_id=f"10{age_h}", conversation_id=f"10{age_h}", author_x_id="9",
                              author_username="warga", author_name="Warga", text="jalan rusak", status=status,
                              agency_id=agency.id, tweeted_at=now - timedelta(hours=age_h),
                              created_at=now - timedelta(hours=age_h), claimer_id=601 if key == "claimed" else None)
                s.add(c)
                await s.flush()
                ids[key] = c.id
            for key, state, reason in (("parked", "parked", "bot removed from the group"),
                                       ("failed", "failed", "400 Bad Request: chat not found"),
                                       ("sent", "sent", None)):
                row = CardOutbox(complaint_id=ids["new"], chat_id=-1001000000012, kind="card", state=state,
                                 last_error=reason, message_id=5 if state == "sent" else None)
                s.add(row)
                await s.flush()
                ids[f"card_{key}"] = row.id
            for key, state, reason in (("unknown", "unknown", "timeout after the post"),
                                       ("rejected", "rejected", "restricted: not allowed to reply"),
                                       ("posted", "posted", None)):
                r = ReplyOutbox(complaint_id=ids["claimed"], text="Sudah kami teruskan.", author_id=601,
                                author_name="Budi", state=state, last_error=reason, in_reply_to="102",
                                next_attempt_at=now + timedelta(hours=1), approved_at=now - timedelta(minutes=10))
                s.add(r)
                await s.flush()
                ids[f"reply_{key}"] = r.id
            s.add(Tweet(x_id="777", conversation_id="777", author_x_id="8", author_username="warga_parkir",
                        role="parked", text="", tweeted_at=now, parked_reason="storage refused the row"))
            s.add(Cursor(name="x_paused", value=f"usage_capped|{now.isoformat()}"))
        return ids
    finally:
        await engine.dispose()


async def test_status_lists_every_stuck_thing_in_text_and_json(db_url: str, tmp_path: Path) -> None:
    ids = await seed_stuck(db_url)
    text = kemala(db_url, "status", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "X reading:  PAUSED (usage_capped" in out
    assert f"row {ids['card_parked']}" in out and f"row {ids['card_failed']}" in out
    assert f"row {ids['card_sent']} " not in out
    assert f"reply {ids['reply_unknown']}" in out and f"reply {ids['reply_rejected']}" in out
    assert f"reply {ids['reply_posted']} " not in out
    assert "777  @warga_parkir  storage refused the row" in out
    assert "chat -1001000000012  dinkes  bot removed from the group" in out
    unclaimed = out.split("unclaimed complaints, oldest first: 2")[1].splitlines()
    assert unclaimed[1].startswith(f"  #{ids['old']}  dpubmck") and "waiting 1 d 6 h" in unclaimed[1]
    assert unclaimed[2].startswith(f"  #{ids['new']}  dinkes")

    report = json.loads(kemala(db_url, "status", "--json", cwd=tmp_path).stdout)
    assert report["replies"] == {"unknown": 1, "rejected": 1, "posted": 1}
    assert [r["id"] for r in report["parked_cards"]] == [ids["card_parked"], ids["card_failed"]]
    assert [r["id"] for r in report["unclaimed"]] == [ids["old"], ids["new"]]
    assert report["x_paused"] == "usage_capped"


async def test_retry_requeues_cards_and_makes_unknown_replies_due_but_never_rejected_ones(db_url: str,
                                                                                          tmp_path: Path) -> None:
    ids = await seed_stuck(db_url)
    one = kemala(db_url, "status", "retry", "cards", str(ids["card_failed"]), cwd=tmp_path)
    assert one.returncode == 0 and "1 card row(s) queued again" in one.stdout, one.stderr
    sent = kemala(db_url, "status", "retry", "cards", str(ids["card_sent"]), cwd=tmp_path)
    assert sent.returncode != 0 and "is not parked or failed" in sent.stderr
    rest = kemala(db_url, "status", "retry", "cards", cwd=tmp_path)
    assert rest.returncode == 0 and "1 card row(s)" in rest.stdout
    replies = kemala(db_url, "status", "retry", "replies", cwd=tmp_path)
    assert replies.returncode == 0 and "1 reply(ies) due now" in replies.stdout, replies.stderr
    rejected = kemala(db_url, "status", "retry", "replies", str(ids["reply_rejected"]), cwd=tmp_path)
    assert rejected.returncode != 0 and "a rejected reply is final" in rejected.stderr
    bad = kemala(db_url, "status", "retry", "cards", "abc", cwd=tmp_path)
    assert bad.returncode != 0 and "is a number" in bad.stderr

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            cards = {r.id: r.state for r in (await s.scalars(select(CardOutbox))).all()}
            replies_now = {r.id: (r.state, r.next_attempt_at) for r in (await s.scalars(select(ReplyOutbox))).all()}
    finally:
        await engine.dispose()
    assert cards == {ids["card_parked"]: "pending", ids["card_failed"]: "pending", ids["card_sent"]: "sent"}
    state, due = replies_now[ids["reply_unknown"]]
    assert state == "unknown"  # still unknown: the sweep reconciles with X before anything is posted
    assert (due if due.tzinfo else due.replace(tzinfo=UTC)) <= datetime.now(UTC)
    assert replies_now[ids["reply_rejected"]][0] == "rejected"


async def test_status_in_the_triage_group_and_nowhere_else(db_url: str) -> None:
    desk = Desk(db_url)
    await desk.setup()
    try:
        await desk.start_bot()
        desk.tweet(ROAD)
        await desk.card(DPU)
        desk.tg.send_message(TRIAGE, ADMIN["id"], "/status")
        text = await desk.wait_for(lambda: next((m["text"] for m in desk.tg.messages(TRIAGE)
                                                 if m["from_bot"] and "Status meja Kemala" in (m.get("text") or "")),
                                                None), what="/status answer")
        assert "Belum diklaim: 1 aduan" in text and "Membaca X: berjalan" in text
        assert "Postingan tertahan: 0" in text
        desk.tg.send_message(DPU, BUDI["id"], "/status")
        await desk.wait_for(lambda: any("hanya untuk grup triase" in (m.get("text") or "")
                                        for m in desk.tg.messages(DPU) if m["from_bot"]), what="refusal")
        assert not any("Status meja Kemala" in (m.get("text") or "") for m in desk.tg.messages(DPU))
    finally:
        await desk.close()


def test_the_status_label_namespace_holds_only_complaint_statuses() -> None:
    """`status.<name>` keys are the complaint status labels (cards and bench/chaos.py read them back by
    label); the /status texts live under `desk_status.`."""
    from bot.domain.lifecycle import Status
    from bot.i18n import CATALOGUE

    labels = {k.removeprefix("status.") for k in CATALOGUE if k.startswith("status.")}
    assert labels <= {s.value for s in Status} | {"moved"}
