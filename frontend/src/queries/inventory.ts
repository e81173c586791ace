import { keepPreviousData, useInfiniteQuery, useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';

import { unwrap } from '../api';
import {
  inventoryConfirmImport,
  inventoryDiscardImport,
  inventoryExportKeys,
  inventoryGetImport,
  inventoryImportTargets,
  inventoryListImports,
  inventoryListKeys,
  inventoryProductStock,
  inventoryRevalidateImport,
  inventoryRevealKey,
  inventoryStageImport,
  inventoryVoidImport,
  inventoryVoidKeys,
  type BodyInventoryStageImport,
  type ExportIn,
  type ImportOut,
} from '../client';
import { attachmentName, saveBlob } from './audit';

export type KeyState = 'available' | 'reserved' | 'sold' | 'voided';
export type ImportStatus = ImportOut['status'];

export interface KeyFilters {
  sku_id: number;
  state: KeyState;
  batch_id?: number;
}

export interface ImportFilters {
  product_id?: number;
  sku_id?: number;
  status?: ImportStatus;
}

export const inventoryKeys = {
  all: ['inventory'] as const,
  targets: () => [...inventoryKeys.all, 'targets'] as const,
  stock: (productId: number) => [...inventoryKeys.all, 'stock', productId] as const,
  keys: (filters: KeyFilters) => [...inventoryKeys.all, 'keys', filters] as const,
  imports: () => [...inventoryKeys.all, 'imports'] as const,
  importList: (filters: ImportFilters) => [...inventoryKeys.imports(), 'list', filters] as const,
  import: (id: number) => [...inventoryKeys.imports(), 'one', id] as const,
};

export const KEYS_PAGE = 50;
export const IMPORTS_PAGE = 20;
/** How often a running check or import is asked for its progress. */
export const IMPORT_POLL_MS = 1_000;

/** States in which a job is still working on the import (the page polls). */
export function importRunning(status: ImportStatus | undefined): boolean {
  return status === 'validating' || status === 'queued';
}

/** `inventory:import_targets` — card-key products and their SKUs (also for key uploaders). */
export function useImportTargets() {
  return useQuery({
    queryKey: inventoryKeys.targets(),
    queryFn: ({ signal }) => unwrap(inventoryImportTargets({ signal, throwOnError: true })),
  });
}

function stockQuery(productId: number) {
  return {
    queryKey: inventoryKeys.stock(productId),
    queryFn: ({ signal }: { signal: AbortSignal }) =>
      unwrap(inventoryProductStock({ signal, path: { product_id: productId }, throwOnError: true })),
  };
}

/** `inventory:product_stock` — figures per SKU of one product. */
export function useProductStock(productId: number | null) {
  return useQuery({ ...stockQuery(productId ?? 0), enabled: productId !== null });
}

/**
 * The figures of several products (the stock overview). The API has no list form of
 * `inventory:product_stock`, so this asks once per product.
 */
export function useProductStocks(productIds: number[]) {
  return useQueries({ queries: productIds.map((id) => stockQuery(id)) });
}

/** `inventory:list_keys` — masked keys of one SKU in one state, newest first, "load more". */
export function useKeys(filters: KeyFilters | null) {
  return useInfiniteQuery({
    queryKey: inventoryKeys.keys(filters ?? { sku_id: 0, state: 'available' }),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        inventoryListKeys({
          signal,
          query: {
            sku_id: filters?.sku_id ?? 0,
            state: filters?.state,
            batch_id: filters?.batch_id,
            limit: KEYS_PAGE,
            before_id: pageParam ?? undefined,
          },
          throwOnError: true,
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before_id,
    enabled: filters !== null,
  });
}

/** `inventory:list_imports` — batches newest first (a key uploader gets their own). */
export function useImports(filters: ImportFilters) {
  return useInfiniteQuery({
    queryKey: inventoryKeys.importList(filters),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        inventoryListImports({
          signal,
          query: { ...filters, limit: IMPORTS_PAGE, before_id: pageParam ?? undefined },
          throwOnError: true,
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before_id,
    placeholderData: keepPreviousData,
  });
}

/** `inventory:get_import` — asked again every second while a job checks or imports it. */
export function useImport(id: number | null) {
  return useQuery({
    queryKey: inventoryKeys.import(id ?? 0),
    queryFn: ({ signal }) => unwrap(inventoryGetImport({ signal, path: { import_id: id ?? 0 }, throwOnError: true })),
    enabled: id !== null,
    refetchInterval: (query) => (importRunning(query.state.data?.status) ? IMPORT_POLL_MS : false),
    staleTime: 0,
  });
}

/** Stock moved (keys imported or voided): figures, key lists and batch lists are stale. */
export function useInvalidateStock() {
  const queryClient = useQueryClient();
  return useCallback(
    () =>
      Promise.all(
        (['targets', 'stock', 'keys'] as const).map((part) => queryClient.invalidateQueries({ queryKey: [...inventoryKeys.all, part] })),
      ),
    [queryClient],
  );
}

/** After a change of an import: remember its new state, refresh lists and figures. */
function useImportChanged() {
  const queryClient = useQueryClient();
  const invalidateStock = useInvalidateStock();
  return (out: ImportOut) => {
    queryClient.setQueryData(inventoryKeys.import(out.id), out);
    void queryClient.invalidateQueries({ queryKey: [...inventoryKeys.imports(), 'list'] });
    if (out.status === 'imported' || out.status === 'voided') void invalidateStock();
  };
}

/** `inventory:stage_import` (multipart) — the wizard shows the errors itself. */
export function useStageImport() {
  const changed = useImportChanged();
  return useMutation({
    mutationFn: (body: BodyInventoryStageImport) => unwrap(inventoryStageImport({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:confirm_import` — "imported" now, or "queued" for a job (poll the import). */
export function useConfirmImport() {
  const changed = useImportChanged();
  return useMutation({
    mutationFn: (id: number) => unwrap(inventoryConfirmImport({ path: { import_id: id }, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:discard_import` — an unconfirmed import. */
export function useDiscardImport() {
  const changed = useImportChanged();
  return useMutation({
    mutationFn: (id: number) => unwrap(inventoryDiscardImport({ path: { import_id: id }, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:revalidate_import` — check the upload again (after `stock_changed`). */
export function useRevalidateImport() {
  const changed = useImportChanged();
  return useMutation({
    mutationFn: (id: number) => unwrap(inventoryRevalidateImport({ path: { import_id: id }, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:void_import` — a whole imported batch, while none of it was sold. */
export function useVoidImport() {
  const changed = useImportChanged();
  return useMutation({
    mutationFn: ({ id, reason }: { id: number; reason: string }) =>
      unwrap(inventoryVoidImport({ path: { import_id: id }, body: { reason }, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:void_keys` — available keys only; the others are counted as skipped. */
export function useVoidKeys() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { key_ids: number[]; reason: string }) => unwrap(inventoryVoidKeys({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: inventoryKeys.all }),
  });
}

/** `inventory:reveal_key` — sensitive: a 403 step_up_required opens the 2FA dialog and the
 * request is sent again by the API layer (auth/stepUp.ts). */
export function useRevealKey() {
  return useMutation({
    mutationFn: ({ id, reason }: { id: number; reason: string }) =>
      unwrap(inventoryRevealKey({ path: { key_id: id }, body: { reason }, throwOnError: true })),
    meta: { silentError: true },
  });
}

function isBlob(value: unknown): value is Blob {
  return typeof value === 'object' && value !== null && 'size' in value && 'type' in value && 'slice' in value;
}

/** `inventory:export_keys` — the decrypted keys as CSV (step-up), saved by the browser. */
export async function exportKeys(body: ExportIn): Promise<string> {
  const { data, response } = await inventoryExportKeys({ body, parseAs: 'blob', throwOnError: true });
  const name = attachmentName(response.headers.get('content-disposition')) ?? `keys-sku${body.sku_id}.csv`;
  const blob = isBlob(data) ? data : new Blob([typeof data === 'string' ? data : ''], { type: 'text/csv' });
  saveBlob(blob, name);
  return name;
}
