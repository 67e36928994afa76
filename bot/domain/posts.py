"""An incoming post and the desk's own account, as the domain sees them (the X adapter fills them in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeskAccount:
    """The X account the desk posts as."""

    id: str
    username: str


@dataclass(frozen=True)
class XTweet:
    """One tweet as the desk needs it, with its author, media and place resolved from includes."""

    id: str
    text: str
    author_id: str
    author_username: str
    author_name: str
    author_verified: bool
    author_location: str | None
    created_at: datetime
    conversation_id: str
    in_reply_to_tweet_id: str | None
    quoted_tweet_id: str | None
    is_retweet: bool
    mentions: tuple[str, ...]
    hashtags: tuple[str, ...]
    urls: tuple[str, ...]
    photo_urls: tuple[str, ...]
    place_name: str | None
    edit_history_ids: tuple[str, ...]
    reply_settings: str | None
    raw: dict[str, Any]


def tweet_url(username: str, tweet_id: str) -> str:
    return f"https://x.com/{username}/status/{tweet_id}"
