import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { browser } from '../../browser';
import { customer, order } from '../../test/orders';
import { jsonResponse, problemResponse, renderApp, stubApi } from '../../test/render';

describe('我的订单', () => {
  it('lists my orders with their status, filters by status, and opens one', async () => {
    const asked: URLSearchParams[] = [];
    const mine = [
      order({ order_no: '26112308000000000003', status: 'pending_payment', pay_method: 'epay', keys: [], delivered_qty: 0, paid_at: null, delivered_at: null }),
      order({ order_no: '26112308000000000002', status: 'refunded', refunded_total: '97.0000', keys: [] }),
      order({ order_no: '26112308000000000001', keys: [] }),
    ];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/orders') {
          asked.push(url.searchParams);
          const status = url.searchParams.get('status');
          return jsonResponse({ items: mine.filter((o) => !status || o.status === status), next_before: null });
        }
        if (url.pathname === '/api/v1/orders/26112308000000000001') return jsonResponse(order({ order_no: '26112308000000000001' }));
        return undefined;
      },
      { me: customer },
    );
    const { router } = renderApp('/account/orders');

    const table = await screen.findByTestId('my-orders-table');
    expect(await within(table).findByTestId('my-order-status-26112308000000000003')).toHaveTextContent('待支付');
    expect(within(table).getByTestId('my-order-status-26112308000000000002')).toHaveTextContent('已退款');
    expect(within(table).getByTestId('my-order-status-26112308000000000001')).toHaveTextContent('已发货');
    expect(within(table).getByTestId('my-order-row-26112308000000000001')).toHaveTextContent('¥97.00');

    fireEvent.mouseDown(within(screen.getByTestId('my-orders-status')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('已退款'));
    await waitFor(() => expect(asked.at(-1)?.get('status')).toBe('refunded'));
    await waitFor(() => expect(within(table).queryByTestId('my-order-row-26112308000000000001')).not.toBeInTheDocument());

    fireEvent.mouseDown(within(screen.getByTestId('my-orders-status')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('已发货'));
    fireEvent.click(await within(table).findByTestId('my-order-row-26112308000000000001'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/account/orders/26112308000000000001'));
    expect(await screen.findByTestId('key-secret-1')).toHaveTextContent('AAAA-BBBB-CCCC-0001');
  }, 60_000);

  it('an order being delivered is asked again every 2 s until its keys are there', async () => {
    // what the API says depends on how long ago it was first asked: paid, then delivering, then delivered
    const paid = order({ status: 'paid', pay_method: 'epay', keys: [], delivered_qty: 0, delivered_at: null });
    const delivering = { ...paid, status: 'delivering' as const };
    const delivered = order({ pay_method: 'epay' });
    const times: number[] = [];
    stubApi(
      (request) => {
        if (new URL(request.url).pathname !== '/api/v1/orders/26112308000012345678') return undefined;
        times.push(Date.now());
        const since = Date.now() - (times[0] ?? Date.now());
        return jsonResponse(since < 1_000 ? paid : since < 3_000 ? delivering : delivered);
      },
      { me: customer },
    );
    renderApp('/account/orders/26112308000012345678');

    await waitFor(() => expect(screen.getByTestId('order-banner')).toHaveTextContent('已收到付款，正在发货'));
    await waitFor(() => expect(screen.getByTestId('order-status')).toHaveTextContent('发货中'), { timeout: 10_000 });
    await waitFor(() => expect(screen.getByTestId('order-status')).toHaveTextContent('已发货'), { timeout: 10_000 });
    expect(screen.getByTestId('key-secret-2')).toHaveTextContent('AAAA-BBBB-CCCC-0002');
    expect(screen.queryByTestId('order-banner')).not.toBeInTheDocument();
    expect(screen.getByTestId('order-progress')).toHaveTextContent('发货 · 2 / 2');

    // polled about every 2 s (StrictMode's double mount aside), and no more once delivered
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t)).filter((g) => g > 200);
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    expect(gaps.every((g) => g >= 1_500)).toBe(true);
    const asked = times.length;
    await new Promise((r) => setTimeout(r, 2_600));
    expect(times.length).toBe(asked);
  }, 60_000);

  it('a pending online payment can be paid again; a manual delivery shows its content; a stranger\'s order is not found', async () => {
    const leaveTo = vi.spyOn(browser, 'leaveTo').mockImplementation(() => undefined);
    const payUrl = 'http://127.0.0.1/epay-sim/submit.php?out_trade_no=P2&sign=y';
    stubApi(
      (request) => {
        const path = new URL(request.url).pathname;
        if (path === '/api/v1/orders/26112308000000000003') {
          return jsonResponse(
            order({ order_no: '26112308000000000003', status: 'pending_payment', pay_method: 'epay', pay_url: payUrl, keys: [], delivered_qty: 0, paid_at: null, delivered_at: null }),
          );
        }
        if (path === '/api/v1/orders/26112308000000000004') {
          return jsonResponse(
            order({
              order_no: '26112308000000000004',
              product_name: '视频会员月卡',
              delivery_type: 'manual',
              keys: [],
              delivery_content: '账号 vip001\n密码 pass-1234',
            }),
          );
        }
        if (path === '/api/v1/orders/26112308000000000005') return problemResponse(404, 'unknown_order');
        return undefined;
      },
      { me: customer },
    );
    const { router } = renderApp('/account/orders/26112308000000000003');

    expect(await screen.findByTestId('order-banner')).toHaveTextContent('订单待支付，请在');
    fireEvent.click(await screen.findByTestId('pay-now'));
    expect(leaveTo).toHaveBeenCalledWith(payUrl);

    await router.navigate('/account/orders/26112308000000000004');
    expect(await screen.findByTestId('delivery-content')).toHaveTextContent('账号 vip001');
    expect(screen.getByTestId('delivery-content')).toHaveTextContent('密码 pass-1234');
    expect(screen.queryByTestId('keys-card')).not.toBeInTheDocument();
    expect(screen.queryByTestId('pay-now')).not.toBeInTheDocument();

    await router.navigate('/account/orders/26112308000000000005');
    expect(await screen.findByText('订单不存在')).toBeInTheDocument();
  }, 60_000);
});
