"""RSS while ingesting N complaints (default 100,000), sampled at each quarter; prints JSON.

The process holds what the live bot holds: Services (engine, real router), the full PTB application
from `bot.app.build_application` (constructed, not polling), a PTB Bot pointed at an in-process
Telegram sandbox. Complaints arrive through `complaints.ingest_tweets` in pages of 100 synthetic
tweets (each its own author and conversation); at every sample point a few `jobs.sweep_cards` calls
send and refresh cards against the sandbox, then RSS (psutil) is read after gc.collect().
"""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DESK_ID,
    DESK_USERNAME,
    agency_codes,
    bind_groups,
    database,
    dev_texts,
    emit,
    now_iso,
    parser,
    progress,
    rss_mb,
    synthetic_tweet,
    timer,
)

RSS_AT_START = rss_mb()

from sqlalchemy import func, select  # noqa: E402
from telegram import Bot  # noqa: E402

from bot import jobs  # noqa: E402
from bot import usecases as uc  # noqa: E402
from bot.app import bind_triage, build_application, make_services  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.domain.posts import DeskAccount  # noqa: E402
from bot.models import CardOutbox, Complaint  # noqa: E402
from bot.sandbox.telegram import TelegramSandbox  # noqa: E402

TOKEN = "7000001:TEST-bench-token-not-real"
TRIAGE_CHAT = -1009000000001
TARGET_MB = 120.0


async def run(url: str, args: Any) -> dict[str, Any]:
    rss_imported = rss_mb()
    tg = TelegramSandbox(bot_token=TOKEN, bot_username="kemala_bench_bot", rate_limits=True)
    tg.start()
    try:
        codes = await agency_codes(url)
        tg.add_chat(TRIAGE_CHAT, "supergroup", "Triase")
        for i, code in enumerate(codes):
            tg.add_chat(-1002000000000 - i, "supergroup", f"Grup {code}")
        await bind_groups(url, [(c, -1002000000000 - i) for i, c in enumerate(codes)])
        env = {"KEMALA_DATABASE_URL": url, "KEMALA_TELEGRAM_TOKEN": TOKEN, "KEMALA_TELEGRAM_API_URL": tg.url,
               "KEMALA_TRIAGE_CHAT_ID": str(TRIAGE_CHAT)}
        svc = make_services(load_settings(env, env_file=None))
        app = build_application(svc)  # the full application: handlers, job queue (not started)
        await bind_triage(svc, TRIAGE_CHAT)
        bot = Bot(TOKEN, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
        texts = dev_texts()
        desk = DeskAccount(id=DESK_ID, username=DESK_USERNAME)
        policy = uc.IngestPolicy()
        svc.router.route("warm up #KemalaJateng")
        gc.collect()
        rss_ready = rss_mb()
        samples: list[dict[str, Any]] = []
        marks = {round(args.complaints * q / 4) for q in (1, 2, 3, 4)}
        page = 100
        sent = 0
        t0 = timer()
        async with bot:
            done = 0
            while done < args.complaints:
                n = min(page, args.complaints - done)
                tweets = [synthetic_tweet(i, texts[i % len(texts)]) for i in range(done, done + n)]
                await uc.ingest_tweets(svc.sessions, tweets, desk=desk, router=svc.router, policy=policy)
                done += n
                if done in marks or any(done - n < m < done for m in marks):
                    for _ in range(args.sweeps):
                        sent += await jobs.sweep_cards(svc, bot)
                    gc.collect()
                    async with svc.sessions() as s:
                        complaints = int(await s.scalar(select(func.count(Complaint.id))) or 0)
                        pending = int(await s.scalar(select(func.count(CardOutbox.id))
                                                     .where(CardOutbox.state == "pending")) or 0)
                    samples.append({"complaints": complaints, "rss_mb": rss_mb(), "cards_sent": sent,
                                    "cards_pending": pending, "elapsed_s": round(timer() - t0, 1)})
                    progress(args, samples[-1])
        await svc.engine.dispose()
        del app
    finally:
        tg.stop()
    rss = [s["rss_mb"] for s in samples]
    return {
        "bench": "memory", "db": args.db, "date": now_iso(), "complaints": args.complaints,
        "rss_mb_at_start": RSS_AT_START, "rss_mb_imported": rss_imported, "rss_mb_app_built": rss_ready,
        "samples": samples, "rss_mb_max_sample": max(rss), "growth_mb_first_to_last_sample": round(rss[-1] - rss[0], 1),
        "ingest_tweets_per_second": round(args.complaints / (timer() - t0), 1),
        "target_mb": TARGET_MB, "meets_target": max(rss) <= TARGET_MB,
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--complaints", type=int, default=100_000)
    p.add_argument("--sweeps", type=int, default=3, help="sweep_cards calls at each sample point")
    args = p.parse_args()
    with database(args.db) as url:
        result = asyncio.run(run(url, args))
    emit(result)


if __name__ == "__main__":
    main()
