import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { unwrap } from '../api';
import {
  walletAccountStatement,
  walletAdjust,
  walletExportMyStatement,
  walletExportStatement,
  walletLedger,
  walletListAccounts,
  walletMyStatement,
  walletMyWallet,
  walletRecharge,
  walletTrialBalance,
  type LedgerEntryOut,
} from '../client';
import { attachmentName, saveBlob } from './audit';

export type EntryKind = LedgerEntryOut['kind'];
export type ExportFormat = 'csv' | 'xlsx';
/** Whose wallet: the signed-in user's own, or a user's (finance staff). */
export type WalletOwner = 'me' | number;

export const ENTRY_KINDS: readonly EntryKind[] = ['recharge', 'purchase', 'refund', 'adjustment'];

export const walletKeys = {
  all: ['wallet'] as const,
  mine: () => [...walletKeys.all, 'me'] as const,
  statement: (owner: WalletOwner) => [...walletKeys.all, 'statement', owner] as const,
  accounts: (q: string, page: number) => [...walletKeys.all, 'accounts', { q, page }] as const,
  ledger: (kind: EntryKind | undefined) => [...walletKeys.all, 'ledger', { kind }] as const,
  trialBalance: () => [...walletKeys.all, 'trial-balance'] as const,
};

export const STATEMENT_PAGE = 20;
export const ACCOUNTS_PAGE = 20;
export const LEDGER_PAGE = 20;

/** `wallet:my_wallet` — the signed-in user's balance. */
export function useMyWallet() {
  return useQuery({
    queryKey: walletKeys.mine(),
    queryFn: ({ signal }) => unwrap(walletMyWallet({ signal, throwOnError: true })),
  });
}

/** `wallet:my_statement` / `wallet:account_statement` — newest first, "load more" with `before`
 * (null: no wallet to ask about). */
export function useStatement(owner: WalletOwner | null) {
  return useInfiniteQuery({
    queryKey: walletKeys.statement(owner ?? 0),
    queryFn: ({ signal, pageParam }) => {
      const query = { limit: STATEMENT_PAGE, before: pageParam ?? undefined };
      return unwrap(
        owner === 'me'
          ? walletMyStatement({ signal, query, throwOnError: true })
          : walletAccountStatement({ signal, path: { user_id: owner ?? 0 }, query, throwOnError: true }),
      );
    },
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before,
    enabled: owner !== null,
  });
}

/** `wallet:list_accounts` — largest balance first; `page` counts from 1. */
export function useAccounts(q: string, page: number) {
  return useQuery({
    queryKey: walletKeys.accounts(q, page),
    queryFn: ({ signal }) =>
      unwrap(
        walletListAccounts({
          signal,
          query: { q: q || undefined, offset: (page - 1) * ACCOUNTS_PAGE, limit: ACCOUNTS_PAGE },
          throwOnError: true,
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** `wallet:ledger` — journal entries with their lines, newest first, "load more". */
export function useLedger(kind: EntryKind | undefined) {
  return useInfiniteQuery({
    queryKey: walletKeys.ledger(kind),
    queryFn: ({ signal, pageParam }) =>
      unwrap(walletLedger({ signal, query: { kind, limit: LEDGER_PAGE, before: pageParam ?? undefined }, throwOnError: true })),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before,
    placeholderData: keepPreviousData,
  });
}

/** `wallet:trial_balance` — computed on every request; always asked afresh. */
export function useTrialBalance() {
  return useQuery({
    queryKey: walletKeys.trialBalance(),
    queryFn: ({ signal }) => unwrap(walletTrialBalance({ signal, throwOnError: true })),
    staleTime: 0,
  });
}

/** `wallet:adjust` — sensitive: a 403 step_up_required opens the 2FA dialog and the request is
 * sent again by the API layer (auth/stepUp.ts). The form shows the errors itself. */
export function useAdjust() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { user_id: number; amount: string; reason: string }) => unwrap(walletAdjust({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: walletKeys.all }),
  });
}

/** `wallet:recharge` — starts a top-up through the payment gateway; the answer's `pay_url` is
 * where the browser goes to pay (the balance grows when the gateway confirms). */
export function useRecharge() {
  return useMutation({
    mutationFn: (amount: string) => unwrap(walletRecharge({ body: { amount }, throwOnError: true })),
    meta: { silentError: true },
  });
}

function isBlob(value: unknown): value is Blob {
  return typeof value === 'object' && value !== null && 'size' in value && 'type' in value && 'slice' in value;
}

/** `wallet:export_my_statement` / `wallet:export_statement` — the statement as a file, fetched
 * through the client (access token, 401 refresh) and saved by the browser. */
export async function exportStatement(owner: WalletOwner, format: ExportFormat): Promise<string> {
  const query = { format };
  const { data, response } =
    owner === 'me'
      ? await walletExportMyStatement({ query, parseAs: 'blob', throwOnError: true })
      : await walletExportStatement({ path: { user_id: owner }, query, parseAs: 'blob', throwOnError: true });
  const name = attachmentName(response.headers.get('content-disposition')) ?? `statement.${format}`;
  const blob = isBlob(data) ? data : new Blob([typeof data === 'string' ? data : ''], { type: response.headers.get('content-type') ?? '' });
  saveBlob(blob, name);
  return name;
}
