"""Wallet: a double-entry ledger whose entries balance and whose user balances never go
negative — in the service, under concurrency, and in the database itself; staff adjustments
with step-up and the operation log; statements and their exports; reconciliation."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.core.actor import UserKind
from kameng_api.wallet import service as wallet
from kameng_api.wallet.models import Entry, Line
from tests.support.factories import login, make_user

API = "/api/v1/wallet"
D = Decimal


async def _customer() -> int:
    return (await make_user(kind=UserKind.customer)).user.id


async def test_recharge_purchase_refund_move_money_and_the_ledger_balances(
    session: AsyncSession,
) -> None:
    uid = await _customer()
    posted = await wallet.recharge(session, uid, D("100"), payment_id=1)
    assert posted.applied
    await wallet.charge(session, uid, D("30.5"), order_id=7)
    await wallet.refund(session, uid, D("10"), ref="order:7")
    await session.commit()
    assert await wallet.balance(session, uid) == D("79.5000")
    tb = await wallet.trial_balance(session)
    assert tb.total == 0
    assert tb.lines_total == 0
    assert tb.by_kind == {
        "user": D("79.5000"),
        "gateway": D("-100.0000"),
        "revenue": D("30.5000"),
        "refunds": D("-10.0000"),
        "adjustments": D("0.0000"),
    }
    assert tb.mismatched_accounts == []
    assert tb.unbalanced_entries == []
    lines = await wallet.statement(session, uid)
    assert [(s.entry.kind, s.line.amount, s.line.balance_after) for s in lines] == [
        ("refund", D("10.0000"), D("79.5000")),
        ("purchase", D("-30.5000"), D("69.5000")),
        ("recharge", D("100.0000"), D("100.0000")),
    ]


async def test_the_same_payment_or_order_is_booked_once(session: AsyncSession) -> None:
    uid = await _customer()
    first = await wallet.recharge(session, uid, D("50"), payment_id=42)
    again = await wallet.recharge(session, uid, D("50"), payment_id=42)
    assert first.applied
    assert not again.applied
    assert again.entry.id == first.entry.id
    await wallet.charge(session, uid, D("20"), order_id=9)
    assert not (await wallet.charge(session, uid, D("20"), order_id=9)).applied
    await session.commit()
    assert await wallet.balance(session, uid) == D("30.0000")


async def test_a_debit_below_zero_is_refused_and_changes_nothing(session: AsyncSession) -> None:
    uid = await _customer()
    await wallet.recharge(session, uid, D("5"), payment_id=3)
    entries_before = (await session.execute(select(func.count()).select_from(Entry))).scalar()
    with pytest.raises(wallet.InsufficientBalance):
        await wallet.charge(session, uid, D("5.0001"), order_id=1)
    # the caller's transaction is still usable and holds no trace of the refused entry
    await session.commit()
    assert await wallet.balance(session, uid) == D("5.0000")
    assert (await session.execute(select(func.count()).select_from(Entry))).scalar() == (
        entries_before
    )
    with pytest.raises(wallet.BadAmount):
        await wallet.charge(session, uid, D("0"), order_id=2)
    with pytest.raises(wallet.BadAmount):
        await wallet.recharge(session, uid, D("-1"), payment_id=4)


async def test_concurrent_purchases_never_overdraw_a_wallet(app_db: str) -> None:
    uid = await _customer()
    async with db.unit_of_work() as s:
        await wallet.recharge(s, uid, D("100"), payment_id=1)

    async def buy(order_id: int) -> bool:
        try:
            async with db.unit_of_work() as s:
                await wallet.charge(s, uid, D("10"), order_id=order_id)
            return True
        except wallet.InsufficientBalance:
            return False

    results = await asyncio.gather(*(buy(n) for n in range(25)))
    assert sum(results) == 10
    async with db.unit_of_work() as s:
        assert await wallet.balance(s, uid) == 0
        tb = await wallet.trial_balance(s)
        assert tb.total == 0
        assert not tb.mismatched_accounts


async def test_the_database_itself_refuses_unbalanced_entries_edits_and_overdrafts(
    session: AsyncSession,
) -> None:
    uid = await _customer()
    await wallet.recharge(session, uid, D("10"), payment_id=1)
    await session.commit()
    account = await wallet.user_account(session, uid)
    await session.commit()

    # an entry whose lines do not sum to zero cannot commit
    entry_id = (
        await session.execute(
            text("INSERT INTO wallet_entries (kind) VALUES ('adjustment') RETURNING id")
        )
    ).scalar_one()
    await session.execute(
        text(
            "INSERT INTO wallet_lines (entry_id, account_id, amount, balance_after) "
            "VALUES (:e, :a, 5, 15)"
        ),
        {"e": entry_id, "a": account},
    )
    with pytest.raises(DBAPIError, match="does not balance"):
        await session.commit()
    await session.rollback()

    # booked lines and entries cannot be edited or deleted
    for sql in (
        "UPDATE wallet_lines SET amount = amount * 2",
        "DELETE FROM wallet_entries",
        "TRUNCATE wallet_lines CASCADE",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(sql))
        await session.rollback()

    # a user balance cannot go below zero, whatever writes it
    with pytest.raises(DBAPIError, match="user_balance_non_negative"):
        await session.execute(
            text("UPDATE wallet_accounts SET balance = -1 WHERE id = :a"), {"a": account}
        )
    await session.rollback()
    assert await wallet.balance(session, uid) == D("10.0000")


async def test_staff_adjustment_needs_step_up_a_reason_and_is_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    customer = await make_user(kind=UserKind.customer)
    uid = customer.user.id
    finance = await make_user(roles=("finance",), mfa=True)
    fh = await login(client, finance)

    r = await client.post(
        f"{API}/adjustments", json={"user_id": uid, "amount": "25.5", "reason": "补偿"}, headers=fh
    )
    assert r.status_code == 201, r.text
    assert r.json()["balance"] == "25.5000"
    r = await client.post(
        f"{API}/adjustments", json={"user_id": uid, "amount": "-30", "reason": "扣回"}, headers=fh
    )
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_balance")
    r = await client.post(
        f"{API}/adjustments", json={"user_id": uid, "amount": "0", "reason": "零元调整"}, headers=fh
    )
    # the schema says an adjustment is not zero: refused as the field's validation error
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert [e["loc"][-1] for e in r.json()["errors"]] == ["amount"]
    r = await client.post(f"{API}/adjustments", json={"user_id": uid, "amount": "1"}, headers=fh)
    assert r.status_code == 422  # no reason
    r = await client.post(
        f"{API}/adjustments",
        json={"user_id": 999999, "amount": "1", "reason": "nobody"},
        headers=fh,
    )
    assert (r.status_code, r.json()["code"]) == (404, "unknown_user")

    logged = (
        (await session.execute(select(AuditLog).where(AuditLog.action == "wallet.adjust")))
        .scalars()
        .all()
    )
    assert [(a.actor_id, a.target_id, a.risk, a.detail) for a in logged] == [
        (finance.user.id, str(uid), "high", "补偿")
    ]
    assert logged[0].after == {"balance": "25.5000", "amount": "25.5000"}

    # without a fresh 2FA the same request is refused
    await session.execute(
        text("UPDATE auth_sessions SET mfa_verified_at = now() - interval '1 hour'")
    )
    await session.commit()
    r = await client.post(
        f"{API}/adjustments", json={"user_id": uid, "amount": "1", "reason": "再补"}, headers=fh
    )
    assert (r.status_code, r.json()["code"]) == (403, "step_up_required")

    # the customer sees the movement in their own statement
    ch = await login(client, customer)
    assert (await client.get(f"{API}/me", headers=ch)).json() == {
        "balance": "25.5000",
        "currency": "CNY",
    }
    items = (await client.get(f"{API}/me/statement", headers=ch)).json()["items"]
    assert [(i["kind"], i["amount"], i["memo"]) for i in items] == [
        ("adjustment", "25.5000", "补偿")
    ]


async def test_statements_page_and_export_as_csv_and_xlsx(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    customer = await make_user(kind=UserKind.customer)
    uid = customer.user.id
    for n in range(1, 6):
        await wallet.recharge(session, uid, D(n), payment_id=n, memo='=HYPERLINK("x")')
    await wallet.charge(session, uid, D("2"), order_id=1)
    await session.commit()
    ch = await login(client, customer)

    first = (await client.get(f"{API}/me/statement", params={"limit": 4}, headers=ch)).json()
    assert [i["balance_after"] for i in first["items"]] == [
        "13.0000",
        "15.0000",
        "10.0000",
        "6.0000",
    ]
    rest = (
        await client.get(
            f"{API}/me/statement", params={"limit": 4, "before": first["next_before"]}, headers=ch
        )
    ).json()
    assert [i["balance_after"] for i in rest["items"]] == ["3.0000", "1.0000"]
    assert rest["next_before"] is None

    r = await client.get(f"{API}/me/statement/export", headers=ch)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][1:4] == ["类型", "金额", "余额"]
    assert [row[2] for row in rows[1:]] == [
        "-2.0000",
        "5.0000",
        "4.0000",
        "3.0000",
        "2.0000",
        "1.0000",
    ]
    assert rows[2][4] == '\'=HYPERLINK("x")'  # a formula-looking memo is neutralised

    finance = await make_user(roles=("finance",))
    fh = await login(client, finance)
    r = await client.get(
        f"{API}/accounts/{uid}/statement/export", params={"format": "xlsx"}, headers=fh
    )
    assert r.status_code == 200, r.text
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [float(v[2]) for v in values] == [-2, 5, 4, 3, 2, 1]  # numbers, not text
    assert values[1][4] == '\'=HYPERLINK("x")'
    r = await client.get(f"{API}/accounts/999999/statement/export", headers=fh)
    assert r.status_code == 404


async def test_finance_sees_accounts_the_ledger_and_a_balanced_trial_balance(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    a = await make_user(kind=UserKind.customer, email="rich@test.kameng.example")
    b = await make_user(kind=UserKind.reseller)
    await wallet.recharge(session, a.user.id, D("300"), payment_id=1)
    await wallet.recharge(session, b.user.id, D("40"), payment_id=2)
    await wallet.charge(session, b.user.id, D("15"), order_id=3)
    await session.commit()
    fh = await login(client, await make_user(roles=("finance",)))

    page = (await client.get(f"{API}/accounts", headers=fh)).json()
    assert [(i["user_id"], i["balance"]) for i in page["items"]] == [
        (a.user.id, "300.0000"),
        (b.user.id, "25.0000"),
    ]
    found = (await client.get(f"{API}/accounts", params={"q": "RICH@"}, headers=fh)).json()
    assert [i["user_id"] for i in found["items"]] == [a.user.id]

    ledger = (await client.get(f"{API}/ledger", params={"user_id": b.user.id}, headers=fh)).json()
    assert [e["kind"] for e in ledger["items"]] == ["purchase", "recharge"]
    purchase = ledger["items"][0]
    assert sorted((ln["account_kind"], ln["amount"]) for ln in purchase["lines"]) == [
        ("revenue", "15.0000"),
        ("user", "-15.0000"),
    ]
    # the shop's side keeps no running balance (no hot row for every purchase to queue on)
    assert {ln["account_kind"]: ln["balance_after"] for ln in purchase["lines"]} == {
        "revenue": None,
        "user": "25.0000",
    }
    only = (await client.get(f"{API}/ledger", params={"kind": "purchase"}, headers=fh)).json()
    assert [e["id"] for e in only["items"]] == [purchase["id"]]

    tb = (await client.get(f"{API}/trial-balance", headers=fh)).json()
    assert tb["balanced"] is True
    assert tb["by_kind"]["user"] == "325.0000"
    assert tb["by_kind"]["gateway"] == "-340.0000"
    assert tb["total"] == "0.0000"


async def test_lines_of_every_entry_sum_to_zero_in_the_table(session: AsyncSession) -> None:
    uid = await _customer()
    await wallet.recharge(session, uid, D("9.99"), payment_id=1)
    await wallet.charge(session, uid, D("9.99"), order_id=1)
    await session.commit()
    sums = (
        await session.execute(select(Line.entry_id, func.sum(Line.amount)).group_by(Line.entry_id))
    ).all()
    assert len(sums) == 2
    assert all(s == 0 for _, s in sums)
