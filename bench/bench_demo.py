"""`kemala demo --tweets 500` at Telegram's real rate (20 messages a minute per group): how long the whole
scripted run takes and whether it finishes; prints JSON. Tests run the same 500-tweet demo with the limits
scaled up (tests/test_demo.py); this is the full-rate run. The demo always uses SQLite (--db is ignored)..
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, now_iso, parser, progress

sys.path.insert(0, str(ROOT))

from bot.demo import DemoError, run_demo


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--tweets", type=int, default=500)
    args = p.parse_args()
    out = io.StringIO()
    started = time.monotonic()
    try:
        counts = asyncio.run(run_demo(args.tweets, out=out))
        error = None
    except DemoError as e:
        counts, error = {}, str(e)
    seconds = round(time.monotonic() - started, 1)
    pacing = [line for line in out.getvalue().splitlines() if "pesan per menit per grup" in line]
    progress(args, f"{args.tweets} tweets: {seconds} s" + (f", failed: {error}" if error else ""))
    emit({"bench": "demo", "date": now_iso(), "tweets": args.tweets, "seconds": seconds, "ok": error is None,
                "error": error, "counts": counts, "pacing_said": pacing[:1]})


if __name__ == "__main__":
    main()
