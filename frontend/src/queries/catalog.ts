import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';

import type { CategoryIn, CategoryPatch, ProductIn, SkuIn } from '../client';
import {
  catalogBulkStatusMutation,
  catalogCreateCategoryMutation,
  catalogCreateProductMutation,
  catalogDeleteCategoryMutation,
  catalogGetProductOptions,
  catalogGetProductQueryKey,
  catalogListCategoriesOptions,
  catalogListCategoriesQueryKey,
  catalogListProductsInfiniteOptions,
  catalogListProductsQueryKey,
  catalogPriceCheckOptions,
  catalogPriceCheckQueryKey,
  catalogUpdateCategoryMutation,
  catalogUpdateProductMutation,
} from '../client/@tanstack/react-query.gen';
import { cursorPages, everyQueryOf, invalidate, mutationWith, runMutation } from './common';

export type ProductStatus = 'listed' | 'unlisted' | 'scheduled';

export interface ProductFilters {
  category_id?: number;
  status?: ProductStatus;
  q?: string;
  tag?: string;
}

export const PRODUCTS_PAGE = 50;

/** Every catalog query, whatever its parameters: what a change of the catalog makes stale. */
function catalogQueries(): QueryKey[] {
  return [
    catalogListCategoriesQueryKey(),
    catalogListProductsQueryKey(),
    everyQueryOf(catalogGetProductQueryKey),
    everyQueryOf(catalogPriceCheckQueryKey),
  ];
}

function useInvalidateCatalog() {
  const queryClient = useQueryClient();
  return () => invalidate(queryClient, catalogQueries());
}

/** `catalog:list_categories` — the two-level tree. */
export function useCategories() {
  return useQuery(catalogListCategoriesOptions());
}

export function useCreateCategory() {
  const invalidateCatalog = useInvalidateCatalog();
  return useMutation({
    ...mutationWith(catalogCreateCategoryMutation(), (body: CategoryIn) => ({ body })),
    meta: { silentError: true },
    onSuccess: invalidateCatalog,
  });
}

export function useUpdateCategory() {
  const invalidateCatalog = useInvalidateCatalog();
  return useMutation({
    ...mutationWith(catalogUpdateCategoryMutation(), ({ id, ...body }: CategoryPatch & { id: number }) => ({
      path: { category_id: id },
      body,
    })),
    meta: { silentError: true },
    onSuccess: invalidateCatalog,
  });
}

/** `catalog:delete_category` — the page shows `category_not_empty` itself. */
export function useDeleteCategory() {
  const invalidateCatalog = useInvalidateCatalog();
  return useMutation({
    ...mutationWith(catalogDeleteCategoryMutation(), (id: number) => ({ path: { category_id: id } })),
    meta: { silentError: true },
    onSuccess: invalidateCatalog,
  });
}

/** `catalog:list_products` — newest first, "load more" with before_id. */
export function useProducts(filters: ProductFilters) {
  return useInfiniteQuery({
    ...cursorPages(catalogListProductsInfiniteOptions, {
    query: {
      category_id: filters.category_id,
      status: filters.status,
      q: filters.q || undefined,
      tag: filters.tag || undefined,
      limit: PRODUCTS_PAGE,
    },
  }, (last) => last.next_before_id),
    placeholderData: keepPreviousData,
  });
}

export function useProduct(id: number | null) {
  return useQuery({
    ...catalogGetProductOptions({ path: { product_id: id ?? 0 } }),
    enabled: id !== null,
  });
}

/** `catalog:create_product` / `catalog:update_product` — the editor shows the errors itself
 * (`price_below_cost` asks to save anyway). */
export function useSaveProduct() {
  const invalidateCatalog = useInvalidateCatalog();
  return useMutation({
    mutationFn: ({ id, body }: { id: number | null; body: ProductIn }, context) =>
      id === null
        ? runMutation(catalogCreateProductMutation(), { body }, context)
        : runMutation(catalogUpdateProductMutation(), { path: { product_id: id }, body }, context),
    meta: { silentError: true },
    onSuccess: invalidateCatalog,
  });
}

export function useBulkStatus() {
  const invalidateCatalog = useInvalidateCatalog();
  return useMutation({
    ...mutationWith(catalogBulkStatusMutation(), (body: { product_ids: number[]; status: 'listed' | 'unlisted' }) => ({ body })),
    onSuccess: invalidateCatalog,
  });
}

/** `catalog:price_check` — live hints for one SKU (writes nothing; generated as a query, see
 * openapi-ts.config.ts); `sku` null: not asked. */
export function usePriceCheck(sku: SkuIn | null) {
  return useQuery({
    ...catalogPriceCheckOptions({ body: { sku: sku as SkuIn } }),
    enabled: sku !== null,
    staleTime: 60_000,
    placeholderData: keepPreviousData,
    meta: { silentError: true },
  });
}
