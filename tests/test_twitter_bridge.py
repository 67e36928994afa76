"""XBridge against the X API sandbox (real tweepy over HTTP), plus its pure helpers."""

from __future__ import annotations

import copy
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import pytest

from bot.logsafe import RedactSecrets
from bot.twitter_bridge import (
    PostKind,
    XBridge,
    XPaymentRequired,
    XRateLimited,
    XTweet,
    XUnauthorized,
    XUnavailable,
    XUsageCapped,
    normalise_text,
    parse_page,
    parse_tweets,
    reply_target,
    tweet_url,
)

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

# ---------------------------------------------------------------------------------------------
# Pure helpers

PAYLOAD: dict[str, Any] = {
    "data": [
        {
            "id": "1900000000000000002",
            "text": "@KemalaDesk @dinas_pu jalan rusak di Jl. Pemuda https://t.co/abc #KemalaJateng https://t.co/pic",
            "author_id": "111",
            "created_at": "2026-03-02T08:15:30.000Z",
            "conversation_id": "1900000000000000001",
            "referenced_tweets": [{"type": "replied_to", "id": "1900000000000000001"}],
            "in_reply_to_user_id": "111",
            "entities": {
                "mentions": [
                    {"start": 0, "end": 11, "username": "KemalaDesk", "id": "999"},
                    {"start": 12, "end": 21, "username": "Dinas_PU", "id": "555"},
                ],
                "hashtags": [{"start": 70, "end": 83, "tag": "KemalaJateng"}],
                "urls": [
                    {"start": 47, "end": 70, "url": "https://t.co/abc", "expanded_url": "https://maps.app/xyz"},
                    {
                        "start": 84,
                        "end": 107,
                        "url": "https://t.co/pic",
                        "expanded_url": "https://x.com/warga/status/1900000000000000002/photo/1",
                        "media_key": "3_1",
                    },
                ],
            },
            "attachments": {"media_keys": ["3_1", "7_2"]},
            "geo": {"place_id": "p1"},
            "edit_history_tweet_ids": ["1900000000000000002"],
            "reply_settings": "everyone",
        },
        {
            "id": "1900000000000000001",
            "text": "RT @someone: banjir lagi",
            "author_id": "222",
            "created_at": "2026-03-02T08:00:00.000Z",
            "conversation_id": "1900000000000000001",
            "referenced_tweets": [{"type": "retweeted", "id": "1800"}, {"type": "quoted", "id": "1700"}],
            "edit_history_tweet_ids": ["1900000000000000001"],
        },
    ],
    "includes": {
        "users": [
            {"id": "111", "username": "warga", "name": "Warga Semarang", "verified": True, "location": "Semarang"},
            {"id": "222", "username": "tetangga", "name": "Tetangga"},
        ],
        "media": [
            {"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/media/a.jpg"},
            {"media_key": "7_2", "type": "video", "preview_image_url": "https://pbs.twimg.com/v.jpg"},
        ],
        "places": [{"id": "p1", "full_name": "Semarang, Jawa Tengah", "name": "Semarang"}],
    },
    "meta": {"newest_id": "1900000000000000002", "result_count": 2},
}


def test_parse_page_resolves_author_media_place_and_references() -> None:
    tweets, skipped = parse_page(PAYLOAD)
    assert skipped == []
    first, second = tweets
    assert first.id == "1900000000000000002"
    assert (first.author_username, first.author_name, first.author_verified) == ("warga", "Warga Semarang", True)
    assert first.author_location == "Semarang"
    assert first.created_at == datetime(2026, 3, 2, 8, 15, 30, tzinfo=UTC)
    assert first.conversation_id == "1900000000000000001"
    assert first.in_reply_to_tweet_id == "1900000000000000001"
    assert first.mentions == ("kemaladesk", "dinas_pu")
    assert first.hashtags == ("KemalaJateng",)
    assert first.urls == ("https://maps.app/xyz",)  # the photo link lives in photo_urls
    assert first.photo_urls == ("https://pbs.twimg.com/media/a.jpg",)
    assert first.place_name == "Semarang, Jawa Tengah"
    assert first.edit_history_ids == ("1900000000000000002",)
    assert first.reply_settings == "everyone"
    assert first.raw["author"]["id"] == "111"
    assert [m["media_key"] for m in first.raw["media"]] == ["3_1", "7_2"]
    assert not first.is_retweet and first.quoted_tweet_id is None
    assert second.is_retweet and second.quoted_tweet_id == "1700"
    assert second.in_reply_to_tweet_id is None
    assert (second.mentions, second.urls, second.photo_urls, second.place_name) == ((), (), (), None)
    assert second.author_verified is False and second.author_location is None


