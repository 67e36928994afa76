"""Adapter to the X API v2 over tweepy: the only module that knows X exists."""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from twitter_text import extract_urls_with_indices

from bot.domain.posts import (
    DeskAccount,
    MediaKind,
    OwnReplyMatch,
    PostKind,
    PostOutcome,
    PostSource,
    Publisher,
    QuotedPost,
    SearchPage,
    XMedia,
    XTweet,
    tweet_url,
)
from bot.domain.tweet_text import MAX_TWEET_WEIGHT, contains_url, is_valid_tweet, weighted_length

__all__ = [
    "MAX_TWEET_WEIGHT",
    "DeskAccount",
    "PostKind",
    "PostOutcome",
    "SearchPage",
    "UsageCounter",
    "XBridge",
    "XError",
    "XPaymentRequired",
    "XRateLimited",
    "XTweet",
    "XUnauthorized",
    "XUnavailable",
    "XUsageCapped",
    "normalise_text",
    "parse_page",
    "parse_tweets",
    "reply_target",
    "tweet_url",
]

log = logging.getLogger(__name__)

# tweepy hard-codes this host; X also answers on api.x.com, so both prefixes are redirected.
_TWEEPY_HOSTS = ("https://api.twitter.com/", "https://api.x.com/")

# X's wording for the 2026 reply restriction and for a repeated text (403 both; no machine code).
_NOT_MENTIONED_MARKER = "only reply to or quote posts where you are mentioned"
_DUPLICATE_MARKER = "duplicate content"
_TARGET_GONE_MARKERS = ("deleted", "not visible", "does not exist", "could not find", "not found")

TWEET_FIELDS = [
    "author_id",
    "created_at",
    "conversation_id",
    "entities",
    "referenced_tweets",
    "reply_settings",
    "in_reply_to_user_id",
    "attachments",
    "geo",
    "edit_history_tweet_ids",
    "note_tweet",  # a long post's whole text; `text` is cut at 280
    "public_metrics",  # retweet_count: reposts no longer appear in search (2026-05)
]
EXPANSIONS = ["author_id", "attachments.media_keys", "geo.place_id", "referenced_tweets.id",
              "referenced_tweets.id.author_id"]
USER_FIELDS = ["username", "name", "verified", "location"]
MEDIA_FIELDS = ["url", "type", "preview_image_url", "alt_text", "variants", "width", "height"]
PLACE_FIELDS = ["full_name", "name"]


# ---------------------------------------------------------------------------------------------
# Value objects


# ---------------------------------------------------------------------------------------------
# Errors for reads


class XError(Exception):
    """An X API call that did not succeed; status is None when no HTTP response arrived."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "", type: str = "",
                 body_errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.type = type
        self.body_errors = tuple(body_errors)  # the "errors" array of a 4xx body, when X sent one


@dataclass(frozen=True)
class StreamRuleSync:
    """What syncing the filtered-stream rules changed."""

    added: tuple[str, ...]
    deleted: int


class XRateLimited(XError):
    """429 rate limit; reset_at comes from x-rate-limit-reset and is None when X omitted it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        type: str = "",
        reset_at: datetime | None = None,
    ) -> None:
        super().__init__(message, status=status, detail=detail, type=type)
        self.reset_at = reset_at


class XUsageCapped(XError):
    """The project's monthly read cap is spent; retrying before the month turns over is pointless."""


class XPaymentRequired(XError):
    """402: the pay-per-use account has no credits left."""


class XUnauthorized(XError):
    """401: credentials revoked, wrong or missing."""


class XUnavailable(XError):
    """5xx, timeout or connection failure: X may be back on the next sweep."""


class XUnreachable(XUnavailable):
    """No connection at all (refused, no route, unknown host): at start that is a wrong URL or no network."""


# ---------------------------------------------------------------------------------------------
# Usage counters (cost is a product feature: the lead persists the deltas)

USAGE_KEYS = ("posts_read", "owned_reads", "posts_created", "posts_with_url", "summoned_replies", "requests")
# Reads are billed per post and UTC day, not per call: the counter keeps which posts each read returned.
READ_KINDS = ("owned_reads", "posts_read")


