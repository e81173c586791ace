"""Money: ``Decimal`` everywhere, ``NUMERIC(20,4)`` in the database, strings in JSON.

Rounding rules live here and nowhere else.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer
from sqlalchemy import Numeric

MONEY_SCALE = Decimal("0.0001")  # storage precision
CENT = Decimal("0.01")  # what buyers see and pay

MoneyColumn = Numeric(20, 4, asdecimal=True)


def quantize(value: Decimal) -> Decimal:
    """Round to storage precision (half up)."""
    return value.quantize(MONEY_SCALE, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> Decimal:
    """Round to the payable unit (half up): what a gateway is asked to charge."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


Money = Annotated[
    Decimal,
    PlainSerializer(lambda v: format(quantize(v), "f"), return_type=str, when_used="json"),
]
"""A Decimal amount that is sent as a JSON string, e.g. ``"12.5000"``."""
