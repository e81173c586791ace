/** Fixtures for the shop and order pages' tests: the API's shapes with sensible defaults. */
import type { AdminOrderOut, OrderOut, ShopProductOut } from '../client';
import { makeMe } from './render';

export const customer = makeMe({
  id: 8,
  kind: 'customer',
  email: 'customer@demo.kameng.example',
  display_name: '演示顾客 Customer',
  permissions: [],
  roles: [],
  mfa_enabled: false,
});

export function shopProduct(overrides: Partial<ShopProductOut> = {}): ShopProductOut {
  return {
    id: 1,
    category_id: 2,
    name: 'Steam 钱包充值卡',
    summary: '自动发卡，秒到账',
    description_html: '<p>购买后在订单页查看卡密</p>',
    images: [],
    delivery_type: 'card_key',
    min_qty: 1,
    max_qty: 100,
    per_user_limit: null,
    buyer_fields: [],
    tags: ['热卖'],
    price_from: '48.5000',
    skus: [
      { id: 11, name: '50 元', attrs: {}, unit_price: '48.5000', market_price: '49.0000', tier_prices: {}, available: 40, in_stock: true },
      { id: 12, name: '100 元', attrs: {}, unit_price: '96.5000', market_price: null, tier_prices: {}, available: 0, in_stock: false },
    ],
    ...overrides,
  };
}

export function order(overrides: Partial<OrderOut> = {}): OrderOut {
  return {
    id: 1,
    order_no: '26112308000012345678',
    status: 'delivered',
    product_id: 1,
    sku_id: 11,
    product_name: 'Steam 钱包充值卡',
    sku_name: '50 元',
    delivery_type: 'card_key',
    quantity: 2,
    unit_price: '48.5000',
    total: '97.0000',
    price_rule: 'base',
    pay_method: 'balance',
    buyer_input: {},
    delivered_qty: 2,
    awaiting_stock: false,
    refunded_total: '0.0000',
    created_at: '2026-11-23T08:00:00Z',
    expires_at: '2026-11-23T08:15:00Z',
    paid_at: '2026-11-23T08:00:00Z',
    delivered_at: '2026-11-23T08:00:01Z',
    keys: [
      { card_no: 'DEMO01010001', secret: 'AAAA-BBBB-CCCC-0001' },
      { card_no: 'DEMO01010002', secret: 'AAAA-BBBB-CCCC-0002' },
    ],
    pay_url: null,
    delivery_content: null,
    ...overrides,
  };
}

export function adminOrder(overrides: Partial<AdminOrderOut> = {}): AdminOrderOut {
  return {
    ...order({ keys: [] }),
    buyer_id: 8,
    supplier_ref: null,
    delivery_attempt: 0,
    notified_at: null,
    timeline: [
      { from_status: null, to_status: 'pending_payment', actor_id: 8, reason: '下单', created_at: '2026-11-23T08:00:00Z' },
      { from_status: 'pending_payment', to_status: 'paid', actor_id: 8, reason: '余额支付', created_at: '2026-11-23T08:00:00Z' },
      { from_status: 'paid', to_status: 'delivered', actor_id: 8, reason: '自动发卡 2 张', created_at: '2026-11-23T08:00:01Z' },
    ],
    ...overrides,
  };
}
