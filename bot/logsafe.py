"""Logging set-up: one redaction filter on every handler, so no token or key reaches a log line."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType

from bot.twitter_bridge import RedactSecrets

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def install_redaction(secrets: Iterable[str], handlers: Iterable[logging.Handler] | None = None) -> RedactSecrets:
    """Attach the filter to the given handlers (default: the root logger's)."""
    redactor = RedactSecrets(secrets)
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(redactor)
    return redactor


def configure_logging(level: str, secrets: Iterable[str], stream: object = None) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the Bot API URL carries the token; apscheduler
    # chatters about skipped runs of sweeps that are still busy, which is expected.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
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
