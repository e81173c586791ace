import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { AccountOut, StatementLineOut } from '../../client';
import { jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const finance = makeMe({
  id: 4,
  email: 'finance@demo.kameng.example',
  display_name: '财务 Finance',
  roles: ['finance'],
  permissions: ['wallet:read', 'wallet:adjust', 'wallet:export', 'wallet:reconcile'],
});

const account: AccountOut = {
  user_id: 8,
  user_kind: 'customer',
  email: 'customer@demo.kameng.example',
  phone: null,
  display_name: '演示顾客 Customer',
  balance: '200.0000',
  updated_at: '2026-11-23T08:00:00Z',
};

function line(id: number, amount: string, balanceAfter: string, memo: string): StatementLineOut {
  return {
    id,
    entry_id: id,
    kind: 'adjustment',
    memo,
    amount,
    balance_after: balanceAfter,
    ref_type: 'user',
    ref_id: '8',
    created_at: '2026-11-23T08:00:00Z',
  };
}

/** The wallet API of one customer holding ¥200; POST /wallet/adjustments goes to `adjust`. */
function walletApi(adjust: (body: { user_id: number; amount: string; reason: string }) => Response | Promise<Response>) {
  const lines = [line(1, '200.0000', '200.0000', '演示余额')];
  return async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname === '/api/v1/wallet/accounts') return jsonResponse({ items: [account], total: 1 });
    if (url.pathname === '/api/v1/wallet/accounts/8/statement') return jsonResponse({ items: [...lines], next_before: null });
    if (url.pathname === '/api/v1/wallet/adjustments') {
      const body = (await request.json()) as { user_id: number; amount: string; reason: string };
      const answer = await adjust(body);
      if (answer.status === 201) lines.unshift(line(2, '50.0000', '250.0000', body.reason));
      return answer;
    }
    return undefined;
  };
}

