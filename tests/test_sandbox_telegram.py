"""The Telegram sandbox, driven by real python-telegram-bot: every method, every enforced rule.

PTB parses every answer with its own de_json, so a call that returns here also proves the shape.
Exact Telegram descriptions are asserted on the sandbox's call log (PTB re-capitalises them).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.sandbox.telegram import SandboxForbidden, SandboxNotFound, TelegramSandbox
from bot.sandbox.telegram_html import parse_html, utf16_len

# Uses no database of the suite: runs in the SQLite half only (see tests/conftest.py).
pytestmark = pytest.mark.once

TOKEN = "123456:TEST-TOKEN"
GROUP = -4001
SUPER = -1002001
ALICE = {"id": 501, "first_name": "Alice", "username": "alice"}
BOB = {"id": 502, "first_name": "Bob", "username": "bob"}


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs])


def last_error(sb: TelegramSandbox) -> str:
    """The exact description the sandbox answered with (PTB capitalises its copy)."""
    return str([c for c in sb.calls() if not c["ok"]][-1]["description"])


async def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll a sandbox-side condition with a deadline (no fixed sleeps)."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached before the deadline")


def secs(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
def sb() -> Iterator[TelegramSandbox]:
    sandbox = TelegramSandbox(bot_token=TOKEN, rate_limits=False)
    sandbox.start()
    sandbox.add_chat(SUPER, "supergroup", "Dinas Kominfo")
    sandbox.add_chat(GROUP, "group", "Dinas PU")
    for chat in (SUPER, GROUP):
        sandbox.set_member(chat, ALICE, "creator")
        sandbox.set_member(chat, BOB, "member")
    yield sandbox
    sandbox.stop()


@pytest.fixture
async def bot(sb: TelegramSandbox) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, base_url=f"{sb.url}/bot", base_file_url=f"{sb.url}/file/bot")
    await client.initialize()
    yield client
    await client.shutdown()


# ---------------------------------------------------------------- basics


async def test_get_me_and_lifecycle_methods(sb: TelegramSandbox, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "kemala_desk_bot")
    assert me.can_join_groups is True and me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert sb.bot_id == 123456
    assert await bot.close() is True
    assert await bot.log_out() is True


async def test_wrong_token_and_unknown_method(sb: TelegramSandbox, bot: Bot) -> None:
    wrong = Bot("123456:WRONG", base_url=f"{sb.url}/bot")
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    assert last_error(sb) == "Unauthorized"
    with pytest.raises(EndPointNotFound):  # PTB's reading of Telegram's 404 for an unknown method
        await bot.do_api_request("frobnicate")
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{sb.url}/bot{TOKEN}/frobnicate")
        assert answer.status_code == 404
        assert answer.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        # method names are case-insensitive, JSON and form bodies both work, GET too
        ok = await client.post(f"{sb.url}/bot{TOKEN}/SENDMESSAGE", json={"chat_id": SUPER, "text": "json"})
        assert ok.json()["result"]["text"] == "json"
        form = await client.post(f"{sb.url}/bot{TOKEN}/sendMessage", data={"chat_id": str(SUPER), "text": "form"})
        assert form.json()["result"]["message_id"] == 2
        got = await client.get(f"{sb.url}/bot{TOKEN}/getMe")
        assert got.json()["result"]["username"] == "kemala_desk_bot"


async def test_calls_are_logged(sb: TelegramSandbox, bot: Bot) -> None:
    await bot.send_message(SUPER, "hi", reply_markup=keyboard(("A", "a")))
    with pytest.raises(BadRequest):
        await bot.send_message(SUPER, "")
    calls = sb.calls()
    assert calls[0]["method"] == "getMe" and calls[0]["ok"]
    send = calls[1]
    assert send["method"] == "sendMessage" and send["params"]["chat_id"] == SUPER
    assert send["params"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    assert calls[2]["ok"] is False and calls[2]["error_code"] == 400


# ---------------------------------------------------------------- sending and HTML


async def test_send_message_html_entities_and_reply(sb: TelegramSandbox, bot: Bot) -> None:
    msg = await bot.send_message(
        SUPER, "<b>Laporan</b> &amp; <a href='https://x.com/i/1'>tautan</a> A & B &lt;3", parse_mode="HTML",
        reply_markup=keyboard(("Klaim", "claim:1")),
    )
    assert msg.message_id == 1 and msg.chat.id == SUPER and msg.chat.type == "supergroup"
    assert msg.chat.title == "Dinas Kominfo" and msg.from_user is not None and msg.from_user.is_bot
    assert msg.text == "Laporan & tautan A & B <3"  # a bare '&' stays literal, as tdlib does
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 0, 7), ("text_link", 10, 6)]
    assert msg.entities[1].url == "https://x.com/i/1"
    assert isinstance(msg.date, dtm.datetime)
    assert msg.reply_markup is not None and msg.reply_markup.inline_keyboard[0][0].callback_data == "claim:1"
    reply = await bot.send_message(SUPER, "balasan", reply_to_message_id=msg.message_id)
    assert reply.message_id == 2 and reply.reply_to_message is not None
    assert reply.reply_to_message.text == msg.text
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(SUPER, "x", reply_to_message_id=99)
    loose = await bot.send_message(SUPER, "x", reply_to_message_id=99, allow_sending_without_reply=True)
    assert loose.reply_to_message is None
    other = await bot.send_message(GROUP, "group")
    assert other.message_id == 1  # message ids count per chat
    seen = sb.messages(SUPER)
    assert seen[0] == {
        "message_id": 1, "from_bot": True, "text": "Laporan & tautan A & B <3", "caption": None,
        "reply_markup": {"inline_keyboard": [[{"text": "Klaim", "callback_data": "claim:1"}]]},
        "reply_to_message_id": None, "edits": 0, "from_user_id": 123456, "photo": None,
    }
    assert seen[1]["reply_to_message_id"] == 1


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<x>hi</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("harga < 100", 'Unsupported start tag "" at byte offset 6'),
        ("é<br>", 'Unsupported start tag "br" at byte offset 2'),
        ("<b>tebal", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a<b", "Unclosed start tag at byte offset 1"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_html_parse_errors(sb: TelegramSandbox, bot: Bot, html: str, description: str) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(SUPER, html, parse_mode="HTML")
    assert last_error(sb) == f"Bad Request: can't parse entities: {description}"


def test_html_subset_and_utf16() -> None:
    text, entities = parse_html(
        '<strong>a</strong><em>b</em><ins>c</ins><del>d</del><span class="tg-spoiler">e</span>'
        '<tg-spoiler>f</tg-spoiler><code>g</code><pre><code class="language-py">h</code></pre>'
        "<blockquote>i</blockquote><blockquote expandable>j</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>&#128512;&#x41;&quot;&gt;'
    )
    assert text == 'abcdefghij👍😀A">'
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert kinds == [
        ("bold", 0, 1), ("italic", 1, 1), ("underline", 2, 1), ("strikethrough", 3, 1), ("spoiler", 4, 1),
        ("spoiler", 5, 1), ("code", 6, 1), ("pre", 7, 1), ("blockquote", 8, 1),
        ("expandable_blockquote", 9, 1), ("custom_emoji", 10, 2),
    ]
    assert entities[7]["language"] == "py"
    assert utf16_len("😀a") == 3
    assert parse_html("  <b> x </b>  ") == ("x", [{"offset": 0, "length": 1, "type": "bold"}])


async def test_text_limits_in_utf16_after_parsing(sb: TelegramSandbox, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(SUPER, "   ")
    assert last_error(sb) == "Bad Request: message text is empty"
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(SUPER, "<b></b>", parse_mode="HTML")
    assert (await bot.send_message(SUPER, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")).text == "a" * 4096
    await bot.send_message(SUPER, "😀" * 2048)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(SUPER, "😀" * 2049)
    assert last_error(sb) == "Bad Request: message is too long"
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(SUPER, "a" * 4097)


async def test_inline_keyboard_validation_and_force_reply(sb: TelegramSandbox, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(SUPER, "x", reply_markup=keyboard(("A", "é" * 33)))  # 66 bytes
    assert last_error(sb) == "Bad Request: BUTTON_DATA_INVALID"
    await bot.send_message(SUPER, "x", reply_markup=keyboard(("A", "é" * 32)))  # 64 bytes is fine
    bad_url = InlineKeyboardMarkup([[InlineKeyboardButton("Buka", url="not a url")]])
    with pytest.raises(BadRequest):
        await bot.send_message(SUPER, "x", reply_markup=bad_url)
    assert last_error(sb) == "Bad Request: BUTTON_URL_INVALID"
    good = InlineKeyboardMarkup([[InlineKeyboardButton("Buka", url="https://x.com/i/1"),
                                  InlineKeyboardButton("TG", url="tg://resolve?domain=x")]])
    await bot.send_message(SUPER, "x", reply_markup=good)
    async with httpx.AsyncClient() as client:
        text_only = {"chat_id": SUPER, "text": "x", "reply_markup": json.dumps({"inline_keyboard": [[{"text": "A"}]]})}
        answer = (await client.post(f"{sb.url}/bot{TOKEN}/sendMessage", json=text_only)).json()
    assert answer["error_code"] == 400 and "Text buttons are unallowed" in answer["description"]
    prompt = await bot.send_message(
        SUPER, "@alice balas:", reply_markup=ForceReply(selective=True, input_field_placeholder="Balasan")
    )
    assert prompt.reply_markup is None  # Telegram echoes only inline keyboards
    assert sb.messages(SUPER)[-1]["reply_markup"] == {
        "force_reply": True, "selective": True, "input_field_placeholder": "Balasan"
    }


async def test_send_photo_url_upload_file_id_and_caption(sb: TelegramSandbox, bot: Bot) -> None:
    by_url = await bot.send_photo(SUPER, "https://pbs.twimg.com/media/a.jpg", caption="<i>foto</i>", parse_mode="HTML")
    assert by_url.photo[-1].width == 800 and by_url.caption == "foto"
    assert by_url.caption_entities[0].type == "italic"
    upload = await bot.send_photo(SUPER, b"\xff\xd8jpegbytes", caption="unggah", filename="p.jpg")
    file_id = upload.photo[-1].file_id
    again = await bot.send_photo(SUPER, file_id)
    assert again.photo[-1].file_id == file_id
    tg_file = await bot.get_file(file_id)
    assert await tg_file.download_as_bytearray() == bytearray(b"\xff\xd8jpegbytes")
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(SUPER, "no-such-file-id")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(SUPER, file_id, caption="a" * 1025)
    assert last_error(sb) == "Bad Request: message caption is too long"
    photos = [m["photo"] for m in sb.messages(SUPER)]
    assert photos == ["https://pbs.twimg.com/media/a.jpg", "upload:p.jpg", file_id]


# ---------------------------------------------------------------- editing and deleting


async def test_edit_text_markup_and_not_modified(sb: TelegramSandbox, bot: Bot) -> None:
    msg = await bot.send_message(SUPER, "kartu", reply_markup=keyboard(("Klaim", "claim")))
    edited = await bot.edit_message_text("kartu <b>diklaim</b>", SUPER, msg.message_id, parse_mode="HTML",
                                         reply_markup=keyboard(("Lepas", "release")))
    assert isinstance(edited, type(msg)) and edited.edit_date is not None
    assert edited.text == "kartu diklaim" and edited.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("kartu <b>diklaim</b>", SUPER, msg.message_id, parse_mode="HTML",
                                    reply_markup=keyboard(("Lepas", "release")))
    assert last_error(sb) == (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
    # same text, other entities: modified; omitting reply_markup removes the keyboard
    plain = await bot.edit_message_text("kartu diklaim", SUPER, msg.message_id)
    assert not isinstance(plain, bool) and plain.reply_markup is None and sb.messages(SUPER)[0]["reply_markup"] is None
    marked = await bot.edit_message_reply_markup(SUPER, msg.message_id, reply_markup=keyboard(("B", "b")))
    assert not isinstance(marked, bool) and marked.reply_markup is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(SUPER, msg.message_id, reply_markup=keyboard(("B", "b")))
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", SUPER, 999)
    assert last_error(sb) == "Bad Request: message to edit not found"
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.edit_message_text(" ", SUPER, msg.message_id)
    assert sb.messages(SUPER)[0]["edits"] == 3


async def test_edit_caption_and_photo_rules(sb: TelegramSandbox, bot: Bot) -> None:
    photo = await bot.send_photo(SUPER, "https://example.org/a.jpg", caption="lama")
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("baru", SUPER, photo.message_id)
    assert last_error(sb) == "Bad Request: there is no text in the message to edit"
    edited = await bot.edit_message_caption(SUPER, photo.message_id, caption="baru")
    assert isinstance(edited, type(photo)) and edited.caption == "baru"
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.edit_message_caption(SUPER, photo.message_id, caption="x" * 1025)
    text = await bot.send_message(SUPER, "teks")
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(SUPER, text.message_id, caption="x")
    user_msg = sb.send_message(SUPER, 501, "/start")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", SUPER, user_msg)


async def test_delete_message(sb: TelegramSandbox, bot: Bot) -> None:
    msg = await bot.send_message(SUPER, "hapus")
    assert await bot.delete_message(SUPER, msg.message_id) is True
    assert sb.messages(SUPER) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(SUPER, msg.message_id)
    assert last_error(sb) == "Bad Request: message to delete not found"
    theirs = sb.send_message(SUPER, 501, "/help")
    with pytest.raises(BadRequest, match="Message can't be deleted"):
        await bot.delete_message(SUPER, theirs)
    sb.set_member(SUPER, sb.bot_id, "administrator")
    assert await bot.delete_message(SUPER, theirs) is True


# ---------------------------------------------------------------- updates, callbacks, privacy mode


async def test_get_updates_offset_limit_and_privacy_mode(sb: TelegramSandbox, bot: Bot) -> None:
    card = await bot.send_message(SUPER, "kartu")
    sb.send_message(SUPER, 501, "obrolan biasa")  # privacy mode: not delivered
    sb.send_message(SUPER, 501, "/start@other_bot")  # meant for another bot: not delivered
    first = sb.send_message(SUPER, 501, "/claim@kemala_desk_bot 12")
    sb.send_message(SUPER, 502, "jawaban", reply_to_message_id=card.message_id)
    sb.send_message(SUPER, 502, "/help")
    assert sb.pending_updates() == 3
    updates = await bot.get_updates(limit=2)
    assert len(updates) == 2 and updates[0].message is not None
    command = updates[0].message
    assert command.message_id == first and command.text == "/claim@kemala_desk_bot 12"
    assert command.entities[0].type == "bot_command" and command.entities[0].length == 22
    assert command.from_user is not None and command.from_user.username == "alice"
    reply = updates[1].message
    assert reply is not None and reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == card.message_id
    rest = await bot.get_updates(offset=updates[1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["/help"]
    assert sb.pending_updates() == 1
    assert await bot.get_updates(offset=rest[0].update_id + 1) == ()
    sb.set_member(SUPER, sb.bot_id, "administrator")  # admins see everything
    await bot.get_updates(offset=rest[0].update_id + 2)  # consume the my_chat_member update
    sb.send_message(SUPER, 501, "obrolan biasa")
    assert sb.pending_updates() == 1


async def test_allowed_updates_filter(sb: TelegramSandbox, bot: Bot) -> None:
    msg = await bot.send_message(SUPER, "k", reply_markup=keyboard(("A", "a")))
    sb.send_message(SUPER, 501, "/start")
    sb.press(SUPER, msg.message_id, 502, "a")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert len(updates) == 1 and updates[0].callback_query is not None


async def test_long_poll_wakes_and_conflict(sb: TelegramSandbox, bot: Bot) -> None:
    started = time.monotonic()
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    sb.send_message(SUPER, 501, "/start")
    updates = await asyncio.wait_for(waiting, 3)
    assert len(updates) == 1 and time.monotonic() - started < 2
    assert await bot.get_updates(timeout=0) == updates  # not confirmed yet: delivered again
    # a second poller (PTB's Bot allows one getUpdates at a time, so a second Bot): the waiting
    # request is terminated and the newer one proceeds, in Telegram's order
    older = asyncio.create_task(bot.get_updates(offset=updates[0].update_id + 1, timeout=5))
    await asyncio.sleep(0.1)
    async with Bot(TOKEN, base_url=f"{sb.url}/bot") as second:
        assert await second.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    with pytest.raises(Conflict, match="Conflict: terminated by other getUpdates request"):
        await asyncio.wait_for(older, 3)
    assert last_error(sb) == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    )


async def test_callback_query_answer_rules(sb: TelegramSandbox, bot: Bot) -> None:
    card = await bot.send_message(SUPER, "kartu", reply_markup=keyboard(("Klaim", "claim:7")))
    query_id = sb.press(SUPER, card.message_id, 502, "claim:7")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.id == query_id and query.data == "claim:7"
    assert query.from_user.id == 502 and query.chat_instance
    assert query.message is not None and query.message.message_id == card.message_id
    assert await bot.answer_callback_query(query_id, text="Diklaim", show_alert=True) is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)
    assert last_error(sb) == "Bad Request: query is too old and response timeout expired or query ID is invalid"
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
    sb.configure(callback_query_ttl=0.0)
    late = sb.press(SUPER, card.message_id, 501, "claim:7")
    await asyncio.sleep(0.01)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(late)
    answers = sb.callback_answers()
    assert answers[0] == {"callback_query_id": query_id, "text": "Diklaim", "show_alert": True, "ok": True}
    assert [a["ok"] for a in answers] == [True, False, False, False]
    # Forged data is delivered as-is (the bot must refuse it), presses on missing messages are not.
    assert sb.press(SUPER, card.message_id, 501, "forged")
    with pytest.raises(ValueError, match="not found"):
        sb.press(SUPER, 987654, 501, "claim:7")


def test_control_refuses_non_members(sb: TelegramSandbox) -> None:
    sb.set_member(SUPER, {"id": 503, "first_name": "Cici"}, "left")
    sb.set_member(SUPER, 504, "kicked")
    for user in (503, 504, 999):
        with pytest.raises(SandboxForbidden):
            sb.send_message(SUPER, user, "/start")
    with pytest.raises(SandboxNotFound):
        sb.send_message(-77, 501, "/start")


# ---------------------------------------------------------------- chats and members


async def test_chat_errors_kick_and_upgrade(sb: TelegramSandbox, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-42, "x")
    assert last_error(sb) == "Bad Request: chat not found"
    await bot.send_message(GROUP, "sebelum")
    new_id = sb.upgrade(GROUP)
    assert new_id == -1000000004001
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(GROUP, "x")
    assert migrated.value.new_chat_id == new_id
    assert last_error(sb) == "Bad Request: group chat was upgraded to a supergroup chat"
    moved = await bot.send_message(new_id, "sesudah")
    assert moved.chat.type == "supergroup" and moved.message_id == 2  # 1 is the migrate service message
    updates = await bot.get_updates()
    service = [u.message for u in updates if u.message]
    assert service[0].migrate_to_chat_id == new_id and service[0].chat.id == GROUP
    assert service[1].migrate_from_chat_id == GROUP and service[1].chat.id == new_id
    sb.kick_bot(SUPER)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(SUPER, "x")
    sb.kick_bot(new_id)
    kicked = await bot.get_updates(offset=updates[-1].update_id + 1)
    change = kicked[0].my_chat_member
    assert change is not None and change.new_chat_member.status == "kicked"
    assert change.old_chat_member.status == "member" and change.chat.id == SUPER
    sb.add_chat(-4002, "group", "Dinas Sosial")
    sb.kick_bot(-4002)
    with pytest.raises(Forbidden, match="Forbidden: bot was kicked from the group chat"):
        await bot.send_message(-4002, "x")
    sb.add_chat(-4003, "group", "Dinas Kesehatan")
    sb.set_member(-4003, sb.bot_id, "left")  # the bot left by itself
    with pytest.raises(Forbidden, match="Forbidden: bot is not a member of the group chat"):
        await bot.send_message(-4003, "x")
    sb.set_member(-4003, sb.bot_id, "member")  # added back
    assert (await bot.send_message(-4003, "kembali")).chat.id == -4003


async def test_get_chat_members_and_admins(sb: TelegramSandbox, bot: Bot) -> None:
    chat = await bot.get_chat(SUPER)
    assert isinstance(chat, ChatFullInfo) and chat.title == "Dinas Kominfo" and chat.type == "supergroup"
    sb.set_member(SUPER, {"id": 510, "first_name": "Dewi"}, "administrator")
    sb.set_member(SUPER, 511, "restricted")
    sb.set_member(SUPER, 512, "left")
    sb.set_member(SUPER, 513, "kicked")
    sb.set_member(GROUP, 514, "member")
    expected = {501: ChatMemberOwner, 502: ChatMemberMember, 510: ChatMemberAdministrator,
                511: ChatMemberRestricted, 512: ChatMemberLeft, 513: ChatMemberBanned, 514: ChatMemberLeft}
    for user_id, kind in expected.items():
        member = await bot.get_chat_member(SUPER, user_id)
        assert isinstance(member, kind) and member.user.id == user_id
    admin = await bot.get_chat_member(SUPER, 510)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages and not admin.can_be_edited
    assert (await bot.get_chat_member(SUPER, sb.bot_id)).status == "member"
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_member(SUPER, 999)
    assert last_error(sb) == "Bad Request: user not found"
    admins = await bot.get_chat_administrators(SUPER)
    assert sorted(a.user.id for a in admins) == [501, 510]
    sb.add_chat(501, "private")
    private = await bot.get_chat(501)
    assert private.type == "private" and private.first_name == "Alice"


async def test_my_commands(sb: TelegramSandbox, bot: Bot) -> None:
    assert await bot.set_my_commands([("klaim", "Klaim kartu"), ("bantuan_1", "Bantuan")]) is True
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("klaim", "Klaim kartu"), ("bantuan_1", "Bantuan"),
    ]
    for command, description in (("Klaim", "x"), ("a" * 33, "x"), ("", "x"), ("ok", ""), ("ok", "d" * 257)):
        with pytest.raises(BadRequest):
            await bot.set_my_commands([(command, description)])
    assert [c["description"] for c in sb.calls()[-5:]] == ["Bad Request: BOT_COMMAND_INVALID"] * 3 + [
        "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"] * 2
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == ()


# ---------------------------------------------------------------- webhooks


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, Any], str | None]]
    fail_first: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.fail_first:
            self.fail_first.pop()
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.received.append((json.loads(body), self.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_webhook_delivery_retry_and_conflict(sb: TelegramSandbox, bot: Bot) -> None:
    received: list[tuple[dict[str, Any], str | None]] = []
    handler = type("R", (_Receiver,), {"received": received, "fail_first": [1]})
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        sb.webhook_retry_s = 0.02
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        assert await bot.set_webhook(hook, secret_token="s3cret", drop_pending_updates=True) is True
        with pytest.raises(Conflict, match="Conflict: can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert last_error(sb) == ("Conflict: can't use getUpdates method while webhook is active; "
                                  "use deleteWebhook to delete the webhook first")
        sb.send_message(SUPER, 501, "/start")
        sb.send_message(SUPER, 501, "/help")
        await wait_for(lambda: len(received) == 2)
        assert [r[0]["message"]["text"] for r in received] == ["/start", "/help"]
        assert {r[1] for r in received} == {"s3cret"}
        assert Update.de_json(received[0][0], bot) is not None
        info = await bot.get_webhook_info()
        assert info.url == hook and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message
        assert await bot.delete_webhook() is True
        assert (await bot.get_webhook_info()).url == ""
        assert await bot.get_updates() == ()
    finally:
        receiver.shutdown()
        receiver.server_close()


# ---------------------------------------------------------------- rate limits and faults


async def test_group_rate_limit_per_minute() -> None:
    with TelegramSandbox(bot_token=TOKEN) as sb:
        sb.add_chat(SUPER)
        sb.add_chat(777, "private")
        async with Bot(TOKEN, base_url=f"{sb.url}/bot") as bot:
            for i in range(20):
                await bot.send_message(SUPER, f"pesan {i}")
            with pytest.raises(RetryAfter) as limited:
                await bot.send_message(SUPER, "satu lagi")
            assert 55 <= secs(limited.value.retry_after) <= 60
            assert last_error(sb).startswith("Too Many Requests: retry after ")
            await bot.send_message(777, "private chats have no per-minute limit here")
            sb.configure(rate_limits=False)
            await bot.send_message(SUPER, "limits off")


async def test_bot_rate_limit_per_second_and_scale() -> None:
    with TelegramSandbox(bot_token=TOKEN, limit_scale=0.1) as sb:  # 3 calls/s, 2 group sends/min
        sb.rate_clock = lambda: 1000.0  # frozen: every call falls in the same window, however slow the machine
        sb.add_chat(SUPER)
        async with Bot(TOKEN, base_url=f"{sb.url}/bot") as bot:  # initialize: getMe is call 1
            await bot.get_me()
            for _ in range(5):
                await bot.get_updates()  # long polling never counts
            await bot.get_chat(SUPER)
            with pytest.raises(RetryAfter) as limited:
                await bot.get_me()
            assert secs(limited.value.retry_after) == 1
            sb.configure(limit_scale=0.1)  # resets the windows
            await bot.send_message(SUPER, "1")
            await bot.send_message(SUPER, "2")
            with pytest.raises(RetryAfter):
                await bot.send_message(SUPER, "3")


async def test_faults(sb: TelegramSandbox, bot: Bot) -> None:
    sb.fault("sendMessage", status=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(SUPER, "x")
    sb.fault("*", status=502, count=2)
    await bot.get_updates()  # "*" leaves getUpdates alone
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.get_me()
    await bot.get_me()
    sb.fault("getMe", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as limited:
        await bot.get_me()
    assert secs(limited.value.retry_after) == 7
    sb.fault("getUpdates", status=502)
    with pytest.raises(NetworkError):
        await bot.get_updates()
    sb.fault("sendMessage", delay_s=0.3)
    started = time.monotonic()
    sent = await bot.send_message(SUPER, "lambat")
    assert time.monotonic() - started >= 0.3 and sent.text == "lambat"
    assert [m["text"] for m in sb.messages(SUPER)] == ["lambat"]


# ---------------------------------------------------------------- control HTTP API


async def test_control_http_api(sb: TelegramSandbox, bot: Bot) -> None:
    base = f"{sb.url}/_sandbox"
    async with httpx.AsyncClient() as client:
        assert (await client.post(f"{base}/chats", json={"id": -4010, "type": "group", "title": "Dinas"})).json() == {"ok": True}
        member = {"chat_id": -4010, "user": {"id": 601, "first_name": "Eka", "username": "eka"}, "status": "member"}
        assert (await client.post(f"{base}/members", json=member)).status_code == 200
        card = await bot.send_message(-4010, "kartu", reply_markup=keyboard(("Klaim", "c")))
        sent = await client.post(f"{base}/messages", json={"chat_id": -4010, "from_user_id": 601, "text": "ok",
                                                           "reply_to_message_id": card.message_id})
        assert sent.json() == {"message_id": 2}
        refused = await client.post(f"{base}/messages", json={"chat_id": -4010, "from_user_id": 999, "text": "x"})
        assert refused.status_code == 403
        missing = await client.post(f"{base}/messages", json={"chat_id": -1, "from_user_id": 601, "text": "x"})
        assert missing.status_code == 404
        pressed = await client.post(f"{base}/callbacks", json={"chat_id": -4010, "message_id": card.message_id,
                                                              "from_user_id": 601, "data": "c"})
        query_id = pressed.json()["id"]
        await bot.answer_callback_query(query_id, "ok")
        listing = (await client.get(f"{base}/chats/-4010/messages")).json()
        assert [m["message_id"] for m in listing] == [1, 2] and listing[1]["reply_to_message_id"] == 1
        assert set(listing[0]) >= {"message_id", "from_bot", "text", "caption", "reply_markup",
                                   "reply_to_message_id", "edits"}
        answers = (await client.get(f"{base}/callback-answers")).json()
        assert answers[0]["callback_query_id"] == query_id and answers[0]["text"] == "ok"
        assert (await client.post(f"{base}/faults", json={"method": "getMe", "status": 502, "count": 1})).status_code == 200
        with pytest.raises(NetworkError):
            await bot.get_me()
        assert (await client.post(f"{base}/faults", json={"method": "getMe", "delay_s": 0.01, "count": 1})).status_code == 200
        await bot.get_me()
        upgraded = (await client.post(f"{base}/chats/-4010/upgrade")).json()
        assert upgraded == {"migrate_to_chat_id": -1000000004010}
        assert (await client.post(f"{base}/chats/-1000000004010/kick-bot")).json() == {"ok": True}
        calls = (await client.get(f"{base}/calls")).json()
        assert calls[-1]["method"] == "getMe" and calls[-1]["ok"] is True
        assert (await client.post(f"{base}/config", json={"rate_limits": True, "limit_scale": 2.0})).status_code == 200
        assert sb.rate_limits is True and sb.limit_scale == 2.0
        assert (await client.get(f"{base}/pending-updates")).json()["pending_updates"] == sb.pending_updates()
        assert (await client.post(f"{base}/nope", json={})).status_code == 404


# ---------------------------------------------------------------- a real PTB Application


async def test_application_handles_button_press_and_force_reply(sb: TelegramSandbox) -> None:
    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer("Diklaim")
        await context.bot.send_message(
            SUPER, "@bob tulis balasan:", reply_to_message_id=query.message.message_id,
            reply_markup=ForceReply(selective=True),
        )

    async def on_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await message.reply_text(f"Tersimpan: {message.text}")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(TOKEN).base_url(f"{sb.url}/bot").base_file_url(f"{sb.url}/file/bot")
        .get_updates_read_timeout(5).build()
    )
    app.add_handler(CallbackQueryHandler(on_press))
    app.add_handler(MessageHandler(filters.REPLY & filters.TEXT, on_reply))
    card = await Bot(TOKEN, base_url=f"{sb.url}/bot").send_message(SUPER, "kartu", reply_markup=keyboard(("Klaim", "claim")))
    base = f"{sb.url}/_sandbox"
    async with app, httpx.AsyncClient() as client:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await client.post(f"{base}/callbacks", json={"chat_id": SUPER, "message_id": card.message_id,
                                                         "from_user_id": 502, "data": "claim"})
            await wait_for(lambda: len(sb.messages(SUPER)) == 2)
            prompt = sb.messages(SUPER)[1]
            assert prompt["reply_markup"] == {"force_reply": True, "selective": True}
            await client.post(f"{base}/messages", json={"chat_id": SUPER, "from_user_id": 502,
                                                        "text": "Sudah kami tangani", "reply_to_message_id": prompt["message_id"]})
            await wait_for(lambda: len(sb.messages(SUPER)) == 4)
        finally:
            await app.updater.stop()
            await app.stop()
    assert [a["text"] for a in sb.callback_answers()] == ["Diklaim"]
    texts = [m["text"] for m in sb.messages(SUPER)]
    assert texts == ["kartu", "@bob tulis balasan:", "Sudah kami tangani", "Tersimpan: Sudah kami tangani"]
    assert sb.messages(SUPER)[3]["reply_to_message_id"] == 3
