import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { browser } from '../../browser';
import type { OrderIn, OrderOut, ShopProductOut } from '../../client';
import { customer, order, shopProduct } from '../../test/orders';
import { jsonResponse, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

interface Sent {
  key: string | null;
  body: OrderIn;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The shop API for one product; POST /orders goes to `create` (its requests are in `sent`). */
function shopApi(product: ShopProductOut, create: (sent: Sent) => Response | Promise<Response>, balance = '200.0000') {
  const sent: Sent[] = [];
  const orders = new Map<string, OrderOut>();
  const answer = async (request: Request) => {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === '/api/v1/shop/categories') return jsonResponse([]);
    if (path === '/api/v1/shop/products') return jsonResponse([product]);
    if (path === `/api/v1/shop/products/${product.id}`) return jsonResponse(product);
    const quote = /^\/api\/v1\/shop\/skus\/(\d+)\/quote$/.exec(path);
    if (quote) {
      const sku = product.skus.find((s) => s.id === Number(quote[1]));
      const n = Number(url.searchParams.get('quantity') ?? '1');
      if (!sku) return problemResponse(404, 'not_found');
      return jsonResponse({ sku_id: sku.id, quantity: n, unit_price: sku.unit_price, total: (Number(sku.unit_price) * n).toFixed(4), rule: 'base' });
    }
    if (path === '/api/v1/wallet/me') return jsonResponse({ balance, currency: 'CNY' });
    if (path === '/api/v1/orders' && request.method === 'POST') {
      const s = { key: request.headers.get('idempotency-key'), body: (await request.json()) as OrderIn };
      sent.push(s);
      const answered = await create(s);
      if (answered.status === 201) {
        const out = (await answered.clone().json()) as OrderOut;
        orders.set(out.order_no, out);
      }
      return answered;
    }
    const mine = /^\/api\/v1\/orders\/(\d+)$/.exec(path);
    if (mine?.[1] && orders.has(mine[1])) return jsonResponse(orders.get(mine[1]));
    return undefined;
  };
  return { answer, sent };
}

describe('商城 and checkout', () => {
  it('a customer picks a SKU and a quantity, sees the API price, pays by balance and lands on the order with its keys', async () => {
    const api = shopApi(shopProduct(), () => jsonResponse(order(), { status: 201 }));
    stubApi(api.answer, { me: customer });
    const { router } = renderApp('/shop');

    // 商城 is one of the customer's own pages; the product card shows their price
    const menu = await screen.findByTestId('module-menu');
    expect(within(menu).getAllByRole('menuitem').map((item) => item.textContent)).toEqual(['商城', '我的订单', '我的余额', '我的安全']);
    const card = await screen.findByTestId('shop-product-1');
    expect(card).toHaveTextContent('Steam 钱包充值卡');
    expect(screen.getByTestId('shop-price-1')).toHaveTextContent('¥48.50 起');
    fireEvent.click(screen.getByTestId('shop-buy-1'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/shop/1'));

    // the checkout: the sold-out SKU cannot be picked; the total comes from the quote
    await waitFor(() => expect(screen.getByTestId('checkout-total')).toHaveTextContent('¥48.50'));
    expect(screen.getByTestId('sku-option-12')).toBeDisabled();
    await waitFor(() => expect(screen.getByTestId('checkout-balance')).toHaveTextContent('余额 ¥200.00'));
    fireEvent.change(screen.getByTestId('checkout-quantity'), { target: { value: '2' } });
    await waitFor(() => expect(screen.getByTestId('checkout-total')).toHaveTextContent('¥97.00'));
    expect(screen.getByTestId('checkout-submit')).toHaveTextContent('立即购买');
    fireEvent.click(screen.getByTestId('checkout-submit'));

    // the order page with the keys, each with a copy button
    await waitFor(() => expect(router.state.location.pathname).toBe('/account/orders/26112308000012345678'));
    expect(await screen.findByTestId('order-status')).toHaveTextContent('已发货');
    expect(screen.getByTestId('key-secret-1')).toHaveTextContent('AAAA-BBBB-CCCC-0001');
    expect(screen.getByTestId('key-card-no-2')).toHaveTextContent('DEMO01010002');
    expect(within(screen.getByTestId('key-row-1')).getAllByRole('button', { name: /复制|Copy/ })).toHaveLength(2);
    expect(screen.getByTestId('order-total')).toHaveTextContent('¥97.00');

    expect(api.sent).toHaveLength(1);
    expect(api.sent[0]?.key).toMatch(UUID);
    expect(api.sent[0]?.body).toEqual({ sku_id: 11, quantity: 2, pay_method: 'balance', buyer_input: {} });
  }, 60_000);

  it('submits once however often it is clicked; a retry after no answer keeps its Idempotency-Key, after a refusal gets a new one; refusals are explained', async () => {
    let drop: (e: Error) => void = () => undefined;
    const answers: (() => Response | Promise<Response>)[] = [
      () => new Promise<Response>((_, reject) => (drop = reject)), // held, then: no answer at all
      () => problemResponse(409, 'sold_out', { detail: 'Sold out.' }),
      () => problemResponse(409, 'insufficient_balance', { detail: '余额不足 (the balance is too low)' }),
      () => problemResponse(422, 'per_user_limit', { detail: '每人限购 2 件，您已购买 2 件 (limit 2 per buyer)' }),
    ];
    const api = shopApi(shopProduct(), () => (answers.shift() ?? (() => problemResponse(500, 'internal_error')))(), '10.0000');
    stubApi(api.answer, { me: customer });
    renderApp('/shop/1');

    await waitFor(() => expect(screen.getByTestId('checkout-total')).toHaveTextContent('¥48.50'));
    // the balance does not cover it: said before buying, with a way to top up
    expect(await screen.findByTestId('balance-short')).toHaveTextContent('余额不足，请先充值或选择在线支付');

    const submit = screen.getByTestId('checkout-submit');
    fireEvent.click(submit);
    await waitFor(() => expect(api.sent).toHaveLength(1));
    await waitFor(() => expect(submit).toHaveClass('ant-btn-loading'));
    fireEvent.click(submit);
    fireEvent.click(submit);
    drop(new TypeError('Failed to fetch')); // the connection dropped: no answer
    expect(await screen.findByTestId('checkout-error')).toHaveTextContent('无法连接服务器');
    expect(api.sent).toHaveLength(1);

    // the same attempt again: the same key (the API would answer the first one's result)
    fireEvent.click(screen.getByTestId('checkout-submit'));
    await waitFor(() => expect(screen.getByTestId('checkout-error')).toHaveTextContent('库存不足：该规格已售罄或剩余数量不够'));
    expect(api.sent[1]?.key).toBe(api.sent[0]?.key);

    // after a refusal, trying again is a new attempt with a new key
    fireEvent.click(screen.getByTestId('checkout-submit'));
    await waitFor(() => expect(screen.getByTestId('checkout-error')).toHaveTextContent('余额不足：请先充值，或改用在线支付'));
    expect(api.sent[2]?.key).not.toBe(api.sent[1]?.key);
    expect(within(screen.getByTestId('checkout-error')).getByRole('link')).toHaveAttribute('href', '/account/wallet');

    fireEvent.click(screen.getByTestId('checkout-submit'));
    await waitFor(() => expect(screen.getByTestId('checkout-error')).toHaveTextContent('每人限购 2 件，您已购买 2 件'));
    expect(new Set(api.sent.map((s) => s.key)).size).toBe(3);
    expect(api.sent.every((s) => UUID.test(s.key ?? ''))).toBe(true);
  }, 60_000);

  it('the buyer fields are checked before sending and by the API; online payment goes to the pay URL', async () => {
    const leaveTo = vi.spyOn(browser, 'leaveTo').mockImplementation(() => undefined);
    const product = shopProduct({
      id: 2,
      name: '王者荣耀 点券直充',
      delivery_type: 'direct_recharge',
      buyer_fields: [
        { key: 'account', label: '游戏账号', type: 'text', required: true, max_length: 32, options: [] },
        { key: 'region', label: '区服', type: 'select', required: true, max_length: 64, options: ['安卓QQ', '苹果QQ'] },
        { key: 'email', label: '通知邮箱', type: 'email', required: false, max_length: 64, options: [] },
      ],
      skus: [{ id: 21, name: '60 点券', attrs: {}, unit_price: '6.0000', market_price: null, tier_prices: {}, available: null, in_stock: true }],
    });
    const payUrl = 'http://127.0.0.1/epay-sim/submit.php?out_trade_no=P1&sign=x';
    const answers = [
      () =>
        problemResponse(422, 'bad_buyer_input', {
          detail: '下单信息有误 (check the buyer input)',
          errors: [{ loc: ['body', 'buyer_input', 'account'], msg: '该账号不存在 (no such account)', type: 'pattern' }],
        }),
      () => jsonResponse(order({ order_no: '26112308000099990000', status: 'pending_payment', pay_method: 'epay', pay_url: payUrl, keys: [] }), { status: 201 }),
    ];
    const api = shopApi(product, () => (answers.shift() ?? (() => problemResponse(500, 'internal_error')))());
    stubApi(api.answer, { me: customer });
    renderApp('/shop/2');

    await waitFor(() => expect(screen.getByTestId('checkout-total')).toHaveTextContent('¥6.00'));
    fireEvent.click(screen.getByTestId('checkout-submit'));
    expect(await screen.findByText('请填写游戏账号')).toBeInTheDocument();
    expect(await screen.findByText('请选择区服')).toBeInTheDocument();

    fireEvent.change(screen.getByTestId('buyer-field-account'), { target: { value: ' 12345678 ' } });
    fireEvent.change(screen.getByTestId('buyer-field-email'), { target: { value: 'not-an-email' } });
    fireEvent.mouseDown(within(screen.getByTestId('buyer-field-region')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('苹果QQ'));
    fireEvent.click(screen.getByTestId('checkout-submit'));
    expect(await screen.findByText('邮箱格式不对')).toBeInTheDocument();
    expect(api.sent).toHaveLength(0); // nothing reached the API yet

    // the API's own check: its problem shows under the field it names
    fireEvent.change(screen.getByTestId('buyer-field-email'), { target: { value: 'me@example.com' } });
    fireEvent.click(screen.getByTestId('checkout-submit'));
    expect(await screen.findByText('该账号不存在')).toBeInTheDocument();
    expect(screen.getByTestId('checkout-error')).toHaveTextContent('下单信息有误，请按提示修改');

    // pay online: the order waits for payment and the browser goes to the gateway
    fireEvent.change(screen.getByTestId('buyer-field-account'), { target: { value: '87654321' } });
    fireEvent.click(screen.getByTestId('pay-epay'));
    await waitFor(() => expect(screen.getByTestId('checkout-submit')).toHaveTextContent('去支付'));
    fireEvent.click(screen.getByTestId('checkout-submit'));
    await waitFor(() => expect(leaveTo).toHaveBeenCalledWith(payUrl));
    expect(screen.getByTestId('checkout-submit')).toHaveTextContent('正在前往支付页');
    expect(api.sent.map((s) => s.body)).toEqual([
      { sku_id: 21, quantity: 1, pay_method: 'balance', buyer_input: { account: '12345678', region: '苹果QQ', email: 'me@example.com' } },
      { sku_id: 21, quantity: 1, pay_method: 'epay', buyer_input: { account: '87654321', region: '苹果QQ', email: 'me@example.com' } },
    ]);
  }, 60_000);

  it('a product that is not on sale says so', async () => {
    stubApi((request) => (pathOf(request) === '/api/v1/shop/products/9' ? problemResponse(404, 'not_found') : undefined), { me: customer });
    renderApp('/shop/9');
    expect(await screen.findByText('商品不存在或已下架')).toBeInTheDocument();
    expect(screen.getByTestId('back-to-shop')).toBeInTheDocument();
  }, 60_000);
});
