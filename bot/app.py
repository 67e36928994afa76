"""Composition root: settings → engine, router, X bridge, Telegram application, handlers and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from datetime import timedelta
from typing import Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, unit_of_work
from bot.directory import DirectoryError, bind_chat_in
from bot.domain.agencies import TRIAGE_CODE
from bot.handlers import buttons, chat_events, commands, gate, replies
from bot.handlers.context import BotData, KemalaContext
from bot.health import first_line
from bot.i18n import Lang, t
from bot.jobs import JOBS, Job
from bot.jobs.x_intake import CURSOR_X_PAUSED
from bot.loops import Loops
from bot.queries import groups_bound
from bot.routing import RouterPort
from bot.services import Services
from bot.twitter_bridge import XBridge
from bot.usecases import advance_cursor as uc_advance_cursor
from bot.usecases import leases
from bot.usecases.retraining import latest_model
from bot.web.server import WebServer, build_web_app

log = logging.getLogger(__name__)
TWEEPY_HOSTS = ("https://api.x.com", "https://api.twitter.com")


def make_bridge(settings: Settings) -> XBridge | None:
    if not settings.has_x_credentials:
        return None
    # tweepy signs OAuth 1.0a for api.twitter.com: against the real service we leave its host alone.
    api_url = "https://api.twitter.com" if settings.x_api_url in TWEEPY_HOSTS else settings.x_api_url
    return XBridge(api_url=api_url, bearer_token=settings.x_bearer_token.get(),
                   consumer_key=settings.x_consumer_key.get(), consumer_secret=settings.x_consumer_secret.get(),
                   access_token=settings.x_access_token.get(), access_token_secret=settings.x_access_token_secret.get(),
                   timeout=settings.x_timeout_seconds)


def make_router(settings: Settings) -> RouterPort:
    import copy

    from bot.routing import Router

    # Router.default() is cached and shared; this process's threshold goes on a shallow copy.
    router = copy.copy(Router.default())
    router.threshold = settings.routing_threshold
    return router


def make_services(settings: Settings, *, router: RouterPort | None = None, bridge: XBridge | None = None) -> Services:
    engine = make_engine(settings.database_url)
    svc = Services(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                   router=router if router is not None else make_router(settings),
                   bridge=bridge if bridge is not None else make_bridge(settings),
                   lang=Lang(settings.language))
    # Failed API calls, counted where they are seen: the X adapter's one call path, the Telegram gateway.
    metrics = svc.metrics
    if svc.bridge is not None:
        svc.bridge.on_error = lambda status: metrics.api_error("x", status)
    svc.pacer.on_error = lambda code: metrics.api_error("telegram", code)
    return svc


def register(app: Application[Any, KemalaContext, Any, Any, BotData, Any]) -> None:
    """Handlers in order: the gate (group -1), service messages, commands, buttons, reply texts. Order matters."""
    app.add_handler(TypeHandler(Update, gate.on_update), group=-1)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat_events.on_migrate))
    app.add_handler(ChatMemberHandler(chat_events.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(CommandHandler("start", commands.on_start))
    app.add_handler(CommandHandler(["bantuan", "help"], commands.on_start))
    app.add_handler(CommandHandler(["antrian", "antrean", "queue"], commands.on_queue))
    app.add_handler(CommandHandler("status", commands.on_status))
    app.add_handler(CommandHandler(["cari", "find"], commands.on_search))
    app.add_handler(CommandHandler(["hubungkan", "link"], commands.on_link))
    app.add_handler(CommandHandler("bind", commands.on_bind))
    app.add_handler(CommandHandler(["daftar", "register"], commands.on_daftar))
    app.add_handler(CommandHandler(["lepas", "unlink"], commands.on_unbind))
    app.add_handler(CallbackQueryHandler(buttons.on_button))
    app.add_handler(MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, replies.on_reply_text))
    app.add_error_handler(chat_events.on_error)


def build_application(svc: Services) -> Application[Any, KemalaContext, Any, Any, BotData, Any]:
    settings = svc.settings
    base = settings.telegram_api_url.rstrip("/")
    context_types = ContextTypes(context=KemalaContext, bot_data=BotData)
    app = (
        ApplicationBuilder()
        .token(settings.telegram_token.get())
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .context_types(context_types)
        .connect_timeout(10).read_timeout(15).write_timeout(15).pool_timeout(10)
        .get_updates_read_timeout(40)
        .build()
    )
    app.bot_data.svc = svc
    register(app)
    jq = app.job_queue
    assert jq is not None, "python-telegram-bot[job-queue] is required"
    # Interval entries run on monotonic time (bot/loops.py): a wall clock stepped back stalls none of
    # them. Daily entries stay on the JobQueue: "at 02:00" is a wall-clock hour.
    svc.loops = Loops()
    for job in JOBS:
        if job.daily_at is not None:
            jq.run_daily(_run_daily, time=job.daily_at.replace(tzinfo=settings.tz), name=job.name, data=job)
        elif job.every is not None:
            svc.loops.add(job.name, functools.partial(_run_job, svc, app.bot, job), every=job.every(settings),
                          first=job.first)
    return app


async def _run_job(svc: Services, bot: Any, job: Job) -> None:
    """Every scheduled entry runs inside `svc.job()`, so a clean stop waits for it."""
    started = time.monotonic()
    try:
        async with svc.job():
            await job.run(svc, bot)
    finally:
        svc.metrics.job_seconds.labels(job.name).observe(time.monotonic() - started)


async def _run_daily(context: KemalaContext) -> None:
    job = context.job
    assert job is not None and isinstance(job.data, Job)
    await _run_job(context.svc, context.bot, job.data)


FINISH_JOBS_S = 30.0


async def _finish_jobs(app: Application[Any, KemalaContext, Any, Any, BotData, Any]) -> None:
    """Stop scheduling new runs and let the running ones finish (SIGTERM means finish, not abandon)."""
    svc = app.bot_data.svc
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.scheduler.pause()
    await svc.loops.stop(grace=FINISH_JOBS_S)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FINISH_JOBS_S):
            while svc.in_flight:  # noqa: ASYNC110 - a counter, not an event: jobs come and go
                await asyncio.sleep(0.05)


async def use_learned_model(svc: Services) -> None:
    model = await latest_model(svc.sessions)
    if model is not None:
        svc.router = svc.router.with_model(model)


async def _post_init(app: Application[Any, KemalaContext, Any, Any, BotData, Any]) -> None:
    svc = app.bot_data.svc
    me = await app.bot.get_me()
    svc.bot_username = me.username or svc.bot_username
    await uc_advance_cursor(svc.sessions, CURSOR_X_PAUSED, None)  # a start reads X again until X says otherwise
    if svc.settings.triage_chat_id is not None:
        await bind_triage(svc, svc.settings.triage_chat_id)
    commands = [BotCommand(c, t(f"cmd.{c}", svc.lang)) for c in ("start", "bantuan", "antrian", "cari",
                                                                     "daftar", "hubungkan", "bind")]
    try:  # best effort: a failure here must never stop the desk
        await app.bot.set_my_commands(commands)
    except TelegramError as e:
        log.warning("setMyCommands failed: %s", e)


async def bind_triage(svc: Services, chat_id: int) -> None:
    """KEMALA_TRIAGE_CHAT_ID binds the triage desk (kept when already bound to that chat)."""
    try:
        async with unit_of_work(svc.sessions) as s:
            from bot import repository as repo

            triage = await repo.triage_agency(s)
            current = await repo.chat_of_agency(s, triage.id)
            # Configuration is the only authority on the triage group: an agency binding that holds the
            # configured chat (made with a code before triage was configuration-only) gives it back.
            holder = await repo.agency_of_chat(s, chat_id)
            if holder is not None and holder.id != triage.id:
                log.warning("KEMALA_TRIAGE_CHAT_ID %s was bound to agency %s: unbinding it", chat_id, holder.code)
                taken = await repo.chat_of_agency(s, holder.id)
                if taken is not None:
                    await s.delete(taken)
                    await s.flush()
            if current is None or current.chat_id != chat_id or current.bound_by is not None:
                await bind_chat_in(s, code=TRIAGE_CODE, chat_id=chat_id, title="triase", actor="config", user_id=None)
    except DirectoryError as e:
        log.error("KEMALA_TRIAGE_CHAT_ID %s cannot be bound: %s", chat_id, e)


async def _post_shutdown(app: Application[Any, KemalaContext, Any, Any, BotData, Any]) -> None:
    await app.bot_data.svc.engine.dispose()


def startup_line(settings: Settings, *, bot_username: str, x_account: str | None, groups: tuple[int, int],
                 web: str = "") -> str:
    """One line that says what is on: an operator reads it first, and it names no secret."""
    from bot.cli_db import sqlite_path

    path = sqlite_path(settings.database_url)
    database = f"SQLite {path}" if path is not None else "PostgreSQL " + settings.dump()["database_url"].split("@")[-1]
    if settings.has_x_credentials:
        x = (f"X intake on as {x_account or '(account not checked)'}: search {settings.hashtag} and mentions every "
             f"{settings.poll_seconds:g} s; replies {settings.x_reply_policy}")
    else:
        x = "X off (--no-x: nothing read, nothing posted)"
    mode = "webhook" if settings.webhook_url else "long polling"
    return (f"Kemala desk starting: Telegram @{bot_username} ({mode}); {database}; {x}; triage chat "
            f"{settings.triage_chat_id}; {groups[0]} of {groups[1]} agencies have a group; photos {settings.photos}; "
            f"language {settings.language}" + (f"; web {web}" if web else ""))


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None, svc: Services | None = None,
                  x_account: str | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`): long polling, or a webhook when KEMALA_WEBHOOK_URL is set.

    Several replicas may run against one PostgreSQL database: all of them sweep the outboxes (rows are
    taken with FOR UPDATE SKIP LOCKED), one at a time polls Telegram and one polls X (database leases).
    """
    svc = svc or make_services(settings)
    app = build_application(svc)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    await use_learned_model(svc)
    web = WebServer(build_web_app(svc, telegram=app), settings.web_listen, settings.web_port)
    svc.web_port = await web.start()  # a taken port stops the start here, before anything else runs
    watchdog = asyncio.create_task(_watch_database(svc, stop), name="db-watchdog")
    try:
        await _run_app(svc, app, stop, x_account=x_account, web=f"http://{settings.web_listen}:{svc.web_port}")
    finally:
        await web.stop()
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
    await _post_shutdown(app)
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(sig)
    if svc.fatal:
        raise DatabaseUnavailable(svc.fatal)


