"""`kemala demo`: the whole desk on this machine — X and Telegram sandboxes, SQLite, the real bot, scripted staff."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings, load_settings
from bot.domain.lifecycle import Status
from bot.domain.outbox import CARD_DUE, REPLY_DUE, CardKind, CardState, ReplyState
from bot.domain.posts import parse_photo_row_text
from bot.i18n import CATALOGUE, t

if TYPE_CHECKING:
    from bot.sandbox.telegram import TelegramSandbox
    from bot.sandbox.x import XSandbox

T = TypeVar("T")
JSON = dict[str, Any]

TOKEN = "7000042:DEMO-token-not-a-real-bot"
BOT_USERNAME = "kemala_demo_bot"
DESK = "KemalaDesk"
HASHTAG = "#KemalaJateng"
FOLLOWUPS = 1
"""Follow-up tweets the demo feeds (counted in `tweets`; they join a complaint instead of opening one)."""

# Sandbox-only credentials: they never leave the loopback interface.
FAKE_X = {
    "KEMALA_X_BEARER_TOKEN": "AAAA-demo-bearer", "KEMALA_X_CONSUMER_KEY": "demo-consumer-key",
    "KEMALA_X_CONSUMER_SECRET": "demo-consumer-secret", "KEMALA_X_ACCESS_TOKEN": "1-demo-access-token",
    "KEMALA_X_ACCESS_TOKEN_SECRET": "demo-access-secret",
}  # fmt: skip


class DemoError(RuntimeError):
    """The scripted demo did not see what it waited for in time."""


# --- the cast ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    username: str

    def as_user(self) -> JSON:
        return {"id": self.id, "first_name": self.first_name, "username": self.username}


@dataclass(frozen=True)
class Group:
    code: str
    chat_id: int
    title: str
    staff: tuple[Person, ...]
    admins: tuple[Person, ...] = ()


ANI = Person(501, "Ani", "ani_triase")
WAHYU = Person(502, "Wahyu", "wahyu_triase")
TRIAGE_ADMINS = (ANI, WAHYU)

BUDI = Person(601, "Budi", "budi_dpu")
SITI = Person(602, "Siti", "siti_dpu")
RINA = Person(701, "Rina", "rina_dinkes")
DEWI = Person(702, "Dewi", "dewi_dinkes")
AGUS = Person(801, "Agus", "agus_disdik")
LESTARI = Person(802, "Lestari", "lestari_disdik")
EKO = Person(901, "Eko", "eko_dishub")
FAJAR = Person(902, "Fajar", "fajar_dishub")
GITA = Person(1001, "Gita", "gita_bapenda")
HADI = Person(1101, "Hadi", "hadi_dlhk")
INDAH = Person(1102, "Indah", "indah_dlhk")

TRIAGE = Group("triase", -1009000000001, "Triase Kemala Jateng", (), TRIAGE_ADMINS)
AGENCY_GROUPS: tuple[Group, ...] = (
    Group("dpubmck", -1001000000011, "DPUBMCK · Kemala", (BUDI, SITI), (Person(603, "Pak Joko", "joko_dpu"),)),
    Group("dinkes", -1001000000012, "Dinkes · Kemala", (RINA, DEWI)),
    Group("disdikbud", -1001000000013, "Disdikbud · Kemala", (AGUS, LESTARI)),
    Group("dishub", -1001000000014, "Dishub · Kemala", (EKO, FAJAR)),
    Group("bapenda", -1001000000015, "Bapenda · Kemala", (GITA,)),
    Group("dlhk", -1001000000016, "DLHK · Kemala", (HADI, INDAH)),
)
GROUPS: tuple[Group, ...] = (TRIAGE, *AGENCY_GROUPS)
BY_CODE = {g.code: g for g in GROUPS}


# --- the tweets ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    agency: str  # where the router should send it ("triase" for greetings and spam)
    author: str
    name: str
    text: str
    mention: bool = False


# The first ten carry the script (see Demo.play); the rest make a realistic queue.
TEMPLATES: tuple[Template, ...] = (
    Template("dpubmck", "warga_blora", "Sri Wahyuni", "Jalan provinsi Blora - Cepu rusak parah, lubangnya dalem "
             "banget, tiap malam ada yg jatuh. Tolong segera diperbaiki min", mention=True),
    Template("dinkes", "mas_wsb", "Dimas", "Obat TBC program Dinkes provinsi di Wonosobo kosong terus, pasien "
             "disuruh beli sendiri di apotek luar. Gimana ini"),
    Template("disdikbud", "ibu_rahma", "Rahma", "PPDB SMA negeri di Klaten zonasinya aneh, rumah 500m dari "
             "sekolah malah ga ketrima"),
    Template("dpubmck", "pati_kudus", "Yoga", "PJU di jalan provinsi Pati - Kudus mati sejak seminggu, gelap "
             "gulita rawan begal", mention=True),
    Template("triase", "halo_jateng", "Nina", "Halo min, selamat pagi semuanya, semangat ya kerjanya"),
    Template("dlhk", "smg_barat", "Teguh", "TPA Jatibarang Semarang baunya sampe perumahan, asap bakar sampah "
             "tiap hari"),
    Template("triase", "promo_pulsa88", "Promo Pulsa", "Follow back dong kak, cek bio ada promo pulsa murah!!"),
    Template("dishub", "kendal_kita", "Rudi", "Lampu lalu lintas di simpang Kaliwungu Kendal mati, macet parah "
             "tiap pagi", mention=True),
    Template("bapenda", "ojol_mgl", "Bayu", "Bayar pajak kendaraan di Samsat Magelang sistemnya error seharian, "
             "antre dari pagi sia2", mention=True),
    Template("dinkes", "tembalang_ok", "Fitri", "Kasus DBD di Kec. Tembalang Semarang naik, tolong fogging dong "
             "min sebelum makin banyak korban", mention=True),
    Template("disdikbud", "wali_murid_bna", "Sari", "Atap ruang kelas SMK N di Banjarnegara bocor parah, murid "
             "belajar pake payung"),
    Template("dlhk", "kali_kudus", "Anton", "Sungai di Kec. Kaliwungu Kudus item dan bau, kayanya limbah pabrik "
             "dibuang sembarangan", mention=True),
    Template("dpubmck", "karangawen1", "Heru", "Min, jembatan di Kec. Karangawen Demak retak2 dan goyang kalo "
             "truk lewat, ngeri bgt"),
    Template("dishub", "pejuang_halte", "Maya", "Bus Trans Jateng koridor Semarang - Kendal telat terus, nunggu "
             "di halte sampe sejam"),
    Template("bapenda", "sakpole_user", "Andi", "Aplikasi Sakpole buat bayar PKB gagal terus, saldo udah "
             "kepotong tapi pajak belum lunas", mention=True),
    # A regency hospital: triage, with the proposal "Pemkab Kebumen" on the card.
    Template("triase", "kebumen_sehat", "Lina", "Antrean BPJS di RSUD Kebumen lama banget, dari subuh sampe "
             "siang belum dipanggil"),
    Template("disdikbud", "clp_parent", "Wati", "Sekolah SMA di Cilacap masih narik pungutan seragam 1,5 juta, "
             "katanya gratis?", mention=True),
    Template("dishub", "sopir_batang", "Joko", "Truk ODOL bebas lewat jalur Pantura Batang, jalan jadi cepet "
             "rusak, jembatan timbang ngapain aja"),
    Template("dlhk", "merapi_hijau", "Bambang", "Pembalakan liar di hutan lereng Merapi Boyolali makin parah, "
             "truk kayu lewat tiap malam"),
    Template("dpubmck", "grobogan_ku", "Tono", "Jalan raya Purwodadi-Wirosari aspalnya ngelupas semua, pas hujan "
             "jadi kubangan. Kapan diaspal ulang?", mention=True),
    Template("dinkes", "bidan_sragen", "Ratna", "Vaksin imunisasi anak di posyandu Sragen habis, bidan bilang "
             "stok belum dikirim dinkes"),
    Template("disdikbud", "honorer_pwr", "Yanti", "Guru honorer SLB di Purworejo belum gajian 3 bulan, kasian min"),
    Template("dishub", "solo_mudik", "Arif", "Terminal Tirtonadi Solo banyak calo dan pungli, penumpang dipaksa "
             "naik bus tertentu", mention=True),
    Template("bapenda", "pml_motor", "Dedi", "Pemutihan pajak kendaraan Jateng tahun ini ada lagi ga min? Samsat "
             "Pemalang belum ada info"),
    Template("dlhk", "batik_pkl", "Nur", "Pabrik di Kec. Wiradesa Pekalongan buang limbah batik ke kali, airnya "
             "merah biru"),
)
FOLLOWUP_TEXT = "@KemalaDesk udah 3 hari masih belum ada yg dateng, tadi pagi ada motor jatuh lagi di km 12"

IN_THREAD_REPLY = ("Terima kasih laporannya, Kak. Ruas Blora–Cepu sudah kami jadwalkan tambal lubang minggu ini "
                   "oleh UPT Cepu. Mohon hati-hati saat melintas malam hari 🙏")
FALLBACK_REPLY = ("Terima kasih infonya. Stok obat TBC untuk Wonosobo sudah kami koordinasikan dengan Dinkes "
                  "kabupaten, kiriman dijadwalkan besok.")
EXTRA_REPLY = "Terima kasih, laporan sudah kami terima dan sedang ditindaklanjuti petugas di lapangan."


@dataclass(frozen=True)
class FedTweet:
    index: int
    template: Template
    author: str
    x_id: str


def tweet_plan(n: int) -> list[tuple[Template, str]]:
    """The opening tweets for a run of `n` (n - FOLLOWUPS of them, templates cycled, every author distinct)."""
    openings = n - FOLLOWUPS if n > FOLLOWUPS else n
    plan: list[tuple[Template, str]] = []
    for i in range(openings):
        tpl = TEMPLATES[i % len(TEMPLATES)]
        rnd = i // len(TEMPLATES)
        plan.append((tpl, tpl.author if rnd == 0 else f"{tpl.author[:12]}_{rnd}"))
    return plan


# --- the run ----------------------------------------------------------------------------------------------

_PACED_METHODS = frozenset({"sendMessage", "editMessageText", "sendPhoto", "sendMediaGroup"})


async def _complaints_at_least(s: AsyncSession, n: int) -> bool:
    from bot.models import Complaint

    return int(await s.scalar(select(func.count(Complaint.id))) or 0) >= n


async def _largest_group_backlog(s: AsyncSession) -> tuple[str, int] | None:
    """(group title, messages waiting) for the group with the most: cards and pictures (an album of n is n)."""
    from bot.models import CardOutbox

    rows = (await s.execute(select(CardOutbox.chat_id, CardOutbox.kind, CardOutbox.text)
                            .where(CardOutbox.state.in_(CARD_DUE)))).all()
    waiting: Counter[int] = Counter()
    for chat_id, kind, text in rows:
        photos = parse_photo_row_text(text) if kind == CardKind.PHOTO else None
        waiting[chat_id] += 1 if photos is None or photos[2] else photos[1] - photos[0]
    if not waiting:
        return None
    chat_id, n = waiting.most_common(1)[0]
    title = next((g.title for g in GROUPS if g.chat_id == chat_id), str(chat_id))
    return title, n


@dataclass
class Demo:
    tweets: int
    out: TextIO
    as_json: bool
    db_url: str
    tg: TelegramSandbox
    x: XSandbox
    # Telegram's 20 messages a minute per group, times this (the sandbox and the bot's pacer alike): 1 in
    # `kemala demo`; tests run large demos faster with a bigger scale.
    limit_scale: float = 1.0
    settings: Settings | None = None
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    fed: list[FedTweet] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    followups_fed: int = 0
    started: float = field(default_factory=time.monotonic)

    # -- narration --

    def say(self, line: str) -> None:
        if not self.as_json:
            print(f"[{time.monotonic() - self.started:5.1f}s] {line}", file=self.out, flush=True)

    # -- set-up --

    def make_settings(self) -> Settings:
        env = {
            "KEMALA_DATABASE_URL": self.db_url, "KEMALA_TELEGRAM_TOKEN": TOKEN,
            "KEMALA_TELEGRAM_API_URL": self.tg.url, "KEMALA_X_API_URL": self.x.url,
            "KEMALA_TRIAGE_CHAT_ID": str(TRIAGE.chat_id), "KEMALA_POLL_SECONDS": "1",
            "KEMALA_X_TIMEOUT_SECONDS": "5", "KEMALA_LOG_LEVEL": "WARNING", "KEMALA_HASHTAG": HASHTAG,
            "KEMALA_WEB_PORT": "0",  # any free port: the demo must not fail because 8080 is taken
            **FAKE_X,
        }  # fmt: skip
        return load_settings(env, env_file=None)

    async def setup(self) -> None:
        from bot.db import make_engine, make_sessionmaker, upgrade
        from bot.directory import bind_chat, sync_directory

        self.tg.start()
        self.x.start()
        self.settings = self.make_settings()
        await asyncio.to_thread(upgrade, self.settings.database_url)
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        await sync_directory(self.sessions, update_existing=False)
        for group in GROUPS:
            self.tg.add_chat(group.chat_id, "supergroup", group.title)
            for admin in TRIAGE_ADMINS:
                self.tg.set_member(group.chat_id, admin.as_user(),
                                   "administrator" if group is TRIAGE else "member")
            for person in group.admins:
                self.tg.set_member(group.chat_id, person.as_user(), "administrator")
            for person in group.staff:
                self.tg.set_member(group.chat_id, person.as_user(), "member")
            for person in (*group.staff, *group.admins):
                self.names[person.id] = person.first_name
            if group is not TRIAGE:
                await bind_chat(self.sessions, code=group.code, chat_id=group.chat_id)
        self.say(f"{len(GROUPS)} grup Telegram siap (triase + {len(AGENCY_GROUPS)} SKPD), "
                 f"X sandbox {self.x.url}, Telegram sandbox {self.tg.url}")

    async def start_bot(self) -> None:
        from bot.app import make_services, run_bot
        from bot.services import SendPacer

        assert self.settings is not None
        n = len(self.tg.calls())
        svc = make_services(self.settings)
        if self.limit_scale != 1.0:
            svc.pacer = SendPacer(per_group=self.per_group_limit,
                                  per_second=max(17, round(17 * self.limit_scale)))
            svc.pacer.on_error = lambda code: svc.metrics.api_error("telegram", code)
        self.task = asyncio.create_task(run_bot(self.settings, stop=self.stop_event, svc=svc))
        await self.wait_for(lambda: any(c["method"] == "deleteWebhook" for c in self.tg.calls()[n:]),
                            what="the bot to start polling")
        self.say(f"bot @{BOT_USERNAME} berjalan (kode yang sama dengan `kemala run`)")

    async def stop_bot(self) -> None:
        if self.task is None:
            return
        self.stop_event.set()
        try:
            await asyncio.wait_for(self.task, 30)
        except asyncio.CancelledError:
            pass
        finally:
            self.task = None

    async def close(self) -> None:
        try:
            if self.task is not None and not self.task.done():
                await self.stop_bot()
        finally:
            if self.engine is not None:
                await self.engine.dispose()
            self.tg.stop()
            self.x.stop()

    # -- waiting --

    def _check_bot(self) -> None:
        if self.stop_event.is_set():
            raise DemoError("interrupted (SIGINT/SIGTERM): the bot was stopped")
        if self.task is not None and self.task.done():
            self.task.result()  # surface the bot's crash
            raise DemoError("the bot stopped unexpectedly")

    async def wait_for(self, pred: Callable[[], T | None], *, within: float = 20.0, what: str = "condition") -> T:
        deadline = time.monotonic() + within
        while True:
            self._check_bot()
            value = pred()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {within:g}s waiting for {what}")
            await asyncio.sleep(0.05)

    async def query(self, fn: Callable[[AsyncSession], Any]) -> Any:
        assert self.sessions is not None
        async with self.sessions() as s:
            return await fn(s)

    async def wait_db(self, fn: Callable[[AsyncSession], Any], *, within: float = 20.0, what: str = "db",
                      paced: bool = False) -> Any:
        """Poll `fn` until it answers. `paced`: what we wait for queues behind Telegram's per-group limit, so
        the wait lasts as long as messages keep going out and fails only after `within` s without one."""
        deadline = time.monotonic() + within
        sent = -1
        while True:
            self._check_bot()
            value = await self.query(fn)
            if value:
                return value
            if paced:
                now_sent = self._bot_api_progress()
                if now_sent != sent:
                    sent, deadline = now_sent, time.monotonic() + within
            if time.monotonic() > deadline:
                stalled = " with no message sent or edited meanwhile" if paced else ""
                raise DemoError(f"timed out after {within:g}s{stalled} waiting for {what}")
            await asyncio.sleep(0.1)

    def _bot_api_progress(self) -> int:
        """Messages sent and edited so far (what Telegram's limits pace)."""
        return sum(1 for c in self.tg.calls() if c["ok"] and c["method"] in _PACED_METHODS)

    @property
    def per_group_limit(self) -> int:
        return max(1, round(20 * self.limit_scale))

    # -- reading the groups --

    def message(self, chat_id: int, message_id: int) -> JSON:
        return next(m for m in self.tg.messages(chat_id) if m["message_id"] == message_id)

    @staticmethod
    def buttons(message: JSON) -> list[str]:
        markup = message.get("reply_markup") or {}
        return [str(b.get("callback_data") or "") for row in markup.get("inline_keyboard", []) for b in row]

    @classmethod
    def button(cls, message: JSON, act: str, arg: str | None = None) -> str | None:
        for data in cls.buttons(message):
            parts = data.split(":")
            if parts[1:2] == [act] and (arg is None or (len(parts) > 4 and parts[4] == arg)):
                return data
        return None

    async def complaint_id(self, tweet: FedTweet) -> int:
        from bot.models import Complaint

        async def q(s: AsyncSession) -> int | None:
            return await s.scalar(select(Complaint.id).where(Complaint.tweet_x_id == tweet.x_id))
        cid: int = await self.wait_db(q, what=f"complaint of tweet {tweet.x_id}")
        return cid

    async def card(self, group: Group, cid: int, *, having: str | None = None, within: float = 20.0) -> JSON:
        """The live card of `cid` in `group`; with `having`, once it offers that button at the current version."""
        from bot.models import CardOutbox, Complaint

        async def q(s: AsyncSession) -> JSON | None:
            mid = await s.scalar(select(CardOutbox.message_id).where(
                CardOutbox.complaint_id == cid, CardOutbox.chat_id == group.chat_id, CardOutbox.kind == "card",
                CardOutbox.state == CardState.SENT, CardOutbox.superseded.is_(False)
            ).order_by(CardOutbox.id.desc()).limit(1))
            if mid is None:
                return None
            message = self.message(group.chat_id, int(mid))
            if having is None:
                return message
            version = await s.scalar(select(Complaint.version).where(Complaint.id == cid))
            data = self.button(message, having)
            # A press with an older version is refused as stale: wait until the card shows the current one.
            return message if data is not None and data.split(":")[3:4] == [str(version)] else None
        what = f"card #{cid} in {group.title}" + (f" with an up-to-date {having!r} button" if having else "")
        found: JSON = await self.wait_db(q, within=within, what=what, paced=True)
        return found

    # -- acting as staff --

    async def press(self, group: Group, message: JSON, person: Person, data: str) -> JSON:
        qid = self.tg.press(group.chat_id, int(message["message_id"]), person.id, data)
        answer: JSON = await self.wait_for(
            lambda: next((a for a in self.tg.callback_answers() if a["callback_query_id"] == qid), None),
            what=f"the answer to {person.first_name}'s press {data}")
        return answer

    async def press_ok(self, group: Group, message: JSON, person: Person, data: str | None) -> JSON:
        if data is None:
            raise DemoError(f"no such button on message {message['message_id']} in {group.title}")
        answer = await self.press(group, message, person, data)
        if answer.get("show_alert"):
            raise DemoError(f"{person.first_name}'s press {data} was refused: {answer.get('text')}")
        return answer

    async def claim(self, group: Group, cid: int, person: Person) -> JSON:
        card = await self.card(group, cid, having="cl")
        await self.press_ok(group, card, person, self.button(card, "cl"))
        self.say(f"{group.title}: {person.first_name} menekan Klaim pada #{cid}")
        return await self.card(group, cid, having="rp")

    async def write_reply(self, group: Group, cid: int, person: Person, text: str) -> JSON:
        """Balas → ForceReply prompt → the staff member's answer → the preview with its buttons."""
        card = await self.card(group, cid, having="rp")
        before = max((m["message_id"] for m in self.tg.messages(group.chat_id)), default=0)
        await self.press_ok(group, card, person, self.button(card, "rp"))
        prompt = await self.wait_for(lambda: next(
            (m for m in self.tg.messages(group.chat_id) if m["message_id"] > before and m["from_bot"]
             and "force_reply" in (m.get("reply_markup") or {})), None), what=f"the reply prompt for #{cid}")
        mine = self.tg.send_message(group.chat_id, person.id, text, reply_to_message_id=prompt["message_id"])
        preview: JSON = await self.wait_for(lambda: next(
            (m for m in self.tg.messages(group.chat_id) if m["from_bot"] and m.get("reply_to_message_id") == mine
             and (self.button(m, "sd") or self.button(m, "fb"))), None), what=f"the draft preview for #{cid}")
        self.say(f"{group.title}: {person.first_name} menulis balasan untuk #{cid} (pratinjau muncul)")
        return preview

    async def publish(self, group: Group, cid: int, person: Person, preview: JSON, act: str, text: str) -> JSON:
        await self.press_ok(group, preview, person, self.button(preview, act))
        how = "Kirim ke X (di utas)" if act == "sd" else "Kirim sebagai post baru (fallback)"
        self.say(f"{group.title}: {person.first_name} menekan {how} untuk #{cid}")
        post: JSON = await self.wait_for(lambda: next((p for p in self.x.posted() if text in str(p.get("text"))),
                                                      None), what=f"the reply to #{cid} on X")

        async def answered(s: AsyncSession) -> bool:
            from bot.models import Complaint

            c = await s.get(Complaint, cid)
            return c is not None and c.status == Status.ANSWERED
        await self.wait_db(answered, what=f"#{cid} answered")
        return post

    # -- the script --

    async def feed(self) -> None:
        """The night's tweets, already on X when the desk starts (the follow-up replies to the first one)."""
        for i, (tpl, author) in enumerate(tweet_plan(self.tweets)):
            body = f"@{DESK} {tpl.text} {HASHTAG}" if tpl.mention else f"{tpl.text} {HASHTAG}"
            # Some citizens attach photos: they follow the card in the group as an album.
            x_id = self.x.add_tweet(username=author, name=tpl.name, text=body, photos=2 if i % 6 == 2 else 0)
            self.fed.append(FedTweet(i, tpl, author, x_id))
        if self.tweets > len(self.fed):
            first = self.fed[0]
            self.x.add_tweet(username=first.author, name=first.template.name, text=FOLLOWUP_TEXT,
                             in_reply_to=first.x_id)
            self.followups_fed += 1
        self.say(f"{len(self.fed) + self.followups_fed} tweet {HASHTAG} sudah ada di X (sandbox), "
                 f"{self.followups_fed} di antaranya tindak lanjut dari warga yang sama")

    def opening(self, index: int) -> FedTweet | None:
        return self.fed[index] if index < len(self.fed) else None

    async def wait_all_cards(self) -> None:
        from bot.models import CardOutbox, Complaint

        expected = len(self.fed)

        async def q(s: AsyncSession) -> bool:
            complaints = await s.scalar(select(func.count(Complaint.id))) or 0
            pending = await s.scalar(
                select(func.count(CardOutbox.id)).where(CardOutbox.state == CardState.PENDING)) or 0
            return complaints >= expected and pending == 0
        # Telegram allows 20 messages a minute per group: a large run is paced by the bot itself, and says so.
        await self.wait_db(lambda s: _complaints_at_least(s, expected), within=60.0, what="every tweet stored")
        backlog = await self.query(_largest_group_backlog)
        seconds = 60.0 * backlog[1] / self.per_group_limit if backlog is not None else 0.0
        if backlog is not None and seconds > 10:
            wait = f"{seconds / 60:.0f} menit" if seconds >= 90 else f"{seconds:.0f} detik"
            self.say(f"Telegram mengizinkan {self.per_group_limit} pesan per menit per grup: {backlog[1]} pesan "
                     f"antre untuk grup {backlog[0]}, sekitar {wait}; demo menunggu sampai terkirim")
        await self.wait_db(q, within=80.0, what="every tweet to become a card", paced=True)
        self.say("semua tweet sudah menjadi kartu di grup SKPD / triase")

    async def wait_settled(self) -> None:
        """Before stopping: every approved reply is on X and every card shows its final state."""
        from bot.models import CardOutbox, ReplyOutbox

        async def q(s: AsyncSession) -> bool:
            busy_replies = await s.scalar(select(func.count(ReplyOutbox.id)).where(
                ReplyOutbox.state.in_(REPLY_DUE))) or 0
            busy_cards = await s.scalar(select(func.count(CardOutbox.id)).where(
                (CardOutbox.state.in_(CARD_DUE)) | (CardOutbox.needs_edit.is_(True)))) or 0
            return busy_replies == 0 and busy_cards == 0
        await self.wait_db(q, within=80.0, what="replies posted and cards up to date", paced=True)

    async def wait_quiet_groups(self) -> None:
        """Leave room in each group's 20-sends-a-minute window for the prompts and previews the script causes."""
        def quiet() -> bool:
            since = time.time() - 60.0
            recent = Counter(str(c["params"].get("chat_id")) for c in self.tg.calls()
                             if c["method"] == "sendMessage" and c["ok"] and c["time"] >= since)
            return all(recent[str(g.chat_id)] <= max(1, self.per_group_limit * 3 // 5) for g in GROUPS)
        if not quiet():
            self.say("menunggu jendela batas kirim Telegram (20 pesan/menit per grup) sedikit lega")
            await self.wait_for(lambda: quiet() or None, within=75.0, what="room in the groups' send windows")

    async def play(self) -> None:
        """The staff script. Each group works on its own cards at the same time, as real desks do."""
        scenes = [self.double_claim(), self.reply_in_thread(), self.reply_fallback(), self.admin_reassign(),
                  self.return_to_triage(), self.triage_cleanup(), self.more_claims()]
        try:
            async with asyncio.TaskGroup() as scenes_group:
                for scene in scenes:
                    scenes_group.create_task(scene)
        except ExceptionGroup as eg:
            raise eg.exceptions[0] from None

    async def double_claim(self) -> None:
        """Two staff press Klaim on the same card at the same moment: one owner, one refusal."""
        ppdb = self.opening(2)
        if ppdb is None:
            return
        group = BY_CODE["disdikbud"]
        cid = await self.complaint_id(ppdb)
        card = await self.card(group, cid, having="cl")
        data = self.button(card, "cl")
        assert data is not None
        q1 = self.tg.press(group.chat_id, card["message_id"], AGUS.id, data)
        q2 = self.tg.press(group.chat_id, card["message_id"], LESTARI.id, data)
        answers = await self.wait_for(lambda: (lambda a: a if len(a) == 2 else None)(
            [a for a in self.tg.callback_answers() if a["callback_query_id"] in (q1, q2)]),
            what="both answers of the double claim")
        refused = [a for a in answers if a.get("show_alert")]
        self.say(f"{group.title}: Agus dan Lestari menekan Klaim #{cid} bersamaan → {2 - len(refused)} pemilik, "
                 f"{len(refused)} ditolak ({(refused[0].get('text') or '')[:60] if refused else '-'})")

    async def reply_in_thread(self) -> None:
        """The citizen mentioned the desk (and wrote again): claim, Balas, preview, Kirim ke X in the thread."""
        road = self.opening(0)
        if road is None:
            return
        group = BY_CODE["dpubmck"]
        cid = await self.complaint_id(road)
        await self.claim(group, cid, BUDI)
        preview = await self.write_reply(group, cid, BUDI, IN_THREAD_REPLY)
        post = await self.publish(group, cid, BUDI, preview, "sd", IN_THREAD_REPLY)
        self.say(f"X: balasan {post['id']} di utas tweet {post.get('in_reply_to_tweet_id')}")

    async def reply_fallback(self) -> None:
        """No @mention: X refuses in-thread replies, so the owner uses the fallback post."""
        medicine = self.opening(1)
        if medicine is None:
            return
        group = BY_CODE["dinkes"]
        cid = await self.complaint_id(medicine)
        await self.claim(group, cid, RINA)
        preview = await self.write_reply(group, cid, RINA, FALLBACK_REPLY)
        post = await self.publish(group, cid, RINA, preview, "fb", FALLBACK_REPLY)
        self.say(f"X: post baru {post['id']} menyebut @{medicine.author} (bukan balasan di utas)")

    async def admin_reassign(self) -> None:
        """Agency staff have no Alihkan: Siti leaves an internal note; a provincial admin loads the card in
        the triage group with /cari and moves it there; the new group claims and answers."""
        pju = self.opening(3)
        if pju is None:
            return
        group, target = BY_CODE["dpubmck"], BY_CODE["dishub"]
        cid = await self.complaint_id(pju)
        card = await self.card(group, cid, having="tr")
        answer = await self.press(group, card, SITI, f"k1:ra:{cid}:{card_version(card)}")
        self.say(f"{group.title}: Siti mencoba Alihkan #{cid} → ditolak: {(answer.get('text') or '')[:70]}")
        self.tg.send_message(group.chat_id, SITI.id, "PJU jalan provinsi ini sepertinya urusan Dishub",
                             reply_to_message_id=card["message_id"])
        self.say(f"{group.title}: Siti menulis catatan internal pada #{cid}")
        self.tg.send_message(TRIAGE.chat_id, ANI.id, f"/cari {cid}")
        await self.reassign(TRIAGE, cid, ANI, target.code, "salahrute")
        await self.claim(target, cid, FAJAR)
        if pju.template.mention:
            preview = await self.write_reply(target, cid, FAJAR, EXTRA_REPLY)
            await self.publish(target, cid, FAJAR, preview, "sd", EXTRA_REPLY)

    async def return_to_triage(self) -> None:
        """Agency staff hand a complaint back to the province, with a reason."""
        tpa = self.opening(5)
        if tpa is None:
            return
        group = BY_CODE["dlhk"]
        cid = await self.complaint_id(tpa)
        card = await self.card(group, cid, having="tr")
        await self.press_ok(group, card, HADI, self.button(card, "tr"))
        options = await self.wait_for(lambda: (m if self.button(m := self.message(group.chat_id, card["message_id"]),
                                                                "tq") else None), what="the triage reasons")
        await self.press_ok(group, options, HADI, self.button(options, "tq", "nowewenang"))
        self.say(f"{group.title}: Hadi mengembalikan #{cid} ke triase (bukan wewenang: TPA milik kota)")
        await self.card(TRIAGE, cid)
        self.say(f"{TRIAGE.title}: kartu #{cid} muncul lagi di triase")

    async def triage_cleanup(self) -> None:
        """Triage admins dismiss what is not a complaint: Abaikan asks why (the choice confirms)."""
        for junk in (self.opening(6), self.opening(4)):
            if junk is None:
                continue
            cid = await self.complaint_id(junk)
            card = await self.card(TRIAGE, cid, having="ds")
            await self.press_ok(TRIAGE, card, WAHYU, self.button(card, "ds"))
            reasons = await self.wait_for(lambda: (m if self.button(
                m := self.message(TRIAGE.chat_id, card["message_id"]), "dr") else None),  # noqa: B023
                what="the dismiss reasons")
            await self.press_ok(TRIAGE, reasons, WAHYU, self.button(reasons, "dr", "bukanaduan"))
            self.say(f"{TRIAGE.title}: Wahyu mengabaikan #{cid} (bukan aduan)")

    async def more_claims(self) -> None:
        for index, code, person in ((7, "dishub", EKO), (8, "bapenda", GITA)):
            tweet = self.opening(index)
            if tweet is not None:
                await self.claim(BY_CODE[code], await self.complaint_id(tweet), person)

    async def reassign(self, group: Group, cid: int, admin: Person, target: str, reason: str) -> None:
        card = await self.card(group, cid, having="ra")
        mid = int(card["message_id"])
        await self.press_ok(group, card, admin, self.button(card, "ra"))
        picker = await self.wait_for(lambda: (m if self.button(m := self.message(group.chat_id, mid), "tg")
                                              else None), what="the agency picker")
        for _ in range(12):
            if self.button(picker, "tg", target):
                break
            forward = [d for d in self.buttons(picker) if d.split(":")[1:2] == ["pg"]]
            if not forward:
                raise DemoError(f"{target} is not in the agency picker")
            before = picker.get("reply_markup")
            await self.press_ok(group, picker, admin, forward[-1])
            picker = await self.wait_for(lambda: (m if (m := self.message(group.chat_id, mid)).get("reply_markup")
                                                  != before else None), what="the next picker page")  # noqa: B023
        await self.press_ok(group, picker, admin, self.button(picker, "tg", target))
        reasons = await self.wait_for(lambda: (m if self.button(m := self.message(group.chat_id, mid), "rs")
                                               else None), what="the reassign reasons")
        await self.press_ok(group, reasons, admin, self.button(reasons, "rs", f"{target}--{reason}"))
        # The reason in staff's words, as the card shows it (never the internal code).
        said = t(f"reason.{reason}") if f"reason.{reason}" in CATALOGUE else reason
        self.say(f"{group.title}: admin {admin.first_name} mengalihkan #{cid} ke {BY_CODE[target].title} ({said})")

    # -- the result --

    async def counts(self, seconds: float) -> JSON:
        from bot.models import CardOutbox, Complaint, Event, ReplyOutbox

        async def q(s: AsyncSession) -> JSON:
            async def n(model: Any, *where: Any) -> int:
                return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
            return {
                "tweets": len(self.fed) + self.followups_fed,
                "complaints": await n(Complaint),
                "cards": await n(CardOutbox, CardOutbox.kind == "card", CardOutbox.state == CardState.SENT),
                "claims": await n(Event, Event.action == "claim"),
                "reassigns": await n(Event, Event.action.in_(("reassign", "return_to_triage"))),
                "replies_posted": len(self.x.posted()),
                "replies_rejected": await n(ReplyOutbox, ReplyOutbox.state == ReplyState.REJECTED),
                "refusals": await n(Event, Event.action == "refused"),
                "reposts": await n(Event, Event.action == "card_reposted"),
                "notes": await n(Event, Event.action == "note"),
            }
        result: JSON = await self.query(q)
        result["seconds"] = round(seconds, 1)
        return result

    def transcript(self, counts: JSON) -> None:
        out = self.out
        print("", file=out)
        for group in GROUPS:
            messages = self.tg.messages(group.chat_id)
            print(f"══ {group.title} ({group.code}) · {len(messages)} pesan ══", file=out)
            for m in messages:
                text = (m.get("text") or m.get("caption") or "").strip()
                if m["from_bot"]:
                    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
                    head = " · ".join(lines[:3])
                    labels = _labels(m)
                    print(f"  🤖 {_clip(head, 150)}" + (f"  [{' | '.join(labels)}]" if labels else ""), file=out)
                else:
                    who = self.names.get(int(m.get("from_user_id") or 0), str(m.get("from_user_id")))
                    print(f"  💬 {who}: {_clip(text, 120)}", file=out)
            print("", file=out)
        posted = self.x.posted()
        print(f"══ X: balasan yang diposting @{DESK} ({len(posted)}) ══", file=out)
        for p in posted:
            where = f"di utas {p['in_reply_to_tweet_id']}" if p.get("in_reply_to_tweet_id") else "post baru"
            print(f"  🐦 {p['id']} ({where}): {_clip(str(p.get('text') or ''), 160)}", file=out)
        print("", file=out)
        print("Ringkasan: " + ", ".join(f"{k}={v}" for k, v in counts.items()), file=out)


def card_version(card: JSON) -> str:
    """The version a card's buttons carry (k1:act:id:version)."""
    for row in (card.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            parts = str(b.get("callback_data") or "").split(":")
            if len(parts) >= 4:
                return parts[3]
    return "0"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _labels(message: JSON) -> list[str]:
    markup = message.get("reply_markup") or {}
    if "force_reply" in markup:
        return ["ForceReply"]
    return [str(b.get("text") or "") for row in markup.get("inline_keyboard", []) for b in row]


class _DropShutdownCancellation(logging.Filter):
    """apscheduler logs a job cancelled by the bot's own shutdown at ERROR; the demo stops the bot on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


async def run_demo(tweets: int = 20, *, as_json: bool = False, out: TextIO = sys.stdout,
                   limit_scale: float = 1.0) -> dict[str, Any]:
    """Run the desk end to end on this machine and return the counts (printed as a transcript or as JSON).

    `limit_scale` multiplies Telegram's per-group and per-bot limits in the sandbox and in the bot's pacer
    (tests of large runs; `kemala demo` runs at Telegram's real rate and bench/bench_demo.py times that)."""
    if tweets < 1:
        raise ValueError("the demo needs at least one tweet")
    from bot.sandbox.telegram import TelegramSandbox
    from bot.sandbox.x import XSandbox

    started = time.monotonic()
    scheduler_log, quiet_cancel = logging.getLogger("apscheduler.executors.default"), _DropShutdownCancellation()
    with tempfile.TemporaryDirectory(prefix="kemala-demo-") as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'kemala-demo.db'}"
        demo = Demo(tweets=tweets, out=out, as_json=as_json, db_url=db_url, started=started,
                    tg=TelegramSandbox(bot_token=TOKEN, bot_username=BOT_USERNAME, limit_scale=limit_scale),
                    x=XSandbox(desk_username=DESK, lag_seconds=0), limit_scale=limit_scale)
        scheduler_log.addFilter(quiet_cancel)
        try:
            await demo.setup()
            await demo.feed()
            await demo.start_bot()
            await demo.wait_all_cards()
            await demo.wait_quiet_groups()
            await demo.play()
            await demo.wait_settled()
            await demo.stop_bot()
            counts = await demo.counts(time.monotonic() - started)
            if as_json:
                print(json.dumps(counts), file=out, flush=True)
            else:
                demo.transcript(counts)
            return counts
        finally:
            await demo.close()
            scheduler_log.removeFilter(quiet_cancel)


def main(tweets: int, as_json: bool) -> int:
    """`kemala demo [--tweets N] [--json]`: 0 on success, 1 when the scripted run got stuck, 2 on bad input."""
    if tweets < 1:
        print("kemala: error: --tweets must be at least 1", file=sys.stderr)
        return 2
    from bot.logsafe import configure_logging

    # Logs go to stderr, WARNING and up, so stdout holds only the transcript or the one JSON object.
    # (Set here, not in run_demo: a library call must not rewire the caller's logging.)
    configure_logging("WARNING", [TOKEN, *FAKE_X.values()])
    try:
        asyncio.run(run_demo(tweets, as_json=as_json))
    except DemoError as e:
        print(f"kemala demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # python -m bot.demo [N] [--json]
    args = sys.argv[1:]
    raise SystemExit(main(int(next((a for a in args if a.isdigit()), "20")), "--json" in args))
