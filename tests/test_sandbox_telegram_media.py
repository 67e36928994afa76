"""The Telegram sandbox's albums (sendMediaGroup), refused URLs and photo listing, driven by real PTB.

PTB parses every answer with its own de_json, so an album that returns here also proves the Message
shapes; exact Telegram descriptions are asserted on the sandbox's call log (PTB re-capitalises them).
"""

from __future__ import annotations

import datetime as dtm
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
)
from telegram.error import BadRequest, RetryAfter

from bot.sandbox.telegram import SandboxError, SandboxNotFound, TelegramSandbox

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

TOKEN = "123456:TEST-TOKEN"
SUPER = -1002001
OTHER = -1002002
PRIVATE = 777
URL = "https://pbs.twimg.com/media/{}.jpg"


def last_error(sb: TelegramSandbox) -> str:
    """The exact description the sandbox answered with (PTB capitalises its copy)."""
    return str([c for c in sb.calls() if not c["ok"]][-1]["description"])


def photos(n: int, **kwargs: Any) -> list[InputMediaPhoto]:
    return [InputMediaPhoto(URL.format(i), **kwargs) for i in range(n)]


def secs(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
def sb() -> Iterator[TelegramSandbox]:
    sandbox = TelegramSandbox(bot_token=TOKEN, rate_limits=False)
    sandbox.start()
    sandbox.add_chat(SUPER, "supergroup", "Dinas Kominfo")
    sandbox.add_chat(OTHER, "supergroup", "Dinas PU")
    sandbox.add_chat(PRIVATE, "private")
    sandbox.set_member(SUPER, {"id": 501, "first_name": "Alice"}, "creator")
    yield sandbox
    sandbox.stop()


@pytest.fixture
async def bot(sb: TelegramSandbox) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, base_url=f"{sb.url}/bot", base_file_url=f"{sb.url}/file/bot")
    await client.initialize()
    yield client
    await client.shutdown()


# ---------------------------------------------------------------- sending albums


async def test_album_of_three_replying_to_a_message(sb: TelegramSandbox, bot: Bot) -> None:
    card = await bot.send_message(SUPER, "kartu")
    album = await bot.send_media_group(SUPER, [
        InputMediaPhoto(URL.format("a"), caption="<b>Foto</b> 1", parse_mode="HTML"),
        InputMediaPhoto(URL.format("b")),
        InputMediaPhoto(URL.format("c"), caption="ketiga"),
    ], reply_to_message_id=card.message_id)  # fmt: skip
    assert [m.message_id for m in album] == [2, 3, 4]  # consecutive, right after the card
    group_ids = {m.media_group_id for m in album}
    assert len(group_ids) == 1 and isinstance(album[0].media_group_id, str)
    assert [m.caption for m in album] == ["Foto 1", None, "ketiga"]
    assert [(e.type, e.offset, e.length) for e in album[0].caption_entities] == [("bold", 0, 4)]
    for message in album:
        assert message.photo and message.photo[-1].width == 800
        assert message.reply_to_message is not None and message.reply_to_message.message_id == card.message_id
        assert message.reply_markup is None and message.chat.id == SUPER
    listing = sb.messages(SUPER)
    assert "media_group_id" not in listing[0]  # a plain message keeps its old shape
    assert [m.get("media_group_id") for m in listing[1:]] == [album[0].media_group_id] * 3
    assert [m["photo"] for m in listing[1:]] == [URL.format(c) for c in "abc"]
    assert [m["reply_to_message_id"] for m in listing[1:]] == [1, 1, 1]
    second = await bot.send_media_group(SUPER, photos(2))
    assert second[0].media_group_id != album[0].media_group_id  # each album gets its own id


