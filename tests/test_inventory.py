"""Card-key inventory: two-step imports with a per-line report, encryption at rest, keyed-hash
de-duplication, stock counters, low-stock alerts, void, reveal and export (step-up, audited),
bad files, and imports racing each other."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts.models import Alert
from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.inventory import keyfile
from kameng_api.inventory import service as inventory
from kameng_api.inventory.models import CardKey, ImportBatch, ImportFile, Stock
from kameng_api.outbox.jobs import registry, run_outbox_job
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings
from tests.support.factories import login, make_user, step_up

API = "/api/v1/inventory"


async def _staff(client: httpx.AsyncClient, role: str = "operator") -> dict[str, str]:
    return await login(client, await make_user(roles=(role,)))


async def _product(
    client: httpx.AsyncClient, h: dict[str, str], *, delivery: str = "card_key", **kw: Any
) -> tuple[int, int]:
    """A product with one SKU: ``(product_id, sku_id)``."""
    r = await client.post(
        "/api/v1/catalog/categories", json={"name": f"点卡 {uuid.uuid4().hex[:6]}"}, headers=h
    )
    cat = r.json()["id"]
    body = {
        "category_id": cat,
        "name": f"Steam 充值卡 {uuid.uuid4().hex[:4]}",
        "delivery_type": delivery,
        "skus": [{"name": "100元", "base_price": "98.00", "cost_price": "95.00"}],
        **kw,
    }
    r = await client.post("/api/v1/catalog/products", json=body, headers=h)
    assert r.status_code == 201, r.text
    p = r.json()["product"]
    return p["id"], p["skus"][0]["id"]


async def _stage(
    client: httpx.AsyncClient,
    h: dict[str, str],
    sku_id: int,
    content: bytes | str,
    filename: str | None = "keys.csv",
    **form: Any,
) -> httpx.Response:
    data = {"sku_id": str(sku_id), **{k: str(v) for k, v in form.items()}}
    if filename is None:
        assert isinstance(content, str)
        data["text"] = content
        return await client.post(f"{API}/imports", data=data, headers=h)
    raw = content.encode() if isinstance(content, str) else content
    return await client.post(
        f"{API}/imports", data=data, files={"file": (filename, raw)}, headers=h
    )


async def _import(
    client: httpx.AsyncClient, h: dict[str, str], sku_id: int, content: str, **form: Any
) -> dict[str, Any]:
    r = await _stage(client, h, sku_id, content, **form)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "validated", r.json()
    r = await client.post(f"{API}/imports/{r.json()['id']}/confirm", headers=h)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _available(client: httpx.AsyncClient, h: dict[str, str], product_id: int) -> int:
    r = await client.get(f"{API}/stock/{product_id}", headers=h)
    assert r.status_code == 200, r.text
    return int(r.json()["available"])


def _keys(n: int, tag: str = "") -> list[tuple[str, str]]:
    tag = tag or uuid.uuid4().hex[:6]
    return [(f"CN{tag}{i:05d}", f"SEC-{tag}-{i:05d}-{uuid.uuid4().hex[:8]}") for i in range(n)]


def _csv(keys: list[tuple[str, str]]) -> str:
    return "".join(f"{c},{s}\n" for c, s in keys)


# ---- the import wizard's two steps ----------------------------------------------------------


async def test_csv_report_shows_the_duplicate_and_the_empty_line_then_confirm_imports(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    keys = _keys(5)
    lines = [f"{c},{s}" for c, s in keys]
    content = "\n".join([*lines[:3], "", lines[3], lines[1], lines[4]]) + "\n"
    r = await _stage(client, h, sku_id, content)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "validated"
    assert report["total_lines"] == 7
    assert report["valid_count"] == 5
    assert report["problem_counts"] == {"empty": 1, "duplicate_in_file": 1}
    assert [(s["line"], s["kind"]) for s in report["samples"]] == [
        (4, "empty"),
        (6, "duplicate_in_file"),
    ]
    dup = report["samples"][1]["preview"]
    assert keys[1][0] in dup  # the card number is shown,
    assert keys[1][1] not in dup  # the secret masked
    # nothing is in stock before confirm
    assert await _available(client, h, product_id) == 0

    r = await client.post(f"{API}/imports/{report['id']}/confirm", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "imported"
    assert r.json()["imported_count"] == 5
    assert await _available(client, h, product_id) == 5

    listed = (await client.get(f"{API}/keys", params={"sku_id": sku_id}, headers=h)).json()
    assert len(listed["items"]) == 5
    assert all("secret" not in k for k in listed["items"])
    assert {k["card_no"] for k in listed["items"]} == {c for c, _ in keys}
    assert {k["hint"] for k in listed["items"]} == {"****" + s[-4:] for _, s in keys}

    # at rest: ciphertext only, the staged file gone
    rows = (await session.execute(select(CardKey))).scalars().all()
    for row in rows:
        assert all(s.encode() not in row.secret_ct for _, s in keys)
        assert row.key_id == get_settings().field_key_id
    assert await session.get(ImportFile, report["id"]) is None
    assert {inventory.decrypt_secret(k) for k in rows} == {s for _, s in keys}


async def test_keys_already_in_stock_are_reported_and_skipped(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    first = _keys(4)
    await _import(client, h, sku_id, _csv(first))
    second = [*first[2:], *_keys(3)]
    r = await _stage(client, h, sku_id, _csv(second))
    report = r.json()
    assert report["problem_counts"] == {"in_stock": 2}
    assert report["valid_count"] == 3
    assert {s["line"] for s in report["samples"]} == {1, 2}
    r = await client.post(f"{API}/imports/{report['id']}/confirm", headers=h)
    assert r.json()["imported_count"] == 3
    assert await _available(client, h, product_id) == 7
    # the same secret under another product is a duplicate too: a key is sold at most once
    _, other_sku = await _product(client, h)
    r = await _stage(client, h, other_sku, _csv(first[:1]))
    assert r.json()["problem_counts"] == {"in_stock": 1}
    assert r.json()["valid_count"] == 0
    r = await client.post(f"{API}/imports/{r.json()['id']}/confirm", headers=h)
    assert r.status_code == 422
    assert r.json()["code"] == "nothing_to_import"


async def test_formats_separators_costs_and_line_problems(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    long_secret = "x" * 256
    content = (
        "AAAA-1111-BBBB-2222\n"  # secret only, '|' unused here
        f"{long_secret}\n"
        "CCCC-3333\tctl\n"  # invisible character
        "DDDD-4444-EEEE-5555\n"
    )
    r = await _stage(client, h, sku_id, content, filename="keys.txt", format="secret")
    body = r.json()
    assert body["problem_counts"] == {"too_long": 1, "malformed": 1}
    assert body["valid_count"] == 2
    assert long_secret not in r.text
    r = await client.post(f"{API}/imports/{body['id']}/confirm", headers=h)
    assert r.json()["imported_count"] == 2

    with_cost = "CN1|S-aaaaaaaa1|9.50\nCN2|S-aaaaaaaa2|-1\nCN3|S-aaaaaaaa3|abc\nCN4|S-aaaaaaaa4\n"
    r = await _stage(
        client, h, sku_id, with_cost, filename=None, format="card_secret_cost", separator="|"
    )
    body = r.json()
    assert body["source"] == "paste"
    assert body["problem_counts"] == {"bad_cost": 2, "malformed": 1}
    r = await client.post(f"{API}/imports/{body['id']}/confirm", headers=h)
    assert r.json()["cost_total"] == "9.5000"

    dashes = "CN5----S-bbbbbbbb5\nCN6----S-bbbbbbbb6\n"
    done = await _import(client, h, sku_id, dashes, separator="----", default_cost="1.25")
    assert done["imported_count"] == 2
    assert done["cost_total"] == "2.5000"
    assert await _available(client, h, product_id) == 5


async def test_every_key_is_stored_exactly_as_its_line_said(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The import re-reads only the lines the check planned: plain ASCII files take a fast
    path, lines with spaces or non-ASCII the general one; both must store the same thing."""
    h = await _staff(client)
    _, sku_id = await _product(client, h)
    tag = uuid.uuid4().hex[:6]
    plain = [(f"P{tag}{i}", f"PLAIN-{tag}-{i:04d}", f"{i % 3}.50") for i in range(40)]
    padded = [
        (f" Q{tag}1 ", f" 密码-{tag}-一二三四 ", " 2 "),
        (f"Q{tag}2\u3000", f"\u3000SPACED {tag} 99", "0.0001"),
        (f"Q{tag}3", f"short{tag[:2]}", "7"),
    ]
    expected = {}
    for lines in (plain, padded):
        content = "".join(f"{c};{sec};{cost}\n" for c, sec, cost in lines)
        done = await _import(client, h, sku_id, content, format="card_secret_cost", separator=";")
        assert done["imported_count"] == len(lines)
        expected.update({sec.strip(): (c.strip(), Decimal(cost.strip())) for c, sec, cost in lines})
    keys = (await session.execute(select(CardKey).where(CardKey.sku_id == sku_id))).scalars()
    stored = {inventory.decrypt_secret(k): (k.card_no, k.cost, k.hint) for k in keys}
    assert {sec: (card, cost) for sec, (card, cost, _) in stored.items()} == expected
    assert {sec: hint for sec, (_, _, hint) in stored.items()} == {
        sec: keyfile.mask(sec) for sec in expected
    }
    assert stored[f"密码-{tag}-一二三四"][2] == "****一二三四"


