"""Start the local PostgreSQL if installed but down, and create/drop a throw-away test database."""

from __future__ import annotations

import asyncio
import glob
import os
import subprocess
import sys
import uuid

import asyncpg  # type: ignore[import-untyped]

HOST = os.environ.get("KEMALA_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("KEMALA_PG_PORT", "5432"))
USER = os.environ.get("KEMALA_PG_USER", "postgres")


async def _connect(db: str = "postgres") -> asyncpg.Connection:
    return await asyncpg.connect(host=HOST, port=PORT, user=USER, database=db, timeout=5)


def _try_start() -> None:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        return
    print(f"starting PostgreSQL {versions[-1]}...", file=sys.stderr)
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                   check=False, capture_output=True)


async def _reachable() -> bool:
    try:
        conn = await _connect()
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def create() -> str:
    if not await _reachable():
        _try_start()
        for _ in range(30):
            if await _reachable():
                break
            await asyncio.sleep(1)
        else:
            raise SystemExit(1)
    name = f"kemala_test_{uuid.uuid4().hex[:10]}"
    conn = await _connect()
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql://{USER}@{HOST}:{PORT}/{name}"


async def drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await _connect()
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "create":
        print(asyncio.run(create()))
    else:
        asyncio.run(drop(sys.argv[2]))
