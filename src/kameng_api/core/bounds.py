"""What the API accepts, bounded by what PostgreSQL stores: integers and timestamps.

An integer outside a column's range makes PostgreSQL refuse the statement; the API must
refuse it first, as a 422 that says which field, and say so in its schema. Use ``Id`` for row
ids (``bigint``/``serial`` columns, path and query parameters, body fields) and ``Int32``
for counts and positions stored as ``integer``. ``tests/test_hostile_input.py`` fails for any
integer a request can carry (per the OpenAPI document) without such bounds.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import BeforeValidator

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


def _not_bool(value: Any) -> Any:
    # JSON's true/false are not 1/0 (pydantic's lax mode would read them so)
    if isinstance(value, bool):
        raise ValueError("give an integer, not true/false")
    return value


# The validator goes first: constraints after a validator function are all applied (a field's
# own ``Field(ge=…, le=…)`` included), whereas bounds before it would be silently replaced by
# the field's. Pydantic then writes the bounds it cannot place as raw ``ge``/``le`` keys in the
# JSON Schema; ``contract.py`` turns them into ``minimum``/``maximum`` (the tightest).
Id = Annotated[int, BeforeValidator(_not_bool), Interval(ge=1, le=BIGINT_MAX)]
"""A row id: 1 … 2^63 − 1."""

Int32 = Annotated[int, BeforeValidator(_not_bool), Interval(ge=-INT_MAX - 1, le=INT_MAX)]
"""A value stored as PostgreSQL ``integer``."""


_ISO_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    # pydantic reads "0.5" or "1700000000" as seconds since 1970; the contract says
    # date-time (RFC 3339), so only text that starts with a date is a time
    if (isinstance(value, str) and not _ISO_LIKE.match(value)) or isinstance(value, int | float):
        raise ValueError("give an RFC 3339 date-time, e.g. 2026-12-04T08:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A timestamp the API accepts (query or body): RFC 3339 text only, no bare numbers."""