async def test_gbk_text_is_read_and_wrong_encodings_are_refused(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client)
    _, sku_id = await _product(client, h)
    gbk = "卡号一,密码-一一一一-1111\n卡号二,密码-二二二二-2222\n".encode("gbk")
    r = await _stage(client, h, sku_id, gbk, filename="keys.txt")
    assert r.status_code == 201, r.text
    assert r.json()["valid_count"] == 2
    keys = await client.post(f"{API}/imports/{r.json()['id']}/confirm", headers=h)
    listed = (await client.get(f"{API}/keys", params={"sku_id": sku_id}, headers=h)).json()
    assert {k["card_no"] for k in listed["items"]} == {"卡号一", "卡号二"}
    assert keys.status_code == 200
    # told it is UTF-8, GBK bytes are refused with the line number
    r = await _stage(
        client, h, sku_id, b"ok,ok-ok-ok-ok\n" + gbk, filename="k.txt", encoding="utf-8"
    )
    assert r.status_code == 422
    assert r.json()["code"] == "bad_encoding"
    assert "2" in r.json()["detail"]


async def test_xlsx_import_and_unsafe_or_broken_files_are_refused_whole(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["卡号", "卡密"])
    ws.append([1234567890123, "XLSX-SECRET-0001"])  # Excel keeps long card numbers as numbers
    ws.append(["CN-2", "XLSX-SECRET-0002"])
    ws.append([None, None])
    buf = io.BytesIO()
    wb.save(buf)
    r = await _stage(client, h, sku_id, buf.getvalue(), filename="keys.xlsx", has_header="true")
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "xlsx"
    assert r.json()["valid_count"] == 2
    assert r.json()["problem_counts"] == {"empty": 1}
    await client.post(f"{API}/imports/{r.json()['id']}/confirm", headers=h)
    listed = (await client.get(f"{API}/keys", params={"sku_id": sku_id}, headers=h)).json()
    assert {k["card_no"] for k in listed["items"]} == {"1234567890123", "CN-2"}

    # a zip bomb: a tiny file that unzips to hundreds of megabytes
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (300 * 1024 * 1024) + b"/>")
    r = await _stage(client, h, sku_id, bomb.getvalue(), filename="bomb.xlsx")
    assert r.status_code == 422
    assert r.json()["code"] == "unsafe_file"

    cases = [
        (b"PK\x03\x04garbage", "broken.xlsx", "malformed_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "keys.xls", "unsupported_file"),
        (b"%PDF-1.7\x00\x00", "keys.pdf", "unsupported_file"),
        (b"\x00\x01\x02binary", "keys.txt", "malformed_file"),
        (b"   \n\n", "empty.txt", "empty_file"),
    ]
    for content, name, code in cases:
        r = await _stage(client, h, sku_id, content, filename=name)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["code"] == code, (name, r.json())
    # nothing half-imported: no batch, no key, no staged file from the refused uploads
    assert await session.scalar(select(func.count()).select_from(ImportBatch)) == 1
    assert await session.scalar(select(func.count()).select_from(ImportFile)) == 0
    assert await _available(client, h, product_id) == 2


async def test_too_large_uploads_and_wrong_targets_get_clear_errors(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client)
    _, sku_id = await _product(client, h)
    # a 50 MiB file is refused before it is read (the limit is 48 MiB, ~1 M keys)
    big = b"K" * (50 * 1024 * 1024)
    r = await _stage(client, h, sku_id, big, filename="big.txt")
    assert r.status_code == 413
    assert r.json()["code"] in ("payload_too_large", "upload_too_large")
    del big
    get_settings().inventory_upload_max_bytes = 4096
    r = await _stage(client, h, sku_id, _csv(_keys(200)))
    assert r.status_code == 413
    assert r.json()["code"] == "upload_too_large"
    get_settings().inventory_max_lines = 10
    get_settings().inventory_upload_max_bytes = 40 * 1024 * 1024
    r = await _stage(client, h, sku_id, _csv(_keys(11)))
    assert r.status_code == 422
    assert r.json()["code"] == "too_many_lines"

    _, manual_sku = await _product(client, h, delivery="manual")
    r = await _stage(client, h, manual_sku, _csv(_keys(1)))
    assert r.status_code == 422
    assert r.json()["code"] == "not_card_key_product"
    r = await _stage(client, h, 999999, _csv(_keys(1)))
    assert r.status_code == 404
    assert r.json()["code"] == "unknown_sku"
    r = await client.post(
        f"{API}/imports", data={"sku_id": str(sku_id)}, headers=h
    )  # neither text nor file
    assert r.json()["code"] == "bad_upload"
    r = await _stage(client, h, sku_id, "a,b\n", separator="\n")
    assert (r.status_code, r.json()["code"]) == (422, "bad_separator")


# ---- stock, alerts, void --------------------------------------------------------------------


async def test_low_stock_alert_opens_at_the_threshold_and_closes_on_restock(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h, stock_alert_threshold=5)
    await _import(client, h, sku_id, _csv(_keys(3)))
    stock = (await client.get(f"{API}/stock/{product_id}", headers=h)).json()
    assert stock["skus"][0]["low_stock"] is True
    alert = (await session.execute(select(Alert))).scalar_one()
    assert alert.kind == "inventory.low_stock"
    assert alert.detail["available"] == 3
    await _import(client, h, sku_id, _csv(_keys(10)))
    stock = (await client.get(f"{API}/stock/{product_id}", headers=h)).json()
    assert (stock["available"], stock["skus"][0]["low_stock"]) == (13, False)
    # voiding back under the threshold opens a new alert (once)
    keys = (await client.get(f"{API}/keys", params={"sku_id": sku_id}, headers=h)).json()
    ids = [k["id"] for k in keys["items"][:9]]
    r = await client.post(f"{API}/keys/void", json={"key_ids": ids, "reason": "坏卡"}, headers=h)
    assert r.json() == {"voided": 9, "skipped": 0}
    r = await client.post(f"{API}/keys/void", json={"key_ids": ids[:2]}, headers=h)
    assert r.json() == {"voided": 0, "skipped": 2}
    stock = (await client.get(f"{API}/stock/{product_id}", headers=h)).json()
    assert (stock["available"], stock["skus"][0]["voided"], stock["skus"][0]["low_stock"]) == (
        4,
        9,
        True,
    )
    session.expire_all()
    alerts = (await session.execute(select(Alert).order_by(Alert.id))).scalars().all()
    assert [a.resolved_at is None for a in alerts] == [False, True]
    voided = await client.get(
        f"{API}/keys", params={"sku_id": sku_id, "state": "voided"}, headers=h
    )
    assert {k["id"] for k in voided.json()["items"]} == set(ids)


async def test_a_batch_voids_whole_only_while_unsold_and_voided_keys_can_come_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    keys = _keys(6)
    a = await _import(client, h, sku_id, _csv(keys[:3]))
    b = await _import(client, h, sku_id, _csv(keys[3:]))
    batch_keys = await client.get(
        f"{API}/keys", params={"sku_id": sku_id, "batch_id": a["id"]}, headers=h
    )
    assert len(batch_keys.json()["items"]) == 3
    # one key of batch b is sold: b cannot be voided as a whole
    first_of_b = select(func.min(CardKey.id)).where(CardKey.batch_id == b["id"])
    await session.execute(
        update(CardKey).where(CardKey.id == first_of_b.scalar_subquery()).values(state="sold")
    )
    await session.execute(  # as the order capability will, with the key
        update(Stock)
        .where(Stock.sku_id == sku_id)
        .values(available=Stock.available - 1, sold=Stock.sold + 1)
    )
    await session.commit()
    r = await client.post(f"{API}/imports/{b['id']}/void", json={"reason": "x"}, headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "batch_has_sold_keys"
    r = await client.post(f"{API}/imports/{a['id']}/void", json={"reason": "供应商退回"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["voided_count"]) == ("voided", 3)
    assert await _available(client, h, product_id) == 2  # b: 3 imported, 1 "sold"
    r = await client.post(f"{API}/imports/{a['id']}/void", json={}, headers=h)
    assert r.json()["code"] == "batch_state"
    # voided keys left the de-duplication index: a corrected batch can bring them back
    again = await _import(client, h, sku_id, _csv(keys[:3]))
    assert again["imported_count"] == 3


# ---- reveal and export ----------------------------------------------------------------------


async def test_reveal_needs_the_permission_and_step_up_and_is_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    h = await _staff(client)
    _, sku_id = await _product(client, h)
    keys = _keys(1)
    await _import(client, h, sku_id, _csv(keys))
    key_id = (await client.get(f"{API}/keys", params={"sku_id": sku_id}, headers=h)).json()[
        "items"
    ][0]["id"]
    r = await client.post(f"{API}/keys/{key_id}/reveal", json={}, headers=h)
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")

    admin = await make_user(roles=("super_admin",), mfa=True)
    ah = await login(client, admin)
    await session.execute(
        text("UPDATE auth_sessions SET mfa_verified_at = now() - interval '1 hour'")
    )
    await session.commit()
    r = await client.post(f"{API}/keys/{key_id}/reveal", json={"reason": "客诉核对"}, headers=ah)
    assert (r.status_code, r.json()["code"]) == (403, "step_up_required")
    await step_up(client, admin, ah)
    r = await client.post(f"{API}/keys/{key_id}/reveal", json={"reason": "客诉核对"}, headers=ah)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": key_id, "card_no": keys[0][0], "secret": keys[0][1]}
    entry = (
        await session.execute(select(AuditLog).where(AuditLog.action == "inventory.reveal_key"))
    ).scalar_one()
    assert (entry.actor_id, entry.target_id, entry.risk) == (admin.user.id, str(key_id), "high")
    assert keys[0][1] not in str(entry.after) + str(entry.detail)


async def test_export_is_step_up_audited_and_neutralises_formulas(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    _, sku_id = await _product(client, h)
    await _import(client, h, sku_id, "=HYPERLINK(1),=cmd|' /C calc'!A0\n+CN2,@SUM(1+1)-secret\n")
    r = await client.post(f"{API}/keys/export", json={"sku_id": sku_id}, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,card_no,secret")
    assert any("'=HYPERLINK(1)" in ln and "'=cmd|" in ln for ln in lines[1:])
    assert any("'+CN2" in ln and "'@SUM(1+1)-secret" in ln for ln in lines[1:])
    entry = (
        await session.execute(select(AuditLog).where(AuditLog.action == "inventory.export_keys"))
    ).scalar_one()
    assert entry.after == {"state": "available", "batch_id": None, "rows": 2}
    op = await _staff(client)
    r = await client.post(f"{API}/keys/export", json={"sku_id": sku_id}, headers=op)
    assert r.json()["code"] == "permission_denied"


# ---- who sees which import ------------------------------------------------------------------


async def test_a_key_uploader_sees_only_their_own_imports(client: httpx.AsyncClient) -> None:
    op = await _staff(client)
    product_id, sku_id = await _product(client, op)
    uploader = await make_user(roles=("key_uploader",))
    up1 = await login(client, uploader)
    up2 = await _staff(client, "key_uploader")
    targets = (await client.get(f"{API}/targets", headers=up1)).json()
    assert any(t["product_id"] == product_id for t in targets)
    mine = await _import(client, up1, sku_id, _csv(_keys(2)))
    assert (await client.get(f"{API}/imports/{mine['id']}", headers=up1)).status_code == 200
    r = await client.get(f"{API}/imports/{mine['id']}", headers=up2)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_import")
    r = await client.post(f"{API}/imports/{mine['id']}/discard", headers=up2)
    assert r.status_code == 404
    assert (await client.get(f"{API}/imports", headers=up2)).json()["items"] == []
    listed = (await client.get(f"{API}/imports", headers=op)).json()["items"]
    assert [(b["id"], b["created_by_name"]) for b in listed] == [(mine["id"], uploader.email)]
    # an uploader cannot read keys or stock
    r = await client.get(f"{API}/keys", params={"sku_id": sku_id}, headers=up1)
    assert r.status_code == 403


async def test_discarded_drafts_keep_nothing_and_cannot_be_confirmed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    r = await _stage(client, h, sku_id, _csv(_keys(3)))
    batch_id = r.json()["id"]
    assert await session.get(ImportFile, batch_id) is not None
    r = await client.post(f"{API}/imports/{batch_id}/discard", headers=h)
    assert r.json()["status"] == "discarded"
    assert await session.get(ImportFile, batch_id) is None
    r = await client.post(f"{API}/imports/{batch_id}/confirm", headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "batch_state")
    assert await _available(client, h, product_id) == 0


async def test_a_draft_without_a_check_plan_fails_clearly_and_can_be_checked_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Drafts checked before imports kept a plan (or whose plan is lost) are not imported
    blind: the batch fails ``not_checked``, keeps its file, and a new check imports it."""
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    r = await _stage(client, h, sku_id, _csv(_keys(3)))
    batch_id = r.json()["id"]
    await session.execute(
        update(ImportFile).where(ImportFile.batch_id == batch_id).values(plan=None)
    )
    await session.commit()
    r = await client.post(f"{API}/imports/{batch_id}/confirm", headers=h)
    assert (r.json()["status"], r.json()["error_code"]) == ("failed", "not_checked")
    assert await _available(client, h, product_id) == 0
    r = await client.post(f"{API}/imports/{batch_id}/revalidate", headers=h)
    assert r.json()["status"] == "validated", r.json()
    r = await client.post(f"{API}/imports/{batch_id}/confirm", headers=h)
    assert r.json()["imported_count"] == 3
    assert await _available(client, h, product_id) == 3


# ---- large imports run as jobs; racing imports ----------------------------------------------


async def _run_pending_jobs() -> None:
    async with db.unit_of_work() as s:
        rows = (
            (await s.execute(select(OutboxMessage).where(OutboxMessage.done_at.is_(None))))
            .scalars()
            .all()
        )
        pending = [(m.id, m.task) for m in rows]
    for outbox_id, task in pending:
        await run_outbox_job(registry[task], outbox_id)


async def test_large_imports_are_checked_and_imported_by_jobs_with_progress(
    client: httpx.AsyncClient,
) -> None:
    get_settings().inventory_inline_lines = 100
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    r = await _stage(client, h, sku_id, _csv(_keys(620)))
    assert r.status_code == 201
    batch = r.json()
    assert batch["status"] == "validating"
    await _run_pending_jobs()
    batch = (await client.get(f"{API}/imports/{batch['id']}", headers=h)).json()
    assert (batch["status"], batch["valid_count"]) == ("validated", 620)
    r = await client.post(f"{API}/imports/{batch['id']}/confirm", headers=h)
    assert r.json()["status"] == "queued"
    assert await _available(client, h, product_id) == 0
    await _run_pending_jobs()
    batch = (await client.get(f"{API}/imports/{batch['id']}", headers=h)).json()
    assert (batch["status"], batch["imported_count"]) == ("imported", 620)
    assert await _available(client, h, product_id) == 620
    done, total = await inventory.get_progress(batch["id"]) or (0, 0)
    assert done == total == 620


async def test_racing_confirms_never_store_a_key_twice(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Two uploads sharing keys, both checked before either is imported, confirmed at the same
    time over two connections: one imports, the other fails with ``stock_changed`` and, checked
    again, imports only its new keys."""
    h = await _staff(client)
    product_id, sku_id = await _product(client, h)
    shared, only_a, only_b = _keys(300), _keys(200), _keys(100)
    a = (await _stage(client, h, sku_id, _csv(shared + only_a))).json()
    b = (await _stage(client, h, sku_id, _csv(only_b + shared))).json()
    ra, rb = await asyncio.gather(
        client.post(f"{API}/imports/{a['id']}/confirm", headers=h),
        client.post(f"{API}/imports/{b['id']}/confirm", headers=h),
    )
    outcomes = sorted([ra.json()["status"], rb.json()["status"]])
    assert outcomes == ["failed", "imported"], (ra.text, rb.text)
    loser = a if ra.json()["status"] == "failed" else b
    assert (ra.json() if loser is a else rb.json())["error_code"] == "stock_changed"
    r = await client.post(f"{API}/imports/{loser['id']}/revalidate", headers=h)
    assert r.json()["problem_counts"] == {"in_stock": 300}
    r = await client.post(f"{API}/imports/{loser['id']}/confirm", headers=h)
    assert r.json()["status"] == "imported"
    total = await session.scalar(select(func.count()).select_from(CardKey))
    distinct = await session.scalar(select(func.count(func.distinct(CardKey.digest))))
    assert total == distinct == 600
    assert await _available(client, h, product_id) == 600


async def test_the_shop_and_the_console_show_availability_from_stock(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client)
    product_id, sku_id = await _product(client, h, status="listed", min_qty=2)
    shop = (await client.get(f"/api/v1/shop/products/{product_id}")).json()
    assert (shop["skus"][0]["available"], shop["skus"][0]["in_stock"]) == (0, False)
    await _import(client, h, sku_id, _csv(_keys(1)))
    shop = (await client.get(f"/api/v1/shop/products/{product_id}")).json()
    assert (shop["skus"][0]["available"], shop["skus"][0]["in_stock"]) == (1, False)  # min 2
    await _import(client, h, sku_id, _csv(_keys(4)))
    shop = (await client.get(f"/api/v1/shop/products/{product_id}")).json()
    assert (shop["skus"][0]["available"], shop["skus"][0]["in_stock"]) == (5, True)
    console = (await client.get(f"/api/v1/catalog/products/{product_id}", headers=h)).json()
    assert console["skus"][0]["available"] == 5
    # looping keys: one key is unlimited stock; manual delivery is always in stock
    looping_id, looping_sku = await _product(client, h, status="listed", looping_keys=True)
    await _import(client, h, looping_sku, _csv(_keys(1)))
    shop = (await client.get(f"/api/v1/shop/products/{looping_id}")).json()
    assert (shop["skus"][0]["available"], shop["skus"][0]["in_stock"]) == (None, True)
    manual_id, _ = await _product(client, h, status="listed", delivery="manual")
    shop = (await client.get(f"/api/v1/shop/products/{manual_id}")).json()
    assert (shop["skus"][0]["available"], shop["skus"][0]["in_stock"]) == (None, True)
