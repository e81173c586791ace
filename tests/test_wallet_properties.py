"""Property: whatever sequence of recharges (some replayed), purchases (some refused),
refunds and staff adjustments happens, after every step the ledger sums to zero, every
balance equals the sum of its lines, and each wallet holds exactly what a simple model says."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.actor import Actor, UserKind
from kameng_api.wallet import service as wallet
from tests.support.factories import make_user

_ids = itertools.count(1)  # payment / order / refund references, unique across examples

amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4)
steps = st.lists(
    st.tuples(
        st.sampled_from(["recharge", "replay", "charge", "refund", "credit", "debit"]),
        st.integers(min_value=0, max_value=2),  # which of three wallets
        amounts,
    ),
    min_size=1,
    max_size=20,
)
_users: dict[str, list[int]] = {}


async def _people(db_key: str) -> tuple[list[int], int]:
    """Three customers and a finance staff member, made once per test database."""
    if db_key not in _users:
        _users[db_key] = [
            *[(await make_user(kind=UserKind.customer)).user.id for _ in range(3)],
            (await make_user(roles=("finance",))).user.id,
        ]
    *customers, staff = _users[db_key]
    return customers, staff


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=steps)
async def test_the_ledger_balances_after_every_step(
    app_db: str, session: AsyncSession, ops: list[tuple[str, int, Decimal]]
) -> None:
    users, staff = await _people(app_db)
    actor = Actor(user_id=staff, kind=UserKind.staff, session_id="property")
    model = {u: await wallet.balance(session, u) for u in users}
    last_recharge: tuple[int, int, Decimal] | None = None

    for op, who, amount in ops:
        uid = users[who]
        ref = next(_ids)
        if op == "recharge" or (op == "replay" and last_recharge is None):
            await wallet.recharge(session, uid, amount, payment_id=ref)
            model[uid] += amount
            last_recharge = (uid, ref, amount)
        elif op == "replay":  # the same payment notice again: nothing moves
            assert last_recharge is not None
            r_uid, r_ref, r_amount = last_recharge
            posted = await wallet.recharge(session, r_uid, r_amount, payment_id=r_ref)
            assert not posted.applied
        elif op == "charge":
            if model[uid] >= amount:
                await wallet.charge(session, uid, amount, order_id=ref)
                model[uid] -= amount
            else:
                try:
                    await wallet.charge(session, uid, amount, order_id=ref)
                except wallet.InsufficientBalance:
                    pass
                else:
                    raise AssertionError("a purchase above the balance went through")
        elif op == "refund":
            await wallet.refund(session, uid, amount, ref=f"refund:{ref}")
            model[uid] += amount
        elif op == "credit":
            await wallet.adjust(session, actor, uid, amount, "property credit")
            model[uid] += amount
        else:  # debit
            try:
                await wallet.adjust(session, actor, uid, -amount, "property debit")
                model[uid] -= amount
            except wallet.InsufficientBalance:
                assert model[uid] < amount
        await session.commit()

        tb = await wallet.trial_balance(session)
        assert tb.total == 0
        assert tb.lines_total == 0
        assert tb.mismatched_accounts == []
        assert tb.unbalanced_entries == []
        for u in users:
            got = await wallet.balance(session, u)
            assert got == model[u]
            assert got >= 0
