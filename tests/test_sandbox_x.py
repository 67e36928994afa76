"""Tests for the X API v2 sandbox, driven through real tweepy over loopback HTTP.

Every request that gets a 2xx answer, and that answer, is validated against X's OpenAPI spec
when the test finishes, so the sandbox cannot drift from the shapes real X produces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import tweepy
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from bot.sandbox.x import DUPLICATE_DETAIL, RESTRICTION_DETAIL, XSandbox

# openapi-core cannot check the spec's "OAuth" http security scheme (OAuth 1.0a user context) and warns.
# `once`: uses no database of the suite, runs in the SQLite half only (see tests/conftest.py).
pytestmark = [pytest.mark.once, pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")]

SPEC_PATH = Path("/work/shared/specs/x-api-v2-openapi-2.159.json")
X_HOST = "https://api.twitter.com"


class RewriteAdapter(requests.adapters.HTTPAdapter):
    """Sends tweepy's hard-coded https://api.twitter.com requests to the sandbox, with a timeout."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout
        self.exchanges: list[tuple[requests.PreparedRequest, requests.Response]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        original = request.copy()
        assert request.url is not None
        request.url = request.url.replace(X_HOST, self.base_url, 1)
        kwargs["timeout"] = self.timeout  # tweepy passes none
        response = super().send(request, **kwargs)
        self.exchanges.append((original, response))
        return response


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    if not SPEC_PATH.exists():
        pytest.skip("X OpenAPI spec not available")
    return OpenAPI.from_file_path(str(SPEC_PATH))


@pytest.fixture
def sandbox() -> Iterator[XSandbox]:
    sb = XSandbox(lag_seconds=0)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def adapter(sandbox: XSandbox, openapi: OpenAPI) -> Iterator[RewriteAdapter]:
    ad = RewriteAdapter(sandbox.url)
    yield ad
    validate_exchanges(openapi, ad.exchanges)


@pytest.fixture
def client(adapter: RewriteAdapter) -> tweepy.Client:
    c = tweepy.Client(
        bearer_token="app-bearer", consumer_key="ck", consumer_secret="cs",
        access_token="desk-token", access_token_secret="desk-secret",
    )
    c.session.mount("https://", adapter)
    return c


def validate_exchanges(openapi: OpenAPI, exchanges: list[tuple[requests.PreparedRequest, requests.Response]]) -> None:
    """Validate requests and 2xx responses (real X error bodies do not match the spec's error schema)."""
    for request, response in exchanges:
        if not 200 <= response.status_code < 300:
            continue
        request = request.copy()
        assert request.url is not None
        request.url = request.url.replace(X_HOST, "https://api.x.com", 1)
        openapi_request = RequestsOpenAPIRequest(request)
        openapi.validate_request(openapi_request)
        openapi.validate_response(openapi_request, RequestsOpenAPIResponse(response))


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


ALL_TWEET_FIELDS = ["created_at", "entities", "author_id", "conversation_id", "referenced_tweets", "attachments",
                    "geo", "in_reply_to_user_id", "reply_settings", "public_metrics", "edit_controls"]


# ----------------------------------------------------------------------------------------- search


def test_search_hashtag_is_case_insensitive_and_newest_first(sandbox: XSandbox, client: tweepy.Client) -> None:
    a = sandbox.add_tweet(username="warga1", text="Jalan rusak #KemalaJateng")
    b = sandbox.add_tweet(username="warga2", text="lampu mati #kemalajateng")
    c = sandbox.add_tweet(username="warga3", text="#KEMALAJATENG banjir")
    sandbox.add_tweet(username="warga4", text="#Kemala saja, dan kemalajateng tanpa pagar")
    r = client.search_recent_tweets("#KemalaJateng -is:retweet")
    assert [t.id for t in r.data] == [int(c), int(b), int(a)]
    assert r.meta == {"newest_id": c, "oldest_id": a, "result_count": 3}
    # Without tweet.fields only the default fields come back, as on X.
    assert set(r.data[0].data) == {"id", "text", "edit_history_tweet_ids"}


def test_search_query_language(sandbox: XSandbox, client: tweepy.Client) -> None:
    a = sandbox.add_tweet(username="warga1", text="Jalan rusak #Banjir @KemalaDesk")
    b = sandbox.add_tweet(username="spammer", text="Promo #Banjir murah")
    c = sandbox.add_tweet(username="warga2", text="jalanan licin #Longsor")
    d = sandbox.add_tweet(username="warga3", text="Tolong @kemaladesk lampu mati")

    def ids(q: str) -> set[str]:
        data = client.search_recent_tweets(q).data or []
        return {str(t.id) for t in data}

    assert ids("(#banjir OR #longsor) -from:spammer") == {a, c}
    assert ids("#banjir OR #longsor -from:spammer") == {a, b, c}  # AND binds tighter than OR
    assert ids("@KemalaDesk") == {a, d}
    assert ids("jalan") == {a}  # tokens, not substrings
    assert ids('"jalanan licin"') == {c}
    assert ids("from:Spammer") == {b}
    assert ids("lampu -(#banjir OR mati)") == set()
    with pytest.raises(tweepy.BadRequest):
        client.search_recent_tweets("(#banjir OR #longsor")
    with pytest.raises(tweepy.BadRequest):
        client.search_recent_tweets("-from:spammer")


def test_search_since_id_is_exclusive_and_until_id(sandbox: XSandbox, client: tweepy.Client) -> None:
    ids = [sandbox.add_tweet(username="warga", text=f"laporan {i} #KemalaJateng") for i in range(4)]
    r = client.search_recent_tweets("#KemalaJateng", since_id=ids[1])
    assert [str(t.id) for t in r.data] == [ids[3], ids[2]]
    r = client.search_recent_tweets("#KemalaJateng", since_id=ids[3])
    assert r.data is None and r.meta == {"result_count": 0}
    r = client.search_recent_tweets("#KemalaJateng", until_id=ids[2])
    assert [str(t.id) for t in r.data] == [ids[1], ids[0]]


def test_search_lag_hides_fresh_tweets(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.lag_seconds = 30
    old = sandbox.add_tweet(username="warga", text="lama #KemalaJateng", created_at=ago(60))
    fresh = sandbox.add_tweet(username="warga", text="baru #KemalaJateng")
    assert [str(t.id) for t in client.search_recent_tweets("#KemalaJateng").data] == [old]
    # Timelines are not subject to the search indexing lag.
    sandbox.lag_seconds = 0
    assert [str(t.id) for t in client.search_recent_tweets("#KemalaJateng").data] == [fresh, old]
    # Older than seven days falls out of recent search.
    sandbox.add_tweet(username="warga", text="kuno #KemalaJateng", created_at=ago(8 * 86400))
    assert len(client.search_recent_tweets("#KemalaJateng").data) == 2


def test_search_max_results_bounds(sandbox: XSandbox, client: tweepy.Client) -> None:
    for bad in (5, 9, 101):
        with pytest.raises(tweepy.BadRequest) as info:
            client.search_recent_tweets("#KemalaJateng", max_results=bad)
        body = info.value.response.json()
        assert body["title"] == "Invalid Request"
        assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
        assert "max_results" in body["errors"][0]["parameters"]
    assert client.search_recent_tweets("#KemalaJateng", max_results=10).meta == {"result_count": 0}
    assert client.search_recent_tweets("#KemalaJateng", max_results=100).meta == {"result_count": 0}


def test_search_pagination_250_each_once(sandbox: XSandbox, client: tweepy.Client) -> None:
    start = ago(3600)
    added = {sandbox.add_tweet(username=f"warga{i % 7}", text=f"laporan {i} #KemalaJateng",
                               created_at=start + timedelta(seconds=i)) for i in range(250)}
    sandbox.add_tweet(username="lain", text="bukan ini")
    seen: list[str] = []
    pages = 0
    for page in tweepy.Paginator(client.search_recent_tweets, "#KemalaJateng", max_results=100):
        pages += 1
        seen.extend(str(t.id) for t in page.data)
    assert pages == 3
    assert len(seen) == 250 and set(seen) == added
    assert seen == sorted(seen, key=int, reverse=True)
    # The token encodes the position: asking again yields the very same page.
    first = client.search_recent_tweets("#KemalaJateng", max_results=100)
    token = first.meta["next_token"]
    again1 = client.search_recent_tweets("#KemalaJateng", max_results=100, next_token=token)
    again2 = client.search_recent_tweets("#KemalaJateng", max_results=100, next_token=token)
    assert [t.id for t in again1.data] == [t.id for t in again2.data]
    last = client.search_recent_tweets("#KemalaJateng", max_results=100, next_token=again1.meta["next_token"])
    assert last.meta["result_count"] == 50 and "next_token" not in last.meta
    with pytest.raises(tweepy.BadRequest):
        client.search_recent_tweets("#KemalaJateng", next_token="garbage")


def test_search_expansions_and_fields(sandbox: XSandbox, client: tweepy.Client) -> None:
    parent = sandbox.add_tweet(username="dinas_pu", text="Perbaikan jalan dimulai", name="Dinas PU", verified=True)
    tid = sandbox.add_tweet(
        username="warga1", name="Siti", text="Masih rusak @KemalaDesk #KemalaJateng lihat jatengprov.go.id/lapor",
        in_reply_to=parent, photos=2, location="Semarang", place="Semarang, Jawa Tengah",
    )
    r = client.search_recent_tweets(
        "#KemalaJateng", tweet_fields=ALL_TWEET_FIELDS,
        expansions=["author_id", "attachments.media_keys", "geo.place_id", "referenced_tweets.id",
                    "in_reply_to_user_id", "entities.mentions.username"],
        user_fields=["location", "verified"], media_fields=["url"], place_fields=["country"],
    )
    raw = r.data[0].data
    assert raw["id"] == tid and raw["conversation_id"] == parent
    assert raw["referenced_tweets"] == [{"type": "replied_to", "id": parent}]
    assert raw["reply_settings"] == "everyone"
    assert len(raw["attachments"]["media_keys"]) == 2
    assert datetime.strptime(raw["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")  # milliseconds, Z suffix
    assert len(raw["created_at"]) == len("2026-11-22T03:04:05.000Z")
    mention = raw["entities"]["mentions"][0]
    assert mention["username"] == "KemalaDesk" and raw["text"][mention["start"]:mention["end"]] == "@KemalaDesk"
    assert raw["entities"]["hashtags"][0]["tag"] == "KemalaJateng"
    # Links become t.co links; the original survives as expanded_url. Photos add one more link.
    urls = raw["entities"]["urls"]
    assert urls[0]["expanded_url"] == "http://jatengprov.go.id/lapor" and urls[0]["url"].startswith("https://t.co/")
    assert urls[1]["media_key"] == raw["attachments"]["media_keys"][0]
    users = {u.username: u.data for u in r.includes["users"]}
    assert users["warga1"] == {"id": raw["author_id"], "name": "Siti", "username": "warga1",
                               "verified": False, "location": "Semarang"}
    assert users["dinas_pu"]["verified"] is True and "KemalaDesk" in users
    assert all(m.type == "photo" and m.url.startswith("https://") for m in r.includes["media"])
    assert r.includes["places"][0].full_name == "Semarang, Jawa Tengah"
    assert [t.id for t in r.includes["tweets"]] == [int(parent)]
    # The parent deleted: X reports it in errors instead of includes.tweets.
    sandbox.delete_tweet(parent)
    r = client.search_recent_tweets("#KemalaJateng", expansions=["referenced_tweets.id"])
    assert "tweets" not in r.includes
    assert r.errors[0]["resource_id"] == parent and r.errors[0]["title"] == "Not Found Error"


def test_deleted_and_edited_tweets_in_search(sandbox: XSandbox, client: tweepy.Client) -> None:
    gone = sandbox.add_tweet(username="warga", text="salah ketik #KemalaJateng")
    orig = sandbox.add_tweet(username="warga", text="jalan rusk #KemalaJateng")
    sandbox.delete_tweet(gone)
    edited = sandbox.add_tweet(username="warga", text="jalan rusak #KemalaJateng", edit_of=orig)
    r = client.search_recent_tweets("#KemalaJateng")
    assert [str(t.id) for t in r.data] == [edited]
    assert r.data[0].edit_history_tweet_ids == [int(orig), int(edited)]
    # The old version still resolves by id and reports the whole chain.
    old = client.get_tweet(orig)
    assert old.data.edit_history_tweet_ids == [int(orig), int(edited)]


def test_ids_are_19_digit_and_increasing(sandbox: XSandbox) -> None:
    ids = [sandbox.add_tweet(username="warga", text=f"t{i}") for i in range(50)]
    assert all(len(i) == 19 and i.isdigit() for i in ids)
    assert [int(i) for i in ids] == sorted({int(i) for i in ids})
    backdated = sandbox.add_tweet(username="warga", text="lama", created_at=ago(3600))
    assert int(backdated) < int(ids[0])  # snowflakes follow creation time


# ----------------------------------------------------------------------------------------- users


def test_users_me_and_timelines(sandbox: XSandbox, client: tweepy.Client) -> None:
    me = client.get_me(user_fields=["verified"])
    assert me.data.id == int(sandbox.desk_id) and me.data.username == "KemalaDesk"
    with pytest.raises(tweepy.Forbidden):
        client.get_me(user_auth=False)
    mentions = [sandbox.add_tweet(username=f"w{i}", text=f"@KemalaDesk tolong {i}") for i in range(7)]
    sandbox.add_tweet(username="w9", text="tanpa sebutan")
    got: list[str] = []
    for page in tweepy.Paginator(client.get_users_mentions, sandbox.desk_id, max_results=5):
        got.extend(str(t.id) for t in page.data)
    assert got == list(reversed(mentions))
    r = client.get_users_mentions(sandbox.desk_id, since_id=mentions[4], max_results=5)
    assert [str(t.id) for t in r.data] == [mentions[6], mentions[5]]
    with pytest.raises(tweepy.BadRequest):
        client.get_users_mentions(sandbox.desk_id, max_results=4)
    posted = client.create_tweet(text="Laporan diterima", in_reply_to_tweet_id=mentions[0])
    timeline = client.get_users_tweets(sandbox.desk_id, tweet_fields=["in_reply_to_user_id"])
    assert [t.id for t in timeline.data] == [int(posted.data["id"])]
    missing = client.get_users_tweets("999")
    assert missing.data is None and missing.errors[0]["resource_type"] == "user"


# ----------------------------------------------------------------------------------------- posting


def test_post_success_and_visibility(sandbox: XSandbox, client: tweepy.Client) -> None:
    target = sandbox.add_tweet(username="warga", text="@KemalaDesk jalan berlubang #KemalaJateng")
    r = client.create_tweet(text="Terima kasih, sudah diteruskan ke Dinas PU.", in_reply_to_tweet_id=target)
    new_id = r.data["id"]
    assert r.data["edit_history_tweet_ids"] == [new_id] and len(new_id) == 19
    posted = sandbox.posted()
    assert [(p["id"], p["text"], p["in_reply_to_tweet_id"]) for p in posted] == [
        (new_id, "Terima kasih, sudah diteruskan ke Dinas PU.", target)]
    assert posted[0]["created_at"].endswith("Z")
    found = client.search_recent_tweets("from:KemalaDesk", tweet_fields=["conversation_id", "in_reply_to_user_id"])
    assert str(found.data[0].id) == new_id and str(found.data[0].conversation_id) == target
    # Weighted length: a URL counts 23, so this 370-character text fits.
    long_but_ok = "a" * 250 + " https://example.com/" + "b" * 100
    assert len(long_but_ok) > 280
    client.create_tweet(text=long_but_ok)
    # Reply to the desk's own post is always allowed.
    client.create_tweet(text="Tambahan informasi", in_reply_to_tweet_id=new_id)


def test_post_rejections(sandbox: XSandbox, client: tweepy.Client) -> None:
    plain = sandbox.add_tweet(username="warga", text="jalan rusak #KemalaJateng")
    with pytest.raises(tweepy.BadRequest) as info:
        client.create_tweet(text="a" * 281)
    assert info.value.response.json()["title"] == "Invalid Request"
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="界" * 141)  # CJK weighs 2
    client.create_tweet(text="Halo warga")
    with pytest.raises(tweepy.Forbidden) as info:
        client.create_tweet(text="Halo warga")
    assert info.value.response.json()["detail"] == DUPLICATE_DETAIL
    with pytest.raises(tweepy.Forbidden) as info:
        client.create_tweet(text="Kami cek", in_reply_to_tweet_id=plain)
    assert info.value.response.json()["detail"] == RESTRICTION_DETAIL
    assert RESTRICTION_DETAIL == "You can only reply to or quote posts where you are mentioned or are the author."
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="Kutip", quote_tweet_id=plain)
    sandbox.reply_restriction = False  # Enterprise apps are exempt
    client.create_tweet(text="Kami cek", in_reply_to_tweet_id=plain)
    sandbox.delete_tweet(plain)
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="Terlambat", in_reply_to_tweet_id=plain)
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="Tidak ada", in_reply_to_tweet_id="1234567890123456789")
    with pytest.raises(tweepy.Forbidden) as info:
        client.create_tweet(text="pakai bearer", user_auth=False)
    assert info.value.response.json()["title"] == "Unsupported Authentication"
    assert [p["text"] for p in sandbox.posted()] == ["Halo warga", "Kami cek"]


