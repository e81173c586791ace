"""The cyclic garbage collector in a long-running process (``kameng serve``, ``kameng worker``).

A service process holds some 200,000 long-lived objects (modules, routes, schemas, the SQL
compiler's caches). Python's full collection walks them all: 130–270 ms with the cores busy,
measured in the flash-sale bench, a pause every buyer in flight waited through (most of the
p99 at 1,000 purchases/s). After start-up they are moved out of the collector's sight
(``gc.freeze``), and the youngest generation is collected less often (objects that die young
are freed by reference counting anyway; cycles still are collected).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between collections of the youngest generation (700)


def settle_gc() -> None:
    """Call once the process has loaded what it keeps."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