@pytest.mark.parametrize(
    ("mutate", "reason_part"),
    [
        (lambda t: t.pop("id"), "id"),
        (lambda t: t.update(id=12345), "id"),
        (lambda t: t.pop("text"), "text"),
        (lambda t: t.pop("author_id"), "author_id"),
        (lambda t: t.update(author_id="404"), "author"),
        (lambda t: t.pop("created_at"), "created_at"),
        (lambda t: t.update(created_at="yesterday"), ""),
    ],
)
def test_a_malformed_tweet_is_skipped_not_fatal(mutate: Any, reason_part: str) -> None:
    payload = copy.deepcopy(PAYLOAD)
    mutate(payload["data"][0])
    tweets, skipped = parse_page(payload)
    assert [t.id for t in tweets] == ["1900000000000000001"]
    assert len(skipped) == 1 and reason_part in skipped[0][1]


def test_partial_optional_fields_are_tolerated() -> None:
    payload = copy.deepcopy(PAYLOAD)
    t = payload["data"][0]
    t["entities"] = {"mentions": [{"start": 0}, "junk"], "hashtags": None, "urls": [{"url": "https://t.co/x"}]}
    t["attachments"] = {"media_keys": ["missing", 7]}
    t["geo"] = {"place_id": "nowhere"}
    t["referenced_tweets"] = [{"type": "replied_to"}, None]
    del t["conversation_id"], t["edit_history_tweet_ids"], t["reply_settings"]
    payload["includes"]["users"][0] = {"id": "111", "username": "warga"}
    payload["includes"]["media"] = "not a list"
    (tweet, _), skipped = parse_page(payload)
    assert skipped == []
    assert tweet.mentions == () and tweet.hashtags == () and tweet.urls == ("https://t.co/x",)
    assert tweet.photo_urls == () and tweet.place_name is None and tweet.in_reply_to_tweet_id is None
    assert tweet.conversation_id == tweet.id  # a tweet with no conversation id starts its own
    assert tweet.author_name == "warga" and tweet.edit_history_ids == ()


@pytest.mark.parametrize("payload", [{}, {"meta": {"result_count": 0}}, {"data": "x"}, {"data": [1, None]}])
def test_empty_or_garbage_payloads_give_no_tweets(payload: dict[str, Any]) -> None:
    assert parse_tweets(payload) == []


def _tweet(tid: str, author: str, minute: int, mentions: tuple[str, ...] = ()) -> XTweet:
    return XTweet(
        id=tid,
        text="t",
        author_id=author,
        author_username=f"u{author}",
        author_name="n",
        author_verified=False,
        author_location=None,
        created_at=datetime(2026, 3, 1, 10, minute, tzinfo=UTC),
        conversation_id="1",
        in_reply_to_tweet_id=None,
        quoted_tweet_id=None,
        is_retweet=False,
        mentions=mentions,
        hashtags=(),
        urls=(),
        photo_urls=(),
        place_name=None,
        edit_history_ids=(tid,),
        reply_settings=None,
        raw={},
    )


def test_reply_target_prefers_the_citizens_latest_tweet_mentioning_the_desk() -> None:
    convo = [
        _tweet("1", "c", 0),
        _tweet("2", "c", 1, ("kemaladesk",)),
        _tweet("3", "other", 2, ("kemaladesk",)),
        _tweet("5", "c", 4),
        _tweet("4", "c", 3, ("kemaladesk", "dinas")),
    ]
    assert reply_target(convo, citizen_id="c", desk_username="@KemalaDesk", policy="mention_required") == ("4", True)