async def test_album_reply_rules_and_reply_parameters(sb: TelegramSandbox, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_media_group(SUPER, photos(2), reply_to_message_id=99)
    assert last_error(sb) == "Bad Request: message to be replied not found"
    loose = await bot.send_media_group(SUPER, photos(2), reply_to_message_id=99, allow_sending_without_reply=True)
    assert [m.reply_to_message for m in loose] == [None, None]
    target = loose[0].message_id
    replied = await bot.send_media_group(SUPER, photos(2), reply_parameters=ReplyParameters(target),
                                         protect_content=True, disable_notification=True)  # fmt: skip
    assert all(m.reply_to_message is not None and m.reply_to_message.message_id == target for m in replied)
    assert all(m.has_protected_content for m in replied)


@pytest.mark.parametrize(
    ("count", "description"),
    [
        (1, "Bad Request: wrong number of media items"),
        (11, "Bad Request: too many messages to send as an album"),
    ],
)
async def test_album_size_is_two_to_ten(sb: TelegramSandbox, bot: Bot, count: int, description: str) -> None:
    with pytest.raises(BadRequest):
        await bot.send_media_group(SUPER, photos(count))
    assert last_error(sb) == description
    assert sb.messages(SUPER) == [] and sb.photos() == []
    assert len(await bot.send_media_group(SUPER, photos(10))) == 10


async def test_raw_http_bodies_and_media_errors(sb: TelegramSandbox, bot: Bot) -> None:
    method = f"{sb.url}/bot{TOKEN}/sendmediagroup"  # case-insensitive, like every method
    photo = {"type": "photo", "media": URL.format("x")}
    async with httpx.AsyncClient() as client:

        async def post(**body: Any) -> dict[str, Any]:
            answer: dict[str, Any] = (await client.post(method, json={"chat_id": SUPER, **body})).json()
            return answer

        # A JSON body carries the list itself; reply_markup is no sendMediaGroup parameter: ignored.
        keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        ok = await post(media=[photo, photo], reply_markup=keyboard)
        assert ok["ok"] and [m.get("reply_markup") for m in ok["result"]] == [None, None]
        # A form body carries it as JSON text, as PTB sends it.
        form = await client.post(method, data={"chat_id": str(SUPER), "media": json.dumps([photo, photo])})
        assert [m["message_id"] for m in form.json()["result"]] == [3, 4]
        cases: list[tuple[dict[str, Any], str]] = [
            ({}, 'Bad Request: parameter "media" is required'),
            ({"media": "[not json"}, "Bad Request: can't parse media JSON object"),
            ({"media": {"type": "photo"}}, "Bad Request: expected an Array of InputMedia"),
            ({"media": []}, "Bad Request: there are no messages to send"),
            ({"media": [photo, "x"]}, "Bad Request: can't parse InputMedia: expected an Object"),
            ({"media": [photo, {"type": "photo"}]}, "Bad Request: can't parse InputMedia: media not found"),
            ({"media": [photo, {"type": "photo", "media": "attach://nope"}]},
             "Bad Request: can't parse InputMedia: media not found"),
            ({"media": [photo, {"type": "sticker", "media": URL.format(1)}]},
             'Bad Request: can\'t parse InputMedia: type "sticker" is unsupported'),
            ({"media": [photo, {"type": "animation", "media": URL.format(1)}]},
             'Bad Request: can\'t parse InputMedia: type "animation" can\'t be used in sendMediaGroup'),
            ({"media": [photo, {"type": "photo", "media": "no-such-file-id"}]},
             "Bad Request: wrong file identifier/HTTP URL specified"),
            ({"media": [photo, photo], "chat_id": -42}, "Bad Request: chat not found"),
        ]  # fmt: skip
        for body, description in cases:
            answer = await post(**body)
            assert (answer["ok"], answer["error_code"], answer["description"]) == (False, 400, description), body
    assert len(sb.messages(SUPER)) == 4  # only the two good albums


async def test_uploads_file_ids_and_mixing_rules(sb: TelegramSandbox, bot: Bot) -> None:
    uploaded = await bot.send_media_group(SUPER, [
        InputMediaPhoto(b"\xff\xd8satu", filename="satu.jpg", caption="unggah"),
        InputMediaVideo(b"\x00\x00\x00\x18ftypmp42", filename="klip.mp4", width=1280, height=720, duration=9),
    ])  # fmt: skip
    photo_id = uploaded[0].photo[-1].file_id
    video = uploaded[1].video
    assert video is not None and (video.width, video.height, video.to_dict()["duration"]) == (1280, 720, 9)
    assert video.file_name == "klip.mp4" and uploaded[1].photo == ()
    assert await (await bot.get_file(video.file_id)).download_as_bytearray() == bytearray(b"\x00\x00\x00\x18ftypmp42")
    again = await bot.send_media_group(SUPER, [InputMediaVideo(video.file_id), InputMediaPhoto(photo_id)])
    assert again[0].video is not None and again[0].video.file_id == video.file_id
    assert again[1].photo[-1].file_id == photo_id
    assert [m["photo"] for m in sb.messages(SUPER)] == ["upload:satu.jpg", "upload:klip.mp4", video.file_id, photo_id]
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_media_group(SUPER, [InputMediaVideo(photo_id), InputMediaPhoto(photo_id)])
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(SUPER, video.file_id)  # a video's file_id is no photo
    with pytest.raises(BadRequest):
        await bot.send_media_group(SUPER, [InputMediaPhoto(URL.format(1)), InputMediaDocument(URL.format(2))])
    assert last_error(sb) == "Bad Request: document can't be mixed with other media types"
    with pytest.raises(BadRequest):
        await bot.send_media_group(SUPER, [InputMediaAudio(URL.format(1)), InputMediaVideo(URL.format(2))])
    assert last_error(sb) == "Bad Request: audio can't be mixed with other media types"
    docs = await bot.send_media_group(SUPER, [InputMediaDocument(URL.format(1)), InputMediaDocument(URL.format(2))])
    assert all(m.document is not None for m in docs)
    tracks = await bot.send_media_group(SUPER, [InputMediaAudio(URL.format(1), title="Lagu"),
                                                InputMediaAudio(URL.format(2))])  # fmt: skip
    assert tracks[0].audio is not None and tracks[0].audio.title == "Lagu"
    edited = await bot.edit_message_caption(SUPER, uploaded[1].message_id, caption="video baru")
    assert not isinstance(edited, bool) and edited.caption == "video baru"


async def test_album_captions_limits_and_html(sb: TelegramSandbox, bot: Bot) -> None:
    long_ok = await bot.send_media_group(SUPER, [
        InputMediaPhoto(URL.format(1), caption="😀" * 512),
        InputMediaPhoto(URL.format(2), caption="<i>" + "a" * 1024 + "</i>", parse_mode="HTML"),
    ])  # fmt: skip
    assert long_ok[1].caption == "a" * 1024  # the limit applies after parsing, in UTF-16 units
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_media_group(
            SUPER, [InputMediaPhoto(URL.format(1)), InputMediaPhoto(URL.format(2), caption="😀" * 513)]
        )
    assert last_error(sb) == "Bad Request: message caption is too long"
    with pytest.raises(BadRequest, match=r"(?i)can't parse inputmedia: can't parse entities"):
        await bot.send_media_group(
            SUPER,
            [InputMediaPhoto(URL.format(1)), InputMediaPhoto(URL.format(2), caption="<b>tebal", parse_mode="HTML")],
        )
    assert last_error(sb) == (
        "Bad Request: can't parse InputMedia: Can't parse entities: Can't find end tag corresponding to start tag \"b\""
    )
    assert len(sb.messages(SUPER)) == 2


# ---------------------------------------------------------------- refused URLs


async def test_refused_urls_single_photo_and_album(sb: TelegramSandbox, bot: Bot) -> None:
    sb.configure(refused_urls=["cdn.broken.example", "/expired/"])
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_photo(SUPER, "https://cdn.broken.example/a.jpg", caption="x")
    assert last_error(sb) == "Bad Request: wrong file identifier/HTTP URL specified"
    with pytest.raises(BadRequest, match="Failed to send message #2"):
        await bot.send_media_group(SUPER, [
            InputMediaPhoto(URL.format(1), caption="baik"),
            InputMediaPhoto("https://pbs.twimg.com/expired/2.jpg"),
            InputMediaPhoto("https://cdn.broken.example/3.jpg"),
        ])  # fmt: skip
    assert last_error(sb) == (
        'Bad Request: failed to send message #2 with the error message "Wrong file identifier/HTTP URL specified"'
    )
    for bad in ("ftp://files.example/a.jpg", "https:///a.jpg", "gopher://files.example/a.jpg"):
        with pytest.raises(BadRequest, match="Wrong file identifier"):
            await bot.send_photo(SUPER, bad)
        with pytest.raises(BadRequest, match="Wrong file identifier"):
            await bot.send_media_group(SUPER, [InputMediaPhoto(URL.format(1)), InputMediaPhoto(bad)])
        assert last_error(sb) == "Bad Request: wrong file identifier/HTTP URL specified"
    assert sb.messages(SUPER) == [] and sb.photos() == []  # nothing of a refused album is sent
    async with httpx.AsyncClient() as client:
        assert (await client.post(f"{sb.url}/_sandbox/config", json={"refused_urls": []})).json() == {"ok": True}
        refused = await client.post(f"{sb.url}/_sandbox/config", json={"refused_urls": "cdn"})
        assert refused.status_code == 400
    assert (await bot.send_photo(SUPER, "https://cdn.broken.example/a.jpg")).photo
    with pytest.raises(SandboxError):
        sb.configure(refused_urls=[""])


# ---------------------------------------------------------------- rate limits and faults


async def test_album_counts_its_items_against_the_group_window() -> None:
    with TelegramSandbox(bot_token=TOKEN) as sb:
        now = [1000.0]
        sb.rate_clock = lambda: now[0]  # frozen: the window arithmetic does not depend on machine speed
        sb.add_chat(SUPER)
        async with Bot(TOKEN, base_url=f"{sb.url}/bot") as bot:
            for i in range(18):
                await bot.send_message(SUPER, f"pesan {i}")
            now[0] += 2.0  # out of the 30/s window, still inside the minute
            with pytest.raises(RetryAfter) as limited:
                await bot.send_media_group(SUPER, photos(3))  # 18 + 3 > 20: the whole album waits
            assert secs(limited.value.retry_after) == 58  # until the first message leaves the window
            assert last_error(sb) == "Too Many Requests: retry after 58"
            assert len(sb.messages(SUPER)) == 18 and sb.photos() == []
            sent = await bot.send_media_group(SUPER, photos(2))  # exactly fills the window
            assert len(sent) == 2
            with pytest.raises(RetryAfter):
                await bot.send_photo(SUPER, URL.format(9))
            now[0] += 60.0
            assert len(await bot.send_media_group(SUPER, photos(3))) == 3
            assert len(sb.messages(SUPER)) == 23


async def test_album_counts_once_against_the_bot_window() -> None:
    with TelegramSandbox(bot_token=TOKEN, limit_scale=0.1) as sb:  # 3 calls/s, 2 group sends/min
        sb.rate_clock = lambda: 1000.0
        sb.add_chat(PRIVATE, "private")
        sb.add_chat(SUPER)
        async with Bot(TOKEN, base_url=f"{sb.url}/bot") as bot:  # initialize: getMe is call 1
            await bot.send_media_group(PRIVATE, photos(4))  # call 2, whatever its size
            await bot.send_media_group(PRIVATE, photos(4))  # call 3
            with pytest.raises(RetryAfter):
                await bot.get_me()
            sb.configure(limit_scale=0.1)  # resets the windows
            # An album larger than the whole (scaled) group window passes once the window is empty.
            assert len(await bot.send_media_group(SUPER, photos(3))) == 3
            with pytest.raises(RetryAfter):
                await bot.send_message(SUPER, "penuh")


async def test_fault_on_send_media_group(sb: TelegramSandbox, bot: Bot) -> None:
    sb.fault("sendMediaGroup", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_media_group(SUPER, photos(2))
    assert secs(limited.value.retry_after) == 7
    assert sb.messages(SUPER) == []
    await bot.send_message(SUPER, "a fault on sendMediaGroup leaves other methods alone")
    assert len(await bot.send_media_group(SUPER, photos(2))) == 2


# ---------------------------------------------------------------- the photos listing


async def test_photos_listing_over_http(sb: TelegramSandbox, bot: Bot) -> None:
    card = await bot.send_message(SUPER, "kartu")
    single = await bot.send_photo(SUPER, URL.format("solo"), caption="satu")
    await bot.send_photo(OTHER, b"\xff\xd8x", filename="lain.jpg")
    album = await bot.send_media_group(SUPER, [
        InputMediaPhoto(URL.format("a"), caption="pertama"), InputMediaVideo("https://x.example/v.mp4"),
    ], reply_to_message_id=card.message_id)  # fmt: skip
    sb.delete_message(SUPER, album[1].message_id)  # a member deletes one item of the album
    await bot.delete_message(SUPER, single.message_id)
    base = f"{sb.url}/_sandbox/photos"
    async with httpx.AsyncClient() as client:
        everything = (await client.get(base)).json()
        mine = (await client.get(base, params={"chat_id": SUPER})).json()
        missing = await client.get(base, params={"chat_id": -99})
        bad = await client.get(base, params={"chat_id": "x"})
    assert [e["kind"] for e in everything] == ["photo", "photo", "album"]
    assert [e["chat_id"] for e in everything] == [SUPER, OTHER, SUPER]
    assert everything[1]["sources"] == ["upload:lain.jpg"]
    assert mine == [everything[0], everything[2]]
    solo, group = mine
    assert {k: v for k, v in solo.items() if k != "time"} == {
        "chat_id": SUPER, "kind": "photo", "message_ids": [single.message_id], "media_group_id": None,
        "sources": [URL.format("solo")], "types": ["photo"], "captions": ["satu"], "reply_to_message_id": None,
        "deleted": True, "deleted_message_ids": [single.message_id],
    }  # fmt: skip
    assert {k: v for k, v in group.items() if k != "time"} == {
        "chat_id": SUPER, "kind": "album", "message_ids": [m.message_id for m in album],
        "media_group_id": album[0].media_group_id, "sources": [URL.format("a"), "https://x.example/v.mp4"],
        "types": ["photo", "video"], "captions": ["pertama", None], "reply_to_message_id": card.message_id,
        "deleted": False, "deleted_message_ids": [album[1].message_id],
    }  # fmt: skip
    assert isinstance(group["time"], float) and group["time"] >= solo["time"]
    assert missing.status_code == 404 and bad.status_code == 400
    assert sb.photos(OTHER) == [everything[1]]
    with pytest.raises(SandboxNotFound):
        sb.photos(-99)
