"""Routing throughput: decisions per second on one core over the dev-set texts (warm caches); prints JSON."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    from bot.routing import Router
    from bot.routing_eval import load_csv

    router = Router.default()
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    texts = [t for t, _ in load_csv(ROOT / "bot" / "data" / "routing_dev.csv")]
    for t in texts:  # warm the stem cache
        router.route(t)
    rounds = 5
    t1 = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            router.route(t)
    elapsed = time.perf_counter() - t1
    n = rounds * len(texts)
    print(
        json.dumps(
            {
                "decisions": n,
                "seconds": round(elapsed, 3),
                "decisions_per_second": round(n / elapsed),
                "mean_latency_us": round(elapsed / n * 1e6, 1),
                "router_load_seconds": round(load_s, 3),
                "max_rss_mb_before_import": round(rss_before, 1),
                "max_rss_mb_router_loaded": round(rss_loaded, 1),
                "max_rss_mb_end": round(_rss_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