async def _run_app(svc: Services, app: Application[Any, KemalaContext, Any, Any, BotData, Any], stop: asyncio.Event,
                   *, x_account: str | None, web: str) -> None:
    settings = svc.settings
    async with app:
        # post_init/post_shutdown hooks only run under run_polling(); we drive the lifecycle ourselves.
        await _post_init(app)
        log.info("%s", startup_line(settings, bot_username=svc.bot_username, x_account=x_account,
                                    groups=await groups_bound(svc.sessions), web=web))
        await app.start()
        svc.loops.start()
        try:
            updater = app.updater
            assert updater is not None
            if settings.webhook_url:
                # Updates arrive at our web server's /telegram (bot/web/server.py checks the secret token).
                await app.bot.set_webhook(url=f"{settings.webhook_url.rstrip('/')}/telegram",
                                          secret_token=settings.webhook_secret.get() or None,
                                          allowed_updates=ALLOWED_UPDATES)
                svc.telegram_role = "webhook"
                log.info("Kemala desk running as @%s (webhook)", svc.bot_username)
                await stop.wait()
            else:
                await _poll_while_leader(svc, updater, stop)
            log.info("stopping: finishing in-flight work")
            if updater.running:
                await updater.stop()
            await _finish_jobs(app)
            await app.stop()
            try:
                await leases.release(svc.sessions, leases.TG_POLLER, svc.instance)
                await leases.release(svc.sessions, leases.X_POLLER, svc.instance)
            except Exception as e:  # a lease left behind expires on its own (LEASE_TTL)
                log.warning("could not release leases: %s", first_line(e))
        finally:
            # After a clean stop the loops have already finished; after a crash or a kill they end here,
            # with the application, instead of sweeping on without it.
            await svc.loops.stop(grace=0)


