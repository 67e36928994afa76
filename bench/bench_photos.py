"""Card → its photos latency (p50/p95) with the real bot against both sandboxes; prints JSON.

The bot runs as in tests/desk_harness.py (PTB long polling + JobQueue, tweepy against the X sandbox).
Complaints with 1–4 photos (and some with a video) arrive in waves spread over the harness's agency
groups, so every group keeps budget in its 20 messages/minute window. For each post the latency is
the time from the Telegram sandbox accepting its card (sendMessage) to accepting its pictures
(sendPhoto / sendMediaGroup), both from the sandbox's own call log. Also counted: pictures sent twice,
pictures sent before their card, and 429s.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, database, emit, now_iso, parser, progress

sys.path.insert(0, str(ROOT))

from tests.desk_harness import DINKES, DISDIK, DPU, Desk

TARGET_P95_S = 2.0
# One text per harness group, so the posts spread over three groups.
TEXTS = {
    DPU: "Jalan provinsi Blora - Cepu rusak parah, banyak lubang, tolong diperbaiki #KemalaJateng",
    DINKES: "Kasus demam berdarah di Jawa Tengah melonjak, fogging dari Dinkes provinsi tidak datang #KemalaJateng",
    DISDIK: "SMA negeri di Jawa Tengah memungut biaya seragam mahal, mohon Disdikbud provinsi cek #KemalaJateng",
}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return round(s[k], 3)


def latencies(desk: Desk) -> tuple[list[float], int, int]:
    """(card → pictures seconds per post, pictures before their card, posts whose pictures came twice)."""
    calls = desk.tg.calls()
    card_at: dict[tuple[int, int], float] = {}
    for chat in TEXTS:
        sent = [c for c in calls if c["method"] == "sendMessage" and c["ok"]
                and int(c["params"].get("chat_id", 0)) == chat and "#KemalaJateng" in str(c["params"].get("text"))]
        cards = [m for m in desk.tg.messages(chat) if m["from_bot"] and "#KemalaJateng" in (m["text"] or "")]
        # The k-th card message in a chat is the k-th successful card sendMessage to it.
        for message, call in zip(cards, sent, strict=False):
            card_at[(chat, int(message["message_id"]))] = float(call["time"])
    out: list[float] = []
    early = 0
    seen: dict[tuple[int, int], int] = {}
    for entry in desk.tg.photos():
        key = (int(entry["chat_id"]), int(entry["reply_to_message_id"] or 0))
        seen[key] = seen.get(key, 0) + 1
        if key not in card_at:
            early += 1
            continue
        dt = float(entry["time"]) - card_at[key]
        if dt < 0:
            early += 1
        out.append(dt)
    return out, early, sum(1 for n in seen.values() if n > 1)


async def run(url: str, args: Any) -> dict[str, Any]:
    desk = Desk(db_url=url)
    await desk.setup()
    out: dict[str, Any] = {"bench": "photos", "db": args.db, "date": now_iso(), "target_p95_s": TARGET_P95_S,
                           "posts": args.posts, "wave": args.wave, "wave_seconds": args.wave_seconds}
    try:
        await desk.start_bot()
        posted = 0
        t0 = time.perf_counter()
        while posted < args.posts:
            for _ in range(min(args.wave, args.posts - posted)):
                chat = list(TEXTS)[posted % len(TEXTS)]
                media = [{"type": "video", "alt_text": "rekaman"}] if posted % 7 == 3 else None
                desk.x.add_tweet(username=f"warga_foto{posted:04d}", text=f"@KemalaDesk {TEXTS[chat]} ({posted})",
                                 photos=0 if media else 1 + posted % 4, media=media)
                posted += 1
            progress(args, f"{posted} posts with pictures ...")
            await asyncio.sleep(args.wave_seconds)
        await desk.wait_for(lambda: len(desk.tg.photos()) >= args.posts, timeout=120, what="every post's pictures")
        out["seconds"] = round(time.perf_counter() - t0, 1)
        values, early, twice = latencies(desk)
    finally:
        await desk.close()
    calls = desk.tg.calls()
    out.update({
        "measured": len(values), "p50_s": pct(values, 50), "p95_s": pct(values, 95), "max_s": round(max(values), 3),
        "pictures_before_their_card": early, "posts_with_pictures_twice": twice,
        "albums": sum(1 for c in calls if c["method"] == "sendMediaGroup" and c["ok"]),
        "single_photos": sum(1 for c in calls if c["method"] == "sendPhoto" and c["ok"]),
        "telegram_429": sum(1 for c in calls if c["error_code"] == 429),
    })
    out["meets_target"] = out["p95_s"] <= TARGET_P95_S and not early and not twice
    return out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--posts", type=int, default=30, help="posts with pictures (default 30)")
    p.add_argument("--wave", type=int, default=3, help="posts added at once (default 3: one per group)")
    p.add_argument("--wave-seconds", type=float, default=15.0,
                   help="gap between waves (default 15 s: 4 posts of at most 5 messages a minute per group, "
                        "within Telegram's 20)")
    args = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with database(args.db) as url:
        result = asyncio.run(run(url, args))
    emit(result)


if __name__ == "__main__":
    main()
