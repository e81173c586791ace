import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
  type QueryKey,
} from '@tanstack/react-query';

import { walletExportMyStatement, walletExportStatement, type LedgerEntryOut } from '../client';
import {
  walletAccountStatementInfiniteOptions,
  walletAccountStatementQueryKey,
  walletAdjustMutation,
  walletLedgerInfiniteOptions,
  walletLedgerQueryKey,
  walletListAccountsOptions,
  walletListAccountsQueryKey,
  walletMyStatementInfiniteOptions,
  walletMyStatementQueryKey,
  walletMyWalletOptions,
  walletMyWalletQueryKey,
  walletRechargeMutation,
  walletTrialBalanceOptions,
  walletTrialBalanceQueryKey,
} from '../client/@tanstack/react-query.gen';
import { attachmentName, isBlob, saveBlob } from './audit';
import { cursorPages, everyQueryOf, invalidate, mutationWith } from './common';

export type EntryKind = LedgerEntryOut['kind'];
export type ExportFormat = 'csv' | 'xlsx';
/** Whose wallet: the signed-in user's own, or a user's (finance staff). */
export type WalletOwner = 'me' | number;

export const ENTRY_KINDS: readonly EntryKind[] = ['recharge', 'purchase', 'refund', 'adjustment'];

export const STATEMENT_PAGE = 20;
export const ACCOUNTS_PAGE = 20;
export const LEDGER_PAGE = 20;

/** Every wallet query, whatever its parameters: what moving money makes stale. */
function walletQueries(): QueryKey[] {
  return [
    walletMyWalletQueryKey(),
    walletMyStatementQueryKey(),
    everyQueryOf(walletAccountStatementQueryKey),
    walletListAccountsQueryKey(),
    walletLedgerQueryKey(),
    walletTrialBalanceQueryKey(),
  ];
}

/** Balances and statements moved (a payment, a refund, an adjustment): ask them again. */
export function invalidateWallet(queryClient: QueryClient): Promise<void> {
  return invalidate(queryClient, walletQueries());
}

/** `wallet:my_wallet` — the signed-in user's balance. */
export function useMyWallet() {
  return useQuery(walletMyWalletOptions());
}

/** `wallet:my_statement` / `wallet:account_statement` — newest first, "load more" with `before`
 * (null: no wallet to ask about). */
export function useStatement(owner: WalletOwner | null) {
  const query = { limit: STATEMENT_PAGE };
  // both hooks are always called (rules of hooks); the one not asked stays disabled
  const myStatement = useInfiniteQuery({
    ...cursorPages(walletMyStatementInfiniteOptions, { query }, (last) => last.next_before),
    enabled: owner === 'me',
  });
  const theirStatement = useInfiniteQuery({
    ...cursorPages(
      walletAccountStatementInfiniteOptions,
      { path: { user_id: owner === 'me' ? 0 : (owner ?? 0) }, query },
      (last) => last.next_before,
    ),
    enabled: owner !== null && owner !== 'me',
  });
  return owner === 'me' ? myStatement : theirStatement;
}

/** `wallet:list_accounts` — largest balance first; `page` counts from 1. */
export function useAccounts(q: string, page: number) {
  return useQuery({
    ...walletListAccountsOptions({ query: { q: q || undefined, offset: (page - 1) * ACCOUNTS_PAGE, limit: ACCOUNTS_PAGE } }),
    placeholderData: keepPreviousData,
  });
}

/** `wallet:ledger` — journal entries with their lines, newest first, "load more". */
export function useLedger(kind: EntryKind | undefined) {
  return useInfiniteQuery({
    ...cursorPages(walletLedgerInfiniteOptions, { query: { kind, limit: LEDGER_PAGE } }, (last) => last.next_before),
    placeholderData: keepPreviousData,
  });
}

/** `wallet:trial_balance` — computed on every request; always asked afresh. */
export function useTrialBalance() {
  return useQuery({ ...walletTrialBalanceOptions(), staleTime: 0 });
}

/** `wallet:adjust` — sensitive: a 403 step_up_required opens the 2FA dialog and the request is
 * sent again by the API layer (auth/stepUp.ts). The form shows the errors itself. */
export function useAdjust() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(walletAdjustMutation(), (body: { user_id: number; amount: string; reason: string }) => ({ body })),
    meta: { silentError: true },
    onSuccess: () => invalidateWallet(queryClient),
  });
}

/** `wallet:recharge` — starts a top-up through the payment gateway; the answer's `pay_url` is
 * where the browser goes to pay (the balance grows when the gateway confirms). */
export function useRecharge() {
  return useMutation({
    ...mutationWith(walletRechargeMutation(), (amount: string) => ({ body: { amount } })),
    meta: { silentError: true },
  });
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
