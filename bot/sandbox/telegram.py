"""A local Telegram Bot API emulator on loopback, for tests and for running the bot without Telegram.

The bot talks to it exactly as to api.telegram.org (``base_url=f"{url}/bot"``); tests and tools drive
the "users" through the Python methods or the ``/_sandbox/`` control API (docs/sandbox-telegram.md).
It enforces the rules the desk depends on (DESIGN.md §4): Telegram's error texts, limits, privacy
mode, group→supergroup migration, kicked bots, callback-query lifetimes and rate limits, so a bot
that passes here does not meet those errors for the first time in production.

stdlib only: a ThreadingHTTPServer in a daemon thread, all state under one lock whose Condition
serves long polling and webhook delivery.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.telegram_html import HtmlParseError, parse_html, plain_entities, utf16_len
from bot.sandbox.telegram_http import (
    ApiError,
    Params,
    SandboxError,
    SandboxForbidden,
    SandboxNotFound,
    make_handler,
    parse_body,
)

__all__ = ["SandboxError", "SandboxForbidden", "SandboxNotFound", "TelegramSandbox", "serve_forever"]

JSON = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_ALBUM = 10
_ALBUM_KINDS = ("photo", "video", "document", "audio")
_WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
# Telegram accepts a one-item sendMediaGroup (sent as a plain message, no media_group_id), but the Bot
# API documents 2-10 items; the sandbox holds bots to the documented contract, with its own text.
_WRONG_ALBUM_SIZE = "Bad Request: wrong number of media items"
# Methods whose rate-limit cost is known only after the request is validated (see _send_media_group).
_CHARGED_BY_HANDLER = {"sendmediagroup"}
# Update kinds a bot gets when allowed_updates is empty: Telegram leaves these three out by default.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_MEMBER_STATUSES = {"creator", "administrator", "member", "restricted", "left", "kicked"}
_PRESENT = {"creator", "administrator", "member", "restricted"}
_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories", "can_pin_messages", "can_manage_topics",
)  # fmt: skip
_RESTRICTED_RIGHTS = (
    "can_change_info", "can_invite_users", "can_pin_messages", "can_send_messages", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_manage_topics", "can_send_audios",
    "can_send_documents", "can_send_photos", "can_send_videos", "can_send_video_notes",
    "can_send_voice_notes", "can_edit_tag", "can_react_to_messages",
)  # fmt: skip
_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
# Used as "from" of service messages when the chat has no human to attribute them to.
_GROUP_ANONYMOUS = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


@dataclass
class _Msg:
    data: JSON  # the Bot API Message object, minus reply_to_message (rendered live)
    from_bot: bool
    from_user_id: int
    reply_to: int | None = None
    markup: JSON | None = None  # as sent, ForceReply included (Telegram echoes only inline keyboards)
    photo_source: str | None = None  # what the bot sent for the media: URL, file_id or "upload:<name>"
    media_group_id: str | None = None
    edits: int = 0
    deleted: bool = False
    service: bool = False


@dataclass
class _Chat:
    id: int
    type: str
    title: str
    members: dict[int, str] = field(default_factory=dict)
    messages: dict[int, _Msg] = field(default_factory=dict)
    next_message_id: int = 1
    bot_status: str = "member"
    migrated_to: int | None = None

    @property
    def kind(self) -> str:
        return {"group": "group", "supergroup": "supergroup", "channel": "channel"}.get(self.type, "private")


@dataclass
class _Fault:
    method: str
    count: int
    status: int | None
    retry_after: int | None
    delay_s: float | None


@dataclass
class _AlbumItem:
    """One validated InputMedia of an album; files are created only once the whole album passes."""

    kind: str
    source: str  # URL, file_id or "upload:<filename>", as listed by photos()
    caption: str
    entities: list[JSON]
    url: str | None = None
    known: str | None = None  # a file_id sent again
    content: bytes = b""
    filename: str | None = None
    attrs: JSON = field(default_factory=dict)  # sender-defined width/height/duration/performer/title


@dataclass
class _MediaRecord:
    """A sendPhoto or sendMediaGroup the bot made, for photos(); deletions are read live from the chat."""

    chat_id: int
    kind: str
    message_ids: list[int]
    media_group_id: str | None
    sources: list[str]
    types: list[str]
    captions: list[str | None]
    reply_to_message_id: int | None
    time: float


@dataclass
class _Query:
    chat_id: int
    message_id: int
    created: float
    answered: bool = False


class TelegramSandbox:
    """In-memory Telegram with one bot; see the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str = "123456:TEST-TOKEN",
        bot_username: str = "kemala_desk_bot",
        rate_limits: bool = True,
        limit_scale: float = 1.0,
    ) -> None:
        head = bot_token.split(":", 1)[0]
        if not head.isdigit():
            raise ValueError("a bot token looks like '<digits>:<secret>'")
        self.bot_token = bot_token
        self.bot_id = int(head)
        self.bot_username = bot_username
        self.rate_limits = rate_limits
        self.limit_scale = limit_scale
        self.callback_query_ttl = 900.0  # seconds a press can be answered (Telegram: ~15 minutes)
        # The rate-limit clock; tests may freeze it so window arithmetic does not depend on machine speed.
        self.rate_clock: Callable[[], float] = time.monotonic
        self.webhook_retry_s = 0.05  # first retry delay of failed webhook deliveries (doubles, max 2 s)
        # Substrings of URLs Telegram's servers fail to fetch; the sandbox never fetches, so tests say which.
        self.refused_urls: list[str] = []
        self.url = ""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._bot_user: JSON = {
            "id": self.bot_id, "is_bot": True,
            "first_name": bot_username.removesuffix("_bot").replace("_", " ").title() or "Bot",
            "username": bot_username,
        }  # fmt: skip
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, _Chat] = {}
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._poll_cut_by = "other getUpdates request"
        self._webhook: JSON | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._queries: dict[str, _Query] = {}
        self._next_query = 1
        self._answers: list[JSON] = []
        self._faults: list[_Fault] = []
        self._calls: list[JSON] = []
        self._commands: dict[str, list[JSON]] = {}
        # file_id -> {"unique", "path", "content", "kind", and "sizes" (photos) or "object" (other media)}
        self._files: dict[str, JSON] = {}
        self._next_file = 1
        self._next_media_group = 1
        self._media_log: list[_MediaRecord] = []
        self._bot_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (an ephemeral port by default); returns the base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self))
        server.daemon_threads = True  # a hung long poll must never keep the process alive
        self._server = server
        self._stopping = False
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        serve = lambda: server.serve_forever(poll_interval=0.05)  # noqa: E731 - short stop() latency
        for target, name in ((serve, "tg-sandbox-http"), (self._webhook_loop, "tg-sandbox-hook")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.url

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()  # releases waiting getUpdates calls and the webhook thread
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> TelegramSandbox:
        if not self.url:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ control API

    def configure(
        self,
        rate_limits: bool | None = None,
        limit_scale: float | None = None,
        callback_query_ttl: float | None = None,
        refused_urls: list[str] | None = None,
    ) -> None:
        """Change settings; the rate windows restart unless ``refused_urls`` is the only one given."""
        if refused_urls is not None and (
            not isinstance(refused_urls, list) or not all(isinstance(u, str) and u for u in refused_urls)
        ):
            # An empty substring would refuse every URL, which is never what a test means.
            raise SandboxError("refused_urls is a list of non-empty strings")
        with self._lock:
            if refused_urls is not None:
                self.refused_urls = list(refused_urls)
                if rate_limits is None and limit_scale is None and callback_query_ttl is None:
                    return  # refusing URLs mid-test must not hand the bot a fresh rate window
            if rate_limits is not None:
                self.rate_limits = bool(rate_limits)
            if limit_scale is not None:
                self.limit_scale = float(limit_scale)
            if callback_query_ttl is not None:
                self.callback_query_ttl = float(callback_query_ttl)
            self._bot_window.clear()
            self._chat_windows.clear()

    def add_chat(self, chat_id: int, type: str = "supergroup", title: str = "") -> None:
        if type not in ("private", "group", "supergroup", "channel"):
            raise SandboxError(f"unknown chat type {type!r}")
        if (type == "private") != (chat_id > 0):
            raise SandboxError("private chats have positive ids, groups and channels negative ones")
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chats[chat_id] = _Chat(chat_id, type, title or f"Chat {chat_id}")
            chat.type, chat.title = type, title or chat.title
            if type == "private":
                self._user(chat_id)
                chat.members[chat_id] = "member"

    def set_member(self, chat_id: int, user: JSON | int, status: str = "member") -> None:
        if status not in _MEMBER_STATUSES:
            raise SandboxError(f"unknown member status {status!r}")
        with self._cond:
            chat = self._control_chat(chat_id)
            if isinstance(user, dict):
                user_id = int(user["id"])
                known = self._users.get(user_id, {})
                self._users[user_id] = {
                    "id": user_id, "is_bot": False,
                    "first_name": user.get("first_name") or known.get("first_name") or f"User{user_id}",
                    **({"username": user["username"]} if user.get("username") else {}),
                }  # fmt: skip
            else:
                user_id = int(user)
                self._user(user_id)
            if user_id == self.bot_id:
                self._set_bot_status(chat, status, by=None)
            else:
                chat.members[user_id] = status

    def send_message(self, chat_id: int, from_user_id: int, text: str, reply_to_message_id: int | None = None) -> int:
        """A user writes in a chat; the bot gets it as an Update if Telegram would deliver it."""
        with self._cond:
            if chat_id > 0 and chat_id == from_user_id and chat_id not in self._chats:
                # A user opens the bot's chat: the only thing they can send is Start (a t.me/<bot>?start=<p>
                # link sends "/start <p>"). Until then the bot cannot write to them (403, see _chat_for_bot).
                if not text.startswith("/start"):
                    raise SandboxError("a private chat with the bot begins with /start")
                self._chats[chat_id] = _Chat(chat_id, "private", f"Chat {chat_id}")
                self._user(chat_id)
                self._chats[chat_id].members[chat_id] = "member"
            chat = self._control_chat(chat_id)
            if chat.members.get(from_user_id) not in _PRESENT:
                raise SandboxForbidden(f"user {from_user_id} is not a member of chat {chat_id}")
            if not text.strip():
                raise SandboxError("message text is empty")
            reply: _Msg | None = None
            if reply_to_message_id is not None:
                reply = chat.messages.get(reply_to_message_id)
                if reply is None or reply.deleted:
                    raise SandboxNotFound(f"message {reply_to_message_id} not found in chat {chat_id}")
            msg = self._new_message(chat, self._user(from_user_id), from_bot=False)
            msg.data["text"] = text
            entities = plain_entities(text)
            if entities:
                msg.data["entities"] = entities
            msg.reply_to = reply_to_message_id
            if self._bot_sees(chat, msg, reply, entities):
                self._emit("message", self._render(chat, msg))
            return int(msg.data["message_id"])

    def press(self, chat_id: int, message_id: int, from_user_id: int, data: str) -> str:
        """A user presses an inline button carrying ``data``; returns the callback query id.

        Any ``data`` and any user are accepted on purpose: a modified client can send forged data,
        and a member who just left still has the message on screen. The bot must refuse both.
        """
        with self._cond:
            chat = self._control_chat(chat_id)
            msg = chat.messages.get(message_id)
            if msg is None or msg.deleted:
                raise SandboxNotFound(f"message {message_id} not found in chat {chat_id}")
            query_id = str((self.bot_id << 24) + self._next_query)
            self._next_query += 1
            self._queries[query_id] = _Query(chat_id, message_id, time.monotonic())
            self._emit("callback_query", {
                "id": query_id, "from": self._user(from_user_id), "message": self._render(chat, msg),
                "chat_instance": str((abs(chat_id) * 7919 + self.bot_id) % 10**18), "data": data,
            })  # fmt: skip
            return query_id

    def messages(self, chat_id: int) -> list[JSON]:
        """The chat as its members see it now: deleted messages gone, edits applied, no service messages."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                raise SandboxNotFound(f"chat {chat_id} not found")
            listed: list[JSON] = []
            for _, m in sorted(chat.messages.items()):
                if m.deleted or m.service:
                    continue
                entry: JSON = {
                    "message_id": m.data["message_id"], "from_bot": m.from_bot, "text": m.data.get("text"),
                    "caption": m.data.get("caption"), "reply_markup": m.markup,
                    "reply_to_message_id": m.reply_to, "edits": m.edits, "from_user_id": m.from_user_id,
                    "photo": m.photo_source,
                }  # fmt: skip
                if m.media_group_id is not None:
                    # Only album items carry the key, so a plain message's listing keeps its old shape.
                    entry["media_group_id"] = m.media_group_id
                listed.append(entry)
            return listed

    def photos(self, chat_id: int | None = None) -> list[JSON]:
        """Every sendPhoto and album the bot sent, in order, deleted ones included (``deleted``)."""
        with self._lock:
            if chat_id is not None and chat_id not in self._chats:
                raise SandboxNotFound(f"chat {chat_id} not found")
            listed: list[JSON] = []
            for record in self._media_log:
                if chat_id is not None and record.chat_id != chat_id:
                    continue
                chat = self._chats[record.chat_id]
                gone = [i for i in record.message_ids if chat.messages[i].deleted]
                listed.append({
                    "chat_id": record.chat_id, "kind": record.kind, "message_ids": list(record.message_ids),
                    "media_group_id": record.media_group_id, "sources": list(record.sources),
                    "types": list(record.types), "captions": list(record.captions),
                    "reply_to_message_id": record.reply_to_message_id, "time": record.time,
                    # A member may delete one photo of an album: "deleted" means all are gone.
                    "deleted": len(gone) == len(record.message_ids), "deleted_message_ids": gone,
                })  # fmt: skip
            return listed

    def callback_answers(self) -> list[JSON]:
        with self._lock:
            return [dict(a) for a in self._answers]

    def fault(
        self,
        method: str = "*",
        *,
        status: int | None = None,
        count: int = 1,
        retry_after: int | None = None,
        delay_s: float | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``status`` or wait ``delay_s`` first."""
        if status is None and delay_s is None:
            raise SandboxError("a fault needs a status or a delay_s")
        with self._lock:
            self._faults.append(_Fault(method.lower(), count, status, retry_after, delay_s))

    def upgrade(self, chat_id: int) -> int:
        """Turn a basic group into a supergroup with a new ``-100…`` id; returns the new id."""
        with self._cond:
            old = self._control_chat(chat_id)
            if old.type != "group":
                raise SandboxError(f"chat {chat_id} is a {old.type}, only basic groups are upgraded")
            new_id = -(10**12 + abs(chat_id))
            new = _Chat(new_id, "supergroup", old.title, members=dict(old.members), bot_status=old.bot_status)
            self._chats[new_id] = new
            old.migrated_to = new_id
            actor = self._actor(old)
            service = self._new_message(old, actor, from_bot=False, service=True)
            service.data["migrate_to_chat_id"] = new_id
            moved = self._new_message(new, actor, from_bot=False, service=True)
            moved.data["migrate_from_chat_id"] = chat_id
            if old.bot_status in _PRESENT:
                self._emit("message", self._render(old, service))
                self._emit("message", self._render(new, moved))
            return new_id

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """A member (an admin, or the author) deletes a message from the chat, as clients can."""
        with self._cond:
            chat = self._control_chat(chat_id)
            msg = chat.messages.get(message_id)
            if msg is None or msg.deleted:
                raise SandboxNotFound(f"message {message_id} not found in chat {chat_id}")
            msg.deleted = True

    def kick_bot(self, chat_id: int) -> None:
        with self._cond:
            chat = self._control_chat(chat_id)
            self._set_bot_status(chat, "kicked", by=self._actor(chat))

    def calls(self) -> list[JSON]:
        with self._lock:
            return [dict(c) for c in self._calls]

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    # ------------------------------------------------------------------ state helpers (lock held)

    def _user(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return dict(self._bot_user)
        if user_id not in self._users:
            self._users[user_id] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        return dict(self._users[user_id])

    def _control_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise SandboxNotFound(f"chat {chat_id} not found")
        if chat.migrated_to is not None:
            raise SandboxError(f"chat {chat_id} was upgraded to supergroup {chat.migrated_to}")
        return chat

    def _actor(self, chat: _Chat) -> JSON:
        for wanted in ("creator", "administrator", "member"):
            for user_id, status in chat.members.items():
                if status == wanted:
                    return self._user(user_id)
        return dict(_GROUP_ANONYMOUS)

    def _chat_json(self, chat: _Chat) -> JSON:
        if chat.type == "private":
            user = self._user(chat.id)
            return {"id": chat.id, "type": "private", "first_name": user["first_name"],
                    **({"username": user["username"]} if "username" in user else {})}  # fmt: skip
        return {"id": chat.id, "type": chat.type, "title": chat.title}

    def _new_message(self, chat: _Chat, sender: JSON, *, from_bot: bool, service: bool = False) -> _Msg:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg = _Msg(
            data={"message_id": message_id, "from": sender, "date": int(time.time()), "chat": self._chat_json(chat)},
            from_bot=from_bot, from_user_id=int(sender["id"]), service=service,
        )  # fmt: skip
        chat.messages[message_id] = msg
        return msg

    def _render(self, chat: _Chat, msg: _Msg, nested: bool = True) -> JSON:
        data = dict(msg.data)
        if nested and msg.reply_to is not None:
            parent = chat.messages.get(msg.reply_to)
            if parent is not None and not parent.deleted:
                data["reply_to_message"] = self._render(chat, parent, nested=False)
        return data

    def _bot_sees(self, chat: _Chat, msg: _Msg, reply: _Msg | None, entities: list[JSON]) -> bool:
        """Privacy mode (can_read_all_group_messages is false): what reaches the bot in a group."""
        if chat.bot_status not in _PRESENT:
            return False
        if chat.type == "private" or chat.bot_status == "administrator":
            return True
        if reply is not None and reply.from_bot:
            return True
        text: str = msg.data.get("text", "")
        for entity in entities:
            if entity["type"] == "bot_command" and entity["offset"] == 0:
                command = text[: entity["length"]]
                target = command.partition("@")[2]
                return not target or target.lower() == self.bot_username.lower()
        return False

    def _emit(self, kind: str, payload: JSON) -> None:
        self._updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._cond.notify_all()

    def _set_bot_status(self, chat: _Chat, status: str, by: JSON | None) -> None:
        old = chat.bot_status
        if old == status:
            return
        chat.bot_status = status
        self._emit("my_chat_member", {
            "chat": self._chat_json(chat), "from": by or self._actor(chat), "date": int(time.time()),
            "old_chat_member": self._member_json(self._bot_user, old),
            "new_chat_member": self._member_json(self._bot_user, status),
        })  # fmt: skip

    def _member_json(self, user: JSON, status: str) -> JSON:
        member: JSON = {"status": status, "user": dict(user)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update({right: True for right in _ADMIN_RIGHTS})
            member.update(can_be_edited=False, is_anonymous=False)
        elif status == "restricted":
            member.update({right: False for right in _RESTRICTED_RIGHTS})
            member.update(is_member=True, until_date=0)
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # ------------------------------------------------------------------ Bot API entry

    def _api_request(self, token: str, method: str, content_type: str, body: bytes, query: str) -> tuple[int, JSON]:
        """Handle one Bot API HTTP request; returns (status, JSON answer)."""
        name = method.lower()  # Telegram's method names are case-insensitive
        try:
            params = parse_body(content_type, body, query)
        except ApiError as exc:
            return self._answer(method, Params({}, {}), exc)
        if token != self.bot_token:
            return self._answer(method, params, ApiError(401, "Unauthorized"))
        handler = self._methods().get(name)
        if handler is None:
            return self._answer(method, params, ApiError(404, "Not Found"))
        delay = 0.0
        with self._lock:
            for fault in self._faults:
                if fault.count > 0 and (fault.method == name or (fault.method == "*" and name != "getupdates")):
                    fault.count -= 1
                    if fault.status is not None:
                        return self._answer(method, params, self._fault_error(fault), locked=True)
                    delay = fault.delay_s or 0.0
                    break
            self._faults = [f for f in self._faults if f.count > 0]
        if delay:
            time.sleep(delay)
        try:
            if name == "getupdates":
                result = self._get_updates(params)
            else:
                with self._cond:
                    if name not in _CHARGED_BY_HANDLER:
                        self._rate_limit(name, params)
                    result = handler(params)
        except ApiError as exc:
            return self._answer(method, params, exc)
        with self._lock:
            self._calls.append({"method": method, "params": params.logged(), "ok": True, "error_code": None,
                                "description": None, "time": time.time()})  # fmt: skip
        return 200, {"ok": True, "result": result}

    def _answer(self, method: str, params: Params, exc: ApiError, locked: bool = False) -> tuple[int, JSON]:
        answer: JSON = {"ok": False, "error_code": exc.code, "description": exc.description}
        if exc.parameters:
            answer["parameters"] = exc.parameters
        record = {"method": method, "params": params.logged(), "ok": False, "error_code": exc.code,
                  "description": exc.description, "time": time.time()}  # fmt: skip
        if locked:
            self._calls.append(record)
        else:
            with self._lock:
                self._calls.append(record)
        return exc.code, answer

    @staticmethod
    def _fault_error(fault: _Fault) -> ApiError:
        if fault.status == 429:
            retry = fault.retry_after if fault.retry_after is not None else 1
            return ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        texts = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                 504: "Gateway Timeout", 400: "Bad Request", 403: "Forbidden", 409: "Conflict"}  # fmt: skip
        code = int(fault.status or 500)
        return ApiError(code, texts.get(code, f"Error {code}"))

    def _rate_limit(self, name: str, params: Params, cost: int = 1) -> None:
        """Sliding windows: 30 calls/s per bot, 20 sends/min per group (limit_scale multiplies both).

        ``cost`` is the number of messages the call puts into the group: Telegram counts messages, so
        an album of n items takes n slots of the group's window but one of the bot's. All windows are
        checked before any is charged, so a refused call costs nothing.
        """
        if not self.rate_limits:
            return
        now = self.rate_clock()
        windows: list[tuple[deque[float], int, float, int]] = [
            (self._bot_window, max(1, round(30 * self.limit_scale)), 1.0, 1)
        ]
        if name in ("sendmessage", "sendphoto", "sendmediagroup"):
            try:
                chat_id = params.int_("chat_id")
            except ApiError:
                chat_id = None
            if chat_id is not None and chat_id < 0:
                window = self._chat_windows.setdefault(chat_id, deque())
                limit = max(1, round(20 * self.limit_scale))
                # With a small limit_scale an album can outsize the whole window; it then needs the
                # window empty rather than never passing.
                windows.append((window, limit, 60.0, min(cost, limit)))
        for window, limit, span, need in windows:
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) + need > limit:
                # Room for `need` more appears when this many of the oldest sends have left the window.
                freeing = window[len(window) + need - limit - 1]
                retry = max(1, math.ceil(freeing + span - now))
                raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        for window, _, _, need in windows:
            window.extend([now] * need)

    def _methods(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "getme": self._get_me, "getupdates": self._get_updates, "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook, "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message, "sendphoto": self._send_photo,
            "sendmediagroup": self._send_media_group,
            "editmessagetext": self._edit_text, "editmessagecaption": self._edit_caption,
            "editmessagereplymarkup": self._edit_markup, "answercallbackquery": self._answer_query,
            "deletemessage": self._delete_message, "getchat": self._get_chat,
            "getchatmember": self._get_chat_member, "getchatadministrators": self._get_admins,
            "setmycommands": self._set_commands, "getmycommands": self._get_commands,
            "deletemycommands": self._delete_commands, "getfile": self._get_file,
            "close": lambda p: True, "logout": lambda p: True,
        }  # fmt: skip

    # ------------------------------------------------------------------ Bot API methods (lock held)

    def _get_me(self, p: Params) -> JSON:
        return {**self._bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}  # fmt: skip

    def _get_updates(self, p: Params) -> list[JSON]:
        offset = p.int_("offset")
        limit = min(100, max(1, p.int_("limit") or 100))
        timeout = max(0.0, p.float_("timeout") or 0.0)
        allowed = p.obj("allowed_updates")
        with self._cond:
            if self._webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")  # fmt: skip
            # A newer getUpdates terminates the one still waiting (Telegram's behaviour): a restarted
            # poller whose previous long poll was cancelled client-side must not be refused.
            self._poll_generation += 1
            self._poll_cut_by = "other getUpdates request"
            generation = self._poll_generation
            self._cond.notify_all()
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed]
            if offset is not None and offset != 0:
                if offset > 0:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                else:
                    self._updates = self._updates[offset:]
            deadline = time.monotonic() + timeout
            while True:
                if self._poll_generation != generation:
                    raise ApiError(409, f"Conflict: terminated by {self._poll_cut_by}; make sure that "
                                        "only one bot instance is running")  # fmt: skip
                batch = self._deliverable()[:limit]
                remaining = deadline - time.monotonic()
                if batch or self._stopping or remaining <= 0:
                    return [json.loads(json.dumps(u)) for u in batch]
                self._cond.wait(remaining)

    def _deliverable(self) -> list[JSON]:
        """Pending updates after dropping kinds the bot did not subscribe to (they are never sent)."""
        allowed = set(self._allowed_updates)

        def wanted(update: JSON) -> bool:
            kind = next(k for k in update if k != "update_id")
            return kind in allowed if allowed else kind not in _OPT_IN_UPDATES

        self._updates = [u for u in self._updates if wanted(u)]
        return self._updates

    def _set_webhook(self, p: Params) -> bool:
        url = p.str_("url") or ""
        if p.bool_("drop_pending_updates"):
            self._updates = []
        allowed = p.obj("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        if not url:
            self._webhook = None
            return True
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.str_("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: bad webhook: secret token contains unallowed characters")
        self._webhook = {"url": url, "secret_token": secret, "max_connections": p.int_("max_connections") or 40}
        self._webhook_error = None
        self._poll_generation += 1  # a waiting getUpdates is cut off, as on Telegram
        self._poll_cut_by = "setWebhook request"
        self._cond.notify_all()
        return True

    def _delete_webhook(self, p: Params) -> bool:
        self._webhook = None
        if p.bool_("drop_pending_updates"):
            self._updates = []
        return True

    def _get_webhook_info(self, p: Params) -> JSON:
        info: JSON = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self._webhook is not None:
            info.update(url=self._webhook["url"], max_connections=self._webhook["max_connections"])
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error is not None:
                info.update(last_error_date=self._webhook_error[0], last_error_message=self._webhook_error[1])
        return info

    def _webhook_loop(self) -> None:
        """Delivery thread: POST the oldest update, drop it on 2xx, back off and retry otherwise."""
        backoff = self.webhook_retry_s
        while True:
            with self._cond:
                while not self._stopping and (self._webhook is None or not self._deliverable()):
                    self._cond.wait(0.5)
                if self._stopping:
                    return
                assert self._webhook is not None
                update = self._updates[0]
                url, secret = self._webhook["url"], self._webhook["secret_token"]
            error = _post_json(url, update, secret)
            with self._cond:
                if error is None:
                    self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                    backoff = self.webhook_retry_s
                    continue
                self._webhook_error = (int(time.time()), error)
                self._cond.wait(backoff)  # woken early only by stop() or new state
                backoff = min(backoff * 2, 2.0)

    # --- sending

    def _chat_for_bot(self, p: Params) -> _Chat:
        """Resolve chat_id like Telegram: unknown, migrated and kicked chats answer their own errors."""
        raw = p.str_("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: _Chat | None = None
        if raw.startswith("@"):
            chat = None  # the sandbox's chats have no public usernames
        else:
            try:
                chat = self._chats.get(int(raw))
            except ValueError:
                chat = None
        if chat is None:
            if raw.isdigit() and int(raw) in self._users:
                # Telegram knows the user, but they never started the bot: no private chat exists yet.
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": chat.migrated_to})  # fmt: skip
        if chat.bot_status == "kicked":
            if chat.type == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.kind} chat")
        if chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.kind} chat")
        return chat

    def _formatted(self, p: Params, field_name: str, entities_name: str) -> tuple[str, list[JSON]]:
        text = p.str_(field_name) or ""
        mode = (p.str_("parse_mode") or "").lower()
        entities: list[JSON] = []
        if mode == "html":
            try:
                text, entities = parse_html(text)
            except HtmlParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not parsed (the desk uses HTML): the text is kept as sent.
            given = p.obj(entities_name)
            entities = given if isinstance(given, list) else []
            stripped = text.strip()
            if stripped != text:
                text = stripped  # Telegram trims messages (explicit entities are kept as given)
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        return text, entities

    def _reply_markup(self, p: Params) -> JSON | None:
        markup = p.obj("reply_markup", "Bad Request: can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: InlineKeyboardButton "
                                    "must be an Object")  # fmt: skip
            if sum(len(r) for r in rows) > 100:
                raise ApiError(400, "Bad Request: reply markup is too long")
            for row in rows:
                for button in row:
                    self._check_button(button)
        elif not any(k in markup for k in ("force_reply", "keyboard", "remove_keyboard")):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Field \"text\" must be of "
                                "type String")  # fmt: skip
        kinds = [k for k in ("callback_data", "url", "switch_inline_query", "switch_inline_query_current_chat",
                             "switch_inline_query_chosen_chat", "web_app", "login_url", "callback_game",
                             "pay", "copy_text") if k in button]  # fmt: skip
        if not kinds:
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed "
                                "in the inline keyboard")  # fmt: skip
        if len(kinds) > 1:
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Can't find field \"text\"")
        if kinds[0] == "callback_data":
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        elif kinds[0] == "url":
            url = button["url"]
            parts = urlsplit(url) if isinstance(url, str) else None
            valid = parts is not None and not re.search(r"\s", str(url)) and (
                (parts.scheme in ("http", "https") and bool(parts.hostname) and "." in (parts.hostname or ""))
                or (parts.scheme == "tg" and bool(parts.netloc or parts.path))
            )
            if not valid:
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")

    def _reply_target(self, chat: _Chat, p: Params) -> int | None:
        reply = p.obj("reply_parameters")
        if isinstance(reply, dict):
            target, allow = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
        else:
            target, allow = p.int_("reply_to_message_id"), p.bool_("allow_sending_without_reply")
        if target is None:
            return None
        msg = chat.messages.get(int(target))
        if msg is None or msg.deleted or msg.service:
            if allow:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return int(target)

    def _store_markup(self, msg: _Msg, markup: JSON | None) -> None:
        msg.markup = markup
        if markup is not None and "inline_keyboard" in markup:
            msg.data["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        else:
            msg.data.pop("reply_markup", None)

    def _send_message(self, p: Params) -> JSON:
        chat = self._chat_for_bot(p)
        text, entities = self._formatted(p, "text", "entities")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._reply_markup(p)
        reply_to = self._reply_target(chat, p)
        msg = self._new_message(chat, self._bot_user, from_bot=True)
        msg.data["text"] = text
        if entities:
            msg.data["entities"] = entities
        msg.reply_to = reply_to
        self._store_markup(msg, markup)
        return self._render(chat, msg)

    def _photo_sizes(self, p: Params) -> tuple[list[JSON], str]:
        upload = p.files.get("photo")
        if upload is not None:
            return self._new_file(upload.content), f"upload:{upload.filename}"
        source = p.str_("photo")
        if not source:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if source.startswith("attach://"):
            attached = p.files.get(source.removeprefix("attach://"))
            if attached is None:
                raise ApiError(400, _WRONG_FILE)
            return self._new_file(attached.content), f"upload:{attached.filename}"
        if source in self._files:
            if self._files[source].get("kind", "photo") != "photo":
                raise ApiError(400, _WRONG_FILE)  # a video's file_id cannot be sent as a photo
            return list(self._files[source]["sizes"]), source
        if self._is_url(source):
            if self._url_refused(source):
                raise ApiError(400, _WRONG_FILE)  # what Telegram answers when it cannot fetch the URL
            return self._new_file(b""), source  # the sandbox never fetches URLs
        raise ApiError(400, _WRONG_FILE)

    @staticmethod
    def _is_url(source: str) -> bool:
        parts = urlsplit(source)
        return parts.scheme in ("http", "https") and bool(parts.hostname)

    def _url_refused(self, url: str) -> bool:
        return any(part in url for part in self.refused_urls)

    def _new_file(self, content: bytes) -> list[JSON]:
        sizes: list[JSON] = []
        for width, height in ((90, 67), (320, 240), (800, 600)):
            number = self._next_file
            self._next_file += 1
            file_id = f"AgACAgIAAxkBAAIB{number:08d}"
            sizes.append({"file_id": file_id, "file_unique_id": f"AQAD{number:06d}", "width": width,
                          "height": height, "file_size": len(content)})  # fmt: skip
            self._files[file_id] = {"unique": f"AQAD{number:06d}", "path": f"photos/file_{number}.jpg",
                                    "content": content, "kind": "photo"}  # fmt: skip
        for size in sizes:
            self._files[size["file_id"]]["sizes"] = sizes
        return sizes

    def _send_photo(self, p: Params) -> JSON:
        chat = self._chat_for_bot(p)
        caption, entities = self._formatted(p, "caption", "caption_entities")
        if utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._reply_markup(p)
        sizes, source = self._photo_sizes(p)
        reply_to = self._reply_target(chat, p)
        msg = self._new_message(chat, self._bot_user, from_bot=True)
        msg.data["photo"] = sizes
        msg.photo_source = source
        if caption:
            msg.data["caption"] = caption
            if entities:
                msg.data["caption_entities"] = entities
        msg.reply_to = reply_to
        self._store_markup(msg, markup)
        self._media_log.append(_MediaRecord(
            chat.id, "photo", [int(msg.data["message_id"])], None, [source], ["photo"], [caption or None],
            reply_to, time.time(),
        ))  # fmt: skip
        return self._render(chat, msg)

    # --- albums

    def _send_media_group(self, p: Params) -> list[JSON]:
        """sendMediaGroup, atomic: every check (items, chat, size, mixing, files, reply, refused URLs,
        rate limit) passes before the first message exists, so a refused album leaves no trace."""
        if not p.has("media"):
            raise ApiError(400, 'Bad Request: parameter "media" is required')
        media = p.obj("media")  # a JSON string in form/multipart bodies, a list in JSON bodies
        if not isinstance(media, list):
            raise ApiError(400, "Bad Request: expected an Array of InputMedia")
        # The Bot API server reads every InputMedia before it looks at the chat (Client::get_input_media).
        items = [self._album_item(raw, p) for raw in media]
        chat = self._chat_for_bot(p)
        p.int_("message_thread_id")  # topics are not emulated; a malformed id still answers 400
        if not items:
            raise ApiError(400, "Bad Request: there are no messages to send")
        if len(items) > MAX_ALBUM:
            raise ApiError(400, "Bad Request: too many messages to send as an album")
        if len(items) < 2:
            raise ApiError(400, _WRONG_ALBUM_SIZE)
        kinds = [item.kind for item in items]
        for alone in kinds:  # TDLib keeps documents and audio files in albums of their own kind
            if alone in ("document", "audio") and any(k != alone for k in kinds):
                raise ApiError(400, f"Bad Request: {alone} can't be mixed with other media types")
        for item in items:
            if utf16_len(item.caption) > MAX_CAPTION:
                raise ApiError(400, "Bad Request: message caption is too long")
        reply_to = self._reply_target(chat, p)
        for position, item in enumerate(items, start=1):
            if item.url is not None and self._url_refused(item.url):
                # Fetching happens on Telegram's side after the request was accepted; the official
                # server then names the first failed item, counted from 1, and sends none.
                raise ApiError(400, f"Bad Request: failed to send message #{position} with the error message "
                                    '"Wrong file identifier/HTTP URL specified"')  # fmt: skip
        self._rate_limit("sendmediagroup", p, cost=len(items))
        # reply_markup is not a sendMediaGroup parameter: albums carry no keyboard, so it is ignored.
        group_id = str(13_000_000_000_000_000 + self._next_media_group)
        self._next_media_group += 1
        protect = p.bool_("protect_content")
        sent: list[_Msg] = []
        for item in items:
            msg = self._new_message(chat, self._bot_user, from_bot=True)
            msg.data["media_group_id"] = group_id
            msg.data.update(self._album_media(item))
            if item.caption:
                msg.data["caption"] = item.caption
                if item.entities:
                    msg.data["caption_entities"] = item.entities
            if protect:
                msg.data["has_protected_content"] = True
            msg.photo_source = item.source
            msg.media_group_id = group_id
            msg.reply_to = reply_to
            sent.append(msg)
        self._media_log.append(_MediaRecord(
            chat.id, "album", [int(m.data["message_id"]) for m in sent], group_id, [i.source for i in items],
            kinds, [i.caption or None for i in items], reply_to, time.time(),
        ))  # fmt: skip
        return [self._render(chat, m) for m in sent]

    def _album_item(self, raw: Any, p: Params) -> _AlbumItem:
        """Validate one InputMedia without creating anything; errors carry the server's prefix."""
        prefix = "Bad Request: can't parse InputMedia: "
        if not isinstance(raw, dict):
            raise ApiError(400, prefix + "expected an Object")
        try:
            caption, entities = self._formatted(Params(raw, {}), "caption", "caption_entities")
        except ApiError as exc:
            # "Bad Request: can't parse entities: X" becomes "... InputMedia: Can't parse entities: X".
            reason = exc.description.removeprefix("Bad Request: ")
            raise ApiError(400, prefix + reason[:1].upper() + reason[1:]) from None
        source = raw.get("media")
        if not isinstance(source, str) or not source:
            raise ApiError(400, prefix + "media not found")
        upload = None
        if source.startswith("attach://"):
            upload = p.files.get(source.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, prefix + "media not found")
        kind = raw.get("type")
        if kind == "animation":
            raise ApiError(400, prefix + 'type "animation" can\'t be used in sendMediaGroup')
        if kind not in _ALBUM_KINDS:
            raise ApiError(400, prefix + f'type "{kind if isinstance(kind, str) else ""}" is unsupported')
        attrs = {k: raw[k] for k in ("width", "height", "duration", "performer", "title")
                 if isinstance(raw.get(k), (int, str)) and not isinstance(raw.get(k), bool)}  # fmt: skip
        item = _AlbumItem(str(kind), source, caption, entities, attrs=attrs)
        if upload is not None:
            item.source, item.content, item.filename = f"upload:{upload.filename}", upload.content, upload.filename
        elif source in self._files:
            if self._files[source].get("kind", "photo") != kind:
                raise ApiError(400, _WRONG_FILE)  # each file_id sends only its own kind of media
            item.known = source
        elif self._is_url(source):
            item.url = source  # never fetched: refused_urls decides what Telegram could not download
        else:
            raise ApiError(400, _WRONG_FILE)
        return item

    def _album_media(self, item: _AlbumItem) -> JSON:
        """The Message field of an album item ("photo" sizes, or a video/document/audio object)."""
        if item.kind == "photo":
            sizes = list(self._files[item.known]["sizes"]) if item.known else self._new_file(item.content)
            return {"photo": sizes}
        if item.known:
            return {item.kind: dict(self._files[item.known]["object"])}
        number = self._next_file
        self._next_file += 1
        head, folder, ext, mime = {
            "video": ("BAAC", "videos", "mp4", "video/mp4"), "document": ("BQAC", "documents", "bin",
            "application/octet-stream"), "audio": ("CQAC", "music", "mp3", "audio/mpeg"),
        }[item.kind]  # fmt: skip
        file_id = f"{head}AgIAAxkBAAIB{number:08d}"
        obj: JSON = {"file_id": file_id, "file_unique_id": f"AgAD{number:06d}", "file_size": len(item.content)}
        if item.kind == "video":
            # Sender-defined, as the Bot API documents them; the sandbox never reads video content.
            obj.update(width=int(item.attrs.get("width", 640)), height=int(item.attrs.get("height", 360)),
                       duration=int(item.attrs.get("duration", 0)), mime_type=mime)  # fmt: skip
        elif item.kind == "audio":
            obj.update(duration=int(item.attrs.get("duration", 0)), mime_type=mime)
            obj.update({k: str(item.attrs[k]) for k in ("performer", "title") if k in item.attrs})
        else:
            obj["mime_type"] = mime
        if item.filename:
            obj["file_name"] = item.filename
        self._files[file_id] = {"unique": obj["file_unique_id"], "path": f"{folder}/file_{number}.{ext}",
                                "content": item.content, "kind": item.kind, "object": obj}  # fmt: skip
        return {item.kind: obj}

    def _get_file(self, p: Params) -> JSON:
        file_id = p.str_("file_id") or ""
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": stored["unique"], "file_size": len(stored["content"]),
                "file_path": stored["path"]}  # fmt: skip

    def _file_content(self, token: str, path: str) -> bytes | None:
        if token != self.bot_token:
            return None
        with self._lock:
            for stored in self._files.values():
                if stored["path"] == path:
                    return bytes(stored["content"])
        return None

    # --- editing

    def _target(self, p: Params, missing: str) -> tuple[_Chat, _Msg]:
        if p.has("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")  # no inline mode in the sandbox
        chat = self._chat_for_bot(p)
        message_id = p.int_("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise ApiError(400, f"Bad Request: {missing}")
        return chat, msg

    def _editable(self, p: Params) -> tuple[_Chat, _Msg]:
        chat, msg = self._target(p, "message to edit not found")
        if not msg.from_bot or msg.service:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _inline_markup(self, p: Params) -> JSON | None:
        markup = self._reply_markup(p)
        # Only inline keyboards survive an edit; omitting reply_markup removes the keyboard.
        return markup if markup is not None and "inline_keyboard" in markup else None

    def _edited(self, chat: _Chat, msg: _Msg, changes: JSON, markup: JSON | None) -> JSON:
        current_markup = msg.markup if msg.markup is not None and "inline_keyboard" in msg.markup else None
        if all(msg.data.get(k) == v for k, v in changes.items()) and current_markup == markup:
            raise ApiError(400, _NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                msg.data.pop(key, None)
            else:
                msg.data[key] = value
        self._store_markup(msg, markup)
        msg.data["edit_date"] = int(time.time())
        msg.edits += 1
        return self._render(chat, msg)

    def _edit_text(self, p: Params) -> JSON:
        chat, msg = self._editable(p)
        if "text" not in msg.data:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(p, "text", "entities")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._edited(chat, msg, {"text": text, "entities": entities or None}, self._inline_markup(p))

    def _edit_caption(self, p: Params) -> JSON:
        chat, msg = self._editable(p)
        if not any(kind in msg.data for kind in _ALBUM_KINDS):  # every captioned media the sandbox sends
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._formatted(p, "caption", "caption_entities")
        if utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        changes = {"caption": caption or None, "caption_entities": entities or None}
        return self._edited(chat, msg, changes, self._inline_markup(p))

    def _edit_markup(self, p: Params) -> JSON:
        chat, msg = self._editable(p)
        return self._edited(chat, msg, {}, self._inline_markup(p))

    def _delete_message(self, p: Params) -> bool:
        chat, msg = self._target(p, "message to delete not found")
        others = not msg.from_bot and chat.type != "private"
        if msg.service or (others and chat.bot_status not in ("administrator", "creator")):
            raise ApiError(400, "Bad Request: message can't be deleted")
        msg.deleted = True
        return True

    # --- callbacks

    def _answer_query(self, p: Params) -> bool:
        query_id = p.str_("callback_query_id") or ""
        text = p.str_("text")
        self._answers.append({"callback_query_id": query_id, "text": text, "show_alert": p.bool_("show_alert")})
        query = self._queries.get(query_id)
        if query is None or query.answered or time.monotonic() - query.created > self.callback_query_ttl:
            self._answers[-1]["ok"] = False
            raise ApiError(400, _TOO_OLD)
        if text is not None and len(text) > 200:
            self._answers[-1]["ok"] = False
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        self._answers[-1]["ok"] = True
        return True

    # --- chats and members

    def _get_chat(self, p: Params) -> JSON:
        chat = self._chat_for_bot(p)
        full = self._chat_json(chat)
        full.update(accent_color_id=0, max_reaction_count=11, accepted_gift_types={
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False, "gifts_from_channels": False,
        })  # fmt: skip
        return full

    def _get_chat_member(self, p: Params) -> JSON:
        chat = self._chat_for_bot(p)
        user_id = p.int_("user_id")
        if user_id is None:
            raise ApiError(400, "Bad Request: user_id is empty")  # fmt: skip
        if user_id == self.bot_id:
            return self._member_json(self._bot_user, chat.bot_status)
        if user_id not in self._users:
            raise ApiError(400, "Bad Request: user not found")
        # A known user who never joined this chat is "left", as on Telegram.
        return self._member_json(self._users[user_id], chat.members.get(user_id, "left"))

    def _get_admins(self, p: Params) -> list[JSON]:
        chat = self._chat_for_bot(p)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [self._member_json(self._users[u], s) for u, s in chat.members.items()
                  if s in ("creator", "administrator")]  # fmt: skip
        if chat.bot_status == "administrator":
            admins.append(self._member_json(self._bot_user, "administrator"))
        return admins

    # --- commands

    @staticmethod
    def _commands_key(p: Params) -> str:
        scope = p.obj("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + (p.str_("language_code") or "")

    def _set_commands(self, p: Params) -> bool:
        commands = p.obj("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        cleaned: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(command.get("description", "")).strip()
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command["command"], "description": description})
        self._commands[self._commands_key(p)] = cleaned
        return True

    def _get_commands(self, p: Params) -> list[JSON]:
        return [dict(c) for c in self._commands.get(self._commands_key(p), [])]

    def _delete_commands(self, p: Params) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True


def _post_json(url: str, update: JSON, secret: str | None) -> str | None:
    """POST one update to a webhook; None on success, else Telegram-style last_error_message."""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        return f"Wrong response from the webhook: {exc.code} {exc.reason}"
    except (OSError, ValueError) as exc:
        return f"Connection failed: {exc}"


def serve_forever(port: int, token: str) -> None:
    """Run a sandbox until interrupted (``kemala sandbox telegram --port N``)."""
    sandbox = TelegramSandbox(bot_token=token)
    url = sandbox.start(port)
    print(f"Telegram sandbox on {url}")
    print(f"  bot base_url: {url}/bot   token: {token}")
    print(f"  control API:  {url}/_sandbox/   (docs/sandbox-telegram.md)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
