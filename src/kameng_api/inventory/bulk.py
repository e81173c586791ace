"""What the check and the import share to keep PostgreSQL fed: the chunk size of the plan and
of the binary COPY, the asyncpg connection under a session (for COPY and big arrays) and the
short GIL switch interval while worker threads compute (process-wide state: owned here only).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

COPY_CHUNK = 50_000  # rows per binary COPY chunk; the check's plan is sorted per chunk too


_switch_lock = threading.Lock()
_switch_users = 0
_switch_old = 0.0


@contextmanager
def short_switch_interval() -> Iterator[None]:
    """While a worker thread computes, the event loop must get the GIL back quickly to keep
    PostgreSQL fed (measured: a 0.5 ms interval took 1 M keys from ~12 s to ~9.6 s). The
    interval is process-wide: reference-counted so overlapping imports restore it once."""
    global _switch_users, _switch_old
    with _switch_lock:
        if _switch_users == 0:
            _switch_old = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_old)


async def raw_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session (same transaction), for COPY and big arrays."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection
