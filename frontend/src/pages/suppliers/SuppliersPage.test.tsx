import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { HealthOut, MappingOut, ProductOut, SupplierOut } from '../../client';
import { inputOf, jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const operator = makeMe({ id: 3, display_name: '运营 Operator', roles: ['operator'], permissions: ['suppliers:read', 'suppliers:write', 'catalog:read'] });

function supplier(id: number, name: string, overrides: Partial<SupplierOut> = {}): SupplierOut {
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
    balance: '12345.6700',
    balance_at: '2026-12-07T08:00:00Z',
    low_balance_threshold: '100.0000',
    last_error: null,
    last_error_at: null,
    created_at: '2026-12-01T08:00:00Z',
    updated_at: '2026-12-01T08:00:00Z',
    ...overrides,
  };
}

function health(id: number, state: 'closed' | 'open', rate: number | null): HealthOut {
  return {
    supplier_id: id,
    orders: 20,
    succeeded: 19,
    failed: 1,
    success_rate: rate,
    p50_latency_ms: 120,
    p95_latency_ms: 480,
    last_error: null,
    last_error_at: null,
    balance: null,
    balance_at: null,
    circuit: { state, opened_at: null, calls: 12, errors: state === 'open' ? 9 : 0 },
  };
}

describe('上游 › 供应商', () => {
  it('lists suppliers with health and circuit tags, tests a connection and resets an open circuit', async () => {
    const list = [supplier(1, 'alpha'), supplier(2, 'beta', { balance: '50.0000', last_error: 'timeout after 8 s' })];
    const states: Record<number, 'closed' | 'open'> = { 1: 'closed', 2: 'open' };
    let resets = 0;
    stubApi(
      (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse(list);
        const m = /^\/api\/v1\/suppliers\/(\d+)\/(health|test|circuit\/reset)$/.exec(path);
        if (!m) return undefined;
        const id = Number(m[1]);
        if (m[2] === 'health') return jsonResponse(health(id, states[id] ?? 'closed', id === 1 ? 0.95 : 0.25));
        if (m[2] === 'test') return jsonResponse({ ok: false, error: 'bad signature (HTTP 401)', latency_ms: 42 });
        resets += 1;
        states[id] = 'closed';
        return jsonResponse({ state: 'closed', opened_at: null, calls: 0, errors: 0 });
      },
      { me: operator },
    );
    renderApp('/suppliers/list');

    const alpha = await screen.findByTestId('supplier-row-1');
    const beta = screen.getByTestId('supplier-row-2');
    expect(alpha).toHaveTextContent('http_json');
    expect(alpha).toHaveTextContent('¥12345.67');
    await waitFor(() => expect(within(alpha).getByTestId('success-rate')).toHaveTextContent('95.0%'));
    expect(alpha).toHaveTextContent('120.0 ms / 480.0 ms');
    expect(within(alpha).getByTestId('circuit-tag')).toHaveClass('ant-tag-success');
    await waitFor(() => expect(within(beta).getByTestId('circuit-tag')).toHaveClass('ant-tag-error'));
    expect(within(beta).getByTestId('circuit-tag')).toHaveTextContent('已熔断');
    // ¥50 is under its ¥100 threshold
    expect(beta).toHaveTextContent('偏低');
    expect(beta).toHaveTextContent('timeout after 8 s');

    fireEvent.click(within(alpha).getByTestId('supplier-test-1'));
    const result = await screen.findByTestId('test-result');
    expect(result).toHaveAttribute('data-ok', 'false');
    expect(result).toHaveTextContent('连接失败（42 ms）');
    expect(result).toHaveTextContent('bad signature (HTTP 401)');

    // only an open circuit offers the reset
    expect(within(alpha).queryByTestId('supplier-reset-1')).toBeNull();
    fireEvent.click(within(beta).getByTestId('supplier-reset-2'));
    fireEvent.click(await screen.findByTestId('reset-confirm'));
    await waitFor(() => expect(resets).toBe(1));
    await waitFor(() => expect(within(screen.getByTestId('supplier-row-2')).getByTestId('circuit-tag')).toHaveClass('ant-tag-success'));
  });

  it('edits a supplier: credentials show 已设置 and are sent only when typed (a change of credentials needs the permission)', async () => {
    const patches: unknown[] = [];
    const list = [supplier(1, 'alpha')];
    stubApi(
      async (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse(list);
        if (path === '/api/v1/suppliers/1/health') return jsonResponse(health(1, 'closed', 1));
        if (path === '/api/v1/suppliers/1' && request.method === 'PATCH') {
          const body: unknown = await request.json();
          patches.push(body);
          return patches.length === 1 ? jsonResponse(list[0]) : problemResponse(422, 'url_not_allowed');
        }
        return undefined;
      },
      { me: makeMe({ ...operator, permissions: [...operator.permissions, 'suppliers:credentials'] }) },
    );
    renderApp('/suppliers/list');
    fireEvent.click(await screen.findByTestId('supplier-edit-1'));
    const form = await screen.findByTestId('supplier-form');
    await waitFor(() => expect(screen.getByTestId('supplier-name')).toHaveValue('alpha'));
    expect(within(form).getByText('已设置')).toBeInTheDocument();
    expect(screen.getByTestId('supplier-cred-secret')).toHaveAttribute('placeholder', '已设置（留空不修改）');

    fireEvent.change(screen.getByTestId('supplier-name'), { target: { value: 'alpha2' } });
    fireEvent.click(screen.getByTestId('supplier-submit'));
    await waitFor(() => expect(patches).toHaveLength(1));
    expect(patches[0]).toEqual({
      name: 'alpha2',
      base_url: 'https://alpha.example/api',
      timeout_s: 8,
      enabled: true,
      serves_unmapped: false,
      low_balance_threshold: '100.0000',
    });

    fireEvent.click(await screen.findByTestId('supplier-edit-1'));
    await waitFor(() => expect(screen.getByTestId('supplier-name')).toHaveValue('alpha'));
    fireEvent.change(screen.getByTestId('supplier-cred-secret'), { target: { value: 'new-secret' } });
    fireEvent.change(screen.getByTestId('supplier-base-url'), { target: { value: 'http://10.1.2.3/api' } });
    fireEvent.click(screen.getByTestId('supplier-submit'));
    expect(await screen.findByTestId('supplier-error')).toHaveTextContent('这个地址不允许使用');
    expect(patches[1]).toMatchObject({ base_url: 'http://10.1.2.3/api', credentials: { secret: 'new-secret' } });
  });

  it('the product editor lists each SKU\'s supplier mappings in failover order and adds one', async () => {
    const mappings: MappingOut[] = [
      { id: 2, sku_id: 11, supplier_id: 2, supplier_product_id: 'B-100', cost: '96.0000', priority: 20, enabled: true, created_at: '', updated_at: '' },
      { id: 1, sku_id: 11, supplier_id: 1, supplier_product_id: 'A-100', cost: '95.0000', priority: 10, enabled: true, created_at: '', updated_at: '' },
    ];
    const posted: unknown[] = [];
    const product: ProductOut = {
      id: 7,
      category_id: 1,
      name: '话费直充',
      summary: '',
      description_html: '',
      images: [],
      status: 'listed',
      on_sale: true,
      list_at: null,
      unlist_at: null,
      delivery_type: 'direct_recharge',
      min_qty: 1,
      max_qty: 10,
      per_user_limit: null,
      stock_alert_threshold: 10,
      looping_keys: false,
      buyer_fields: [],
      tags: [],
      sort: 0,
      version: 1,
      created_at: '2026-11-20T08:00:00Z',
      updated_at: '2026-11-20T08:00:00Z',
      skus: [{ id: 11, name: '100元', attrs: {}, base_price: '99.0000', cost_price: '95.0000', market_price: null, member_prices: {}, reseller_prices: {}, tier_prices: {}, active: true, sort: 0 }],
    };
    stubApi(
      async (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/suppliers') return jsonResponse([supplier(1, 'alpha'), supplier(2, 'beta'), supplier(3, 'gamma')]);
        if (path === '/api/v1/skus/11/supplier-mappings') {
          if (request.method === 'POST') {
            const body = (await request.json()) as { supplier_id: number; supplier_product_id: string; priority: number };
            posted.push(body);
            mappings.push({ id: 3, sku_id: 11, cost: null, enabled: true, created_at: '', updated_at: '', ...body });
            return jsonResponse(mappings.at(-1), { status: 201 });
          }
          return jsonResponse(mappings);
        }
        if (path === '/api/v1/catalog/products/7') return jsonResponse(product);
        if (path === '/api/v1/catalog/categories') return jsonResponse([]);
        return undefined;
      },
      { me: operator },
    );
    renderApp('/catalog/products/7');
    const card = await screen.findByTestId('sku-mappings-11');
    await waitFor(() => expect(within(card).getAllByRole('row')).toHaveLength(3));
    const rows = within(card).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('alpha');
    expect(rows[1]).toHaveTextContent('A-100');
    expect(rows[2]).toHaveTextContent('beta');

    fireEvent.click(within(card).getByTestId('mapping-add-11'));
    const select = within(await screen.findByTestId('mapping-supplier')).getByRole('combobox');
    fireEvent.mouseDown(select);
    fireEvent.click(await screen.findByTitle('gamma'));
    fireEvent.change(screen.getByTestId('mapping-product-id'), { target: { value: 'G-100' } });
    fireEvent.change(inputOf(screen.getByTestId('mapping-priority')), { target: { value: '30' } });
    fireEvent.click(screen.getByTestId('mapping-submit'));
    await waitFor(() => expect(posted).toEqual([{ supplier_id: 3, supplier_product_id: 'G-100', cost: null, priority: 30, enabled: true }]));
    await waitFor(() => expect(within(screen.getByTestId('sku-mappings-11')).getAllByRole('row')).toHaveLength(4));
  });
});