def test_missing_and_revoked_auth(sandbox: XSandbox, client: tweepy.Client) -> None:
    r = requests.get(f"{sandbox.url}/2/tweets/search/recent", params={"query": "x"}, timeout=5)
    assert r.status_code == 401
    assert r.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    assert "x-rate-limit-reset" in r.headers
    r = requests.post(f"{sandbox.url}/2/tweets", json={"text": "hi"}, timeout=5)
    assert r.status_code == 401
    sandbox.revoked_tokens.add("desk-token")
    with pytest.raises(tweepy.Unauthorized):
        client.get_me()
    client.search_recent_tweets("#x")  # the app bearer still works


def test_lookup_and_delete(sandbox: XSandbox, client: tweepy.Client) -> None:
    a = sandbox.add_tweet(username="warga", text="satu")
    b = sandbox.add_tweet(username="warga", text="dua")
    sandbox.delete_tweet(b)
    r = client.get_tweets([a, b, "42"], tweet_fields=["author_id"])
    assert [t.id for t in r.data] == [int(a)]
    assert [(e["resource_id"], e["title"], e["parameter"]) for e in r.errors] == [
        (b, "Not Found Error", "ids"), ("42", "Not Found Error", "ids")]
    r = client.get_tweets([b])
    assert r.data is None and len(r.errors) == 1
    with pytest.raises(tweepy.BadRequest):
        client.get_tweets([str(10**18 + i) for i in range(101)])
    mine = client.create_tweet(text="akan dihapus").data["id"]
    assert client.delete_tweet(mine).data == {"deleted": True}
    assert sandbox.posted()[0]["deleted"] is True
    assert client.get_tweets([mine]).data is None
    with pytest.raises(tweepy.Forbidden):
        client.delete_tweet(a)
    with pytest.raises(tweepy.NotFound):
        client.delete_tweet(mine)