class UsageCounter:
    """Thread-safe per-call counters; drain() hands over the deltas since the previous drain.

    `posts_read` / `owned_reads` count posts as returned; which of them X bills (a post read twice in
    one UTC day is billed once) is decided where the reads are recorded, from `drain_reads()`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(USAGE_KEYS, 0)
        self._reads: list[tuple[str, str]] = []

    def add(self, key: str, n: int = 1) -> None:
        if key not in self._counts:
            raise KeyError(key)
        with self._lock:
            self._counts[key] += n

    def read(self, key: str, ids: Sequence[str]) -> None:
        """Posts one read returned, in order (the first read of a post in a day fixes its price class)."""
        if key not in READ_KINDS:
            raise KeyError(key)
        with self._lock:
            self._counts[key] += len(ids)
            self._reads.extend((key, i) for i in ids)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def drain(self) -> dict[str, int]:
        return self.drain_all()[0]

    def drain_all(self) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """(counts, [(read kind, post id), …]) since the previous drain."""
        with self._lock:
            out, reads = self._counts, self._reads
            self._counts = dict.fromkeys(USAGE_KEYS, 0)
            self._reads = []
        return out, reads


def _data_ids(body: Mapping[str, Any]) -> list[str]:
    data = body.get("data")
    if isinstance(data, dict):
        data = [data]
    return [str(d["id"]) for d in data if isinstance(d, dict) and _is_id(d.get("id"))] if isinstance(data, list) else []


# ---------------------------------------------------------------------------------------------
# Pure helpers


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parse_created_at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("created_at missing")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        # X always sends Z; a naive stamp from anything else is still meant as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _index(items: Any, key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get(key), str):
                out[item[key]] = item
    return out


def _entity_values(entities: Mapping[str, Any], kind: str, field: str) -> list[dict[str, Any]]:
    values = entities.get(kind)
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, dict) and isinstance(v.get(field), str)]


_ID = re.compile(r"[0-9]{1,19}")


def _is_id(value: Any) -> bool:
    """X ids are numeric strings of at most 19 ASCII digits (isdigit() would let '²' and '٣' in)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def unescape_x(text: str) -> str:
    """X sends tweet text with &, < and > as HTML entities (and only those): restore what the citizen wrote."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clean_text(text: str) -> str:
    """Drop what no database or Telegram accepts: NUL and unpaired surrogates."""
    if "\x00" not in text and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return text
    return "".join(ch for ch in text if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)


def _full_text(item: Mapping[str, Any]) -> tuple[str | None, bool, Mapping[str, Any] | None]:
    """(whole text, whether it is a long post, the entities that describe that text)."""
    note = item.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
        entities = note.get("entities")
        return clean_text(unescape_x(note["text"])), True, entities if isinstance(entities, dict) else None
    text = item.get("text")
    if not isinstance(text, str):
        return None, False, None
    entities = item.get("entities")
    return clean_text(unescape_x(text)), False, entities if isinstance(entities, dict) else None


_MEDIA_KINDS = {"photo": MediaKind.PHOTO, "video": MediaKind.VIDEO, "animated_gif": MediaKind.GIF}


def _http_url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 2048 else None


def _media_of(item: Mapping[str, Any], media: Mapping[str, dict[str, Any]], post_url: str) -> tuple[XMedia, ...]:
    """The post's attachments in order; a key X left out of includes stays as a link to the post."""
    attachments = item.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    out: list[XMedia] = []
    counts: dict[str, int] = {}
    for key in keys if isinstance(keys, list) else []:
        if not isinstance(key, str):
            continue
        found = media.get(key)
        kind = _MEDIA_KINDS.get(str(found.get("type"))) if found is not None else None
        if found is None or kind is None:
            log.warning("post %s: media %s is not in includes.media; the card links the post instead",
                        item.get("id"), key[:40])
            out.append(XMedia(kind=MediaKind.MISSING, key=key[:40], link=post_url))
            continue
        segment = "photo" if kind is MediaKind.PHOTO else "video"
        counts[segment] = counts.get(segment, 0) + 1
        alt = found.get("alt_text")
        out.append(XMedia(
            kind=kind, key=key[:40],
            url=_http_url(found.get("url")) if kind is MediaKind.PHOTO else None,
            preview_url=_http_url(found.get("preview_image_url")) if kind is not MediaKind.PHOTO else None,
            alt_text=clean_text(alt)[:1000] or None if isinstance(alt, str) else None,
            link=f"{post_url}/{segment}/{counts[segment]}",
        ))
    return tuple(out)


def _quoted(item: Mapping[str, Any], quoted_id: str | None, tweets: Mapping[str, dict[str, Any]],
            users: Mapping[str, dict[str, Any]]) -> QuotedPost | None:
    if quoted_id is None:
        return None
    found = tweets.get(quoted_id)
    if found is None:
        # X lists a deleted or withheld quoted post in `errors`, not in includes: the quote stands alone.
        log.info("post %s quotes %s, which X no longer returns", item.get("id"), quoted_id)
        return QuotedPost(id=quoted_id, author_username=None, text=None)
    text, _, _ = _full_text(found)
    author = users.get(str(found.get("author_id")))
    name = author.get("username") if isinstance(author, dict) else None
    return QuotedPost(id=quoted_id, author_username=clean_text(name) if isinstance(name, str) else None,
                      text=text)


