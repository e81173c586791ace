"""Reading and checking card-key files: pasted text, TXT, CSV and XLSX.

Pure functions (no database), written for a million lines: one pass, no per-line objects
beyond what the import needs, the garbage collector paused while the pass allocates.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import struct
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from kameng_api.core.errors import AppError

MAX_SECRET_LEN = 255
MAX_CARD_NO_LEN = 128
MAX_SAMPLES = 100
MAX_COST = Decimal("1000000000")


class KeyFormat(StrEnum):  # column layouts, not secrets
    secret = "secret"  # noqa: S105 - 卡密
    secret_cost = "secret_cost"  # noqa: S105 - 卡密<sep>成本
    card_secret = "card_secret"  # noqa: S105 - 卡号<sep>卡密
    card_secret_cost = "card_secret_cost"  # noqa: S105 - 卡号<sep>卡密<sep>成本


class Encoding(StrEnum):
    auto = "auto"  # UTF-8 (with or without BOM), else GB18030 (a superset of GBK)
    utf8 = "utf-8"
    gbk = "gbk"


class Problem(StrEnum):
    empty = "empty"  # blank line
    malformed = "malformed"  # wrong number of columns, no secret, invisible characters
    too_long = "too_long"  # secret > 255 or card number > 128 characters
    bad_cost = "bad_cost"  # cost column not a non-negative amount
    duplicate_in_file = "duplicate_in_file"  # the same secret earlier in this file
    in_stock = "in_stock"  # already in stock (or sold before)


_FIELDS = {
    KeyFormat.secret: 1,
    KeyFormat.secret_cost: 2,
    KeyFormat.card_secret: 2,
    KeyFormat.card_secret_cost: 3,
}


class FileRejected(AppError):
    """The file as a whole cannot be read; nothing is staged."""

    status = 422
    title = "File rejected"


@dataclass(frozen=True)
class ReadOptions:
    format: KeyFormat = KeyFormat.card_secret
    separator: str = ","
    encoding: Encoding = Encoding.auto
    has_header: bool = False


@dataclass
class Checked:
    """Result of a pass over a file (or, accumulated, over its chunks): the report and, for
    every valid line, its number and keyed hash."""

    total_lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, object]] = field(default_factory=list)
    line_nos: list[int] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return len(self.digests)

    def problem(self, line_no: int, kind: Problem, preview: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append({"line": line_no, "kind": str(kind), "preview": preview})


def mask(secret: str) -> str:
    """What lists and reports show of a secret: at most its last four characters."""
    if len(secret) >= 8:
        return "****" + secret[-4:]
    return "****"


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made: with it
    running, its full collections cost more than the work itself. Reference-counted, so
    overlapping pauses (threads, nested calls) restore the collector exactly once."""
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


# ---- reading --------------------------------------------------------------------------------