class DatabaseUnavailable(RuntimeError):
    """The database failed every call for KEMALA_DB_FAILURE_EXIT_SECONDS: exit so a supervisor restarts us."""


async def _watch_database(svc: Services, stop: asyncio.Event) -> None:
    """Probe the database; when it has failed for the configured time, say so in one line and stop.

    A process whose every database call fails answers no press and polls nothing; staying up would hide
    that from the supervisor (systemd, Docker, Kubernetes) that could restart it or page someone.
    """
    limit = svc.settings.db_failure_exit_seconds
    every = min(5.0, max(0.25, limit / 4))
    health = svc.db_health
    while not stop.is_set():
        await health.probe(svc.sessions, limit_s=max(1.0, min(15.0, limit)))
        if not health.healthy and health.failing_for() >= limit:
            svc.fatal = (f"database unavailable for {health.failing_for():.0f} s "
                         f"(KEMALA_DB_FAILURE_EXIT_SECONDS={limit:g}): {health.last_error}; exiting")
            log.error("%s", svc.fatal)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER, Update.CHAT_MEMBER]
LEASE_TTL = timedelta(seconds=20)


async def _poll_while_leader(svc: Services, updater: Any, stop: asyncio.Event) -> None:
    """Poll getUpdates only while this process holds the Telegram lease; renew it until stopped."""
    while not stop.is_set():
        try:
            leader = await leases.try_acquire(svc.sessions, leases.TG_POLLER, svc.instance, LEASE_TTL)
        except Exception as e:  # the database is away: keep the current role and try again
            log.warning("Telegram lease check failed: %s", e)
            leader = updater.running
        if leader and not updater.running:
            await updater.start_polling(poll_interval=0.0, timeout=25, allowed_updates=ALLOWED_UPDATES)
            log.info("Kemala desk polling Telegram as @%s (instance %s)", svc.bot_username, svc.instance)
        elif not leader and updater.running:
            log.warning("another instance holds the Telegram lease: stopping getUpdates here")
            await updater.stop()
        svc.telegram_role = "polling" if updater.running else "standby"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LEASE_TTL.total_seconds() / 4)
