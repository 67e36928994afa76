"""bot.domain.tweet_text against twitter-text's official conformance cases (validate.yml)."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from twitter_text import parse_tweet
from twitter_text.config import config

from bot.domain.tweet_text import MAX_TWEET_WEIGHT, contains_url, is_valid_tweet, weighted_length

CASES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "twitter-text-validate.yml").read_text(encoding="utf-8")
)["tests"]

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

# X counts with config v3 (emoji discounted); these sections were written for it.
V3_SECTIONS = ["WeightedTweetsWithDiscountedEmojiCounterTest", "UnicodeDirectionalMarkerCounterTest"]


def _cases(*sections: str) -> list[Any]:
    return [
        pytest.param(case, id=f"{section}:{i}:{case['description'][:40]}")
        for section in sections
        for i, case in enumerate(CASES[section])
    ]


def test_conformance_file_has_the_expected_sections() -> None:
    assert len(CASES["WeightedTweetsWithDiscountedEmojiCounterTest"]) >= 20
    assert len(CASES["WeightedTweetsCounterTest"]) >= 20


@pytest.mark.parametrize("case", _cases(*V3_SECTIONS))
def test_v3_weighted_length_and_validity(case: dict[str, Any]) -> None:
    text, expected = case["text"], case["expected"]
    assert weighted_length(text) == expected["weightedLength"]
    assert is_valid_tweet(text) is expected["valid"]


@pytest.mark.parametrize("case", _cases("WeightedTweetsCounterTest"))
def test_v2_section_with_the_v2_config(case: dict[str, Any]) -> None:
    # The v2 section (no emoji discount) pins the library itself; the bot only uses v3.
    v2 = {**config["version2"], "emoji_parsing_enabled": False}
    result = parse_tweet(case["text"], v2).asdict()
    for key, value in case["expected"].items():
        assert result[key] == value, key


@pytest.mark.parametrize("case", _cases("tweets"))
def test_v1_validity_section_with_the_v1_config(case: dict[str, Any]) -> None:
    v1 = {**config["version1"], "emoji_parsing_enabled": False}
    assert parse_tweet(case["text"], v1).valid is case["expected"]


def test_url_counts_23_whatever_its_length() -> None:
    short, long_ = "lihat https://x.co", "lihat https://example.com/" + "a" * 200
    assert weighted_length(short) == weighted_length(long_) == 6 + 23


def test_limit_is_280_inclusive() -> None:
    assert MAX_TWEET_WEIGHT == 280
    assert is_valid_tweet("a" * 280)
    assert not is_valid_tweet("a" * 281)
    assert weighted_length("日" * 140) == 280 and is_valid_tweet("日" * 140)
    assert not is_valid_tweet("日" * 141)


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_blank_text_is_not_a_tweet(text: str) -> None:
    assert not is_valid_tweet(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Terima kasih, laporan sudah diteruskan.", False),
        ("Info: https://jatengprov.go.id/layanan", True),
        ("lihat jatengprov.go.id ya", True),  # X links bare domains too, and bills them as URLs
        ("#KemalaJateng @KemalaDesk", False),
        ("jam 10.30 di km.5", False),
    ],
)
def test_contains_url(text: str, expected: bool) -> None:
    assert contains_url(text) is expected
