"""kameng run's supervisor: restarts with backoff, gives up on what crashes at start."""

from __future__ import annotations

import pytest

from kameng_api.supervisor import GaveUp, Supervised


class Thing:
    def __init__(self) -> None:
        self.up = True
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.up = True


def _watch(thing: Thing, now: list[float], said: list[str]) -> Supervised:
    return Supervised("Redis", lambda: thing.up, thing.start, say=said.append, clock=lambda: now[0])


def test_a_dead_thing_is_started_again_after_a_backoff_that_doubles_and_resets() -> None:
    thing, now, said = Thing(), [100.0], []
    s = _watch(thing, now, said)
    now[0] = 200.0  # ran a long time (steady): then it dies
    s.check()
    thing.up = False
    s.check()
    assert said == ["Redis is down; starting it again in 1 s"]
    now[0] += 0.5
    s.check()
    assert thing.starts == 0  # still waiting
    now[0] += 0.6
    s.check()
    assert thing.starts == 1
    assert said[-1] == "Redis started again"
    # dies again at once: 2 s, then 4 s …
    thing.up = False
    s.check()
    assert said[-1] == "Redis is down; starting it again in 2 s"
    now[0] += 2.1
    s.check()
    thing.up = False
    s.check()
    assert said[-1] == "Redis is down; starting it again in 4 s"
    now[0] += 4.1
    s.check()
    # runs a minute: the backoff is back to 1 s
    now[0] += 61
    s.check()
    thing.up = False
    s.check()
    assert said[-1] == "Redis is down; starting it again in 1 s"


def test_something_that_keeps_dying_right_after_its_start_is_given_up_on() -> None:
    thing, now, said = Thing(), [0.0], []
    s = _watch(thing, now, said)

    def crash_loop() -> None:
        for _ in range(100):
            thing.up = False
            s.check()
            now[0] += 31  # past any backoff, but each start dies within 10 s
            s.check()
            now[0] += 1

    with pytest.raises(GaveUp, match="Redis failed 5 times"):
        crash_loop()
    assert thing.starts == 4  # four restarts, then no fifth: it gave up
    assert len([line for line in said if "is down" in line]) == 4


def test_a_start_that_raises_counts_and_is_tried_again() -> None:
    calls: list[int] = []
    now = [100.0]

    def start() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("socket in use")

    up = [False]
    s = Supervised("PostgreSQL", lambda: up[0], start, say=lambda _: None, clock=lambda: now[0])
    s.check()  # noted down
    now[0] += 1.1
    s.check()  # first start raises
    now[0] += 0.1
    s.check()  # still down: rescheduled
    now[0] += 2.1
    s.check()
    assert len(calls) == 2
