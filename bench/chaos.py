"""Chaos run: the real bot as subprocesses, `kill -9` at random moments, API faults, then invariants.

    python bench/chaos.py [--tweets 1000] [--kills 24] [--db sqlite|postgres] [--replicas 1|2] [--seed 1] [--json]

The driver runs the X and Telegram sandboxes in-process (threads), a throw-away database, and one or two
`python -m bot run` processes. It feeds bursts of citizen tweets (openers and follow-ups), lets scripted
staff claim, reassign and reply through the Telegram sandbox, kills and restarts the bot, injects X,
Telegram (and PostgreSQL) faults, lets the desk quiesce, and finally checks the sandboxes' own records
against the database: no tweet lost, no complaint twice, every complaint carded in its group, every
approved reply on X exactly once, and an event log without gaps. One JSON object is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.config import normalise_database_url  # noqa: E402
from bot.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from bot.directory import bind_chat, sync_directory  # noqa: E402
from bot.domain.agencies import TRIAGE_CODE  # noqa: E402
from bot.i18n import CATALOGUE, Lang, t  # noqa: E402
from bot.models import Agency, CardOutbox, Complaint, Event, ReplyOutbox, Tweet  # noqa: E402
from bot.sandbox.telegram import TelegramSandbox  # noqa: E402
from bot.sandbox.x import XSandbox  # noqa: E402

JSON = dict[str, Any]

TOKEN = "7000077:CHAOS-token-not-a-real-bot"
BOT_USERNAME = "kemala_chaos_bot"
DESK = "KemalaDesk"
FAKE_X = {
    "KEMALA_X_BEARER_TOKEN": "AAAA-chaos-bearer", "KEMALA_X_CONSUMER_KEY": "chaos-consumer-key",
    "KEMALA_X_CONSUMER_SECRET": "chaos-consumer-secret", "KEMALA_X_ACCESS_TOKEN": "1-chaos-access-token",
    "KEMALA_X_ACCESS_TOKEN_SECRET": "chaos-access-secret",
}  # fmt: skip
TRIAGE_CHAT = -1009000000077
AGENCIES = ("dpubmck", "disdikbud", "dishub", "dinkes", "dlhk", "bpbd", "bapenda", "dinsos")
ADMIN: JSON = {"id": 5001, "first_name": "Ani", "username": "ani_admin"}
STATUS_BY_LABEL = {t(k, Lang.ID): k.removeprefix("status.") for k in CATALOGUE if k.startswith("status.")}
CARD_HEAD = re.compile(r"^(?P<label>.+?) #(?P<cid>\d+) · ")


SAME_FALLBACK_TEXT = "Terima kasih, laporan Anda sudah kami teruskan ke petugas lapangan."
# A basic group (not a supergroup): the run upgrades it mid-flight, as Telegram does when a group grows.
BASIC_GROUP_CHAT = -4001000100


def log(args: argparse.Namespace, *msg: Any) -> None:
    if not args.json:
        print(f"[{time.strftime('%H:%M:%S')}]", *msg, file=sys.stderr, flush=True)


# --- cards as the Telegram sandbox shows them -------------------------------------------------------------

@dataclass(frozen=True)
class Card:
    chat: int
    message_id: int
    complaint_id: int
    status: str  # a lifecycle status, or "moved" for a tombstone
    buttons: tuple[str, ...]
    text: str

    def button(self, act: str) -> str | None:
        return next((b for b in self.buttons if b.split(":")[1:2] == [act]), None)


def buttons_of(message: JSON) -> tuple[str, ...]:
    markup = message.get("reply_markup") or {}
    return tuple(str(b.get("callback_data")) for row in markup.get("inline_keyboard") or [] for b in row
                 if b.get("callback_data"))


def as_card(chat: int, m: JSON) -> Card | None:
    """A bot message whose first line is "<status> #<id> · <agency>" and that names the citizen."""
    text = m.get("text") or ""
    if not m.get("from_bot") or "👤" not in text:
        return None
    match = CARD_HEAD.match(text.split("\n", 1)[0])
    if match is None or match["label"] not in STATUS_BY_LABEL:
        return None
    return Card(chat, int(m["message_id"]), int(match["cid"]), STATUS_BY_LABEL[match["label"]], buttons_of(m), text)


# --- the cast and the tweets -------------------------------------------------------------------------------

@dataclass
class Group:
    code: str
    chat_id: int
    staff: list[JSON]


def make_groups() -> tuple[list[Group], Group]:
    groups = []
    for i, code in enumerate(AGENCIES):
        staff = [{"id": 6000 + 10 * i + j, "first_name": f"Staf{i}{j}", "username": f"staf_{code}_{j}"}
                 for j in range(2)]
        groups.append(Group(code, BASIC_GROUP_CHAT if i == 0 else -1001000000100 - i, staff))
    triage = Group(TRIAGE_CODE, TRIAGE_CHAT, [{"id": 5002, "first_name": "Tri", "username": "tri_triase"}])
    return groups, triage


@dataclass
class TweetSpec:
    index: int
    username: str
    text: str
    parent: int | None = None  # index of the opener a follow-up replies to
    x_id: str | None = None


def topic_texts() -> dict[str, list[str]]:
    import csv

    by: dict[str, list[str]] = defaultdict(list)
    with (ROOT / "bot" / "data" / "routing_dev.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by[row["agency"]].append(row["text"])
    return by


PREFIXES = ("", "", "Min, ", "Mohon dicek, ", "Tolong ya, ", "Lapor: ", "Pak, ")
FOLLOWUP_TEXTS = (
    "sampai hari ini belum ada tindakan, mohon ditindaklanjuti",
    "tambahan info: kondisinya makin parah sejak kemarin",
    "ini fotonya sudah saya kirim, mohon segera dicek",
    "warga sekitar juga mengeluhkan hal yang sama",
)


def route_pools(threshold: float = 0.45) -> list[list[str]]:
    """Candidate texts by the chat the packaged router would send them to: one pool per group, triage last.

    Feeding every chat evenly keeps the run inside Telegram's 20 messages/minute per group.
    """
    import copy

    from bot.routing import Router

    router = copy.copy(Router.default())
    router.threshold = threshold
    index = {code: i for i, code in enumerate(AGENCIES)}
    pools: list[list[str]] = [[] for _ in range(len(AGENCIES) + 1)]
    for items in topic_texts().values():
        for text in items:
            decision = router.route(text)
            pools[index.get(decision.agency or "", len(AGENCIES))].append(text)
    return [p for p in pools if p]


def plan_tweets(n: int, rng: random.Random) -> list[TweetSpec]:
    """~10% follow-ups (same author, replying, @mentioning the desk); half the openers mention the desk."""
    pools = route_pools()
    specs: list[TweetSpec] = []
    openers: list[int] = []
    authors: list[str] = []
    for i in range(n):
        if openers and rng.random() < 0.10:
            parent = specs[rng.choice(openers[-200:])]
            text = f"@{DESK} {rng.choice(FOLLOWUP_TEXTS)} #KemalaJateng"
            specs.append(TweetSpec(i, parent.username, text, parent=parent.index))
            continue
        body = rng.choice(PREFIXES) + rng.choice(rng.choice(pools))
        if rng.random() < 0.5:
            body = f"@{DESK} {body}"
        if "#kemalajateng" not in body.lower() and f"@{DESK.lower()}" not in body.lower():
            body += " #KemalaJateng"
        if authors and rng.random() < 0.04:
            username = rng.choice(authors)  # a few citizens write twice (below the flood threshold)
        else:
            username = f"warga_{i:05d}"
            authors.append(username)
        specs.append(TweetSpec(i, username, body))
        openers.append(i)
    return specs


# --- bot processes ---------------------------------------------------------------------------------------

class Fleet:
    """The bot replicas as subprocesses: start, kill -9, restart, and notice exits we did not cause."""

    def __init__(self, n: int, env: dict[str, str], logdir: Path) -> None:
        self.n = n
        self.env = env
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.starts = [0] * n
        self.lock = threading.Lock()
        self.kills = 0
        self.kill_kinds: Counter[str] = Counter()
        self.unexpected_exits: list[str] = []
        self.refused_starts = 0
        self.files: list[Path] = []

    def start(self, i: int) -> None:
        with self.lock:
            self.starts[i] += 1
            path = self.logdir / f"bot-{i}-{self.starts[i]:03d}.log"
            self.files.append(path)
            with path.open("wb") as out:
                self.procs[i] = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env,
                                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, i: int, kind: str) -> bool:
        with self.lock:
            p = self.procs[i]
            if p is None or p.poll() is not None:
                return False
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            self.procs[i] = None
            self.kills += 1
            self.kill_kinds[kind] += 1
            return True

    def check(self) -> None:
        """Restart a replica that died on its own (and remember it: the bot must survive faults)."""
        for i in range(self.n):
            with self.lock:
                p = self.procs[i]
                died = p is not None and p.poll() is not None
                if died and p is not None:
                    path = self.logdir / f"bot-{i}-{self.starts[i]:03d}.log"
                    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
                    last = lines[-1][:200] if lines else ""
                    if "cannot reach the database" in last:
                        self.refused_starts += 1  # the database was away at start: exit 2 is the contract
                    else:
                        self.unexpected_exits.append(f"replica {i} start {self.starts[i]} exited {p.returncode}: "
                                                     f"{last}")
                    self.procs[i] = None
            if died:
                self.start(i)

    def stop(self, timeout: float = 30.0) -> None:
        with self.lock:
            live = [p for p in self.procs if p is not None and p.poll() is None]
            for p in live:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in live:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = [None] * self.n


# --- scripted staff ----------------------------------------------------------------------------------------

@dataclass
class Stats:
    claims: int = 0
    reassigns: int = 0
    triage_choices: int = 0
    prompts: int = 0
    drafts: int = 0
    kirim: int = 0
    refused: int = 0
    unanswered: int = 0
    errors: list[str] = field(default_factory=list)


class Desk:
    """Thread-safe helpers over the Telegram sandbox: cards, presses and their answers."""

    def __init__(self, tg: TelegramSandbox) -> None:
        self.tg = tg
        self.lock = threading.Lock()
        self.seen = 0
        self.answers: dict[str, JSON] = {}

    def cards(self, chat: int) -> list[Card]:
        return [c for m in self.tg.messages(chat) if (c := as_card(chat, m)) is not None]

    def answer(self, qid: str) -> JSON | None:
        with self.lock:
            if qid not in self.answers:
                got = self.tg.callback_answers()
                for a in got[self.seen:]:
                    self.answers[str(a["callback_query_id"])] = a
                self.seen = len(got)
            return self.answers.get(qid)

    def press(self, chat: int, message_id: int, user: JSON, data: str, timeout: float, stats: Stats) -> JSON | None:
        """Press and wait for the answer; None when it never came (the press may have been lost)."""
        try:
            qid = self.tg.press(chat, message_id, int(user["id"]), data)
        except Exception as e:  # the message is gone
            stats.errors.append(f"press {data}: {e}")
            return None
        answer = wait(lambda: self.answer(qid), timeout)
        if answer is None:
            stats.unanswered += 1
        elif answer.get("show_alert"):
            stats.refused += 1
        return answer


def wait(pred: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Staff:
    """Claimers, an admin who reassigns and routes from triage, and repliers (Balas → prompt → Kirim)."""

    def __init__(self, desk: Desk, groups: list[Group], triage: Group, rng: random.Random, stats: Stats,
                 request_kill: Callable[[str], None], answer_timeout: float) -> None:
        self.desk = desk
        self.groups = groups
        self.triage = triage
        self.by_chat = {g.chat_id: g for g in [*groups, triage]}
        self.codes = {g.code for g in groups}
        self.rng = rng
        self.stats = stats
        self.request_kill = request_kill
        self.timeout = answer_timeout
        self.lock = threading.Lock()
        self.decided: dict[int, str] = {}  # complaint id → what the staff will do with it
        self.claimed: dict[int, JSON] = {}  # complaint id → who claimed it
        self.replied: set[int] = set()
        self.working = True  # start new flows
        self.busy = 0

    # one decision per complaint, deterministic in the seed's order of discovery
    def _decide(self, cid: int, triage: bool) -> str:
        with self.lock:
            if cid not in self.decided:
                r = self.rng.random()
                if triage:
                    self.decided[cid] = "choose" if r < 0.4 else "leave"
                else:
                    self.decided[cid] = "reassign" if r < 0.06 else "claim" if r < 0.75 else "leave"
            return self.decided[cid]

    def _pick(self, items: list[Any]) -> Any:
        with self.lock:
            return self.rng.choice(items) if items else None

    def claimer(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.working:
                return
            group = self._pick(self.groups)
            cards = [c for c in self.desk.cards(group.chat_id) if c.status == "routed" and c.button("cl")
                     and self._decide(c.complaint_id, False) == "claim" and c.complaint_id not in self.claimed]
            card = self._pick(cards)
            if card is None:
                time.sleep(0.2)
                continue
            user = self._pick(group.staff)
            with self._busy():
                answer = self.desk.press(card.chat, card.message_id, user, str(card.button("cl")), self.timeout,
                                         self.stats)
            if answer is not None and not answer.get("show_alert"):
                with self.lock:
                    self.claimed[card.complaint_id] = user
                    self.stats.claims += 1

    def admin(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.working:
                return
            if self._pick([True, False]):
                cards = [c for c in self.desk.cards(self.triage.chat_id) if c.status == "triage" and c.button("ch")
                         and self._decide(c.complaint_id, True) == "choose"]
                card = self._pick(cards)
                if card is not None:
                    with self._busy():
                        self._choose(card)
                    continue
            group = self._pick(self.groups)
            cards = [c for c in self.desk.cards(group.chat_id) if c.status == "routed" and c.button("tr")
                     and self._decide(c.complaint_id, False) == "reassign"]
            card = self._pick(cards)
            if card is None:
                time.sleep(0.3)
                continue
            with self._busy():
                self._reassign(card)

    def _choose(self, card: Card) -> None:
        choices = [b for b in card.buttons if b.startswith("k1:ch:")]
        bound = [b for b in choices if b.rsplit(":", 1)[1] in self.codes] or choices
        answer = self.desk.press(card.chat, card.message_id, ADMIN, bound[0], self.timeout, self.stats)
        with self.lock:
            self.decided[card.complaint_id] = "chosen"
            if answer is not None and not answer.get("show_alert"):
                self.stats.triage_choices += 1

    def _message(self, chat: int, message_id: int) -> JSON | None:
        return next((m for m in self.desk.tg.messages(chat) if m["message_id"] == message_id), None)

    def _reassign(self, card: Card) -> None:
        """Agency groups move a complaint by "Salah SKPD?" (back to triage, with a reason); triage routes it
        again (the chooser above)."""
        with self.lock:
            self.decided[card.complaint_id] = "reassigned"
        answer = self.desk.press(card.chat, card.message_id, ADMIN, str(card.button("tr")), self.timeout, self.stats)
        if answer is None or answer.get("show_alert"):
            return
        m = wait(lambda: (m := self._message(card.chat, card.message_id)) and any(
            b.startswith("k1:tq:") and not b.endswith(":lainnya") for b in buttons_of(m)) and m, 10)
        if not m:
            return
        reason = self._pick([b for b in buttons_of(m) if b.startswith("k1:tq:") and not b.endswith(":lainnya")])
        answer = self.desk.press(card.chat, card.message_id, ADMIN, reason, self.timeout, self.stats)
        if answer is not None and not answer.get("show_alert"):
            with self.lock:
                self.stats.reassigns += 1

    def replier(self, stop: threading.Event, reply_rate: float) -> None:
        while not stop.is_set():
            if not self.working:
                return
            with self.lock:
                todo = [cid for cid in self.claimed if cid not in self.replied]
            cid = self._pick(todo)
            if cid is None:
                time.sleep(0.3)
                continue
            with self.lock:
                self.replied.add(cid)
                go = self.rng.random() < reply_rate
                user = self.claimed[cid]
            if not go:
                continue
            card = next((c for g in self.groups for c in self.desk.cards(g.chat_id)
                         if c.complaint_id == cid and c.status == "claimed" and c.button("rp")), None)
            if card is not None:
                with self._busy():
                    self._reply(card, user)

    def _reply(self, card: Card, user: JSON) -> None:
        tg, chat = self.desk.tg, card.chat
        answer = self.desk.press(chat, card.message_id, user, str(card.button("rp")), self.timeout, self.stats)
        if answer is None or answer.get("show_alert"):
            return
        cid = card.complaint_id
        prompt = wait(lambda: next((m for m in reversed(tg.messages(chat)) if m["from_bot"]
                                    and "force_reply" in str(m.get("reply_markup"))
                                    and m.get("reply_to_message_id") == card.message_id
                                    and f"#{cid} " in (m.get("text") or "")), None), self.timeout)
        if prompt is None:
            return
        self.stats.prompts += 1
        if "Tidak bisa dibalas di utas" in card.text:
            # Fallbacks share one text (issue 11 item 2): only the mention and the link tell them apart,
            # so reconciliation after a 503 must never adopt another citizen's post.
            text = SAME_FALLBACK_TEXT
        else:
            text = f"Terima kasih, aduan #{cid} sudah kami teruskan ke petugas lapangan (ref {self.rng.randrange(10**6)})."
        try:
            mine = tg.send_message(chat, int(user["id"]), text, reply_to_message_id=int(prompt["message_id"]))
        except Exception as e:
            self.stats.errors.append(f"reply text for #{cid}: {e}")
            return
        preview = wait(lambda: next((m for m in tg.messages(chat) if m["from_bot"]
                                     and m.get("reply_to_message_id") == mine
                                     and any(b.startswith(("k1:sd:", "k1:fb:")) for b in buttons_of(m))), None),
                       self.timeout)
        if preview is None:
            return
        self.stats.drafts += 1
        send = next(b for b in buttons_of(preview) if b.startswith(("k1:sd:", "k1:fb:")))
        try:
            qid = tg.press(chat, int(preview["message_id"]), int(user["id"]), send)
        except Exception as e:
            self.stats.errors.append(f"kirim #{cid}: {e}")
            return
        self.request_kill("after_kirim")
        answer = wait(lambda: self.desk.answer(qid), self.timeout)
        if answer is not None and not answer.get("show_alert"):
            self.stats.kirim += 1

    def pending(self) -> int:
        """Flows the staff still mean to start or are in (0 when they have nothing left to do)."""
        n = self.busy
        for g in self.groups:
            n += sum(1 for c in self.desk.cards(g.chat_id) if c.status == "routed" and c.button("cl")
                     and self._decide(c.complaint_id, False) in ("claim", "reassign")
                     and c.complaint_id not in self.claimed)
        n += sum(1 for c in self.desk.cards(self.triage.chat_id) if c.status == "triage" and c.button("ch")
                 and self._decide(c.complaint_id, True) == "choose")
        with self.lock:
            n += sum(1 for cid in self.claimed if cid not in self.replied)
        return n

    @contextlib.contextmanager
    def _busy(self) -> Any:
        with self.lock:
            self.busy += 1
        try:
            yield
        finally:
            with self.lock:
                self.busy -= 1


# --- faults ------------------------------------------------------------------------------------------------

def fault_menu(x: XSandbox, tg: TelegramSandbox, outage_s: float, *, db_url: str = "",
               groups: list[Group] | None = None, staff: Staff | None = None) -> list[tuple[str, Callable[[], None]]]:
    def outage() -> None:
        x.set_outage(True)
        threading.Timer(outage_s, lambda: x.set_outage(False)).start()

    def migrate() -> None:
        # Once: the basic group becomes a supergroup with a new id (issue 11 item 7). Staff follow it.
        group = next((g for g in groups or [] if g.chat_id == BASIC_GROUP_CHAT), None)
        if group is None:
            return
        new_id = tg.upgrade(group.chat_id)
        group.chat_id = new_id
        if staff is not None:
            staff.by_chat[new_id] = group

    def storage() -> None:
        threading.Thread(target=storage_fault, args=(db_url, 3.0), daemon=True).start()

    return [
        ("x_search_429_reset", lambda: x.fault(endpoint="search", status=429, reset_in_s=3)),
        ("x_search_429_no_reset", lambda: x.fault(endpoint="search", status=429, reset_header=False)),
        ("x_search_503", lambda: x.fault(endpoint="search", status=503, count=2)),
        ("x_search_timeout", lambda: x.fault(endpoint="search", timeout_s=3)),
        ("x_post_503", lambda: x.fault(endpoint="post", status=503)),
        ("x_post_429_reset", lambda: x.fault(endpoint="post", status=429, reset_in_s=2)),
        ("x_post_429_no_reset", lambda: x.fault(endpoint="post", status=429, reset_header=False)),
        ("x_post_timeout", lambda: x.fault(endpoint="post", timeout_s=3)),
        ("x_post_timeout_after_commit", lambda: x.fault(endpoint="post", timeout_s=3, after_commit=True)),
        ("x_post_500_after_commit", lambda: x.fault(endpoint="post", status=500, after_commit=True)),
        ("x_post_503_after_commit", lambda: x.fault(endpoint="post", status=503, after_commit=True)),
        ("x_post_503_burst", lambda: x.fault(endpoint="post", status=503, count=3)),
        ("tg_migrate", migrate),
        ("db_storage", storage),
        ("x_user_tweets_503", lambda: x.fault(endpoint="user_tweets", status=503)),
        ("x_outage", outage),
        ("tg_send_429", lambda: tg.fault("sendMessage", status=429, retry_after=2)),
        ("tg_edit_429", lambda: tg.fault("editMessageText", status=429, retry_after=1, count=2)),
        ("tg_send_502", lambda: tg.fault("sendMessage", status=502, count=2)),
        ("tg_answer_500", lambda: tg.fault("answerCallbackQuery", status=500)),
        ("tg_member_503", lambda: tg.fault("getChatMember", status=503)),
        ("tg_updates_502", lambda: tg.fault("getUpdates", status=502)),
        ("tg_delay", lambda: tg.fault("*", delay_s=2.0, count=4)),
        # Longer than the bot's 15 s read timeout: the message is created after the client gave up.
        ("tg_send_timeout", lambda: tg.fault("sendMessage", delay_s=17.0)),
    ]


def storage_fault(db_url: str, seconds: float) -> None:
    """The database refuses writes for a few seconds (issue 11 item 5), from outside the bot processes.

    PostgreSQL: the database turns read-only and every session is cut, so the new default applies at
    once. SQLite: another process holds the write lock (SQLite's "database is locked"), which the bots
    wait out up to their busy timeout.
    """
    import sqlite3

    if db_url.startswith("postgresql"):
        import asyncpg

        dsn = db_url.replace("postgresql+asyncpg://", "postgresql://", 1)

        async def flip(on: bool) -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("SET default_transaction_read_only = off")
                name = await conn.fetchval("SELECT current_database()")
                await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
                await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            finally:
                await conn.close()

        asyncio.run(flip(True))
        try:
            time.sleep(seconds)
        finally:
            asyncio.run(flip(False))
        return
    path = db_url.split("///", 1)[1]
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def pg_restart_command() -> list[str] | None:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        return None
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


# --- the database side -------------------------------------------------------------------------------------

def pg_create(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "pg_testdb.py"), "create"], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"chaos: PostgreSQL is not available: {out.stderr.strip() or out.returncode}")
    return out.stdout.strip().splitlines()[-1]


def pg_drop(url: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "pg_testdb.py"), "drop", url], env=env,
                   capture_output=True, check=False)


async def prepare_db(url: str, groups: list[Group], triage: Group) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        await sync_directory(sessions)
        for g in [*groups, triage]:
            await bind_chat(sessions, code=g.code, chat_id=g.chat_id, title=f"{g.code} chaos")
    finally:
        await engine.dispose()


async def backlog(url: str, x_ids: list[str]) -> JSON:
    """What is still on its way: tweets not stored, cards not sent or not refreshed, replies not posted."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            stored = set((await s.scalars(select(Tweet.x_id))).all())
            cards = await s.scalar(select(func.count()).select_from(CardOutbox).where(
                CardOutbox.state.in_(["pending", "sending"])))
            edits = await s.scalar(select(func.count()).select_from(CardOutbox).where(
                CardOutbox.state == "sent", CardOutbox.needs_edit.is_(True)))
            replies = await s.scalar(select(func.count()).select_from(ReplyOutbox).where(
                ReplyOutbox.state.in_(["pending", "unknown"])))
        return {"unstored": sum(1 for i in x_ids if i not in stored), "cards": int(cards or 0),
                "edits": int(edits or 0), "replies": int(replies or 0)}
    finally:
        await engine.dispose()


async def recorded_cards(url: str) -> set[tuple[int, int]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (await s.execute(select(CardOutbox.chat_id, CardOutbox.message_id).where(
                CardOutbox.kind == "card", CardOutbox.message_id.is_not(None)))).all()
        return {(int(r[0]), int(r[1])) for r in rows}
    finally:
        await engine.dispose()


def probe_orphans(url: str, desk: Desk, chats: list[int], stats: Stats, timeout: float) -> JSON:
    """Press "Salah SKPD?" (harmless: it only opens the reason picker) on cards the database does not know (extra sends).

    The issue asks that the buttons of such an older card act on the same complaint: an "invalid button"
    refusal there is a finding; a "stale" one is fine (the complaint changed since that card was sent).
    """
    known = asyncio.run(recorded_cards(url))
    result: Counter[str] = Counter()
    invalid, stale = t("alert.invalid", Lang.ID), t("alert.stale", Lang.ID)
    for chat in chats:
        for card in desk.cards(chat):
            if (chat, card.message_id) in known or card.status == "moved" or not card.button("tr"):
                continue
            if sum(result.values()) >= 5:
                break
            answer = desk.press(chat, card.message_id, ADMIN, str(card.button("tr")), timeout, stats)
            text = (answer or {}).get("text") or ""
            result["no_answer" if answer is None else "refused_invalid" if text == invalid
                   else "refused_stale" if text == stale else "refused_other" if answer.get("show_alert")
                   else "accepted"] += 1
    return dict(result)


async def check(url: str, specs: list[TweetSpec], x: XSandbox, tg: TelegramSandbox, groups: list[Group],
                triage: Group) -> JSON:
    """The invariants, measured against the sandboxes' own records."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            tweets = {r.x_id: r for r in (await s.scalars(select(Tweet))).all()}
            complaints = {c.id: c for c in (await s.scalars(select(Complaint))).all()}
            agencies = {a.id: a.code for a in (await s.scalars(select(Agency))).all()}
            events = (await s.scalars(select(Event).where(Event.complaint_id.is_not(None))
                                      .order_by(Event.id))).all()
            replies = (await s.scalars(select(ReplyOutbox))).all()
            outbox = (await s.scalars(select(CardOutbox).where(CardOutbox.kind == "card"))).all()
            failed = await s.scalar(select(func.count()).select_from(CardOutbox).where(CardOutbox.state == "failed"))
    finally:
        await engine.dispose()

    # Tweets: each sandbox tweet stored once, as one opener or one follow-up of the right complaint.
    by_index = {sp.index: sp for sp in specs}
    openers = [sp for sp in specs if sp.parent is None]
    followups = [sp for sp in specs if sp.parent is not None]
    lost = [sp.x_id for sp in specs if sp.x_id not in tweets]
    by_tweet = Counter(c.tweet_x_id for c in complaints.values())
    followup_ids = {sp.x_id for sp in followups}
    # One case = an opener and its follow-ups: it must be exactly one complaint, whichever tweet arrived first
    # (pages come newest first, so a reply can open the complaint that its root then joins).
    cases: dict[int, list[str]] = {sp.index: [str(sp.x_id)] for sp in openers}
    for sp in followups:
        cases[int(sp.parent or 0)].append(str(sp.x_id))
    in_cases: set[int] = set()
    dup_complaints = sum(n - 1 for n in by_tweet.values() if n > 1)
    for ids in cases.values():
        held = {tweets[i].complaint_id for i in ids if i in tweets and tweets[i].complaint_id is not None}
        dup_complaints += max(0, len(held) - 1)
        in_cases |= {int(c) for c in held if c is not None}
    dup_complaints += sum(1 for cid in complaints if cid not in in_cases)
    inverted = sum(1 for c in complaints.values() if c.tweet_x_id in followup_ids)
    opening_rows = sum(1 for r in tweets.values() if r.role == "opening")
    unfiled = [r.x_id for r in tweets.values() if r.complaint_id is None or r.role in ("pending", "parked")]
    misfiled = 0
    for sp in followups:
        row, parent = tweets.get(str(sp.x_id)), tweets.get(str(by_index[int(sp.parent or 0)].x_id))
        if row is None or parent is None or row.complaint_id is None or row.complaint_id != parent.complaint_id \
                or row.role not in ("followup", "opening") or parent.role not in ("followup", "opening"):
            misfiled += 1

    # Cards: the live card of each complaint sits in the chat bound to its agency (triage when unbound).
    chat_of = {g.code: g.chat_id for g in [*groups, triage]}
    seen: dict[tuple[int, int], list[Card]] = defaultdict(list)
    for chat in chat_of.values():
        for m in tg.messages(chat):
            card = as_card(chat, m)
            if card is not None:
                seen[(chat, card.complaint_id)].append(card)
    recorded = {(r.chat_id, r.message_id) for r in outbox if r.message_id is not None}
    missing_cards, duplicate_cards, stale_cards, orphans = 0, 0, 0, 0
    per_chat: Counter[int] = Counter()
    for c in complaints.values():
        want = chat_of.get(agencies.get(c.agency_id or -1, ""), triage.chat_id)
        per_chat[want] += 1
        for chat in chat_of.values():
            live = [k for k in seen.get((chat, c.id), []) if k.status != "moved"]
            if chat == want:
                missing_cards += not live
                duplicate_cards += max(0, len(live) - 1)
            else:
                stale_cards += len(live)
            orphans += sum(1 for k in seen.get((chat, c.id), []) if (chat, k.message_id) not in recorded)

    # Replies: every approved reply is on X exactly once (matched by text and in_reply_to).
    posted = Counter((p["text"], p.get("in_reply_to_tweet_id")) for p in x.posted())
    approved = [r for r in replies if r.approved_at is not None]
    dup_replies = sum(max(0, posted[(r.text, r.in_reply_to)] - 1) for r in approved)
    missing_replies = sum(1 for r in approved if posted[(r.text, r.in_reply_to)] == 0 and r.state != "rejected")
    rejected_but_posted = sum(1 for r in approved if posted[(r.text, r.in_reply_to)] and r.state == "rejected")
    stray_posts = sum(n for key, n in posted.items() if key not in {(r.text, r.in_reply_to) for r in approved})
    # Adoption (issue 11 item 2): a reply's recorded X post is that very post, and no post is two replies'.
    posts_by_id = {str(p["id"]): p for p in x.posted()}
    shared_x_ids = sum(n - 1 for n in Counter(r.posted_x_id for r in replies if r.posted_x_id).values() if n > 1)
    wrongly_adopted = sum(1 for r in replies if r.posted_x_id and (
        (p := posts_by_id.get(str(r.posted_x_id))) is None or p["text"] != r.text
        or p.get("in_reply_to_tweet_id") != r.in_reply_to))

    # Events: an "ingested" first, then every status change starts where the previous one ended.
    story: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        story[int(e.complaint_id or 0)].append(e)
    gaps = 0
    gap_examples: list[str] = []
    for c in complaints.values():
        status: str | None = None
        ok = bool(story[c.id]) and any(e.action == "ingested" for e in story[c.id])
        for e in story[c.id]:
            if e.to_status is None:
                continue
            if e.from_status != status:
                ok = False
                if len(gap_examples) < 5:
                    gap_examples.append(f"#{c.id} {e.action}: {e.from_status}→{e.to_status} after {status}")
            status = e.to_status
        if status != c.status:
            ok = False
            if len(gap_examples) < 5:
                gap_examples.append(f"#{c.id} log ends at {status}, row is {c.status}")
        gaps += not ok

    return {
        "lost": len(lost), "duplicate_complaints": dup_complaints, "duplicate_cards": duplicate_cards,
        "duplicate_replies": dup_replies, "missing_replies": missing_replies, "approved_replies": len(approved),
        "wrongly_adopted": wrongly_adopted, "shared_x_ids": shared_x_ids,
        "fallback_replies": sum(1 for r in approved if r.mode == "fallback"),
        "event_gaps": gaps,
        "complaints": len(complaints), "openers": len(openers), "followups": len(followups),
        "opening_rows": opening_rows, "unfiled_tweets": len(unfiled), "misfiled_followups": misfiled,
        "reply_opened_cases": inverted,
        "missing_cards": missing_cards, "stale_cards": stale_cards, "orphan_cards": orphans,
        "failed_outbox_rows": int(failed or 0), "rejected_but_posted": rejected_but_posted,
        "stray_posts": stray_posts, "replies_by_state": dict(Counter(r.state for r in replies)),
        "complaints_per_chat": {str(k): v for k, v in sorted(per_chat.items())},
        "gap_examples": gap_examples,
    }


# --- the run -----------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> JSON:
    rng = random.Random(args.seed)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="kemala-chaos-"))
    logdir = tmp / "logs"
    logdir.mkdir()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("KEMALA_") or k.startswith("KEMALA_PG_")}
    pg_url: str | None = None
    if args.db == "postgres":
        pg_url = pg_create(base_env)
        raw_url = pg_url
    else:
        raw_url = f"sqlite:///{tmp / 'chaos.db'}"
    url = normalise_database_url(raw_url)
    log(args, f"chaos: {args.tweets} tweets, ≥{args.kills} kills, {args.db}, {args.replicas} replica(s); dir {tmp}")

    groups, triage = make_groups()
    tg = TelegramSandbox(bot_token=TOKEN, bot_username=BOT_USERNAME, rate_limits=True, limit_scale=args.limit_scale)
    x = XSandbox(desk_username=DESK, lag_seconds=0, post_limit_per_15min=1000, search_limit_per_15min=100000)
    tg.start()
    x.start()
    for sandbox in (tg, x):  # a killed bot leaves reset connections behind: not worth a traceback each
        server = getattr(sandbox, "_server", None)
        if server is not None:
            server.handle_error = lambda request, client_address: None
    fleet: Fleet | None = None
    result: JSON = {}
    ok = False
    try:
        for g in [*groups, triage]:
            tg.add_chat(g.chat_id, "group" if g.chat_id == BASIC_GROUP_CHAT else "supergroup", f"{g.code} Kemala")
            tg.set_member(g.chat_id, ADMIN, "administrator")
            for person in g.staff:
                tg.set_member(g.chat_id, person, "member")
        upgrade(url)
        asyncio.run(prepare_db(url, groups, triage))

        env = {**base_env, **FAKE_X, "KEMALA_DATABASE_URL": raw_url, "KEMALA_TELEGRAM_TOKEN": TOKEN,
               "KEMALA_TELEGRAM_API_URL": tg.url, "KEMALA_X_API_URL": x.url, "KEMALA_POLL_SECONDS": "1",
               "KEMALA_X_TIMEOUT_SECONDS": "2", "KEMALA_LOG_LEVEL": args.log_level,
               "KEMALA_TRIAGE_CHAT_ID": str(triage.chat_id), "PYTHONUNBUFFERED": "1",
               "KEMALA_WEB_PORT": "0"}  # replicas on one machine: each its own free port
        fleet = Fleet(args.replicas, env, logdir)
        for i in range(args.replicas):
            fleet.start(i)

        specs = plan_tweets(args.tweets, rng)
        stats = Stats()
        kill_requests: queue.Queue[str] = queue.Queue()
        quota = {"after_kirim": max(1, args.kills // 8), "burst": max(1, args.kills // 8)}
        quota_lock = threading.Lock()

        def request_kill(kind: str) -> None:
            with quota_lock:
                if quota.get(kind, 0) <= 0:
                    return
                quota[kind] -= 1
            kill_requests.put(kind)

        def on_thread_error(e: threading.ExceptHookArgs) -> None:
            stats.errors.append(f"{e.thread.name if e.thread else '?'}: {e.exc_type.__name__}: {e.exc_value}")
            log(args, f"thread {e.thread.name if e.thread else '?'} failed: {e.exc_type.__name__}: {e.exc_value}")

        threading.excepthook = on_thread_error
        desk = Desk(tg)
        staff = Staff(desk, groups, triage, random.Random(args.seed + 1), stats, request_kill, args.answer_timeout)
        stop = threading.Event()
        chaos_over = threading.Event()
        threads = [threading.Thread(target=staff.claimer, args=(stop,), daemon=True) for _ in range(2)]
        threads.append(threading.Thread(target=staff.admin, args=(stop,), daemon=True))
        threads += [threading.Thread(target=staff.replier, args=(stop, args.reply_rate), daemon=True)
                    for _ in range(2)]

        # Feeding: a first burst, then smaller bursts; some bursts get a kill while the bot ingests them.
        expected = args.kills * (args.quiet / 2.5 + 3.5)
        feed_span = max(5.0, 0.6 * expected)
        first = max(1, int(len(specs) * 0.4))
        chunks = [specs[:first]]
        rest = specs[first:]
        n_later = max(1, min(10, len(rest) // 10)) if rest else 0
        for k in range(n_later):
            chunks.append(rest[k * len(rest) // n_later:(k + 1) * len(rest) // n_later])
        fed = threading.Event()
        ingest_mark: dict[str, float] = {"t": 0.0}

        def feeder() -> None:
            time.sleep(1.0)
            for k, chunk in enumerate(chunks):
                if k:
                    if stop.wait(feed_span / max(1, len(chunks) - 1)):
                        return
                for sp in chunk:
                    parent = specs[sp.parent].x_id if sp.parent is not None else None
                    sp.x_id = x.add_tweet(username=sp.username, text=sp.text, in_reply_to=parent)
                if k == 0 or rng.random() < 0.4:
                    ingest_mark["t"] = time.time()
                    request_kill("burst")
            fed.set()

        def ingesting() -> bool:
            return any(c["endpoint"] == "search" and c["at"] > ingest_mark["t"] and c["status"] == 200
                       for c in x.calls()[-50:])

        def killer() -> None:
            in_cluster = 0
            while not stop.is_set() and (fleet.kills < args.kills or not fed.is_set()):
                if fleet.kills >= args.kills:
                    stop.wait(0.5)
                    continue
                if in_cluster > 0:
                    gap, in_cluster = rng.uniform(1.0, 6.0), in_cluster - 1
                else:
                    gap, in_cluster = rng.uniform(0.8 * args.quiet, 1.2 * args.quiet), rng.randint(0, 3)
                try:
                    kind = kill_requests.get(timeout=gap)
                except queue.Empty:
                    kind = "random"
                if kind == "burst":
                    wait(ingesting, 45, 0.02)
                    time.sleep(rng.uniform(0.0, 0.4))
                elif kind == "after_kirim":
                    time.sleep(rng.uniform(0.0, 0.3))
                targets = list(range(args.replicas))
                if args.replicas > 1 and rng.random() < 0.8:
                    targets = [rng.randrange(args.replicas)]
                for i in targets:
                    if fleet.kill(i, kind):
                        log(args, f"kill #{fleet.kills} ({kind}) replica {i}")
                time.sleep(rng.uniform(0.2, 1.5))
                for i in targets:
                    if fleet.procs[i] is None:
                        fleet.start(i)

        fault_log: Counter[str] = Counter()
        pg_note: str | None = None

        def faults() -> None:
            nonlocal pg_note
            skip = {f.strip() for f in args.skip_faults.split(",") if f.strip()}
            menu = [(name, inject) for name, inject in fault_menu(x, tg, args.outage, db_url=url, groups=groups,
                                                                  staff=staff) if name not in skip]
            once = {"tg_migrate"}
            order = list(menu)
            rng2 = random.Random(args.seed + 2)
            rng2.shuffle(order)
            # The issue-11 faults come early, so even a short run sees them: a storage fault second, the
            # supergroup migration fourth (while the first burst's cards are still going out).
            special = {name: e for e in order if (name := e[0]) in ("db_storage", "tg_migrate")}
            plain = [e for e in order if e[0] not in special]
            seq = plain[:1] + ([special["db_storage"]] if "db_storage" in special else []) + plain[1:2] + (
                [special["tg_migrate"]] if "tg_migrate" in special else []) + plain[2:]
            order = list(reversed(seq))  # popped from the end
            pg_at = time.monotonic() + 0.4 * expected
            while not chaos_over.is_set():
                name, inject = order.pop() if order else rng2.choice(menu)
                if name in once and fault_log[name]:
                    continue
                inject()
                fault_log[name] += 1
                if args.db == "postgres" and pg_note is None and time.monotonic() >= pg_at:
                    cmd = pg_restart_command()
                    if not args.pg_restart:
                        pg_note = "skipped (--no-pg-restart)"
                    elif cmd is None:
                        pg_note = "skipped: pg_ctlcluster or /etc/postgresql not available"
                    else:
                        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                        pg_note = "done" if out.returncode == 0 else f"failed: {out.stderr.strip()[:200]}"
                        log(args, f"PostgreSQL restart: {pg_note}")
                chaos_over.wait(rng2.uniform(0.5, 1.5) * args.fault_every)

        def watchdog() -> None:
            while not stop.is_set():
                fleet.check()
                time.sleep(0.5)

        helpers = [threading.Thread(target=f, daemon=True) for f in (feeder, killer, faults, watchdog)]
        for th in [*threads, *helpers]:
            th.start()
        helpers[0].join()  # fed
        helpers[1].join()  # killed enough
        chaos_over.set()
        helpers[2].join()
        x.clear_faults()
        x.set_outage(False)
        log(args, f"chaos over after {time.monotonic() - started:.0f}s: {fleet.kills} kills; calm phase")

        # Calm: staff keep working for a while, then stop starting new flows; then the desk must quiesce.
        x_ids = [str(sp.x_id) for sp in specs]
        calm_until = time.monotonic() + args.calm
        idle_since: float | None = None
        while time.monotonic() < calm_until:
            fleet.check()
            time.sleep(1)
            pending, left = staff.pending(), asyncio.run(backlog(url, x_ids))
            waiting = left["unstored"] + left["cards"]
            if int(time.monotonic() - calm_until) % 10 == 0:
                log(args, f"calm: staff pending {pending}, tweets+cards waiting {waiting}, claims {stats.claims}")
            if pending or waiting:
                idle_since = None
            elif (idle_since := idle_since or time.monotonic()) and time.monotonic() - idle_since >= 3:
                break
        staff.working = False
        for th in threads:
            th.join(timeout=3 * args.answer_timeout + 10)
        quiesce_deadline = time.monotonic() + args.quiesce
        state: JSON = {}
        quiet_since: float | None = None
        while time.monotonic() < quiesce_deadline:
            fleet.check()
            state = asyncio.run(backlog(url, x_ids))
            if not any(state.values()):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 3:
                    break
            else:
                quiet_since = None
            time.sleep(1)
        quiesced = not any(state.values())
        log(args, f"quiesced={quiesced} {state} after {time.monotonic() - started:.0f}s")
        orphan_probe = probe_orphans(url, desk, [g.chat_id for g in [*groups, triage]], stats, 20.0)
        stop.set()
        fleet.stop()
        for th in helpers:
            th.join(timeout=5)

        checked = asyncio.run(check(url, specs, x, tg, groups, triage))
        tg_timeouts = fault_log["tg_send_timeout"]
        log_errors: Counter[str] = Counter()
        for path in fleet.files:
            for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
                if " ERROR " in line or " CRITICAL " in line:
                    log_errors[re.sub(r"\d+", "N", line.split(" ", 2)[-1])[:120]] += 1
        result = {
            "tweets": len(specs), "kills": fleet.kills,
            **{k: checked[k] for k in ("lost", "duplicate_complaints", "duplicate_cards", "duplicate_replies",
                                       "missing_replies", "approved_replies", "wrongly_adopted", "event_gaps")},
            "seconds": round(time.monotonic() - started, 1), "db": args.db, "replicas": args.replicas,
        }
        ok = all(result[k] == 0 for k in ("lost", "duplicate_complaints", "duplicate_replies", "missing_replies",
                                          "wrongly_adopted", "event_gaps")) and checked["shared_x_ids"] == 0
        # A card sent just before a kill (or a storage fault) is not recorded as sent and goes out again.
        bound = fleet.kills + tg_timeouts + fault_log["db_storage"] * args.replicas
        strict = (ok and quiesced and checked["missing_cards"] == 0 and checked["misfiled_followups"] == 0
                  and result["duplicate_cards"] <= bound and not fleet.unexpected_exits
                  and not orphan_probe.get("refused_invalid"))
        result.update({
            "ok": ok, "strict_ok": strict, "quiesced": quiesced, "backlog": state,
            "duplicate_cards_bound": bound, "orphan_card_presses": orphan_probe, "kill_kinds": dict(fleet.kill_kinds),
            "unexpected_exits": fleet.unexpected_exits[:10], "refused_starts": fleet.refused_starts, "pg_restart": pg_note, "faults": dict(fault_log),
            "staff": {k: v for k, v in vars(stats).items() if k != "errors"}, "staff_errors": stats.errors[:5],
            "log_errors": dict(log_errors.most_common(12)),
            **{k: v for k, v in checked.items() if k not in result},
        })
        return result
    finally:
        if fleet is not None:
            fleet.stop(timeout=10)
        tg.stop()
        x.stop()
        if pg_url is not None:
            pg_drop(pg_url, base_env)
        if result.get("strict_ok") and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(args, f"logs and database kept in {tmp}")
            result["dir"] = str(tmp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Chaos run of the Kemala desk (kill -9, API faults, invariants).")
    p.add_argument("--tweets", type=int, default=1000)
    p.add_argument("--kills", type=int, default=24, help="kill -9 at least this many times (default 24)")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    p.add_argument("--allow-sqlite-replicas", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print only the JSON object (no progress on stderr)")
    p.add_argument("--quiet", type=float, default=38.0,
                   help="mean seconds between kill clusters (longer than the 30 s X lease, so work gets done)")
    p.add_argument("--fault-every", type=float, default=4.0, help="mean seconds between injected faults")
    p.add_argument("--outage", type=float, default=8.0, help="length of the X outage window in seconds")
    p.add_argument("--calm", type=float, default=30.0, help="seconds staff keep working after the chaos")
    p.add_argument("--quiesce", type=float, default=300.0, help="at most this many seconds to quiesce")
    p.add_argument("--reply-rate", type=float, default=0.15, help="share of claimed complaints answered")
    p.add_argument("--answer-timeout", type=float, default=40.0)
    p.add_argument("--limit-scale", type=float, default=5.0, help="Telegram sandbox rate-limit scale")
    p.add_argument("--skip-faults", default="", help="comma-separated fault names not to inject")
    p.add_argument("--no-pg-restart", dest="pg_restart", action="store_false")
    p.add_argument("--log-level", default="warning", help="KEMALA_LOG_LEVEL of the bot processes")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite file) even when ok")
    args = p.parse_args(argv)
    if args.replicas > 1 and args.db == "sqlite" and not args.allow_sqlite_replicas:
        print("chaos: two replicas need PostgreSQL (SQLite has one writer and no SKIP LOCKED); use --db postgres "
              "or --allow-sqlite-replicas to try anyway", file=sys.stderr)
        return 2
    result = run(args)
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
