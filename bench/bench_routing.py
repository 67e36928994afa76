"""Routing throughput on one core, warm caches; prints JSON.

Two sets: the dev-set tweets (short), and long real-style posts of 300–1,500 characters (X Premium
lengths: greeting, story, RT/RW address, polite ending) built from the dev texts and the
real-style test set. Target: ≥ 2,000 decisions/s on the long set; router build ≤ 0.5 s.
"""

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


_OPENINGS = (
    "Assalamualaikum wr wb, selamat siang Bapak Gubernur dan admin yang terhormat. Mohon izin menyampaikan "
    "keluhan warga kami, nyuwun sewu sebelumnya.",
    "Yth. Pak Gub, ngapunten, kulo badhe matur. Sudah berkali-kali kami sampaikan lewat kelurahan tapi "
    "belum ada tindak lanjut sama sekali.",
    "Selamat pagi min, izin melapor. Ini sdh yg ketiga kalinya sy lapor, blm ada respon dr pihak terkait.",
)
_ADDRESSES = (
    "Lokasi di RT 03 RW 05 Desa Karanganyar Kec. Demak, dekat masjid dan SD negeri.",
    "Alamat: Dukuh Krajan RT 02 RW 01, Kelurahan Tembalang, Kota Semarang.",
    "Tepatnya di jln raya depan pasar, RT 4 RW 2, Kec. Cepu Kab. Blora.",
)
_CLOSINGS = (
    "Mohon segera ditindaklanjuti, terima kasih atas perhatiannya. Matur nuwun sanget.",
    "Kami mohon bantuan dan solusinya pak, warga sudah sangat resah. Terima kasih.",
    "Semoga cepat ditangani sebelum ada korban. Wassalamualaikum wr wb.",
)


def long_texts(short: list[str], extra: list[str]) -> list[str]:
    """300–1,500-character posts: the real-style set's long ones plus dev texts told at length."""
    out = [t for t in extra if 300 <= len(t) <= 1500]
    for i, t in enumerate(short):
        parts = [_OPENINGS[i % 3], t, _ADDRESSES[i % 3]]
        # Tell the story twice over for every third post (the long tail of 1,000+ characters).
        if i % 3 == 0:
            parts += [short[(i + 7) % len(short)], "Kondisinya makin parah, sdh sering ada yg celaka.", t]
        parts.append(_CLOSINGS[i % 3])
        text = " ".join(parts)
        if 300 <= len(text) <= 1500:
            out.append(text)
    return out


def _rate(router: object, texts: list[str], rounds: int) -> tuple[int, float]:
    route = router.route  # type: ignore[attr-defined]
    for t in texts:  # warm the stem cache
        route(t)
    t1 = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            route(t)
    return rounds * len(texts), time.perf_counter() - t1


def main() -> None:
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    from bot.routing import Router
    from bot.routing_eval import load_csv

    router = Router.default()
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    texts = [t for t, _ in load_csv(ROOT / "bot" / "data" / "routing_dev.csv")]
    extra = [t for f in sorted((ROOT / "tests" / "data" / "routing_real_style").glob("*.csv"))
             for t, _ in load_csv(f)]
    longs = long_texts(texts, extra)
    n, elapsed = _rate(router, texts, 5)
    n_long, elapsed_long = _rate(router, longs, 3)
    print(
        json.dumps(
            {
                "decisions": n,
                "seconds": round(elapsed, 3),
                "decisions_per_second": round(n / elapsed),
                "mean_latency_us": round(elapsed / n * 1e6, 1),
                "long_texts": len(longs),
                "long_mean_chars": round(sum(map(len, longs)) / len(longs)),
                "long_decisions_per_second": round(n_long / elapsed_long),
                "long_mean_latency_us": round(elapsed_long / n_long * 1e6, 1),
                "router_load_seconds": round(load_s, 3),
                "max_rss_mb_before_import": round(rss_before, 1),
                "max_rss_mb_router_loaded": round(rss_loaded, 1),
                "max_rss_mb_end": round(_rss_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
