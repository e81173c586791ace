"""The one clock. Tests may replace ``clock.now`` to move time."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


clock = Clock()
