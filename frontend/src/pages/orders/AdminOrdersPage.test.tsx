import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { AdminOrderOut, OrderEventOut } from '../../client';
import { adminOrder, order } from '../../test/orders';
import { jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const NO = '26112308000012345678';

function event(to: string, reason: string, from: string | null = to, actor: number | null = 1): OrderEventOut {
  return { from_status: from, to_status: to, actor_id: actor, reason, created_at: '2026-11-23T09:00:00Z' };
}

/** The console's order API around one order, kept as the server would; POSTs go to `act`. */
function adminApi(
  initial: AdminOrderOut,
  act: (action: string, body: unknown, current: AdminOrderOut) => Response | AdminOrderOut,
  options: { stepUp?: boolean } = {},
) {
  let current = initial;
  let steppedUp = !options.stepUp;
  const posts: { action: string; body: unknown }[] = [];
  const answer = async (request: Request) => {
    const path = pathOf(request);
    if (path === '/api/v1/auth/step-up') {
      steppedUp = true;
      return jsonResponse({ valid_until: '2026-11-23T09:05:00Z' });
    }
    if (path === `/api/v1/admin/orders/${current.order_no}`) return jsonResponse(current);
    const action = new RegExp(`^/api/v1/admin/orders/${current.order_no}/([a-z-]+)$`).exec(path)?.[1];
    if (action && request.method === 'POST') {
      const body: unknown = action === 'resend' ? null : await request.json();
      posts.push({ action, body });
      if (!steppedUp && (action === 'refund' || action === 'confirm-paid')) return problemResponse(403, 'step_up_required');
      const out = act(action, body, current);
      if (out instanceof Response) return out;
      current = out;
      return jsonResponse(out);
    }
    return undefined;
  };
  return { answer, posts };
}

describe('交易 › 订单', () => {
  it('lists orders newest first and filters by status, product, buyer, order no. and time (kept in the URL)', async () => {
    const asked: URLSearchParams[] = [];
    const rows = [
      order({ order_no: '26112308000000000002', status: 'pending_payment', pay_method: 'epay', keys: [] }),
      order({ order_no: '26112308000000000001', keys: [] }),
    ];
    stubApi((request) => {
      const url = new URL(request.url);
      if (url.pathname === '/api/v1/admin/orders') {
        asked.push(url.searchParams);
        return jsonResponse({ items: rows, next_before: null });
      }
      if (url.pathname === '/api/v1/catalog/products') {
        return jsonResponse({ items: [{ id: 1, name: 'Steam 钱包充值卡', skus: [] }], next_before_id: null });
      }
      return undefined;
    });
    const { router } = renderApp('/orders');

    // 交易 opens on 订单
    await waitFor(() => expect(router.state.location.pathname).toBe('/orders/list'));
    const menu = await screen.findByTestId('module-menu');
    expect(await within(menu).findByText('订单')).toBeInTheDocument();
    const table = await screen.findByTestId('orders-table');
    expect(await within(table).findByTestId('order-status-26112308000000000002')).toHaveTextContent('待支付');
    expect(within(table).getByTestId('order-row-26112308000000000002')).toHaveTextContent('在线支付');
    expect(within(table).getByTestId('order-status-26112308000000000001')).toHaveTextContent('已发货');
    expect(asked[0]?.get('limit')).toBe('50');

    fireEvent.mouseDown(within(screen.getByTestId('orders-filter-status')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('部分发货'));
    await waitFor(() => expect(asked.at(-1)?.get('status')).toBe('partially_delivered'));

    fireEvent.mouseDown(within(screen.getByTestId('orders-filter-product')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('Steam 钱包充值卡'));
    await waitFor(() => expect(asked.at(-1)?.get('product_id')).toBe('1'));

    fireEvent.change(screen.getByTestId('orders-filter-buyer'), { target: { value: '8' } });
    fireEvent.change(screen.getByTestId('orders-filter-no'), { target: { value: ' 2611230800 ' } });
    fireEvent.click(screen.getByTestId('orders-search'));
    await waitFor(() => expect(asked.at(-1)?.get('order_no')).toBe('2611230800'));
    const last = asked.at(-1);
    expect(last?.get('buyer_id')).toBe('8');
    expect(last?.get('status')).toBe('partially_delivered');
    expect(last?.get('product_id')).toBe('1');
    expect(router.state.location.search).toContain('buyer=8');

    fireEvent.click(screen.getByTestId('orders-reset'));
    await waitFor(() => expect([...(asked.at(-1)?.keys() ?? [])].sort()).toEqual(['limit']));

    // a time range arrives with the URL (e.g. back from an order): sent as ISO times
    await router.navigate('/orders/list?status=paid&from=2026-11-23T00:00:00.000Z&to=2026-11-24T00:00:00.000Z');
    await waitFor(() => expect(asked.at(-1)?.get('created_from')).toBe('2026-11-23T00:00:00.000Z'));
    expect(asked.at(-1)?.get('created_to')).toBe('2026-11-24T00:00:00.000Z');
    expect(asked.at(-1)?.get('status')).toBe('paid');

    fireEvent.click(await within(table).findByTestId('order-row-26112308000000000001'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/orders/list/26112308000000000001'));
  }, 60_000);

  it('the detail shows the timeline; a partial refund goes through the 2FA step-up; 补发 and 重发通知 are recorded', async () => {
    const api = adminApi(
      adminOrder(),
      (action, body, current) => {
        if (action === 'refund') {
          const { amount, reason } = body as { amount: string; reason: string };
          return { ...current, refunded_total: `${amount}.0000`, timeline: [...(current.timeline ?? []), event('delivered', `退款 ¥${amount}.00: ${reason}`)] };
        }
        if (action === 'redeliver') {
          const { quantity, reason } = body as { quantity: number; reason: string };
          return { ...current, timeline: [...(current.timeline ?? []), event('delivered', `补发 ${quantity} 张: ${reason}`)] };
        }
        if (action === 'resend') return { ...current, notified_at: '2026-11-23T09:10:00Z' };
        return problemResponse(409, 'not_awaiting_payment');
      },
      { stepUp: true },
    );
    stubApi(api.answer);
    renderApp(`/orders/list/${NO}`);

    await waitFor(() => expect(screen.getByTestId('admin-order-status')).toHaveTextContent('已发货'));
    expect(screen.getByTestId('admin-order-total')).toHaveTextContent('¥97.00');
    expect(screen.getByTestId('order-buyer')).toHaveTextContent('用户 #8');
    expect(screen.getByTestId('admin-order-info')).toHaveTextContent('标准价');
    const timeline = screen.getByTestId('order-timeline');
    expect(timeline).toHaveTextContent('下单');
    expect(timeline).toHaveTextContent('余额支付');
    expect(timeline).toHaveTextContent('自动发卡 2 张');
    // 确认收款 only for an order waiting for payment
    expect(screen.getByTestId('action-confirm-paid')).toBeDisabled();
    expect(screen.queryByTestId('action-deliver')).not.toBeInTheDocument(); // not a manual product

    // 退款: part of it; more than is left is refused by the form
    fireEvent.click(screen.getByTestId('action-refund'));
    expect(await screen.findByTestId('refund-left')).toHaveTextContent('¥97.00');
    fireEvent.click(screen.getByTestId('refund-part'));
    fireEvent.change(await screen.findByTestId('refund-amount'), { target: { value: '120' } });
    fireEvent.change(screen.getByTestId('refund-reason'), { target: { value: '卡密无效' } });
    fireEvent.click(screen.getByTestId('refund-confirm'));
    expect(await screen.findByText('请输入大于 0 且不超过可退金额的数字，最多两位小数')).toBeInTheDocument();
    expect(api.posts).toHaveLength(0);
    fireEvent.change(screen.getByTestId('refund-amount'), { target: { value: '20' } });
    fireEvent.click(screen.getByTestId('refund-confirm'));

    // the API wants a fresh 2FA: the dialog asks, then the same request goes again
    await waitFor(() => expect(screen.getByText('需要两步验证')).toBeVisible());
    fireEvent.change(screen.getByTestId('step-up-code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByTestId('step-up-confirm'));
    expect(await screen.findByTestId('action-done')).toHaveTextContent('已退款，订单状态：已发货');
    await waitFor(() => expect(screen.getByTestId('admin-order-refunded')).toHaveTextContent('¥20.00'));
    expect(screen.getByTestId('order-timeline')).toHaveTextContent('退款 ¥20.00: 卡密无效');
    const refund = { amount: '20', reason: '卡密无效' };
    expect(api.posts).toEqual([
      { action: 'refund', body: refund },
      { action: 'refund', body: refund },
    ]);

    // 补发 one key with a reason
    fireEvent.click(screen.getByTestId('action-redeliver'));
    fireEvent.change(await screen.findByTestId('redeliver-reason'), { target: { value: '卡密已被使用' } });
    fireEvent.click(screen.getByTestId('redeliver-confirm'));
    await waitFor(() => expect(screen.getByTestId('action-done')).toHaveTextContent('已补发'));
    expect(screen.getByTestId('order-timeline')).toHaveTextContent('补发 1 张: 卡密已被使用');

    // 重发通知 after a confirmation
    fireEvent.click(screen.getByTestId('action-resend'));
    fireEvent.click(await screen.findByTestId('resend-confirm'));
    await waitFor(() => expect(screen.getByTestId('action-done')).toHaveTextContent('已重新发送通知'));
    expect(api.posts.map((p) => p.action)).toEqual(['refund', 'refund', 'redeliver', 'resend']);
    expect(api.posts[2]?.body).toEqual({ quantity: 1, reason: '卡密已被使用' });
  }, 60_000);

  it('确认收款 pays a pending order (step-up), refusals show in the dialog, and 人工发货 delivers a manual order', async () => {
    const pending = adminOrder({
      status: 'pending_payment',
      pay_method: 'epay',
      delivered_qty: 0,
      paid_at: null,
      delivered_at: null,
      delivery_type: 'manual',
      product_name: '视频会员月卡',
      timeline: [event('pending_payment', '下单', null, 8)],
    });
    let refuseOnce = true;
    const api = adminApi(
      pending,
      (action, body, current) => {
        if (action === 'confirm-paid') {
          if (refuseOnce) {
            refuseOnce = false;
            return problemResponse(409, 'not_awaiting_payment', { detail: '订单状态为 paid，无需确认收款 (not waiting for payment)' });
          }
          const { reason } = body as { reason: string };
          return {
            ...current,
            status: 'delivering',
            paid_at: '2026-11-23T09:00:00Z',
            timeline: [...(current.timeline ?? []), event('delivering', `手动确认收款: ${reason}`, 'pending_payment')],
          };
        }
        if (action === 'deliver') {
          return { ...current, status: 'delivered', delivered_qty: 1, timeline: [...(current.timeline ?? []), event('delivered', '人工发货', 'delivering')] };
        }
        return problemResponse(409, 'not_refundable');
      },
      { stepUp: true },
    );
    stubApi(api.answer);
    renderApp(`/orders/list/${NO}`);

    await waitFor(() => expect(screen.getByTestId('admin-order-status')).toHaveTextContent('待支付'));
    expect(screen.getByTestId('action-refund')).toBeDisabled();
    expect(screen.getByTestId('action-redeliver')).toBeDisabled();
    expect(screen.getByTestId('action-deliver')).toBeDisabled(); // not paid yet
    expect(screen.getByTestId('action-resend')).toBeDisabled();

    fireEvent.click(screen.getByTestId('action-confirm-paid'));
    fireEvent.change(await screen.findByTestId('confirm-paid-reason'), { target: { value: '易支付后台已到账' } });
    fireEvent.click(screen.getByTestId('confirm-paid-confirm'));
    await waitFor(() => expect(screen.getByText('需要两步验证')).toBeVisible());
    fireEvent.change(screen.getByTestId('step-up-code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByTestId('step-up-confirm'));
    expect(await screen.findByTestId('confirm-paid-error')).toHaveTextContent('订单不在待支付状态，无需确认收款');
    fireEvent.click(screen.getByTestId('confirm-paid-confirm'));
    expect(await screen.findByTestId('action-done')).toHaveTextContent('已确认收款，订单状态：发货中');
    expect(screen.getByTestId('order-timeline')).toHaveTextContent('手动确认收款: 易支付后台已到账');

    // a manual product: staff type what the buyer gets
    await waitFor(() => expect(screen.getByTestId('action-deliver')).toBeEnabled());
    fireEvent.click(screen.getByTestId('action-deliver'));
    fireEvent.click(await screen.findByTestId('deliver-confirm'));
    expect(await screen.findByText('请填写发货内容（最多 4000 字）')).toBeInTheDocument();
    fireEvent.change(screen.getByTestId('deliver-content'), { target: { value: '账号 vip001 密码 pass-1234' } });
    fireEvent.change(screen.getByTestId('deliver-note'), { target: { value: '已核对' } });
    fireEvent.click(screen.getByTestId('deliver-confirm'));
    await waitFor(() => expect(screen.getByTestId('action-done')).toHaveTextContent('已发货，订单状态：已发货'));
    expect(api.posts.map((p) => p.action)).toEqual(['confirm-paid', 'confirm-paid', 'confirm-paid', 'deliver']);
    expect(api.posts[3]?.body).toEqual({ content: '账号 vip001 密码 pass-1234', note: '已核对' });
  }, 60_000);

  it('someone who may only read orders sees no action buttons', async () => {
    const reader = makeMe({ id: 5, roles: ['viewer'], permissions: ['orders:read'] });
    stubApi(adminApi(adminOrder(), () => problemResponse(403, 'permission_denied')).answer, { me: reader });
    renderApp(`/orders/list/${NO}`);
    await waitFor(() => expect(screen.getByTestId('admin-order-status')).toHaveTextContent('已发货'));
    expect(screen.getByTestId('order-timeline')).toHaveTextContent('自动发卡 2 张');
    for (const id of ['action-refund', 'action-redeliver', 'action-confirm-paid', 'action-resend', 'action-deliver']) {
      expect(screen.queryByTestId(id)).not.toBeInTheDocument();
    }
    // no link to the wallet without wallet:read
    expect(screen.getByTestId('order-buyer').tagName).toBe('SPAN');
  }, 60_000);
});
