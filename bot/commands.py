"""CLI commands that need the heavier modules (telegram, tweepy, the router)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.domain.agencies import TRIAGE_CODE


class CommandError(Exception):
    """A one-line error for the user."""


X_SECRETS = ("KEMALA_X_BEARER_TOKEN", "KEMALA_X_CONSUMER_KEY", "KEMALA_X_CONSUMER_SECRET", "KEMALA_X_ACCESS_TOKEN",
             "KEMALA_X_ACCESS_TOKEN_SECRET")


def check_run_config(settings: Settings, *, no_x: bool) -> Settings:
    """What `kemala run` needs before it touches anything; ConfigError (exit 78) names what is missing."""
    from dataclasses import replace

    from bot.config import ConfigError, Secret

    if not settings.telegram_token:
        raise ConfigError("KEMALA_TELEGRAM_TOKEN is not set (try `kemala demo` for a local run without credentials)")
    if settings.triage_chat_id is None:
        raise ConfigError("KEMALA_TRIAGE_CHAT_ID is not set: the provincial triage group (a negative chat id, "
                          "e.g. -1001234567890) receives what the router cannot place and every alert")
    values = [settings.x_bearer_token, settings.x_consumer_key, settings.x_consumer_secret, settings.x_access_token,
              settings.x_access_token_secret]
    if no_x:
        blank = Secret("")
        return replace(settings, x_bearer_token=blank, x_consumer_key=blank, x_consumer_secret=blank,
                       x_access_token=blank, x_access_token_secret=blank)
    missing = [name for name, value in zip(X_SECRETS, values, strict=True) if not value]
    if missing:
        raise ConfigError(f"X credentials missing: {', '.join(missing)}; set them, or run `kemala run --no-x` for "
                          "a Telegram-only trial (no posts are read, no replies posted)")
    return settings


def _probe_x(settings: Settings) -> str:
    """Who the desk is on X, before starting: wrong keys or a wrong URL stop the start with one line; X
    being busy (5xx, 429, a timeout) does not, the poller waits it out as it always does."""
    import logging
    import time

    from bot.app import make_bridge
    from bot.twitter_bridge import XError, XUnauthorized, XUnavailable, XUnreachable

    bridge = make_bridge(settings)
    assert bridge is not None
    for attempt in range(3):
        try:
            return f"@{bridge.me().username}"
        except XUnreachable as e:
            if attempt == 2:
                raise CommandError(f"cannot reach X at {settings.x_api_url}: {e}") from None
            time.sleep(1.0)
        except XUnauthorized:
            raise CommandError("X rejected the credentials (401): check the KEMALA_X_* keys and tokens") from None
        except XUnavailable as e:
            logging.getLogger("bot.run").warning("X is not answering at start (%s): the poller will retry", e)
            return "(not checked: X busy)"
        except XError as e:
            if e.status in (401, 403):
                raise CommandError(f"X refused the desk account ({e.status}): {e}") from None
            logging.getLogger("bot.run").warning("X answered %s at start: the poller will retry", e.status)
            return "(not checked)"
    return "(not checked)"


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run_bot
    from bot.cli_db import ensure_schema
    from bot.logsafe import configure_logging

    configure_logging(settings.log_level, settings.secrets(), fmt=settings.log_format)
    settings = check_run_config(settings, no_x=getattr(args, "no_x", False))
    ensure_schema(settings)
    x_account = _probe_x(settings) if settings.has_x_credentials else None
    from telegram.error import InvalidToken, NetworkError

    from bot.app import DatabaseUnavailable
    from bot.logsafe import RedactSecrets
    from bot.web.server import WebBindError

    try:
        asyncio.run(run_bot(settings, x_account=x_account))
    except InvalidToken:
        # PTB's message quotes the token itself: never print it, say what to check instead.
        raise CommandError("Telegram rejected KEMALA_TELEGRAM_TOKEN (getMe answered 401/404): check the token "
                           f"and KEMALA_TELEGRAM_API_URL ({settings.telegram_api_url})") from None
    except (DatabaseUnavailable, WebBindError) as e:
        raise CommandError(str(e)) from None
    except NetworkError as e:
        reason = RedactSecrets(settings.secrets()).redact(str(e).strip().splitlines()[0] if str(e).strip() else "")
        raise CommandError(f"cannot reach Telegram at {settings.telegram_api_url}: {reason[:200]}") from None
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import main as demo_main

    if args.tweets < 1 or args.tweets > 500:
        raise CommandError("--tweets must be between 1 and 500")
    return demo_main(args.tweets, args.json)


def _router(settings: Settings, *, stored_model: bool = True) -> Any:
    """The router as the desk runs it: packaged rules and places, the newest stored model if any."""
    from bot.app import make_router

    router = make_router(settings)
    if not stored_model:
        return router
    from bot.cli_db import SchemaMissing, require_schema, with_db
    from bot.usecases.retraining import latest_model

    try:
        require_schema(settings)
    except SchemaMissing:  # no database yet: the packaged model is the desk's model
        return router
    model = asyncio.run(with_db(settings, latest_model))
    return router.with_model(model) if model is not None else router


def cmd_route(settings: Settings, args: argparse.Namespace) -> int:
    which = getattr(args, "route_cmd", None)
    if which == "eval":
        return _route_eval(settings, Path(args.file), args.json, args.predictions)
    if which == "import":
        return _route_import(settings, Path(args.file), args.json)
    if which == "train":
        return _route_train(settings, args.json)
    text = " ".join(args.args).strip()
    if not text:
        raise CommandError("nothing to route: give the complaint text, e.g. kemala route \"jalan rusak di Blora\"")
    decision = _router(settings).route(text, author_location=args.location)
    if args.json:
        print(json.dumps(decision.to_json(), ensure_ascii=False, indent=2))
    else:
        where = decision.agency or (f"triase → usul {decision.destination}" if decision.destination else "triase")
        print(f"agency: {where}  (confidence {decision.confidence:.0%})")
        print(f"jurisdiction: {decision.jurisdiction or '-'}")
        print("alternatives: " + ", ".join(f"{c} {s:.0%}" for c, s in decision.alternatives))
        if decision.place is not None:
            print(f"place: {decision.place.label}")
        for reason in decision.reasons:
            print(f"- {reason}")
    return 0


def _known_labels(router: Any) -> frozenset[str]:
    return frozenset(router.agencies) | router.destinations | {TRIAGE_CODE}


def _read_labels(router: Any, path: Path, *, strict: bool) -> list[Any]:
    from bot.routing_eval import LabelFileError, read_labelled

    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        rows = read_labelled(path, known=_known_labels(router), strict=strict)
    except LabelFileError as e:
        raise CommandError(str(e)) from None
    if not rows:
        raise CommandError(f"{path.name}: no labelled rows")
    return rows


def _route_eval(settings: Settings, path: Path, as_json: bool, predictions: str | None) -> int:
    from bot.routing_eval import predict, score, write_predictions

    router = _router(settings)
    rows = _read_labels(router, path, strict=False)
    preds = predict(router, rows)
    report = score(preds)
    if predictions:
        try:
            write_predictions(Path(predictions), preds)
        except OSError as e:
            raise CommandError(f"cannot write {predictions}: {e.strerror or e}") from None
    print(json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json else report.render())
    return 0


def _route_import(settings: Settings, path: Path, as_json: bool) -> int:
    from bot.cli_db import require_schema, with_db
    from bot.usecases.retraining import import_and_retrain

    rows = _read_labels(_router(settings, stored_model=False), path, strict=True)
    require_schema(settings)
    # A row with several acceptable owners teaches its first one.
    labelled = [(r.text, r.labels[0], r.location) for r in rows]
    info = asyncio.run(with_db(settings, lambda s: import_and_retrain(s, labelled)))
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        print(f"{path.name}: {info['added']} label(s) stored, {info['already_stored']} already there; "
              f"router retrained on {info['labels']} confirmed label(s)")
        for code, n in sorted(info["per_agency"].items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {code:<24} {n}")
    return 0


def _route_train(settings: Settings, as_json: bool) -> int:
    from bot.cli_db import require_schema
    from bot.usecases.retraining import retrain_and_save

    require_schema(settings)
    info = asyncio.run(retrain_and_save(settings))
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        print(f"router retrained on the packaged set plus {info['labels']} confirmed label(s); "
              f"stored in the {info['path']}")
    return 0


def cmd_x(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli_db import require_schema, with_db
    from bot.queries import usage_report

    month = args.month or datetime.now(UTC).strftime("%Y-%m")
    if not re.fullmatch(r"(19|20|21)\d\d-(0[1-9]|1[0-2])", month):
        raise CommandError(f"--month expects YYYY-MM with a month 01–12, got {month!r}")
    require_schema(settings)
    report = asyncio.run(with_db(settings, lambda s: usage_report(s, settings, month)))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"X API usage in {month}:")
        for key in ("posts_read", "owned_reads", "posts_created", "posts_with_url", "summoned_replies", "requests"):
            print(f"  {key:<16} {report[key]}")
        print("  cost by class    " + ", ".join(f"{k} ${v:.3f}" for k, v in report["cost_by_class"].items()))
        budget = report["budget_usd"]
        print(f"  estimated cost  ${report['estimated_usd']:.2f}" + (f" of ${budget:.2f} budget" if budget else ""))
    return 0


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    if args.sandbox_cmd == "x":
        from bot.sandbox.x import serve_forever

        serve_forever(args.port, args.lag)
    else:
        from bot.sandbox.telegram import serve_forever as serve_tg

        serve_tg(args.port, args.token)
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """`kemala status`: what is stuck; `kemala status retry posts|cards|replies [ID]`: retry where it is safe."""
    from bot.cli_db import require_schema

    require_schema(settings)
    if args.status_cmd == "retry":
        if args.retry_what == "posts":
            return asyncio.run(_retry_posts(settings, args.id))
        return asyncio.run(_retry_rows(settings, args.retry_what, args.id))
    report = asyncio.run(_status_report(settings))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
        return 0
    print(render_status(report))
    return 0


def _age(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400} d {s % 86400 // 3600} h" if s >= 86400 else (
        f"{s // 3600} h {s % 3600 // 60} min" if s >= 3600 else f"{s // 60} min")


def render_status(report: dict[str, Any]) -> str:
    """The operator's view (English, like the rest of the CLI); the triage group's /status is in i18n."""
    lines = [
        "complaints: " + (", ".join(f"{k} {v}" for k, v in sorted(report["complaints"].items())) or "none"),
        "replies:    " + (", ".join(f"{k} {v}" for k, v in sorted(report["replies"].items())) or "none"),
        "cards:      " + (", ".join(f"{k} {v}" for k, v in sorted(report["cards"].items())) or "none"),
        "X reading:  " + (f"PAUSED ({report['x_paused']} since {report['x_paused_since']})" if report["x_paused"]
                          else "not paused"),
    ]
    oldest = report["oldest_pending_seconds"]
    if oldest.get("cards") or oldest.get("replies"):
        lines.append(f"oldest waiting: card {_age(oldest.get('cards', 0))}, reply {_age(oldest.get('replies', 0))}")
    Row = dict[str, Any]
    sections: tuple[tuple[str, list[Row], str | None, Callable[[Row], str]], ...] = (
        ("parked or failed cards", report["parked_cards"], "cards",
         lambda r: f"  row {r['id']}  complaint #{r['complaint']}  chat {r['chat']}  {r['kind']}  {r['reason']}"),
        ("replies rejected or unknown", report["stuck_replies"], "replies",
         lambda r: f"  reply {r['id']}  complaint #{r['complaint']}  {r['state']}  {r['reason']}"),
        ("parked posts", report["parked_posts"], "posts",
         lambda r: f"  {r['id']}  @{r['author']}  {r['reason']}"),
        ("parked groups (the bot was removed)", report["parked_groups"], None,
         lambda r: f"  chat {r['chat']}  {r['agency']}  {r['reason']}"),
        ("unclaimed complaints, oldest first", report["unclaimed"], None,
         lambda r: f"  #{r['id']}  {r['agency']}  {r['status']}  waiting {_age(r['age_seconds'])}"),
    )
    for title, rows, retry, line in sections:
        hint = f" (retry with `kemala status retry {retry} [ID]`)" if rows and retry else ""
        lines.append(f"{title}: {len(rows)}{hint}")
        lines.extend(line(r) for r in rows[:20])
        if len(rows) > 20:
            lines.append(f"  … and {len(rows) - 20} more (--json lists up to 50)")
    return "\n".join(lines)


async def _status_report(settings: Settings) -> dict[str, Any]:
    from bot.cli_db import with_db
    from bot.models import utcnow
    from bot.queries import stuck_report

    return await with_db(settings, lambda s: stuck_report(s, utcnow()))


async def _retry_rows(settings: Settings, what: str, only: str | None) -> int:
    from bot import usecases as uc
    from bot.cli_db import with_db

    if only is not None and not only.isdigit():
        raise CommandError(f"a {what[:-1]} id is a number, got {only!r}")
    row = int(only) if only is not None else None
    if what == "cards":
        n = await with_db(settings, lambda s: uc.retry_cards(s, row))
        if n == 0:
            raise CommandError(f"card row {row} is not parked or failed" if row else "no parked or failed cards")
        print(f"{n} card row(s) queued again; the running bot sends them at its next sweep")
        return 0
    n = await with_db(settings, lambda s: uc.retry_unknown_replies(s, row))
    if n == 0:
        raise CommandError((f"reply {row} is not in state unknown" if row else "no replies in state unknown")
                           + "; a rejected reply is final: staff write a new one from the card")
    print(f"{n} reply(ies) due now; the bot checks the desk's own posts on X before posting any of them again")
    return 0


async def _retry_posts(settings: Settings, only: str | None) -> int:
    from bot import usecases as uc
    from bot.app import make_bridge, make_router
    from bot.db import StorageUnavailable, make_engine, make_sessionmaker
    from bot.twitter_bridge import XError

    if only is not None and not only.isdigit():
        raise CommandError(f"a post id is digits only, got {only!r}")
    bridge = make_bridge(settings)
    if bridge is None:
        raise CommandError("retrying parked posts reads them from X again: set the KEMALA_X_* credentials")
    engine = make_engine(settings.database_url)
    try:
        sessions = make_sessionmaker(engine)
        parked = await uc.parked_tweets(sessions, only=only)
        if not parked:
            raise CommandError(f"post {only} is not parked" if only else "no parked posts")
        ids = [t.x_id for t in parked]
        try:
            desk = await asyncio.to_thread(bridge.me)
            fetched = await asyncio.to_thread(bridge.lookup_tweets, ids)
        except XError as e:
            raise CommandError(f"X did not answer the lookup: {e}") from e
        policy = uc.IngestPolicy(reply_policy=settings.x_reply_policy, flood_per_hour=settings.flood_per_hour,
                                 hashtag=settings.hashtag)
        try:
            result = await uc.retry_parked(sessions, fetched, desk=desk, router=make_router(settings), policy=policy)
        except StorageUnavailable as e:
            raise CommandError(f"the database refused the retry, nothing changed for the rest: {e}") from e
        gone = sorted(set(ids) - {t.id for t in fetched})
        print(f"retried {len(fetched)} parked post(s): {result.stored} stored "
              f"({result.complaints} complaint(s), {result.followups} follow-up(s)), {result.parked} still parked"
              + (f"; not on X any more (left parked): {', '.join(gone)}" if gone else ""))
        return 0 if result.parked == 0 else 1
    finally:
        await engine.dispose()


def _wrap(fn: Callable[[Settings, argparse.Namespace], int]) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return fn(settings, args)
        except CommandError as e:
            print(f"kemala: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130

    return run


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    name: _wrap(fn) for name, fn in {
        "run": cmd_run, "demo": cmd_demo, "route": cmd_route, "x": cmd_x, "sandbox": cmd_sandbox,
        "status": cmd_status,
    }.items()
}
