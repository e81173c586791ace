"""What ``kameng run`` keeps alive: the embedded PostgreSQL and Redis, the API and the worker.

Each is a :class:`Supervised` thing with a way to tell it is alive and a way to start it. The
supervisor looks every 0.2 s; a thing found dead is started again after a backoff (1 s,
doubling to 30 s; back to 1 s once it has run for a minute), with one log line per event.
A thing that dies within ``QUICK_S`` of its start ``MAX_QUICK_FAILURES`` times in a row is
given up on: ``kameng run`` then stops everything and exits non-zero, instead of spawning a
crashing worker five times a second forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("kameng.supervisor")

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
QUICK_S = 10.0  # dying this soon after a start counts as a quick failure
STEADY_S = 60.0  # running this long resets the backoff
MAX_QUICK_FAILURES = 5


class GaveUp(Exception):
    """A supervised thing kept failing right after its start."""


@dataclass
class Supervised:
    name: str
    alive: Callable[[], bool]
    start: Callable[[], None]
    say: Callable[[str], None] = field(default=print)
    clock: Callable[[], float] = field(default=time.monotonic)
    started_at: float = 0.0
    backoff_s: float = FIRST_BACKOFF_S
    quick_failures: int = 0
    restart_at: float | None = None  # when the next start is due (it is down)
    restarts: int = 0

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    def check(self) -> None:
        """Look once: note a death, or start it again when its backoff is over."""
        now = self.clock()
        if self.restart_at is None:
            if self.alive():
                if now - self.started_at >= STEADY_S:
                    self.backoff_s, self.quick_failures = FIRST_BACKOFF_S, 0
                return
            quick = now - self.started_at < QUICK_S
            self.quick_failures = self.quick_failures + 1 if quick else 0
            if self.quick_failures >= MAX_QUICK_FAILURES:
                raise GaveUp(
                    f"{self.name} failed {self.quick_failures} times within {QUICK_S:.0f} s "
                    "of starting; giving up"
                )
            self.restart_at = now + self.backoff_s
            self.say(f"{self.name} is down; starting it again in {self.backoff_s:.0f} s")
            self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
            return
        if now < self.restart_at:
            return
        self.restart_at = None
        self.started_at = now
        self.restarts += 1
        try:
            self.start()
        except Exception as exc:  # counts as a failure at once; the next look reschedules
            log.warning("could not start %s: %s", self.name, exc)
            self.say(f"{self.name} did not start: {exc}")
            return
        self.say(f"{self.name} started again")
