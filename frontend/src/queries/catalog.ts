import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { unwrap } from '../api';
import {
  catalogBulkStatus,
  catalogCreateCategory,
  catalogCreateProduct,
  catalogDeleteCategory,
  catalogGetProduct,
  catalogListCategories,
  catalogListProducts,
  catalogPriceCheck,
  catalogUpdateCategory,
  catalogUpdateProduct,
  type CategoryIn,
  type CategoryPatch,
  type ProductIn,
  type SkuIn,
} from '../client';

export type ProductStatus = 'listed' | 'unlisted' | 'scheduled';

export interface ProductFilters {
  category_id?: number;
  status?: ProductStatus;
  q?: string;
  tag?: string;
}

export const catalogKeys = {
  all: ['catalog'] as const,
  categories: () => [...catalogKeys.all, 'categories'] as const,
  products: () => [...catalogKeys.all, 'products'] as const,
  productList: (filters: ProductFilters) => [...catalogKeys.products(), 'list', filters] as const,
  product: (id: number) => [...catalogKeys.products(), 'one', id] as const,
};

export const PRODUCTS_PAGE = 50;

/** `catalog:list_categories` — the two-level tree. */
export function useCategories() {
  return useQuery({
    queryKey: catalogKeys.categories(),
    queryFn: ({ signal }) => unwrap(catalogListCategories({ signal, throwOnError: true })),
  });
}

function useInvalidateCatalog() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: catalogKeys.all });
}

export function useCreateCategory() {
  const invalidate = useInvalidateCatalog();
  return useMutation({
    mutationFn: (body: CategoryIn) => unwrap(catalogCreateCategory({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: invalidate,
  });
}

export function useUpdateCategory() {
  const invalidate = useInvalidateCatalog();
  return useMutation({
    mutationFn: ({ id, ...body }: CategoryPatch & { id: number }) =>
      unwrap(catalogUpdateCategory({ path: { category_id: id }, body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: invalidate,
  });
}

/** `catalog:delete_category` — the page shows `category_not_empty` itself. */
export function useDeleteCategory() {
  const invalidate = useInvalidateCatalog();
  return useMutation({
    mutationFn: (id: number) => unwrap(catalogDeleteCategory({ path: { category_id: id }, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: invalidate,
  });
}

/** `catalog:list_products` — newest first, "load more" with before_id. */
export function useProducts(filters: ProductFilters) {
  return useInfiniteQuery({
    queryKey: catalogKeys.productList(filters),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        catalogListProducts({
          signal,
          query: {
            category_id: filters.category_id,
            status: filters.status,
            q: filters.q || undefined,
            tag: filters.tag || undefined,
            limit: PRODUCTS_PAGE,
            before_id: pageParam ?? undefined,
          },
          throwOnError: true,
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before_id,
    placeholderData: keepPreviousData,
  });
}

export function useProduct(id: number | null) {
  return useQuery({
    queryKey: catalogKeys.product(id ?? 0),
    queryFn: ({ signal }) => unwrap(catalogGetProduct({ signal, path: { product_id: id ?? 0 }, throwOnError: true })),
    enabled: id !== null,
  });
}

/** `catalog:create_product` / `catalog:update_product` — the editor shows the errors itself
 * (`price_below_cost` asks to save anyway). */
export function useSaveProduct() {
  const invalidate = useInvalidateCatalog();
  return useMutation({
    mutationFn: ({ id, body }: { id: number | null; body: ProductIn }) =>
      unwrap(
        id === null
          ? catalogCreateProduct({ body, throwOnError: true })
          : catalogUpdateProduct({ path: { product_id: id }, body, throwOnError: true }),
      ),
    meta: { silentError: true },
    onSuccess: invalidate,
  });
}

export function useBulkStatus() {
  const invalidate = useInvalidateCatalog();
  return useMutation({
    mutationFn: (body: { product_ids: number[]; status: 'listed' | 'unlisted' }) =>
      unwrap(catalogBulkStatus({ body, throwOnError: true })),
    onSuccess: invalidate,
  });
}

/** `catalog:price_check` — live hints for one SKU (writes nothing); `sku` null: not asked. */
export function usePriceCheck(sku: SkuIn | null) {
  return useQuery({
    queryKey: [...catalogKeys.all, 'price-check', sku] as const,
    queryFn: ({ signal }) => unwrap(catalogPriceCheck({ signal, body: { sku: sku as SkuIn }, throwOnError: true })),
    enabled: sku !== null,
    staleTime: 60_000,
    placeholderData: keepPreviousData,
    meta: { silentError: true },
  });
}
