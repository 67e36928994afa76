"""An incoming post and the desk's own account, as the domain sees them (the X adapter fills them in)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.tweet_text import weighted_length


@dataclass(frozen=True)
class DeskAccount:
    """The X account the desk posts as."""

    id: str
    username: str


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    GIF = "animated_gif"
    MISSING = "missing"  # listed in the post's attachments, absent from includes.media


@dataclass(frozen=True)
class XMedia:
    """One attachment as a card shows it: a photo's URL, or a video's or GIF's preview image and link."""

    kind: MediaKind
    key: str
    url: str | None = None  # the photo itself (photos only)
    preview_url: str | None = None  # video and GIF: the still X renders before playback
    alt_text: str | None = None
    link: str | None = None  # where a person can watch or see it on X

    @property
    def image_url(self) -> str | None:
        """What Telegram can show as a photo: the photo, else the preview still."""
        return self.url or self.preview_url

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("kind", self.kind.value), ("key", self.key), ("url", self.url),
                                  ("preview_url", self.preview_url), ("alt_text", self.alt_text),
                                  ("link", self.link)) if v is not None}

    @classmethod
    def from_json(cls, raw: Any) -> XMedia | None:
        """A stored attachment; None for anything that is not one (the column is never trusted)."""
        if not isinstance(raw, dict):
            return None
        try:
            kind = MediaKind(str(raw.get("kind")))
        except ValueError:
            return None

        def s(name: str) -> str | None:
            value = raw.get(name)
            return value if isinstance(value, str) and value else None

        return cls(kind=kind, key=s("key") or "?", url=s("url"), preview_url=s("preview_url"),
                   alt_text=s("alt_text"), link=s("link"))


@dataclass(frozen=True)
class QuotedPost:
    """The post a quote post quotes, as context; `text` is None when X no longer has it (deleted)."""

    id: str
    author_username: str | None
    text: str | None


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
    # The whole post: `text` is note_tweet.text for a long post (X cuts `text` at 280), and `long` says so.
    long: bool = False
    media: tuple[XMedia, ...] = ()
    quoted: QuotedPost | None = None
    retweet_count: int | None = None

    @property
    def routing_text(self) -> str:
        """What the router reads: the post, and the post it quotes (a quote often names the problem there)."""
        if self.quoted is not None and self.quoted.text:
            return f"{self.text}\n\n{self.quoted.text}"
        return self.text


def tweet_url(username: str, tweet_id: str) -> str:
    return f"https://x.com/{username}/status/{tweet_id}"


def fallback_text(username: str, text: str, tweet_id: str) -> str:
    """The new post that stands in for a thread reply X will not take: it names the citizen and links
    their post. Counted whole (the mention and the 23-character link) wherever a weight is shown."""
    return f"@{username} {text} {tweet_url(username, tweet_id)}"


def reply_weight(text: str, *, eligible: bool, username: str, tweet_id: str) -> int:
    """The weight X counts for a reply as it would go now: in the thread, or as the fallback post."""
    return weighted_length(text if eligible else fallback_text(username, text, tweet_id))


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
    """Where posts come from: recent search for the hashtag, and the desk's mentions (an owned read)."""

    def me(self) -> DeskAccount: ...
    def search_page(self, query: str, *, since_id: str | None, next_token: str | None) -> SearchPage: ...
    def mentions_page(self, user_id: str, *, since_id: str | None, next_token: str | None) -> SearchPage: ...
    def lookup_missing(self, ids: Sequence[str]) -> set[str]: ...


class Publisher(Protocol):
    """Where replies go, exactly once: post, and find our own post again after an unknown outcome."""

    def post(self, text: str, *, in_reply_to: str | None, summoned: bool = False) -> PostOutcome: ...
    def reconcile_reply(self, *, in_reply_to: str | None, text: str,
                        exclude: Iterable[str] = ()) -> OwnReplyMatch: ...


# ---------------------------------------------------------------------------------------------
# Attachments on Telegram

ALBUM_MAX = 10  # Telegram's media group holds 2–10 items


def media_of(stored: Any) -> tuple[XMedia, ...]:
    """The attachments a complaint stored (its `media` column), skipping anything malformed."""
    if not isinstance(stored, list):
        return ()
    return tuple(m for m in (XMedia.from_json(raw) for raw in stored) if m is not None)


def album_items(media: Sequence[XMedia]) -> list[XMedia]:
    """What Telegram can show as pictures, in order: photos, and the preview stills of videos and GIFs."""
    return [m for m in media if m.image_url is not None]


def album_slices(n: int) -> list[tuple[int, int]]:
    """Cut n pictures into sends of at most ALBUM_MAX, none of them a lone photo after an album if avoidable.

    11 pictures go as 6 + 5 rather than 10 + 1, so each send is an album.
    """
    if n <= 0:
        return []
    sends = -(-n // ALBUM_MAX)
    size, extra = divmod(n, sends)
    out, start = [], 0
    for i in range(sends):
        end = start + size + (1 if i < extra else 0)
        out.append((start, end))
        start = end
    return out


LINKS_PREFIX = "links:"  # a photo row Telegram refused: sent as a message of links instead


def photo_row_text(start: int, end: int, *, links: bool = False) -> str:
    """The card-outbox text of a photo row: which of the complaint's pictures it sends."""
    return f"{LINKS_PREFIX if links else ''}{start}:{end}"


def parse_photo_row_text(text: str | None) -> tuple[int, int, bool] | None:
    """(start, end, as links) of a photo row; None when the row's text is not one (never trusted)."""
    raw = text or ""
    links = raw.startswith(LINKS_PREFIX)
    raw = raw.removeprefix(LINKS_PREFIX)
    head, sep, tail = raw.partition(":")
    if not sep or not head.isdigit() or not tail.isdigit():
        return None
    start, end = int(head), int(tail)
    if not 0 <= start < end or end - start > ALBUM_MAX:
        return None
    return start, end, links
