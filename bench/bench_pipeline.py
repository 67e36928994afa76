"""Pipeline overhead: tweets/s from the X sandbox's answer to committed card-outbox rows; prints JSON.

Three measurements, each on a fresh database, with the real router and zero network latency
(XSandbox(lag_seconds=0) on 127.0.0.1):

* end_to_end: `jobs.poll_x(svc)` — tweepy HTTP + parse + ingest + routing + commit, page by page;
* fetch_parse: only the 50 search pages through `XBridge.search_page` (HTTP + parse, no database);
* ingest: `complaints.ingest_tweets` on the pre-parsed pages (routing + persistence only), with the
  SQL statements counted, and a cProfile run of the same on a third database (top 10 cumulative).
"""

from __future__ import annotations

import asyncio
import cProfile
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
from _common import (
    DESK_USERNAME,
    SqlCounter,
    agency_codes,
    bind_groups,
    database,
    dev_texts,
    emit,
    now_iso,
    parser,
    profile_top,
    progress,
    timer,
)
from sqlalchemy import func, select

from bot import jobs
from bot import usecases as uc
from bot.app import bind_triage, make_services
from bot.config import load_settings
from bot.models import CardOutbox, Complaint
from bot.sandbox.x import XSandbox
from bot.services import Services
from bot.twitter_bridge import SearchPage, XBridge

TRIAGE_CHAT = -1009000000001
TARGET = 1000.0


