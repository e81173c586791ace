/**
 * A reseller's own open-API keys, callback settings and callback log (`/account/reseller/...`,
 * users of kind reseller), and the console's view of every reseller's callbacks
 * (`resellers:callbacks`, resend with `resellers:callbacks_resend`).
 */
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import type { CallbackOut, ResellerKeyIn, ResellerKeyUpdate } from '../client';
import {
  resellersCallbacksGetMineOptions,
  resellersCallbacksGetOptions,
  resellersCallbacksListInfiniteOptions,
  resellersCallbacksListMineInfiniteOptions,
  resellersCallbacksListMineQueryKey,
  resellersCallbacksListQueryKey,
  resellersCallbacksPingMutation,
  resellersCallbacksResendMineMutation,
  resellersCallbacksResendMutation,
  resellersCreateKeyMutation,
  resellersGetCallbackOptions,
  resellersGetCallbackQueryKey,
  resellersListMyKeysOptions,
  resellersListMyKeysQueryKey,
  resellersRevokeKeyMutation,
  resellersRotateKeyMutation,
  resellersRotateWebhookSecretMutation,
  resellersSetCallbackMutation,
  resellersUpdateKeyMutation,
  resellersCallbacksGetMineQueryKey,
  resellersCallbacksGetQueryKey,
} from '../client/@tanstack/react-query.gen';
import { cursorPages, everyQueryOf, invalidate, mutationWith, runMutation } from './common';

export type CallbackStatus = CallbackOut['status'];
export type CallbackEvent = CallbackOut['event'];
export const CALLBACK_STATUSES: readonly CallbackStatus[] = ['pending', 'delivered', 'failed', 'skipped'];
export const CALLBACK_EVENTS: readonly CallbackEvent[] = [
  'order.delivered',
  'order.partially_delivered',
  'order.failed',
  'order.refunded',
  'order.cancelled',
  'ping',
];
export const CALLBACKS_PAGE = 20;

export interface CallbackFilters {
  status?: CallbackStatus;
  event?: CallbackEvent;
  order_no?: string;
  out_trade_no?: string;
  /** console only: one reseller */
  user_id?: number;
}

// ---- keys ---------------------------------------------------------------------------------

/** `resellers:list_my_keys` — newest first; never a secret (its last 4 characters). */
export function useMyKeys() {
  return useQuery(resellersListMyKeysOptions());
}

function useKeysChanged() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: resellersListMyKeysQueryKey() });
}

/** `resellers:create_key` — the answer carries the secret, this once. */
export function useCreateKey() {
  const changed = useKeysChanged();
  return useMutation({
    ...mutationWith(resellersCreateKeyMutation(), (body: ResellerKeyIn) => ({ body })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

export function useUpdateKey() {
  const changed = useKeysChanged();
  return useMutation({
    ...mutationWith(resellersUpdateKeyMutation(), ({ id, body }: { id: number; body: ResellerKeyUpdate }) => ({ path: { key_id: id }, body })),
    meta: { silentError: true },
    onSuccess: changed,
  });
}

/** `resellers:rotate_key` — a new key (secret once); the old one works until its grace ends. */
export function useRotateKey() {
  const changed = useKeysChanged();
  return useMutation({ ...mutationWith(resellersRotateKeyMutation(), (id: number) => ({ path: { key_id: id } })), onSuccess: changed });
}

export function useRevokeKey() {
  const changed = useKeysChanged();
  return useMutation({ ...mutationWith(resellersRevokeKeyMutation(), (id: number) => ({ path: { key_id: id } })), onSuccess: changed });
}

// ---- callback settings --------------------------------------------------------------------

export function useCallbackSettings() {
  return useQuery(resellersGetCallbackOptions());
}

/** `resellers:set_callback` — the page shows `url_not_allowed` itself, beside the field. */
export function useSetCallbackUrl() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(resellersSetCallbackMutation(), (url: string | null) => ({ body: { callback_url: url } })),
    meta: { silentError: true },
    onSuccess: (out) => queryClient.setQueryData(resellersGetCallbackQueryKey(), out),
  });
}

/** `resellers:rotate_webhook_secret` — `whsec_…`, shown once. */
export function useRotateWebhookSecret() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(resellersRotateWebhookSecretMutation(), () => ({})),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: resellersGetCallbackQueryKey() }),
  });
}

/** `resellers:callbacks_ping` — a test callback now (one attempt, in the log). */
export function usePingCallback() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(resellersCallbacksPingMutation(), () => ({})),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: resellersCallbacksListMineQueryKey() }),
  });
}

// ---- callback log -------------------------------------------------------------------------

function clean(filters: CallbackFilters): CallbackFilters {
  const kept: CallbackFilters = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined && v !== ''));
  return kept;
}

/** The reseller's callbacks (`admin`: every reseller's, the console's), newest first, "load more". */
export function useCallbackLog(filters: CallbackFilters, admin: boolean) {
  const mine = useInfiniteQuery({
    ...cursorPages(resellersCallbacksListMineInfiniteOptions, { query: { ...clean({ ...filters, user_id: undefined }), limit: CALLBACKS_PAGE } }, (last) => last.next_before),
    placeholderData: keepPreviousData,
    enabled: !admin,
  });
  const all = useInfiniteQuery({
    ...cursorPages(resellersCallbacksListInfiniteOptions, { query: { ...clean(filters), limit: CALLBACKS_PAGE } }, (last) => last.next_before),
    placeholderData: keepPreviousData,
    enabled: admin,
  });
  return admin ? all : mine;
}

/** One callback with its body and every attempt. */
export function useCallbackDetail(id: number | null, admin: boolean) {
  const mine = useQuery({ ...resellersCallbacksGetMineOptions({ path: { callback_id: id ?? 0 } }), enabled: id !== null && !admin });
  const all = useQuery({ ...resellersCallbacksGetOptions({ path: { callback_id: id ?? 0 } }), enabled: id !== null && admin });
  return admin ? all : mine;
}

/** Resend a callback now (same webhook id and body). */
export function useResendCallback(admin: boolean) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number, context): Promise<CallbackOut> =>
      admin
        ? runMutation(resellersCallbacksResendMutation(), { path: { callback_id: id } }, context)
        : runMutation(resellersCallbacksResendMineMutation(), { path: { callback_id: id } }, context),
    meta: { silentError: true },
    onSuccess: () =>
      invalidate(queryClient, [
        resellersCallbacksListMineQueryKey(),
        resellersCallbacksListQueryKey(),
        everyQueryOf(resellersCallbacksGetMineQueryKey),
        everyQueryOf(resellersCallbacksGetQueryKey),
      ]),
  });
}
