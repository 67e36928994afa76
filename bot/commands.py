"""CLI commands that need the heavier modules (telegram, tweepy, the router)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings


class CommandError(Exception):
    """A one-line error for the user."""


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run_bot
    from bot.cli import _ensure_schema
    from bot.logsafe import configure_logging

    configure_logging(settings.log_level, settings.secrets())
    if not settings.telegram_token:
        raise CommandError("KEMALA_TELEGRAM_TOKEN is not set (try `kemala demo` for a local run without credentials)")
    _ensure_schema(settings)
    asyncio.run(run_bot(settings))
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import main as demo_main

    if args.tweets < 1 or args.tweets > 500:
        raise CommandError("--tweets must be between 1 and 500")
    return demo_main(args.tweets, args.json)


def _router(settings: Settings) -> Any:
    from bot.app import make_router

    return make_router(settings)


def cmd_route(settings: Settings, args: argparse.Namespace) -> int:
    words: list[str] = list(args.args)
    if words[0] == "eval" and len(words) == 2:
        return _route_eval(settings, Path(words[1]), args.json)
    if words[0] == "train" and len(words) == 1:
        return _route_train(settings, args.json)
    text = " ".join(words)
    decision = _router(settings).route(text, author_location=args.location)
    if args.json:
        print(json.dumps(decision.to_json(), ensure_ascii=False, indent=2))
    else:
        print(f"agency: {decision.agency or 'triase'}  (confidence {decision.confidence:.0%})")
        print("alternatives: " + ", ".join(f"{c} {s:.0%}" for c, s in decision.alternatives))
        if decision.place is not None:
            print(f"place: {decision.place.label}")
        for reason in decision.reasons:
            print(f"- {reason}")
    return 0


def _route_eval(settings: Settings, path: Path, as_json: bool) -> int:
    from bot.routing_eval import evaluate, load_csv

    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        rows = load_csv(path)
    except ValueError as e:
        raise CommandError(str(e)) from None
    known = set(_router(settings).agencies) | {"triase"}
    unknown = sorted({a for _, a in rows if a not in known})
    if unknown:
        raise CommandError(f"{path.name}: unknown agency code(s): {', '.join(unknown[:10])}")
    report = evaluate(_router(settings), rows)
    print(json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json else report.render())
    return 0


def _route_train(settings: Settings, as_json: bool) -> int:
    from bot.cli import _ensure_schema
    from bot.routing_jobs import retrain_and_save

    _ensure_schema(settings)
    info = asyncio.run(retrain_and_save(settings))
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        print(f"router retrained on the packaged set plus {info['labels']} confirmed label(s); "
              f"stored in the {info['path']}")
    return 0


def cmd_x(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _ensure_schema, _with_db
    from bot.jobs import usage_report

    _ensure_schema(settings)
    month = args.month or datetime.now(UTC).strftime("%Y-%m")
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        raise CommandError(f"--month expects YYYY-MM, got {month!r}")
    report = asyncio.run(_with_db(settings, lambda s: usage_report(s, settings, month)))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"X API usage in {month}:")
        for key in ("posts_read", "owned_reads", "posts_created", "posts_with_url", "requests"):
            print(f"  {key:<15} {report[key]}")
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
    }.items()
}