@pytest.mark.parametrize(("policy", "eligible"), [("mention_required", False), ("unrestricted", True)])
def test_reply_target_falls_back_to_the_original(policy: str, eligible: bool) -> None:
    convo = [_tweet("7", "c", 5), _tweet("6", "c", 1), _tweet("8", "other", 0, ("kemaladesk",))]
    assert reply_target(convo, citizen_id="c", desk_username="KemalaDesk", policy=policy) == ("6", eligible)


def test_reply_target_needs_a_citizen_tweet() -> None:
    with pytest.raises(ValueError):
        reply_target([_tweet("1", "x", 0)], citizen_id="c", desk_username="KemalaDesk", policy="unrestricted")


def test_search_query_and_tweet_url() -> None:
    assert XBridge.search_query("#KemalaJateng", "KemalaDesk") == (
        "#KemalaJateng -@KemalaDesk -is:retweet -from:KemalaDesk"
    )
    assert XBridge.search_query("KemalaJateng", "@KemalaDesk") == (
        "#KemalaJateng -@KemalaDesk -is:retweet -from:KemalaDesk"
    )
    assert XBridge.search_query("KemalaJateng", None) == "#KemalaJateng -is:retweet"
    assert tweet_url("warga", "123") == "https://x.com/warga/status/123"


def test_normalise_text_survives_x_storage() -> None:
    sent = "Terima kasih  & mohon cek https://jatengprov.go.id/lapor <segera>"
    stored = "@warga Terima kasih &amp; mohon cek https://t.co/AbC123 &lt;segera&gt;"
    assert normalise_text(sent) == normalise_text(stored)
    assert normalise_text("Sudah ditangani") != normalise_text("Sudah ditangani.")


def test_redact_secrets_scrubs_raw_encoded_and_header_values() -> None:
    f = RedactSecrets(["AAAA%2Fbearer=", "ck-key", "", "ab"])
    record = logging.LogRecord(
        "tweepy.client",
        logging.DEBUG,
        __file__,
        1,
        "Headers: %s token %s %s",
        ({"Authorization": "Bearer AAAA%2Fbearer="}, "AAAA%252Fbearer%253D", 'OAuth oauth_signature="sig%3D"'),
        None,
    )
    assert f.filter(record)
    text = record.getMessage()
    assert "AAAA" not in text and "bearer" not in text and "sig%3D" not in text
    assert "ab" in f.redact("ab stays: too short to be a secret")


# ---------------------------------------------------------------------------------------------
# Against the sandbox: real tweepy, real HTTP

