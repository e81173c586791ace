import { keepPreviousData, useQuery } from '@tanstack/react-query';

import {
  shopGetProductOptions,
  shopListCategoriesOptions,
  shopListProductsOptions,
  shopQuoteOptions,
} from '../client/@tanstack/react-query.gen';
import './common'; // the configured client (src/api.ts)

export interface ShopFilters {
  category_id?: number;
  q?: string;
}

/** `shop:list_categories` — visible categories with products on sale. */
export function useShopCategories() {
  return useQuery({ ...shopListCategoriesOptions(), staleTime: 60_000 });
}

/** `shop:list_products` — products on sale with the signed-in buyer's price. */
export function useShopProducts(filters: ShopFilters) {
  return useQuery({
    ...shopListProductsOptions({ query: { category_id: filters.category_id, q: filters.q || undefined } }),
    placeholderData: keepPreviousData,
  });
}

/** `shop:get_product` — one product on sale with its SKUs, stock and buyer fields (null: none). */
export function useShopProduct(id: number | null, options: { silentError?: boolean } = {}) {
  return useQuery({
    ...shopGetProductOptions({ path: { product_id: id ?? 0 } }),
    enabled: id !== null,
    meta: { silentError: options.silentError },
  });
}

/** `shop:quote` — what the buyer pays for `quantity` of a SKU (the order is priced the same
 * way); null: nothing to ask. The page shows a refusal (quantity out of range) itself. */
export function useQuote(skuId: number | null, quantity: number | null) {
  return useQuery({
    ...shopQuoteOptions({ path: { sku_id: skuId ?? 0 }, query: { quantity: quantity ?? 1 } }),
    enabled: skuId !== null && quantity !== null,
    placeholderData: keepPreviousData,
    meta: { silentError: true },
    staleTime: 10_000,
  });
}
