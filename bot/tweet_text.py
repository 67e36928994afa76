"""Tweet length and URL rules (twitter-text v3, the counting X applies to POST /2/tweets)."""

from __future__ import annotations

from twitter_text import extract_urls, parse_tweet

MAX_TWEET_WEIGHT = 280


def weighted_length(text: str) -> int:
    """Weighted length as X counts it: URLs 23, CJK and most non-Latin 2, an emoji sequence 2."""
    return int(parse_tweet(text).weightedLength)


def is_valid_tweet(text: str) -> bool:
    """True when X would accept the text: something besides whitespace, weight ≤ 280, no invalid chars."""
    if not text.strip():
        return False
    return bool(parse_tweet(text).valid)


def contains_url(text: str) -> bool:
    """True when X would turn part of the text into a link (a post with a URL costs ~40× more)."""
    # extract_urls is the same extractor parse_tweet weighs as 23 characters, so a bare
    # "example.com" counts here exactly as it does for length and for X's link pricing.
    return bool(extract_urls(text))
