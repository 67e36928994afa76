"""Database leases: one poller per role across replicas; a dead holder loses the lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.models import Event
from bot.usecases import leases


async def test_one_holder_at_a_time_then_takeover_and_release(sessions) -> None:  # type: ignore[no-untyped-def]
    ttl = timedelta(seconds=30)
    assert await leases.try_acquire(sessions, leases.TG_POLLER, "a", ttl)
    assert not await leases.try_acquire(sessions, leases.TG_POLLER, "b", ttl)
    assert await leases.try_acquire(sessions, leases.TG_POLLER, "a", ttl)  # renewal
    assert await leases.try_acquire(sessions, leases.X_POLLER, "b", ttl)  # another role is independent
    await leases.release(sessions, leases.TG_POLLER, "b")  # not the holder: no effect
    assert not await leases.try_acquire(sessions, leases.TG_POLLER, "b", ttl)
    await leases.release(sessions, leases.TG_POLLER, "a")
    assert await leases.try_acquire(sessions, leases.TG_POLLER, "b", ttl)
    # A holder that stops renewing (a killed process) loses the lease when it expires.
    assert await leases.try_acquire(sessions, leases.X_POLLER, "b", timedelta(milliseconds=50))
    await asyncio.sleep(0.1)
    assert await leases.try_acquire(sessions, leases.X_POLLER, "c", ttl)
    async with sessions() as s:
        from sqlalchemy import func, select

        taken = await s.scalar(select(func.count()).where(Event.action == "lease_taken"))
    assert taken == 2


async def test_concurrent_acquire_has_one_winner(sessions) -> None:  # type: ignore[no-untyped-def]
    results = await asyncio.gather(*(leases.try_acquire(sessions, "race", f"h{i}", timedelta(seconds=30))
                                     for i in range(6)))
    assert sum(results) == 1


async def test_a_killed_holder_on_this_host_loses_the_lease_at_once(sessions) -> None:  # type: ignore[no-untyped-def]
    import socket
    import sys

    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()  # its pid now names a process that no longer exists
    dead = f"{socket.gethostname()}:{child.pid}:abc123"
    alive_elsewhere = "some-other-host:1:abc123"
    ttl = timedelta(seconds=300)
    assert await leases.try_acquire(sessions, "x", dead, ttl)
    assert await leases.try_acquire(sessions, "x", "restarted", ttl)  # no 5-minute wait for a dead pid
    assert await leases.try_acquire(sessions, "y", alive_elsewhere, ttl)
    assert not await leases.try_acquire(sessions, "y", "restarted", ttl)  # another host: wait for expiry
