"""X sandbox: long posts (note_tweet), media, reposts and quotes, the billing ledger, mentions.

Driven like tests/test_sandbox_x.py: real tweepy (or requests) over loopback HTTP, and every 2xx
exchange is validated against X's OpenAPI spec when the test finishes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import tweepy
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from twitter_text import parse_tweet

from bot.sandbox.x import PRICES, XSandbox

# openapi-core cannot check the spec's "OAuth" http security scheme (OAuth 1.0a user context) and warns.
# `once`: uses no database of the suite, runs in the SQLite half only (see tests/conftest.py).
pytestmark = [pytest.mark.once, pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")]

SPEC_PATH = Path("/work/shared/specs/x-api-v2-openapi-2.159.json")
X_HOST = "https://api.twitter.com"
DESK = "KemalaDesk"


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
    sb = XSandbox(desk_username=DESK, lag_seconds=0)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def adapter(sandbox: XSandbox, openapi: OpenAPI) -> Iterator[RewriteAdapter]:
    ad = RewriteAdapter(sandbox.url)
    yield ad
    # Only 2xx exchanges: real X error bodies do not match the spec's error schema.
    for request, response in ad.exchanges:
        if not 200 <= response.status_code < 300:
            continue
        request = request.copy()
        assert request.url is not None
        request.url = request.url.replace(X_HOST, "https://api.x.com", 1)
        openapi_request = RequestsOpenAPIRequest(request)
        openapi.validate_request(openapi_request)
        openapi.validate_response(openapi_request, RequestsOpenAPIResponse(response))


@pytest.fixture
def client(adapter: RewriteAdapter) -> tweepy.Client:
    c = tweepy.Client(
        bearer_token="app-bearer", consumer_key="ck", consumer_secret="cs",
        access_token="desk-token", access_token_secret="desk-secret",
    )
    c.session.mount("https://", adapter)
    return c


def weighted(text: str) -> int:
    return int(parse_tweet(text).weightedLength)


def long_text(tail: str, length: int = 1000) -> str:
    """`length` characters of words, with `tail` as the last characters (past any 280 cut)."""
    head = "Laporan @KemalaDesk #Banjir jalan "
    filler = "air naik terus di kampung kami "
    body = head + filler * (length // len(filler) + 1)
    body = body[: length - len(tail) - 1].rstrip() + " "
    return (body + tail).ljust(length, ".")[:length]


# ----------------------------------------------------------------------------------------- long posts


def test_long_post_text_is_cut_and_note_tweet_carries_the_whole(sandbox: XSandbox, client: tweepy.Client) -> None:
    full = long_text("#EkorBanjir $BBRI @warga_lain")
    assert len(full) == 1000
    tid = sandbox.add_tweet(username="warga", text=full)
    r = client.get_tweet(tid, tweet_fields=["note_tweet", "entities"])
    raw = r.data.data
    text = raw["text"]
    assert text.endswith("…") and weighted(text) <= 280
    # Cut at a word boundary: the text before the ellipsis is a prefix of the full text ending a word.
    assert full.startswith(text[:-1]) and full[len(text) - 1] == " "
    assert weighted(full[: full.index(" ", len(text))] + "…") > 280  # the next word would not fit
    note = raw["note_tweet"]
    assert note["text"] == full
    ents = note["entities"]
    assert [note["text"][h["start"]:h["end"]] for h in ents["hashtags"]] == ["#Banjir", "#EkorBanjir"]
    assert [h["tag"] for h in ents["hashtags"]] == ["Banjir", "EkorBanjir"]
    assert [note["text"][m["start"]:m["end"]] for m in ents["mentions"]] == ["@KemalaDesk", "@warga_lain"]
    assert [(note["text"][c["start"]:c["end"]], c["tag"]) for c in ents["cashtags"]] == [("$BBRI", "BBRI")]
    # Top-level entities describe the cut text: nothing from the tail.
    top = raw["entities"]
    assert [h["tag"] for h in top["hashtags"]] == ["Banjir"]
    assert [m["username"] for m in top["mentions"]] == ["KemalaDesk"]
    assert "cashtags" not in top
    # note_tweet only when asked for.
    plain = client.get_tweet(tid).data.data
    assert set(plain) == {"id", "text", "edit_history_tweet_ids"} and plain["text"] == text
    # A short post never carries note_tweet, even when asked.
    short = sandbox.add_tweet(username="warga", text="pendek saja")
    assert "note_tweet" not in client.get_tweet(short, tweet_fields=["note_tweet"]).data.data


def test_long_post_escaping_links_photo_and_limits(sandbox: XSandbox, client: tweepy.Client) -> None:
    full = "Cek https://dinas.example.go.id/laporan/1 " + long_text("A & B <ok> lihat https://example.com/ekor")
    tid = sandbox.add_tweet(username="warga", text=full, photos=1)
    raw = client.get_tweet(tid, tweet_fields=["note_tweet", "entities", "attachments"]).data.data
    note = raw["note_tweet"]
    # X's &, <, > escaping applies to note_tweet.text as to text.
    assert "A &amp; B &lt;ok&gt; lihat" in note["text"]
    note_urls = note["entities"]["urls"]
    assert [u["expanded_url"] for u in note_urls[:2]] == ["https://dinas.example.go.id/laporan/1",
                                                          "https://example.com/ekor"]
    assert all(u["url"].startswith("https://t.co/") for u in note_urls)
    # Links in the cut text are t.co links too; the media link ends both texts.
    top_urls = raw["entities"]["urls"]
    assert raw["text"].startswith("Cek " + top_urls[0]["url"])
    assert top_urls[0]["url"] == note_urls[0]["url"]
    media_link = note_urls[-1]
    assert media_link["media_key"] == raw["attachments"]["media_keys"][0]
    assert note["text"].endswith(" " + media_link["url"]) and raw["text"].endswith("… " + media_link["url"])
    assert top_urls[-1]["url"] == media_link["url"]
    assert raw["text"][top_urls[-1]["start"]:top_urls[-1]["end"]] == media_link["url"]
    assert weighted(raw["text"][: -len(media_link["url"]) - 1]) <= 280  # the media link is not counted
    # A single word longer than 280 is hard-cut.
    hard = sandbox.add_tweet(username="warga", text="x" * 400)
    hard_text = client.get_tweet(hard).data.text
    assert hard_text == "x" * 278 + "…" and weighted(hard_text) == 280  # the ellipsis weighs 2
    # 25,000 characters is X's ceiling.
    sandbox.add_tweet(username="warga", text="y " * 12_500)
    with pytest.raises(ValueError):
        sandbox.add_tweet(username="warga", text="y" * 25_001)


def test_long_post_tail_matches_search_and_mentions(sandbox: XSandbox, client: tweepy.Client) -> None:
    tail = sandbox.add_tweet(username="warga", text=long_text("tolong #LampuMati @KemalaDesk", 900)
                             .replace("@KemalaDesk #Banjir", "#Banjir"))
    assert "@KemalaDesk" not in client.get_tweet(tail).data.text  # only in the tail
    assert [str(t.id) for t in client.search_recent_tweets("#LampuMati").data] == [tail]
    assert [str(t.id) for t in client.search_recent_tweets('"tolong #lampumati"').data] == [tail]
    assert [str(t.id) for t in client.search_recent_tweets("@KemalaDesk").data] == [tail]
    mentions = client.get_users_mentions(sandbox.desk_id, tweet_fields=["note_tweet"])
    assert [str(t.id) for t in mentions.data] == [tail]
    assert mentions.data[0].data["note_tweet"]["text"].endswith("tolong #LampuMati @KemalaDesk")
    # The tail mention also satisfies the reply restriction.
    client.create_tweet(text="Kami teruskan ke PLN", in_reply_to_tweet_id=tail)


# ----------------------------------------------------------------------------------------- media


def test_media_fields_for_photo_video_gif_and_missing_key(sandbox: XSandbox, client: tweepy.Client) -> None:
    tid = sandbox.add_tweet(username="warga", text="Banjir #KemalaJateng", media=[
        {"type": "photo", "alt_text": "Jalan tergenang"},
        {"type": "video"},
        {"type": "animated_gif", "url": "https://example.com/gif-preview.jpg"},
        {"type": "photo", "missing": True},
        {"type": "photo", "url": "https://example.com/own.jpg"},
    ])
    all_fields = ["alt_text", "duration_ms", "height", "media_key", "preview_image_url", "public_metrics",
                  "type", "url", "variants", "width"]
    r = client.search_recent_tweets("#KemalaJateng", expansions=["attachments.media_keys"], media_fields=all_fields)
    keys = r.data[0].data["attachments"]["media_keys"]
    assert len(keys) == 5 and [k.split("_")[0] for k in keys] == ["3", "7", "16", "3", "3"]
    media = {m.data["media_key"]: m.data for m in r.includes["media"]}
    # The "missing" key stays in attachments but is absent from includes.media.
    assert list(media) == [keys[0], keys[1], keys[2], keys[4]]
    photo, video, gif, own = (media[keys[i]] for i in (0, 1, 2, 4))
    assert photo["type"] == "photo" and photo["alt_text"] == "Jalan tergenang"
    assert photo["url"].startswith("https://pbs.twimg.com/media/") and photo["url"].endswith(".jpg")
    assert (photo["width"], photo["height"]) == (1200, 900)
    assert "preview_image_url" not in photo and "variants" not in photo and "duration_ms" not in photo
    assert own["url"] == "https://example.com/own.jpg" and "alt_text" not in own
    assert video["type"] == "video" and "url" not in video
    assert video["preview_image_url"].startswith("https://pbs.twimg.com/ext_tw_video_thumb/")
    assert video["duration_ms"] == 15000 and video["public_metrics"] == {"view_count": 0}
    mp4 = [v for v in video["variants"] if v["content_type"] == "video/mp4"]
    hls = [v for v in video["variants"] if v["content_type"] == "application/x-mpegURL"]
    assert len(mp4) == 3 and all(isinstance(v["bit_rate"], int) for v in mp4)
    assert len(hls) == 1 and "bit_rate" not in hls[0] and hls[0]["url"].endswith(".m3u8?tag=12")
    assert gif["type"] == "animated_gif" and gif["preview_image_url"] == "https://example.com/gif-preview.jpg"
    assert gif["variants"] == [{"bit_rate": 0, "content_type": "video/mp4", "url": gif["variants"][0]["url"]}]
    assert "duration_ms" not in gif
    # Only what media.fields asks for: media_key and type always.
    bare = client.get_tweet(tid, expansions=["attachments.media_keys"])
    assert [m.data for m in bare.includes["media"]][1] == {"media_key": keys[1], "type": "video"}
    # has: operators tell photos from videos/GIFs.
    sandbox.add_tweet(username="warga", text="Video saja #Cuaca", media=[{"type": "video"}])
    sandbox.add_tweet(username="warga", text="Gif saja #Cuaca", media=[{"type": "animated_gif"}])
    sandbox.add_tweet(username="warga", text="Foto saja #Cuaca", photos=1)
    sandbox.add_tweet(username="warga", text="Teks saja #Cuaca")

    def texts(q: str) -> set[str]:
        return {t.text.split(" https://")[0] for t in client.search_recent_tweets(q).data or []}

    assert texts("#Cuaca has:images") == {"Foto saja #Cuaca"}
    assert texts("#Cuaca has:videos") == {"Video saja #Cuaca", "Gif saja #Cuaca"}
    assert texts("#Cuaca has:media") == {"Video saja #Cuaca", "Gif saja #Cuaca", "Foto saja #Cuaca"}
    assert texts("#Cuaca -has:media") == {"Teks saja #Cuaca"}
    # media.fields outside X's list is a 400 like other field parameters.
    with pytest.raises(tweepy.BadRequest) as info:
        client.get_tweet(tid, media_fields=["url", "bogus"])
    assert info.value.response.json()["errors"][0]["parameters"] == {"media.fields": ["bogus"]}


def test_ten_photos_and_media_limits(sandbox: XSandbox, client: tweepy.Client) -> None:
    tid = sandbox.add_tweet(username="warga", text="Album banjir", photos=10)
    r = client.get_tweet(tid, expansions=["attachments.media_keys"], media_fields=["url"])
    keys = r.data.data["attachments"]["media_keys"]
    assert len(keys) == len(set(keys)) == 10
    assert [m.data["media_key"] for m in r.includes["media"]] == keys
    assert all(m.data["type"] == "photo" for m in r.includes["media"])
    # Keys stay unique across tweets created in the same millisecond.
    other = sandbox.add_tweet(username="warga", text="Album kedua", photos=10)
    other_keys = client.get_tweet(other, tweet_fields=["attachments"]).data.data["attachments"]["media_keys"]
    assert not set(keys) & set(other_keys)
    assert sandbox.add_tweet(username="warga", text="tanpa foto", photos=0)
    for bad in ({"photos": 11}, {"photos": -1}, {"photos": 6, "media": [{"type": "video"}] * 5},
                {"media": [{"type": "audio"}]}, {"media": [{"type": "photo", "url": "relative.jpg"}]},
                {"media": [{"type": "photo", "extra": 1}]}):
        with pytest.raises(ValueError):
            sandbox.add_tweet(username="warga", text="terlalu banyak", **bad)


# ----------------------------------------------------------------------------------------- reposts and quotes


def test_repost_hidden_from_search_counted_and_in_timeline(sandbox: XSandbox, client: tweepy.Client) -> None:
    orig = sandbox.add_tweet(username="warga", text="Jembatan putus @KemalaDesk #KemalaJateng")
    rt = sandbox.repost("tetangga", orig)
    with pytest.raises(ValueError):
        sandbox.repost("tetangga", orig)  # X allows one live repost per account
    quote = sandbox.add_tweet(username="wartawan", text="Parah ini", quote_of=orig)
    assert [str(t.id) for t in client.search_recent_tweets("#KemalaJateng").data] == [orig]
    assert client.search_recent_tweets("is:retweet").data is None  # reposts never appear in search
    assert [str(t.id) for t in client.search_recent_tweets("#KemalaJateng -is:retweet").data] == [orig]
    assert [str(t.id) for t in client.get_users_mentions(sandbox.desk_id).data] == [orig]
    metrics = client.get_tweet(orig, tweet_fields=["public_metrics"]).data.data["public_metrics"]
    assert metrics == {"retweet_count": 1, "reply_count": 0, "like_count": 0, "quote_count": 1,
                       "bookmark_count": 0, "impression_count": 0}
    reposter = sandbox.add_tweet(username="tetangga", text="punya sendiri")
    uid = client.get_tweet(reposter, expansions=["author_id"]).data.author_id
    timeline = client.get_users_tweets(uid, tweet_fields=["referenced_tweets", "conversation_id", "note_tweet"],
                                       expansions=["referenced_tweets.id"])
    assert [str(t.id) for t in timeline.data] == [reposter, rt]
    raw = timeline.data[1].data
    assert raw["text"] == "RT @warga: Jembatan putus @KemalaDesk #KemalaJateng"
    assert raw["referenced_tweets"] == [{"type": "retweeted", "id": orig}]
    assert raw["conversation_id"] == rt and "note_tweet" not in raw
    assert [str(t.id) for t in timeline.includes["tweets"]] == [orig]
    assert [str(t.id) for t in client.get_users_tweets(uid, exclude=["retweets"]).data] == [reposter]
    # Undo: the repost is deleted and no longer counted.
    sandbox.unrepost(rt)
    metrics = client.get_tweet(orig, tweet_fields=["public_metrics"]).data.data["public_metrics"]
    assert metrics["retweet_count"] == 0 and metrics["quote_count"] == 1
    assert [str(t.id) for t in client.get_users_tweets(uid).data] == [reposter]
    sandbox.delete_tweet(quote)
    assert client.get_tweet(orig, tweet_fields=["public_metrics"]).data.data["public_metrics"]["quote_count"] == 0
    # A long original: the repost text is cut to 280 with an ellipsis and carries no note_tweet.
    long_orig = sandbox.add_tweet(username="warga", text=long_text("#Ekor"))
    long_rt = sandbox.repost("tetangga", long_orig)
    rt_raw = client.get_tweet(long_rt, tweet_fields=["note_tweet"]).data.data
    assert rt_raw["text"].startswith("RT @warga: Laporan") and rt_raw["text"].endswith("…")
    assert weighted(rt_raw["text"]) <= 280 and "note_tweet" not in rt_raw
    # Deleting the original takes its reposts with it, as on X.
    sandbox.delete_tweet(long_orig)
    assert client.get_tweet(long_rt).data is None


def test_quote_of_a_deleted_post(sandbox: XSandbox, client: tweepy.Client) -> None:
    quoted = sandbox.add_tweet(username="dinas_pu", text=long_text("#Perbaikan selesai"))
    quote = sandbox.add_tweet(username="warga", text="Benarkah? #KemalaJateng", quote_of=quoted)
    r = client.search_recent_tweets("#KemalaJateng", tweet_fields=["referenced_tweets", "note_tweet"],
                                    expansions=["referenced_tweets.id"])
    assert r.data[0].data["referenced_tweets"] == [{"type": "quoted", "id": quoted}]
    included = r.includes["tweets"][0].data
    assert included["id"] == quoted and included["note_tweet"]["text"].endswith("#Perbaikan selesai")
    sandbox.delete_tweet(quoted)
    r = client.get_tweet(quote, expansions=["referenced_tweets.id"])
    assert str(r.data.id) == quote and "tweets" not in r.includes
    assert r.data.data["referenced_tweets"] == [{"type": "quoted", "id": quoted}]
    err = r.errors[0]
    assert (err["resource_id"], err["parameter"], err["title"], err["type"]) == (
        quoted, "referenced_tweets.id", "Not Found Error", "https://api.twitter.com/2/problems/resource-not-found")


# ----------------------------------------------------------------------------------------- billing


def on_day(day: int, hour: int = 12) -> Callable[[], datetime]:
    return lambda: datetime(2026, 5, day, hour, 0, tzinfo=UTC)


def test_usage_post_reads_dedup_per_utc_day(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.usage_clock = on_day(1, 23)
    parent = sandbox.add_tweet(username="dinas_pu", text="Induk")
    ids = [sandbox.add_tweet(username="warga", text=f"laporan {i} #KemalaJateng", in_reply_to=parent)
           for i in range(3)]
    # Expanded parent and users sit in includes: not billed.
    client.search_recent_tweets("#KemalaJateng", expansions=["referenced_tweets.id", "author_id"])
    client.search_recent_tweets("#KemalaJateng")
    usage = sandbox.usage()
    assert usage["post_read"] == 3 and usage["requests"] == 2
    client.get_tweets([ids[0], parent])  # only the parent is new today
    assert sandbox.usage()["post_read"] == 4
    client.get_tweet("1234567890123456789")  # a 200 with only errors bills nothing
    assert sandbox.usage()["post_read"] == 4
    sandbox.usage_clock = on_day(2, 0)  # past midnight UTC the same posts bill again
    client.search_recent_tweets("#KemalaJateng")
    usage = sandbox.usage()
    assert usage["post_read"] == 7 and usage["requests"] == 5
    assert usage["usd"]["post_read"] == pytest.approx(7 * 0.005)
    assert usage["estimated_usd"] == round(7 * 0.005, 6)
    # Failed calls bill nothing.
    with pytest.raises(tweepy.BadRequest):
        client.search_recent_tweets("#KemalaJateng", max_results=5)
    sandbox.fault(endpoint="search", status=503)
    with pytest.raises(tweepy.TwitterServerError):
        client.search_recent_tweets("#KemalaJateng")
    assert sandbox.usage()["post_read"] == 7 and sandbox.usage()["requests"] == 5
    sandbox.reset(everything=True)
    cleared = sandbox.usage()
    assert cleared["post_read"] == 0 and cleared["requests"] == 0 and cleared["estimated_usd"] == 0


def test_usage_owned_reads_for_desk_timelines(sandbox: XSandbox, client: tweepy.Client) -> None:
    sandbox.usage_clock = on_day(3)
    m1 = sandbox.add_tweet(username="warga1", text="@KemalaDesk lampu mati")
    sandbox.add_tweet(username="warga2", text="@KemalaDesk jalan rusak")
    client.get_users_mentions(sandbox.desk_id, user_auth=True)
    assert (sandbox.usage()["owned_read"], sandbox.usage()["post_read"]) == (2, 0)
    client.get_users_mentions(sandbox.desk_id)  # app-only, same posts, same day: already billed as owned
    assert (sandbox.usage()["owned_read"], sandbox.usage()["post_read"]) == (2, 0)
    sandbox.add_tweet(username="warga3", text="@KemalaDesk banjir")
    client.get_users_mentions(sandbox.desk_id)  # app-only: the new post is a plain post read
    assert (sandbox.usage()["owned_read"], sandbox.usage()["post_read"]) == (2, 1)
    posted = client.create_tweet(text="Sudah kami teruskan", in_reply_to_tweet_id=m1).data["id"]
    client.get_users_tweets(sandbox.desk_id, user_auth=True)
    assert sandbox.usage()["owned_read"] == 3
    other = client.get_tweet(m1, expansions=["author_id"]).data.author_id
    sandbox.add_tweet(username="warga1", text="kedua")
    client.get_users_tweets(other, user_auth=True)  # someone else's timeline is never owned
    usage = sandbox.usage()
    assert (usage["owned_read"], usage["post_read"]) == (3, 2)
    assert usage["usd"]["owned_read"] == pytest.approx(3 * 0.001)
    assert posted


def test_usage_write_classes_prices_and_http(sandbox: XSandbox, client: tweepy.Client) -> None:
    summons = sandbox.add_tweet(username="warga", text="@KemalaDesk tolong")
    tail = sandbox.add_tweet(username="warga", text=long_text("@KemalaDesk di ekor").replace("@KemalaDesk #", "#"))
    own = client.create_tweet(text="Pengumuman desk").data["id"]
    sandbox.reply_restriction = False
    plain = sandbox.add_tweet(username="warga", text="tanpa sebutan")
    client.create_tweet(text="Balasan atas sebutan", in_reply_to_tweet_id=summons)
    client.create_tweet(text="Balasan atas ekor", in_reply_to_tweet_id=tail)
    client.create_tweet(text="Balasan tanpa sebutan", in_reply_to_tweet_id=plain)
    client.create_tweet(text="Balasan ke diri sendiri", in_reply_to_tweet_id=own)
    client.create_tweet(text="Info lengkap di jatengprov.go.id", in_reply_to_tweet_id=summons)
    with pytest.raises(tweepy.Forbidden):
        client.create_tweet(text="Pengumuman desk")  # duplicate: failed, not billed
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="a" * 281)
    usage = sandbox.usage()
    assert (usage["post_create"], usage["summoned_reply"], usage["url_post"]) == (3, 2, 1)
    assert usage["usd"] == {"post_read": 0.0, "owned_read": 0.0, "post_create": 0.045,
                            "summoned_reply": 0.02, "url_post": 0.2}
    assert usage["estimated_usd"] == 0.265 and usage["prices"] == PRICES
    # Prices can be overridden; units already billed keep their price.
    r = requests.post(f"{sandbox.url}/_sandbox/config", json={"prices": {"post_create": 0.02}}, timeout=5)
    assert r.status_code == 200
    client.create_tweet(text="Harga baru")
    over_http = requests.get(f"{sandbox.url}/_sandbox/usage", timeout=5).json()
    assert over_http == sandbox.usage()
    assert over_http["post_create"] == 4 and over_http["usd"]["post_create"] == 0.065
    assert over_http["prices"]["post_create"] == 0.02 and over_http["estimated_usd"] == 0.285
    assert set(over_http) == {"post_read", "owned_read", "post_create", "summoned_reply", "url_post", "requests",
                              "usd", "estimated_usd", "prices"}
    bad = requests.post(f"{sandbox.url}/_sandbox/config", json={"prices": {"likes": 1}}, timeout=5)
    assert bad.status_code == 400
    # Unknown outcome: the post exists on X's side, so it is billed although the client saw a 503.
    sandbox.fault(endpoint="post", status=503, after_commit=True)
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="Hasil tak pasti")
    assert sandbox.usage()["post_create"] == 5


# ----------------------------------------------------------------------------------------- mentions


def test_mentions_timeline_params_fields_and_exclusions(sandbox: XSandbox, client: tweepy.Client) -> None:
    ids = [sandbox.add_tweet(username=f"w{i}", text=f"@KemalaDesk laporan {i}") for i in range(6)]
    tail = sandbox.add_tweet(username="w9", text=long_text("@KemalaDesk ekor").replace("@KemalaDesk #", "#"),
                             photos=1)
    sandbox.repost("w8", ids[0])  # its text says "RT @w0: @KemalaDesk ..." but reposts are not mentions
    sandbox.add_tweet(username="w7", text="tanpa sebutan")
    expected = [tail, *reversed(ids)]
    got: list[str] = []
    pages = 0
    for page in tweepy.Paginator(client.get_users_mentions, sandbox.desk_id, max_results=5):
        pages += 1
        got.extend(str(t.id) for t in page.data)
    assert got == expected and pages == 2
    r = client.get_users_mentions(sandbox.desk_id, since_id=ids[3], max_results=5)
    assert [str(t.id) for t in r.data] == [tail, ids[5], ids[4]]
    assert r.meta == {"newest_id": tail, "oldest_id": ids[4], "result_count": 3}
    for bad in (4, 101):
        with pytest.raises(tweepy.BadRequest):
            client.get_users_mentions(sandbox.desk_id, max_results=bad)
    with pytest.raises(tweepy.BadRequest):
        client.get_users_mentions(sandbox.desk_id, media_fields=["bogus"])
    r = client.get_users_mentions(
        sandbox.desk_id, max_results=100, tweet_fields=["note_tweet", "entities", "author_id", "created_at"],
        expansions=["author_id", "attachments.media_keys", "entities.note.mentions.username"],
        user_fields=["verified"], media_fields=["url", "width"],
    )
    first = r.data[0].data
    assert first["id"] == tail and "KemalaDesk" not in first["text"]
    assert first["note_tweet"]["entities"]["mentions"][-1]["username"] == "KemalaDesk"
    users = {u.username for u in r.includes["users"]}
    assert {"w9", "KemalaDesk"} <= users
    assert r.includes["media"][0].data["width"] == 1200
    with pytest.raises(tweepy.BadRequest):
        client.get_users_mentions(sandbox.desk_id, pagination_token="garbage")


# ----------------------------------------------------------------------------------------- control over HTTP


def test_control_http_media_and_reposts(sandbox: XSandbox, client: tweepy.Client) -> None:
    base = f"{sandbox.url}/_sandbox"

    def post(path: str, body: dict[str, Any]) -> Any:
        r = requests.post(base + path, data=json.dumps(body), timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    tid = post("/tweets", {"username": "warga", "text": "Video banjir #KemalaJateng",
                           "media": [{"type": "video", "alt_text": "air"}]})["id"]
    rt = post("/reposts", {"username": "tetangga", "tweet_id": tid})["id"]
    r = client.get_tweet(rt, tweet_fields=["referenced_tweets"])
    assert r.data.data["referenced_tweets"] == [{"type": "retweeted", "id": tid}]
    assert requests.delete(f"{base}/reposts/{rt}", timeout=5).json() == {"deleted": True}
    assert client.get_tweet(rt).data is None
    assert requests.delete(f"{base}/reposts/{tid}", timeout=5).status_code == 400  # not a repost
    assert requests.post(base + "/tweets", json={"username": "w", "text": "x", "photos": 11},
                         timeout=5).status_code == 400
    assert requests.get(base + "/usage", timeout=5).json()["post_read"] == 1
