"""Repeating work on the event loop's monotonic clock.

APScheduler (PTB's JobQueue) computes its next run from the wall clock, so a clock stepped back ten
minutes stalls every interval job for ten minutes. The sweeps and the X poll run here instead: each is
one asyncio task that sleeps on `loop.time()` and can be woken early (`kick`), one run at a time per
entry, a slow run followed at once by the next. Daily jobs stay on the JobQueue (a wall-clock hour is
what they mean).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    name: str
    run: Callable[[], Awaitable[object]]
    every: float
    first: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Loops:
    """The desk's repeating entries; `start` inside the running event loop, `stop` to finish them."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def add(self, name: str, run: Callable[[], Awaitable[object]], *, every: float, first: float = 0.0) -> None:
        if name in self._entries:
            raise ValueError(f"loop {name!r} is already registered")
        self._entries[name] = _Entry(name, run, float(every), float(first))

    def start(self) -> None:
        self._stopping = False
        for e in self._entries.values():
            if e.name not in self._tasks or self._tasks[e.name].done():
                self._tasks[e.name] = asyncio.create_task(self._loop(e), name=f"loop:{e.name}")

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stopping and all(not t.done() for t in self._tasks.values())

    def kick(self, *names: str) -> None:
        """Run these entries now instead of at their next tick (never waits for them)."""
        for name in names:
            entry = self._entries.get(name)
            if entry is not None:
                entry.wake.set()

    async def stop(self, grace: float = 30.0) -> None:
        """No new runs; the running ones finish (up to `grace` seconds, then they are cancelled)."""
        self._stopping = True
        for e in self._entries.values():
            e.wake.set()
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks.clear()

    async def _loop(self, e: _Entry) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + e.first
        while not self._stopping:
            wait = due - loop.time()
            if wait > 0 and not e.wake.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await e.wake.wait()
            if self._stopping:
                return
            e.wake.clear()
            started = loop.time()
            try:
                await e.run()
            except Exception:
                # One failed run must not end the loop: the next tick tries again.
                log.exception("%s failed; next run in %.0f s", e.name, e.every)
            due = started + e.every
