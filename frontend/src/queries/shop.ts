import { keepPreviousData, useQuery } from '@tanstack/react-query';

import { unwrap } from '../api';
import { shopGetProduct, shopListCategories, shopListProducts, shopQuote } from '../client';

export interface ShopFilters {
  category_id?: number;
  q?: string;
}

export const shopKeys = {
  all: ['shop'] as const,
  categories: () => [...shopKeys.all, 'categories'] as const,
  products: (filters: ShopFilters) => [...shopKeys.all, 'products', filters] as const,
  product: (id: number) => [...shopKeys.all, 'product', id] as const,
  quote: (skuId: number, quantity: number) => [...shopKeys.all, 'quote', skuId, quantity] as const,
};

/** `shop:list_categories` — visible categories with products on sale. */
export function useShopCategories() {
  return useQuery({
    queryKey: shopKeys.categories(),
    queryFn: ({ signal }) => unwrap(shopListCategories({ signal, throwOnError: true })),
    staleTime: 60_000,
  });
}

/** `shop:list_products` — products on sale with the signed-in buyer's price. */
export function useShopProducts(filters: ShopFilters) {
  return useQuery({
    queryKey: shopKeys.products(filters),
    queryFn: ({ signal }) =>
      unwrap(
        shopListProducts({
          signal,
          query: { category_id: filters.category_id, q: filters.q || undefined },
          throwOnError: true,
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** `shop:get_product` — one product on sale with its SKUs, stock and buyer fields (null: none). */
export function useShopProduct(id: number | null, options: { silentError?: boolean } = {}) {
  return useQuery({
    queryKey: shopKeys.product(id ?? 0),
    queryFn: ({ signal }) => unwrap(shopGetProduct({ signal, path: { product_id: id ?? 0 }, throwOnError: true })),
    enabled: id !== null,
    meta: { silentError: options.silentError },
  });
}

/** `shop:quote` — what the buyer pays for `quantity` of a SKU (the order is priced the same
 * way); null: nothing to ask. The page shows a refusal (quantity out of range) itself. */
export function useQuote(skuId: number | null, quantity: number | null) {
  return useQuery({
    queryKey: shopKeys.quote(skuId ?? 0, quantity ?? 0),
    queryFn: ({ signal }) =>
      unwrap(shopQuote({ signal, path: { sku_id: skuId ?? 0 }, query: { quantity: quantity ?? 1 }, throwOnError: true })),
    enabled: skuId !== null && quantity !== null,
    placeholderData: keepPreviousData,
    meta: { silentError: true },
    staleTime: 10_000,
  });
}
