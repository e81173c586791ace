import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { CategoryOut, ProductOut } from '../../client';
import { jsonResponse, makeMe, pathOf, renderApp, stubApi } from '../../test/render';

const categories: CategoryOut[] = [
  {
    id: 1,
    parent_id: null,
    name: '游戏点卡',
    icon: '',
    sort: 0,
    visible: true,
    product_count: 1,
    children: [{ id: 2, parent_id: 1, name: '王者荣耀', icon: '', sort: 0, visible: true, product_count: 1, children: [] }],
  },
];

function product(id: number, overrides: Partial<ProductOut> = {}): ProductOut {
  const sku = (skuId: number, price: string) => ({
    id: skuId,
    name: `SKU ${skuId}`,
    attrs: {},
    base_price: price,
    cost_price: '1.0000',
    market_price: null,
    member_prices: {},
    reseller_prices: {},
    tier_prices: {},
    active: true,
    sort: 0,
  });
  return {
    id,
    category_id: 2,
    name: `商品 ${id}`,
    summary: '',
    description_html: '',
    images: [],
    status: 'unlisted',
    on_sale: false,
    list_at: null,
    unlist_at: null,
    delivery_type: 'direct_recharge',
    min_qty: 1,
    max_qty: 100,
    per_user_limit: null,
    stock_alert_threshold: 0,
    looping_keys: false,
    buyer_fields: [],
    tags: ['热卖'],
    sort: 0,
    version: 1,
    created_at: '2026-11-20T08:00:00Z',
    updated_at: '2026-11-20T08:00:00Z',
    skus: [sku(id * 10, '9.8000'), sku(id * 10 + 1, '98.0000')],
    ...overrides,
  };
}

describe('商品 page', () => {
  it('lists products with category, price range and on-sale state, loads more and bulk-lists', async () => {
    const queries: string[] = [];
    const bulk: unknown[] = [];
    stubApi(async (request) => {
      const url = new URL(request.url);
      if (url.pathname === '/api/v1/catalog/categories') return jsonResponse(categories);
      if (url.pathname === '/api/v1/catalog/products' && request.method === 'GET') {
        queries.push(url.search);
        if (url.searchParams.get('before_id') === '7') return jsonResponse({ items: [product(6)], next_before_id: null });
        return jsonResponse({ items: [product(8, { status: 'listed', on_sale: true }), product(7)], next_before_id: 7 });
      }
      if (pathOf(request) === '/api/v1/catalog/products/bulk-status') {
        bulk.push(await request.json());
        return jsonResponse({ updated: 1 });
      }
      return undefined;
    });
    renderApp('/catalog/products');
    const table = await screen.findByTestId('product-table');
    const row8 = await within(table).findByTestId('product-row-8');
    expect(row8).toHaveTextContent('游戏点卡 / 王者荣耀');
    expect(row8).toHaveTextContent('¥9.80 – ¥98.00');
    expect(row8).toHaveTextContent('已上架');
    expect(row8).toHaveTextContent('在售');
    expect(row8).toHaveTextContent('直充');
    expect(within(table).getByTestId('product-row-7')).toHaveTextContent('未在售');

    fireEvent.click(screen.getByTestId('products-load-more'));
    expect(await within(table).findByTestId('product-row-6')).toBeInTheDocument();
    expect(queries.some((q) => q.includes('before_id=7'))).toBe(true);

    // search by name
    const search = screen.getByTestId('filter-q');
    fireEvent.change(search, { target: { value: '点券' } });
    fireEvent.keyDown(search, { key: 'Enter', code: 'Enter', keyCode: 13 });
    await waitFor(() => expect(queries.some((q) => q.includes('q=%E7%82%B9%E5%88%B8'))).toBe(true));

    // select one row and list it
    expect(screen.getByTestId('bulk-list')).toBeDisabled();
    const row7 = await within(screen.getByTestId('product-table')).findByTestId('product-row-7');
    fireEvent.click(within(row7).getByRole('checkbox'));
    expect(await screen.findByText('已选 1 个商品')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('bulk-list'));
    await waitFor(() => expect(bulk).toEqual([{ product_ids: [7], status: 'listed' }]));
    expect(await screen.findByText('已上架 1 个商品')).toBeInTheDocument();
  }, 60_000);

  it('a reader sees no bulk actions and no new-product button', async () => {
    stubApi(
      (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/catalog/categories') return jsonResponse(categories);
        if (path === '/api/v1/catalog/products') return jsonResponse({ items: [product(8)], next_before_id: null });
        return undefined;
      },
      { me: makeMe({ roles: ['viewer'], permissions: ['catalog:read'] }) },
    );
    renderApp('/catalog/products');
    expect(await screen.findByTestId('product-row-8')).toBeInTheDocument();
    expect(screen.queryByTestId('bulk-list')).not.toBeInTheDocument();
    expect(screen.queryByTestId('create-product')).not.toBeInTheDocument();
    expect(within(screen.getByTestId('product-row-8')).queryByRole('checkbox')).not.toBeInTheDocument();
  }, 60_000);
});
