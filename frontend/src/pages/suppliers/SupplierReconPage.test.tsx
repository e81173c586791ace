import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import dayjs from 'dayjs';
import { describe, expect, it, vi } from 'vitest';

import type { ReconMismatchOut, ReconReportOut, SupplierOut } from '../../client';
import { jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const operator = makeMe({ id: 3, display_name: '运营 Operator', roles: ['operator'], permissions: ['suppliers:read', 'suppliers:write'] });

function supplierOf(id: number, name: string): SupplierOut {
  return {
    id,
    name,
    protocol: 'fulu',
    base_url: `https://${name}.example/api`,
    credential_fields: ['app_key', 'app_secret'],
    timeout_s: 8,
    enabled: true,
    serves_unmapped: false,
    settings_managed: false,
    balance: null,
    balance_at: null,
    low_balance_threshold: null,
    last_error: null,
    last_error_at: null,
    created_at: '2026-12-01T08:00:00Z',
    updated_at: '2026-12-01T08:00:00Z',
  };
}

const ZERO_COUNTS = { ours_success_theirs_failed: 0, ours_success_theirs_missing: 0, ours_failed_theirs_success: 0, state_differs: 0, cost_differs: 0, unanswered: 0 };
const ZERO_AMOUNTS = {
  ours_success_theirs_failed: '0.0000',
  ours_success_theirs_missing: '0.0000',
  ours_failed_theirs_success: '0.0000',
  state_differs: '0.0000',
  cost_differs: '0.0000',
  unanswered: '0.0000',
};

function report(id: number, overrides: Partial<ReconReportOut> = {}): ReconReportOut {
  return {
    id,
    supplier_id: 1,
    status: 'done',
    period_start: '2026-12-06T00:00:00+08:00',
    period_end: '2026-12-07T00:00:00+08:00',
    total: 0,
    checked: 0,
    matched: 0,
    mismatched: 0,
    counts: ZERO_COUNTS,
    amounts: ZERO_AMOUNTS,
    cost_at_stake: '0.0000',
    theirs_listed: true,
    note: '',
    error: null,
    started_at: '2026-12-07T08:00:00Z',
    finished_at: '2026-12-07T08:01:00Z',
    started_by: 3,
    ...overrides,
  };
}

function mismatch(id: number, kind: ReconMismatchOut['kind'], orderNo: string): ReconMismatchOut {
  return {
    id,
    report_id: 9,
    order_id: id,
    upstream_id: id,
    order_no: orderNo,
    request_id: `req-${id}`,
    supplier_ref: null,
    kind,
    our_state: 'success',
    their_state: kind === 'ours_success_theirs_failed' ? 'failed' : 'success',
    our_cost: '95.0000',
    their_cost: kind === 'cost_differs' ? '97.0000' : '95.0000',
    at_stake: kind === 'cost_differs' ? '2.0000' : '95.0000',
    detail: '',
    created_at: '2026-12-07T08:01:00Z',
  };
}

describe('上游 › 对账', () => {
  it('reconciles yesterday: progress while polling, then the summary, the mismatches by kind and the CSV export', async () => {
    const reports: ReconReportOut[] = [];
    const posted: unknown[] = [];
    const kindsAsked: (string | null)[] = [];
    let polls = 0;
    const createObjectURL = vi.fn((_blob: Blob) => 'blob:csv');
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const rows = [mismatch(1, 'ours_success_theirs_failed', 'K1001'), mismatch(2, 'cost_differs', 'K1002')];
    stubApi(
      async (request) => {
        const url = new URL(request.url);
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse([supplierOf(1, 'alpha')]);
        if (path === '/api/v1/suppliers/1/reconciliations') {
          if (request.method === 'POST') {
            posted.push(await request.json());
            const started = report(9, { status: 'running', total: 0, finished_at: null });
            reports.unshift(started);
            return jsonResponse(started, { status: 202 });
          }
          return jsonResponse({ items: reports, next_before_id: null });
        }
        if (path === '/api/v1/suppliers/1/reconciliations/9') {
          polls += 1;
          if (polls === 1) return jsonResponse(report(9, { status: 'running', total: 20, checked: 5, finished_at: null }));
          const done = report(9, {
            total: 20,
            checked: 20,
            matched: 18,
            mismatched: 2,
            counts: { ...ZERO_COUNTS, ours_success_theirs_failed: 1, cost_differs: 1 },
            amounts: { ...ZERO_AMOUNTS, ours_success_theirs_failed: '95.0000', cost_differs: '2.0000' },
            cost_at_stake: '97.0000',
            theirs_listed: false,
            note: 'fulu has no order list',
          });
          reports[0] = done;
          return jsonResponse(done);
        }
        if (path === '/api/v1/suppliers/1/reconciliations/9/mismatches') {
          const kind = url.searchParams.get('kind');
          kindsAsked.push(kind);
          return jsonResponse({ items: kind ? rows.filter((r) => r.kind === kind) : rows, next_before_id: null });
        }
        if (path === '/api/v1/suppliers/1/reconciliations/9/export')
          return new Response('order_no,kind\r\nK1001,ours_success_theirs_failed\r\n', {
            headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="recon-9.csv"' },
          });
        return undefined;
      },
      { me: operator },
    );
    renderApp('/suppliers/reconciliations');

    expect(await screen.findByTestId('recon-none')).toHaveTextContent('还没有对账记录；选择期间后点“开始对账”');
    const start = screen.getByTestId('recon-start');
    await waitFor(() => expect(start).toBeEnabled());
    fireEvent.click(start);
    await waitFor(() => expect(posted).toHaveLength(1));
    // yesterday by default: [yesterday 00:00, today 00:00)
    const today = dayjs().startOf('day');
    expect(posted[0]).toEqual({ since: today.subtract(1, 'day').format(), until: today.format() });

    const progress = await screen.findByTestId('recon-progress');
    expect(progress).toHaveTextContent('已核对 5 / 20');
    expect(within(progress).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '25');

    const summary = await screen.findByTestId('recon-summary');
    expect(summary).toHaveTextContent('一致18');
    expect(summary).toHaveTextContent('不一致2');
    expect(summary).toHaveTextContent('¥97.00');
    expect(screen.getByTestId('recon-not-listed')).toHaveTextContent('该供应商不提供订单列表');
    expect(screen.getByTestId('recon-kind-cost_differs')).toHaveTextContent('成本不一致1¥2.00');
    expect(screen.getByTestId('recon-kind-ours_success_theirs_failed')).toHaveTextContent('我方成功，对方失败1¥95.00');

    await screen.findByTestId('mismatch-row-K1001');
    expect(screen.getByTestId('mismatch-row-K1002')).toHaveTextContent('¥97.00');

    // the kind filter asks the server again
    fireEvent.mouseDown(within(screen.getByTestId('recon-kind-filter')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('成本不一致'));
    await waitFor(() => expect(screen.queryByTestId('mismatch-row-K1001')).toBeNull());
    expect(kindsAsked.at(-1)).toBe('cost_differs');
    expect(await screen.findByTestId('mismatch-row-K1002')).toBeInTheDocument();

    fireEvent.click(screen.getByTestId('recon-export'));
    await waitFor(() => expect(createObjectURL).toHaveBeenCalledTimes(1));
    const blob = createObjectURL.mock.calls[0]?.[0];
    expect(await blob?.text()).toContain('K1001');
    expect(within(screen.getByTestId('recon-history')).getAllByRole('row')).toHaveLength(2);
  });

  it('a reconciliation already running answers 409 recon_running, a bad period 422 bad_period: the messages are shown', async () => {
    let posts = 0;
    stubApi(
      (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse([supplierOf(1, 'alpha')]);
        if (path === '/api/v1/suppliers/1/reconciliations') {
          if (request.method !== 'POST') return jsonResponse({ items: [], next_before_id: null });
          posts += 1;
          return posts === 1 ? problemResponse(409, 'recon_running') : problemResponse(422, 'bad_period');
        }
        return undefined;
      },
      { me: operator },
    );
    renderApp('/suppliers/reconciliations');
    const start = await screen.findByTestId('recon-start');
    await waitFor(() => expect(start).toBeEnabled());
    fireEvent.click(start);
    expect(await screen.findByTestId('recon-error')).toHaveTextContent('该供应商已有一次对账正在进行，请等它完成');
    fireEvent.click(screen.getByTestId('recon-start'));
    await waitFor(() => expect(screen.getByTestId('recon-error')).toHaveTextContent('对账期间无效：开始须早于结束，且最长 31 天'));
  });
});
