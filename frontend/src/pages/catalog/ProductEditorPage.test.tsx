import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { CategoryOut, PriceWarningOut, ProductIn, ProductOut, SkuIn } from '../../client';
import { jsonResponse, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const categories: CategoryOut[] = [
  {
    id: 1,
    parent_id: null,
    name: '游戏点卡',
    icon: '🎮',
    sort: 0,
    visible: true,
    product_count: 1,
    children: [{ id: 2, parent_id: 1, name: '王者荣耀', icon: '', sort: 0, visible: true, product_count: 1, children: [] }],
  },
];

const product: ProductOut = {
  id: 5,
  category_id: 2,
  name: '王者荣耀点券',
  summary: '秒到账',
  description_html: '<p>说明</p>',
  images: [],
  status: 'unlisted',
  on_sale: false,
  list_at: null,
  unlist_at: null,
  delivery_type: 'card_key',
  min_qty: 1,
  max_qty: 100,
  per_user_limit: null,
  stock_alert_threshold: 10,
  looping_keys: false,
  buyer_fields: [{ key: 'game_id', label: '游戏账号', type: 'text', required: true, max_length: 64, pattern: null, options: [] }],
  tags: ['热卖'],
  sort: 0,
  version: 1,
  created_at: '2026-11-20T08:00:00Z',
  updated_at: '2026-11-20T08:00:00Z',
  skus: [
    {
      id: 9,
      name: '100 点券',
      attrs: { face_value: '100', note: 'keep' },
      base_price: '10.0000',
      cost_price: '8.0000',
      market_price: '10.0000',
      member_prices: { '1': '9.8000' },
      reseller_prices: {},
      tier_prices: {},
      active: true,
      sort: 0,
    },
  ],
};

function warning(overrides: Partial<PriceWarningOut>): PriceWarningOut {
  return {
    code: 'below_market',
    sku: '100 点券',
    price_label: 'base',
    price: '9.0000',
    reference: '10.0000',
    percent: 10,
    message_zh: '该价格低于市场均价10%',
    message_en: 'This price is 10% below the market average',
    ...overrides,
  };
}

describe('product wizard', () => {
  it('shows live price hints and saves a price below cost only after "save anyway"', async () => {
    const checks: SkuIn[] = [];
    const saves: ProductIn[] = [];
    stubApi(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/catalog/categories') return jsonResponse(categories);
      if (path === '/api/v1/catalog/products/5' && request.method === 'GET') return jsonResponse(product);
      if (path === '/api/v1/catalog/price-check') {
        const { sku } = (await request.json()) as { sku: SkuIn };
        checks.push(sku);
        const below = Number(sku.base_price) < Number(sku.cost_price);
        return jsonResponse({
          below_cost: below ? [warning({ code: 'below_cost', message_zh: '该价格低于成本价', message_en: 'This price is below cost' })] : [],
          hints: Number(sku.base_price) <= 9 ? [warning({})] : [],
        });
      }
      if (path === '/api/v1/catalog/products/5' && request.method === 'PUT') {
        const body = (await request.json()) as ProductIn;
        saves.push(body);
        if (!body.confirm_below_cost) {
          return problemResponse(422, 'price_below_cost', {
            detail: '100 点券 base: This price is below cost. Send confirm_below_cost=true to save anyway.',
          });
        }
        return jsonResponse({ product: { ...product, version: 2 }, warnings: [warning({ price: '7.0000' })] });
      }
      return undefined;
    });

    renderApp('/catalog/products/5');
    expect(await screen.findByTestId('product-name')).toHaveValue('王者荣耀点券');

    // step 3: SKUs and prices
    fireEvent.click(screen.getByTestId('wizard-next'));
    await waitFor(() => expect(screen.getByTestId('wizard-prev')).toBeInTheDocument());
    fireEvent.click(screen.getByTestId('wizard-next'));
    const base = await screen.findByTestId('sku-base-0');
    await waitFor(() => expect(base).toBeVisible());
    expect(base).toHaveValue('10.00');

    // 10 % below the market price: the hint appears under the SKU
    fireEvent.change(base, { target: { value: '9' } });
    const hints = screen.getByTestId('sku-hints-0');
    expect(await within(hints).findByText('基础价：该价格低于市场均价10%')).toBeInTheDocument();
    expect(checks.at(-1)).toMatchObject({ id: 9, base_price: '9', cost_price: '8.00', market_price: '10.00', member_prices: { '1': '9.80' } });

    // below cost: a red hint as well
    fireEvent.change(base, { target: { value: '7' } });
    expect(await within(hints).findByText('基础价：该价格低于成本价')).toBeInTheDocument();

    // review and save: refused, then saved with confirm_below_cost
    fireEvent.click(screen.getByTestId('wizard-next'));
    expect(await screen.findByTestId('product-review')).toHaveTextContent('100 点券');
    fireEvent.click(screen.getByTestId('product-save'));
    const alert = await screen.findByTestId('below-cost-alert');
    expect(alert).toHaveTextContent('价格低于成本价');
    expect(alert).toHaveTextContent('Send confirm_below_cost=true');
    expect(saves).toHaveLength(1);
    expect(saves[0]?.confirm_below_cost).toBe(false);
    // money goes out as strings; untouched attributes and the SKU id are kept
    expect(saves[0]?.skus[0]).toMatchObject({ id: 9, base_price: '7', attrs: { face_value: '100', note: 'keep' } });

    fireEvent.click(screen.getByTestId('save-anyway'));
    const warnings = await screen.findByTestId('save-warnings');
    expect(warnings).toHaveTextContent('100 点券 · 基础价：该价格低于市场均价10%');
    expect(saves).toHaveLength(2);
    expect(saves[1]?.confirm_below_cost).toBe(true);
    expect(screen.getByText('商品已保存', { selector: '.ant-result-title' })).toBeInTheDocument();
  }, 60_000);

  it('shows the hints in English when the UI is in English', async () => {
    localStorage.setItem('kameng.lang', 'en');
    const { default: i18n } = await import('i18next');
    await i18n.changeLanguage('en');
    try {
      stubApi(async (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/catalog/categories') return jsonResponse(categories);
        if (path === '/api/v1/catalog/products/5') return jsonResponse(product);
        if (path === '/api/v1/catalog/price-check') {
          await request.json();
          return jsonResponse({ below_cost: [], hints: [warning({ price_label: 'member:1' })] });
        }
        return undefined;
      });
      renderApp('/catalog/products/5');
      await screen.findByTestId('product-name');
      fireEvent.click(screen.getByTestId('wizard-next'));
      await waitFor(() => expect(screen.getByTestId('wizard-prev')).toBeInTheDocument());
      fireEvent.click(screen.getByTestId('wizard-next'));
      const hints = await screen.findByTestId('sku-hints-0');
      expect(await within(hints).findByText('Member level 1 price: This price is 10% below the market average')).toBeInTheDocument();
    } finally {
      await i18n.changeLanguage('zh-CN');
    }
  }, 60_000);
});
