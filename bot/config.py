"""Settings read once from the environment (and an optional .env), validated at start."""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from dotenv.parser import parse_stream


class ConfigError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


# The exit status for a configuration error (sysexits EX_CONFIG): a supervisor's "restart on failure"
# policy can tell it apart from a crash, and restarting will not help.
EXIT_CONFIG = 78


class Secret:
    """A string that never shows itself in repr, str or a config dump."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs people paste and pick the async driver ourselves."""
    url = url.strip()
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            if not url[len(prefix):].strip():
                raise ConfigError("KEMALA_DATABASE_URL: a SQLite URL needs a file, e.g. sqlite:///kemala.db "
                                  "(relative to the working directory) or sqlite:////var/lib/kemala/kemala.db")
            return "sqlite+aiosqlite:///" + url[len(prefix):]
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://", "postgresql+psycopg2://",
                   "postgresql+psycopg://"):
        if url.startswith(prefix):
            _check_postgres_url(url[len(prefix):])
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ConfigError(
        "KEMALA_DATABASE_URL: expected sqlite:///path or postgresql://user:pass@host:port/db, "
        f"got a URL starting with {url.split(':', 1)[0]!r}"
    )


def _check_postgres_url(rest: str) -> None:
    """An empty host would let the driver fall back to the machine's defaults (a local socket, the login
    user's own database) and create our tables in whatever database that is: refuse it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "postgresql://kemala:PASSWORD@localhost:5432/kemala"
    try:
        parsed = make_url("postgresql://" + rest)
    except (ArgumentError, ValueError):
        raise ConfigError(f"KEMALA_DATABASE_URL: not a PostgreSQL URL like {example}") from None
    if not parsed.host:
        raise ConfigError(f"KEMALA_DATABASE_URL: a PostgreSQL URL needs a host, e.g. {example}")
    if not parsed.database:
        raise ConfigError(f"KEMALA_DATABASE_URL: a PostgreSQL URL needs a database name, e.g. {example}")


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the bot needs to know about its surroundings."""

    database_url: str = "sqlite+aiosqlite:///kemala.db"
    telegram_token: Secret = field(default_factory=lambda: Secret(""))
    telegram_api_url: str = "https://api.telegram.org"
    triage_chat_id: int | None = None
    x_api_url: str = "https://api.x.com"
    x_bearer_token: Secret = field(default_factory=lambda: Secret(""))
    x_consumer_key: Secret = field(default_factory=lambda: Secret(""))
    x_consumer_secret: Secret = field(default_factory=lambda: Secret(""))
    x_access_token: Secret = field(default_factory=lambda: Secret(""))
    x_access_token_secret: Secret = field(default_factory=lambda: Secret(""))
    hashtag: str = "#KemalaJateng"
    poll_seconds: float = 15.0
    admin_ids: frozenset[int] = frozenset()
    x_reply_policy: str = "summoned"
    # album: a post's photos (and video/GIF previews) follow its card as Telegram photos; links: the card links them.
    photos: str = "album"
    language: str = "id"
    timezone: str = "Asia/Jakarta"
    webhook_url: str | None = None
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    # One web server (bot/web): /healthz, /metrics and, in webhook mode, /telegram. Port 0 = any free port.
    web_listen: str = "127.0.0.1"
    web_port: int = 8080
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    db_failure_exit_seconds: float = 60.0
    # X failing (5xx, timeouts, unexpected answers) this long without a good read tells triage, once per outage.
    x_alert_after_seconds: float = 120.0
    routing_threshold: float = 0.45
    flood_per_hour: int = 5
    mask_personal_data: bool = True
    x_monthly_budget_usd: float | None = None
    x_budget_floor_seconds: float = 900.0
    price_post_read: float = 0.005
    price_post_created: float = 0.015
    price_post_with_url: float = 0.20
    price_owned_read: float = 0.001
    price_summoned_reply: float = 0.010
    x_timeout_seconds: float = 10.0
    deleted_check_minutes: float = 30.0
    log_level: str = "INFO"
    log_format: str = "text"
    # What load_settings noticed but did not refuse (unknown KEMALA_* names, .env lines it could not read).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_x_credentials(self) -> bool:
        return bool(self.x_bearer_token and self.x_consumer_key and self.x_access_token)

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        return [v.get() for v in (getattr(self, f.name) for f in fields(self)) if isinstance(v, Secret) and v]

    def __repr__(self) -> str:
        return f"Settings({self.dump()!r})"

    def dump(self) -> dict[str, Any]:
        """A printable view: secrets show only whether they are set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "warnings":
                continue
            if isinstance(value, Secret):
                out[f.name] = "***" if value else ""
            elif isinstance(value, frozenset):
                out[f.name] = sorted(value)
            elif f.name == "database_url":
                out[f.name] = _hide_password(value)
            else:
                out[f.name] = value
        return out


def _hide_password(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def _float(env: Mapping[str, str], name: str, default: float, minimum: float | None = None,
           maximum: float | None = None) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum:g}, got {raw!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: must be at most {maximum:g}, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None


def _port(env: Mapping[str, str], name: str, default: int, *, allow_any: bool = False) -> int:
    value = _int(env, name, default)
    assert value is not None
    if allow_any and value == 0:
        return 0  # the system picks a free port (tests, several replicas on one machine); the start line says it
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name}: a TCP port is 1–65535" + (" (or 0: any free port)" if allow_any else "")
                          + f", got {env.get(name, '').strip()!r}")
    return value


def _alias_name(env: _Recording, name: str, old: str) -> str:
    """The new name wins; the old one (from before the web server was one) still works, with a warning."""
    if env.get(name, "").strip() or not env.get(old, "").strip():
        return name
    env.renamed[old] = name
    return old


def _alias(env: _Recording, name: str, old: str) -> str:
    return env.get(_alias_name(env, name, old), "").strip()


def check_group_chat_id(value: int, name: str) -> int:
    """Telegram groups and supergroups have negative ids; a positive one is a person (or a typo)."""
    if value >= 0:
        raise ConfigError(f"{name}: a group's chat id is negative, like -1001234567890, got {value}; a "
                          "positive id is a person's private chat (add the bot to the group and use /bind there)")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name}: expected an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


WEBHOOK_SECRET_MIN = 32
_WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _check_webhook_secret(secret: str) -> None:
    """A webhook is an open door on the network: without a strong secret anyone can post updates "from" staff."""
    how = "make one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\""
    if not secret:
        raise ConfigError(f"KEMALA_WEBHOOK_SECRET: required when KEMALA_WEBHOOK_URL is set; {how}")
    if not _WEBHOOK_SECRET_RE.fullmatch(secret):
        # The value itself is never echoed: it is a secret even when it is a bad one.
        raise ConfigError("KEMALA_WEBHOOK_SECRET: Telegram accepts only A-Z, a-z, 0-9, _ and -, at most 256 "
                          f"characters; {how}")
    if len(secret) < WEBHOOK_SECRET_MIN:
        raise ConfigError(f"KEMALA_WEBHOOK_SECRET: at least {WEBHOOK_SECRET_MIN} characters, got {len(secret)}; "
                          f"{how}")


class _Recording(dict[str, str]):
    """The merged environment, remembering which names the settings asked for (the rest are unknown)."""

    def __init__(self, data: Mapping[str, str]) -> None:
        super().__init__(data)
        self.asked: set[str] = set()
        self.renamed: dict[str, str] = {}  # an old variable name used → its new name

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


# Read by other parts (the migrations, the test and bench helpers), not by Settings: not unknown.
OTHER_KNOWN_VARS = frozenset({"KEMALA_WEBHOOK_LISTEN", "KEMALA_WEBHOOK_PORT",  # old names, see _alias_name
                              "KEMALA_MIGRATIONS_DIR", "KEMALA_TEST_DATABASE_URL", "KEMALA_PG_HOST",
                              "KEMALA_PG_PORT", "KEMALA_PG_USER"})


def read_env_file(path: str | Path) -> tuple[dict[str, str], list[str]]:
    """The file's assignments and one warning per line that is not one (python-dotenv's own parser)."""
    warnings: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for b in parse_stream(f):
            if b.error:
                warnings.append(f"{Path(path).name} line {b.original.line}: not a NAME=value line, ignored")
    # The values as python-dotenv reads them (with its ${VAR} expansion); its own parse warnings are ours now.
    quiet = logging.getLogger("dotenv.main")
    was, quiet.disabled = quiet.disabled, True
    try:
        values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    finally:
        quiet.disabled = was
    return values, warnings


def _unknown_names(e: _Recording) -> Iterator[str]:
    known = sorted(e.asked | OTHER_KNOWN_VARS)
    for name in sorted(k for k in e if k.startswith("KEMALA_") and k not in e.asked and k not in OTHER_KNOWN_VARS):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        yield f"unknown variable {name}, ignored" + (f" (did you mean {close[0]}?)" if close else "")


def load_settings(env: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env") -> Settings:
    """Read and validate settings; the process environment wins over the .env file."""
    merged: dict[str, str] = {}
    file_warnings: list[str] = []
    if env_file is not None and Path(env_file).is_file():
        values, file_warnings = read_env_file(env_file)
        merged.update(values)
    merged.update(os.environ if env is None else env)
    e = _Recording(merged)
    settings = _build(e)
    renamed = [f"{old} is now {new} (one web server serves /telegram, /healthz and /metrics); using it"
               for old, new in sorted(e.renamed.items())]
    warnings = (*file_warnings, *renamed, *_unknown_names(e))
    return replace(settings, warnings=warnings) if warnings else settings


def _build(e: _Recording) -> Settings:
    admin_ids: set[int] = set()
    for part in e.get("KEMALA_ADMIN_IDS", "").replace(";", ",").split(","):
        if part.strip():
            try:
                admin_ids.add(int(part.strip()))
            except ValueError:
                msg = f"KEMALA_ADMIN_IDS: expected comma-separated user ids, got {part.strip()!r}"
                raise ConfigError(msg) from None

    timezone = e.get("KEMALA_TIMEZONE", "").strip() or "Asia/Jakarta"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"KEMALA_TIMEZONE: unknown time zone {timezone!r}") from None

    hashtag = e.get("KEMALA_HASHTAG", "").strip() or "#KemalaJateng"
    if not hashtag.startswith("#") or len(hashtag) < 2 or " " in hashtag:
        raise ConfigError(f"KEMALA_HASHTAG: expected a hashtag like #KemalaJateng, got {hashtag!r}")

    webhook_url = _url(e, "KEMALA_WEBHOOK_URL", "https://x") if e.get("KEMALA_WEBHOOK_URL", "").strip() else None
    webhook_secret = e.get("KEMALA_WEBHOOK_SECRET", "").strip()
    if webhook_url is not None:
        _check_webhook_secret(webhook_secret)

    budget_raw = e.get("KEMALA_X_MONTHLY_BUDGET_USD", "").strip()
    budget = _float(e, "KEMALA_X_MONTHLY_BUDGET_USD", 0.0, 0.0) if budget_raw else None

    return Settings(
        database_url=normalise_database_url(e.get("KEMALA_DATABASE_URL", "").strip() or "sqlite:///kemala.db"),
        telegram_token=Secret(e.get("KEMALA_TELEGRAM_TOKEN", "").strip()),
        telegram_api_url=_url(e, "KEMALA_TELEGRAM_API_URL", "https://api.telegram.org"),
        triage_chat_id=_group_id(e, "KEMALA_TRIAGE_CHAT_ID"),
        x_api_url=_url(e, "KEMALA_X_API_URL", "https://api.x.com"),
        x_bearer_token=Secret(e.get("KEMALA_X_BEARER_TOKEN", "").strip()),
        x_consumer_key=Secret(e.get("KEMALA_X_CONSUMER_KEY", "").strip()),
        x_consumer_secret=Secret(e.get("KEMALA_X_CONSUMER_SECRET", "").strip()),
        x_access_token=Secret(e.get("KEMALA_X_ACCESS_TOKEN", "").strip()),
        x_access_token_secret=Secret(e.get("KEMALA_X_ACCESS_TOKEN_SECRET", "").strip()),
        hashtag=hashtag,
        poll_seconds=_float(e, "KEMALA_POLL_SECONDS", 15.0, 1.0, 86_400.0),
        admin_ids=frozenset(admin_ids),
        x_reply_policy=_choice(e, "KEMALA_X_REPLY_POLICY", "summoned", ("summoned", "unrestricted")),
        photos=_choice(e, "KEMALA_PHOTOS", "album", ("album", "links")),
        language=_choice(e, "KEMALA_LANGUAGE", "id", ("id", "en")),
        timezone=timezone,
        webhook_url=webhook_url,
        webhook_secret=Secret(webhook_secret),
        web_listen=_alias(e, "KEMALA_WEB_LISTEN", "KEMALA_WEBHOOK_LISTEN") or "127.0.0.1",
        web_port=_port(e, _alias_name(e, "KEMALA_WEB_PORT", "KEMALA_WEBHOOK_PORT"), 8080, allow_any=True),
        metrics_token=Secret(e.get("KEMALA_METRICS_TOKEN", "").strip()),
        routing_threshold=_float(e, "KEMALA_ROUTING_THRESHOLD", 0.45, 0.0, 1.0),
        flood_per_hour=int(_float(e, "KEMALA_FLOOD_PER_HOUR", 5, 1, 10_000)),
        mask_personal_data=_bool(e, "KEMALA_MASK_PERSONAL_DATA", True),
        x_monthly_budget_usd=budget,
        x_budget_floor_seconds=_float(e, "KEMALA_X_BUDGET_FLOOR_SECONDS", 900.0, 1.0),
        price_post_read=_float(e, "KEMALA_X_PRICE_POST_READ", 0.005, 0.0),
        price_post_created=_float(e, "KEMALA_X_PRICE_POST_CREATED", 0.015, 0.0),
        price_post_with_url=_float(e, "KEMALA_X_PRICE_POST_WITH_URL", 0.20, 0.0),
        price_owned_read=_float(e, "KEMALA_X_PRICE_OWNED_READ", 0.001, 0.0),
        price_summoned_reply=_float(e, "KEMALA_X_PRICE_SUMMONED_REPLY", 0.010, 0.0),
        x_timeout_seconds=_float(e, "KEMALA_X_TIMEOUT_SECONDS", 10.0, 0.1),
        db_failure_exit_seconds=_float(e, "KEMALA_DB_FAILURE_EXIT_SECONDS", 60.0, 1.0),
        x_alert_after_seconds=_float(e, "KEMALA_X_ALERT_AFTER_SECONDS", 120.0, 1.0, 86_400.0),
        deleted_check_minutes=_float(e, "KEMALA_DELETED_CHECK_MINUTES", 30.0, 1.0),
        log_level=_choice(e, "KEMALA_LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper(),
        log_format=_choice(e, "KEMALA_LOG_FORMAT", "text", ("text", "json")),
    )


def _group_id(env: Mapping[str, str], name: str) -> int | None:
    value = _int(env, name, None)
    return None if value is None else check_group_chat_id(value, name)
