"""PostgreSQL's binary COPY format (``COPY … FROM STDIN (FORMAT binary)``), for bulk loads
whose rows are encoded in a worker thread: the event loop then only forwards bytes, and
PostgreSQL parses nothing (no text to numbers, no hex to bytea).

Each row is a 2-byte field count, then per field a 4-byte length (``-1`` for NULL) and the
value in the type's binary send format. See "COPY — Binary Format" in the PostgreSQL manual.
"""

from __future__ import annotations

import struct
from decimal import Decimal

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, extension
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"

_NUMERIC_NEG = 0x4000
LENGTHS = [n.to_bytes(4, "big") for n in range(2048)]  # field lengths, looked up in hot loops


def field_count(n: int) -> bytes:
    return n.to_bytes(2, "big")


def length(n: int) -> bytes:
    return n.to_bytes(4, "big")


def int8(value: int) -> bytes:
    return b"\x00\x00\x00\x08" + value.to_bytes(8, "big", signed=True)


def text(value: str | None) -> bytes:
    if value is None:
        return NULL
    raw = value.encode()
    return len(raw).to_bytes(4, "big") + raw


def bytea(value: bytes | None) -> bytes:
    if value is None:
        return NULL
    return len(value).to_bytes(4, "big") + value


def uuid(value: bytes) -> bytes:
    if len(value) != 16:
        raise ValueError("a uuid is 16 bytes")
    return b"\x00\x00\x00\x10" + value


def numeric(value: Decimal | None) -> bytes:
    """``numeric``'s send format: base-10000 digits with a weight, sign and display scale."""
    if value is None:
        return NULL
    if not value.is_finite():
        raise ValueError("only finite numbers")
    sign, digit_tuple, exp = value.as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    if exp > 0:
        digits += "0" * exp
        exp = 0
    dscale = -exp
    n_int = len(digits) - dscale  # digits left of the point
    if n_int < 0:
        digits = "0" * -n_int + digits
        n_int = 0
    pad = -n_int % 4  # align the point to a 4-digit group
    digits = "0" * pad + digits
    n_int += pad
    digits += "0" * (-len(digits) % 4)
    groups = [int(digits[i : i + 4]) for i in range(0, len(digits), 4)]
    weight = n_int // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
        sign = 0
    body = struct.pack(
        f">hhHH{len(groups)}H", len(groups), weight, _NUMERIC_NEG if sign else 0, dscale, *groups
    )
    return len(body).to_bytes(4, "big") + body
