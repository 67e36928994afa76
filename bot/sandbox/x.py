"""A local, stdlib-only emulator of the subset of X API v2 that Kemala desk uses.

It serves real HTTP on loopback so the production client (tweepy, through a host-rewriting
requests adapter) is exercised unchanged.  Behaviour follows what X actually does where the
desk depends on it: search lag, exclusive ``since_id``, stable pagination, field selection,
the 2026 reply restriction, duplicate-content 403s, per-endpoint rate-limit headers and the
failure modes (429 with and without reset, usage cap, 402, 5xx, timeouts, unknown outcome),
long posts (note_tweet), photo/video/GIF media, reposts and a pay-per-use billing ledger.
See docs/sandbox-x.md for the control API.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from twitter_text import extract_urls_with_indices, parse_tweet

JSON = dict[str, Any]

# Twitter's snowflake epoch: ids built from it are 19 digits in 2026, like real ones.
TWEPOCH_MS = 1288834974657
WINDOW_S = 900
SEARCH_HORIZON = timedelta(days=7)
MAX_WEIGHTED_LENGTH = 280
# Premium long posts: X's documented ceiling, counted in characters, not weighted units.
MAX_NOTE_CHARS = 25_000
ELLIPSIS = "…"
# A 280-unit prefix never spans more code points than this (dense emoji ZWJ sequences are ~5 per unit),
# so the cut only ever parses a bounded window of a 25,000-character post.
CUT_SCAN_CHARS = 4000
# X's own clients attach at most 4 photos; 10 lets a desk's album limit be exercised.
MAX_MEDIA = 10
MAX_ALT_TEXT = 1000

PROBLEM_BASE = "https://api.twitter.com/2/problems/"
INVALID_REQUEST_DETAIL = "One or more parameters to your request was invalid."
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
RESTRICTION_DETAIL = "You can only reply to or quote posts where you are mentioned or are the author."

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
# Entity extraction close to twitter-text: a hashtag needs a letter, a mention is not part of an email.
HASHTAG_RE = re.compile(r"(?<![\w&#＃])[#＃](\w*[^\W\d_]\w*)")
MENTION_RE = re.compile(r"(?<![\w@＠])[@＠]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@＠])")
# twitter-text's cashtag: 1-6 letters, optionally ".xx" or "_xx" (e.g. $BRK.A), not inside a word.
CASHTAG_RE = re.compile(r"(?<![\w$＄])[$＄]([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?![\w$＄])")
WORD_RE = re.compile(r"\w+")
QUERY_TOKEN_RE = re.compile(r'\(|\)|-?"[^"]*"|[^\s()]+')

FIELD_PARAMS = ("tweet.fields", "expansions", "media.fields", "poll.fields", "user.fields", "place.fields")
TWEET_FIELDS = frozenset(
    "article attachments author_id card_uri community_id context_annotations conversation_id created_at "
    "display_text_range edit_controls edit_history_tweet_ids entities geo id in_reply_to_user_id lang "
    "media_metadata non_public_metrics note_tweet organic_metrics possibly_sensitive promoted_metrics "
    "public_metrics referenced_tweets reply_settings scopes source suggested_source_links "
    "suggested_source_links_with_counts text withheld".split()
)
TWEET_EXPANSIONS = frozenset(
    "article.cover_media article.media_entities attachments.media_keys attachments.media_source_tweet "
    "attachments.poll_ids author_id edit_history_tweet_ids entities.mentions.username geo.place_id "
    "in_reply_to_user_id entities.note.mentions.username referenced_tweets.id "
    "referenced_tweets.id.attachments.media_keys referenced_tweets.id.author_id".split()
)
MEDIA_FIELDS = frozenset(
    "alt_text duration_ms height media_key non_public_metrics organic_metrics preview_image_url "
    "promoted_metrics public_metrics type url variants width".split()
)
# Media key prefixes as X issues them: 3_ photo, 7_ video, 16_ animated GIF.
MEDIA_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}
MEDIA_ITEM_KEYS = frozenset({"type", "alt_text", "url", "missing"})
TIMELINE_PARAMS = frozenset({"since_id", "until_id", "max_results", "pagination_token", "start_time", "end_time"})


# USD per billed unit, from X's pay-per-use pricing page (2026). Reads are per post returned, writes per
# request; summoned_reply is the discounted reply to a post that @mentions the app's account.
PRICES: dict[str, float] = {
    "post_read": 0.005,
    "owned_read": 0.001,
    "post_create": 0.015,
    "summoned_reply": 0.010,
    "url_post": 0.20,
}
READ_ENDPOINTS = frozenset({"search", "lookup", "tweet", "user_tweets", "mentions", "stream"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Endpoint:
    name: str
    method: str
    template: str
    user_only: bool
    default_limit: int


# Default limits are X's published per-15-minute limits for these endpoints; search and post are
# configurable because the desk's behaviour under those two is what tests care about.
ENDPOINTS: dict[str, _Endpoint] = {
    e.name: e
    for e in (
        _Endpoint("search", "GET", "/2/tweets/search/recent", False, 450),
        _Endpoint("me", "GET", "/2/users/me", True, 75),
        _Endpoint("user_tweets", "GET", "/2/users/:id/tweets", False, 900),
        _Endpoint("mentions", "GET", "/2/users/:id/mentions", False, 450),
        _Endpoint("lookup", "GET", "/2/tweets", False, 900),
        _Endpoint("tweet", "GET", "/2/tweets/:id", False, 900),
        _Endpoint("post", "POST", "/2/tweets", True, 100),
        _Endpoint("delete", "DELETE", "/2/tweets/:id", True, 50),
        _Endpoint("rules", "GET", "/2/tweets/search/stream/rules", False, 450),
        _Endpoint("rules_change", "POST", "/2/tweets/search/stream/rules", False, 450),
        _Endpoint("stream", "GET", "/2/tweets/search/stream", False, 50),
    )
}
# The filtered stream and its rules belong to the app: user-context tokens are refused there.
APP_ONLY = frozenset({"rules", "rules_change", "stream"})
# X sends a keep-alive (a bare \r\n) at least every 20 s on an idle stream.
STREAM_KEEPALIVE_S = 20.0
# Pay-per-use filtered stream (2026): up to 1,000 rules of at most 1,024 characters each.
MAX_RULES = 1000
MAX_RULE_CHARS = 1024


@dataclass
class _User:
    id: str
    username: str
    name: str
    verified: bool = False
    location: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime(2015, 1, 1, tzinfo=UTC))


@dataclass
class _Tweet:
    id: str
    author_id: str
    raw_text: str
    text: str
    created_at: datetime
    in_reply_to: str | None
    in_reply_to_user_id: str | None
    quote_of: str | None
    conversation_id: str
    media_keys: list[str]
    place_id: str | None
    hashtags: list[JSON]
    mentions: list[JSON]
    urls: list[JSON]
    # Shared list object across all versions of an edit chain, oldest first, as X reports it.
    edit_history: list[str]
    # The whole post (t.co links and the media link included).  `text` is its cut form for long
    # posts and equals it otherwise; hashtags/mentions/urls above describe this full text, which
    # is what search, mentions and the reply restriction look at.
    full_text: str = ""
    cashtags: list[JSON] = field(default_factory=list)
    # Entities of `text` only, as the top-level `entities` field reports them.
    text_entities: dict[str, list[JSON]] = field(default_factory=dict)
    is_note: bool = False
    retweet_of: str | None = None
    deleted: bool = False
    superseded: bool = False


@dataclass
class _Media:
    key: str
    type: str
    alt_text: str | None
    url: str | None  # override of the photo url / the video or GIF preview image
    missing: bool  # listed in attachments.media_keys but absent from includes.media, as X sometimes does


@dataclass
class _Fault:
    endpoint: str
    status: int | None
    count: int
    reset_header: bool
    timeout_s: float | None
    delay_s: float | None
    usage_cap: bool
    after_commit: bool
    reset_in_s: int


@dataclass
class _Reply:
    status: int
    body: JSON | list[Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    sleep_s: float = 0.0
    stream: _StreamSession | None = None  # GET /2/tweets/search/stream: the handler serves it chunked


@dataclass
class _StreamSession:
    """One filtered-stream connection: what waits to be delivered and how the connection should end."""

    params: dict[str, str]
    pending: list[tuple[float, int, JSON]] = field(default_factory=list)  # (due monotonic, seq, message)
    end: str | None = None  # "clean", "abrupt", "error" (in-stream error, then clean), "half" (cut line)
    stall_until: float = 0.0
    last_sent: float = field(default_factory=time.monotonic)
    delivered: int = 0


class _ApiError(Exception):
    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> _ApiError:
    body: JSON = {"title": title, "detail": detail, "type": type_, "status": status}
    body.update(extra)
    return _ApiError(status, body)


def _invalid(param: str, value: str, message: str) -> _ApiError:
    # Real X's 400 body: a list of per-parameter errors plus the generic invalid-request problem.
    body: JSON = {
        "errors": [{"parameters": {param: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": INVALID_REQUEST_DETAIL,
        "type": PROBLEM_BASE + "invalid-request",
    }
    return _ApiError(400, body)


def _iso(dt: datetime) -> str:
    # tweepy parses created_at with "%Y-%m-%dT%H:%M:%S.%fZ": milliseconds are mandatory.
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_time(param: str, value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(param, value, f"Invalid '{param}':'{value}'. '{param}' must be an ISO 8601 date.") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _encode_cursor(tweet_id: str) -> str:
    # The token encodes the position (the oldest id already returned), so repeating a page is
    # harmless and the same token always yields the same page: the client may retry freely.
    return "s" + _b36(int(tweet_id))


def _decode_cursor(param: str, token: str) -> int:
    if not token.startswith("s"):
        raise _invalid(param, token, f"The `{param}` query parameter value [{token}] is not valid")
    try:
        return int(token[1:], 36)
    except ValueError:
        raise _invalid(param, token, f"The `{param}` query parameter value [{token}] is not valid") from None


def _tco(seed: str) -> str:
    code = hashlib.sha1(seed.encode()).hexdigest()[:10]
    return f"https://t.co/{code}"


def _split_csv(value: str | None) -> set[str]:
    return {v for v in (value or "").split(",") if v}


# ---------------------------------------------------------------------------------------------
# Search query language (subset): AND by juxtaposition, OR, parentheses, negation, operators.

_Node = tuple[Any, ...]


class _QueryParser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens: list[str] = QUERY_TOKEN_RE.findall(query)
        self.pos = 0

    def error(self, message: str) -> _ApiError:
        return _invalid("query", self.query, f"There were errors processing your request: {message}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> _Node:
        if not self.tokens:
            raise self.error("empty query")
        node = self.parse_or()
        if self.peek() is not None:
            raise self.error(f"unexpected '{self.peek()}'")
        if not self.has_positive(node):
            # X rejects queries made only of negations.
            raise self.error("Rules must contain a non-negation term")
        return node

    def parse_or(self) -> _Node:
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.pos += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def parse_and(self) -> _Node:
        parts: list[_Node] = []
        while (tok := self.peek()) is not None and tok not in (")", "OR"):
            parts.append(self.parse_unary())
        if not parts:
            raise self.error("missing term")
        return parts[0] if len(parts) == 1 else ("and", parts)

    def parse_unary(self) -> _Node:
        tok = self.peek()
        assert tok is not None
        if tok == "-":
            self.pos += 1
            if self.peek() != "(":
                raise self.error("dangling '-'")
            return ("not", self.parse_atom())
        if tok.startswith("-") and len(tok) > 1:
            self.pos += 1
            return ("not", self.term(tok[1:]))
        return self.parse_atom()

    def parse_atom(self) -> _Node:
        tok = self.peek()
        assert tok is not None
        self.pos += 1
        if tok == "(":
            node = self.parse_or()
            if self.peek() != ")":
                raise self.error("unbalanced parentheses")
            self.pos += 1
            return node
        if tok == ")":
            raise self.error("unbalanced parentheses")
        return self.term(tok)

    def term(self, tok: str) -> _Node:
        low = tok.lower()
        if low.startswith('"') and low.endswith('"') and len(low) >= 2:
            return ("phrase", low[1:-1])
        if low.startswith(("#", "＃")) and len(low) > 1:
            return ("hashtag", low[1:])
        if low.startswith(("@", "＠")) and len(low) > 1:
            return ("mention", low[1:])
        m = re.match(r"^([a-z_]+):(.+)$", low)
        if m:
            op, arg = m.group(1), m.group(2)
            if op not in {"from", "to", "is", "has", "conversation_id", "lang", "url", "in_reply_to_tweet_id"}:
                raise self.error(f"Reference to invalid operator '{op}'")
            if op == "is" and arg not in {"retweet", "reply", "quote", "verified"}:
                raise self.error(f"Reference to invalid field '{arg}'")
            if op == "has" and arg not in {"media", "images", "videos", "links", "mentions", "hashtags", "geo"}:
                raise self.error(f"Reference to invalid field '{arg}'")
            return (op, arg)
        return ("word", low)

    def has_positive(self, node: _Node) -> bool:
        kind = node[0]
        if kind == "not":
            return False
        if kind in ("and", "or"):
            return any(self.has_positive(n) for n in node[1])
        return True


# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: XSandbox


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps requests.Session connections alive like the real API does.
    protocol_version = "HTTP/1.1"
    server_version = "XSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and the CLI print what matters themselves

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sandbox = cast(_Server, self.server).sandbox
        reply = sandbox._handle(self.command, self.path, dict(self.headers.items()), body)
        if reply.stream is not None:
            self._serve_stream(sandbox, reply.stream)
            return
        if reply.sleep_s > 0:
            time.sleep(reply.sleep_s)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (timeout fault); nothing to do.
            self.close_connection = True

    def _serve_stream(self, sandbox: XSandbox, session: _StreamSession) -> None:
        """Chunked delivery until the stream ends: cleanly (terminating chunk) or abruptly (socket closed)."""
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            while True:
                data, end = sandbox._stream_next(session)
                if data:
                    self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                if end == "clean":
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    break
                if end == "abrupt":
                    break
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client went away
        finally:
            sandbox._stream_closed(session)

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch
    do_PUT = _dispatch


def _x_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _measurable(text: str) -> str:
    """twitter-text encodes to UTF-16 and fails on a lone surrogate (a client bug X still stores): weigh
    it as the one replacement character it occupies instead."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _weighted(text: str) -> int:
    return int(parse_tweet(_measurable(text)).weightedLength)