describe('余额账户 detail', () => {
  it('finance finds the customer, credits ¥50 with a reason through the 2FA step-up, and sees the new balance', async () => {
    let steppedUp = false;
    const bodies: unknown[] = [];
    const wallet = walletApi((body) => {
      bodies.push(body);
      return steppedUp ? jsonResponse({ entry_id: 2, balance: '250.0000' }, { status: 201 }) : problemResponse(403, 'step_up_required');
    });
    stubApi(
      async (request) => {
        if (pathOf(request) === '/api/v1/auth/step-up') {
          steppedUp = true;
          return jsonResponse({ valid_until: '2026-11-23T08:05:00Z' });
        }
        return wallet(request);
      },
      { me: finance },
    );
    renderApp('/finance/accounts');

    // the list: the customer with their balance; a click opens the account
    const row = await screen.findByTestId('account-row-8');
    expect(row).toHaveTextContent('演示顾客 Customer');
    expect(row).toHaveTextContent('顾客');
    expect(within(row).getByTestId('account-balance-8')).toHaveTextContent('¥200.00');
    fireEvent.click(row);

    expect(await screen.findByText('余额账户：演示顾客 Customer')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('account-balance')).toHaveTextContent('¥200.00'));
    expect(await screen.findByTestId('statement-row-1')).toHaveTextContent('演示余额');
    expect(screen.getByTestId('export-csv')).toBeInTheDocument();

    // 调账: +50 with a reason; the preview shows the balance after
    fireEvent.click(screen.getByTestId('adjust'));
    fireEvent.change(await screen.findByTestId('adjust-amount'), { target: { value: '50' } });
    fireEvent.change(screen.getByTestId('adjust-reason'), { target: { value: '线下转账充值' } });
    expect(await screen.findByTestId('adjust-preview')).toHaveTextContent('¥250.00');
    fireEvent.click(screen.getByTestId('adjust-confirm'));

    // the API wants a fresh 2FA: the dialog asks, then the same request goes again
    await waitFor(() => expect(screen.getByText('需要两步验证')).toBeVisible());
    fireEvent.change(screen.getByTestId('step-up-code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByTestId('step-up-confirm'));

    expect(await screen.findByTestId('adjust-done')).toHaveTextContent('当前余额 ¥250.00');
    await waitFor(() => expect(screen.getByTestId('account-balance')).toHaveTextContent('¥250.00'));
    const added = await screen.findByTestId('statement-row-2');
    expect(within(added).getByTestId('amount-2')).toHaveTextContent('+¥50.00');
    expect(added).toHaveTextContent('线下转账充值');
    const sent = { user_id: 8, amount: '50', reason: '线下转账充值' };
    expect(bodies).toEqual([sent, sent]);
  }, 60_000);

  it('a debit over the balance is refused with a clear message, and so is an amount the API rejects', async () => {
    const bodies: { amount: string }[] = [];
    stubApi(
      walletApi((body) => {
        bodies.push(body);
        return body.amount.startsWith('-')
          ? problemResponse(409, 'insufficient_balance', { detail: '余额不足 (the balance is too low)' })
          : problemResponse(422, 'bad_amount', { detail: '金额须大于 0 且不超过 10000000' });
      }),
      { me: finance },
    );
    renderApp('/finance/accounts/8');
    await waitFor(() => expect(screen.getByTestId('account-balance')).toHaveTextContent('¥200.00'));

    fireEvent.click(screen.getByTestId('adjust'));
    fireEvent.click(await screen.findByTestId('adjust-debit'));
    fireEvent.change(screen.getByTestId('adjust-amount'), { target: { value: '500' } });
    fireEvent.change(screen.getByTestId('adjust-reason'), { target: { value: '扣回多充' } });
    expect(await screen.findByTestId('adjust-preview')).toHaveTextContent('-¥300.00');
    fireEvent.click(screen.getByTestId('adjust-confirm'));
    expect(await screen.findByTestId('adjust-error')).toHaveTextContent('余额不足：扣减金额超过了该用户的当前余额');

    fireEvent.click(screen.getByTestId('adjust-credit'));
    fireEvent.change(screen.getByTestId('adjust-amount'), { target: { value: '20000000' } });
    fireEvent.click(screen.getByTestId('adjust-confirm'));
    await waitFor(() => expect(screen.getByTestId('adjust-error')).toHaveTextContent('金额无效'));
    expect(bodies.map((b) => b.amount)).toEqual(['-500', '20000000']);

    // what the form itself refuses never reaches the API
    fireEvent.change(screen.getByTestId('adjust-amount'), { target: { value: '1.234' } });
    fireEvent.change(screen.getByTestId('adjust-reason'), { target: { value: ' x ' } });
    fireEvent.click(screen.getByTestId('adjust-confirm'));
    expect(await screen.findByText('请输入大于 0 的金额，最多两位小数')).toBeInTheDocument();
    expect(await screen.findByText('请填写原因（2–255 个字）')).toBeInTheDocument();
    expect(bodies).toHaveLength(2);
    // nothing moved
    expect(screen.getByTestId('account-balance')).toHaveTextContent('¥200.00');
  }, 60_000);

  it('a reader without wallet:adjust / wallet:export sees the statement but no buttons for them', async () => {
    const reader = makeMe({ id: 5, roles: ['viewer'], permissions: ['wallet:read'] });
    stubApi(
      walletApi(() => problemResponse(403, 'permission_denied')),
      { me: reader },
    );
    renderApp('/finance/accounts/8');
    expect(await screen.findByTestId('statement-row-1')).toHaveTextContent('演示余额');
    await waitFor(() => expect(screen.getByTestId('account-balance')).toHaveTextContent('¥200.00'));
    expect(screen.getByText('余额账户：用户 #8')).toBeInTheDocument();
    expect(screen.queryByTestId('adjust')).not.toBeInTheDocument();
    expect(screen.queryByTestId('export-csv')).not.toBeInTheDocument();
    expect(screen.queryByTestId('export-xlsx')).not.toBeInTheDocument();
    // the finance menu: accounts and ledger, no trial balance (wallet:reconcile)
    const menu = screen.getByTestId('module-menu');
    expect(within(menu).getByText('余额账户')).toBeInTheDocument();
    expect(within(menu).getByText('账本')).toBeInTheDocument();
    expect(within(menu).queryByText('对账')).not.toBeInTheDocument();
  }, 60_000);
});
