"""Money: ``Decimal`` everywhere, ``NUMERIC(20,4)`` in the database, strings in JSON.

Rounding rules live here and nowhere else.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, WithJsonSchema
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


def amount_limit(int_digits: int, places: int) -> Decimal:
    """The largest amount of ``int_digits`` digits before the point and ``places`` after."""
    return Decimal(10) ** int_digits - Decimal(1).scaleb(-places)


def amount_schema(
    *,
    places: int,
    int_digits: int,
    sign: Literal["any", "nonzero", "positive", "not_negative"],
    maximum: int | None = None,
) -> WithJsonSchema:
    """The JSON Schema of an amount the API accepts, saying exactly what passes: a number, or a
    decimal string of at most ``int_digits`` digits before the point and ``places`` after it
    (or, with ``maximum``, at most that whole amount). Use it beside the ``Field`` that checks
    the same (see ``catalog.schemas.Price``)."""
    limit = amount_limit(int_digits, places) if maximum is None else Decimal(maximum)
    lookahead = r"(?!-?0*(\.0*)?$)" if sign in ("nonzero", "positive") else ""
    minus = "-?" if sign in ("any", "nonzero") else ""
    digits = rf"\d{{1,{int_digits}}}(\.\d{{1,{places}}})?"
    if maximum is not None:  # fewer digits than the maximum, or the maximum itself
        fewer = len(str(maximum)) - 1
        digits = rf"(\d{{1,{fewer}}}(\.\d{{1,{places}}})?|{maximum}(\.0{{1,{places}}})?)"
    pattern = rf"^{lookahead}{minus}{digits}$"
    number: dict[str, Any] = {
        "type": "number",
        "maximum": float(limit),
        "multipleOf": float(Decimal(1).scaleb(-places)),
    }
    if sign == "positive":
        number["exclusiveMinimum"] = 0
    elif sign == "not_negative":
        number["minimum"] = 0
    else:
        number["minimum"] = -float(limit)
        if sign == "nonzero":
            number["not"] = {"const": 0}
    return WithJsonSchema({"anyOf": [number, {"type": "string", "pattern": pattern}]})


def not_zero(value: Decimal) -> Decimal:
    if value == 0:
        raise ValueError("the amount must not be zero")
    return value
