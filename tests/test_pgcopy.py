"""The hand-written binary COPY encoder, read back by PostgreSQL itself."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core import pgcopy
from kameng_api.inventory.bulk import raw_connection

NUMBERS = [
    "0",
    "0.0000",
    "1",
    "-1",
    "12.5",
    "95",
    "0.0001",
    "-0.0042",
    "10000",
    "99999999.9999",
    "1000000000",
    "123456789.1234",
    "0.10",
    "1E+3",
    "7.00",
]


async def test_rows_written_in_binary_copy_read_back_equal(session: AsyncSession) -> None:
    apg = await raw_connection(session)
    await apg.execute(
        "CREATE TEMP TABLE copy_probe (i bigint, t text, b bytea, u uuid, n numeric(18, 4))"
    )
    u = uuid.uuid4()
    rows = [
        (n, f"卡号-{n}" if n % 2 else None, bytes([n]) * n, u, Decimal(v))
        for n, v in enumerate(NUMBERS)
    ]
    rows.append((-5, "", b"", u, None))

    async def source():  # type: ignore[no-untyped-def]
        yield pgcopy.HEADER
        for i, t, b, uu, num in rows:
            yield (
                pgcopy.field_count(5)
                + pgcopy.int8(i)
                + pgcopy.text(t)
                + pgcopy.bytea(b)
                + pgcopy.uuid(uu.bytes)
                + pgcopy.numeric(num)
            )
        yield pgcopy.TRAILER

    await apg.copy_to_table("copy_probe", source=source(), format="binary")
    back = await apg.fetch("SELECT i, t, b, u, n FROM copy_probe ORDER BY i")
    assert [tuple(r) for r in back] == sorted(
        (i, t, b, uu, None if n is None else n.quantize(Decimal("0.0001")))
        for i, t, b, uu, n in rows
    )
    # numeric's display scale survives too: 12.5 comes back as 12.5000 in numeric(18,4),
    # and as written in an unconstrained numeric
    await apg.execute("CREATE TEMP TABLE copy_scale (n numeric)")

    async def scaled():  # type: ignore[no-untyped-def]
        yield pgcopy.HEADER
        for v in NUMBERS:
            yield pgcopy.field_count(1) + pgcopy.numeric(Decimal(v))
        yield pgcopy.TRAILER

    await apg.copy_to_table("copy_scale", source=scaled(), format="binary")
    texts = [r[0] for r in await apg.fetch("SELECT n::text FROM copy_scale")]
    assert texts == [str(Decimal(v)) if "E" not in v else "1000" for v in NUMBERS]
