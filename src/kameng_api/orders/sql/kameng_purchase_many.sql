-- A batch of balance purchases of card keys in one transaction (the purchase lane's group
-- commit, orders/lane.py through orders/purchase.py; the open-API lane's too,
-- resellers/lane.py, whose purchases carry an 'open' check and get an open_orders row):
-- the common case for the whole batch
-- at once, one statement per table (batch rows found again by ctid), kameng_purchase for
-- the rest; answers each purchase with its order id, keys and the transaction's time. Hash
-- and merge joins and sequential scans are off: the batch's temporary table has no
-- statistics. docs/flash-sale.md tells how it got here.
CREATE OR REPLACE FUNCTION public.kameng_purchase_many(ps jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_seqscan TO 'off'
 SET jit TO 'off'
AS $function$
DECLARE
    v_version  bigint := (SELECT version FROM catalog_version);
    v_revenue  bigint := (SELECT id FROM wallet_accounts WHERE kind = 'revenue');
    v_lock     record;
    v_sku      bigint;
    v_need     int;
    v_from     bigint;
    v_start    bigint;
    v_ids      bigint[];
    v_fitted   int;
    v_last     bigint := 0;
    v_e        record;
    v_r        jsonb;
    v_msg      text;
    v_detail   text;
    v_state    text;
    v_orders   bigint[];
    v_task     text;
    v_outbox   bigint;
    v_out      jsonb;
    v_sold     int;
    v_slot     bigint;
    v_slots    int;
    v_try      int;
BEGIN
    -- the batch, one row per purchase; kept per connection, emptied at every commit
    IF to_regclass('pg_temp.kameng_batch') IS NULL THEN
        CREATE TEMP TABLE kameng_batch (
            n        bigint NOT NULL,   -- position in the batch (the answers keep it)
            p        jsonb NOT NULL,    -- what the caller sent (see orders/purchase.py)
            setwise  boolean NOT NULL,  -- done with the batch, else by kameng_purchase
            buyer    bigint NOT NULL,
            sku      bigint NOT NULL,
            qty      int NOT NULL,
            total    numeric NOT NULL,
            wallet   bigint,
            err      text,              -- a refusal: 'kameng:<code>'
            detail   text,
            order_id bigint,
            keys     bigint[] NOT NULL DEFAULT '{}',
            after    numeric,           -- the wallet's balance after the charge
            entry    bigint,            -- the ledger entry: set once the purchase is made
            res      jsonb              -- the answer
        ) ON COMMIT DELETE ROWS;
    END IF;
    INSERT INTO kameng_batch (n, p, setwise, buyer, sku, qty, total)
    SELECT n, v,
           (v ? 'session_id' OR v ? 'open') AND NOT (v->>'looping')::boolean
             AND (v->>'per_user_limit') IS NULL AND (v->>'quantity')::int >= 1
             AND row_number() OVER (PARTITION BY v->>'buyer_id' ORDER BY n) = 1,
           (v->>'buyer_id')::bigint, (v->>'sku_id')::bigint, (v->>'quantity')::int,
           (v->>'total')::numeric
      FROM jsonb_array_elements(ps) WITH ORDINALITY e(v, n);

    -- locks, in the one order every path uses: limits, wallets (the slot comes last)
    FOR v_lock IN SELECT DISTINCT (p->>'limit_lock')::int AS a,
                         hashtext(buyer || ':' || (p->>'product_id')) AS b
                    FROM kameng_batch WHERE (p->>'per_user_limit') IS NOT NULL ORDER BY 1, 2
    LOOP
        PERFORM pg_advisory_xact_lock(v_lock.a, v_lock.b);
    END LOOP;
    PERFORM 1 FROM wallet_accounts
     WHERE user_id IN (SELECT buyer FROM kameng_batch) AND kind = 'user'
     ORDER BY id FOR UPDATE;

    -- what the lane read from its caches and the token (or the open-API key), as
    -- kameng_purchase checks it; the balance too (the wallets are locked); then an order id
    -- for each purchase still on
    WITH c AS (
        SELECT e.ctid AS tid, w.id AS wallet, CASE
                 WHEN u.id IS NULL OR u.id <> e.buyer OR u.revoked_at IS NOT NULL
                      OR u.expires_at <= now() OR u.status <> 'active'
                      OR u.must_change_password
                 THEN CASE WHEN e.p ? 'open' THEN 'kameng:key' ELSE 'kameng:session' END
                 WHEN u.kind <> e.p->>'buyer_kind'
                      OR u.member_level <> (e.p->>'member_level')::int
                      OR u.reseller_tier <> (e.p->>'reseller_tier')::int
                      OR (e.p ? 'catalog_version'
                          AND (e.p->>'catalog_version')::bigint <> v_version) THEN 'kameng:stale'
                 WHEN e.p ? 'idem' AND NOT pg_try_advisory_xact_lock(
                          hashtext(e.p->'idem'->>'scope' || ':' || e.buyer),
                          hashtext(e.p->'idem'->>'key')) THEN 'kameng:idempotency_in_progress'
                 WHEN i.seen THEN 'kameng:replay'
                 -- an open-API order: the route's lock per (reseller, out_trade_no), free,
                 -- and no order with that number yet
                 WHEN e.p ? 'open' AND NOT pg_try_advisory_xact_lock(
                          (e.p->'open'->>'lock')::int,
                          hashtext(e.buyer || ':' || (e.p->'open'->>'out_trade_no')))
                      THEN 'kameng:idempotency_in_progress'
                 WHEN o.seen THEN 'kameng:replay'
                 WHEN w.id IS NULL OR w.balance - e.total < 0 THEN 'kameng:insufficient_balance'
               END AS err
          FROM kameng_batch e
          -- each row looked up by its key (LATERAL: never a scan of a whole table)
          LEFT JOIN LATERAL (
                SELECT u.id, u.kind, u.member_level, u.reseller_tier, u.status,
                       u.must_change_password, s.revoked_at, s.expires_at
                  FROM auth_sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = e.p->>'session_id'
                 UNION ALL  -- or the open-API key: usable, the allowlist the lane checked
                SELECT u.id, u.kind, u.member_level, u.reseller_tier, u.status,
                       u.kind <> 'reseller', NULL, k.expires_at
                  FROM reseller_keys k JOIN users u ON u.id = k.user_id
                 WHERE e.p ? 'open' AND k.id = (e.p->'open'->>'key_id')::bigint
                   AND k.status = 'active' AND coalesce(k.expires_at > now(), true)
                   AND k.ip_allowlist = e.p->'open'->'ip_allowlist') u ON true
          LEFT JOIN LATERAL (
                SELECT true AS seen FROM idempotency_keys i
                 WHERE e.p ? 'idem' AND i.owner_id = e.buyer
                   AND i.scope = e.p->'idem'->>'scope' AND i.key = e.p->'idem'->>'key') i
                 ON true
          LEFT JOIN LATERAL (
                SELECT true AS seen FROM open_orders o
                 WHERE e.p ? 'open' AND o.user_id = e.buyer
                   AND o.out_trade_no = e.p->'open'->>'out_trade_no') o ON true
          LEFT JOIN LATERAL (
                SELECT id, balance FROM wallet_accounts
                 WHERE user_id = e.buyer AND kind = 'user') w ON true
         WHERE e.setwise)
    UPDATE kameng_batch e
       SET err = c.err, wallet = c.wallet,
           order_id = CASE WHEN c.err IS NULL
                           THEN nextval(pg_get_serial_sequence('orders', 'id')) END
      FROM c WHERE e.ctid = c.tid;

    -- the keys, per SKU, for the purchases in batch order: from the highest hint (keys
    -- below it were sold a moment ago; their index entries stay until vacuum), then from
    -- the start for any left behind. A purchase gets keys only when all of its keys are
    -- there; keys locked and not given stay for sale (released at commit).
    FOR v_sku, v_need, v_from IN
        SELECT sku, sum(qty)::int, greatest(max((p->>'claim_from')::bigint), 0)
          FROM kameng_batch WHERE setwise AND err IS NULL GROUP BY sku ORDER BY sku
    LOOP
        v_ids := '{}';
        FOREACH v_start IN ARRAY ARRAY[v_from, 0] LOOP
            v_ids := v_ids || ARRAY(
                SELECT id FROM inventory_keys
                 WHERE sku_id = v_sku AND state = 'available' AND id >= v_start
                   AND id <> ALL (v_ids)
                 ORDER BY id LIMIT v_need - cardinality(v_ids) FOR UPDATE SKIP LOCKED);
            EXIT WHEN cardinality(v_ids) >= v_need OR v_start = 0;
        END LOOP;
        WITH o AS (SELECT ctid AS tid, qty, sum(qty) OVER (ORDER BY n) AS hi FROM kameng_batch
                    WHERE setwise AND err IS NULL AND sku = v_sku)
        UPDATE kameng_batch e
           SET keys = ARRAY(SELECT k FROM unnest(v_ids) WITH ORDINALITY u(k, r)
                             WHERE r > o.hi - o.qty AND r <= o.hi ORDER BY k)
          FROM o WHERE e.ctid = o.tid AND o.hi <= cardinality(v_ids);
        SELECT coalesce(sum(qty), 0), max(k) INTO v_fitted, v_from
          FROM kameng_batch e, LATERAL (SELECT max(k) AS k FROM unnest(e.keys) k) m
         WHERE setwise AND err IS NULL AND sku = v_sku AND cardinality(keys) > 0;
        v_last := greatest(v_last, v_from);
        UPDATE inventory_keys k
           SET state = 'sold', order_id = e.order_id, sold_count = 1, sold_at = now()
          FROM kameng_batch e, unnest(e.keys) u(id)
         WHERE e.setwise AND e.err IS NULL AND e.sku = v_sku AND k.id = u.id;
        -- none left for the rest: the lane's sold-out answer (stored below), or a refusal
        -- saying how many keys there were (the route then judges the purchase itself)
        UPDATE kameng_batch
           SET res = CASE WHEN cardinality(v_ids) = v_fitted AND p ? 'sold_out_answer'
                          THEN '{"refused": "sold_out"}'::jsonb END,
               err = CASE WHEN NOT (cardinality(v_ids) = v_fitted AND p ? 'sold_out_answer')
                          THEN 'kameng:sold_out' END,
               detail = (cardinality(v_ids) - v_fitted)::text
         WHERE setwise AND err IS NULL AND sku = v_sku AND cardinality(keys) = 0;
    END LOOP;

    -- the charge: wallet → revenue, one entry of two lines per order (its id drawn here)
    WITH w AS (
        UPDATE wallet_accounts a SET balance = a.balance - e.total, updated_at = now()
          FROM kameng_batch e
         WHERE a.id = e.wallet AND a.kind = 'user'
           AND e.setwise AND e.err IS NULL AND cardinality(e.keys) > 0
        RETURNING e.ctid AS tid, a.balance)
    UPDATE kameng_batch e
       SET after = w.balance, entry = nextval(pg_get_serial_sequence('wallet_entries', 'id'))
      FROM w WHERE e.ctid = w.tid;
    INSERT INTO wallet_entries (id, kind, memo, ref_type, ref_id, dedupe)
    SELECT entry, 'purchase', left(p->>'memo', 255), 'order', p->>'order_no',
           'purchase:order:' || order_id
      FROM kameng_batch WHERE entry IS NOT NULL ORDER BY n;
    INSERT INTO wallet_lines (entry_id, account_id, amount, balance_after)
    SELECT e.entry, l.a, l.amt, l.bal
      FROM kameng_batch e,
           LATERAL (VALUES (e.wallet, -e.total, e.after),
                           (v_revenue, e.total, NULL::numeric)) l(a, amt, bal)
     WHERE e.entry IS NOT NULL ORDER BY e.entry, l.a;

    -- the orders, delivered, and the answers: the order's id and its keys (with their
    -- ciphertexts for the lane) — the caller sent everything else the order holds
    INSERT INTO orders (id, order_no, buyer_id, product_id, sku_id, product_name, sku_name,
                        delivery_type, quantity, unit_price, total, price_rule, buyer_input,
                        status, pay_method, delivered_qty, created_at, updated_at, expires_at,
                        paid_at, delivered_at)
    SELECT order_id, p->>'order_no', buyer, (p->>'product_id')::bigint, sku,
           p->>'product_name', p->>'sku_name', 'card_key', qty, (p->>'unit_price')::numeric,
           total, p->>'price_rule', p->'buyer_input', 'delivered', 'balance', qty, now(), now(),
           (p->>'expires_at')::timestamptz, now(), now()
      FROM kameng_batch WHERE entry IS NOT NULL ORDER BY n;
    UPDATE kameng_batch e
       SET res = jsonb_build_object(
               'order_id', e.order_id, 'keys', to_jsonb(e.keys), 'stock_sold', e.qty,
               'secrets', CASE WHEN (e.p->>'with_secrets')::boolean THEN (
                   SELECT jsonb_agg(jsonb_build_object(
                              'card_no', k.card_no, 'key_id', k.key_id, 'digest', k.digest,
                              'ct', encode(k.secret_ct, 'base64')) ORDER BY u.i)
                     FROM unnest(e.keys) WITH ORDINALITY u(id, i)
                     JOIN inventory_keys k ON k.id = u.id) END)
     WHERE e.entry IS NOT NULL;
    INSERT INTO order_events (order_id, from_status, to_status, actor_id, reason)
    SELECT e.order_id, ev.f, ev.t, e.buyer, ev.r
      FROM kameng_batch e,
           LATERAL (VALUES (1, NULL, 'pending_payment', '下单'),
                           (2, 'pending_payment', 'paid', '余额支付'),
                           (3, 'paid', 'delivered', '自动发卡 ' || e.qty || ' 张')) ev(s, f, t, r)
     WHERE e.entry IS NOT NULL ORDER BY e.n, ev.s;
    INSERT INTO order_keys (order_id, key_id, seq)
    SELECT e.order_id, u.k, (u.i - 1)::smallint
      FROM kameng_batch e, unnest(e.keys) WITH ORDINALITY u(k, i)
     WHERE e.entry IS NOT NULL ORDER BY e.n, u.i;
    INSERT INTO open_orders (order_id, user_id, out_trade_no, request_hash, key_id,
                             callback_url, created_at)
    SELECT order_id, buyer, p->'open'->>'out_trade_no', p->'open'->>'hash',
           (p->'open'->>'key_id')::bigint, p->'open'->>'callback_url', now()
      FROM kameng_batch WHERE entry IS NOT NULL AND p ? 'open' ORDER BY n;
    INSERT INTO audit_log (actor_id, actor_kind, action, target_type, target_id, after,
                           result, risk, ip, user_agent, request_id)
    SELECT buyer, p->>'actor_kind', 'orders.create', 'order', p->>'order_no',
           jsonb_build_object('sku_id', sku, 'quantity', qty, 'total', p->>'total',
                              'status', 'delivered'),
           'ok', 'low', (p->>'ip')::inet, p->>'user_agent', p->>'request_id'
      FROM kameng_batch WHERE entry IS NOT NULL ORDER BY n;
    -- each key's answer, stored before the one-by-one purchases run (a second purchase
    -- with the same key in this batch is then a replay)
    INSERT INTO idempotency_keys (owner_id, scope, key, request_hash, status_code, body)
    SELECT buyer, p->'idem'->>'scope', p->'idem'->>'key', p->'idem'->>'hash',
           CASE WHEN entry IS NOT NULL THEN 201 ELSE 409 END,
           CASE WHEN entry IS NOT NULL THEN jsonb_build_object('order_no', p->>'order_no')
                ELSE p->'sold_out_answer' END
      FROM kameng_batch
     WHERE setwise AND p ? 'idem' AND (entry IS NOT NULL OR res ? 'refused')
     ORDER BY n;
    UPDATE kameng_batch
       SET res = jsonb_build_object('error', err, 'detail', detail, 'sqlstate', 'P0001')
     WHERE setwise AND err IS NOT NULL;

    -- the rest, one by one, each in its own subtransaction (one refusal fails only itself)
    FOR v_e IN SELECT n, p FROM kameng_batch WHERE NOT setwise ORDER BY n LOOP
        BEGIN
            v_r := kameng_purchase(v_e.p || jsonb_build_object(
                'defer_stock', true, 'defer_notify', true,
                'claim_from', greatest((v_e.p->>'claim_from')::bigint, v_last)));
            IF v_r ? 'order' THEN  -- the same answer as a purchase done with the batch
                v_r := (v_r - 'order' - 'outbox_id')
                       || jsonb_build_object('order_id', v_r->'order'->'id');
            END IF;
            v_last := greatest(v_last, (SELECT max(k::bigint)
                                          FROM jsonb_array_elements_text(v_r->'keys') k));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                                    v_state = RETURNED_SQLSTATE;
            v_r := jsonb_build_object('error', v_msg, 'detail', v_detail, 'sqlstate', v_state);
        END;
        UPDATE kameng_batch SET res = v_r WHERE n = v_e.n;
    END LOOP;

    -- last: the stock (one slot per SKU, after the wallets) — a slot no other batch of
    -- this moment holds (two batches in one slot wait for each other's commit): from the
    -- batch's first order id on, the first one this transaction can take; then one notice
    -- job for the batch
    FOR v_sku, v_sold, v_slot, v_slots IN
        SELECT sku, sum((res->>'stock_sold')::int), min((res->>'order_id')::bigint),
               min((p->>'stock_slots')::int)
          FROM kameng_batch WHERE (res->>'stock_sold')::int > 0 GROUP BY sku ORDER BY sku
    LOOP
        v_try := 0;  -- 0x73746b73: 'stks', the slots' advisory lock space
        WHILE v_try < v_slots - 1 AND NOT pg_try_advisory_xact_lock(
                  x'73746b73'::int, hashtext(v_sku || ':' || (v_slot + v_try) % v_slots)) LOOP
            v_try := v_try + 1;  -- all taken (unlikely): the last one, waiting as before
        END LOOP;
        INSERT INTO inventory_stock_deltas AS d (sku_id, slot, available, sold)
        VALUES (v_sku, (v_slot + v_try) % v_slots, -v_sold, v_sold)
        ON CONFLICT (sku_id, slot) DO UPDATE
           SET available = d.available + excluded.available, sold = d.sold + excluded.sold;
    END LOOP;
    SELECT array_agg((res->>'order_id')::bigint ORDER BY n), min(p->>'notify_task')
      INTO v_orders, v_task
      FROM kameng_batch WHERE res ? 'order_id';
    IF cardinality(v_orders) > 0 THEN
        INSERT INTO outbox_messages (task, payload)
        VALUES (v_task, jsonb_build_object('order_ids', to_jsonb(v_orders)))
        RETURNING id INTO v_outbox;
    END IF;
    SELECT jsonb_agg(res ORDER BY n) INTO v_out FROM kameng_batch;
    RETURN jsonb_build_object('results', v_out, 'outbox_id', v_outbox, 'task', v_task,
                              'at', now());
END
$function$;
