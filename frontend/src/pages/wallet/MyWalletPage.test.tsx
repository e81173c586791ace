import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import type { StatementLineOut } from '../../client';
import { browser } from '../../browser';
import { jsonResponse, makeMe, problemResponse, renderApp, stubApi } from '../../test/render';

const customer = makeMe({
  id: 8,
  kind: 'customer',
  email: 'customer@demo.kameng.example',
  display_name: '演示顾客 Customer',
  permissions: [],
  roles: [],
  mfa_enabled: false,
});

function line(id: number, kind: StatementLineOut['kind'], amount: string, balanceAfter: string, memo: string): StatementLineOut {
  return {
    id,
    entry_id: id + 100,
    kind,
    memo,
    amount,
    balance_after: balanceAfter,
    ref_type: kind === 'purchase' ? 'order' : null,
    ref_id: kind === 'purchase' ? 'KM2026112300001' : null,
    created_at: '2026-11-23T08:00:00Z',
  };
}

describe('我的余额', () => {
  it('a customer lands on it: the balance with 2 decimals, the statement with signs, "load more" and the XLSX export', async () => {
    const asked: URLSearchParams[] = [];
    const exports: URL[] = [];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/wallet/me') return jsonResponse({ balance: '25.5000', currency: 'CNY' });
        if (url.pathname === '/api/v1/wallet/me/statement') {
          asked.push(url.searchParams);
          if (url.searchParams.get('before') === '3') {
            return jsonResponse({ items: [line(2, 'recharge', '100.0000', '100.0000', '在线充值')], next_before: null });
          }
          return jsonResponse({
            items: [
              line(5, 'refund', '5.5000', '25.5000', '订单退款'),
              line(4, 'purchase', '-30.0000', '20.0000', '购买 王者荣耀点券'),
              line(3, 'adjustment', '-50.0000', '50.0000', '调账：多充退回'),
            ],
            next_before: 3,
          });
        }
        if (url.pathname === '/api/v1/wallet/me/statement/export') {
          exports.push(url);
          return new Response(new Uint8Array([0x50, 0x4b, 0x03, 0x04]), {
            headers: {
              'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
              'content-disposition': 'attachment; filename="statement-8-20261123-080000.xlsx"',
            },
          });
        }
        return undefined;
      },
      { me: customer },
    );
    const createObjectURL = vi.fn((_blob: Blob) => 'blob:xlsx');
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);

    const { router } = renderApp('/');

    // no module to open: the customer lands on 我的余额, and the sider offers their own pages
    await waitFor(() => expect(router.state.location.pathname).toBe('/account/wallet'));
    const menu = await screen.findByTestId('module-menu');
    expect(within(menu).getAllByRole('menuitem').map((item) => item.textContent)).toEqual(['商城', '我的订单', '我的余额', '我的安全']);
    expect(await screen.findByTestId('my-balance')).toHaveTextContent('¥25.50');

    // the statement: newest first, signed and coloured, types in Chinese
    const table = screen.getByTestId('statement-table');
    const refund = await within(table).findByTestId('statement-row-5');
    expect(refund).toHaveTextContent('退款');
    expect(within(refund).getByTestId('amount-5')).toHaveTextContent('+¥5.50');
    expect(within(refund).getByTestId('amount-5')).toHaveClass('is-credit');
    expect(refund).toHaveTextContent('¥25.50');
    const purchase = within(table).getByTestId('statement-row-4');
    expect(purchase).toHaveTextContent('购买');
    expect(within(purchase).getByTestId('amount-4')).toHaveTextContent('-¥30.00');
    expect(within(purchase).getByTestId('amount-4')).toHaveClass('is-debit');
    expect(purchase).toHaveTextContent('订单 KM2026112300001');
    expect(within(table).getByTestId('statement-row-3')).toHaveTextContent('调账');
    expect(asked[0]?.has('before')).toBe(false);

    // keyset paging: the next page is asked with before = next_before; then there is no more
    fireEvent.click(screen.getByTestId('statement-load-more'));
    const recharge = await within(table).findByTestId('statement-row-2');
    expect(recharge).toHaveTextContent('充值');
    expect(within(recharge).getByTestId('amount-2')).toHaveTextContent('+¥100.00');
    expect(asked.at(-1)?.get('before')).toBe('3');
    expect(within(table).getAllByRole('row')).toHaveLength(5); // header + 4 lines
    await waitFor(() => expect(screen.queryByTestId('statement-load-more')).not.toBeInTheDocument());

    // export: fetched through the client, saved under the server's name
    fireEvent.click(screen.getByTestId('export-xlsx'));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(exports.map((u) => u.searchParams.get('format'))).toEqual(['xlsx']);
    expect(createObjectURL.mock.calls[0]?.[0].size).toBe(4);
    expect(await screen.findByText('已导出: statement-8-20261123-080000.xlsx')).toBeInTheDocument();
  }, 60_000);

  it('staff reach it from the user menu; an empty wallet says so', async () => {
    stubApi((request) => {
      const path = new URL(request.url).pathname;
      if (path === '/api/v1/wallet/me') return jsonResponse({ balance: '0.0000', currency: 'CNY' });
      if (path === '/api/v1/wallet/me/statement') return jsonResponse({ items: [], next_before: null });
      return undefined;
    });
    const { router } = renderApp('/orders');
    fireEvent.click(await screen.findByTestId('user-menu'));
    fireEvent.click(await screen.findByTestId('user-menu-my-wallet'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/account/wallet'));
    expect(await screen.findByTestId('my-balance')).toHaveTextContent('¥0.00');
    expect(await screen.findByText('暂无余额变动')).toBeInTheDocument();
    // staff keep their module menu
    expect(within(screen.getByTestId('module-menu')).getByText('财务')).toBeInTheDocument();
  }, 60_000);

  it('充值: an amount goes to the gateway; back from it, the page says so and asks for the balance again', async () => {
    const leaveTo = vi.spyOn(browser, 'leaveTo').mockImplementation(() => undefined);
    const bodies: unknown[] = [];
    let balance = '25.5000';
    let balanceAsked = 0;
    stubApi(
      async (request) => {
        const path = new URL(request.url).pathname;
        if (path === '/api/v1/wallet/me') {
          balanceAsked += 1;
          return jsonResponse({ balance, currency: 'CNY' });
        }
        if (path === '/api/v1/wallet/me/statement') return jsonResponse({ items: [], next_before: null });
        if (path === '/api/v1/wallet/me/recharges') {
          const body = (await request.json()) as { amount: string };
          bodies.push(body);
          if (body.amount === '5') return problemResponse(422, 'payment_unavailable', { detail: '未开通在线支付 (online payment is not configured)' });
          return jsonResponse({ out_trade_no: 'P1', amount: '88.8000', pay_url: 'http://127.0.0.1/epay-sim/submit.php?out_trade_no=P1' }, { status: 201 });
        }
        return undefined;
      },
      { me: customer },
    );
    const { router, unmount } = renderApp('/account/wallet');
    expect(await screen.findByTestId('recharge-card')).toBeInTheDocument();

    // what the form refuses never reaches the API
    fireEvent.change(screen.getByTestId('recharge-amount'), { target: { value: '1.234' } });
    fireEvent.click(screen.getByTestId('recharge-submit'));
    expect(await screen.findByText('请输入 0.01–50000 之间的金额，最多两位小数')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('recharge-preset-100'));
    expect(screen.getByTestId('recharge-amount')).toHaveValue('100');
    // a refusal is explained next to the form
    fireEvent.change(screen.getByTestId('recharge-amount'), { target: { value: '5' } });
    fireEvent.click(screen.getByTestId('recharge-submit'));
    expect(await screen.findByTestId('recharge-error')).toHaveTextContent('暂未开通在线支付');
    expect(leaveTo).not.toHaveBeenCalled();
    fireEvent.change(screen.getByTestId('recharge-amount'), { target: { value: '88.8' } });
    fireEvent.click(screen.getByTestId('recharge-submit'));
    await waitFor(() => expect(leaveTo).toHaveBeenCalledWith('http://127.0.0.1/epay-sim/submit.php?out_trade_no=P1'));
    expect(screen.getByTestId('recharge-submit')).toHaveTextContent('正在前往支付页');
    expect(bodies).toEqual([{ amount: '5' }, { amount: '88.8' }]);
    expect(router.state.location.pathname).toBe('/account/wallet');
    unmount();

    // the gateway sends the buyer back with its parameters: the balance is asked again until it moves
    balance = '114.3000';
    renderApp('/account/wallet?out_trade_no=P1&trade_status=TRADE_SUCCESS');
    expect(await screen.findByTestId('recharge-returned')).toHaveTextContent('已从支付页返回');
    await waitFor(() => expect(screen.getByTestId('my-balance')).toHaveTextContent('¥114.30'));
    const before = balanceAsked;
    await waitFor(() => expect(balanceAsked).toBeGreaterThan(before), { timeout: 8_000 });
  }, 60_000);
});
