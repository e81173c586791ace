import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQueries,
  useQuery,
  useQueryClient,
  type QueryKey,
} from '@tanstack/react-query';
import { useCallback } from 'react';

import { inventoryExportKeys, type BodyInventoryStageImport, type ExportIn, type ImportOut } from '../client';
import {
  inventoryConfirmImportMutation,
  inventoryDiscardImportMutation,
  inventoryGetImportOptions,
  inventoryGetImportQueryKey,
  inventoryImportTargetsOptions,
  inventoryImportTargetsQueryKey,
  inventoryListImportsInfiniteOptions,
  inventoryListImportsQueryKey,
  inventoryListKeysInfiniteOptions,
  inventoryListKeysQueryKey,
  inventoryProductStockOptions,
  inventoryProductStockQueryKey,
  inventoryRevalidateImportMutation,
  inventoryRevealKeyMutation,
  inventoryStageImportMutation,
  inventoryVoidImportMutation,
  inventoryVoidKeysMutation,
} from '../client/@tanstack/react-query.gen';
import { attachmentName, isBlob, saveBlob } from './audit';
import { cursorPages, everyQueryOf, invalidate, mutationWith } from './common';

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

export const KEYS_PAGE = 50;
export const IMPORTS_PAGE = 20;
/** How often a running check or import is asked for its progress. */
export const IMPORT_POLL_MS = 1_000;

/** States in which a job is still working on the import (the page polls). */
export function importRunning(status: ImportStatus | undefined): boolean {
  return status === 'validating' || status === 'queued';
}

/** The queries whose figures move with stock (keys imported or voided), whatever their parameters. */
function stockQueries(): QueryKey[] {
  return [inventoryImportTargetsQueryKey(), everyQueryOf(inventoryProductStockQueryKey), everyQueryOf(inventoryListKeysQueryKey)];
}

/** Every inventory query, whatever its parameters. */
function inventoryQueries(): QueryKey[] {
  return [...stockQueries(), inventoryListImportsQueryKey(), everyQueryOf(inventoryGetImportQueryKey)];
}

/** `inventory:import_targets` — card-key products and their SKUs (also for key uploaders). */
export function useImportTargets() {
  return useQuery(inventoryImportTargetsOptions());
}

/** `inventory:product_stock` — figures per SKU of one product. */
export function useProductStock(productId: number | null) {
  return useQuery({ ...inventoryProductStockOptions({ path: { product_id: productId ?? 0 } }), enabled: productId !== null });
}

/**
 * The figures of several products (the stock overview). The API has no list form of
 * `inventory:product_stock`, so this asks once per product.
 */
export function useProductStocks(productIds: number[]) {
  return useQueries({ queries: productIds.map((id) => inventoryProductStockOptions({ path: { product_id: id } })) });
}

/** `inventory:list_keys` — masked keys of one SKU in one state, newest first, "load more". */
export function useKeys(filters: KeyFilters | null) {
  return useInfiniteQuery({
    ...cursorPages(inventoryListKeysInfiniteOptions, { query: { sku_id: filters?.sku_id ?? 0, state: filters?.state, batch_id: filters?.batch_id, limit: KEYS_PAGE } }, (last) => last.next_before_id),
    enabled: filters !== null,
  });
}

/** `inventory:list_imports` — batches newest first (a key uploader gets their own). */
export function useImports(filters: ImportFilters) {
  return useInfiniteQuery({
    ...cursorPages(inventoryListImportsInfiniteOptions, { query: { ...filters, limit: IMPORTS_PAGE } }, (last) => last.next_before_id),
    placeholderData: keepPreviousData,
  });
}

/** `inventory:get_import` — asked again every second while a job checks or imports it. */
export function useImport(id: number | null) {
  return useQuery({
    ...inventoryGetImportOptions({ path: { import_id: id ?? 0 } }),
    enabled: id !== null,
    refetchInterval: (query) => (importRunning(query.state.data?.status) ? IMPORT_POLL_MS : false),
    staleTime: 0,
  });
}

/** Stock moved (keys imported or voided): figures, key lists and batch lists are stale. */
export function useInvalidateStock() {
  const queryClient = useQueryClient();
  return useCallback(() => invalidate(queryClient, stockQueries()), [queryClient]);
}

/** After a change of an import: remember its new state, refresh lists and figures. */
function useImportChanged() {
  const queryClient = useQueryClient();
  const invalidateStock = useInvalidateStock();
  return (out: ImportOut) => {
    queryClient.setQueryData(inventoryGetImportQueryKey({ path: { import_id: out.id } }), out);
    void queryClient.invalidateQueries({ queryKey: inventoryListImportsQueryKey() });
    if (out.status === 'imported' || out.status === 'voided') void invalidateStock();
  };
}

/** `inventory:stage_import` (multipart) — the wizard shows the errors itself. */
export function useStageImport() {
  const changed = useImportChanged();
  return useMutation({
    ...mutationWith(inventoryStageImportMutation(), (body: BodyInventoryStageImport) => ({ body })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:confirm_import` — "imported" now, or "queued" for a job (poll the import). */
export function useConfirmImport() {
  const changed = useImportChanged();
  return useMutation({
    ...mutationWith(inventoryConfirmImportMutation(), (id: number) => ({ path: { import_id: id } })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:discard_import` — an unconfirmed import. */
export function useDiscardImport() {
  const changed = useImportChanged();
  return useMutation({
    ...mutationWith(inventoryDiscardImportMutation(), (id: number) => ({ path: { import_id: id } })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:revalidate_import` — check the upload again (after `stock_changed`). */
export function useRevalidateImport() {
  const changed = useImportChanged();
  return useMutation({
    ...mutationWith(inventoryRevalidateImportMutation(), (id: number) => ({ path: { import_id: id } })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:void_import` — a whole imported batch, while none of it was sold. */
export function useVoidImport() {
  const changed = useImportChanged();
  return useMutation({
    ...mutationWith(inventoryVoidImportMutation(), ({ id, reason }: { id: number; reason: string }) => ({
      path: { import_id: id },
      body: { reason },
    })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `inventory:void_keys` — available keys only; the others are counted as skipped. */
export function useVoidKeys() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(inventoryVoidKeysMutation(), (body: { key_ids: number[]; reason: string }) => ({ body })),
    meta: { silentError: true },
    onSuccess: () => invalidate(queryClient, inventoryQueries()),
  });
}

/** `inventory:reveal_key` — sensitive: a 403 step_up_required opens the 2FA dialog and the
 * request is sent again by the API layer (auth/stepUp.ts). */
export function useRevealKey() {
  return useMutation({
    ...mutationWith(inventoryRevealKeyMutation(), ({ id, reason }: { id: number; reason: string }) => ({
      path: { key_id: id },
      body: { reason },
    })),
    meta: { silentError: true },
  });
}

/** `inventory:export_keys` — the decrypted keys as CSV (step-up), saved by the browser. */
export async function exportKeys(body: ExportIn): Promise<string> {
  const { data, response } = await inventoryExportKeys({ body, parseAs: 'blob', throwOnError: true });
  const name = attachmentName(response.headers.get('content-disposition')) ?? `keys-sku${body.sku_id}.csv`;
  const blob = isBlob(data) ? data : new Blob([typeof data === 'string' ? data : ''], { type: 'text/csv' });
  saveBlob(blob, name);
  return name;
}