def detect_source(filename: str | None, content: bytes) -> str:
    """``txt``, ``csv`` or ``xlsx`` from the name and the first bytes."""
    name = (filename or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        if not content.startswith(b"PK\x03\x04"):
            raise FileRejected("该文件不是有效的 XLSX 文件", code="malformed_file")
        return "xlsx"
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        raise FileRejected(
            "不支持旧版 Excel (.xls)，请另存为 .xlsx 或 CSV", code="unsupported_file"
        )
    if name.endswith(".csv"):
        return "csv"
    if name and not name.endswith((".txt", ".text")) and "." in name.rsplit("/", 1)[-1]:
        raise FileRejected(
            "只支持 TXT、CSV、XLSX 文件 (Only TXT, CSV and XLSX files)", code="unsupported_file"
        )
    return "txt"


def decode_text(content: bytes, encoding: Encoding) -> str:
    if b"\x00" in content[:65536]:
        raise FileRejected(
            "文件包含二进制内容，不是文本文件 (the file is not text)", code="malformed_file"
        )
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
        if encoding is Encoding.auto:
            encoding = Encoding.utf8
    order = {
        Encoding.auto: ("utf-8", "gb18030"),
        Encoding.utf8: ("utf-8",),
        Encoding.gbk: ("gb18030",),
    }[encoding]
    error: UnicodeDecodeError | None = None
    for codec in order:
        try:
            return content.decode(codec)
        except UnicodeDecodeError as exc:
            error = error or exc
    assert error is not None
    line = content.count(b"\n", 0, error.start) + 1
    raise FileRejected(
        f"第 {line} 行无法按 {encoding} 编码解码，请确认文件编码 (UTF-8 或 GBK)"
        f" (line {line} is not valid {encoding} text)",
        code="bad_encoding",
    )


def check_zip(content: bytes, max_unzipped: int) -> None:
    """Refuse zip bombs before any XML parser sees them."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise FileRejected("该文件不是有效的 XLSX 文件", code="malformed_file") from exc
    infos = zf.infolist()
    if len(infos) > 1000:
        raise FileRejected("XLSX 文件结构异常 (too many parts)", code="unsafe_file")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > 200:
            raise FileRejected(
                "XLSX 文件压缩比异常，疑似压缩炸弹 (suspicious compression ratio)",
                code="unsafe_file",
            )
    if total > max_unzipped:
        raise FileRejected(
            f"XLSX 解压后超过 {max_unzipped // (1024 * 1024)} MB (unzipped size too large)",
            code="unsafe_file",
        )


def _xlsx_rows(content: bytes, max_lines: int, max_unzipped: int) -> list[list[str]]:
    check_zip(content, max_unzipped)
    import openpyxl  # openpyxl parses with defusedxml when it is installed (it is a dependency)

    try:
        wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken files
        raise FileRejected(
            "无法读取 XLSX 文件 (the XLSX file cannot be read)", code="malformed_file"
        ) from exc
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            return []
        rows: list[list[str]] = []
        for values in ws.iter_rows(values_only=True):
            if len(rows) >= max_lines + 1:
                _too_many(max_lines)
            rows.append([_cell_text(v) for v in values])
        return rows
    finally:
        wb.close()


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # a card number Excel stored as a number
    return str(v)


def _too_many(max_lines: int) -> None:
    raise FileRejected(
        f"单次导入最多 {max_lines} 行，请拆分文件 (at most {max_lines} lines per import)",
        code="too_many_lines",
    )


def read_lines(
    source: str, content: bytes, opts: ReadOptions, *, max_lines: int, max_unzipped: int
) -> list[str] | list[list[str]]:
    """The file's lines: strings (text, split later) or cell lists (CSV, XLSX)."""
    rows: list[str] | list[list[str]]
    if source == "xlsx":
        rows = _xlsx_rows(content, max_lines, max_unzipped)
    else:
        text = decode_text(content, opts.encoding)
        # CSV quoting only matters when there are quotes; plain lines split faster
        if source == "csv" and len(opts.separator) == 1 and '"' in text:
            try:
                with gc_paused():
                    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=opts.separator))
            except csv.Error as exc:
                raise FileRejected(f"CSV 格式错误: {exc}", code="malformed_file") from exc
        else:
            rows = text.splitlines()
    if opts.has_header and rows:
        rows = rows[1:]
    if len(rows) > max_lines:
        _too_many(max_lines)
    return rows


# ---- checking -------------------------------------------------------------------------------


