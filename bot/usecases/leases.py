"""Named leases in the database: one Telegram poller and one X poller across replicas."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import repository as repo
from bot.db import unit_of_work
from bot.models import Lease, utcnow

TG_POLLER = "telegram_poller"
X_POLLER = "x_poller"


async def try_acquire(sessions: async_sessionmaker[AsyncSession], name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; True while `holder` owns it. A holder that died loses it after `ttl`."""
    now = utcnow()
    async with unit_of_work(sessions) as s:
        await repo.insert_ignore(s, Lease.__table__, {"name": name, "holder": holder, "expires_at": now + ttl}, "name")
        lease = await s.get(Lease, name, with_for_update=True, populate_existing=True)
        assert lease is not None
        if lease.holder != holder and lease.expires_at > now and not _holder_is_dead_here(lease.holder):
            return False
        if lease.holder != holder:
            repo.add_event(s, complaint_id=None, actor=holder, action="lease_taken", lease=name,
                           previous=lease.holder)
        lease.holder, lease.expires_at = holder, now + ttl
        return True


def _holder_is_dead_here(holder: str) -> bool:
    """A holder on this host whose process is gone (a crash, kill -9) gives the lease up at once."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


async def release(sessions: async_sessionmaker[AsyncSession], name: str, holder: str) -> None:
    """Give the lease up at a clean stop so another replica takes over at once."""
    async with unit_of_work(sessions) as s:
        lease = await s.get(Lease, name, with_for_update=True)
        if lease is not None and lease.holder == holder:
            lease.expires_at = utcnow() - timedelta(seconds=1)
