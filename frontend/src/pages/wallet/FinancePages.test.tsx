import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { LedgerEntryOut, TrialBalanceOut } from '../../client';
import { jsonResponse, makeMe, renderApp, stubApi } from '../../test/render';

const finance = makeMe({ id: 4, roles: ['finance'], permissions: ['wallet:read', 'wallet:reconcile'] });

function entry(id: number, kind: LedgerEntryOut['kind'], memo: string, amount: string, balanceAfter: string): LedgerEntryOut {
  return {
    id,
    kind,
    memo,
    ref_type: 'user',
    ref_id: '8',
    actor_id: 4,
    created_at: '2026-11-23T08:00:00Z',
    lines: [
      { account_id: 2, account_kind: 'adjustments', user_id: null, amount: `-${amount}`, balance_after: null },
      { account_id: 9, account_kind: 'user', user_id: 8, amount, balance_after: balanceAfter },
    ],
  };
}

describe('财务 › 账本 and 对账', () => {
  it('the ledger lists entries with their lines, filters by kind and loads more', async () => {
    const asked: URLSearchParams[] = [];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname !== '/api/v1/wallet/ledger') return undefined;
        asked.push(url.searchParams);
        if (url.searchParams.get('before') === '7') return jsonResponse({ items: [entry(6, 'adjustment', '演示余额', '200.0000', '200.0000')], next_before: null });
        return jsonResponse({ items: [entry(7, 'adjustment', '线下转账', '50.0000', '250.0000')], next_before: 7 });
      },
      { me: finance },
    );
    renderApp('/finance/ledger');

    const lines = await screen.findByTestId('entry-lines-7');
    const rows = within(lines).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('调账 #2');
    expect(rows[1]).toHaveTextContent('-¥50.00');
    expect(rows[2]).toHaveTextContent('用户钱包 #9');
    expect(rows[2]).toHaveTextContent('#8');
    expect(rows[2]).toHaveTextContent('+¥50.00');
    expect(rows[2]).toHaveTextContent('¥250.00');
    expect(screen.getByTestId('entry-row-7')).toHaveTextContent('线下转账');

    fireEvent.click(screen.getByTestId('ledger-load-more'));
    expect(await screen.findByTestId('entry-lines-6')).toHaveTextContent('¥200.00');
    expect(asked.at(-1)?.get('before')).toBe('7');

    fireEvent.mouseDown(within(screen.getByTestId('ledger-kind')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('退款'));
    await waitFor(() => expect(asked.at(-1)?.get('kind')).toBe('refund'));
    expect(asked.at(-1)?.has('before')).toBe(false);
  }, 60_000);

  it('the trial balance says ✓ when it holds, and names what is wrong when it does not', async () => {
    const balanced: TrialBalanceOut = {
      balanced: true,
      by_kind: { user: '5200.0000', adjustments: '-5200.0000' },
      total: '0.0000',
      lines_total: '0.0000',
      mismatched_accounts: [],
      unbalanced_entries: [],
    };
    let answer = balanced;
    stubApi((request) => (new URL(request.url).pathname === '/api/v1/wallet/trial-balance' ? jsonResponse(answer) : undefined), { me: finance });
    renderApp('/finance/trial-balance');

    expect(await screen.findByTestId('trial-balanced')).toHaveTextContent('账平 ✓');
    expect(screen.getByTestId('by-kind-user')).toHaveTextContent('用户钱包');
    expect(screen.getByTestId('by-kind-user')).toHaveTextContent('+¥5200.00');
    expect(screen.getByTestId('by-kind-adjustments')).toHaveTextContent('-¥5200.00');
    expect(screen.getByTestId('by-kind-revenue')).toHaveTextContent('营业收入');
    expect(screen.getByTestId('by-kind-revenue')).toHaveTextContent('¥0.00');

    answer = { ...balanced, balanced: false, total: '10.0000', mismatched_accounts: [9], unbalanced_entries: [31, 32] };
    fireEvent.click(screen.getByTestId('trial-refresh'));
    expect(await screen.findByTestId('trial-unbalanced')).toHaveTextContent('账不平');
    expect(screen.getByTestId('trial-total')).toHaveTextContent('+¥10.00');
    expect(screen.getByTestId('trial-mismatched')).toHaveTextContent('#9');
    expect(screen.getByTestId('trial-unbalanced-entries')).toHaveTextContent('#31#32');
  }, 60_000);
});