def _retweet_count(item: Mapping[str, Any]) -> int | None:
    metrics = item.get("public_metrics")
    count = metrics.get("retweet_count") if isinstance(metrics, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def _build_tweet(
    item: dict[str, Any],
    users: Mapping[str, dict[str, Any]],
    media: Mapping[str, dict[str, Any]],
    places: Mapping[str, dict[str, Any]],
    tweets: Mapping[str, dict[str, Any]] | None = None,
) -> XTweet:
    tweet_id = str(item.get("id"))
    if not _is_id(item.get("id")):
        raise ValueError("id missing or not a numeric string")
    text, long, full_entities = _full_text(item)
    if text is None:
        raise ValueError("text missing")
    author_id = str(item.get("author_id"))
    if not _is_id(item.get("author_id")):
        raise ValueError("author_id missing or not numeric")
    author = users.get(author_id)
    if author is None or not isinstance(author.get("username"), str):
        # Without the author's handle neither a card nor a reply link can be made.
        raise ValueError("author not in includes.users")
    created_at = _parse_created_at(item.get("created_at"))

    in_reply_to: str | None = None
    quoted: str | None = None
    is_retweet = False
    refs = item.get("referenced_tweets")
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict) or not _is_id(ref.get("id")):
            continue
        if ref.get("type") == "replied_to":
            in_reply_to = ref["id"]
        elif ref.get("type") == "quoted":
            quoted = ref["id"]
        elif ref.get("type") == "retweeted":
            is_retweet = True

    # A long post's note_tweet carries entities for the whole text; the top-level ones stop at the cut.
    entities: Mapping[str, Any] = full_entities or {}
    mentions = tuple(m["username"].lower() for m in _entity_values(entities, "mentions", "username"))
    hashtags = tuple(h["tag"] for h in _entity_values(entities, "hashtags", "tag"))
    urls = tuple(
        str(u["expanded_url"]) if isinstance(u.get("expanded_url"), str) else str(u["url"])
        for u in _entity_values(entities, "urls", "url")
        # Photo links (pic.x.com) are listed in photo_urls; repeating them here is noise.
        if "media_key" not in u
    )

    attachments = item.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    tweet_media = [media[k] for k in keys if isinstance(k, str) and k in media] if isinstance(keys, list) else []
    attached = _media_of(item, media, tweet_url(str(author["username"]), tweet_id))
    photo_urls = tuple(m.url for m in attached if m.kind is MediaKind.PHOTO and m.url)

    geo = item.get("geo")
    place = places.get(geo.get("place_id", "")) if isinstance(geo, dict) else None
    place_name = _str_or_none(place.get("full_name")) or _str_or_none(place.get("name")) if place else None

    history = item.get("edit_history_tweet_ids")
    edit_history = tuple(h for h in history if _is_id(h)) if isinstance(history, list) else ()

    raw: dict[str, Any] = {**item, "author": author, "media": tweet_media}
    if place is not None:
        raw["place"] = place
    return XTweet(
        id=tweet_id,
        text=text,
        author_id=author_id,
        author_username=clean_text(author["username"]),
        author_name=clean_text(author["name"] if isinstance(author.get("name"), str) else author["username"]),
        author_verified=author.get("verified") is True,
        author_location=clean_text(_str_or_none(author.get("location")) or "") or None,
        created_at=created_at,
        conversation_id=str(item["conversation_id"]) if _is_id(item.get("conversation_id")) else tweet_id,
        in_reply_to_tweet_id=in_reply_to,
        quoted_tweet_id=quoted,
        is_retweet=is_retweet,
        mentions=mentions,
        hashtags=hashtags,
        urls=urls,
        photo_urls=photo_urls,
        place_name=place_name,
        edit_history_ids=edit_history,
        reply_settings=_str_or_none(item.get("reply_settings")),
        raw=raw,
        long=long,
        media=attached,
        quoted=_quoted(item, quoted, tweets or {}, users),
        retweet_count=_retweet_count(item),
    )


def parse_page(payload: Mapping[str, Any]) -> tuple[list[XTweet], list[tuple[str, str]]]:
    """Tweets of a v2 response (data + includes) and (id, reason) for each tweet that had to be skipped."""
    data = payload.get("data")
    if data is None:
        return [], []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return [], [("?", "data is not a list")]
    raw_includes = payload.get("includes")
    includes: Mapping[str, Any] = raw_includes if isinstance(raw_includes, dict) else {}
    users = _index(includes.get("users"), "id")
    media = _index(includes.get("media"), "media_key")
    places = _index(includes.get("places"), "id")
    referenced = _index(includes.get("tweets"), "id")
    tweets: list[XTweet] = []
    skipped: list[tuple[str, str]] = []
    for item in data:
        if not isinstance(item, dict):
            skipped.append(("?", "tweet is not an object"))
            continue
        try:
            tweets.append(_build_tweet(item, users, media, places, referenced))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            # One odd tweet must not stall the whole poll: skip it and say which one.
            skipped.append((str(item.get("id", "?")), str(exc)))
    return tweets, skipped