def _index_from_utf16(text: str, units: int) -> int:
    """Code-point index for a UTF-16 offset: twitter-text reports ranges the JavaScript way."""
    count = 0
    for i, ch in enumerate(text):
        if count >= units:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _cut_long(body: str) -> str:
    """The prefix X shows as `text` of a long post, without the trailing ellipsis.

    It ends at the last whitespace such that the prefix plus the ellipsis weighs at most 280, or is a
    hard cut when no whitespace fits.
    """
    window = body[:CUT_SCAN_CHARS]
    # Prepending the ellipsis makes twitter-text's valid range give the longest prefix that still
    # fits together with it, in one parse instead of a search.
    probe = ELLIPSIS + window
    fits = _index_from_utf16(probe, parse_tweet(_measurable(probe)).validRangeEnd + 1) - len(ELLIPSIS)
    fits = max(0, min(fits, len(window)))
    ends = [m.start() for m in re.finditer(r"(?<=\S)\s", window[:fits + 1])]
    for end in reversed(ends):
        if _weighted(window[:end] + ELLIPSIS) <= MAX_WEIGHTED_LENGTH:
            return window[:end]
    # Hard cut; step back if a partial link or emoji sequence made the probe optimistic.
    while fits > 0 and _weighted(window[:fits] + ELLIPSIS) > MAX_WEIGHTED_LENGTH:
        fits -= 1
    return window[:fits]


