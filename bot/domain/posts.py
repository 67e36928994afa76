"""An incoming post and the desk's own account, as the domain sees them (the X adapter fills them in)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


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


@dataclass(frozen=True)
class SearchPage:
    """One page of recent search; next_token is None on the last page."""

    tweets: list[XTweet]
    newest_id: str | None
    next_token: str | None


class PostKind(StrEnum):
    POSTED = "posted"
    REJECTED = "rejected"
    RETRY_LATER = "retry_later"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PostOutcome:
    """Result of one POST /2/tweets; UNKNOWN means reconcile with find_own_reply before retrying."""

    kind: PostKind
    tweet_id: str | None = None
    reason: str = ""
    retry_at: datetime | None = None
    duplicate: bool = False
    auth_failed: bool = False


@dataclass(frozen=True)
class OwnReplyMatch:
    """What reconciliation found on X: a post provably this reply, or one that only looks like it."""

    exact: str | None = None
    near: str | None = None


# ---------------------------------------------------------------------------------------------
# HTTP plumbing


class PostSource(Protocol):
    """Where posts come from (today X recent search, polled; a stream would be another source)."""

    def me(self) -> DeskAccount: ...
    def search_page(self, query: str, *, since_id: str | None, next_token: str | None) -> SearchPage: ...
    def lookup_missing(self, ids: Sequence[str]) -> set[str]: ...


class Publisher(Protocol):
    """Where replies go, exactly once: post, and find our own post again after an unknown outcome."""

    def post(self, text: str, *, in_reply_to: str | None) -> PostOutcome: ...
    def reconcile_reply(self, *, in_reply_to: str | None, text: str,
                        exclude: Iterable[str] = ()) -> OwnReplyMatch: ...