def check(
    rows: Iterable[str] | Iterable[list[str]],
    opts: ReadOptions,
    key: bytes,
    *,
    first_line: int = 1,
    seen: set[bytes] | None = None,
    out: Checked | None = None,
) -> Checked:
    """One pass: every line is valid or gets exactly one problem. Valid lines get their keyed
    hash (BLAKE2s-128 keyed with ``key``); the first of equal secrets wins. Chunks of one file
    share ``seen`` (the hashes so far) and ``out`` (the accumulated result).

    This loop runs once per line of million-line files, so it is written for speed: one
    ``isprintable`` over the whole line when the separator is printable, stripping only lines
    that hold whitespace, bound methods, the collector paused."""
    out = Checked() if out is None else out
    nfields = _FIELDS[opts.format]
    sep = opts.separator
    sep_printable = sep.isprintable()
    has_card = opts.format in (KeyFormat.card_secret, KeyFormat.card_secret_cost)
    has_cost = opts.format in (KeyFormat.secret_cost, KeyFormat.card_secret_cost)
    new_hash = hashlib.blake2s(key=key, digest_size=16).copy  # cheaper than keying each line
    seen = set() if seen is None else seen
    add_seen = seen.add
    add_line = out.line_nos.append
    add_digest = out.digests.append
    problem = out.problem
    line_no = first_line - 1
    with gc_paused():
        for raw in rows:
            line_no += 1
            if raw.__class__ is str:
                s = raw.strip()
                if not s:
                    problem(line_no, Problem.empty, "")
                    continue
                printable = s.isprintable() if sep_printable else None
                if nfields == 1:
                    parts = [s]
                else:
                    parts = s.split(sep)
                    if " " in s or "\t" in s or "\u3000" in s:
                        parts = [p.strip() for p in parts]
                        printable = None  # judged on the stripped parts (a full-width space)
            else:
                parts = [str(c).strip() for c in raw]
                while parts and not parts[-1]:
                    parts.pop()
                if not parts:
                    problem(line_no, Problem.empty, "")
                    continue
                printable = None
            if len(parts) != nfields:
                problem(line_no, Problem.malformed, preview(parts, has_card))
                continue
            if has_card:
                card: str | None = parts[0]
                secret = parts[1]
                if len(secret) > MAX_SECRET_LEN or len(parts[0]) > MAX_CARD_NO_LEN:
                    problem(line_no, Problem.too_long, preview(parts, has_card))
                    continue
            else:
                card = None
                secret = parts[0]
                if len(secret) > MAX_SECRET_LEN:
                    problem(line_no, Problem.too_long, preview(parts, has_card))
                    continue
            if not secret:
                problem(line_no, Problem.malformed, preview(parts, has_card))
                continue
            if printable is None:
                printable = secret.isprintable() and (card is None or card.isprintable())
            if not printable:
                problem(line_no, Problem.malformed, preview(parts, has_card))
                continue
            if has_cost and _cost(parts[-1]) is None:
                problem(line_no, Problem.bad_cost, preview(parts, has_card))
                continue
            h = new_hash()
            h.update(secret.encode())
            d = h.digest()
            if d in seen:
                problem(line_no, Problem.duplicate_in_file, preview(parts, has_card))
                continue
            add_seen(d)
            add_line(line_no)
            add_digest(d)
    out.total_lines += line_no - first_line + 1
    return out


@dataclass
class Fields:
    """The parts of the lines to import, UTF-8 encoded, ready for COPY."""

    cards: list[bytes | None]
    secrets: list[bytes]
    hints: list[bytes]  # ``mask`` of each secret
    costs: list[Decimal | None]


