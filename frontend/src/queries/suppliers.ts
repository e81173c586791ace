/**
 * 上游 (suppliers): the list with health, create/update (credentials write-only; setting them
 * needs `suppliers:credentials` — the 2FA step-up is api.ts's), test connection (also refreshes
 * the balance), circuit reset, a SKU's mappings and an order's upstream orders.
 */
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';

import type { MappingIn, MappingPatch, SupplierIn, SupplierPatch } from '../client';
import {
  suppliersCreateMappingMutation,
  suppliersCreateMutation,
  suppliersDeleteMappingMutation,
  suppliersHealthOptions,
  suppliersHealthQueryKey,
  suppliersListMappingsOptions,
  suppliersListMappingsQueryKey,
  suppliersListOptions,
  suppliersListQueryKey,
  suppliersOrderUpstreamOptions,
  suppliersResetCircuitMutation,
  suppliersTestMutation,
  suppliersUpdateMappingMutation,
  suppliersUpdateMutation,
} from '../client/@tanstack/react-query.gen';
import { everyQueryOf, invalidate, mutationWith, runMutation } from './common';

export type SupplierProtocol = SupplierIn['protocol'];
export const PROTOCOLS: readonly SupplierProtocol[] = ['http_json', 'kameng', 'fulu'];
/** The credential fields each protocol uses (suppliers/schemas.py CredentialsIn). */
export const CREDENTIAL_FIELDS: Record<SupplierProtocol, readonly ('secret' | 'app_key' | 'app_secret' | 'app_id' | 'webhook_secret')[]> = {
  http_json: ['secret'],
  fulu: ['app_key', 'app_secret'],
  kameng: ['app_id', 'secret', 'webhook_secret'],
};
/** How often the list's health figures are asked again. */
export const HEALTH_REFRESH_MS = 30_000;

export function useSuppliers() {
  return useQuery(suppliersListOptions());
}

/** `suppliers:health` of every supplier in the list (the API has no list form of it). */
export function useSupplierHealths(ids: number[]) {
  return useQueries({
    queries: ids.map((id) => ({ ...suppliersHealthOptions({ path: { supplier_id: id } }), refetchInterval: HEALTH_REFRESH_MS, meta: { silentError: true } })),
  });
}

function useSuppliersChanged() {
  const queryClient = useQueryClient();
  return () => invalidate(queryClient, [suppliersListQueryKey(), everyQueryOf(suppliersHealthQueryKey)]);
}

/** Create (`id` null) or update a supplier; the page shows the errors. */
export function useSaveSupplier() {
  const changed = useSuppliersChanged();
  return useMutation({
    mutationFn: (v: { id: number | null; body: SupplierIn | SupplierPatch }, context) =>
      v.id === null
        ? runMutation(suppliersCreateMutation(), { body: v.body as SupplierIn }, context)
        : runMutation(suppliersUpdateMutation(), { path: { supplier_id: v.id }, body: v.body }, context),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `suppliers:test` — asks the supplier for our balance; answers ok/error and the latency. */
export function useTestSupplier() {
  const changed = useSuppliersChanged();
  return useMutation({ ...mutationWith(suppliersTestMutation(), (id: number) => ({ path: { supplier_id: id } })), onSuccess: changed });
}

export function useResetCircuit() {
  const changed = useSuppliersChanged();
  return useMutation({ ...mutationWith(suppliersResetCircuitMutation(), (id: number) => ({ path: { supplier_id: id } })), onSuccess: changed });
}

// ---- mappings -----------------------------------------------------------------------------

/** `suppliers:list_mappings` — a SKU's suppliers in failover order. */
export function useMappings(skuId: number) {
  return useQuery(suppliersListMappingsOptions({ path: { sku_id: skuId } }));
}

function useMappingsChanged() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: everyQueryOf(suppliersListMappingsQueryKey) });
}

export function useSaveMapping() {
  const changed = useMappingsChanged();
  return useMutation({
    mutationFn: (v: { skuId: number; id: number | null; body: MappingIn | MappingPatch }, context) =>
      v.id === null
        ? runMutation(suppliersCreateMappingMutation(), { path: { sku_id: v.skuId }, body: v.body as MappingIn }, context)
        : runMutation(suppliersUpdateMappingMutation(), { path: { sku_id: v.skuId, mapping_id: v.id }, body: v.body }, context),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

export function useDeleteMapping() {
  const changed = useMappingsChanged();
  return useMutation({
    ...mutationWith(suppliersDeleteMappingMutation(), (v: { skuId: number; id: number }) => ({ path: { sku_id: v.skuId, mapping_id: v.id } })),
    onSuccess: changed,
  });
}

/** `suppliers:order_upstream` — what an order asked of which supplier. */
export function useOrderUpstream(orderNo: string, enabled: boolean) {
  // the card shows its own error
  return useQuery({ ...suppliersOrderUpstreamOptions({ path: { order_no: orderNo } }), enabled, meta: { silentError: true } });
}