def parse_tweets(payload: Mapping[str, Any]) -> list[XTweet]:
    """Tweets of a v2 response; malformed ones are logged and skipped."""
    tweets, skipped = parse_page(payload)
    for tweet_id, reason in skipped:
        log.warning("skipped malformed tweet %s: %s", tweet_id, reason)
    return tweets


def reply_target(
    tweets_in_conversation: Sequence[XTweet], *, citizen_id: str, desk_username: str, policy: str
) -> tuple[str, bool]:
    """Tweet to reply under, and whether X will accept a reply there under the reply policy.

    Prefers the citizen's latest tweet that @mentions the desk (X only lets self-serve apps reply
    to posts that mention them); otherwise the citizen's first tweet in the conversation.
    """
    desk = desk_username.lstrip("@").lower()
    own = sorted(
        (t for t in tweets_in_conversation if t.author_id == citizen_id),
        key=lambda t: (t.created_at, int(t.id)),
    )
    if not own:
        raise ValueError(f"no tweet by {citizen_id} in the conversation")
    mentioning = [t for t in own if desk in t.mentions]
    if mentioning:
        return mentioning[-1].id, True
    return own[0].id, policy == "unrestricted"


_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s*")
_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Text reduced to what survives X's storage: entities unescaped, links shortened, reply prefix added."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    # X rewrites every link to a t.co address, so links compare as a placeholder.
    for entity in sorted(extract_urls_with_indices(text), key=lambda e: e["indices"][0], reverse=True):
        start, end = entity["indices"]
        text = text[:start] + "\x00url\x00" + text[end:]
    text = _LEADING_MENTIONS.sub("", text)
    return _WHITESPACE.sub(" ", text).strip().casefold()


_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")


def canonical_text(text: str) -> str:
    """The full text as sent, for proving a post is ours: only X's own storage changes are undone.

    Unlike `normalise_text` nothing is masked: links stay (as X's expanded_url spells them: a scheme
    is added when missing) and @mentions stay, so two fallbacks that differ only in the citizen they
    mention or the post they link never compare equal.
    """
    text = unicodedata.normalize("NFC", html.unescape(text))
    for entity in sorted(extract_urls_with_indices(text), key=lambda e: e["indices"][0], reverse=True):
        start, end = entity["indices"]
        url = str(entity["url"])
        expanded = url if re.match(r"^https?://", url, re.I) else "http://" + url
        text = text[:start] + expanded + text[end:]
    return _WHITESPACE.sub(" ", text).strip()


def mentioned(text: str) -> frozenset[str]:
    return frozenset(m.casefold() for m in _MENTION.findall(text))


def _page_params(max_results: int, since_id: str | None, token_name: str, token: str | None) -> dict[str, Any]:
    """The fields and expansions every read asks for, with its paging."""
    params: dict[str, Any] = {"max_results": max_results, "tweet_fields": TWEET_FIELDS, "expansions": EXPANSIONS,
                              "user_fields": USER_FIELDS, "media_fields": MEDIA_FIELDS, "place_fields": PLACE_FIELDS}
    if since_id:
        params["since_id"] = since_id
    if token:
        params[token_name] = token
    return params


def _expanded_text(item: Mapping[str, Any]) -> str:
    """A stored post's text with each t.co link put back to the URL it stands for."""
    text = html.unescape(str(item.get("text", "")))
    entities = item.get("entities")
    urls = entities.get("urls") if isinstance(entities, Mapping) else None
    for u in urls if isinstance(urls, list) else []:
        if isinstance(u, Mapping) and isinstance(u.get("url"), str) and isinstance(u.get("expanded_url"), str):
            text = text.replace(u["url"], u["expanded_url"])
    return canonical_text(text)


class _RedirectingAdapter(HTTPAdapter):
    """Sends tweepy's api.twitter.com requests to api_url and applies the timeout tweepy never passes.

    The OAuth 1.0a signature is computed for the URL tweepy built (api.twitter.com), before this
    rewrite; so in production api_url should stay https://api.twitter.com, where the rewrite is a no-op.
    """

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__(max_retries=0)  # a retried POST could tweet twice: the caller reconciles instead
        target = urlsplit(api_url)
        self._scheme = target.scheme
        self._netloc = target.netloc
        self._prefix = target.path.rstrip("/")
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        original = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self._scheme, self._netloc, self._prefix + original.path, original.query, original.fragment)
        )
        # requests picked proxies for api.twitter.com; the real destination decides (NO_PROXY=localhost).
        return super().send(
            request,
            stream=stream,
            timeout=timeout if timeout is not None else self._timeout,
            verify=verify,
            cert=cert,
            proxies=get_environ_proxies(request.url),
        )


