"""HTTP plumbing of the Telegram sandbox: request bodies, the Bot API route and the control API."""

from __future__ import annotations

import json
import re
import socket
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit


class Sandbox(Protocol):
    """What the HTTP layer needs of the emulator (bot.sandbox.telegram.TelegramSandbox), so this
    module does not import it back."""

    def _api_request(self, token: str, method: str, content_type: str, body: bytes,
                     query: str) -> tuple[int, dict[str, Any]]: ...
    def _file_content(self, token: str, path: str) -> bytes | None: ...
    def messages(self, chat_id: int) -> list[dict[str, Any]]: ...
    def photos(self, chat_id: int | None = ...) -> list[dict[str, Any]]: ...
    def upgrade(self, chat_id: int) -> int: ...
    def kick_bot(self, chat_id: int) -> None: ...
    def add_chat(self, chat_id: int, type: str = ..., title: str = ...) -> None: ...
    def set_member(self, chat_id: int, user: dict[str, Any] | int, status: str = ...) -> None: ...
    def send_message(self, chat_id: int, from_user_id: int, text: str,
                     reply_to_message_id: int | None = ...) -> int: ...
    def press(self, chat_id: int, message_id: int, from_user_id: int, data: str) -> str: ...
    def callback_answers(self) -> list[dict[str, Any]]: ...
    def fault(self, method: str = ..., *, status: int | None = ..., count: int = ..., retry_after: int | None = ...,
              delay_s: float | None = ...) -> None: ...
    def calls(self) -> list[dict[str, Any]]: ...
    def pending_updates(self) -> int: ...
    def configure(self, rate_limits: bool | None = ..., limit_scale: float | None = ...,
                  callback_query_ttl: float | None = ..., refused_urls: list[str] | None = ...) -> None: ...


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class SandboxError(ValueError):
    """A refused control call; ``status`` is the HTTP status the control API answers with."""

    status = 400


class SandboxForbidden(SandboxError):
    status = 403


class SandboxNotFound(SandboxError):
    status = 404


class Upload:
    """A file part of a multipart request (PTB uploads photos this way)."""

    def __init__(self, filename: str, content: bytes, mime: str) -> None:
        self.filename = filename
        self.content = content
        self.mime = mime


# Non-string parameters that form-encoded clients (PTB) send as JSON text; decoded for calls().
_TYPED_KEYS = {
    "chat_id", "message_id", "user_id", "reply_to_message_id", "offset", "limit", "timeout", "show_alert",
    "cache_time", "drop_pending_updates", "max_connections", "disable_notification", "protect_content",
    "allow_sending_without_reply", "message_thread_id", "until_date", "revoke_messages", "only_if_banned",
}  # fmt: skip


class Params:
    """Request parameters with Telegram's lenient typing.

    PTB sends form fields where strings are raw and everything else is JSON-encoded, other clients
    send JSON bodies; each accessor accepts both forms.
    """

    def __init__(self, raw: dict[str, Any], files: dict[str, Upload]) -> None:
        self.raw = raw
        self.files = files

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None or name in self.files

    def str_(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def int_(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def float_(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def bool_(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def obj(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, error or f"Bad Request: can't parse {name} JSON object") from None
        return value

    def logged(self) -> dict[str, Any]:
        """Parameters for ``calls()``: typed like the Bot API documents them, files described only."""
        out: dict[str, Any] = {}
        for key, value in self.raw.items():
            if isinstance(value, str) and (value[:1] in "[{" or key in _TYPED_KEYS):
                try:
                    out[key] = json.loads(value)
                    continue
                except ValueError:
                    pass
            out[key] = value
        for key, upload in self.files.items():
            out[key] = {"upload": upload.filename, "size": len(upload.content)}
        return out


def parse_body(content_type: str, body: bytes, query: str) -> Params:
    raw: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    files: dict[str, Upload] = {}
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return Params(raw, files)
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
        if isinstance(data, dict):
            raw.update(data)
    elif kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = Upload(filename, content, part.get_content_type())
            else:
                raw[name] = content.decode("utf-8")
    else:  # form-urlencoded (and anything else a curl user may send)
        raw.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()})
    return Params(raw, files)


_BOT_ROUTE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z_]+)/?$")
_FILE_ROUTE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_CHAT_ROUTE = re.compile(r"^/_sandbox/chats/(?P<chat>-?\d+)/(?P<action>messages|upgrade|kick-bot)$")