BEARER = "AAAAAAAAAAAAAAAAAAAAAKemala%2FBearer%3DToken42"
CONSUMER_KEY = "ckKemalaConsumerKey01"
CONSUMER_SECRET = "csKemalaConsumerSecret02"
ACCESS_TOKEN = "1500000000000000001-atKemalaAccess03"
ACCESS_SECRET = "asKemalaAccessSecret04"
SECRETS = [BEARER, CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_SECRET]
QUERY = XBridge.search_query("KemalaJateng", "KemalaDesk")


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[Any]:
    x = pytest.importorskip("bot.sandbox.x")
    sandbox = x.XSandbox(desk_username="KemalaDesk", lag_seconds=0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sb(sandbox_server: Any) -> Any:
    # One server per module (stopping one costs half a second); a clean slate per test.
    sandbox_server.reset(everything=True)
    sandbox_server.configure({"revoked_tokens": [], "reply_restriction": True})
    return sandbox_server


def make_bridge(url: str, *, timeout: float = 5.0, **overrides: str) -> XBridge:
    creds = {
        "bearer_token": BEARER,
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "access_token": ACCESS_TOKEN,
        "access_token_secret": ACCESS_SECRET,
    }
    creds.update(overrides)
    return XBridge(api_url=url, timeout=timeout, **creds)


@pytest.fixture
def bridge(sb: Any) -> XBridge:
    return make_bridge(sb.url)


def citizen_tweet(sb: Any, text: str = "Jalan rusak di Jl. Pemuda #KemalaJateng @KemalaDesk", **kw: Any) -> str:
    return str(sb.add_tweet(username=kw.pop("username", "warga_smg"), text=text, **kw))


def test_me_is_the_desk_account(sb: Any, bridge: XBridge) -> None:
    account = bridge.me()
    assert (account.id, account.username) == (sb.desk_id, "KemalaDesk")
    assert sb.calls()[-1]["auth"] == "user"


def test_search_paginates_250_tweets_each_once_then_since_id(sb: Any, bridge: XBridge) -> None:
    ids = {citizen_tweet(sb, f"Keluhan nomor {i} #KemalaJateng", username=f"warga{i % 7}") for i in range(250)}
    citizen_tweet(sb, "tidak relevan sama sekali")
    sb.add_tweet(username="KemalaDesk", text="Balasan desk #KemalaJateng")  # -from: keeps our own posts out
    seen: list[str] = []
    token: str | None = None
    newest: str | None = None
    pages = 0
    while True:
        page = bridge.search_page(QUERY, since_id=None, next_token=token)
        pages += 1
        newest = newest or page.newest_id
        seen += [t.id for t in page.tweets]
        token = page.next_token
        if token is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 250 and set(seen) == ids
    assert newest == max(ids, key=int)
    assert all(call["auth"] == "app" for call in sb.calls())

    fresh = [citizen_tweet(sb, f"baru {i} #KemalaJateng") for i in range(3)]
    page = bridge.search_page(QUERY, since_id=newest, next_token=None)
    assert sorted(t.id for t in page.tweets) == sorted(fresh) and page.next_token is None
    assert bridge.search_page(QUERY, since_id=page.newest_id, next_token=None).tweets == []


def test_search_parses_users_media_mentions_and_replies(sb: Any, bridge: XBridge) -> None:
    root = citizen_tweet(
        sb,
        "Banjir di Kaligawe #KemalaJateng @KemalaDesk @dinas_pu https://example.com/foto",
        name="Warga Semarang",
        location="Semarang",
        verified=True,
        photos=2,
        place="Semarang, Jawa Tengah",
    )
    reply = citizen_tweet(sb, "masih banjir #KemalaJateng", in_reply_to=root)
    # The desk's own query leaves posts that mention it to the mentions timeline; this one reads both.
    by_id = {t.id: t for t in bridge.search_page("#KemalaJateng -is:retweet", since_id=None,
                                                 next_token=None).tweets}
    first, second = by_id[root], by_id[reply]
    assert (first.author_username, first.author_name, first.author_verified, first.author_location) == (
        "warga_smg",
        "Warga Semarang",
        True,
        "Semarang",
    )
    assert first.mentions == ("kemaladesk", "dinas_pu") and first.hashtags == ("KemalaJateng",)
    assert first.urls == ("https://example.com/foto",)
    assert len(first.photo_urls) == 2 and all(u.startswith("https://") for u in first.photo_urls)
    assert first.place_name == "Semarang, Jawa Tengah"
    assert first.created_at.tzinfo is not None and first.edit_history_ids == (root,)
    assert first.conversation_id == root and first.in_reply_to_tweet_id is None
    assert first.raw["author"]["username"] == "warga_smg" and len(first.raw["media"]) == 2
    assert second.in_reply_to_tweet_id == root and second.conversation_id == root
    assert reply_target(
        [first, second], citizen_id=first.author_id, desk_username="KemalaDesk", policy="mention_required"
    ) == (root, True)


def test_post_reply_success_counts_a_post_with_url(sb: Any, bridge: XBridge) -> None:
    target = citizen_tweet(sb)
    outcome = bridge.post("Terima kasih, sudah diteruskan. Info: https://jatengprov.go.id", in_reply_to=target)
    assert outcome.kind is PostKind.POSTED and outcome.tweet_id
    assert sb.posted()[0]["id"] == outcome.tweet_id and sb.posted()[0]["in_reply_to_tweet_id"] == target
    assert sb.calls()[-1]["auth"] == "user"
    usage = bridge.usage.drain()
    assert (usage["posts_created"], usage["posts_with_url"], usage["requests"]) == (1, 1, 1)
    assert bridge.usage.drain()["requests"] == 0  # drained deltas start again from zero


@pytest.mark.parametrize("in_reply_to_root", [True, False])
def test_duplicate_is_unknown_and_reconciles_to_the_earlier_post(
    sb: Any, bridge: XBridge, in_reply_to_root: bool
) -> None:
    target = citizen_tweet(sb) if in_reply_to_root else None
    text = "Laporan diterima & diteruskan ke DPU: https://jatengprov.go.id/lapor"
    first = bridge.post(text, in_reply_to=target)
    again = bridge.post(text, in_reply_to=target)
    assert first.kind is PostKind.POSTED
    assert again.kind is PostKind.UNKNOWN and again.duplicate and again.tweet_id is None
    assert bridge.find_own_reply(in_reply_to=target, text=text) == first.tweet_id
    # The same text under another tweet is not the post we are looking for.
    other = citizen_tweet(sb, "keluhan lain @KemalaDesk")
    assert bridge.find_own_reply(in_reply_to=other, text=text) is None
    assert len(sb.posted()) == 1


def test_reply_restriction_is_rejected_as_not_mentioned(sb: Any, bridge: XBridge) -> None:
    target = citizen_tweet(sb, "Jalan rusak #KemalaJateng")
    outcome = bridge.post("Terima kasih", in_reply_to=target)
    assert (outcome.kind, outcome.reason) == (PostKind.REJECTED, "not_mentioned")
    assert sb.posted() == []


def test_deleted_target_is_rejected(sb: Any, bridge: XBridge) -> None:
    target = citizen_tweet(sb)
    sb.delete_tweet(target)
    outcome = bridge.post("Terima kasih", in_reply_to=target)
    assert outcome.kind is PostKind.REJECTED and outcome.reason.startswith("target_gone")


def test_other_400_is_rejected_with_xs_specific_message(sb: Any, bridge: XBridge) -> None:
    outcome = bridge.post("Terima kasih", in_reply_to="not-an-id")
    assert outcome.kind is PostKind.REJECTED
    assert outcome.reason.startswith("http_400: ") and "in_reply_to_tweet_id" in outcome.reason


def test_too_long_is_rejected_without_calling_x(sb: Any, bridge: XBridge) -> None:
    outcome = bridge.post("a" * 281, in_reply_to=None)
    assert (outcome.kind, outcome.reason) == (PostKind.REJECTED, "too_long")
    assert bridge.post("   ", in_reply_to=None).kind is PostKind.REJECTED
    assert sb.calls() == [] and bridge.usage.snapshot()["requests"] == 0
    # 140 CJK characters weigh 280: still allowed.
    assert bridge.post("日" * 140, in_reply_to=None).kind is PostKind.POSTED


@pytest.mark.parametrize("reset_header", [True, False])
def test_429_is_retry_later_with_reset_from_the_header(sb: Any, bridge: XBridge, reset_header: bool) -> None:
    sb.fault(endpoint="post", status=429, reset_header=reset_header, reset_in_s=60)
    outcome = bridge.post("Terima kasih", in_reply_to=None)
    assert outcome.kind is PostKind.RETRY_LATER and outcome.reason == "rate_limited"
    if reset_header:
        assert outcome.retry_at is not None
        assert timedelta(seconds=50) < outcome.retry_at - datetime.now(UTC) < timedelta(seconds=70)
    else:
        assert outcome.retry_at is None
    sb.fault(endpoint="search", status=429, reset_header=reset_header)
    with pytest.raises(XRateLimited) as err:
        bridge.search_page(QUERY, since_id=None, next_token=None)
    assert (err.value.reset_at is not None) is reset_header and err.value.status == 429


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_post_is_unknown(sb: Any, bridge: XBridge, status: int) -> None:
    sb.fault(endpoint="post", status=status)
    outcome = bridge.post("Terima kasih", in_reply_to=None)
    assert outcome.kind is PostKind.UNKNOWN and not outcome.duplicate
    assert bridge.find_own_reply(in_reply_to=None, text="Terima kasih") is None  # so the retry is safe
    assert bridge.post("Terima kasih", in_reply_to=None).kind is PostKind.POSTED
    sb.fault(endpoint="search", status=status)
    with pytest.raises(XUnavailable):
        bridge.search_page(QUERY, since_id=None, next_token=None)


def test_5xx_after_commit_reconciles_to_the_created_tweet(sb: Any, bridge: XBridge) -> None:
    target = citizen_tweet(sb)
    sb.fault(endpoint="post", status=503, after_commit=True)
    outcome = bridge.post("Sudah ditindaklanjuti", in_reply_to=target)
    assert outcome.kind is PostKind.UNKNOWN
    assert bridge.find_own_reply(in_reply_to=target, text="Sudah ditindaklanjuti") == sb.posted()[0]["id"]


@pytest.mark.parametrize("after_commit", [False, True])
def test_timeout_is_unknown_and_reconciles(sb: Any, after_commit: bool) -> None:
    bridge = make_bridge(sb.url, timeout=0.5)
    target = citizen_tweet(sb)
    sb.fault(endpoint="post", timeout_s=1.0, after_commit=after_commit)
    outcome = bridge.post("Petugas menuju lokasi", in_reply_to=target)
    assert outcome.kind is PostKind.UNKNOWN and outcome.reason.startswith("no_response")
    found = bridge.find_own_reply(in_reply_to=target, text="Petugas menuju lokasi")
    assert found == (sb.posted()[0]["id"] if after_commit else None)


def test_timeout_on_search_is_unavailable(sb: Any) -> None:
    bridge = make_bridge(sb.url, timeout=0.5)
    sb.fault(endpoint="search", timeout_s=1.0)
    with pytest.raises(XUnavailable):
        bridge.search_page(QUERY, since_id=None, next_token=None)


def test_connection_refused_is_retry_later() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bridge = make_bridge(f"http://127.0.0.1:{port}", timeout=0.5)
    outcome = bridge.post("Terima kasih", in_reply_to=None)
    assert outcome.kind is PostKind.RETRY_LATER and outcome.reason.startswith("unreachable")
    with pytest.raises(XUnavailable):
        bridge.me()


def test_outage(sb: Any, bridge: XBridge) -> None:
    sb.set_outage(True)
    with pytest.raises(XUnavailable):
        bridge.search_page(QUERY, since_id=None, next_token=None)
    assert bridge.post("Terima kasih", in_reply_to=None).kind is PostKind.UNKNOWN
    sb.set_outage(False)
    assert bridge.search_page(QUERY, since_id=None, next_token=None).tweets == []


def test_usage_cap_and_payment_required(sb: Any, bridge: XBridge) -> None:
    sb.fault(endpoint="search", usage_cap=True)
    with pytest.raises(XUsageCapped):
        bridge.search_page(QUERY, since_id=None, next_token=None)
    sb.fault(endpoint="search", status=402)
    with pytest.raises(XPaymentRequired):
        bridge.search_page(QUERY, since_id=None, next_token=None)
    sb.fault(endpoint="post", usage_cap=True)
    assert bridge.post("Terima kasih", in_reply_to=None).reason == "usage_capped"
    sb.fault(endpoint="post", status=402)
    outcome = bridge.post("Terima kasih", in_reply_to=None)
    assert (outcome.kind, outcome.reason) == (PostKind.RETRY_LATER, "payment_required")
    assert sb.posted() == []


@pytest.mark.parametrize("revoked", [True, False])
def test_bad_credentials_are_unauthorized(sb: Any, revoked: bool) -> None:
    if revoked:
        sb.configure({"revoked_tokens": [BEARER, ACCESS_TOKEN]})
        bridge = make_bridge(sb.url)
    else:
        bridge = make_bridge(sb.url, bearer_token="", access_token="", access_token_secret="")
    with pytest.raises(XUnauthorized):
        bridge.search_page(QUERY, since_id=None, next_token=None)
    with pytest.raises(XUnauthorized):
        bridge.me()
    outcome = bridge.post("Terima kasih", in_reply_to=None)
    assert outcome.kind is PostKind.RETRY_LATER and outcome.auth_failed


def test_lookup_missing_after_delete(sb: Any, bridge: XBridge) -> None:
    ids = [citizen_tweet(sb, f"keluhan {i} #KemalaJateng") for i in range(150)]
    sb.delete_tweet(ids[3])
    sb.delete_tweet(ids[120])
    never = "1234567890123456789"
    assert bridge.lookup_missing([*ids, never, ids[0]]) == {ids[3], ids[120], never}
    lookups = [c for c in sb.calls() if c["endpoint"] == "lookup"]
    assert len(lookups) == 2 and all(len(c["query"]["ids"].split(",")) <= 100 for c in lookups)
    assert bridge.usage.snapshot()["posts_read"] == 148


def test_usage_counters_match_calls(sb: Any, bridge: XBridge) -> None:
    for i in range(12):
        citizen_tweet(sb, f"keluhan {i} #KemalaJateng")
    first = bridge.search_page(QUERY, since_id=None, next_token=None, max_results=10)
    bridge.search_page(QUERY, since_id=None, next_token=first.next_token, max_results=10)
    bridge.post("Terima kasih", in_reply_to=None)
    bridge.find_own_reply(in_reply_to=None, text="Terima kasih")  # me + own timeline
    usage = bridge.usage.drain()
    assert usage == {
        "posts_read": 12,
        "owned_reads": 1,
        "posts_created": 1,
        "posts_with_url": 0,
        "summoned_replies": 0,
        "requests": len(sb.calls()),
    }
    assert len(sb.calls()) == 5


def test_secrets_never_reach_the_logs(sb: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    redact = RedactSecrets(SECRETS)
    # pytest reuses one capture handler for the whole session: the filter must not outlive this test.
    caplog.handler.addFilter(redact)
    try:
        _search_and_post_with_logging(sb)
    finally:
        caplog.handler.removeFilter(redact)
    assert any(r.name == "tweepy.client" for r in caplog.records)  # tweepy did log its headers
    text = caplog.text
    for secret in SECRETS:
        for form in {secret, quote(secret, safe=""), unquote(secret)}:
            assert form not in text
    assert 'oauth_signature="***' in text or "oauth_signature" not in text


def _search_and_post_with_logging(sb: Any) -> None:
    bridge = make_bridge(sb.url)
    target = citizen_tweet(sb)
    bridge.search_page(QUERY, since_id=None, next_token=None)
    assert bridge.post("Terima kasih", in_reply_to=target).kind is PostKind.POSTED
    sb.fault(endpoint="search", status=401)
    with pytest.raises(XUnauthorized):
        bridge.search_page(QUERY, since_id=None, next_token=None)


def test_without_the_filter_tweepy_would_leak_the_bearer(sb: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Guards the test above: if tweepy stopped logging headers it would pass vacuously.
    caplog.set_level(logging.DEBUG, logger="tweepy.client")
    make_bridge(sb.url).search_page(QUERY, since_id=None, next_token=None)
    assert BEARER in caplog.text


def test_reconcile_adopts_only_the_post_that_is_provably_this_reply(sb: Any, bridge: XBridge) -> None:
    one = citizen_tweet(sb, "Jalan rusak #KemalaJateng", username="warga_satu")
    two = citizen_tweet(sb, "Jalan rusak juga #KemalaJateng", username="warga_dua")
    words = "Terima kasih &amp; laporan diteruskan ke UPT"
    first = bridge.post(f"@warga_satu {words} https://x.com/warga_satu/status/{one}", in_reply_to=None)
    assert first.kind is PostKind.POSTED
    # Citizen 2's fallback: the same words, but another citizen and another link.
    mine = f"@warga_dua {words} https://x.com/warga_dua/status/{two}"
    assert bridge.reconcile_reply(in_reply_to=None, text=mine).exact is None
    # The same mention, but a link to a post the reply does not link: only a near match, never adopted.
    look_alike = f"@warga_satu {words} https://x.com/warga_satu/status/{two}"
    found = bridge.reconcile_reply(in_reply_to=None, text=look_alike)
    assert (found.exact, found.near) == (None, first.tweet_id)
    # The exact text is found (links through their expanded URL), unless another reply owns that post.
    exact = f"@warga_satu {words} https://x.com/warga_satu/status/{one}"
    assert bridge.find_own_reply(in_reply_to=None, text=exact) == first.tweet_id
    owned = bridge.reconcile_reply(in_reply_to=None, text=exact, exclude={first.tweet_id or ""})
    assert (owned.exact, owned.near) == (None, None)