# ----------------------------------------------------------------------------------------- limits and faults


def test_rate_limit_headers_and_429(openapi: OpenAPI) -> None:
    sb = XSandbox(lag_seconds=0, search_limit_per_15min=3, post_limit_per_15min=2)
    sb.start()
    try:
        ad = RewriteAdapter(sb.url)
        c = tweepy.Client(bearer_token="b", consumer_key="k", consumer_secret="s",
                          access_token="t", access_token_secret="ts")
        c.session.mount("https://", ad)
        for expected_remaining in (2, 1, 0):
            c.search_recent_tweets("#x")
            headers = ad.exchanges[-1][1].headers
            assert headers["x-rate-limit-limit"] == "3"
            assert headers["x-rate-limit-remaining"] == str(expected_remaining)
        reset = int(ad.exchanges[-1][1].headers["x-rate-limit-reset"])
        assert time.time() + 890 < reset <= time.time() + 901
        with pytest.raises(tweepy.TooManyRequests) as info:
            c.search_recent_tweets("#x")
        assert info.value.response.json()["title"] == "Too Many Requests"
        assert info.value.response.headers["x-rate-limit-remaining"] == "0"
        assert int(info.value.response.headers["x-rate-limit-reset"]) == reset
        c.get_me()  # other endpoints keep their own window
        c.create_tweet(text="satu")
        c.create_tweet(text="dua")
        with pytest.raises(tweepy.TooManyRequests):
            c.create_tweet(text="tiga")
        sb.reset_limits()
        c.search_recent_tweets("#x")
        c.create_tweet(text="tiga")
        assert [call["status"] for call in sb.calls() if call["endpoint"] == "search"] == [200, 200, 200, 429, 200]
        validate_exchanges(openapi, ad.exchanges)
    finally:
        sb.stop()


