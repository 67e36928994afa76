"""Shared helpers of the benchmarks: a throw-away migrated database, synthetic tweets, JSON output."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import importlib.util
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.config import normalise_database_url  # noqa: E402
from bot.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from bot.directory import bind_chat, sync_directory  # noqa: E402
from bot.domain.agencies import TRIAGE_CODE  # noqa: E402
from bot.domain.posts import XTweet  # noqa: E402

DESK_ID = "1500000000000000001"
DESK_USERNAME = "KemalaDesk"


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                   help="SQLite file in a temp dir (default) or a throw-away PostgreSQL database")
    p.add_argument("--json", action="store_true", help="print only the JSON object (no progress on stderr)")
    return p


def progress(args: argparse.Namespace, *msg: Any) -> None:
    if not args.json:
        print(*msg, file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """Print the result; the machine's cores and load go with it (other work skews the figures)."""
    result.setdefault("cpus", os.cpu_count())
    result.setdefault("loadavg_1m_at_end", round(os.getloadavg()[0], 2))
    print(json.dumps(result, ensure_ascii=False))


def _pg_module() -> Any:
    spec = importlib.util.spec_from_file_location("kemala_pg_testdb", ROOT / "scripts" / "pg_testdb.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A migrated database seeded with the agency directory; dropped (or deleted) on exit."""
    tmp: str | None = None
    pg_url: str | None = None
    pg: Any = None
    try:
        if kind == "postgres":
            pg = _pg_module()
            pg_url = asyncio.run(pg.create())
            url = normalise_database_url(pg_url)
        else:
            tmp = tempfile.mkdtemp(prefix="kemala-bench-")
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(url)
        asyncio.run(_seed(url))
        yield url
    finally:
        if pg_url is not None and pg is not None:
            asyncio.run(pg.drop(pg_url))
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


async def _seed(url: str) -> None:
    engine = make_engine(url)
    try:
        await sync_directory(make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def agency_codes(url: str) -> list[str]:
    """Active provincial agency codes in directory order: triage and the destinations (regencies, vertical
    bodies: no Telegram group) excluded."""
    from sqlalchemy import select

    from bot.domain.agencies import is_destination_only
    from bot.models import Agency

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (await s.execute(select(Agency.code, Agency.kind).where(Agency.active.is_(True))
                                    .order_by(Agency.id))).all()
        return [c for c, kind in rows if c != TRIAGE_CODE and not is_destination_only(kind)]
    finally:
        await engine.dispose()


async def bind_groups(url: str, pairs: Sequence[tuple[str, int]]) -> None:
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        for code, chat_id in pairs:
            await bind_chat(sessions, code=code, chat_id=chat_id, title=f"bench {code}")
    finally:
        await engine.dispose()


def dev_texts() -> list[str]:
    from bot.routing_eval import load_csv

    return [t for t, _ in load_csv(ROOT / "bot" / "data" / "routing_dev.csv")]


_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def synthetic_tweet(n: int, text: str, *, author: int | None = None, base_id: int = 1_900_000_000_000_000_000,
                    at: datetime | None = None) -> XTweet:
    """Tweet number n: a fresh conversation by its own author (no flood grouping, no follow-ups)."""
    tid = str(base_id + n)
    uid = str(200_000_000 + (author if author is not None else n))
    created = at or (_EPOCH + timedelta(seconds=n))
    body = f"@{DESK_USERNAME} {text}"
    return XTweet(
        id=tid, text=body, author_id=uid, author_username=f"warga{uid}", author_name=f"Warga {uid}",
        author_verified=False, author_location=None, created_at=created, conversation_id=tid,
        in_reply_to_tweet_id=None, quoted_tweet_id=None, is_retweet=False, mentions=(DESK_USERNAME.lower(),),
        hashtags=("kemalajateng",), urls=(), photo_urls=(), place_name=None, edit_history_ids=(tid,),
        reply_settings="everyone",
        raw={"id": tid, "text": body, "author_id": uid, "created_at": created.isoformat(),
             "conversation_id": tid, "edit_history_tweet_ids": [tid]},
    )


@dataclass
class Decision:
    agency: str | None
    confidence: float = 0.9
    reasons: list[str] = field(default_factory=lambda: ["bench"])
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    place: Any = None


class FixedRouter:
    """Routes tweet i to codes[i % len(codes)] in call order (deterministic group spread, no model cost)."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.codes = list(codes)
        self.i = 0

    def route(self, text: str, *, author_location: str | None = None, mentions: Sequence[str] = ()) -> Decision:
        code = self.codes[self.i % len(self.codes)]
        self.i += 1
        return Decision(agency=code)


def profile_top(prof: cProfile.Profile, n: int = 10, *, sort: str = "cumulative") -> list[dict[str, Any]]:
    """Top-n functions of a profile as small dicts (cumulative seconds, own seconds, calls)."""
    stats = pstats.Stats(prof, stream=io.StringIO())
    stats.sort_stats(sort)
    out: list[dict[str, Any]] = []
    for func in stats.fcn_list[:n]:  # type: ignore[attr-defined]
        _cc, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
        filename, line, name = func
        short = filename.replace(str(ROOT) + os.sep, "")
        if "site-packages" in short:
            short = short.split("site-packages" + os.sep, 1)[1]
        out.append({"function": f"{short}:{line}({name})", "calls": nc, "cumulative_s": round(ct, 3),
                    "own_s": round(tt, 3)})
    return out


class SqlCounter:
    """Counts statements sent to the database by one engine (sync_engine event)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        self.by_kind: dict[str, int] = {}
        event.listen(engine.sync_engine, "before_cursor_execute", self._on)

    def _on(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        self.count += 1
        word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        self.by_kind[word] = self.by_kind.get(word, 0) + 1


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timer() -> float:
    return time.perf_counter()