def _was_sent(exc: requests.RequestException) -> bool:
    """Whether the request may have reached X before the failure (then a POST may have happened)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        if isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
            return False
        if isinstance(reason, urllib3.exceptions.NameResolutionError):
            return False
    return True


@dataclass(frozen=True)
class _Failure:
    status: int
    title: str
    detail: str
    type: str
    reset_at: datetime | None
    body: dict[str, Any]


def _failure(exc: tweepy.HTTPException) -> _Failure:
    response = exc.response
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    first = body.get("errors", [{}])
    first_error = first[0] if isinstance(first, list) and first and isinstance(first[0], dict) else {}
    detail = str(body.get("detail") or first_error.get("message") or first_error.get("detail") or "")
    title = str(body.get("title") or first_error.get("title") or response.reason or "")
    type_ = str(body.get("type") or first_error.get("type") or "")
    reset_at: datetime | None = None
    reset = response.headers.get("x-rate-limit-reset")
    if reset is not None:
        try:
            reset_at = datetime.fromtimestamp(int(reset), UTC)
        except (ValueError, OverflowError, OSError):
            reset_at = None
    return _Failure(int(response.status_code), title, detail, type_, reset_at, body)


def _is_usage_cap(f: _Failure) -> bool:
    return "usage-capped" in f.type or f.title.replace(" ", "").lower() == "usagecapexceeded"


def _first_message(f: _Failure) -> str:
    errors = f.body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("detail") or "")
    return ""


def _error_text(f: _Failure) -> str:
    parts = [f.title, f.detail]
    errors = f.body.get("errors")
    if isinstance(errors, list):
        parts += [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
    return " ".join(p for p in parts if p)


def _read_error(f: _Failure) -> XError:
    message = f"X {f.status}: {f.title} {f.detail}".strip()
    kwargs: dict[str, Any] = {"status": f.status, "detail": f.detail, "type": f.type}
    errors = f.body.get("errors") if isinstance(f.body, dict) else None
    if _is_usage_cap(f):
        return XUsageCapped(message, **kwargs)
    if f.status == 429:
        return XRateLimited(message, reset_at=f.reset_at, **kwargs)
    if f.status == 402:
        return XPaymentRequired(message, **kwargs)
    if f.status == 401:
        return XUnauthorized(message, **kwargs)
    if f.status >= 500:
        return XUnavailable(message, **kwargs)
    return XError(message, body_errors=[e for e in errors or [] if isinstance(e, dict)], **kwargs)


# ---------------------------------------------------------------------------------------------
# The bridge


class XBridge:
    """Synchronous X client for the desk; call it through asyncio.to_thread."""

    def __init__(
        self,
        *,
        api_url: str,
        bearer_token: str,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        timeout: float = 10.0,
    ) -> None:
        # Never wait_on_rate_limit: it sleeps inside a sweep and spins when the reset header is missing.
        self._client = tweepy.Client(
            bearer_token=bearer_token,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=requests.Response,
            wait_on_rate_limit=False,
        )
        session: requests.Session = self._client.session
        adapter = _RedirectingAdapter(api_url, timeout)
        for host in _TWEEPY_HOSTS:
            session.mount(host, adapter)
        # The filtered stream's rules API (app-only auth); the stream connection itself is its own.
        self._stream = tweepy.StreamingClient(bearer_token, return_type=requests.Response)
        for host in _TWEEPY_HOSTS:
            self._stream.session.mount(host, adapter)
        self.usage = UsageCounter()
        self.on_error: Callable[[int | None], None] | None = None
        self._me: DeskAccount | None = None
        self._me_lock = threading.Lock()

    def _count_error(self, status: int | None) -> None:
        """The metrics hook (set by the composition root): a failed call, by HTTP status or None."""
        if self.on_error is not None:
            self.on_error(status)

    def _call(self, fn: Callable[[], Any]) -> dict[str, Any]:
        """One API call; the decoded JSON body, or an XError for anything but a 2xx."""
        self.usage.add("requests")
        try:
            response: requests.Response = fn()
        except tweepy.HTTPException as exc:
            self._count_error(exc.response.status_code if exc.response is not None else None)
            raise _read_error(_failure(exc)) from None
        except requests.ConnectionError as exc:
            self._count_error(None)
            if isinstance(exc, requests.Timeout):
                raise XUnavailable(f"X unreachable: {type(exc).__name__}") from None
            raise XUnreachable(f"X unreachable: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            self._count_error(None)
            raise XUnavailable(f"X unreachable: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            raise XUnavailable(f"X sent a non-JSON {response.status_code} body") from None
        if not isinstance(body, dict):
            raise XUnavailable("X sent a JSON body that is not an object")
        return body

    # -- reads -----------------------------------------------------------------------------

    def me(self) -> DeskAccount:
        """The desk account behind the user-context credentials (GET /2/users/me)."""
        body = self._call(lambda: self._client.get_me(user_auth=True))
        data = body.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise XError("X /2/users/me sent no user", status=200)
        account = DeskAccount(id=data["id"], username=str(data.get("username", "")))
        with self._me_lock:
            self._me = account
        return account

    def _desk(self) -> DeskAccount:
        with self._me_lock:
            cached = self._me
        return cached if cached is not None else self.me()

    @staticmethod
    def search_query(hashtag: str, desk_username: str | None) -> str:
        """Recent-search query for the hashtag, without reposts or own posts.

        Posts that @mention the desk are left out: they come from the mentions timeline, an owned read
        ($0.001 instead of $0.005 a post).
        """
        tag = "#" + hashtag.lstrip("#")
        if not desk_username:
            return f"{tag} -is:retweet"
        user = desk_username.lstrip("@")
        return f"{tag} -@{user} -is:retweet -from:{user}"

    @staticmethod
    def stream_rules_for(hashtag: str, desk_username: str | None) -> dict[str, str]:
        """The filtered-stream rules the configuration asks for, by tag: the hashtag and (once the desk's
        account is known) posts that @mention it; never reposts or the desk's own posts."""
        tag = "#" + hashtag.lstrip("#")
        if not desk_username:
            return {"kemala:hashtag": f"{tag} -is:retweet"}
        user = desk_username.lstrip("@")
        return {"kemala:hashtag": f"{tag} -is:retweet -from:{user}",
                "kemala:mention": f"@{user} -is:retweet -from:{user}"}

    def sync_stream_rules(self, wanted: Mapping[str, str]) -> StreamRuleSync:
        """Make the app's filtered-stream rules exactly `wanted` (tag → value), without touching a
        connection: rules are changed through the rules API, which X applies to the open stream.

        New rules are checked with dry_run first, so a rule X refuses changes nothing and raises an XError
        naming it. Rules this desk owns (tag prefix "kemala:") that are no longer wanted are deleted; other
        tags (an operator's own rules) are left alone.
        """
        current = self._rules_call(lambda: self._stream.get_rules())
        have = {(r["value"], r.get("tag")): r["id"] for r in current.get("data") or []}
        missing = [tweepy.StreamRule(value=v, tag=t) for t, v in wanted.items() if (v, t) not in have]
        extra = [rid for (v, t), rid in have.items()
                 if (t or "").startswith("kemala:") and wanted.get(t or "") != v]
        if missing:
            self._rules_call(lambda: self._stream.add_rules(missing, dry_run=True))
        if extra:
            self._rules_call(lambda: self._stream.delete_rules(extra))
        if missing:
            self._rules_call(lambda: self._stream.add_rules(missing))
        return StreamRuleSync(added=tuple(r.value for r in missing), deleted=len(extra))

    def _rules_call(self, fn: Callable[[], Any]) -> dict[str, Any]:
        try:
            return self._call(fn)
        except XError as e:
            if e.status != 400 or not e.body_errors:
                raise
            refused = "; ".join(f"{err.get('value', '?')!r}: {', '.join(err.get('details') or [err.get('title', '')])}"
                                for err in e.body_errors)
            raise XError(f"X refused the stream rule {refused}", status=400, detail=refused, type=e.type) from None

    def search_page(
        self, query: str, *, since_id: str | None, next_token: str | None, max_results: int = 100
    ) -> SearchPage:
        """One page of GET /2/tweets/search/recent (app-only auth, newest first).

        Pass the same since_id with every next_token of one run; X's paging is defined over the whole query.
        """
        # X rejects max_results outside 10–100 here
        params = _page_params(min(100, max(10, max_results)), since_id, "next_token", next_token)
        body = self._call(lambda: self._client.search_recent_tweets(query, user_auth=False, **params))
        self.usage.read("posts_read", _data_ids(body))
        return self._page(body)

    def mentions_page(self, user_id: str, *, since_id: str | None, next_token: str | None,
                      max_results: int = 100) -> SearchPage:
        """One page of GET /2/users/{id}/mentions for the desk itself: an owned read ($0.001, not $0.005).

        Pass the same since_id with every pagination token of one run, as with search.
        """
        # X rejects max_results outside 5–100 here, and names the token differently
        params = _page_params(min(100, max(5, max_results)), since_id, "pagination_token", next_token)
        body = self._call(lambda: self._client.get_users_mentions(user_id, user_auth=True, **params))
        self.usage.read("owned_reads", _data_ids(body))
        return self._page(body)

    @staticmethod
    def _page(body: Mapping[str, Any]) -> SearchPage:
        tweets = parse_tweets(body)
        raw_meta = body.get("meta")
        meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        return SearchPage(
            tweets=tweets,
            newest_id=_str_or_none(meta.get("newest_id")),
            next_token=_str_or_none(meta.get("next_token")),
        )

    def lookup_missing(self, ids: Sequence[str]) -> set[str]:
        """Ids among `ids` that X reports as not found (deleted, or never existed)."""
        return self.lookup_status(ids)[0]

    def lookup_status(self, ids: Sequence[str]) -> tuple[set[str], dict[str, int]]:
        """(ids X reports as not found, retweet_count of each post it still has): one lookup serves the
        deleted-post check and the card's "🔁 N kali dibagikan" (reposts are not in search since 2026-05)."""
        unique = list(dict.fromkeys(ids))
        gone: set[str] = set()
        reposts: dict[str, int] = {}
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            body = self._lookup_chunk(chunk)
            self.usage.read("posts_read", _data_ids(body))
            data = body.get("data")
            for item in data if isinstance(data, list) else []:
                if isinstance(item, dict) and _is_id(item.get("id")):
                    count = _retweet_count(item)
                    if count is not None:
                        reposts[str(item["id"])] = count
            errors = body.get("errors")
            for error in errors if isinstance(errors, list) else []:
                if not isinstance(error, dict):
                    continue
                not_found = (
                    "resource-not-found" in str(error.get("type", "")) or error.get("title") == "Not Found Error"
                )
                # Suspended or protected authors give "Authorization Error": the tweet still exists.
                if not_found:
                    tweet_id = error.get("resource_id") or error.get("value")
                    if isinstance(tweet_id, str) and tweet_id in chunk:
                        gone.add(tweet_id)
        return gone, reposts

    def lookup_tweets(self, ids: Sequence[str]) -> list[XTweet]:
        """The posts with these ids, parsed as search parses them (missing ones are simply absent)."""
        unique = list(dict.fromkeys(ids))
        found: list[XTweet] = []
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            body = self._call(lambda chunk=chunk: self._client.get_tweets(  # type: ignore[misc]
                chunk, user_auth=False, tweet_fields=TWEET_FIELDS, expansions=EXPANSIONS,
                user_fields=USER_FIELDS, media_fields=MEDIA_FIELDS, place_fields=PLACE_FIELDS))
            self.usage.read("posts_read", _data_ids(body))
            found.extend(parse_tweets(body))
        return found

    def _lookup_chunk(self, chunk: list[str]) -> dict[str, Any]:
        return self._call(lambda: self._client.get_tweets(chunk, user_auth=False, tweet_fields=["public_metrics"]))

    def _own_tweets_page(self, user_id: str, pagination_token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_results": 100,
            "tweet_fields": ["referenced_tweets", "created_at", "conversation_id", "entities"],
        }
        if pagination_token:
            params["pagination_token"] = pagination_token
        body = self._call(lambda: self._client.get_users_tweets(user_id, user_auth=True, **params))
        self.usage.read("owned_reads", _data_ids(body))
        return body

    def find_own_reply(self, *, in_reply_to: str | None, text: str, pages: int = 2,
                       exclude: Iterable[str] = ()) -> str | None:
        """Id of the desk's recent post that is provably this reply (see `reconcile_reply`), if any."""
        return self.reconcile_reply(in_reply_to=in_reply_to, text=text, pages=pages, exclude=exclude).exact

    def reconcile_reply(self, *, in_reply_to: str | None, text: str, pages: int = 2,
                        exclude: Iterable[str] = ()) -> OwnReplyMatch:
        """Look for this reply among the desk's recent posts.

        A post is this reply only when it answers the same post (standalone when None), mentions the
        same accounts, and has the same full text with links compared through their expanded URLs; in a
        thread, X's leading reply @mentions may be dropped. Posts in `exclude` belong to other replies
        and are never ours. A post that matches only once links are masked and leading mentions
        stripped is reported as `near`: the caller must not adopt it.
        """
        desk = self._desk()
        skip = set(exclude)
        wanted = canonical_text(text)
        wanted_bare = _LEADING_MENTIONS.sub("", wanted)
        wanted_mentions = mentioned(wanted)
        loose = normalise_text(text)
        near: str | None = None
        token: str | None = None
        for _ in range(pages):
            body = self._own_tweets_page(desk.id, token)
            data = body.get("data")
            for item in data if isinstance(data, list) else []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item["id"] in skip:
                    continue
                refs = item.get("referenced_tweets")
                replied_to = next(
                    (
                        r.get("id")
                        for r in (refs if isinstance(refs, list) else [])
                        if isinstance(r, dict) and r.get("type") == "replied_to"
                    ),
                    None,
                )
                if replied_to != in_reply_to:
                    continue
                stored = _expanded_text(item)
                if in_reply_to is None:
                    # A standalone post is tied to its citizen only by whom it mentions: both must agree.
                    if stored == wanted and mentioned(stored) == wanted_mentions:
                        return OwnReplyMatch(exact=str(item["id"]))
                    if mentioned(stored) != wanted_mentions:
                        continue  # provably someone else's answer
                elif stored == wanted or _LEADING_MENTIONS.sub("", stored) == wanted_bare:
                    return OwnReplyMatch(exact=str(item["id"]))
                # `normalise_text` unescapes once more, as `_expanded_text` + `canonical_text` do.
                if near is None and normalise_text(html.unescape(str(item.get("text", "")))) == loose:
                    near = str(item["id"])
            meta = body.get("meta")
            token = _str_or_none(meta.get("next_token")) if isinstance(meta, dict) else None
            if token is None:
                break
        return OwnReplyMatch(near=near)

    # -- writes ----------------------------------------------------------------------------

    def post(self, text: str, *, in_reply_to: str | None, summoned: bool = False) -> PostOutcome:
        """POST /2/tweets with user context; every API outcome is returned, never raised.

        `summoned`: the post replied to @mentions the desk, which X bills as a summoned reply.
        """
        if not is_valid_tweet(text):
            if weighted_length(text) > MAX_TWEET_WEIGHT:
                return PostOutcome(PostKind.REJECTED, reason="too_long")
            return PostOutcome(PostKind.REJECTED, reason="invalid_text")
        self.usage.add("requests")
        try:
            response: requests.Response = self._client.create_tweet(
                text=text, in_reply_to_tweet_id=in_reply_to, user_auth=True
            )
        except tweepy.HTTPException as exc:
            return self._post_failure(_failure(exc))
        except requests.RequestException as exc:
            if _was_sent(exc):
                # X may have created the tweet before the answer was lost: reconcile, never re-post blindly.
                return PostOutcome(PostKind.UNKNOWN, reason=f"no_response:{type(exc).__name__}")
            return PostOutcome(PostKind.RETRY_LATER, reason=f"unreachable:{type(exc).__name__}")
        try:
            body = response.json()
            tweet_id = body["data"]["id"]
        except (ValueError, KeyError, TypeError):
            return PostOutcome(PostKind.UNKNOWN, reason="no_id_in_response")
        if not isinstance(tweet_id, str):
            return PostOutcome(PostKind.UNKNOWN, reason="no_id_in_response")
        self.usage.add("posts_created")
        if contains_url(text):
            self.usage.add("posts_with_url")  # X prices a post with a link above every other class
        elif summoned and in_reply_to is not None:
            self.usage.add("summoned_replies")
        return PostOutcome(PostKind.POSTED, tweet_id=tweet_id)

    @staticmethod
    def _post_failure(f: _Failure) -> PostOutcome:
        text = _error_text(f).lower()
        if _is_usage_cap(f):
            return PostOutcome(PostKind.RETRY_LATER, reason="usage_capped", retry_at=f.reset_at)
        if f.status == 429:
            return PostOutcome(PostKind.RETRY_LATER, reason="rate_limited", retry_at=f.reset_at)
        if f.status == 401:
            return PostOutcome(PostKind.RETRY_LATER, reason="unauthorized", auth_failed=True)
        if f.status == 402:
            return PostOutcome(PostKind.RETRY_LATER, reason="payment_required")
        if f.status == 403 and _NOT_MENTIONED_MARKER in text:
            return PostOutcome(PostKind.REJECTED, reason="not_mentioned")
        if f.status == 403 and _DUPLICATE_MARKER in text:
            # X refuses a repeat without saying which tweet it repeats: the caller looks it up.
            return PostOutcome(PostKind.UNKNOWN, reason="duplicate", duplicate=True)
        if f.status >= 500:
            # X answered, but a 5xx on a write does not prove nothing was written.
            return PostOutcome(PostKind.UNKNOWN, reason=f"server_error:{f.status}")
        # X's 400 puts the generic "One or more parameters…" in detail and the real cause in errors[].
        specific = _first_message(f) or f.detail or f.title
        if f.status == 400 and any(marker in text for marker in _TARGET_GONE_MARKERS):
            return PostOutcome(PostKind.REJECTED, reason=f"target_gone: {specific}".strip())
        if f.status == 400 and "too long" in text:
            return PostOutcome(PostKind.REJECTED, reason="too_long")
        return PostOutcome(PostKind.REJECTED, reason=f"http_{f.status}: {specific}".strip())


def _seams(bridge: XBridge) -> tuple[PostSource, Publisher]:
    """mypy checks here that the adapter satisfies the two protocols the desk depends on."""
    return bridge, bridge
