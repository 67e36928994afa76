"""The `kemala` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bot.cli_db import SchemaMissing, require_schema, with_db
from bot.config import EXIT_CONFIG, ConfigError, Settings, check_group_chat_id, load_settings

T = TypeVar("T")


class CliError(Exception):
    """A one-line error for the user; exit status 2."""


def _fail(msg: str, code: int = 2) -> int:
    print(f"kemala: error: {msg}", file=sys.stderr)
    return code


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import upgrade
    from bot.directory import sync_directory

    upgrade(settings.database_url)
    counts = asyncio.run(with_db(settings, lambda s: sync_directory(s, update_existing=False)))
    agencies = counts.added - counts.destinations_added
    print(f"database is at the latest schema; {agencies} agencies added to the directory"
          + (f" (and {counts.destinations_added} destinations: regency/city governments and vertical bodies)"
             if counts.destinations_added else ""))
    return 0


def cmd_agencies(settings: Settings, args: argparse.Namespace) -> int:
    from bot import directory as d

    require_schema(settings)
    sub = args.agencies_cmd
    if sub == "list":
        rows = asyncio.run(with_db(settings, lambda s: d.list_agencies(s)))
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            for r in rows:
                flag = "" if r["active"] else f"  [retired → {r['retired_into'] or '-'}]"
                if r["kind"] in ("kabkota", "vertikal"):
                    flag += "  [destination only]"
                chat = f"  chat {r['chat_id']}" if r["chat_id"] else ""
                print(f"{r['code']:<22} {r['short_name']}{chat}{flag}")
        return 0
    if sub == "sync":
        path = Path(args.file) if args.file else None
        added, updated, _ = asyncio.run(with_db(settings, lambda s: d.sync_directory(s, path=path)))
        print(f"directory synced: {added} added, {updated} updated")
        return 0
    if sub == "add":
        asyncio.run(with_db(settings, lambda s: d.add_agency(
            s, code=args.code, name=args.name, short_name=args.short_name or args.name, kind=args.kind,
            x_handle=args.x_handle)))
        print(f"added {args.code}")
        return 0
    if sub == "rename":
        asyncio.run(with_db(settings, lambda s: d.rename_agency(s, code=args.code, name=args.name,
                                                                 short_name=args.short_name)))
        print(f"renamed {args.code}")
        return 0
    if sub == "set":
        asyncio.run(with_db(settings, lambda s: d.set_agency(s, code=args.code, field=args.field, value=args.value)))
        print(f"{args.code}: {args.field} = {args.value}")
        return 0
    if sub == "retire":
        moved = asyncio.run(with_db(settings, lambda s: d.retire_agency(s, code=args.code, move_to=args.move_to)))
        print(f"retired {args.code}; {moved} open complaint(s) moved" + (f" to {args.move_to}" if args.move_to else ""))
        return 0
    if sub == "bind":
        asyncio.run(with_db(settings, lambda s: d.bind_chat(s, code=args.code, chat_id=args.chat_id)))
        print(f"bound {args.code} to chat {args.chat_id}")
        return 0
    if sub == "unbind":
        from bot.usecases.binding import unbind_chat

        chat_id, parked = asyncio.run(with_db(settings, lambda s: unbind_chat(s, code=args.code)))
        print(f"unbound {args.code} from chat {chat_id}; {parked} card(s) wait until a group is bound again")
        return 0
    raise CliError(f"unknown agencies command {sub!r}")


def cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    print(json.dumps(settings.dump(), indent=2, ensure_ascii=False))
    return 0


def _chat_id(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"chat id must be an integer like -1001234567890, got {raw!r}") from None
    try:
        return check_group_chat_id(value, "chat id")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_db_backup(settings: Settings, args: argparse.Namespace) -> int:
    """SQLite: an online copy (the bot may keep running). PostgreSQL: pg_dump is the tool; we say how."""
    import sqlite3

    from bot.cli_db import sqlite_path

    path = sqlite_path(settings.database_url)
    if path is None:
        raise CliError("for PostgreSQL use pg_dump (see docs/operations.md): "
                       "pg_dump --format=custom --file=kemala.dump \"$DATABASE_URL\"")
    require_schema(settings)
    target = Path(args.file)
    if target.exists():
        raise CliError(f"{target} exists: give a new file name (a backup never overwrites)")
    if not target.parent.is_dir():
        raise CliError(f"no such folder: {target.parent}")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # SQLite's online backup API: a consistent copy while writers go on
        finally:
            dst.close()
    finally:
        src.close()
    print(f"backed up {path} to {target} ({target.stat().st_size} bytes)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kemala", description="Kemala desk: #KemalaJateng tweets → agency Telegram groups."
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (long polling, or webhook when KEMALA_WEBHOOK_URL is set)")
    run.add_argument("--no-x", action="store_true",
                     help="a Telegram-only trial: no X credentials needed, no posts read, no replies posted")
    demo = sub.add_parser("demo", help="run the whole desk locally against the X and Telegram sandboxes")
    demo.add_argument("--tweets", type=int, default=20, help="how many citizen tweets to feed (default 20)")
    demo.add_argument("--json", action="store_true", help="print one JSON object with the counts")

    db = sub.add_parser("db", help="database schema")
    dbs = db.add_subparsers(dest="db_cmd", required=True, metavar="COMMAND")
    dbs.add_parser("upgrade", help="run migrations to the latest schema and seed the agency directory")
    bk = dbs.add_parser("backup", help="copy a SQLite database while the bot runs (PostgreSQL: pg_dump)")
    bk.add_argument("file", help="the new backup file")

    ag = sub.add_parser("agencies", help="the agency directory")
    ags = ag.add_subparsers(dest="agencies_cmd", required=True, metavar="COMMAND")
    lst = ags.add_parser("list", help="list agencies")
    lst.add_argument("--json", action="store_true")
    syn = ags.add_parser("sync", help="apply the packaged (or given) directory CSV")
    syn.add_argument("--file", help="a CSV with code,kind,name,short_name,x_handle")
    add = ags.add_parser("add", help="add an agency")
    add.add_argument("code")
    add.add_argument("name")
    add.add_argument("--short-name")
    add.add_argument("--kind", default="dinas")
    add.add_argument("--x-handle")
    ren = ags.add_parser("rename", help="rename an agency (its code stays)")
    ren.add_argument("code")
    ren.add_argument("name")
    ren.add_argument("--short-name")
    st = ags.add_parser("set", help="set a field: x_handle, kind, requires_approval, short_name, name, active")
    st.add_argument("code")
    st.add_argument("field")
    st.add_argument("value")
    ret = ags.add_parser("retire", help="retire an agency, keeping its history")
    ret.add_argument("code")
    ret.add_argument("--move-to", help="move its open complaints to this agency (a merger)")
    bnd = ags.add_parser("bind", help="bind a Telegram group (negative chat id) to an agency")
    bnd.add_argument("code")
    bnd.add_argument("chat_id", type=_chat_id)
    unb = ags.add_parser("unbind", help="take an agency's group away; its cards wait until a group is bound again")
    unb.add_argument("code")

    rt = sub.add_parser(
        "route", help="route a text; or: route eval | import | train (each has --help)",
        description="Route one text as the desk would. Subcommands: `kemala route eval FILE.csv`, "
                    "`kemala route import FILE.csv`, `kemala route train` (each with its own --help).")
    rt.add_argument("args", nargs="+", metavar="TEXT")
    rt.add_argument("--json", action="store_true")
    rt.add_argument("--location", help="author profile location")

    x = sub.add_parser("x", help="X API usage")
    xs = x.add_subparsers(dest="x_cmd", required=True, metavar="COMMAND")
    us = xs.add_parser("usage", help="this month's X API usage and estimated cost")
    us.add_argument("--json", action="store_true")
    us.add_argument("--month", help="YYYY-MM (default: this month)")

    stt = sub.add_parser("status", help="what is waiting: complaints, replies, cards and parked posts")
    stt.add_argument("--json", action="store_true")
    stts = stt.add_subparsers(dest="status_cmd", metavar="COMMAND")
    rtr = stts.add_parser("retry", help="retry what was parked")
    rtrs = rtr.add_subparsers(dest="retry_what", required=True, metavar="WHAT")
    rp = rtrs.add_parser("posts", help="read parked posts from X again and ingest them (all, or one ID)")
    rp.add_argument("id", nargs="?", help="one parked post id (default: all)")
    rc = rtrs.add_parser("cards", help="send parked or failed cards again (all, or one outbox row ID)")
    rc.add_argument("id", nargs="?", help="one card outbox row (default: all)")
    rr = rtrs.add_parser("replies", help="make replies in state unknown due now; the bot reconciles with X "
                                         "before any post (all, or one reply ID)")
    rr.add_argument("id", nargs="?", help="one reply id (default: all)")

    sb = sub.add_parser("sandbox", help="local emulators for tests, the demo and staff training")
    sbs = sb.add_subparsers(dest="sandbox_cmd", required=True, metavar="COMMAND")
    sx = sbs.add_parser("x", help="serve the X API v2 sandbox on 127.0.0.1")
    sx.add_argument("--port", type=int, default=8081)
    sx.add_argument("--lag", type=float, default=30.0, help="search visibility lag in seconds (default 30)")
    stg = sbs.add_parser("telegram", help="serve the Telegram Bot API sandbox on 127.0.0.1")
    stg.add_argument("--port", type=int, default=8082)
    stg.add_argument("--token", default="123456:TEST-TOKEN")

    sub.add_parser("config", help="print the effective configuration (secrets hidden)")
    return p


ROUTE_SUBCOMMANDS = ("eval", "import", "train")


def build_route_parser(which: str) -> argparse.ArgumentParser:
    """`kemala route eval|import|train`: their own parsers, so each has its own --help."""
    if which == "eval":
        p = argparse.ArgumentParser(
            prog="kemala route eval",
            description="Score the router on labelled complaints: a CSV with columns text, agency and "
                        "optionally location (the author's profile location). `agency` may list several "
                        "acceptable owners separated by '|'; codes are provincial agencies, kab-<name>/"
                        "kota-<name>, vertical bodies (pln, bpjs-kesehatan, polri, ...) or triase.")
        p.add_argument("file", metavar="FILE.csv")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--predictions", metavar="OUT.csv",
                       help="write one row per input: text, label, predicted, confidence, top-3, "
                            "jurisdiction, reasons")
    elif which == "import":
        p = argparse.ArgumentParser(
            prog="kemala route import",
            description="Import labelled history (CSV: text, agency, optional location) as confirmed labels, "
                        "then retrain the router and store the model (a running desk swaps it in at its next "
                        "retrain; `kemala route eval` uses it at once). Importing the same rows again stores "
                        "nothing new. Unknown codes or empty texts refuse the whole file, naming the lines.")
        p.add_argument("file", metavar="FILE.csv")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    else:
        p = argparse.ArgumentParser(
            prog="kemala route train",
            description="Retrain the router on the packaged set plus every confirmed and imported label, "
                        "and store the model in the database.")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(cmd="route", route_cmd=which)
    return p


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    words = list(sys.argv[1:] if argv is None else argv)
    if len(words) >= 2 and words[0] == "route" and words[1] in ROUTE_SUBCOMMANDS:
        return build_route_parser(words[1]).parse_args(words[2:])
    args = build_parser().parse_args(words)
    if args.cmd == "route":
        args.route_cmd = None
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        # The demo and the sandboxes bring their own settings: a broken .env must not stop them.
        settings = Settings() if args.cmd in ("demo", "sandbox") else load_settings()
        for warning in settings.warnings:
            print(f"kemala: warning: {warning}", file=sys.stderr)
        from bot.logsafe import install_excepthooks

        install_excepthooks(settings.secrets())
        handler: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
            "db": cmd_db_backup if getattr(args, "db_cmd", None) == "backup" else cmd_db_upgrade,
            "agencies": cmd_agencies,
            "config": cmd_config,
        }
        extra = _extra_commands()
        handler.update(extra)
        return handler[args.cmd](settings, args)
    except ConfigError as e:
        return _fail(str(e), EXIT_CONFIG)
    except (CliError, SchemaMissing) as e:
        return _fail(str(e))
    except Exception as e:  # one line for the known failure families, a traceback for bugs
        from bot.directory import DirectoryError

        if isinstance(e, DirectoryError):
            return _fail(str(e))
        if _is_db_unreachable(e):
            return _fail(f"cannot reach the database: {_short(e)}")
        raise


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


def _is_db_unreachable(e: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(e, OperationalError | DBAPIError | OSError | ConnectionError)


def _extra_commands() -> dict[str, Callable[[Settings, argparse.Namespace], int]]:
    """Commands whose modules are heavier (telegram, tweepy): imported only when asked for."""
    from bot import commands

    return commands.COMMANDS