class Handler(BaseHTTPRequestHandler):
    """One request; ``sandbox`` is bound by :func:`make_handler`."""

    sandbox: Sandbox
    protocol_version = "HTTP/1.1"  # keep-alive: PTB's httpx pool reuses connections

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK costs ~40 ms per keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines would print the bot token."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client went away (e.g. a cancelled long poll)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = unquote(split.path)  # PTB percent-encodes the ':' of the token in file URLs
        if path.startswith("/_sandbox/"):
            self._control(path, body, split.query)
            return
        match = _BOT_ROUTE.match(path)
        if match:
            status, payload = self.sandbox._api_request(
                match.group("token"), match.group("method"), self.headers.get("Content-Type", ""),
                body, split.query,
            )  # fmt: skip
            self._send(status, payload)
            return
        file_match = _FILE_ROUTE.match(path)
        if file_match:
            content = self.sandbox._file_content(file_match.group("token"), file_match.group("path"))
            if content is not None:
                self._send(200, content, "application/octet-stream")
                return
        self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def _control(self, path: str, body: bytes, query: str = "") -> None:
        sb = self.sandbox
        try:
            data: Any = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise SandboxError("the body must be a JSON object")
            result: Any = {"ok": True}
            chat_match = _CHAT_ROUTE.match(path)
            if chat_match:
                chat_id = int(chat_match.group("chat"))
                action = chat_match.group("action")
                if action == "messages":
                    result = sb.messages(chat_id)
                elif action == "upgrade":
                    result = {"migrate_to_chat_id": sb.upgrade(chat_id)}
                else:
                    sb.kick_bot(chat_id)
            elif path == "/_sandbox/chats":
                sb.add_chat(int(data["id"]), type=data.get("type", "supergroup"), title=data.get("title", ""))
            elif path == "/_sandbox/members":
                sb.set_member(int(data["chat_id"]), data["user"], data.get("status", "member"))
            elif path == "/_sandbox/messages":
                reply_to = data.get("reply_to_message_id")
                result = {
                    "message_id": sb.send_message(
                        int(data["chat_id"]), int(data["from_user_id"]), str(data.get("text", "")),
                        reply_to_message_id=None if reply_to is None else int(reply_to),
                    )
                }  # fmt: skip
            elif path == "/_sandbox/callbacks":
                result = {
                    "id": sb.press(int(data["chat_id"]), int(data["message_id"]), int(data["from_user_id"]),
                                   str(data["data"]))
                }  # fmt: skip
            elif path == "/_sandbox/callback-answers":
                result = sb.callback_answers()
            elif path == "/_sandbox/faults":
                sb.fault(
                    data.get("method", "*"), status=data.get("status"), count=int(data.get("count", 1)),
                    retry_after=data.get("retry_after"), delay_s=data.get("delay_s"),
                )  # fmt: skip
            elif path == "/_sandbox/calls":
                result = sb.calls()
            elif path == "/_sandbox/photos":
                chat = parse_qs(query).get("chat_id")
                result = sb.photos(int(chat[-1]) if chat else None)
            elif path == "/_sandbox/pending-updates":
                result = {"pending_updates": sb.pending_updates()}
            elif path == "/_sandbox/config":
                sb.configure(**data)
            else:
                self._send(404, {"ok": False, "error": f"no control route {path}"})
                return
        except SandboxError as exc:
            self._send(exc.status, {"ok": False, "error": str(exc)})
            return
        except (KeyError, TypeError, ValueError) as exc:
            self._send(400, {"ok": False, "error": f"bad control request: {exc!r}"})
            return
        self._send(200, result)


def make_handler(sandbox: Sandbox) -> type[Handler]:
    """A handler class bound to one sandbox (the stdlib server instantiates it per request)."""
    return type("BoundHandler", (Handler,), {"sandbox": sandbox})
