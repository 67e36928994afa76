"""Place lookup: regency/city and district n-grams, Kota vs Kab, ordinary words that are also names."""

from __future__ import annotations

import pytest

from bot.domain.places import Gazetteer, Place, tokenize

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.default()


def test_kab_and_district(gaz: Gazetteer) -> None:
    p = gaz.find("Jalan provinsi Blora - Cepu rusak parah")
    assert p == Place("33.16", "Kabupaten Blora", "33.16.05", "Cepu")
    assert p.label == "Kec. Cepu, Kab. Blora"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("banjir di kota semarang", "33.74"),
        ("jalan di kab semarang rusak", "33.22"),
        ("kabupaten semarang", "33.22"),
        ("macet di ungaran", "33.22"),
        ("Semarang arah Ungaran macet", "33.22"),
        ("semarang macet", "33.74"),
        ("kota tegal", "33.76"),
        ("kab tegal", "33.28"),
        ("Slawi", "33.28"),
        ("kota pekalongan", "33.75"),
        ("kab. pekalongan", "33.26"),
        ("kota magelang", "33.71"),
        ("Borobudur magelang", "33.08"),
        ("sy tinggal di Solo", "33.72"),
        ("purwokerto", "33.02"),
    ],
)
def test_kota_vs_kab(gaz: Gazetteer, text: str, code: str) -> None:
    p = gaz.find(text)
    assert p is not None and p.kabkota_code == code


@pytest.mark.parametrize("text", ["batang pohon tumbang", "pati singkong mahal", "saya butuh bantuan", "di taman kota"])
def test_ordinary_words_are_not_places(gaz: Gazetteer, text: str) -> None:
    assert gaz.find(text) is None


@pytest.mark.parametrize("text", ["jalan di batang rusak", "Jalan Batang rusak", "kab batang", "wilayah batang"])
def test_batang_with_cue_is_a_place(gaz: Gazetteer, text: str) -> None:
    p = gaz.find(text)
    assert p is not None and p.kabkota_name == "Kabupaten Batang"


def test_common_word_district_needs_kec_cue(gaz: Gazetteer) -> None:
    assert gaz.find("Kec. Butuh Purworejo") == Place("33.06", "Kabupaten Purworejo", "33.06.10", "Butuh")
    p = gaz.find("kec bulu kab rembang")
    assert p is not None and p.kecamatan_name == "Bulu" and p.kabkota_code == "33.17"


def test_ambiguous_district_without_context_is_dropped(gaz: Gazetteer) -> None:
    # Sidoharjo is a district in both Wonogiri and Sragen: the regency decides.
    assert gaz.find("Sidoharjo") is None
    p = gaz.find("Sidoharjo Sragen")
    assert p is not None and p.kecamatan_name == "Sidoharjo" and p.kabkota_code == "33.14"


def test_profile_location_is_lenient(gaz: Gazetteer) -> None:
    assert gaz.find("batang") is None
    p = gaz.find("batang", lenient=True)
    assert p is not None and p.kabkota_code == "33.25"


def test_tokenize_marks_mid_sentence_capitals() -> None:
    toks = tokenize("Batang rusak. Di Pati juga")
    assert [t.text for t in toks] == ["batang", "rusak", "di", "pati", "juga"]
    assert [t.capitalised for t in toks] == [False, False, False, True, False]


def test_to_json(gaz: Gazetteer) -> None:
    p = gaz.find("Cepu")
    assert p is not None
    assert p.to_json() == {
        "kabkota_code": "33.16",
        "kabkota_name": "Kabupaten Blora",
        "kecamatan_code": "33.16.05",
        "kecamatan_name": "Cepu",
    }
