"""Routes and the server's lifecycle. Thin like the handlers: reads go through `bot.queries`."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.metrics import CONTENT_TYPE
from bot.models import utcnow
from bot.queries import metrics_snapshot
from bot.services import Services

log = logging.getLogger(__name__)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebBindError(RuntimeError):
    """The web server cannot listen where it was told to (port taken, address not on this machine)."""


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


def build_web_app(svc: Services, *, telegram: Any = None) -> Starlette:
    """`telegram` is the PTB Application: /healthz asks it whether its jobs run; /telegram feeds it."""

    async def healthz(request: Request) -> Response:
        db_ok = svc.db_health.healthy and svc.db_health.last_ok is not None
        jobs_ok = telegram is not None and telegram.running and svc.loops.running \
            and telegram.job_queue is not None and telegram.job_queue.scheduler.running
        tg_ok = svc.telegram_role in ("polling", "standby", "webhook")
        if not svc.settings.has_x_credentials:
            x = "off"
        else:
            x = f"paused: {svc.x.reads_paused}" if svc.x.reads_paused else "on"
        body = {"status": "ok" if db_ok and jobs_ok and tg_ok else "unavailable",
                "database": "ok" if db_ok else (svc.db_health.last_error or "not checked yet"),
                "telegram": svc.telegram_role, "jobs": "running" if jobs_ok else "stopped", "x": x,
                "instance": svc.instance}
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    async def metrics(request: Request) -> Response:
        token = svc.settings.metrics_token.get()
        if _peer(request) not in LOOPBACK:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not token or not hmac.compare_digest(given.encode(), token.encode()):
                return Response("metrics are served on loopback, or with KEMALA_METRICS_TOKEN as a bearer token\n",
                                status_code=403, media_type="text/plain")
        snapshot = await metrics_snapshot(svc.sessions, utcnow())
        snapshot["x_paused"] = bool(svc.x.reads_paused)
        return Response(svc.metrics.render(snapshot), media_type=CONTENT_TYPE)

    async def telegram_update(request: Request) -> Response:
        expected = svc.settings.webhook_secret.get()
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            svc.webhook_refusals.refused(_peer(request))
            svc.metrics.webhook_refused.inc()
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, telegram.bot)
        except (ValueError, TypeError, KeyError) as e:
            log.warning("webhook: an update that is not one (%s) from %s", type(e).__name__, _peer(request))
            return Response(status_code=400)
        await telegram.update_queue.put(update)
        return Response(status_code=200)

    routes = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if svc.settings.webhook_url and telegram is not None:
        routes.append(Route("/telegram", telegram_update, methods=["POST"]))
    app = Starlette(routes=routes)
    app.state.svc = svc
    return app


class _QuietServer(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM handling: the bot's stop sequence owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """uvicorn in this event loop, on a socket we bind first so a taken port is one clear error."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: _QuietServer | None = None
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Bind and serve; returns the port (the chosen one when 0 was asked for)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise WebBindError(f"cannot listen on {self.host}:{self.port}: {e.strerror or e} "
                               "(set KEMALA_WEB_LISTEN / KEMALA_WEB_PORT)") from None
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False,
                                log_config=None)
        self._server = _QuietServer(config)
        self._sock = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web-server")
        # uvicorn says it is up only through this flag
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()
        return self.port

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
