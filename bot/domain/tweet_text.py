"""Tweet length and URL rules (twitter-text v3, the counting X applies to POST /2/tweets)."""

from __future__ import annotations

import re
from collections.abc import Sequence

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


# --- what a reply must not be -----------------------------------------------------------------------

# Shapes of credentials that must never be posted even when they are not this desk's own: a Telegram
# bot token (id:35 characters), an X app bearer token (a run of A's then URL-encoded base64), and
# OAuth-style access tokens ("<digits>-<40+ characters>").
_TOKEN_SHAPES = (
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{35}\b"),
    re.compile(r"\bA{16,}[A-Za-z0-9%+/=]{40,}"),
    re.compile(r"\b\d{6,20}-[A-Za-z0-9]{40,}\b"),
)
_MENTION = re.compile(r"(?<![\w@])@\w{1,15}")
_NO_WORDS = re.compile(r"[\W_]+")


def contains_secret(text: str, secrets: Sequence[str]) -> bool:
    """True when the text holds one of the configured secrets (any 8+ character run of one) or a token shape."""
    folded = text.casefold()
    for secret in secrets:
        if len(secret) >= 8 and secret.casefold() in folded:
            return True
    return any(shape.search(text) for shape in _TOKEN_SHAPES)


def reply_warnings(text: str) -> list[str]:
    """Why a reply may say nothing to the citizen: "url_only" (only links) or "mention_only" (only @names)."""
    without_urls = text
    for url in extract_urls(text):
        without_urls = without_urls.replace(url, " ")
    if not _NO_WORDS.sub("", without_urls):
        return ["url_only"] if contains_url(text) else []
    if not _NO_WORDS.sub("", _MENTION.sub(" ", without_urls)):
        return ["mention_only"]
    return []
