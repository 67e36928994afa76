"""Filtered-stream rules (issue 17, first part): the X sandbox serves the rules API as X documents it for
pay-per-use apps, and the bridge keeps the app's rules equal to the configuration through tweepy, without a
stream connection. No database: these run in the SQLite half only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bot.sandbox.x import MAX_RULE_CHARS, MAX_RULES, XSandbox
from bot.twitter_bridge import XBridge, XError

pytestmark = pytest.mark.once

RULES = "/2/tweets/search/stream/rules"


@pytest.fixture
def sb() -> Iterator[XSandbox]:
    sandbox = XSandbox(desk_username="KemalaDesk", lag_seconds=0)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def bridge(sb: XSandbox) -> XBridge:
    return XBridge(api_url=sb.url, bearer_token="app-bearer", consumer_key="ck", consumer_secret="cs",
                   access_token="desk-access", access_token_secret="das", timeout=2.0)


def app(sb: XSandbox, method: str, path: str = RULES, **kw: object) -> requests.Response:
    return requests.request(method, sb.url + path, headers={"Authorization": "Bearer app-bearer"}, timeout=5,
                            **kw)  # type: ignore[arg-type]


def test_sync_adds_the_configured_rules_once_and_follows_a_changed_hashtag(sb: XSandbox) -> None:
    x = bridge(sb)
    wanted = XBridge.stream_rules_for("#KemalaJateng", "KemalaDesk")
    first = x.sync_stream_rules(wanted)
    assert sorted(first.added) == sorted(wanted.values()) and first.deleted == 0
    assert {(r["tag"], r["value"]) for r in sb.stream_rules()} == set(wanted.items())
    # The same configuration again changes nothing (no add, no delete: a restart keeps the stream as it is).
    calls = len(sb.calls())
    again = x.sync_stream_rules(wanted)
    assert again.added == () and again.deleted == 0
    assert [c["method"] for c in sb.calls()[calls:]] == ["GET"]
    # An operator's own rule is left alone; a changed hashtag replaces only the desk's hashtag rule.
    assert app(sb, "POST", json={"add": [{"value": "banjir semarang", "tag": "operator"}]}).status_code == 201
    changed = XBridge.stream_rules_for("#LaporGub", "KemalaDesk")
    third = x.sync_stream_rules(changed)
    assert third.added == (changed["kemala:hashtag"],) and third.deleted == 1
    assert {(r.get("tag"), r["value"]) for r in sb.stream_rules()} == {*changed.items(),
                                                                      ("operator", "banjir semarang")}


def test_a_rule_x_refuses_changes_nothing_and_names_the_rule(sb: XSandbox) -> None:
    x = bridge(sb)
    x.sync_stream_rules(XBridge.stream_rules_for("#KemalaJateng", "KemalaDesk"))
    before = sb.stream_rules()
    for bad in ("#KemalaJateng (", "nosuch:operator", "-is:retweet", "x" * (MAX_RULE_CHARS + 1)):
        with pytest.raises(XError) as refused:
            x.sync_stream_rules({"kemala:hashtag": bad, "kemala:mention": "@KemalaDesk"})
        assert refused.value.status == 400 and "X refused the stream rule" in str(refused.value)
        assert bad[:20] in str(refused.value)
        assert sb.stream_rules() == before  # dry_run first: the old rules still stand


def test_rules_api_follows_the_documented_shapes(sb: XSandbox) -> None:
    empty = app(sb, "GET").json()
    assert "data" not in empty and empty["meta"]["result_count"] == 0
    dry = app(sb, "POST", params={"dry_run": "true"}, json={"add": [{"value": "#KemalaJateng", "tag": "t"}]})
    assert dry.status_code == 201 and dry.json()["meta"]["summary"]["created"] == 1
    assert sb.stream_rules() == []  # dry_run validates and stores nothing
    made = app(sb, "POST", json={"add": [{"value": "#KemalaJateng", "tag": "t"}, {"value": "@KemalaDesk"}]}).json()
    ids = [r["id"] for r in made["data"]]
    assert len(ids) == 2 and made["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}
    dup = app(sb, "POST", json={"add": [{"value": "#KemalaJateng"}]}).json()
    assert dup["errors"][0]["title"] == "DuplicateRule" and dup["errors"][0]["id"] == ids[0]
    assert app(sb, "GET", params={"ids": ids[1]}).json()["data"] == [{"id": ids[1], "value": "@KemalaDesk"}]
    gone = app(sb, "POST", json={"delete": {"ids": [ids[0], "1"]}}).json()
    assert gone["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    assert gone["errors"][0]["title"] == "RuleNotFound"
    for body in ({}, {"add": [], "delete": {"ids": ["1"]}}, {"add": "x"}, {"delete": {}}):
        assert app(sb, "POST", json=body).status_code == 400, body
    assert app(sb, "POST", params={"dry_run": "maybe"}, json={"add": [{"value": "a"}]}).status_code == 400
    # The rules belong to the app: a user-context token is refused.
    user = requests.get(sb.url + RULES, headers={"Authorization": 'OAuth oauth_token="desk-access"'}, timeout=5)
    assert user.status_code == 403 and "Application-Only" in user.json()["detail"]


def test_the_rule_cap_is_enforced(sb: XSandbox) -> None:
    batch = [{"value": f"kata{i}"} for i in range(MAX_RULES)]
    assert app(sb, "POST", json={"add": batch}).status_code == 201
    over = app(sb, "POST", json={"add": [{"value": "satu lagi"}]})
    assert over.status_code == 400 and over.json()["title"] == "RulesCapExceeded"
    assert len(sb.stream_rules()) == MAX_RULES
    page = app(sb, "GET", params={"max_results": "400"}).json()
    assert page["meta"]["result_count"] == 400 and page["meta"]["next_token"] == "400"