def fields(
    rows: list[str] | list[list[str]],
    indexes: list[int],
    opts: ReadOptions,
    default_cost: Decimal | None,
) -> Fields:
    """Card number, secret, hint and cost of the rows at ``indexes`` — lines ``check`` found
    valid — split exactly as it split them. Chunks of plain printable ASCII without spaces
    (the usual file) take a fast path: one encode, bytes splits, no per-line calls."""
    has_card = opts.format in (KeyFormat.card_secret, KeyFormat.card_secret_cost)
    has_cost = opts.format in (KeyFormat.secret_cost, KeyFormat.card_secret_cost)
    nfields = _FIELDS[opts.format]
    picked = [rows[i] for i in indexes]
    if not picked:
        return Fields([], [], [], [])
    parts: list[list[bytes]]
    plain = all(r.__class__ is str for r in picked) and _plain("".join(picked))  # type: ignore[arg-type]
    if plain:
        lines = "\n".join(picked).encode().split(b"\n")  # type: ignore[arg-type]
        sep = opts.separator.encode()
        parts = [[line] for line in lines] if nfields == 1 else [line.split(sep) for line in lines]
    else:
        parts = [[p.encode() for p in _split(raw, opts.separator, nfields)] for raw in picked]
    secrets = [p[1] for p in parts] if has_card else [p[0] for p in parts]
    if plain:
        hints = [b"****" + x[-4:] if len(x) >= 8 else b"****" for x in secrets]
    else:
        hints = [mask(x.decode()).encode() for x in secrets]
    cards: list[bytes | None] = [p[0] or None for p in parts] if has_card else [None] * len(parts)
    costs: list[Decimal | None]
    if has_cost:
        cache: dict[bytes, Decimal | None] = {}
        costs = []
        for p in parts:
            text = p[nfields - 1]
            if text not in cache:
                cache[text] = _cost(text.decode())
            costs.append(cache[text])
            if len(cache) > 1000:  # a batch usually has a handful of distinct costs
                cache.clear()
    else:
        costs = [default_cost] * len(parts)
    return Fields(cards, secrets, hints, costs)


def _plain(text: str) -> bool:
    """Printable ASCII without spaces: nothing for ``strip`` to remove anywhere."""
    return text.isascii() and text.isprintable() and " " not in text


def _split(raw: str | list[str], sep: str, nfields: int) -> list[str]:
    """A line's parts as ``check`` saw them."""
    if raw.__class__ is not str:
        return [str(c).strip() for c in raw][:nfields]
    s = raw.strip()
    if nfields == 1:
        return [s]
    return [p.strip() for p in s.split(sep)]


# ---- the import plan ------------------------------------------------------------------------
# What the check hands the import: one record per line to import — its keyed hash and its row
# index in ``read_lines``' result. The import then re-reads only those rows and neither
# re-checks nor re-hashes them.

PLAN_RECORD = struct.Struct(">16sI")


def make_plan(checked: Checked, first_line: int, exclude: set[bytes], run: int) -> bytes:
    """Plan the valid lines whose hash is not in ``exclude``, each run of ``run`` records
    sorted by hash: COPY in that order fills the unique index page by page instead of at
    random (about twice as fast)."""
    with gc_paused():
        pack = PLAN_RECORD.pack
        records = [
            pack(d, n - first_line)
            for d, n in zip(checked.digests, checked.line_nos, strict=True)
            if not exclude or d not in exclude
        ]
        for a in range(0, len(records), run):
            records[a : a + run] = sorted(records[a : a + run])
        return b"".join(records)


def plan_len(plan: bytes) -> int:
    return len(plan) // PLAN_RECORD.size


def plan_slice(plan: bytes, start: int, stop: int) -> tuple[list[bytes], list[int]]:
    """Keyed hashes and row indexes of records ``start``..``stop``."""
    size = PLAN_RECORD.size
    records = list(PLAN_RECORD.iter_unpack(plan[start * size : stop * size]))
    return [r[0] for r in records], [r[1] for r in records]


def _cost(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > MAX_COST:
        return None
    return value.quantize(Decimal("0.0001"))


def row_preview(raw: str | list[str], opts: ReadOptions) -> str:
    """``preview`` of one line as ``read_lines`` returned it."""
    has_card = opts.format in (KeyFormat.card_secret, KeyFormat.card_secret_cost)
    if not isinstance(raw, str):
        return preview([c.strip() for c in raw], has_card)
    if opts.format is KeyFormat.secret:
        return preview([raw.strip()], has_card)
    return preview([p.strip() for p in raw.strip().split(opts.separator)], has_card)


def preview(parts: list[str], has_card: bool) -> str:
    """Report preview: the card number (if any) and the masked secret, never the secret."""
    if has_card and len(parts) >= 2:
        return f"{parts[0][:32]} {mask(parts[1])}"
    return mask(parts[0]) if parts else ""