class RemoteX:
    """The X sandbox in its own process (`kemala sandbox x`), as X is to the bot: its CPU time and its
    GIL are not ours, so the figure measures the bot's pipeline, not the emulator sharing our process."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "sandbox", "x", "--port", str(port), "--lag", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.http = requests.Session()
        for _ in range(200):
            try:
                self.http.post(f"{self.url}/_sandbox/config", json={"search_limit_per_15min": 100_000}, timeout=2)
                self.desk_id = str(self.http.get(f"{self.url}/_sandbox/state", timeout=2).json()["desk_id"])
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the X sandbox process did not start")

    def add_tweet(self, *, username: str, text: str, **kw: Any) -> None:
        self.http.post(f"{self.url}/_sandbox/tweets", json={"username": username, "text": text, **kw}, timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def settings_for(url: str, x: Any) -> Any:
    env = {
        "KEMALA_DATABASE_URL": url, "KEMALA_X_API_URL": x.url, "KEMALA_X_TIMEOUT_SECONDS": "10",
        "KEMALA_X_BEARER_TOKEN": "bench-bearer", "KEMALA_X_CONSUMER_KEY": "bench-ck",
        "KEMALA_X_CONSUMER_SECRET": "bench-cs", "KEMALA_X_ACCESS_TOKEN": "1-bench-at",
        "KEMALA_X_ACCESS_TOKEN_SECRET": "bench-ats", "KEMALA_TRIAGE_CHAT_ID": str(TRIAGE_CHAT),
    }
    return load_settings(env, env_file=None)


async def prepare(url: str) -> None:
    codes = await agency_codes(url)
    await bind_groups(url, [(c, -1001000000100 - i) for i, c in enumerate(codes)])


async def make_svc(url: str, x: Any) -> Services:
    svc = make_services(settings_for(url, x))
    await bind_triage(svc, TRIAGE_CHAT)
    return svc


async def outbox_counts(svc: Services) -> dict[str, int]:
    async with svc.sessions() as s:
        complaints = int(await s.scalar(select(func.count(Complaint.id))) or 0)
        pending = int(await s.scalar(select(func.count(CardOutbox.id)).where(CardOutbox.state == "pending")) or 0)
        parked = int(await s.scalar(select(func.count(CardOutbox.id)).where(CardOutbox.state == "parked")) or 0)
    return {"complaints": complaints, "card_rows_pending": pending, "card_rows_parked": parked}


async def end_to_end(url: str, x: Any, n: int) -> dict[str, Any]:
    await prepare(url)
    svc = await make_svc(url, x)
    try:
        await jobs.ensure_desk(svc)  # GET /2/users/me once, outside the timing
        svc.router.route("warm up the stem cache #KemalaJateng")
        stored, polls = 0, 0
        t0 = timer()
        while stored < n and polls < 10:
            got = await jobs.poll_x(svc)
            polls += 1
            stored += got
            if got == 0:
                break
        elapsed = timer() - t0
        counts = await outbox_counts(svc)
    finally:
        await svc.engine.dispose()
    return {"tweets": n, "stored": stored, "polls": polls, "seconds": round(elapsed, 3),
            "tweets_per_second": round(stored / elapsed, 1) if elapsed else None, **counts}


def fetch_pages(x: Any) -> tuple[list[SearchPage], float]:
    bridge = XBridge(api_url=x.url, bearer_token="bench-bearer", consumer_key="bench-ck", consumer_secret="bench-cs",
                     access_token="1-bench-at", access_token_secret="bench-ats", timeout=10)
    query = XBridge.search_query("#KemalaJateng", DESK_USERNAME)
    pages: list[SearchPage] = []
    token: str | None = None
    t0 = timer()
    for _ in range(jobs.MAX_PAGES_PER_POLL * 4):
        page = bridge.search_page(query, since_id=None, next_token=token)
        pages.append(page)
        token = page.next_token
        if not token:
            break
    return pages, timer() - t0


async def ingest_pages(url: str, x: Any, pages: list[SearchPage], *, profile: bool) -> dict[str, Any]:
    await prepare(url)
    svc = await make_svc(url, x)
    from bot.domain.posts import DeskAccount

    desk = DeskAccount(id=x.desk_id, username=DESK_USERNAME)
    policy = uc.IngestPolicy(reply_policy=svc.settings.x_reply_policy, flood_per_hour=svc.settings.flood_per_hour,
                             hashtag=svc.settings.hashtag)
    svc.router.route("warm up the stem cache #KemalaJateng")
    counter = SqlCounter(svc.engine)
    prof = cProfile.Profile() if profile else None
    n = sum(len(p.tweets) for p in pages)
    route_s = 0.0
    try:
        # Routing alone on the same texts, to split routing from persistence.
        t0 = timer()
        for p in pages:
            for tw in p.tweets:
                svc.router.route(tw.text, author_location=tw.author_location, mentions=tw.mentions)
        route_s = timer() - t0
        counter.count, counter.by_kind = 0, {}
        if prof:
            prof.enable()
        t0 = timer()
        for p in pages:  # poll_x ingests page by page, newest page first
            await uc.ingest_tweets(svc.sessions, p.tweets, desk=desk, router=svc.router, policy=policy)
        elapsed = timer() - t0
        if prof:
            prof.disable()
        counts = await outbox_counts(svc)
    finally:
        await svc.engine.dispose()
    out: dict[str, Any] = {"tweets": n, "seconds": round(elapsed, 3), "tweets_per_second": round(n / elapsed, 1),
                           "routing_only_seconds": round(route_s, 3),
                           "sql_statements": counter.count,
                           "sql_statements_per_tweet": round(counter.count / n, 2),
                           "sql_by_kind_per_tweet": {k: round(v / n, 2) for k, v in sorted(counter.by_kind.items())},
                           **counts}
    if prof:
        out["profile_top10_cumulative"] = profile_top(prof, 10)
        out["profile_top10_own"] = profile_top(prof, 10, sort="tottime")
    return out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--tweets", type=int, default=5000, help="tweets in the sandbox (default 5000 = 50 pages)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    p.add_argument("--media", action="store_true",
                   help="Intake I's mix: a third of the posts long (≈1,500 characters, note_tweet), a third with "
                        "1–4 photos or a video, the rest plain")
    p.add_argument("--in-process", action="store_true",
                   help="run the X sandbox in this process (it then competes with the bot for the GIL)")
    args = p.parse_args()
    texts = dev_texts()
    p_in = args.in_process
    x: Any
    if p_in:
        x = XSandbox(desk_username=DESK_USERNAME, lag_seconds=0, search_limit_per_15min=100_000)
        x.start()
    else:
        x = RemoteX()
    try:
        progress(args, f"adding {args.tweets} tweets to the X sandbox...")
        for i in range(args.tweets):
            text = texts[i % len(texts)]
            if "#kemalajateng" not in text.lower():
                text += " #KemalaJateng"
            extra: dict[str, Any] = {}
            if args.media and i % 3 == 0:
                # A long post: the complaint, then the citizen's account of it (past X's 280-character cut).
                story = " ".join(f"hari ke-{d} kami melapor lagi tetapi belum ada tindakan di lokasi" for d in range(22))
                text = f"{text} {story}"
            elif args.media and i % 3 == 1:
                extra = {"media": [{"type": "video"}]} if i % 12 == 1 else {"photos": 1 + i % 4}
            # Hashtag posts come through search; posts that @mention the desk would come from the mentions
            # timeline instead (bench_pipeline measures the search path, as before Intake I).
            x.add_tweet(username=f"warga{i:06d}", text=text, **extra)
        result: dict[str, Any] = {"bench": "pipeline", "db": args.db, "date": now_iso(), "target_tweets_per_second": TARGET,
                                  "mix": "long posts and media" if args.media else "plain",
                                  "x_sandbox": "in-process" if p_in else "separate process"}
        progress(args, "end to end: jobs.poll_x ...")
        with database(args.db) as url:
            result["end_to_end"] = asyncio.run(end_to_end(url, x, args.tweets))
        progress(args, "fetch + parse only ...")
        pages, fetch_s = fetch_pages(x)
        n = sum(len(pg.tweets) for pg in pages)
        result["fetch_parse"] = {"pages": len(pages), "tweets": n, "seconds": round(fetch_s, 3),
                                 "tweets_per_second": round(n / fetch_s, 1)}
        progress(args, "ingest only ...")
        with database(args.db) as url:
            result["ingest"] = asyncio.run(ingest_pages(url, x, pages, profile=False))
        if not args.no_profile:
            progress(args, "ingest under cProfile ...")
            with database(args.db) as url:
                prof = asyncio.run(ingest_pages(url, x, pages, profile=True))
            result["ingest_profiled"] = {"seconds": prof["seconds"],
                                         "profile_top10_cumulative": prof["profile_top10_cumulative"],
                                         "profile_top10_own": prof["profile_top10_own"]}
        e2e = result["end_to_end"]["tweets_per_second"] or 0
        result["meets_target"] = e2e >= TARGET
    finally:
        x.stop()
    emit(result)


if __name__ == "__main__":
    main()