class XSandbox:
    """In-memory X API v2 emulator.  All state is guarded by one lock; sleeps happen outside it."""

    def __init__(
        self,
        *,
        desk_username: str = "KemalaDesk",
        desk_id: str | None = None,
        lag_seconds: float = 30.0,
        post_limit_per_15min: int = 100,
        search_limit_per_15min: int = 450,
    ) -> None:
        if not USERNAME_RE.match(desk_username):
            raise ValueError(f"invalid X username: {desk_username!r}")
        self.desk_username = desk_username
        self.desk_id = desk_id or "1500000000000000001"
        self.lag_seconds = lag_seconds
        self.post_limit_per_15min = post_limit_per_15min
        self.search_limit_per_15min = search_limit_per_15min
        self.reply_restriction = True
        self.revoked_tokens: set[str] = set()
        self.prices: dict[str, float] = dict(PRICES)
        # Billing dedups per UTC day; tests swap the clock to bill on another day.
        self.usage_clock: Callable[[], datetime] = _utc_now
        self.url = ""
        self._lock = threading.Lock()
        self._stream_cond = threading.Condition(self._lock)
        # Filtered stream: delivery lag, keep-alive period, and the faults X documents (duplicates, order).
        self.stream_lag_seconds = 0.0
        self.stream_keepalive_seconds = STREAM_KEEPALIVE_S
        self.stream_duplicates = False
        self.stream_out_of_order = False
        self._stream_seq = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._init_state()

    def _init_state(self) -> None:
        self._users: dict[str, _User] = {}  # by id
        self._by_name: dict[str, str] = {}  # lowercase username -> id
        self._tweets: dict[str, _Tweet] = {}
        self._places: dict[str, str] = {}  # place id -> full name
        self._media: dict[str, _Media] = {}  # media key -> what was attached
        self._media_numbers: set[int] = set()
        self._posted: list[JSON] = []
        self._calls: list[JSON] = []
        self._faults: list[_Fault] = []
        self._outage = False
        self._windows: dict[tuple[str, str], list[float]] = {}  # (endpoint, principal) -> [start, count]
        self._last_id = 0
        self._next_user_id = 100000001
        self._usage_counts: dict[str, int] = dict.fromkeys(PRICES, 0)
        self._usage_usd: dict[str, float] = dict.fromkeys(PRICES, 0.0)
        self._usage_requests = 0
        self._rules: dict[str, tuple[str, str | None, _Node]] = {}  # rule id -> (value, tag, parsed)
        self._stream: _StreamSession | None = None  # one connection per app
        self._next_rule_id = 1_790_000_000_000_000_001
        self._billed: dict[tuple[str, str], str] = {}  # (UTC date, post id) -> class of the first read
        self._users[self.desk_id] = _User(self.desk_id, self.desk_username, "Kemala Desk", verified=True)
        self._by_name[self.desk_username.lower()] = self.desk_id

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1:port (0 = any free port) and serve from a daemon thread."""
        if self._server is not None:
            return self.url
        server = _Server(("127.0.0.1", port), _Handler)
        server.sandbox = self
        self._server = server
        # A short poll interval keeps stop() fast; tests start and stop a sandbox per test.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="x-sandbox", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        with self._stream_cond:
            if self._stream is not None:
                self._stream.end = "abrupt"
                self._stream_cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    # ------------------------------------------------------------------ control API

    def add_tweet(
        self,
        *,
        username: str,
        text: str = "",
        name: str | None = None,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
        photos: int = 0,
        media: list[dict[str, Any]] | None = None,
        location: str | None = None,
        verified: bool = False,
        place: str | None = None,
        created_at: datetime | None = None,
        edit_of: str | None = None,
        retweet_of: str | None = None,
    ) -> str:
        """Insert a tweet as if someone had posted it; returns its id.

        Ids follow created_at like real snowflakes, so a backdated tweet gets an older id.  Text over
        280 weighted characters makes a long post (note_tweet).  `retweet_of` makes a repost instead;
        its text is then ignored.
        """
        if not USERNAME_RE.match(username):
            raise ValueError(f"invalid X username: {username!r}")
        if len(text) > MAX_NOTE_CHARS:
            raise ValueError(f"text is {len(text)} characters; X allows at most {MAX_NOTE_CHARS}")
        if isinstance(photos, bool) or not isinstance(photos, int) or not 0 <= photos <= MAX_MEDIA:
            raise ValueError(f"photos must be 0..{MAX_MEDIA}")
        items = self._check_media_items(media)
        if photos + len(items) > MAX_MEDIA:
            raise ValueError(f"at most {MAX_MEDIA} media per post (photos + media)")
        if retweet_of is not None and (in_reply_to or quote_of or edit_of or photos or items or place):
            raise ValueError("a repost cannot carry a reply, quote, edit, media or place")
        with self._lock:
            for ref in (in_reply_to, quote_of, edit_of, retweet_of):
                if ref is not None and ref not in self._tweets:
                    raise ValueError(f"unknown tweet id {ref}")
            if edit_of is not None and (self._tweets[edit_of].deleted or self._tweets[edit_of].superseded):
                raise ValueError(f"tweet {edit_of} is deleted or already edited")
            if retweet_of is not None:
                original = self._tweets[retweet_of]
                # Reposting a repost reposts the original, as X does.
                retweet_of = original.retweet_of or retweet_of
                if self._tweets[retweet_of].deleted or original.deleted:
                    raise ValueError(f"tweet {retweet_of} is deleted")
                uid = self._by_name.get(username.lower())
                if any(t.retweet_of == retweet_of and t.author_id == uid and not t.deleted
                       for t in self._tweets.values()):
                    raise ValueError(f"@{username} already reposted {retweet_of}")
            user = self._user_for(username, name=name, location=location, verified=verified)
            return self._create(
                user, text, in_reply_to=in_reply_to, quote_of=quote_of,
                media=[{"type": "photo"}] * photos + items, place=place, created_at=created_at,
                edit_of=edit_of, retweet_of=retweet_of,
            ).id

    def repost(self, username: str, tweet_id: str) -> str:
        """`username` reposts `tweet_id`; returns the repost's id."""
        return self.add_tweet(username=username, retweet_of=tweet_id)

    def unrepost(self, repost_id: str) -> None:
        """Undo a repost: X deletes the repost itself."""
        with self._lock:
            tweet = self._tweets.get(repost_id)
            if tweet is None:
                raise KeyError(repost_id)
            if tweet.retweet_of is None:
                raise ValueError(f"tweet {repost_id} is not a repost")
            self._delete(tweet)

    def delete_tweet(self, tweet_id: str) -> None:
        with self._lock:
            tweet = self._tweets.get(tweet_id)
            if tweet is None:
                raise KeyError(tweet_id)
            self._delete(tweet)

    def usage(self) -> JSON:
        """The billing ledger: units and USD per price class, as X's pay-per-use pricing counts them."""
        with self._lock:
            return {
                **self._usage_counts,
                "requests": self._usage_requests,
                "usd": {c: round(v, 6) for c, v in self._usage_usd.items()},
                "estimated_usd": round(sum(self._usage_usd.values()), 6),
                "prices": dict(self.prices),
            }

    def posted(self) -> list[JSON]:
        """Tweets the desk created through POST /2/tweets, oldest first."""
        with self._lock:
            return [dict(p) for p in self._posted]

    def fault(
        self,
        *,
        endpoint: str = "*",
        status: int | None = None,
        count: int = 1,
        reset_header: bool = True,
        timeout_s: float | None = None,
        delay_s: float | None = None,
        usage_cap: bool = False,
        after_commit: bool = False,
        reset_in_s: int = 1,
    ) -> None:
        """Make the next `count` calls to `endpoint` misbehave.  Faults queue in FIFO order."""
        name = self._endpoint_name(endpoint)
        if status is None and timeout_s is None and delay_s is None and not usage_cap and not after_commit:
            raise ValueError("fault needs status, timeout_s, delay_s, usage_cap or after_commit")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(
                _Fault(name, status, count, reset_header, timeout_s, delay_s, usage_cap, after_commit, reset_in_s)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_outage(self, on: bool) -> None:
        with self._lock:
            self._outage = on

    def calls(self) -> list[JSON]:
        with self._lock:
            return [dict(c) for c in self._calls]

    def reset_limits(self) -> None:
        with self._lock:
            self._windows.clear()

    def reset(self, *, everything: bool = False) -> None:
        """Clear limits, faults and outage; with everything=True also tweets, users, posted and calls."""
        with self._lock:
            self._windows.clear()
            self._faults.clear()
            self._outage = False
            if everything:
                if self._stream is not None:  # the open connection ends with the state it served
                    self._stream.end = "abrupt"
                    self._stream_cond.notify_all()
                self._init_state()

    def configure(self, settings: JSON) -> None:
        allowed = {"lag_seconds", "reply_restriction", "post_limit_per_15min", "search_limit_per_15min",
                   "revoked_tokens", "prices", "stream_lag_seconds", "stream_keepalive_seconds",
                   "stream_duplicates", "stream_out_of_order"}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        prices = settings.get("prices", {})
        if not isinstance(prices, dict):
            raise ValueError("prices must be an object of price class -> USD")
        for cls, price in prices.items():
            if cls not in PRICES:
                raise ValueError(f"unknown price class {cls!r}; use one of {sorted(PRICES)}")
            if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
                raise ValueError(f"price for {cls} must be a non-negative number")
        with self._lock:
            # Partial override: classes not named keep their price.  Units already billed keep theirs.
            self.prices.update({cls: float(price) for cls, price in prices.items()})
            if "lag_seconds" in settings:
                self.lag_seconds = float(settings["lag_seconds"])
            if "reply_restriction" in settings:
                self.reply_restriction = bool(settings["reply_restriction"])
            if "post_limit_per_15min" in settings:
                self.post_limit_per_15min = int(settings["post_limit_per_15min"])
            if "search_limit_per_15min" in settings:
                self.search_limit_per_15min = int(settings["search_limit_per_15min"])
            if "revoked_tokens" in settings:
                self.revoked_tokens = {str(t) for t in settings["revoked_tokens"]}
            for key in ("stream_lag_seconds", "stream_keepalive_seconds"):
                if key in settings:
                    setattr(self, key, float(settings[key]))
            for key in ("stream_duplicates", "stream_out_of_order"):
                if key in settings:
                    setattr(self, key, bool(settings[key]))

    # ------------------------------------------------------------------ state helpers (lock held)

    @staticmethod
    def _endpoint_name(endpoint: str) -> str:
        if endpoint == "*" or endpoint in ENDPOINTS:
            return endpoint
        for e in ENDPOINTS.values():
            if endpoint == f"{e.method} {e.template}":
                return e.name
        raise ValueError(f"unknown endpoint {endpoint!r}; use one of {sorted(ENDPOINTS)} or '*'")

    def _user_for(self, username: str, *, name: str | None, location: str | None, verified: bool) -> _User:
        uid = self._by_name.get(username.lower())
        if uid is None:
            uid = str(self._next_user_id)
            self._next_user_id += 1
            self._users[uid] = _User(uid, username, name or username, verified=verified, location=location)
            self._by_name[username.lower()] = uid
            return self._users[uid]
        user = self._users[uid]
        # Later sightings update only what the caller states explicitly.
        if name is not None:
            user.name = name
        if location is not None:
            user.location = location
        if verified:
            user.verified = True
        return user

    def _new_id(self, created_at: datetime | None) -> str:
        now_ms = int(time.time() * 1000)
        if created_at is None:
            candidate = (now_ms - TWEPOCH_MS) << 22
            candidate = max(candidate, self._last_id + 1)
            self._last_id = candidate
        else:
            candidate = (int(created_at.timestamp() * 1000) - TWEPOCH_MS) << 22
            while str(candidate) in self._tweets:
                candidate += 1
            if candidate > self._last_id and int(created_at.timestamp() * 1000) <= now_ms:
                self._last_id = candidate
        return str(candidate)

    def _create(
        self,
        user: _User,
        raw_text: str,
        *,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
        media: list[dict[str, Any]] | None = None,
        place: str | None = None,
        created_at: datetime | None = None,
        edit_of: str | None = None,
        retweet_of: str | None = None,
    ) -> _Tweet:
        if created_at is not None and created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        tid = self._new_id(created_at)
        when = created_at or datetime.now(UTC)
        media_keys = self._store_media(tid, media or [])
        if retweet_of is not None:
            body, urls = self._repost_body(self._tweets[retweet_of])
        else:
            body, urls = self._wrap_urls(raw_text)
        # Past CUT_SCAN_CHARS a text is surely over 280 units; skipping the parse keeps 25k posts cheap.
        too_long = len(body) > CUT_SCAN_CHARS or _weighted(body) > MAX_WEIGHTED_LENGTH
        # A repost is cut like any text but is never a note: X keeps no full text for it.
        is_note = too_long and retweet_of is None
        cut = _cut_long(body) if too_long else body
        text = cut + ELLIPSIS if too_long else body
        full_text = body if is_note else text
        text_urls = [u for u in urls if u["end"] <= len(cut)]
        full_urls = list(urls) if is_note else list(text_urls)
        if media_keys:
            # X appends one t.co link for attached media and reports it as a url entity; a long post
            # gets it after the full text and after the cut text alike.
            link = _tco("media:" + tid)
            kind = "video" if self._media[media_keys[0]].type == "video" else "photo"
            entity: JSON = {
                "url": link, "expanded_url": f"https://x.com/{user.username}/status/{tid}/{kind}/1",
                "display_url": f"pic.x.com/{link.rsplit('/', 1)[1]}", "media_key": media_keys[0],
            }
            full_urls.append({"start": len(full_text) + 1, "end": len(full_text) + 1 + len(link), **entity})
            text_urls.append({"start": len(text) + 1, "end": len(text) + 1 + len(link), **entity})
            full_text = f"{full_text} {link}"
            text = f"{text} {link}"
        hashtags, mentions, cashtags = self._extract(full_text)
        # The top-level entities describe the cut text only: what lies beyond the cut is absent.
        limit = len(cut)
        text_entities = {
            "hashtags": [e for e in hashtags if e["end"] <= limit],
            "mentions": [e for e in mentions if e["end"] <= limit],
            "urls": text_urls,
            "cashtags": [e for e in cashtags if e["end"] <= limit],
        }
        parent = self._tweets.get(in_reply_to) if in_reply_to else None
        place_id = None
        if place is not None:
            place_id = hashlib.sha1(place.encode()).hexdigest()[:16]
            self._places[place_id] = place
        if edit_of is not None:
            previous = self._tweets[edit_of]
            history = previous.edit_history
            history.append(tid)
            previous.superseded = True
            in_reply_to, quote_of = previous.in_reply_to, previous.quote_of
            parent = self._tweets.get(in_reply_to) if in_reply_to else None
        else:
            history = [tid]
        tweet = _Tweet(
            id=tid, author_id=user.id, raw_text=raw_text, text=text, created_at=when,
            in_reply_to=in_reply_to, in_reply_to_user_id=parent.author_id if parent else None,
            quote_of=quote_of, conversation_id=parent.conversation_id if parent else tid,
            media_keys=media_keys, place_id=place_id, hashtags=hashtags, mentions=mentions, urls=full_urls,
            edit_history=history, full_text=full_text, cashtags=cashtags, text_entities=text_entities,
            is_note=is_note, retweet_of=retweet_of,
        )
        if edit_of is not None:
            tweet.conversation_id = self._tweets[edit_of].conversation_id
        self._tweets[tid] = tweet
        self._stream_offer(tweet)
        return tweet

    def _repost_body(self, original: _Tweet) -> tuple[str, list[JSON]]:
        """X's repost text: "RT @author: " and the original's full text; its links are already t.co."""
        prefix = f"RT @{self._users[original.author_id].username}: "
        shift = len(prefix)
        urls = [{**u, "start": u["start"] + shift, "end": u["end"] + shift} for u in original.urls]
        return prefix + original.full_text, urls

    def _extract(self, text: str) -> tuple[list[JSON], list[JSON], list[JSON]]:
        hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in HASHTAG_RE.finditer(text)]
        mentions: list[JSON] = []
        for m in MENTION_RE.finditer(text):
            mention: JSON = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            known = self._by_name.get(m.group(1).lower())
            if known is not None:
                mention["id"] = known
            mentions.append(mention)
        cashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in CASHTAG_RE.finditer(text)]
        return hashtags, mentions, cashtags

    @staticmethod
    def _check_media_items(media: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        if media is None:
            return []
        if not isinstance(media, list):
            raise ValueError("media must be a list of objects")
        for item in media:
            if not isinstance(item, dict):
                raise ValueError("each media item must be an object")
            unknown = set(item) - MEDIA_ITEM_KEYS
            if unknown:
                raise ValueError(f"unknown media keys: {sorted(unknown)}")
            if item.get("type") not in MEDIA_KEY_PREFIX:
                raise ValueError(f"media type must be one of {sorted(MEDIA_KEY_PREFIX)}")
            alt = item.get("alt_text")
            if alt is not None and (not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT):
                raise ValueError(f"alt_text must be a string of at most {MAX_ALT_TEXT} characters")
            url = item.get("url")
            # The spec declares these as URIs; a relative or empty value would not be one.
            if url is not None and (not isinstance(url, str) or not re.match(r"^https?://\S+$", url)):
                raise ValueError("media url must be an absolute http(s) URL")
            if not isinstance(item.get("missing", False), bool):
                raise ValueError("media missing must be a boolean")
        return [dict(item) for item in media]

    def _store_media(self, tid: str, items: list[dict[str, Any]]) -> list[str]:
        keys: list[str] = []
        number = int(tid)
        for item in items:
            # Keys follow the tweet id like X's media ids do; skip numbers an earlier tweet already took.
            number += 1
            while number in self._media_numbers:
                number += 1
            self._media_numbers.add(number)
            key = f"{MEDIA_KEY_PREFIX[item['type']]}_{number}"
            self._media[key] = _Media(key, item["type"], item.get("alt_text"), item.get("url"),
                                      bool(item.get("missing", False)))
            keys.append(key)
        return keys

    def _delete(self, tweet: _Tweet) -> None:
        tweet.deleted = True
        self._mark_posted_deleted(tweet.id)
        # Deleting a post removes its reposts on X too.
        for other in self._tweets.values():
            if other.retweet_of == tweet.id:
                other.deleted = True

    @staticmethod
    def _wrap_urls(raw: str) -> tuple[str, list[JSON]]:
        """Replace links with t.co links as X does; entities keep the original as expanded_url."""
        out: list[str] = []
        urls: list[JSON] = []
        pos = 0
        length = 0
        for found in extract_urls_with_indices(raw):
            start, end = found["indices"]
            original = found["url"]
            out.append(raw[pos:start])
            length += start - pos
            link = _tco("url:" + original)
            expanded = original if re.match(r"^https?://", original, re.I) else "http://" + original
            display = re.sub(r"^https?://", "", original, flags=re.I)
            if len(display) > 26:
                display = display[:26] + "…"
            urls.append({"start": length, "end": length + len(link), "url": link,
                         "expanded_url": expanded, "display_url": display})
            out.append(link)
            length += len(link)
            pos = end
        out.append(raw[pos:])
        return "".join(out), urls

    def _mark_posted_deleted(self, tweet_id: str) -> None:
        for p in self._posted:
            if p["id"] == tweet_id:
                p["deleted"] = True

    def _take_fault(self, endpoint: str) -> _Fault | None:
        for f in self._faults:
            if f.endpoint in ("*", endpoint):
                f.count -= 1
                if f.count <= 0:
                    self._faults.remove(f)
                return f
        return None

    def _limit(self, endpoint: str) -> int:
        if endpoint == "search":
            return self.search_limit_per_15min
        if endpoint == "post":
            return self.post_limit_per_15min
        return ENDPOINTS[endpoint].default_limit

    def _window(self, endpoint: str, principal: str, *, count: bool) -> tuple[bool, dict[str, str]]:
        now = time.time()
        key = (endpoint, principal)
        win = self._windows.get(key)
        if win is None or now >= win[0] + WINDOW_S:
            win = [now, 0.0]
            self._windows[key] = win
        limit = self._limit(endpoint)
        allowed = True
        if count:
            if win[1] >= limit:
                allowed = False
            else:
                win[1] += 1
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - int(win[1]))),
            "x-rate-limit-reset": str(math.ceil(win[0] + WINDOW_S)),
        }
        return allowed, headers

    # ------------------------------------------------------------------ HTTP entry

    def _handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> _Reply:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qsl(parts.query, keep_blank_values=True)
        if path.startswith("/_sandbox"):
            return self._handle_control(method, path, body)
        reply, endpoint, auth = self._handle_api(method, path, query, headers, body)
        with self._lock:
            self._calls.append({
                "method": method, "path": path, "query": dict(query), "status": reply.status,
                "endpoint": endpoint, "auth": auth, "at": time.time(),
            })
        return reply

    def _handle_api(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes,
    ) -> tuple[_Reply, str | None, str | None]:
        route = self._route(method, path)
        if route is None:
            err = _problem(404, "Not Found Error", "The requested resource could not be found.")
            return _Reply(404, err.body), None, None
        endpoint, path_id = route
        auth, token = self._auth(headers)
        principal = "app" if auth == "app" else f"user:{token}"
        with self._lock:
            outage = self._outage
            _, rl_headers = self._window(endpoint, principal, count=False)
        if outage:
            err = _problem(503, "Service Unavailable", "Service Unavailable")
            return _Reply(503, err.body, rl_headers), endpoint, auth
        if auth is None or token in self.revoked_tokens:
            err = _problem(401, "Unauthorized", "Unauthorized")
            return _Reply(401, err.body, rl_headers), endpoint, auth
        # Endpoints that take only one kind of token: (kind refused, kinds supported).
        wrong = (("OAuth 2.0 Application-Only", "OAuth 1.0a User Context, OAuth 2.0 User Context")
                 if ENDPOINTS[endpoint].user_only and auth != "user" else
                 ("OAuth 1.0a User Context", "OAuth 2.0 Application-Only")
                 if endpoint in APP_ONLY and auth != "app" else None)
        if wrong is not None:
            err = _problem(
                403, "Unsupported Authentication",
                f"Authenticating with {wrong[0]} is forbidden for this endpoint.  Supported "
                f"authentication types are [{wrong[1]}].",
                PROBLEM_BASE + "unsupported-authentication",
            )
            return _Reply(403, err.body, rl_headers), endpoint, auth

        with self._lock:
            fault = self._take_fault(endpoint)
        if fault is not None and not fault.after_commit:
            if fault.status is None and not fault.usage_cap and fault.timeout_s is None:
                # A pure delay: the call proceeds normally, just slowly.
                reply = self._execute(endpoint, principal, path_id, query, body)
                reply.sleep_s = fault.delay_s or 0.0
                return reply, endpoint, auth
            reply = self._fault_reply(fault, rl_headers)
            # A timeout means the request never took effect (use after_commit for the opposite).
            reply.sleep_s = (fault.timeout_s or 0.0) + (fault.delay_s or 0.0)
            return reply, endpoint, auth

        reply = self._execute(endpoint, principal, path_id, query, body)
        if fault is not None:
            # after_commit: the effect happened, but the client sees a failure or no answer at all.
            if fault.status is not None or fault.usage_cap:
                reply = self._fault_reply(fault, rl_headers)
            elif fault.timeout_s is None and fault.delay_s is None:
                reply = self._fault_reply(_Fault(endpoint, 503, 1, True, None, None, False, True, 1), rl_headers)
            reply.sleep_s = (fault.timeout_s or 0.0) + (fault.delay_s or 0.0)
        return reply, endpoint, auth

    def _execute(
        self, endpoint: str, principal: str, path_id: str | None, query: list[tuple[str, str]], body: bytes,
    ) -> _Reply:
        with self._lock:
            allowed, rl_headers = self._window(endpoint, principal, count=True)
            if not allowed:
                err = _problem(429, "Too Many Requests", "Too Many Requests")
                return _Reply(429, err.body, rl_headers)
            try:
                status, payload = self._dispatch(endpoint, path_id, query, body)
            except _ApiError as exc:
                return _Reply(exc.status, exc.body, rl_headers)
            # Billing follows the effect on X's side: an after_commit fault still bills what it did.
            self._usage_requests += 1
            if endpoint == "stream":
                return _Reply(status, None, rl_headers, stream=payload["__stream__"])  # billed per delivery
            self._bill_reads(endpoint, principal, path_id, payload)
        return _Reply(status, payload, rl_headers)

    # ------------------------------------------------------------------ billing (lock held)

    def _usage_day(self) -> str:
        now = self.usage_clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.astimezone(UTC).date().isoformat()

    def _charge(self, cls: str) -> None:
        self._usage_counts[cls] += 1
        self._usage_usd[cls] += self.prices[cls]

    def _bill_reads(self, endpoint: str, principal: str, path_id: str | None, payload: JSON) -> None:
        """Bill each post in `data`; posts only in includes are not billed (an assumption, see the doc)."""
        if endpoint not in READ_ENDPOINTS:
            return
        data = payload.get("data")
        posts = [data] if isinstance(data, dict) else list(data or [])
        # Owned reads: the app reading its own account's timelines with that account's user token.
        owned = (endpoint in ("mentions", "user_tweets") and path_id == self.desk_id
                 and principal.startswith("user:"))
        cls = "owned_read" if owned else "post_read"
        day = self._usage_day()
        for post in posts:
            key = (day, str(post["id"]))
            if key in self._billed:
                continue  # X dedups a resource within one UTC day; the first read fixes its class
            self._billed[key] = cls
            self._charge(cls)

    def _bill_post(self, text: str, in_reply_to: str | None) -> None:
        if extract_urls_with_indices(text):
            self._charge("url_post")
            return
        target = self._tweets.get(in_reply_to) if in_reply_to else None
        desk = self.desk_username.lower()
        summoned = (target is not None and target.author_id != self.desk_id
                    and any(m["username"].lower() == desk for m in target.mentions))
        self._charge("summoned_reply" if summoned else "post_create")

    def _fault_reply(self, fault: _Fault, rl_headers: dict[str, str]) -> _Reply:
        headers = dict(rl_headers)
        if fault.usage_cap:
            body: JSON = {
                "title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
                "type": PROBLEM_BASE + "usage-capped", "period": "Monthly", "scope": "Product", "status": 429,
            }
            return _Reply(429, body, headers)
        status = fault.status or 503
        if status == 429:
            headers["x-rate-limit-remaining"] = "0"
            if fault.reset_header:
                headers["x-rate-limit-reset"] = str(math.ceil(time.time()) + fault.reset_in_s)
            else:
                headers.pop("x-rate-limit-reset", None)
            return _Reply(429, _problem(429, "Too Many Requests", "Too Many Requests").body, headers)
        if status == 402:
            body = {
                "title": "CreditsDepleted",
                "detail": "Your enrolled account does not have any credits to fulfill this request.",
                "type": PROBLEM_BASE + "credits", "status": 402,
            }
            return _Reply(402, body, headers)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return _Reply(status, _problem(status, phrase, phrase).body, headers)

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, str | None] | None:
        if method == "GET" and path == "/2/tweets/search/recent":
            return "search", None
        if path == "/2/tweets/search/stream" and method == "GET":
            return "stream", None
        if path == "/2/tweets/search/stream/rules" and method in ("GET", "POST"):
            return ("rules" if method == "GET" else "rules_change"), None
        if method == "GET" and path == "/2/users/me":
            return "me", None
        if method == "GET" and path == "/2/tweets":
            return "lookup", None
        if method == "POST" and path == "/2/tweets":
            return "post", None
        m = re.fullmatch(r"/2/users/([^/]+)/(tweets|mentions)", path)
        if m and method == "GET":
            return ("user_tweets" if m.group(2) == "tweets" else "mentions"), m.group(1)
        m = re.fullmatch(r"/2/tweets/([^/]+)", path)
        if m and method in ("GET", "DELETE"):
            return ("tweet" if method == "GET" else "delete"), m.group(1)
        return None

    @staticmethod
    def _auth(headers: dict[str, str]) -> tuple[str | None, str]:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if value.startswith("Bearer ") and value[7:].strip():
            return "app", value[7:].strip()
        if value.startswith("OAuth "):
            # User context: only the access token matters here; signatures are not checked.
            m = re.search(r'oauth_token="([^"]+)"', value)
            if m:
                return "user", m.group(1)
        return None, ""

    # ------------------------------------------------------------------ API operations (lock held)

    def _dispatch(
        self, endpoint: str, path_id: str | None, query: list[tuple[str, str]], body: bytes,
    ) -> tuple[int, JSON]:
        params = dict(query)
        if endpoint == "post":
            return 201, self._op_post(body)
        if endpoint == "delete":
            assert path_id is not None
            return 200, self._op_delete(path_id)
        if endpoint == "search":
            return 200, self._op_search(params)
        if endpoint == "stream":
            return 200, {"__stream__": self._op_stream(params)}
        if endpoint == "rules":
            return 200, self._op_rules(params)
        if endpoint == "rules_change":
            return self._op_rules_change(params, body)
        if endpoint == "me":
            self._check_params(params, {"user.fields", "expansions", "tweet.fields"})
            return 200, {"data": self._render_user(self._users[self.desk_id], _split_csv(params.get("user.fields")))}
        if endpoint in ("user_tweets", "mentions"):
            assert path_id is not None
            return 200, self._op_timeline(endpoint, path_id, params)
        if endpoint == "lookup":
            return 200, self._op_lookup(params)
        assert path_id is not None
        return 200, self._op_tweet(path_id, params)

    @staticmethod
    def _check_params(params: dict[str, str], allowed: set[str] | frozenset[str]) -> None:
        for key, value in params.items():
            if key not in allowed:
                raise _invalid(key, value, f"The query parameter [{key}] is not one of {sorted(allowed)}")
        valid_values = {"tweet.fields": TWEET_FIELDS, "expansions": TWEET_EXPANSIONS, "media.fields": MEDIA_FIELDS}
        for key, valid in valid_values.items():
            if key in params:
                for item in params[key].split(","):
                    if item not in valid:
                        raise _invalid(key, item, f"The `{key}` query parameter value [{item}] is not one of "
                                                   f"{sorted(valid)}")

    @staticmethod
    def _check_id(param: str, value: str) -> int:
        if not re.fullmatch(r"[0-9]{1,19}", value):
            message = f"The `{param}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$"
            raise _invalid(param, value, message)
        return int(value)

    @staticmethod
    def _max_results(params: dict[str, str], low: int, high: int, default: int) -> int:
        raw = params.get("max_results")
        if raw is None:
            return default
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if not low <= n <= high:
            raise _invalid("max_results", raw,
                           f"The `max_results` query parameter value [{raw}] is not between {low} and {high}")
        return n

    def _page(self, candidates: list[_Tweet], params: dict[str, str], size: int, token_param: str) -> JSON:
        lower = self._check_id("since_id", params["since_id"]) if "since_id" in params else None
        upper = self._check_id("until_id", params["until_id"]) if "until_id" in params else None
        start = _parse_time("start_time", params["start_time"]) if "start_time" in params else None
        end = _parse_time("end_time", params["end_time"]) if "end_time" in params else None
        cursor = _decode_cursor(token_param, params[token_param]) if token_param in params else None
        rows = []
        for t in sorted(candidates, key=lambda t: int(t.id), reverse=True):
            n = int(t.id)
            if lower is not None and n <= lower:  # since_id is exclusive
                continue
            if upper is not None and n >= upper:
                continue
            if cursor is not None and n >= cursor:
                continue
            if start is not None and t.created_at < start:
                continue
            if end is not None and t.created_at >= end:
                continue
            rows.append(t)
        page = rows[:size]
        if not page:
            return {"meta": {"result_count": 0}}
        result = self._render_many(page, params)
        meta: JSON = {"newest_id": page[0].id, "oldest_id": page[-1].id, "result_count": len(page)}
        if len(rows) > size:
            # Only when more rows exist: tweepy's Paginator loops forever on a constant next_token.
            meta["next_token"] = _encode_cursor(page[-1].id)
        result["meta"] = meta
        return result

    def _op_search(self, params: dict[str, str]) -> JSON:
        self._check_params(params, {"query", "start_time", "end_time", "since_id", "until_id", "max_results",
                                    "next_token", "pagination_token", "sort_order", *FIELD_PARAMS})
        if not params.get("query"):
            raise _invalid("query", "", "The `query` query parameter can not be empty")
        if len(params["query"]) > 512:
            raise _invalid("query", params["query"], "The `query` query parameter value is too long")
        size = self._max_results(params, 10, 100, 10)
        node = _QueryParser(params["query"]).parse()
        if "pagination_token" in params and "next_token" not in params:
            params["next_token"] = params.pop("pagination_token")
        now = datetime.now(UTC)
        visible_before = now - timedelta(seconds=self.lag_seconds)
        horizon = now - SEARCH_HORIZON
        # Since 2026-05 recent search never returns reposts, whatever the query (is:retweet included).
        candidates = [
            t for t in self._tweets.values()
            if not t.deleted and not t.superseded and t.retweet_of is None
            and horizon <= t.created_at <= visible_before and self._matches(node, t)
        ]
        return self._page(candidates, params, size, "next_token")

    # ------------------------------------------------------------------ filtered stream

    def stream_connected(self) -> bool:
        with self._lock:
            return self._stream is not None and self._stream.end is None

    def stream_disconnect(self, *, clean: bool = True) -> None:
        """End the open stream: with the terminating chunk (clean) or by dropping the socket."""
        self._stream_end("clean" if clean else "abrupt")

    def stream_error(self) -> None:
        """Send an in-stream `operational-disconnect` error object, then close the stream."""
        self._stream_end("error")

    def stream_half_line(self) -> None:
        """Write half of a message line (no newline), then drop the connection."""
        self._stream_end("half")

    def stream_stall(self, seconds: float) -> None:
        """Keep the connection open but send nothing at all (not even keep-alives) for `seconds`."""
        with self._stream_cond:
            if self._stream is not None:
                self._stream.stall_until = time.monotonic() + seconds
                self._stream_cond.notify_all()

    def _stream_end(self, how: str) -> None:
        with self._stream_cond:
            if self._stream is not None and self._stream.end is None:
                self._stream.end = how
                self._stream_cond.notify_all()

    def _op_stream(self, params: dict[str, str]) -> _StreamSession:
        if "backfill_minutes" in params:
            raise _invalid("backfill_minutes", params["backfill_minutes"],
                           "The `backfill_minutes` query parameter is not available to pay-per-use apps")
        self._check_params(params, set(FIELD_PARAMS))
        if self._stream is not None and self._stream.end is None:
            raise _problem(429, "ConnectionException", "This stream is currently at the maximum allowed "
                           "connection limit.", PROBLEM_BASE + "streaming-connection",
                           connection_issue="TooManyConnections")
        self._stream = _StreamSession(params=dict(params))
        return self._stream

    def _stream_offer(self, tweet: _Tweet) -> None:
        """A new post (lock held): queued on the open stream when it matches a rule."""
        session = self._stream
        if session is None or session.end is not None or tweet.deleted:
            return
        matching = [{"id": rid, "tag": tag} if tag is not None else {"id": rid}
                    for rid, (_, tag, node) in self._rules.items() if self._matches(node, tweet)]
        if not matching:
            return
        rendered = self._render_many([tweet], session.params)
        message: JSON = {"data": rendered["data"][0], "matching_rules": matching}
        if rendered.get("includes"):
            message["includes"] = rendered["includes"]
        due = time.monotonic() + self.stream_lag_seconds
        if self.stream_out_of_order:
            # Later posts may overtake earlier ones by up to half a second.
            due += (int(tweet.id) * 7919 % 500) / 1000
        copies = 2 if self.stream_duplicates else 1
        for n in range(copies):
            self._stream_seq += 1
            session.pending.append((due + 0.05 * n, self._stream_seq, message))
        session.pending.sort(key=lambda item: (item[0], item[1]))
        self._stream_cond.notify_all()

    def _stream_next(self, session: _StreamSession) -> tuple[bytes, str | None]:
        """Block until this connection's next chunk: (bytes to write, how the stream ends or None)."""
        with self._stream_cond:
            while True:
                now = time.monotonic()
                if session.end == "error":
                    session.end = "clean"
                    error = {"errors": [{"title": "operational-disconnect", "disconnect_type": "OperationalDisconnect",
                                         "detail": "This stream has been disconnected for operational reasons.",
                                         "type": PROBLEM_BASE + "operational-disconnect"}]}
                    return json.dumps(error).encode() + b"\r\n", None
                if session.end == "half":
                    session.end = "abrupt"
                    line = json.dumps(session.pending.pop(0)[2]).encode() if session.pending else b'{"data":{"id":"1'
                    return line[: max(1, len(line) // 2)], "abrupt"
                if session.end is not None:
                    return b"", session.end
                if now < session.stall_until:
                    self._stream_cond.wait(session.stall_until - now)
                    continue
                if session.pending and session.pending[0][0] <= now:
                    _, _, message = session.pending.pop(0)
                    self._bill_reads("stream", "app", None, {"data": message["data"]})
                    session.last_sent, session.delivered = now, session.delivered + 1
                    return json.dumps(message).encode() + b"\r\n", None
                keep = session.last_sent + self.stream_keepalive_seconds
                if now >= keep:
                    session.last_sent = now
                    return b"\r\n", None
                wake = min(keep, session.pending[0][0]) if session.pending else keep
                self._stream_cond.wait(max(0.001, wake - now))

    def _stream_closed(self, session: _StreamSession) -> None:
        with self._stream_cond:
            if session.end is None:
                session.end = "abrupt"
            if self._stream is session:
                self._stream = None

    # ------------------------------------------------------------------ filtered-stream rules (lock held)

    def stream_rules(self) -> list[JSON]:
        """The app's rules now, oldest first (for tests)."""
        with self._lock:
            return [{"id": i, "value": v, **({"tag": g} if g is not None else {})}
                    for i, (v, g, _) in self._rules.items()]

    def _op_rules(self, params: dict[str, str]) -> JSON:
        self._check_params(params, {"ids", "max_results", "pagination_token"})
        ids = _split_csv(params.get("ids"))
        for rid in ids:
            self._check_id("ids", rid)
        size = self._max_results(params, 1, 1000, 1000)
        rows = [(i, v, g) for i, (v, g, _) in self._rules.items() if not ids or i in ids]
        start = 0
        if params.get("pagination_token"):
            token = params["pagination_token"]
            if not token.isdigit() or int(token) > len(rows):
                raise _invalid("pagination_token", token, "The `pagination_token` query parameter value is invalid")
            start = int(token)
        page = rows[start:start + size]
        meta: JSON = {"sent": _iso(datetime.now(UTC)), "result_count": len(page)}
        if start + size < len(rows):
            meta["next_token"] = str(start + size)
        out: JSON = {"meta": meta}
        if page:
            out["data"] = [{"id": i, "value": v, **({"tag": g} if g is not None else {})} for i, v, g in page]
        return out

    def _op_rules_change(self, params: dict[str, str], body: bytes) -> tuple[int, JSON]:
        self._check_params(params, {"dry_run", "delete_all"})
        dry = params.get("dry_run", "false").lower()
        if dry not in ("true", "false"):
            raise _invalid("dry_run", params["dry_run"], "The `dry_run` query parameter value must be true or false")
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise _problem(400, "Invalid Request", "The request body is not valid JSON.",
                           PROBLEM_BASE + "invalid-request") from None
        if not isinstance(payload, dict) or len(set(payload) & {"add", "delete"}) != 1 or set(payload) - {
                "add", "delete"}:
            raise _problem(400, "Invalid Request", "Exactly one of `add` or `delete` is required.",
                           PROBLEM_BASE + "invalid-request")
        sent = _iso(datetime.now(UTC))
        if "delete" in payload:
            return 200, self._delete_rules(payload["delete"], sent, dry == "true")
        return self._add_rules(payload["add"], sent, dry == "true")

    def _add_rules(self, items: Any, sent: str, dry: bool) -> tuple[int, JSON]:
        if not isinstance(items, list) or not items or not all(isinstance(r, dict) for r in items):
            raise _problem(400, "Invalid Request", "`add` must be a non-empty array of rules.",
                           PROBLEM_BASE + "invalid-request")
        created: list[JSON] = []
        errors: list[JSON] = []
        values = {v: i for i, (v, _, _) in self._rules.items()}
        invalid = 0
        fresh: list[tuple[str, str | None, _Node]] = []
        for item in items:
            value, tag = item.get("value"), item.get("tag")
            if not isinstance(value, str) or (tag is not None and not isinstance(tag, str)) or set(item) - {
                    "value", "tag"}:
                raise _problem(400, "Invalid Request", "Each rule is an object with a string `value` and an "
                               "optional string `tag`.", PROBLEM_BASE + "invalid-request")
            if len(value) > MAX_RULE_CHARS:
                invalid += 1
                errors.append({"value": value, "title": "UnprocessableEntity", "type": PROBLEM_BASE + "invalid-rules",
                               "details": [f"Rule is too long (maximum {MAX_RULE_CHARS} characters)"]})
                continue
            try:
                node = _QueryParser(value).parse()
            except _ApiError as exc:
                invalid += 1
                detail = str((exc.body.get("errors") or [{}])[0].get("message", "invalid rule"))
                errors.append({"value": value, "title": "UnprocessableEntity", "type": PROBLEM_BASE + "invalid-rules",
                               "details": [detail.removeprefix("There were errors processing your request: ")]})
                continue
            if value in values or any(value == v for v, _, _ in fresh):
                errors.append({"value": value, "id": values.get(value, ""), "title": "DuplicateRule",
                               "type": PROBLEM_BASE + "duplicate-rules"})
                continue
            fresh.append((value, tag, node))
        if len(self._rules) + len(fresh) > MAX_RULES:
            raise _problem(400, "RulesCapExceeded", f"Rule creation would exceed the {MAX_RULES} rules this "
                           "app may have.", PROBLEM_BASE + "rule-cap")
        if not invalid:
            # X creates nothing when any rule is invalid; duplicates alone do not stop the others.
            for value, tag, node in fresh:
                rid = str(self._next_rule_id)
                self._next_rule_id += 1
                if not dry:
                    self._rules[rid] = (value, tag, node)
                created.append({"id": rid, "value": value, **({"tag": tag} if tag is not None else {})})
        summary = {"created": len(created), "not_created": len(items) - len(created),
                   "valid": len(items) - invalid, "invalid": invalid}
        out: JSON = {"meta": {"sent": sent, "summary": summary}}
        if created:
            out["data"] = created
        if errors:
            out["errors"] = errors
        return (400 if invalid else 201 if created else 200), out

    def _delete_rules(self, spec: Any, sent: str, dry: bool) -> JSON:
        if not isinstance(spec, dict) or not (spec.get("ids") or spec.get("values")):
            raise _problem(400, "Invalid Request", "`delete` needs `ids` or `values`.",
                           PROBLEM_BASE + "invalid-request")
        wanted_ids = [str(i) for i in spec.get("ids") or []]
        wanted_values = set(spec.get("values") or [])
        targets = [i for i, (v, _, _) in self._rules.items() if i in wanted_ids or v in wanted_values]
        errors = [{"value": i, "title": "RuleNotFound", "detail": "Rule does not exist",
                   "type": PROBLEM_BASE + "resource-not-found"} for i in wanted_ids if i not in self._rules]
        if not dry:
            for i in targets:
                del self._rules[i]
        out: JSON = {"meta": {"sent": sent, "summary": {"deleted": len(targets),
                                                       "not_deleted": len(wanted_ids) + len(wanted_values)
                                                       - len(targets)}}}
        if errors:
            out["errors"] = errors
        return out

    def _op_timeline(self, endpoint: str, user_id: str, params: dict[str, str]) -> JSON:
        allowed = TIMELINE_PARAMS | set(FIELD_PARAMS) | ({"exclude"} if endpoint == "user_tweets" else set())
        self._check_params(params, allowed)
        self._check_id("id", user_id)
        size = self._max_results(params, 5, 100, 10)
        user = self._users.get(user_id)
        if user is None:
            return {"errors": [self._not_found("user", "id", user_id, f"Could not find user with id: [{user_id}].")]}
        exclude = _split_csv(params.get("exclude"))
        if endpoint == "user_tweets":
            candidates = [t for t in self._tweets.values() if t.author_id == user_id
                          and not ("replies" in exclude and t.in_reply_to)
                          and not ("retweets" in exclude and t.retweet_of)]
        else:
            # Mentions anywhere in the full text (a long post's tail too); reposts are never mentions.
            name = user.username.lower()
            candidates = [t for t in self._tweets.values() if t.retweet_of is None
                          and any(m["username"].lower() == name for m in t.mentions)]
        candidates = [t for t in candidates if not t.deleted and not t.superseded]
        return self._page(candidates, params, size, "pagination_token")

    def _op_lookup(self, params: dict[str, str]) -> JSON:
        self._check_params(params, {"ids", *FIELD_PARAMS})
        ids = [i for i in params.get("ids", "").split(",") if i]
        if not ids:
            raise _invalid("ids", "", "The `ids` query parameter can not be empty")
        if len(ids) > 100:
            message = f"The `ids` query parameter value [{len(ids)}] is not between 1 and 100"
            raise _invalid("ids", params["ids"], message)
        for i in ids:
            self._check_id("ids", i)
        found = [self._tweets[i] for i in ids if i in self._tweets and not self._tweets[i].deleted]
        errors = [self._not_found("tweet", "ids", i, f"Could not find tweet with ids: [{i}].")
                  for i in ids if i not in self._tweets or self._tweets[i].deleted]
        result: JSON = self._render_many(found, params) if found else {}
        if errors:
            result["errors"] = errors + result.get("errors", [])
        return result

    def _op_tweet(self, tweet_id: str, params: dict[str, str]) -> JSON:
        self._check_params(params, set(FIELD_PARAMS))
        self._check_id("id", tweet_id)
        tweet = self._tweets.get(tweet_id)
        if tweet is None or tweet.deleted:
            detail = f"Could not find tweet with id: [{tweet_id}]."
            return {"errors": [self._not_found("tweet", "id", tweet_id, detail)]}
        many = self._render_many([tweet], params)
        many["data"] = many["data"][0]
        return many

    def _op_post(self, body: bytes) -> JSON:
        try:
            payload = json.loads(body or b"null")
        except json.JSONDecodeError:
            raise _problem(400, "Invalid Request", "Request body is not valid JSON.",
                           PROBLEM_BASE + "invalid-request") from None
        if not isinstance(payload, dict):
            raise _problem(400, "Invalid Request", INVALID_REQUEST_DETAIL, PROBLEM_BASE + "invalid-request")
        supported = {"text", "reply", "quote_tweet_id", "reply_settings", "for_super_followers_only", "nullcast",
                     "geo", "media", "poll", "card_uri", "direct_message_deep_link", "community_id",
                     "edit_options", "share_with_followers", "made_with_ai", "paid_partnership"}
        for key in payload:
            if key not in supported:
                raise _invalid(key, str(payload[key]), f"The `{key}` field is not one of the allowed fields")
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            raise _invalid("text", str(text), "The `text` field is required and must be a non-empty string")
        parsed = parse_tweet(text)
        if parsed.weightedLength > MAX_WEIGHTED_LENGTH or not parsed.valid:
            raise _invalid("text", text, f"Your Tweet text is too long ({parsed.weightedLength} weighted "
                                         f"characters; the limit is {MAX_WEIGHTED_LENGTH}).")
        reply = payload.get("reply") or {}
        if not isinstance(reply, dict):
            raise _invalid("reply", str(reply), "The `reply` field must be an object")
        in_reply_to = reply.get("in_reply_to_tweet_id")
        quote_of = payload.get("quote_tweet_id")
        for param, ref in (("in_reply_to_tweet_id", in_reply_to), ("quote_tweet_id", quote_of)):
            if ref is None:
                continue
            if not isinstance(ref, str) or not re.fullmatch(r"[0-9]{1,19}", ref):
                raise _invalid(param, str(ref), f"The `{param}` field value [{ref}] does not match ^[0-9]{{1,19}}$")
            target = self._tweets.get(ref)
            if target is None or target.deleted:
                # X answers 400 for a reply to a deleted or invisible post.
                raise _invalid(param, ref, "You attempted to reply to a Tweet that is deleted or not visible to you.")
            if self.reply_restriction and not self._may_engage(target):
                raise _problem(403, "Forbidden", RESTRICTION_DETAIL)
        if any(t.author_id == self.desk_id and not t.deleted and t.raw_text == text for t in self._tweets.values()):
            raise _problem(403, "Forbidden", DUPLICATE_DETAIL)
        tweet = self._create(self._users[self.desk_id], text, in_reply_to=in_reply_to, quote_of=quote_of)
        self._bill_post(text, in_reply_to)
        self._posted.append({
            "id": tweet.id, "text": text, "in_reply_to_tweet_id": in_reply_to,
            "quote_tweet_id": quote_of, "created_at": _iso(tweet.created_at), "deleted": False,
        })
        return {"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}

    def _may_engage(self, target: _Tweet) -> bool:
        """The 2026 self-serve rule: the post mentions the desk, is the desk's, or quotes the desk."""
        if target.author_id == self.desk_id:
            return True
        desk = self.desk_username.lower()
        if any(m["username"].lower() == desk for m in target.mentions):
            return True
        quoted = self._tweets.get(target.quote_of) if target.quote_of else None
        return quoted is not None and quoted.author_id == self.desk_id

    def _op_delete(self, tweet_id: str) -> JSON:
        self._check_id("id", tweet_id)
        tweet = self._tweets.get(tweet_id)
        if tweet is None or tweet.deleted:
            raise _problem(404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].",
                           PROBLEM_BASE + "resource-not-found")
        if tweet.author_id != self.desk_id:
            raise _problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
        self._delete(tweet)
        return {"data": {"deleted": True}}

    @staticmethod
    def _not_found(resource: str, param: str, value: str, detail: str) -> JSON:
        return {"value": value, "detail": detail, "title": "Not Found Error", "resource_type": resource,
                "parameter": param, "resource_id": value, "type": PROBLEM_BASE + "resource-not-found"}

    # ------------------------------------------------------------------ matching and rendering

    def _matches(self, node: _Node, t: _Tweet) -> bool:
        kind = node[0]
        if kind == "and":
            return all(self._matches(n, t) for n in node[1])
        if kind == "or":
            return any(self._matches(n, t) for n in node[1])
        if kind == "not":
            return not self._matches(node[1], t)
        arg: str = node[1]
        author = self._users[t.author_id]
        if kind == "hashtag":
            return any(h["tag"].lower() == arg for h in t.hashtags)
        if kind == "mention":
            return any(m["username"].lower() == arg for m in t.mentions)
        if kind == "from":
            return author.username.lower() == arg.lstrip("@") or author.id == arg
        if kind == "to":
            target = self._users.get(t.in_reply_to_user_id or "")
            return target is not None and target.username.lower() == arg.lstrip("@")
        if kind == "is":
            return {"retweet": t.retweet_of is not None, "reply": t.in_reply_to is not None,
                    "quote": t.quote_of is not None, "verified": author.verified}[arg]
        if kind == "has":
            types = {self._media[k].type for k in t.media_keys}
            return {"media": bool(t.media_keys), "images": "photo" in types,
                    "videos": bool(types & {"video", "animated_gif"}), "links": bool(t.urls),
                    "mentions": bool(t.mentions), "hashtags": bool(t.hashtags), "geo": t.place_id is not None}[arg]
        if kind == "conversation_id":
            return t.conversation_id == arg
        if kind == "in_reply_to_tweet_id":
            return t.in_reply_to == arg
        if kind == "lang":
            return True  # no language detection here; documented limitation
        if kind == "url":
            return any(arg in u["expanded_url"].lower() for u in t.urls)
        # Text terms look at the full text: a long post matches on its tail too.
        full = t.full_text.lower()
        if kind == "phrase":
            return arg in full
        # Plain word: X matches tokens, not substrings.
        words = WORD_RE.findall(arg)
        tokens = set(WORD_RE.findall(full))
        if len(words) == 1 and words[0] == arg:
            return arg in tokens
        return arg in full

    def _render_many(self, tweets: list[_Tweet], params: dict[str, str]) -> JSON:
        fields = _split_csv(params.get("tweet.fields"))
        expansions = _split_csv(params.get("expansions"))
        user_fields = _split_csv(params.get("user.fields"))
        media_fields = _split_csv(params.get("media.fields"))
        place_fields = _split_csv(params.get("place.fields"))
        user_ids: list[str] = []
        media: list[str] = []
        places: list[str] = []
        ref_tweets: list[_Tweet] = []
        errors: list[JSON] = []

        def want_user(uid: str | None) -> None:
            if uid and uid in self._users and uid not in user_ids:
                user_ids.append(uid)

        for t in tweets:
            if "author_id" in expansions:
                want_user(t.author_id)
            if "in_reply_to_user_id" in expansions:
                want_user(t.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                for m in t.text_entities["mentions"]:
                    want_user(m.get("id"))
            if "entities.note.mentions.username" in expansions and t.is_note:
                for m in t.mentions:
                    want_user(m.get("id"))
            if "attachments.media_keys" in expansions:
                # A "missing" key stays in attachments but X leaves it out of includes.media.
                media.extend(k for k in t.media_keys if k not in media and not self._media[k].missing)
            if "geo.place_id" in expansions and t.place_id and t.place_id not in places:
                places.append(t.place_id)
            if "referenced_tweets.id" in expansions or "referenced_tweets.id.author_id" in expansions:
                for ref in (t.retweet_of, t.in_reply_to, t.quote_of):
                    if ref is None:
                        continue
                    target = self._tweets.get(ref)
                    if target is None or target.deleted:
                        detail = f"Could not find tweet with referenced_tweets.id: [{ref}]."
                        errors.append(self._not_found("tweet", "referenced_tweets.id", ref, detail))
                        continue
                    if "referenced_tweets.id.author_id" in expansions:
                        want_user(target.author_id)
                    if "referenced_tweets.id" in expansions and target not in ref_tweets:
                        ref_tweets.append(target)
        metrics = self._engagement() if "public_metrics" in fields else None
        result: JSON = {"data": [self._render_tweet(t, fields, expansions, metrics) for t in tweets]}
        includes: JSON = {}
        if user_ids:
            includes["users"] = [self._render_user(self._users[u], user_fields) for u in user_ids]
        if media:
            includes["media"] = [self._render_media(k, media_fields) for k in media]
        if places:
            includes["places"] = [self._render_place(p, place_fields) for p in places]
        if ref_tweets:
            includes["tweets"] = [self._render_tweet(t, fields, expansions, metrics) for t in ref_tweets]
        if includes:
            result["includes"] = includes
        if errors:
            result["errors"] = errors
        return result

    def _engagement(self) -> dict[str, list[int]]:
        """[replies, reposts, quotes] per tweet id, in one pass: a page of 100 must not scan every tweet
        100 times (the benches run the sandbox with thousands of tweets)."""
        counts: dict[str, list[int]] = {}
        for o in self._tweets.values():
            if o.deleted:
                continue
            if o.in_reply_to:
                counts.setdefault(o.in_reply_to, [0, 0, 0])[0] += 1
            if o.retweet_of:
                counts.setdefault(o.retweet_of, [0, 0, 0])[1] += 1
            if o.quote_of and not o.superseded:
                counts.setdefault(o.quote_of, [0, 0, 0])[2] += 1
        return counts

    def _render_tweet(self, t: _Tweet, fields: set[str], expansions: set[str],
                      metrics: dict[str, list[int]] | None = None) -> JSON:
        # Like X: an expansion implies its source field even when tweet.fields does not name it.
        want = set(fields)
        implied = {"author_id": "author_id", "in_reply_to_user_id": "in_reply_to_user_id",
                   "attachments.media_keys": "attachments", "geo.place_id": "geo",
                   "referenced_tweets.id": "referenced_tweets", "referenced_tweets.id.author_id": "referenced_tweets",
                   "entities.mentions.username": "entities", "entities.note.mentions.username": "note_tweet"}
        want.update(v for k, v in implied.items() if k in expansions)
        # Like X, the text goes out with &, < and > as HTML entities (clients must unescape them).
        out: JSON = {"id": t.id, "text": _x_escape(t.text), "edit_history_tweet_ids": list(t.edit_history)}
        if "author_id" in want:
            out["author_id"] = t.author_id
        if "created_at" in want:
            out["created_at"] = _iso(t.created_at)
        if "conversation_id" in want:
            out["conversation_id"] = t.conversation_id
        if "entities" in want:
            entities = self._render_entities(t.text_entities)
            if entities:
                out["entities"] = entities
        if "note_tweet" in want and t.is_note:
            note: JSON = {"text": _x_escape(t.full_text)}
            full = self._render_entities({"hashtags": t.hashtags, "mentions": t.mentions, "urls": t.urls,
                                          "cashtags": t.cashtags})
            if full:
                note["entities"] = full  # indices relative to the full text
            out["note_tweet"] = note
        if "referenced_tweets" in want:
            refs = [{"type": "retweeted", "id": t.retweet_of}] if t.retweet_of else []
            refs += [{"type": "replied_to", "id": t.in_reply_to}] if t.in_reply_to else []
            refs += [{"type": "quoted", "id": t.quote_of}] if t.quote_of else []
            if refs:
                out["referenced_tweets"] = refs
        if "in_reply_to_user_id" in want and t.in_reply_to_user_id:
            out["in_reply_to_user_id"] = t.in_reply_to_user_id
        if "reply_settings" in want:
            out["reply_settings"] = "everyone"
        if "attachments" in want and t.media_keys:
            out["attachments"] = {"media_keys": list(t.media_keys)}
        if "geo" in want and t.place_id:
            out["geo"] = {"place_id": t.place_id}
        if "lang" in want:
            out["lang"] = "und"
        if "possibly_sensitive" in want:
            out["possibly_sensitive"] = False
        if "public_metrics" in want:
            replies, reposts, quotes = (metrics if metrics is not None else self._engagement()).get(t.id, [0, 0, 0])
            out["public_metrics"] = {"retweet_count": reposts, "reply_count": replies, "like_count": 0,
                                     "quote_count": quotes, "bookmark_count": 0, "impression_count": 0}
        if "edit_controls" in want:
            until = t.created_at + timedelta(hours=1)
            eligible = t.in_reply_to is None and t.retweet_of is None
            out["edit_controls"] = {"is_edit_eligible": eligible, "editable_until": _iso(until),
                                    "edits_remaining": max(0, 6 - len(t.edit_history))}
        return out

    def _render_user(self, u: _User, fields: set[str]) -> JSON:
        out: JSON = {"id": u.id, "name": u.name, "username": u.username}
        if "verified" in fields:
            out["verified"] = u.verified
        if "location" in fields and u.location:
            out["location"] = u.location
        if "created_at" in fields:
            out["created_at"] = _iso(u.created_at)
        if "description" in fields:
            out["description"] = ""
        if "protected" in fields:
            out["protected"] = False
        if "profile_image_url" in fields:
            out["profile_image_url"] = f"https://pbs.twimg.com/profile_images/{u.id}/avatar_normal.jpg"
        return out

    @staticmethod
    def _render_entities(entities: dict[str, list[JSON]]) -> JSON:
        # The spec gives every entity list minItems 1, so empty kinds are left out.
        order = ("hashtags", "mentions", "urls", "cashtags")
        return {k: [dict(e) for e in entities[k]] for k in order if entities.get(k)}

    def _render_media(self, key: str, fields: set[str]) -> JSON:
        m = self._media[key]
        number = key.split("_", 1)[1]
        slug = key.replace("_", "x")
        out: JSON = {"media_key": key, "type": m.type}
        if m.type == "photo":
            width, height = 1200, 900
            if "url" in fields:
                out["url"] = m.url or f"https://pbs.twimg.com/media/{slug}.jpg"
        elif m.type == "video":
            width, height = 1280, 720
            if "preview_image_url" in fields:
                out["preview_image_url"] = m.url or f"https://pbs.twimg.com/ext_tw_video_thumb/{number}/pu/img/{slug}.jpg"
            if "duration_ms" in fields:
                out["duration_ms"] = 15000
            if "variants" in fields:
                base = f"https://video.twimg.com/ext_tw_video/{number}/pu"
                out["variants"] = [
                    {"bit_rate": 256000, "content_type": "video/mp4", "url": f"{base}/vid/avc1/480x270/{slug}.mp4"},
                    {"bit_rate": 832000, "content_type": "video/mp4", "url": f"{base}/vid/avc1/640x360/{slug}.mp4"},
                    {"bit_rate": 2176000, "content_type": "video/mp4", "url": f"{base}/vid/avc1/1280x720/{slug}.mp4"},
                    # The HLS playlist carries no bit_rate on X.
                    {"content_type": "application/x-mpegURL", "url": f"{base}/pl/{slug}.m3u8?tag=12"},
                ]
            if "public_metrics" in fields:
                out["public_metrics"] = {"view_count": 0}
        else:  # animated_gif: X serves it as a single silent mp4 with bit_rate 0
            width, height = 498, 280
            if "preview_image_url" in fields:
                out["preview_image_url"] = m.url or f"https://pbs.twimg.com/tweet_video_thumb/{slug}.jpg"
            if "variants" in fields:
                out["variants"] = [{"bit_rate": 0, "content_type": "video/mp4",
                                    "url": f"https://video.twimg.com/tweet_video/{slug}.mp4"}]
        if "alt_text" in fields and m.alt_text is not None:
            out["alt_text"] = m.alt_text
        if "width" in fields:
            out["width"] = width
        if "height" in fields:
            out["height"] = height
        return out

    def _render_place(self, place_id: str, fields: set[str]) -> JSON:
        full = self._places[place_id]
        out: JSON = {"id": place_id, "full_name": full}
        if "name" in fields:
            out["name"] = full.split(",")[0].strip()
        if "country" in fields:
            out["country"] = "Indonesia"
        if "country_code" in fields:
            out["country_code"] = "ID"
        if "place_type" in fields:
            out["place_type"] = "city"
        return out

    # ------------------------------------------------------------------ control over HTTP

    def _handle_control(self, method: str, path: str, body: bytes) -> _Reply:
        try:
            payload = json.loads(body) if body else {}
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            if method == "POST" and path == "/_sandbox/tweets":
                if isinstance(payload.get("created_at"), str):
                    payload["created_at"] = _parse_time("created_at", payload["created_at"])
                return _Reply(200, {"id": self.add_tweet(**payload)})
            m = re.fullmatch(r"/_sandbox/tweets/([0-9]+)", path)
            if method == "DELETE" and m:
                self.delete_tweet(m.group(1))
                return _Reply(200, {"deleted": True})
            if method == "POST" and path == "/_sandbox/reposts":
                return _Reply(200, {"id": self.repost(str(payload["username"]), str(payload["tweet_id"]))})
            m = re.fullmatch(r"/_sandbox/reposts/([0-9]+)", path)
            if method == "DELETE" and m:
                self.unrepost(m.group(1))
                return _Reply(200, {"deleted": True})
            if method == "GET" and path == "/_sandbox/usage":
                return _Reply(200, self.usage())
            if method == "GET" and path == "/_sandbox/posted":
                return _Reply(200, self.posted())
            if method == "GET" and path == "/_sandbox/calls":
                return _Reply(200, self.calls())
            if method == "POST" and path == "/_sandbox/faults":
                self.fault(**payload)
                return _Reply(200, {"ok": True})
            if method == "DELETE" and path == "/_sandbox/faults":
                self.clear_faults()
                return _Reply(200, {"ok": True})
            if method == "POST" and path == "/_sandbox/outage":
                self.set_outage(bool(payload.get("on", True)))
                return _Reply(200, {"ok": True})
            if method == "POST" and path == "/_sandbox/config":
                self.configure(payload)
                return _Reply(200, {"ok": True})
            if method == "GET" and path == "/_sandbox/stream":
                return _Reply(200, {"connected": self.stream_connected(), "rules": self.stream_rules()})
            if method == "POST" and path == "/_sandbox/stream":
                # Injected stream faults: disconnect (clean end), drop (socket closed), error (in-stream
                # operational-disconnect), half (half a line, then dropped), stall {"seconds": n} (open, silent).
                action = str(payload.get("action", ""))
                actions: dict[str, Callable[[], None]] = {
                    "disconnect": self.stream_disconnect, "drop": lambda: self.stream_disconnect(clean=False),
                    "error": self.stream_error, "half": self.stream_half_line,
                    "stall": lambda: self.stream_stall(float(payload.get("seconds", 30))),
                }
                if action not in actions:
                    raise ValueError(f"action must be one of {sorted(actions)}")
                actions[action]()
                return _Reply(200, {"ok": True})
            if method == "POST" and path == "/_sandbox/reset":
                self.reset(everything=bool(payload.get("everything", False)))
                return _Reply(200, {"ok": True})
            if method == "GET" and path == "/_sandbox/state":
                return _Reply(200, {"url": self.url, "desk_id": self.desk_id, "desk_username": self.desk_username,
                                    "lag_seconds": self.lag_seconds, "reply_restriction": self.reply_restriction})
        except KeyError as exc:
            return _Reply(404, {"error": f"not found: {exc}"})
        except (TypeError, ValueError, _ApiError) as exc:
            return _Reply(400, {"error": str(exc) if not isinstance(exc, _ApiError) else exc.body})
        return _Reply(404, {"error": f"no control endpoint {method} {path}"})


def serve_forever(port: int, lag_seconds: float) -> None:
    """Run a sandbox in the foreground until Ctrl-C (wired to `kemala sandbox x`)."""
    sandbox = XSandbox(lag_seconds=lag_seconds)
    url = sandbox.start(port)
    print(f"X sandbox listening on {url} (desk @{sandbox.desk_username}, id {sandbox.desk_id}, "
          f"lag {lag_seconds:g}s); control API under {url}/_sandbox/", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
