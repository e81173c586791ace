/**
 * 上游 › 商品同步 and 上游 › 对账: catalogue sync runs (start, poll, changes, history), the synced
 * supplier catalogue, and reconciliation reports (start, poll, mismatches, CSV export, history).
 * A run or report is asked again every second while it is `running`.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { suppliersExportRecon, type ReconMismatchOut } from '../client';
import {
  suppliersGetReconOptions,
  suppliersGetSyncOptions,
  suppliersListProductsOptions,
  suppliersListProductsQueryKey,
  suppliersListReconsOptions,
  suppliersListReconsQueryKey,
  suppliersListSyncsOptions,
  suppliersListSyncsQueryKey,
  suppliersReconMismatchesOptions,
  suppliersStartReconMutation,
  suppliersStartSyncMutation,
  suppliersSyncChangesOptions,
} from '../client/@tanstack/react-query.gen';
import { attachmentName, isBlob, saveBlob } from './audit';
import { everyQueryOf, invalidate, mutationWith } from './common';

/** How often a running sync or reconciliation is asked again. */
export const POLL_MS = 1_000;
const HISTORY_LIMIT = 20;

export type MismatchKind = ReconMismatchOut['kind'];
export const MISMATCH_KINDS: readonly MismatchKind[] = [
  'ours_success_theirs_failed',
  'ours_success_theirs_missing',
  'ours_failed_theirs_success',
  'state_differs',
  'cost_differs',
  'unanswered',
];

function pollWhileRunning(query: { state: { data?: { status: string } } }): number | false {
  return query.state.data?.status === 'running' ? POLL_MS : false;
}

// ---- catalogue sync -------------------------------------------------------------------------

/** `suppliers:list_syncs` — the newest runs of a supplier. */
export function useSyncRuns(supplierId: number | null) {
  return useQuery({
    ...suppliersListSyncsOptions({ path: { supplier_id: supplierId ?? 0 }, query: { limit: HISTORY_LIMIT } }),
    enabled: supplierId !== null,
  });
}

/** `suppliers:get_sync` — one run, polled every second while running. */
export function useSyncRun(supplierId: number | null, runId: number | null) {
  return useQuery({
    ...suppliersGetSyncOptions({ path: { supplier_id: supplierId ?? 0, run_id: runId ?? 0 } }),
    enabled: supplierId !== null && runId !== null,
    refetchInterval: pollWhileRunning,
  });
}

/** `suppliers:sync_changes` — the mapping cost changes and disables of a finished run. */
export function useSyncChanges(supplierId: number | null, runId: number | null, enabled: boolean) {
  return useQuery({
    ...suppliersSyncChangesOptions({ path: { supplier_id: supplierId ?? 0, run_id: runId ?? 0 }, query: { limit: 200 } }),
    enabled: enabled && supplierId !== null && runId !== null,
  });
}

/** `suppliers:list_products` — the synced catalogue; `present` only what the supplier still lists. */
export function useSupplierProducts(supplierId: number | null, q: string, present: boolean) {
  return useQuery({
    ...suppliersListProductsOptions({
      path: { supplier_id: supplierId ?? 0 },
      query: { limit: 200, ...(q ? { q } : {}), ...(present ? { present: true } : {}) },
    }),
    enabled: supplierId !== null,
    placeholderData: keepPreviousData,
  });
}

/** `suppliers:start_sync` — 202 with the new run; 409 sync_running. The page shows the errors. */
export function useStartSync() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(suppliersStartSyncMutation(), (supplierId: number) => ({ path: { supplier_id: supplierId } })),
    meta: { silentError: true },
    onSuccess: () => invalidate(queryClient, [everyQueryOf(suppliersListSyncsQueryKey)]),
  });
}

/** After a run ends: the history and the catalogue changed. */
export function useSyncFinished() {
  const queryClient = useQueryClient();
  return () => invalidate(queryClient, [everyQueryOf(suppliersListSyncsQueryKey), everyQueryOf(suppliersListProductsQueryKey)]);
}

// ---- reconciliation -------------------------------------------------------------------------

/** `suppliers:list_recons` — the newest reports of a supplier. */
export function useReconReports(supplierId: number | null) {
  return useQuery({
    ...suppliersListReconsOptions({ path: { supplier_id: supplierId ?? 0 }, query: { limit: HISTORY_LIMIT } }),
    enabled: supplierId !== null,
  });
}

/** `suppliers:get_recon` — one report, polled every second while running. */
export function useReconReport(supplierId: number | null, reportId: number | null) {
  return useQuery({
    ...suppliersGetReconOptions({ path: { supplier_id: supplierId ?? 0, report_id: reportId ?? 0 } }),
    enabled: supplierId !== null && reportId !== null,
    refetchInterval: pollWhileRunning,
  });
}

/** `suppliers:recon_mismatches` — a finished report's mismatches, optionally of one kind. */
export function useReconMismatches(supplierId: number | null, reportId: number | null, kind: MismatchKind | null, enabled: boolean) {
  return useQuery({
    ...suppliersReconMismatchesOptions({
      path: { supplier_id: supplierId ?? 0, report_id: reportId ?? 0 },
      query: { limit: 200, ...(kind ? { kind } : {}) },
    }),
    enabled: enabled && supplierId !== null && reportId !== null,
    placeholderData: keepPreviousData,
  });
}

/** `suppliers:start_recon` — 202 with the new report; 409 recon_running, 422 bad_period. */
export function useStartRecon() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(suppliersStartReconMutation(), (v: { supplierId: number; since: string; until: string }) => ({
      path: { supplier_id: v.supplierId },
      body: { since: v.since, until: v.until },
    })),
    meta: { silentError: true },
    onSuccess: () => invalidate(queryClient, [everyQueryOf(suppliersListReconsQueryKey)]),
  });
}

export function useReconFinished() {
  const queryClient = useQueryClient();
  return () => invalidate(queryClient, [everyQueryOf(suppliersListReconsQueryKey)]);
}

/** `suppliers:export_recon` — the mismatches as CSV, fetched through the client and saved. */
export async function exportRecon(supplierId: number, reportId: number): Promise<string> {
  const { data, response } = await suppliersExportRecon({ path: { supplier_id: supplierId, report_id: reportId }, parseAs: 'blob', throwOnError: true });
  const name = attachmentName(response.headers.get('content-disposition')) ?? `reconciliation-${reportId}.csv`;
  const blob = isBlob(data) ? data : new Blob([typeof data === 'string' ? data : ''], { type: response.headers.get('content-type') ?? 'text/csv' });
  saveBlob(blob, name);
  return name;
}
