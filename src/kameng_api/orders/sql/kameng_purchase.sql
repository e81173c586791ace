-- A balance purchase of card keys in one call (orders/purchase.py, ``buy``; and, for what
-- the batch cannot do set-wise, kameng_purchase_many): claims the keys FOR UPDATE SKIP
-- LOCKED, charges the wallet (never below zero; the entry and its lines booked once per
-- order), records the order as delivered with its timeline and keys, adds to one of the
-- SKU's stock slots, writes the notice job and the operation-log entry. A refusal raises
-- and leaves nothing behind in the caller's savepoint.
CREATE OR REPLACE FUNCTION public.kameng_purchase(p jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
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
    IF p ? 'open' THEN  -- the open-API lane: the reseller's key instead of a session
        SELECT u.id, u.kind, u.member_level, u.reseller_tier, u.status
          INTO v_user
          FROM reseller_keys k JOIN users u ON u.id = k.user_id
         WHERE k.id = (p->'open'->>'key_id')::bigint AND k.status = 'active'
           AND coalesce(k.expires_at > now(), true)
           AND k.ip_allowlist = p->'open'->'ip_allowlist';
        IF NOT FOUND OR v_user.id <> v_buyer OR v_user.status <> 'active'
           OR v_user.kind <> 'reseller' THEN
            RAISE EXCEPTION 'kameng:key';
        END IF;
        IF v_user.kind <> p->>'buyer_kind'
           OR v_user.member_level <> (p->>'member_level')::int
           OR v_user.reseller_tier <> (p->>'reseller_tier')::int THEN
            RAISE EXCEPTION 'kameng:stale';
        END IF;
        -- one order per (reseller, out_trade_no): the route's lock (open_orders.place)
        IF NOT pg_try_advisory_xact_lock((p->'open'->>'lock')::int,
                                         hashtext(v_buyer || ':' || (p->'open'->>'out_trade_no'))) THEN
            RAISE EXCEPTION 'kameng:idempotency_in_progress';
        END IF;
        PERFORM 1 FROM open_orders
         WHERE user_id = v_buyer AND out_trade_no = p->'open'->>'out_trade_no';
        IF FOUND THEN
            RAISE EXCEPTION 'kameng:replay';
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
    IF NOT coalesce((p->>'defer_notify')::boolean, false) THEN  -- else one job per batch
        INSERT INTO outbox_messages (task, payload)
        VALUES (p->>'notify_task', jsonb_build_object('order_id', v_order.id))
        RETURNING id INTO v_outbox;
    END IF;
    INSERT INTO audit_log (actor_id, actor_kind, action, target_type, target_id, after, result,
                           risk, ip, user_agent, request_id)
    VALUES (v_buyer, p->>'actor_kind', 'orders.create', 'order', v_order.order_no,
            jsonb_build_object('sku_id', v_sku, 'quantity', v_qty,
                               'total', p->>'total', 'status', 'delivered'),
            'ok', 'low', (p->>'ip')::inet, p->>'user_agent', p->>'request_id');

    IF p ? 'open' THEN
        INSERT INTO open_orders (order_id, user_id, out_trade_no, request_hash, key_id,
                                 callback_url, created_at)
        VALUES (v_order.id, v_buyer, p->'open'->>'out_trade_no', p->'open'->>'hash',
                (p->'open'->>'key_id')::bigint, p->'open'->>'callback_url', now());
    END IF;
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
$function$;
