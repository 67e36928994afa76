"""Backlog drain: N queued cards across G groups sent through the Telegram sandbox's real limits; prints JSON.

Cards are created through `complaints.ingest_tweets` (synthetic tweets, a fixed router that spreads them
over G agencies, each bound to its own sandbox group), then `jobs.send_cards(svc, bot)` runs on a fixed
tick (default 1 s, like the bot's JobQueue sweep) with a PTB `Bot` pointed at the sandbox until every
card is sent. Permitted rate = min(30/s, G × 20/min). For reference the makespan of a greedy schedule
(sends in queue order at 30/s, 20/min per group, this exact spread) is simulated too; it is not a lower
bound (a pacer that spreads a group's sends can beat it), but it shows what short runs (--cards 500)
and uneven spreads allow.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter, deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DESK_ID,
    DESK_USERNAME,
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
    timer,
)
from sqlalchemy import func, select
from telegram import Bot

from bot import jobs
from bot import usecases as uc
from bot.app import bind_triage, make_services
from bot.config import load_settings
from bot.domain.posts import DeskAccount
from bot.models import CardOutbox
from bot.sandbox.telegram import TelegramSandbox

TOKEN = "7000001:TEST-bench-token-not-real"
TRIAGE_CHAT = -1009000000001
TARGET = 0.95


def group_id(i: int) -> int:
    return -1002000000000 - i


def ideal_seconds(per_group: list[int], *, bot_per_s: int = 30, group_per_min: int = 20) -> float:
    """Makespan of a greedy schedule that obeys both sliding windows exactly (time of the last send)."""
    left = [n for n in per_group if n > 0]
    windows: list[deque[float]] = [deque() for _ in left]
    bot: deque[float] = deque()
    t, step, last = 0.0, 1.0 / bot_per_s, 0.0
    remaining = sum(left)
    while remaining:
        while bot and bot[0] <= t - 1.0:
            bot.popleft()
        for gi, n in enumerate(left):
            if not n or len(bot) >= bot_per_s:
                continue
            w = windows[gi]
            while w and w[0] <= t - 60.0:
                w.popleft()
            if len(w) < group_per_min:
                w.append(t)
                bot.append(t)
                left[gi] -= 1
                remaining -= 1
                last = t
        t += step
    return last


def settings_for(url: str, tg: TelegramSandbox) -> Any:
    env = {"KEMALA_DATABASE_URL": url, "KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_TELEGRAM_API_URL": tg.url,
           "KEMALA_TRIAGE_CHAT_ID": str(TRIAGE_CHAT)}
    return load_settings(env, env_file=None)


async def queue_cards(svc: Any, codes: list[str], n: int, order: str, seed: int) -> Counter[str]:
    rnd = random.Random(seed)
    if order == "roundrobin":
        assign = [codes[i % len(codes)] for i in range(n)]
    elif order == "clustered":  # all of group 1's cards, then group 2's ... (worst case for head-of-line)
        assign = sorted((codes[i % len(codes)] for i in range(n)), key=codes.index)
    else:
        assign = [rnd.choice(codes) for _ in range(n)]
    router = FixedRouter(assign)
    texts = dev_texts()
    desk = DeskAccount(id=DESK_ID, username=DESK_USERNAME)
    policy = uc.IngestPolicy()
    page = 100
    for start in range(0, n, page):
        tweets = [synthetic_tweet(i, texts[i % len(texts)]) for i in range(start, min(n, start + page))]
        await uc.ingest_tweets(svc.sessions, tweets, desk=desk, router=router, policy=policy)
    return Counter(assign)


async def pending(svc: Any) -> int:
    async with svc.sessions() as s:
        return int(await s.scalar(select(func.count(CardOutbox.id)).where(CardOutbox.state == "pending")) or 0)


async def run(url: str, args: Any) -> dict[str, Any]:
    tg = TelegramSandbox(bot_token=TOKEN, bot_username="kemala_bench_bot", rate_limits=True)
    tg.start()
    try:
        codes = (await agency_codes(url))[: args.groups]
        if len(codes) < args.groups:
            raise SystemExit(f"only {len(codes)} agencies in the directory")
        tg.add_chat(TRIAGE_CHAT, "supergroup", "Triase")
        for i, code in enumerate(codes):
            tg.add_chat(group_id(i), "supergroup", f"Grup {code}")
        await bind_groups(url, [(c, group_id(i)) for i, c in enumerate(codes)])
        svc = make_services(settings_for(url, tg))
        try:
            await bind_triage(svc, TRIAGE_CHAT)
            progress(args, f"queueing {args.cards} cards over {len(codes)} groups ({args.order}) ...")
            spread = await queue_cards(svc, codes, args.cards, args.order, args.seed)
            queued = await pending(svc)
            bot = Bot(TOKEN, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
            sent_total, ticks, busy = 0, 0, 0.0
            progress(args, f"draining {queued} cards ...")
            async with bot:
                t0 = timer()
                next_tick = t0
                while sent_total < queued and timer() - t0 < args.max_seconds:
                    tick0 = timer()
                    sent_total += await jobs.send_cards(svc, bot)
                    busy += timer() - tick0
                    ticks += 1
                    if args.interval > 0:
                        next_tick += args.interval
                        await asyncio.sleep(max(0.0, next_tick - timer()))
                    if ticks % 20 == 0:
                        progress(args, f"  {timer() - t0:6.1f}s sent {sent_total}")
                elapsed = timer() - t0
            left = await pending(svc)
        finally:
            await svc.engine.dispose()
        calls = tg.calls()
    finally:
        tg.stop()
    sends = [c for c in calls if c["method"] == "sendMessage"]
    ok_sends = [c for c in sends if c["ok"]]
    first = ok_sends[0]["time"] if ok_sends else 0.0
    span = (ok_sends[-1]["time"] - first) if len(ok_sends) > 1 else elapsed
    groups = len(spread)
    permitted = min(30.0, groups * 20 / 60)
    achieved = len(ok_sends) / span if span else 0.0
    ideal = ideal_seconds(list(spread.values()))
    return {
        "bench": "drain", "db": args.db, "date": now_iso(), "cards": args.cards, "groups": groups,
        "order": args.order, "tick_seconds": args.interval, "queued": queued, "sent": len(ok_sends),
        "left_pending": left, "seconds": round(span, 2), "loop_seconds": round(elapsed, 2),
        "send_cards_busy_seconds": round(busy, 2), "ticks": ticks,
        "achieved_per_second": round(achieved, 2), "permitted_per_second": round(permitted, 2),
        "fraction_of_permitted": round(achieved / permitted, 3),
        "greedy_schedule_seconds": round(ideal, 2),
        "fraction_of_greedy_schedule": round(ideal / span, 3) if span else None,
        "cards_per_group_min_max": [min(spread.values()), max(spread.values())],
        "http_429": sum(1 for c in calls if c["error_code"] == 429),
        "send_errors": sum(1 for c in sends if not c["ok"]),
        "meets_target": achieved / permitted >= TARGET and not any(c["error_code"] == 429 for c in calls),
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--cards", type=int, default=2000)
    p.add_argument("--groups", type=int, default=48)
    p.add_argument("--order", choices=("roundrobin", "random", "clustered"), default="roundrobin",
                   help="how cards are spread over groups in queue order (default roundrobin = even, as the 16/s figure assumes)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between send_cards calls (1.0 = the bot's JobQueue; 0 = back to back)")
    p.add_argument("--max-seconds", type=float, default=900.0)
    args = p.parse_args()
    with database(args.db) as url:
        result = asyncio.run(run(url, args))
    emit(result)


if __name__ == "__main__":
    main()
