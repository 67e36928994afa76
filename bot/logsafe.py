"""Logging set-up: one redaction filter on every handler, so no token or key reaches a log line."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import quote, unquote

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# ---------------------------------------------------------------------------------------------
# Logging: tweepy logs request headers (Bearer included) at DEBUG, oauthlib logs keys and
# signatures; this filter scrubs them wherever the lead installs it.

_SECRET_PATTERNS = (
    re.compile(r"(Authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\n,}]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9%._~+/=-]+", re.IGNORECASE),
    re.compile(r"(oauth_[a-z_]+(?:%3D|%253D|=|['\"]?\s*:\s*)['\"]?)[^&\s'\",]+", re.IGNORECASE),
    re.compile(r"(Signature:\s*)\S+"),
)


class RedactSecrets(logging.Filter):
    """Replaces secrets (raw or URL-encoded) and Authorization/OAuth/Bearer values with '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        forms: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < 4:
                # Redacting a 1–3 character string would shred ordinary log text.
                continue
            # Logged URLs and OAuth base strings carry values percent-encoded once or twice; X's
            # bearer tokens arrive already encoded (%2F, %3D), so their decoded form counts too.
            for base in {secret, unquote(secret)}:
                once = quote(base, safe="")
                forms.update({base, once, quote(once, safe="")})
        # Longest first so an encoded form is not half-replaced by a shorter raw form.
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(r"\1***", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record or leak its args
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the redacted traceback is what gets written.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_redaction(secrets: Iterable[str], handlers: Iterable[logging.Handler] | None = None) -> RedactSecrets:
    """Attach the filter to the given handlers (default: the root logger's)."""
    redactor = RedactSecrets(secrets)
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(redactor)
    return redactor


class JsonFormatter(logging.Formatter):
    """One JSON object per line (KEMALA_LOG_FORMAT=json), for log shippers; the redaction filter runs first."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str, secrets: Iterable[str], stream: object = None, fmt: str = "text") -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
        root.addHandler(handler)
    for h in root.handlers:
        if type(h) is logging.StreamHandler:  # ours, not a test runner's capture handler
            h.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the Bot API URL carries the token; apscheduler
    # chatters about skipped runs of sweeps that are still busy, which is expected; Alembic says
    # "Context impl SQLiteImpl" and friends on every start (its DEBUG-worthy lines are INFO).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    install_redaction(secrets)


def install_excepthooks(secrets: Iterable[str]) -> None:
    """Uncaught exceptions (main thread, other threads) print a traceback with every secret redacted.

    Log records are redacted by the filter above; a traceback that escapes to the interpreter is not a log
    record, and library errors quote tokens in their messages (python-telegram-bot's InvalidToken does).
    """
    redactor = RedactSecrets(secrets)

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(redactor.redact(text))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
