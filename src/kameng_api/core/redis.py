"""The process-wide Redis connection used as the arq queue (lazy, never blocks start-up)."""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings

from kameng_api.settings import Settings, get_settings

_queue: ArqRedis | None = None


def redis_settings(settings: Settings | None = None) -> RedisSettings:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError("redis_url is not configured (run through `kameng run`, or set it)")
    rs = RedisSettings.from_dsn(settings.redis_url)
    rs.conn_timeout = 2
    rs.conn_retries = 0
    return rs


def make_queue(settings: Settings | None = None) -> ArqRedis:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError("redis_url is not configured (run through `kameng run`, or set it)")
    return ArqRedis.from_url(  # type: ignore[no-any-return]
        settings.redis_url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=10
    )


def get_queue() -> ArqRedis:
    global _queue
    if _queue is None:
        _queue = make_queue()
    return _queue


async def close_queue() -> None:
    global _queue
    if _queue is not None:
        await _queue.aclose()
    _queue = None
