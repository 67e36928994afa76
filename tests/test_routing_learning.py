"""Learning that shows: confirmed labels move similar complaints, more with more evidence, and leave
unrelated complaints where they were."""

from __future__ import annotations

import itertools

import pytest

from bot.routing import Router
from bot.routing_training import train_default_plus

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

PLACES = ["Ungaran", "Kudus", "Pati", "Sragen", "Boyolali", "Kendal", "Demak", "Salatiga", "Wonosobo", "Klaten"]
VENUES = ["tempat karaoke", "kafe karaoke", "rumah karaoke", "karaoke keluarga", "tempat hiburan malam"]
HOURS = ["jam 2", "jam 3", "subuh", "jam 1", "menjelang subuh"]
TAILS = [
    "suaranya sampai ke rumah warga, anak-anak tidak bisa tidur",
    "musiknya keras sekali dan pengunjungnya mabuk di jalan",
    "izin usahanya katanya hanya kafe biasa, tapi tiap malam jadi karaoke",
    "warga sudah protes ke pengelola tapi tidak digubris",
]
# Complaints of other kinds: the routes they have before any label must not move.
UNRELATED = [
    "Jalan provinsi Purwodadi - Blora rusak parah, lubang di mana-mana",
    "Pupuk subsidi langka di kios, petani tidak bisa memupuk padi",
    "Pajak kendaraan di Samsat keliling antreannya panjang sekali",
    "SMA negeri minta sumbangan gedung 3 juta rupiah",
    "Banjir bandang melanda desa kami, butuh bantuan logistik segera",
    "Gaji saya di pabrik belum dibayar dua bulan dan tidak dapat THR",
    "Sapi di kandang kami kena penyakit mulut dan kuku",
    "Bus Trans Jateng koridor Semarang - Kendal sering telat",
    "Listrik padam setiap malam, PLN tidak datang",
    "Nelayan tidak bisa melaut, solar di SPBN habis",
]
TARGET = "disporapar"


def _complaints(n: int, offset: int) -> list[str]:
    combos = itertools.islice(itertools.product(VENUES, HOURS, TAILS, PLACES), offset, offset + n)
    return [f"Mohon izin pak, {v} di {p} buka sampai {h} pagi, {t}." for v, h, t, p in combos]


@pytest.fixture(scope="module")
def base() -> Router:
    return Router.default()


def test_confidence_rises_with_confirmed_labels_and_unrelated_routes_hold(base: Router) -> None:
    # Every fourth combination is a probe never trained on.
    probes = _complaints(400, 0)[3::4][:40]
    train_pool = [t for i, t in enumerate(_complaints(400, 0)) if i % 4 != 3]
    before_unrelated = [base.route(t).predicted for t in UNRELATED]
    means: list[float] = []
    hits: list[float] = []
    for n in (0, 5, 20, 60, 150):
        router = base if n == 0 else base.with_model(train_default_plus([(t, TARGET) for t in train_pool[:n]]))
        decisions = [router.route(t) for t in probes]
        conf = [dict(d.alternatives).get(TARGET, 0.0) if d.predicted != TARGET else d.confidence for d in decisions]
        means.append(sum(conf) / len(conf))
        hits.append(sum(d.predicted == TARGET for d in decisions) / len(decisions))
        assert [router.route(t).predicted for t in UNRELATED] == before_unrelated, n
    assert all(b > a for a, b in itertools.pairwise(means)), means
    assert hits[0] < 0.5 and hits[-1] >= 0.9, hits
