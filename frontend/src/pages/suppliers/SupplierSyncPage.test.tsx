import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { SupplierOut, SupplierProductOut, SyncRunOut } from '../../client';
import { jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const operator = makeMe({ id: 3, display_name: '运营 Operator', roles: ['operator'], permissions: ['suppliers:read', 'suppliers:write'] });

function supplierOf(id: number, name: string): SupplierOut {
  return {
    id,
    name,
    protocol: 'http_json',
    base_url: `https://${name}.example/api`,
    credential_fields: ['secret'],
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

function run(id: number, overrides: Partial<SyncRunOut> = {}): SyncRunOut {
  return {
    id,
    supplier_id: 1,
    status: 'done',
    total: 10,
    processed: 10,
    created: 0,
    updated: 0,
    missing: 0,
    repriced: 0,
    disabled: 0,
    error: null,
    started_at: '2026-12-07T08:00:00Z',
    finished_at: '2026-12-07T08:01:00Z',
    started_by: 3,
    ...overrides,
  };
}

function product(productId: string, overrides: Partial<SupplierProductOut> = {}): SupplierProductOut {
  return {
    id: Number(productId.replace(/\D/g, '')),
    supplier_id: 1,
    product_id: productId,
    name: `商品 ${productId}`,
    kind: 'recharge',
    cost: '95.5000',
    available: true,
    present: true,
    mapped_sku_ids: [],
    first_seen_at: '2026-12-01T08:00:00Z',
    last_seen_at: '2026-12-07T08:00:00Z',
    ...overrides,
  };
}

describe('上游 › 商品同步', () => {
  it('starts a sync, shows its progress while polling, then the counts, the changes and the catalogue', async () => {
    const runs: SyncRunOut[] = [run(4, { created: 1 })];
    let polls = 0;
    const productQueries: string[] = [];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse([supplierOf(1, 'alpha')]);
        if (path === '/api/v1/suppliers/1/catalogue-syncs') {
          if (request.method === 'POST') {
            const started = run(5, { status: 'running', total: null, processed: 0, finished_at: null });
            runs.unshift(started);
            return jsonResponse(started, { status: 202 });
          }
          return jsonResponse({ items: runs, next_before_id: null });
        }
        if (path === '/api/v1/suppliers/1/catalogue-syncs/4') return jsonResponse(runs.at(-1));
        if (path === '/api/v1/suppliers/1/catalogue-syncs/5') {
          polls += 1;
          // not yet counted, then counted, then done
          if (polls === 1) return jsonResponse(run(5, { status: 'running', total: null, processed: 0, finished_at: null }));
          if (polls === 2) return jsonResponse(run(5, { status: 'running', total: 10, processed: 4, finished_at: null }));
          const done = run(5, { created: 2, updated: 3, missing: 1, repriced: 1, disabled: 1 });
          runs[0] = done;
          return jsonResponse(done);
        }
        if (path === '/api/v1/suppliers/1/catalogue-syncs/5/changes')
          return jsonResponse({
            items: [
              { id: 1, run_id: 5, mapping_id: 7, sku_id: 11, product_id: 'P-1', change: 'cost', old_cost: '95.0000', new_cost: '96.0000', note: '' },
              { id: 2, run_id: 5, mapping_id: 8, sku_id: 12, product_id: 'P-9', change: 'disabled', old_cost: '10.0000', new_cost: null, note: 'delisted' },
            ],
            next_before_id: null,
          });
        if (path === '/api/v1/suppliers/1/catalogue-syncs/4/changes') return jsonResponse({ items: [], next_before_id: null });
        if (path === '/api/v1/suppliers/1/products') {
          productQueries.push(url.search);
          const items = [product('P-1', { mapped_sku_ids: [11] }), product('P-9', { present: false, cost: null })];
          return jsonResponse({ items: url.searchParams.get('present') === 'true' ? items.slice(0, 1) : items, next_before_id: null });
        }
        return undefined;
      },
      { me: operator },
    );
    renderApp('/suppliers/sync');

    // the latest run and the catalogue
    expect(await screen.findByTestId('sync-run')).toHaveTextContent('同步 #4');
    const p1 = await screen.findByTestId('catalogue-row-P-1');
    expect(p1).toHaveTextContent('¥95.50');
    expect(p1).toHaveTextContent('SKU 11');
    expect(screen.getByTestId('catalogue-row-P-9')).toHaveTextContent('已下架');
    expect(screen.getByTestId('catalogue-row-P-9')).toHaveTextContent('未对接');

    fireEvent.click(screen.getByTestId('sync-start'));
    expect(await screen.findByTestId('sync-progress')).toHaveTextContent('正在获取供应商的商品列表…');
    await waitFor(() => expect(screen.getByTestId('sync-progress')).toHaveTextContent('已处理 4 / 10'));
    expect(within(screen.getByTestId('sync-progress')).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '40');

    const counts = await screen.findByTestId('sync-counts');
    expect(screen.getByTestId('sync-run')).toHaveTextContent('同步 #5');
    expect(screen.getByTestId('sync-run')).toHaveTextContent('已完成');
    expect(counts).toHaveTextContent('新增2');
    expect(counts).toHaveTextContent('更新3');
    expect(counts).toHaveTextContent('下架1');
    expect(counts).toHaveTextContent('改价1');
    expect(counts).toHaveTextContent('停用映射1');
    const changes = screen.getByTestId('sync-changes');
    await waitFor(() => expect(within(changes).getAllByRole('row')).toHaveLength(3));
    expect(changes).toHaveTextContent('¥95.00 → ¥96.00');
    expect(changes).toHaveTextContent('停用');
    expect(within(screen.getByTestId('sync-history')).getAllByRole('row')).toHaveLength(3);

    // 只看在售
    fireEvent.click(screen.getByTestId('catalogue-present'));
    await waitFor(() => expect(screen.queryByTestId('catalogue-row-P-9')).toBeNull());
    expect(productQueries.at(-1)).toContain('present=true');
  });

  it('a sync already running answers 409 sync_running: the message is shown', async () => {
    stubApi(
      (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse([supplierOf(1, 'alpha')]);
        if (path === '/api/v1/suppliers/1/catalogue-syncs')
          return request.method === 'POST' ? problemResponse(409, 'sync_running') : jsonResponse({ items: [], next_before_id: null });
        if (path === '/api/v1/suppliers/1/products') return jsonResponse({ items: [], next_before_id: null });
        return undefined;
      },
      { me: operator },
    );
    renderApp('/suppliers/sync');
    expect(await screen.findByTestId('sync-none')).toHaveTextContent('还没有同步过；点“同步商品目录”开始');
    fireEvent.click(screen.getByTestId('sync-start'));
    expect(await screen.findByTestId('sync-error')).toHaveTextContent('该供应商已有一次商品同步正在进行，请等它完成');
  });
});