def test_fault_429_with_and_without_reset(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.fault(endpoint="search", status=429, reset_in_s=5)
    with pytest.raises(tweepy.TooManyRequests) as info:
        client.search_recent_tweets("#x")
    assert info.value.reset_time is not None and info.value.reset_time >= int(time.time()) + 4
    sandbox.fault(endpoint="search", status=429, reset_header=False)
    with pytest.raises(tweepy.TooManyRequests) as info:
        client.search_recent_tweets("#x")
    assert info.value.reset_time is None
    assert "x-rate-limit-reset" not in info.value.response.headers
    client.search_recent_tweets("#x")  # faults are used up


def test_fault_server_errors_count_and_endpoint(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.fault(endpoint="search", status=500, count=2)
    sandbox.fault(endpoint="*", status=503)
    with pytest.raises(tweepy.TwitterServerError) as info:
        client.get_me()  # the search fault does not match; the "*" fault does
    assert info.value.response.status_code == 503
    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError) as info:
            client.search_recent_tweets("#x")
        assert info.value.response.status_code == 500
    client.search_recent_tweets("#x")
    client.get_me()
    statuses = [(c["endpoint"], c["status"]) for c in sandbox.calls()]
    assert statuses == [("me", 503), ("search", 500), ("search", 500), ("search", 200), ("me", 200)]


def test_fault_usage_cap_and_402(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.fault(usage_cap=True)
    with pytest.raises(tweepy.TooManyRequests) as info:
        client.search_recent_tweets("#x")
    assert info.value.response.json()["type"] == "https://api.twitter.com/2/problems/usage-capped"
    sandbox.fault(endpoint="post", status=402)
    with pytest.raises(tweepy.HTTPException) as exc:
        client.create_tweet(text="tidak ada kredit")
    assert exc.value.response.status_code == 402
    assert exc.value.response.json()["title"] == "CreditsDepleted"
    assert sandbox.posted() == []


def test_fault_timeout_and_delay(sandbox: XSandbox, client: tweepy.Client, adapter: RewriteAdapter) -> None:
    adapter.timeout = 0.3
    sandbox.fault(endpoint="post", timeout_s=0.8)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_tweet(text="hilang di jalan")
    assert sandbox.posted() == []  # a plain timeout has no effect
    adapter.timeout = 5.0
    sandbox.fault(endpoint="search", delay_s=0.3)
    started = time.monotonic()
    client.search_recent_tweets("#x")
    assert time.monotonic() - started >= 0.3


def test_fault_after_commit_unknown_outcome(sandbox: XSandbox, client: tweepy.Client, adapter: RewriteAdapter) -> None:
    target = sandbox.add_tweet(username="warga", text="@KemalaDesk lampu mati")
    sandbox.fault(endpoint="post", status=503, after_commit=True)
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="Sudah diteruskan", in_reply_to_tweet_id=target)
    assert [p["text"] for p in sandbox.posted()] == ["Sudah diteruskan"]
    # A blind retry meets the duplicate rule; the reply is findable to reconcile.
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="Sudah diteruskan", in_reply_to_tweet_id=target)
    timeline = client.get_users_tweets(sandbox.desk_id, tweet_fields=["referenced_tweets"])
    assert timeline.data[0].referenced_tweets[0].id == int(target)
    adapter.timeout = 0.3
    sandbox.fault(endpoint="post", timeout_s=0.8, after_commit=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_tweet(text="Kedua", in_reply_to_tweet_id=target)
    assert [p["text"] for p in sandbox.posted()] == ["Sudah diteruskan", "Kedua"]


def test_outage(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.set_outage(True)
    for call in (lambda: client.search_recent_tweets("#x"), client.get_me, lambda: client.create_tweet(text="x")):
        with pytest.raises(tweepy.TwitterServerError) as info:
            call()
        assert info.value.response.status_code == 503
    sandbox.set_outage(False)
    client.get_me()


# ----------------------------------------------------------------------------------------- control over HTTP


def test_control_http_endpoints(sandbox: XSandbox, client: tweepy.Client) -> None:
    base = f"{sandbox.url}/_sandbox"

    def post(path: str, body: dict[str, Any]) -> Any:
        r = requests.post(base + path, data=json.dumps(body), timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    tid = post("/tweets", {"username": "warga", "text": "@KemalaDesk #KemalaJateng halo",
                           "created_at": _iso_now_minus(120), "photos": 1})["id"]
    post("/config", {"lag_seconds": 60})
    assert client.search_recent_tweets("#KemalaJateng").meta["result_count"] == 1
    post("/config", {"lag_seconds": 0, "reply_restriction": False, "search_limit_per_15min": 1})
    assert sandbox.lag_seconds == 0 and sandbox.reply_restriction is False
    client.create_tweet(text="balasan", in_reply_to_tweet_id=tid)
    assert requests.get(base + "/posted", timeout=5).json()[0]["in_reply_to_tweet_id"] == tid
    post("/faults", {"endpoint": "me", "status": 500})
    with pytest.raises(tweepy.TwitterServerError):
        client.get_me()
    post("/outage", {"on": True})
    with pytest.raises(tweepy.TwitterServerError):
        client.get_me()
    post("/outage", {"on": False})
    with pytest.raises(tweepy.TooManyRequests):
        client.search_recent_tweets("#KemalaJateng")  # limit 1 already used
    post("/reset", {})
    assert requests.delete(f"{base}/tweets/{tid}", timeout=5).json() == {"deleted": True}
    assert client.search_recent_tweets("#KemalaJateng").meta["result_count"] == 0
    calls = requests.get(base + "/calls", timeout=5).json()
    assert [c["status"] for c in calls] == [200, 201, 500, 503, 429, 200]
    assert calls[0]["query"]["query"] == "#KemalaJateng" and calls[1]["auth"] == "user"
    assert requests.post(base + "/faults", json={"endpoint": "nope", "status": 500}, timeout=5).status_code == 400
    post("/reset", {"everything": True})
    assert sandbox.calls() == [] and sandbox.posted() == []


def _iso_now_minus(seconds: float) -> str:
    return ago(seconds).isoformat().replace("+00:00", "Z")


def test_spec_validator_is_strict(openapi: OpenAPI, sandbox: XSandbox, client: tweepy.Client,
                                  adapter: RewriteAdapter) -> None:
    """Guard against a vacuous validation step: a numeric tweet id must be rejected."""
    sandbox.add_tweet(username="warga", text="#x")
    client.search_recent_tweets("#x")
    request, response = adapter.exchanges[-1]
    body = response.json()
    body["data"][0]["id"] = int(body["data"][0]["id"])
    forged = requests.Response()
    forged.status_code = 200
    forged.headers["Content-Type"] = "application/json"
    forged._content = json.dumps(body).encode()
    forged.request = response.request
    with pytest.raises(Exception):  # noqa: B017 - any validation error will do
        validate_exchanges(openapi, [(request, forged)])
