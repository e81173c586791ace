"""purchase batches: many lane purchases in one transaction (one commit, one WAL flush)

``kameng_purchase_many(jsonb)`` runs ``kameng_purchase`` for each element of an array, each
in its own subtransaction (a refused purchase rolls back alone; the others stand), and
returns one result per element: the purchase, or ``{"error": message, "detail": …}``.
Stock slots are added to once per SKU at the end of the batch. ``kameng_purchase`` now adds
to its stock slot after the wallet (every path locks wallet rows before slot rows; the lane
sorts a batch by buyer, so batches lock wallets in one order) and can leave the slot to the
batch (``defer_stock``), and claims keys from a hint first (``claim_from``: the keys below it
were just sold; their dead index entries would otherwise be stepped over by every claim),
through a new partial index of the keys for sale.

Revision ID: 7c3e9a41d0b2
Revises: 5b1f0c7d2a91
Create Date: 2026-11-24 12:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "7c3e9a41d0b2"
down_revision: str | None = "5b1f0c7d2a91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURCHASE = r"""
CREATE OR REPLACE FUNCTION kameng_purchase(p jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    v_buyer     bigint := (p->>'buyer_id')::bigint;
    v_sku       bigint := (p->>'sku_id')::bigint;
    v_product   bigint := (p->>'product_id')::bigint;
    v_qty       int := (p->>'quantity')::int;
    v_total     numeric := (p->>'total')::numeric;
    v_limit     int := (p->>'per_user_limit')::int;
    v_slots     int := (p->>'stock_slots')::int;
    v_id        bigint;
    v_from      bigint;
    v_order     orders%ROWTYPE;
    v_keys      bigint[];
    v_wallet    bigint;
    v_revenue   bigint;
    v_after     numeric;
    v_entry     bigint;
    v_bought    bigint;
    v_outbox    bigint;
    v_user      record;
    v_idem      jsonb := p->'idem';
BEGIN
    IF p ? 'session_id' THEN  -- the lane: the token's session, read here (no extra round trip)
        SELECT u.id, u.kind, u.member_level, u.reseller_tier, u.status,
               u.must_change_password, s.revoked_at, s.expires_at
          INTO v_user
          FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = p->>'session_id';
        IF NOT FOUND OR v_user.id <> v_buyer OR v_user.revoked_at IS NOT NULL
           OR v_user.expires_at <= now() OR v_user.status <> 'active'
           OR v_user.must_change_password THEN
            RAISE EXCEPTION 'kameng:session';
        END IF;
        IF v_user.kind <> p->>'buyer_kind'
           OR v_user.member_level <> (p->>'member_level')::int
           OR v_user.reseller_tier <> (p->>'reseller_tier')::int THEN
            RAISE EXCEPTION 'kameng:stale';  -- priced for another level: price again
        END IF;
    END IF;
    IF p ? 'catalog_version'
       AND (SELECT version FROM catalog_version) <> (p->>'catalog_version')::bigint THEN
        RAISE EXCEPTION 'kameng:stale';  -- the product or its prices changed since
    END IF;
    IF v_idem IS NOT NULL THEN
        IF NOT pg_try_advisory_xact_lock(hashtext(v_idem->>'scope' || ':' || v_buyer),
                                         hashtext(v_idem->>'key')) THEN
            RAISE EXCEPTION 'kameng:idempotency_in_progress';
        END IF;
        PERFORM 1 FROM idempotency_keys
         WHERE owner_id = v_buyer AND scope = v_idem->>'scope' AND key = v_idem->>'key';
        IF FOUND THEN
            RAISE EXCEPTION 'kameng:replay';
        END IF;
    END IF;

    IF v_limit IS NOT NULL THEN  -- 限购: live orders of this product, under a lock per buyer
        PERFORM pg_advisory_xact_lock((p->>'limit_lock')::int, hashtext(v_buyer || ':' || v_product));
        SELECT coalesce(sum(quantity), 0) INTO v_bought FROM orders
         WHERE buyer_id = v_buyer AND product_id = v_product
           AND status NOT IN ('expired', 'refunded', 'failed');
        IF v_bought + v_qty > v_limit THEN
            RAISE EXCEPTION 'kameng:per_user_limit' USING DETAIL = v_bought::text;
        END IF;
    END IF;

    -- the keys first, for an order id taken now: finding none has written nothing
    v_id := nextval(pg_get_serial_sequence('orders', 'id'));
    IF (p->>'looping')::boolean THEN  -- one key sold many times: its oldest available key
        UPDATE inventory_keys SET sold_count = sold_count + v_qty, sold_at = now()
         WHERE id = (SELECT id FROM inventory_keys WHERE sku_id = v_sku
                      AND state = 'available' ORDER BY id LIMIT 1)
        RETURNING ARRAY[id] INTO v_keys;
        v_keys := coalesce(v_keys, '{}');
    ELSE
        -- From the caller's hint first (the last key it sold of this SKU): the keys below
        -- were sold a moment ago, and their index entries stay until vacuum, so a scan from
        -- the start would step over every one of them (a sale slows down as it goes). Then
        -- from the start, for any key left behind: sold out is only ever said after that.
        v_keys := '{}';
        FOREACH v_from IN ARRAY ARRAY[coalesce((p->>'claim_from')::bigint, 0), 0] LOOP
            WITH claimed AS (
                UPDATE inventory_keys SET state = 'sold', order_id = v_id, sold_count = 1,
                       sold_at = now()
                 WHERE id IN (SELECT id FROM inventory_keys WHERE sku_id = v_sku
                               AND state = 'available' AND id >= v_from ORDER BY id
                               LIMIT v_qty - cardinality(v_keys) FOR UPDATE SKIP LOCKED)
                RETURNING id)
            SELECT v_keys || coalesce(array_agg(id ORDER BY id), '{}') INTO v_keys
              FROM claimed;
            EXIT WHEN cardinality(v_keys) = v_qty OR v_from = 0;
        END LOOP;
        SELECT coalesce(array_agg(k ORDER BY k), '{}') INTO v_keys FROM unnest(v_keys) k;
    END IF;
    IF cardinality(v_keys) = 0 AND p ? 'sold_out_answer' THEN
        -- the lane's answer, stored for the key like any answer (a retry hears it again)
        IF v_idem IS NOT NULL THEN
            INSERT INTO idempotency_keys (owner_id, scope, key, request_hash, status_code, body)
            VALUES (v_buyer, v_idem->>'scope', v_idem->>'key', v_idem->>'hash', 409,
                    p->'sold_out_answer');
        END IF;
        RETURN jsonb_build_object('refused', 'sold_out');
    END IF;
    IF cardinality(v_keys) < v_qty OR cardinality(v_keys) = 0 THEN
        RAISE EXCEPTION 'kameng:sold_out' USING DETAIL = cardinality(v_keys)::text;
    END IF;

    INSERT INTO orders (id, order_no, buyer_id, product_id, sku_id, product_name, sku_name,
                        delivery_type, quantity, unit_price, total, price_rule, buyer_input,
                        status, pay_method, delivered_qty, created_at, updated_at, expires_at,
                        paid_at, delivered_at)
    VALUES (v_id, p->>'order_no', v_buyer, v_product, v_sku, p->>'product_name',
            p->>'sku_name', 'card_key', v_qty, (p->>'unit_price')::numeric, v_total,
            p->>'price_rule', p->'buyer_input', 'delivered', 'balance', v_qty, now(), now(),
            (p->>'expires_at')::timestamptz, now(), now())
    RETURNING * INTO v_order;

    -- the charge: wallet → revenue, booked once per order, never below zero
    SELECT id INTO v_wallet FROM wallet_accounts WHERE user_id = v_buyer;
    SELECT id INTO v_revenue FROM wallet_accounts WHERE kind = 'revenue';
    UPDATE wallet_accounts SET balance = balance - v_total, updated_at = now()
     WHERE id = v_wallet AND kind = 'user' AND balance - v_total >= 0
    RETURNING balance INTO v_after;
    IF v_after IS NULL THEN
        RAISE EXCEPTION 'kameng:insufficient_balance';
    END IF;
    INSERT INTO wallet_entries (kind, memo, ref_type, ref_id, dedupe)
    VALUES ('purchase', left(p->>'memo', 255), 'order', v_order.order_no,
            'purchase:order:' || v_order.id)
    RETURNING id INTO v_entry;
    INSERT INTO wallet_lines (entry_id, account_id, amount, balance_after)
    SELECT v_entry, a, amt, bal FROM (VALUES (v_wallet, -v_total, v_after),
                                             (v_revenue, v_total, NULL::numeric)) l(a, amt, bal)
     ORDER BY a;

    IF NOT (p->>'looping')::boolean AND NOT coalesce((p->>'defer_stock')::boolean, false) THEN
        -- one of the SKU's slots, not its stock row: buyers do not queue on one row. Last,
        -- after the wallet: every path takes row locks in the order wallet → slot.
        INSERT INTO inventory_stock_deltas AS d (sku_id, slot, available, sold)
        VALUES (v_sku, v_id % v_slots, -v_qty, v_qty)
        ON CONFLICT (sku_id, slot) DO UPDATE
           SET available = d.available + excluded.available, sold = d.sold + excluded.sold;
    END IF;
    INSERT INTO order_events (order_id, from_status, to_status, actor_id, reason)
    VALUES (v_order.id, NULL, 'pending_payment', v_buyer, '下单'),
           (v_order.id, 'pending_payment', 'paid', v_buyer, '余额支付'),
           (v_order.id, 'paid', 'delivered', v_buyer, '自动发卡 ' || cardinality(v_keys) || ' 张');
    INSERT INTO order_keys (order_id, key_id, seq)
    SELECT v_order.id, k, (n - 1)::smallint FROM unnest(v_keys) WITH ORDINALITY u(k, n);
    INSERT INTO outbox_messages (task, payload)
    VALUES (p->>'notify_task', jsonb_build_object('order_id', v_order.id))
    RETURNING id INTO v_outbox;
    INSERT INTO audit_log (actor_id, actor_kind, action, target_type, target_id, after, result,
                           risk, ip, user_agent, request_id)
    VALUES (v_buyer, p->>'actor_kind', 'orders.create', 'order', v_order.order_no,
            jsonb_build_object('sku_id', v_sku, 'quantity', v_qty,
                               'total', p->>'total', 'status', 'delivered'),
            'ok', 'low', (p->>'ip')::inet, p->>'user_agent', p->>'request_id');

    IF v_idem IS NOT NULL THEN  -- a retry re-reads the order (secrets never rest here)
        INSERT INTO idempotency_keys (owner_id, scope, key, request_hash, status_code, body)
        VALUES (v_buyer, v_idem->>'scope', v_idem->>'key', v_idem->>'hash', 201,
                jsonb_build_object('order_no', v_order.order_no));
    END IF;

    RETURN jsonb_build_object(
        'order', to_jsonb(v_order), 'keys', to_jsonb(v_keys), 'outbox_id', v_outbox,
        'stock_sold', CASE WHEN (p->>'looping')::boolean THEN 0 ELSE v_qty END,
        'secrets', CASE WHEN (p->>'with_secrets')::boolean THEN (
            SELECT jsonb_agg(jsonb_build_object(
                       'card_no', k.card_no, 'key_id', k.key_id, 'digest', k.digest,
                       'ct', encode(k.secret_ct, 'base64')) ORDER BY u.n)
              FROM unnest(v_keys) WITH ORDINALITY u(id, n)
              JOIN inventory_keys k ON k.id = u.id) END);
END
$fn$;
"""

PURCHASE_MANY = r"""
CREATE FUNCTION kameng_purchase_many(ps jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    v_out    jsonb := '[]';
    v_p      jsonb;
    v_r      jsonb;
    v_msg    text;
    v_detail text;
    v_state  text;
    v_sold   jsonb := '{}';  -- sku id → keys sold in this batch
    v_slot   int;
    v_sku    text;
    v_last   bigint := 0;
BEGIN
    FOR v_p IN SELECT value FROM jsonb_array_elements(ps) LOOP
        BEGIN
            -- each claim starts after the keys this batch took already (their entries
            -- are still in the index, invisible but stepped over)
            v_r := kameng_purchase(v_p || jsonb_build_object(
                'defer_stock', true,
                'claim_from', greatest((v_p->>'claim_from')::bigint, v_last)));
            v_last := greatest(v_last, (SELECT max(k::bigint)
                                          FROM jsonb_array_elements_text(v_r->'keys') k));
            IF (v_r->>'stock_sold')::int > 0 THEN
                v_sold := jsonb_set(v_sold, ARRAY[v_p->>'sku_id'], to_jsonb(
                    coalesce((v_sold->>(v_p->>'sku_id'))::int, 0) + (v_r->>'stock_sold')::int));
                v_slot := coalesce(v_slot, (v_r->'order'->>'id')::bigint
                                           % (v_p->>'stock_slots')::int);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                                    v_state = RETURNED_SQLSTATE;
            v_r := jsonb_build_object('error', v_msg, 'detail', v_detail, 'sqlstate', v_state);
        END;
        v_out := v_out || jsonb_build_array(v_r);
    END LOOP;
    FOR v_sku IN SELECT jsonb_object_keys(v_sold) ORDER BY 1 LOOP
        INSERT INTO inventory_stock_deltas AS d (sku_id, slot, available, sold)
        VALUES (v_sku::bigint, v_slot, -(v_sold->>v_sku)::int, (v_sold->>v_sku)::int)
        ON CONFLICT (sku_id, slot) DO UPDATE
           SET available = d.available + excluded.available, sold = d.sold + excluded.sold;
    END LOOP;
    RETURN v_out;
END
$fn$;
"""


def upgrade() -> None:
    # the claim's index: only keys for sale, in id order per SKU (the (sku, state, id) index
    # lost to the primary key once a sale was under way: statistics still said "all
    # available", and each claim filtered every sold key)
    op.create_index(
        "ix_inventory_keys_available",
        "inventory_keys",
        ["sku_id", "id"],
        unique=False,
        postgresql_where=sa.text("state = 'available'"),
    )
    op.execute(PURCHASE)
    op.execute(PURCHASE_MANY)


def downgrade() -> None:
    op.drop_index("ix_inventory_keys_available", table_name="inventory_keys")
    op.execute("DROP FUNCTION kameng_purchase_many(jsonb)")
    # kameng_purchase as revision 5b1f0c7d2a91 made it
    path = Path(__file__).with_name("20261124_1000_5b1f0c7d2a91_purchase_function.py")
    spec = importlib.util.spec_from_file_location("purchase_function", path)
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute(previous.PURCHASE.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
