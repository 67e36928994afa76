"""The X sandbox's filtered stream (issue 17, item 4), probed over HTTP as X documents it: chunked delivery
with matching_rules, keep-alives, one connection per app, stalls, in-stream errors, half-written lines,
duplicates, out-of-order and lagged delivery, billing per delivered post; and tweepy's StreamingClient reads
it. No database: these run in the SQLite half only."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import tweepy

from bot.sandbox.x import XSandbox
from bot.twitter_bridge import _TWEEPY_HOSTS, _RedirectingAdapter

pytestmark = pytest.mark.once

APP = {"Authorization": "Bearer app-bearer"}
STREAM = "/2/tweets/search/stream"


@pytest.fixture
def sb() -> Iterator[XSandbox]:
    sandbox = XSandbox(desk_username="KemalaDesk", lag_seconds=0)
    sandbox.start()
    sandbox.configure({"stream_keepalive_seconds": 0.3})
    requests.post(sandbox.url + STREAM + "/rules", headers=APP, timeout=5,
                  json={"add": [{"value": "#KemalaJateng -is:retweet", "tag": "kemala:hashtag"},
                                {"value": "@KemalaDesk", "tag": "kemala:mention"}]})
    yield sandbox
    sandbox.stop()


def connect(sb: XSandbox, **params: str) -> requests.Response:
    return requests.get(sb.url + STREAM, headers=APP, params=params or None, stream=True, timeout=(3, 2))


def read(resp: requests.Response, until: float) -> list[bytes]:
    """Lines until the stream ends or `until` seconds pass (a read timeout counts as the end)."""
    out: list[bytes] = []
    deadline = time.monotonic() + until
    try:
        for line in resp.iter_lines():
            out.append(line)
            if time.monotonic() > deadline:
                break
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        out.append(b"<cut>")
    return out


def later(seconds: float, fn: Any) -> None:
    threading.Timer(seconds, fn).start()


def messages(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in lines if x and x != b"<cut>"]


def test_matching_posts_arrive_with_their_rules_fields_and_keep_alives(sb: XSandbox) -> None:
    resp = connect(sb, **{"tweet.fields": "created_at,author_id,conversation_id", "expansions": "author_id",
                          "user.fields": "location"})
    assert resp.status_code == 200 and resp.headers["Transfer-Encoding"] == "chunked"
    later(0.2, lambda: (sb.add_tweet(username="warga_blora", text="jalan rusak #KemalaJateng"),
                        sb.add_tweet(username="warga_lain", text="tidak ada tagar"),
                        sb.add_tweet(username="warga_solo", text="@KemalaDesk tolong lampu mati #KemalaJateng")))
    later(1.3, sb.stream_disconnect)
    lines = read(resp, 5)
    got = messages(lines)
    assert [m["data"]["text"] for m in got] == ["jalan rusak #KemalaJateng",
                                                "@KemalaDesk tolong lampu mati #KemalaJateng"]
    assert [sorted(r["tag"] for r in m["matching_rules"]) for m in got] == [
        ["kemala:hashtag"], ["kemala:hashtag", "kemala:mention"]]
    first = got[0]
    assert {"created_at", "author_id", "conversation_id"} <= set(first["data"])
    assert first["includes"]["users"][0]["username"] == "warga_blora"
    assert lines.count(b"") >= 2  # keep-alives while idle (every 0.3 s here, at least every 20 s at X)
    assert b"<cut>" not in lines  # a clean end: the terminating chunk
    assert sb.usage()["post_read"] == 2  # each delivered post is a post read
    assert not sb.stream_connected()


def test_one_connection_per_app_and_the_documented_refusals(sb: XSandbox) -> None:
    first = connect(sb)
    second = requests.get(sb.url + STREAM, headers=APP, timeout=5)
    assert second.status_code == 429 and second.json()["connection_issue"] == "TooManyConnections"
    first.close()
    sb.stream_disconnect()
    deadline = time.monotonic() + 5
    while sb.stream_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    again = connect(sb)
    assert again.status_code == 200
    again.close()
    sb.stream_disconnect()
    user = requests.get(sb.url + STREAM, headers={"Authorization": 'OAuth oauth_token="desk"'}, timeout=5)
    assert user.status_code == 403
    deadline = time.monotonic() + 5
    while sb.stream_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    backfill = requests.get(sb.url + STREAM, headers=APP, params={"backfill_minutes": "5"}, timeout=5)
    assert backfill.status_code == 400
    sb.fault(endpoint="stream", status=429)
    assert requests.get(sb.url + STREAM, headers=APP, timeout=5).status_code == 429
    sb.set_outage(True)
    assert requests.get(sb.url + STREAM, headers=APP, timeout=5).status_code == 503


def test_a_stall_is_silence_then_an_error_object_then_a_clean_end(sb: XSandbox) -> None:
    resp = connect(sb)
    sb.stream_stall(5)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):  # the read timeout (2 s) is how a client sees it
        for _ in resp.iter_lines():
            pass
    assert 1.5 < time.monotonic() - started < 4.5
    resp.close()
    sb.stream_disconnect(clean=False)
    deadline = time.monotonic() + 5
    while sb.stream_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    resp = connect(sb)
    later(0.2, sb.stream_error)
    got = messages(read(resp, 5))
    assert got[-1]["errors"][0]["title"] == "operational-disconnect"


def test_a_half_written_line_then_a_dropped_connection(sb: XSandbox) -> None:
    sb.configure({"stream_lag_seconds": 1.0})
    resp = connect(sb)
    sb.add_tweet(username="warga_blora", text="jalan rusak #KemalaJateng")
    later(0.2, sb.stream_half_line)
    received = b""
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        for chunk in resp.iter_content(chunk_size=None):
            received += chunk
    # Half of the post's line arrived, with no newline, and then the connection was gone.
    assert received.startswith(b'{"data"') and not received.endswith(b"\n")
    with pytest.raises(ValueError):
        json.loads(received)
    assert not sb.stream_connected()


def test_lag_duplicates_and_out_of_order_delivery(sb: XSandbox) -> None:
    sb.configure({"stream_lag_seconds": 0.5, "stream_duplicates": True, "stream_out_of_order": True})
    resp = connect(sb)
    started = time.monotonic()
    ids = [sb.add_tweet(username=f"warga{i}", text=f"aduan nomor {i} #KemalaJateng") for i in range(12)]
    arrived: list[tuple[float, str]] = []

    def collect() -> None:
        for line in resp.iter_lines():
            if line:
                arrived.append((time.monotonic() - started, json.loads(line)["data"]["id"]))
            if len(arrived) == 24:
                break

    reader = threading.Thread(target=collect)
    reader.start()
    reader.join(timeout=5)
    sb.stream_disconnect()
    assert sorted({i for _, i in arrived}) == sorted(ids)
    assert len(arrived) == 24  # every post twice
    assert min(t for t, _ in arrived) >= 0.45  # not before the lag
    order = [i for _, i in arrived]
    assert order != sorted(order, key=int)  # some later post overtook an earlier one
    assert sb.usage()["post_read"] == 12  # a duplicate delivery is the same post: billed once a day


def test_tweepy_streaming_client_reads_the_sandbox_stream(sb: XSandbox) -> None:
    got: list[tuple[str, list[str]]] = []
    connected = threading.Event()

    class Client(tweepy.StreamingClient):
        def on_connect(self) -> None:
            connected.set()

        def on_response(self, response: Any) -> None:
            got.append((response.data.text, [r.tag for r in response.matching_rules]))
            self.disconnect()

    client = Client("app-bearer")
    adapter = _RedirectingAdapter(sb.url, 5.0)
    for host in _TWEEPY_HOSTS:
        client.session.mount(host, adapter)
    rules = client.get_rules()
    assert {r.tag for r in rules.data} == {"kemala:hashtag", "kemala:mention"}
    thread = client.filter(tweet_fields=["created_at"], threaded=True)
    assert connected.wait(5)
    sb.add_tweet(username="warga_blora", text="@KemalaDesk jembatan retak")
    thread.join(timeout=5)
    assert got == [("@KemalaDesk jembatan retak", ["kemala:mention"])]


def test_stream_faults_can_be_injected_over_http(sb: XSandbox) -> None:
    resp = connect(sb)
    state = requests.get(sb.url + "/_sandbox/stream", timeout=5).json()
    assert state["connected"] and {r["tag"] for r in state["rules"]} == {"kemala:hashtag", "kemala:mention"}
    assert requests.post(sb.url + "/_sandbox/stream", json={"action": "nonsense"}, timeout=5).status_code == 400
    later(0.2, lambda: requests.post(sb.url + "/_sandbox/stream", json={"action": "error"}, timeout=5))
    assert messages(read(resp, 5))[-1]["errors"][0]["title"] == "operational-disconnect"
    assert requests.get(sb.url + "/_sandbox/stream", timeout=5).json()["connected"] is False
