"""Button press → edited card latency (p50/p95) with the real bot against both sandboxes; prints JSON.

The bot runs as in tests/desk_harness.py (PTB long polling + JobQueue, tweepy against the X sandbox).
A few tweets become cards in the DPU group; then Budi presses Klaim and Lepas alternately (200 presses by
default, one every 300 ms, round robin over the cards) through the Telegram sandbox's control API. Latency is measured
from the press to the card's `edits` counter moving in the sandbox (polled every 2 ms), and to the
callback answer. The second run repeats it while 300 cards for 45 other groups are being drained.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DESK_ID,
    DESK_USERNAME,
    ROOT,
    FixedRouter,
    agency_codes,
    bind_groups,
    database,
    dev_texts,
    emit,
    now_iso,
    parser,
    progress,
    synthetic_tweet,
)

sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from bot import usecases as uc
from bot.db import make_engine, make_sessionmaker
from bot.domain.posts import DeskAccount
from bot.models import CardOutbox
from tests.desk_harness import BUDI, DPU, ROAD, Desk

TARGET_P95_MS = 150.0
BACKLOG_BASE = -1003000000000


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return round(s[k], 1)


def summary(edit_ms: list[float], answer_ms: list[float]) -> dict[str, Any]:
    return {
        "presses": len(edit_ms),
        "edit_ms": {"p50": pct(edit_ms, 50), "p95": pct(edit_ms, 95), "p99": pct(edit_ms, 99),
                    "max": round(max(edit_ms), 1), "mean": round(statistics.fmean(edit_ms), 1)},
        "answer_ms": {"p50": pct(answer_ms, 50), "p95": pct(answer_ms, 95), "max": round(max(answer_ms), 1)},
        "meets_target": pct(edit_ms, 95) <= TARGET_P95_MS,
    }


class PacerWaits:
    """Wraps svc.pacer.acquire to record how long the bot waited for Telegram budget (ms)."""

    def __init__(self, pacer: Any) -> None:
        self.waits: list[float] = []
        self._orig = pacer.acquire

        async def acquire(*, press: bool = True) -> None:
            t0 = time.perf_counter()
            await self._orig(press=press)
            self.waits.append((time.perf_counter() - t0) * 1000)

        pacer.acquire = acquire

    def take(self) -> dict[str, Any]:
        w, self.waits = self.waits, []
        if not w:
            return {"acquires": 0}
        return {"acquires": len(w), "waited": sum(1 for x in w if x > 5), "p95_ms": pct(w, 95),
                "max_ms": round(max(w), 1)}


def find_button(msg: dict[str, Any], acts: tuple[str, ...]) -> str | None:
    for row in (msg.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            data = str(b.get("callback_data") or "")
            if data.split(":")[1:2] and data.split(":")[1] in acts:
                return data
    return None


async def press_series(desk: Desk, card_ids: list[int], presses: int,
                       interval_ms: float = 0.0) -> tuple[list[float], list[float], int]:
    edit_ms: list[float] = []
    answer_ms: list[float] = []
    failures = 0
    start = time.perf_counter()
    for i in range(presses):
        if interval_ms:
            await asyncio.sleep(max(0.0, start + i * interval_ms / 1000 - time.perf_counter()))
        mid = card_ids[i % len(card_ids)]
        msg = desk.message(DPU, mid)
        data = find_button(msg, ("cl", "rl"))
        if data is None:
            failures += 1
            continue
        before = msg["edits"]
        n_answers = len(desk.tg.callback_answers())
        t0 = time.perf_counter()
        qid = desk.tg.press(DPU, mid, int(BUDI["id"]), data)
        t_edit = t_answer = None
        deadline = t0 + 10.0
        while time.perf_counter() < deadline and (t_edit is None or t_answer is None):
            if t_edit is None and desk.message(DPU, mid)["edits"] > before:
                t_edit = time.perf_counter()
            if t_answer is None:
                answers = desk.tg.callback_answers()
                if len(answers) > n_answers and any(a["callback_query_id"] == qid for a in answers[n_answers:]):
                    t_answer = time.perf_counter()
            await asyncio.sleep(0.002)
        if t_edit is None or t_answer is None:
            failures += 1
            continue
        edit_ms.append((t_edit - t0) * 1000)
        answer_ms.append((t_answer - t0) * 1000)
    return edit_ms, answer_ms, failures


async def queue_backlog(desk: Desk, n: int, groups: int) -> int:
    codes = [c for c in await agency_codes(desk.db_url) if c not in ("dpubmck", "dinkes", "disdikbud")][:groups]
    for i, code in enumerate(codes):
        desk.tg.add_chat(BACKLOG_BASE - i, "supergroup", f"Grup {code}")
    await bind_groups(desk.db_url, [(c, BACKLOG_BASE - i) for i, c in enumerate(codes)])
    engine = make_engine(desk.db_url)
    try:
        sessions = make_sessionmaker(engine)
        texts = dev_texts()
        router = FixedRouter(codes)
        desk_acct = DeskAccount(id=DESK_ID, username=DESK_USERNAME)
        for start in range(0, n, 100):
            tweets = [synthetic_tweet(i, texts[i % len(texts)], base_id=1_100_000_000_000_000_000)
                      for i in range(start, min(n, start + 100))]
            await uc.ingest_tweets(sessions, tweets, desk=desk_acct, router=router, policy=uc.IngestPolicy())
    finally:
        await engine.dispose()
    return len(codes)


async def pending_cards(desk: Desk) -> int:
    async def q(s: Any) -> int:
        return int(await s.scalar(select(func.count(CardOutbox.id)).where(CardOutbox.state == "pending")) or 0)
    return int(await desk.db(q))


async def run(url: str, args: Any) -> dict[str, Any]:
    desk = Desk(db_url=url)
    await desk.setup()
    out: dict[str, Any] = {"bench": "press", "db": args.db, "date": now_iso(), "target_p95_ms": TARGET_P95_MS,
                           "press_interval_ms": args.interval_ms}
    try:
        await desk.start_bot()
        for i in range(args.cards):
            desk.tweet(f"{ROAD} (ruas {i + 1})", username=f"warga_jalan{i}", mention=True)
        cards = await desk.wait_for(lambda: len(desk.cards(DPU)) >= args.cards and desk.cards(DPU),
                                    timeout=30, what="cards in DPU")
        card_ids = [int(c["message_id"]) for c in cards]
        # Warm up (first getChatMember, connection pools, stem cache).
        await press_series(desk, card_ids, 4)
        assert desk.svc is not None
        waits = PacerWaits(desk.svc.pacer)
        progress(args, f"idle: {args.presses} presses on {len(card_ids)} cards ...")
        e, a, f = await press_series(desk, card_ids, args.presses, args.interval_ms)
        out["idle"] = {**summary(e, a), "failures": f, "pacer": waits.take()}
        if args.backlog:
            progress(args, f"backlog: queueing {args.backlog} cards ...")
            groups = await queue_backlog(desk, args.backlog, args.backlog_groups)
            before = await pending_cards(desk)
            t0 = time.perf_counter()
            e, a, f = await press_series(desk, card_ids, args.presses, args.interval_ms)
            dt = time.perf_counter() - t0
            after = await pending_cards(desk)
            out["with_backlog"] = {**summary(e, a), "failures": f, "backlog_cards": args.backlog,
                                   "backlog_groups": groups, "pending_at_start": before, "pending_at_end": after,
                                   "series_seconds": round(dt, 2), "pacer": waits.take()}
    finally:
        await desk.close()
    calls = desk.tg.calls()
    out["telegram_429"] = sum(1 for c in calls if c["error_code"] == 429)
    out["meets_target"] = all(v["meets_target"] for k, v in out.items() if k in ("idle", "with_backlog"))
    return out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--presses", type=int, default=200)
    p.add_argument("--interval-ms", type=float, default=300.0,
                   help="start-to-start gap between presses (default 300 ms ≈ 3.3 presses/s; 0 = back to back)")
    p.add_argument("--cards", type=int, default=4, help="cards pressed round robin")
    p.add_argument("--backlog", type=int, default=300, help="pending cards drained during the second run (0 = skip)")
    p.add_argument("--backlog-groups", type=int, default=45)
    args = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with database(args.db) as url:
        result = asyncio.run(run(url, args))
    emit(result)


if __name__ == "__main__":
    main()
