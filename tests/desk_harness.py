"""Drives the real bot (PTB + tweepy over HTTP) against the Telegram and X sandboxes, on a real database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bot.app import make_services, run_bot
from bot.config import Settings, load_settings
from bot.db import make_engine, make_sessionmaker
from bot.directory import bind_chat
from bot.models import CardOutbox, Complaint, Event
from bot.sandbox.telegram import TelegramSandbox
from bot.sandbox.x import XSandbox
from bot.services import Services

TOKEN = "7000001:TEST-desk-token-not-real"
TRIAGE = -1009000000001
DPU = -1001000000013
DINKES = -1001000000012
DISDIK = -1001000000011

ADMIN = {"id": 501, "first_name": "Ani", "username": "ani_admin"}
BUDI = {"id": 601, "first_name": "Budi", "username": "budi_dpu"}
SITI = {"id": 602, "first_name": "Siti", "username": "siti_dpu"}
DPU_HEAD = {"id": 603, "first_name": "Pak Kepala", "username": "kepala_dpu"}
RINA = {"id": 701, "first_name": "Rina", "username": "rina_dinkes"}
OUTSIDER = {"id": 999, "first_name": "Orang", "username": "orang_luar"}

ROAD = "Jalan provinsi Blora - Cepu rusak parah, banyak lubang, tolong diperbaiki #KemalaJateng"
HEALTH = "Kasus demam berdarah di Jawa Tengah melonjak, fogging dari Dinkes provinsi tidak kunjung datang #KemalaJateng"


@dataclass
class Desk:
    db_url: str
    tg: TelegramSandbox = field(default_factory=lambda: TelegramSandbox(bot_token=TOKEN, bot_username="kemala_test_bot"))
    x: XSandbox = field(default_factory=lambda: XSandbox(desk_username="KemalaDesk", lag_seconds=0))
    env: dict[str, str] = field(default_factory=dict)
    svc: Services | None = None
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event | None = None

    def settings(self) -> Settings:
        env = {
            "KEMALA_DATABASE_URL": self.db_url, "KEMALA_TELEGRAM_TOKEN": TOKEN,
            "KEMALA_TELEGRAM_API_URL": self.tg.url, "KEMALA_X_API_URL": self.x.url,
            "KEMALA_X_BEARER_TOKEN": "AAAAbearer-test-token", "KEMALA_X_CONSUMER_KEY": "ck-test-consumer",
            "KEMALA_X_CONSUMER_SECRET": "cs-test-consumer-secret", "KEMALA_X_ACCESS_TOKEN": "1-at-test-access",
            "KEMALA_X_ACCESS_TOKEN_SECRET": "ats-test-access-secret", "KEMALA_POLL_SECONDS": "1",
            "KEMALA_TRIAGE_CHAT_ID": str(TRIAGE), "KEMALA_X_TIMEOUT_SECONDS": "2", "KEMALA_WEB_PORT": "0",
        }
        env.update(self.env)
        return load_settings(env, env_file=None)

    async def setup(self) -> None:
        self.tg.start()
        self.x.start()
        for chat, title in ((TRIAGE, "Triase Kemala"), (DPU, "DPUBMCK Kemala"), (DINKES, "Dinkes Kemala"),
                            (DISDIK, "Disdikbud Kemala")):
            self.tg.add_chat(chat, "supergroup", title)
            self.tg.set_member(chat, ADMIN, "administrator")
        for user in (BUDI, SITI):
            self.tg.set_member(DPU, user, "member")
        self.tg.set_member(DPU, DPU_HEAD, "administrator")
        self.tg.set_member(DINKES, RINA, "member")
        self.tg.set_member(TRIAGE, OUTSIDER, "left")
        sessions = make_sessionmaker(engine := make_engine(self.settings().database_url))
        await bind_chat(sessions, code="dpubmck", chat_id=DPU)
        await bind_chat(sessions, code="dinkes", chat_id=DINKES)
        await bind_chat(sessions, code="disdikbud", chat_id=DISDIK)
        await engine.dispose()

    async def start_bot(self) -> None:
        settings = self.settings()
        self.svc = make_services(settings)
        self.stop_event = asyncio.Event()
        n = len(self.tg.calls())
        self.task = asyncio.create_task(run_bot(settings, stop=self.stop_event, svc=self.svc))
        await self.wait_for(lambda: any(c["method"] == "deleteWebhook" for c in self.tg.calls()[n:]), what="polling")

    async def stop_bot(self) -> None:
        if self.task is not None and self.stop_event is not None:
            self.stop_event.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 30)
        self.task = None

    async def close(self) -> None:
        await self.stop_bot()
        self.tg.stop()
        self.x.stop()

    # --- driving -------------------------------------------------------------------------------------

    def tweet(self, text: str, *, username: str = "warga_blora", mention: bool = False, **kw: Any) -> str:
        body = f"@KemalaDesk {text}" if mention else text
        return self.x.add_tweet(username=username, text=body, **kw)

    async def wait_for(self, pred: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.task is not None and self.task.done():
                self.task.result()  # surface the bot's crash
                raise AssertionError("the bot stopped")
            value = pred()
            if value:
                return value
            await asyncio.sleep(0.05)
        from collections import Counter

        recent = Counter(f'{c["method"]}:{c["error_code"]}:{c.get("description")}' for c in self.tg.calls()[-60:])
        calls = self.tg.calls()
        t0 = calls[-1]["time"]
        print("CALLS", [(c["method"][:8], round(c["time"] - t0, 3), c["error_code"]) for c in calls[-40:]])
        raise AssertionError(f"timed out waiting for {what}; recent Telegram calls: {dict(recent)}")

    async def wait_db(self, query: Callable[[Any], Any], *, timeout: float = 15.0, what: str = "db") -> Any:
        engine = make_engine(self.settings().database_url)
        sessions = make_sessionmaker(engine)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                async with sessions() as s:
                    value = await query(s)
                if value:
                    return value
                await asyncio.sleep(0.1)
            raise AssertionError(f"timed out waiting for {what}")
        finally:
            await engine.dispose()

    async def db(self, query: Callable[[Any], Any]) -> Any:
        engine = make_engine(self.settings().database_url)
        try:
            async with make_sessionmaker(engine)() as s:
                return await query(s)
        finally:
            await engine.dispose()

    def cards(self, chat: int) -> list[dict[str, Any]]:
        return [m for m in self.tg.messages(chat) if m["from_bot"] and m.get("reply_markup")
                and "inline_keyboard" in m["reply_markup"] and "#" in (m.get("text") or "")]

    async def card(self, chat: int, *, index: int = -1, containing: str = "") -> dict[str, Any]:
        cards = await self.wait_for(lambda: [m for m in self.cards(chat) if containing in (m.get("text") or "")],
                                    what=f"a card in {chat}")
        return cards[index]

    async def cards_settled(self, timeout: float = 15.0) -> None:
        """Wait until no card send is in flight: the sweep records `sent` just after Telegram answers,
        so a test that compares state before and after a press must not catch that step halfway."""
        deadline = time.monotonic() + timeout
        while await self.count(CardOutbox, CardOutbox.state == "sending"):
            if time.monotonic() > deadline:
                raise AssertionError("a card send stayed in flight")
            await asyncio.sleep(0.05)

    def message(self, chat: int, message_id: int) -> dict[str, Any]:
        return next(m for m in self.tg.messages(chat) if m["message_id"] == message_id)

    @staticmethod
    def button(message: dict[str, Any], act: str) -> str:
        for row in message["reply_markup"]["inline_keyboard"]:
            for b in row:
                data = b.get("callback_data") or ""
                if data.split(":")[1:2] == [act]:
                    return str(data)
        raise AssertionError(f"no {act} button on message {message['message_id']}: {message['reply_markup']}")

    async def press(self, chat: int, message: dict[str, Any] | int, user: dict[str, Any], data: str,
                    timeout: float = 15.0) -> dict[str, Any]:
        mid = message if isinstance(message, int) else int(message["message_id"])
        qid = self.tg.press(chat, mid, int(user["id"]), data)
        return await self.wait_for(lambda: next((a for a in self.tg.callback_answers()
                                                 if a["callback_query_id"] == qid), None),
                                   timeout=timeout, what=f"answer to press {data}")

    async def complaint(self, cid: int) -> Complaint:
        async def q(s: Any) -> Complaint:
            return await s.get(Complaint, cid)
        return await self.db(q)

    async def count(self, model: Any, *where: Any) -> int:
        async def q(s: Any) -> int:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
        return await self.db(q)

    async def events(self, cid: int) -> list[tuple[str, str | None]]:
        async def q(s: Any) -> list[tuple[str, str | None]]:
            rows = (await s.scalars(select(Event).where(Event.complaint_id == cid).order_by(Event.id))).all()
            return [(e.action, e.to_status) for e in rows]
        return await self.db(q)


def complaint_id_of(card: dict[str, Any]) -> int:
    data = Desk.button(card, card["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1])
    return int(data.split(":")[2])


def is_alert(answer: dict[str, Any]) -> bool:
    return bool(answer.get("show_alert"))
