import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { ImportTarget, KeyOut, ProductStockOut } from '../../client';
import { jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const targets: ImportTarget[] = [
  {
    product_id: 2,
    product_name: '王者荣耀点券',
    looping_keys: false,
    skus: [
      { id: 21, name: '100 点券', available: 40 },
      { id: 22, name: '500 点券', available: 8 },
    ],
  },
];

const stock: ProductStockOut = {
  product_id: 2,
  product_name: '王者荣耀点券',
  looping_keys: false,
  available: 48,
  skus: [
    { sku_id: 21, product_id: 2, sku_name: '100 点券', available: 40, reserved: 0, sold: 5, voided: 2, threshold: 10, low_stock: false },
    { sku_id: 22, product_id: 2, sku_name: '500 点券', available: 8, reserved: 1, sold: 0, voided: 0, threshold: 10, low_stock: true },
  ],
};

function key(id: number, hint: string): KeyOut {
  return {
    id,
    sku_id: 21,
    product_id: 2,
    batch_id: 3,
    state: 'available',
    card_no: `CARD${id}`,
    hint,
    cost: '8.5000',
    order_id: null,
    sold_count: 0,
    created_at: '2026-11-23T08:00:00Z',
    sold_at: null,
    voided_at: null,
  };
}

function inventoryApi(extra: (request: Request) => Response | undefined | Promise<Response | undefined> = () => undefined) {
  return async (request: Request) => {
    const answered = await extra(request);
    if (answered) return answered;
    const url = new URL(request.url);
    if (url.pathname === '/api/v1/inventory/targets') return jsonResponse(targets);
    if (url.pathname === '/api/v1/inventory/stock/2') return jsonResponse(stock);
    if (url.pathname === '/api/v1/inventory/keys' && url.searchParams.get('sku_id') === '21') {
      return jsonResponse({ items: [key(502, '****7XQ2'), key(501, '****K9P3')], next_before_id: null });
    }
    return undefined;
  };
}

describe('库存 pages', () => {
  it('lists stock per SKU, opens a product with masked keys, and reveals one secret after the 2FA step-up', async () => {
    let steppedUp = false;
    const reveals: unknown[] = [];
    stubApi(
      inventoryApi(async (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/auth/step-up') {
          steppedUp = true;
          return jsonResponse({ valid_until: '2026-11-23T08:05:00Z' });
        }
        if (path === '/api/v1/inventory/keys/501/reveal') {
          reveals.push(await request.json());
          if (!steppedUp) return problemResponse(403, 'step_up_required');
          return jsonResponse({ id: 501, card_no: 'CARD501', secret: 'SECRET-K9P3' });
        }
        return undefined;
      }),
    );
    renderApp('/catalog/inventory');

    // the overview: one row per SKU with its figures, the low SKU flagged
    const row22 = await screen.findByTestId('stock-row-22');
    expect(await within(row22).findByTestId('low-stock-22')).toHaveTextContent('库存不足');
    expect(within(screen.getByTestId('stock-row-21')).getByTestId('available-21')).toHaveTextContent('40');
    fireEvent.click(screen.getByTestId('inventory-product-2'));

    // the product: figures per SKU, the masked keys of the first SKU
    expect(await screen.findByTestId('sku-card-21')).toHaveTextContent('100 点券');
    expect(screen.getByTestId('sku-sold-21')).toHaveTextContent('5');
    const list = await screen.findByTestId('keys-available');
    expect(await within(list).findByTestId('key-hint-502')).toHaveTextContent('****7XQ2');
    expect(list).not.toHaveTextContent('SECRET');
    expect(screen.getByTestId('export-keys')).toBeInTheDocument();

    // 查看: reason, then the 2FA dialog, then the plaintext
    fireEvent.click(within(list).getByTestId('reveal-501'));
    fireEvent.change(await screen.findByTestId('reveal-reason'), { target: { value: '顾客投诉' } });
    fireEvent.click(screen.getByTestId('reveal-confirm'));
    // (the 2FA dialog is always rendered, hidden: wait until it opens)
    await waitFor(() => expect(screen.getByText('需要两步验证')).toBeVisible());
    fireEvent.change(screen.getByTestId('step-up-code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByTestId('step-up-confirm'));
    expect(await screen.findByTestId('revealed-secret')).toHaveTextContent('SECRET-K9P3');
    expect(reveals).toEqual([{ reason: '顾客投诉' }, { reason: '顾客投诉' }]);
  }, 60_000);

  it('a reader without inventory:reveal / void / export sees masked keys only, with no buttons for them', async () => {
    stubApi(inventoryApi(), { me: makeMe({ roles: ['viewer'], permissions: ['inventory:read'] }) });
    renderApp('/catalog/inventory/2?sku_id=21');
    const list = await screen.findByTestId('keys-available');
    expect(await within(list).findByTestId('key-hint-501')).toHaveTextContent('****K9P3');
    expect(within(list).queryByTestId('reveal-501')).not.toBeInTheDocument();
    expect(within(list).queryByRole('checkbox')).not.toBeInTheDocument();
    expect(screen.queryByTestId('void-keys')).not.toBeInTheDocument();
    expect(screen.queryByTestId('export-keys')).not.toBeInTheDocument();
    expect(screen.queryByTestId('product-import')).not.toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('sku-card-22')).toHaveTextContent('库存不足'));
  }, 60_000);
});
