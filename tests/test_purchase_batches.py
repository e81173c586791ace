"""Group commit's scheduling (orders.purchase.Batches): purchases wait for the batch in
flight and go together in the next — unless that batch runs long, when one more batch takes
those waiting. The database side of a batch is proven in test_purchase_lane.py; here the
batch is a timed stand-in, so the order of events can be asserted exactly."""

from __future__ import annotations

import asyncio
from typing import Any

from kameng_api.orders.purchase import Batches


class Timed(Batches):
    """Batches whose database call takes ``seconds[buyer of its first purchase]``."""

    def __init__(self, seconds: dict[int, float], stretch_s: float) -> None:
        super().__init__(1, stretch_s)
        self.seconds = seconds
        self.ran: list[list[int]] = []  # each batch's buyers, in the order batches started
        self.in_flight = 0
        self.most_in_flight = 0

    async def _run(self, batch: list[tuple[int, str, asyncio.Future[dict[str, Any]]]]) -> None:
        self.ran.append([buyer for buyer, _, _ in batch])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.seconds.get(batch[0][0], 0.001))
        self.in_flight -= 1
        for buyer, _, future in batch:
            future.set_result({"buyer": buyer})


async def test_purchases_arriving_during_a_quick_batch_go_together_in_the_next() -> None:
    batches = Timed({1: 0.050}, stretch_s=0.500)
    first = asyncio.create_task(batches.submit(1, "{}"))
    await asyncio.sleep(0.010)  # buyer 1's batch is in the database
    rest = [asyncio.create_task(batches.submit(b, "{}")) for b in (4, 2, 3)]
    answers = await asyncio.gather(first, *rest)
    assert [a["buyer"] for a in answers] == [1, 4, 2, 3]  # each gets its own answer
    assert batches.ran == [[1], [2, 3, 4]]  # one batch after the other, sorted by buyer
    assert batches.most_in_flight == 1


async def test_a_batch_running_long_lets_one_more_take_those_waiting() -> None:
    batches = Timed({1: 1.0}, stretch_s=0.100)  # the first batch hangs on its commit
    slow = asyncio.create_task(batches.submit(1, "{}"))
    await asyncio.sleep(0.010)
    early = asyncio.create_task(batches.submit(2, "{}"))  # within the stretch: it waits
    await asyncio.sleep(0.200)
    assert batches.ran == [[1]]
    late = [asyncio.create_task(batches.submit(b, "{}")) for b in (3, 4)]
    done, _ = await asyncio.wait([early, *late], timeout=0.500)
    assert {t.result()["buyer"] for t in done} == {2, 3, 4}  # not held up by buyer 1's batch
    assert not slow.done()
    # buyer 3 found the batch in flight past its stretch: the one extra batch took all three
    assert batches.ran == [[1], [2, 3, 4]]
    assert batches.most_in_flight == 2  # never more than one extra
    await slow
