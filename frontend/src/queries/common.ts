/**
 * What the query hooks (src/queries/*) share on top of the generated TanStack Query helpers
 * (src/client/@tanstack/react-query.gen.ts: `*Options`, `*InfiniteOptions`, `*QueryKey`,
 * `*Mutation`, written by `npm run generate`, never by hand).
 *
 * The generated helpers call the SDK with `throwOnError: true` through the one client that
 * src/api.ts configures (base URL, access token, 401 refresh, step-up replay, `ApiError`);
 * importing api.ts here makes sure it is configured before any query key is built (a key holds
 * the client's base URL) or any request is sent. A failed request therefore rejects with the
 * `ApiError` of api.ts's error interceptor; the generated types name it after the operation's
 * problem body (`*Error`), so pages read errors through `toApiError()` / `describeAnyError()`.
 *
 * Query keys come only from the generated `*QueryKey` / `*InfiniteQueryKey` helpers
 * (`[{ _id, baseUrl, path?, query?, body?, _infinite? }]`), so they follow the parameters;
 * invalidations use the same helpers (see `everyQueryOf`).
 */
import type {
  InfiniteData,
  MutationFunctionContext,
  QueryClient,
  QueryKey,
  UseInfiniteQueryOptions,
  UseMutationOptions,
} from '@tanstack/react-query';

import '../api';

/**
 * Cursor paging ("load more") on a generated `*InfiniteOptions`: the first page is asked with
 * `params` alone (the newest entries), each next one with the cursor the last page answered
 * (`next_before` / `next_before_id`, which the generated queryFn writes into the operation's
 * `before` / `before_id`), none once that is null.
 *
 * Also gives the options their honest type: the generated ones claim an `initialData`, which
 * would type `data` as always there.
 */
export function cursorPages<TQueryFnData, TError, TQueryKey extends QueryKey, TPageParam, TOptions extends TPageParam>(
  generated: (params: TOptions) => UseInfiniteQueryOptions<TQueryFnData, TError, InfiniteData<TQueryFnData>, TQueryKey, TPageParam>,
  params: TOptions,
  nextCursor: (last: TQueryFnData) => TPageParam | null | undefined,
): UseInfiniteQueryOptions<TQueryFnData, TError, InfiniteData<TQueryFnData>, TQueryKey, TPageParam> {
  return { ...generated(params), initialPageParam: params, getNextPageParam: (last) => nextCursor(last) };
}

/**
 * A generated `*Mutation` whose variables the pages give in their own shape (`toOptions` turns
 * them into the SDK's `{ path, query, body, headers }`); what the request does and how it fails
 * stay the generated mutation's.
 */
export function mutationWith<TData, TError, TOptions, TVariables>(
  generated: UseMutationOptions<TData, TError, TOptions>,
  toOptions: (variables: TVariables) => TOptions,
): UseMutationOptions<TData, TError, TVariables> {
  return {
    mutationFn: (variables: TVariables, context: MutationFunctionContext) => runMutation(generated, toOptions(variables), context),
  };
}

/** Send a generated `*Mutation`'s request with these SDK options (for a hook that picks one of
 * several operations, e.g. create or update). */
export function runMutation<TData, TError, TOptions>(
  generated: UseMutationOptions<TData, TError, TOptions>,
  options: TOptions,
  context: MutationFunctionContext,
): Promise<TData> {
  if (!generated.mutationFn) throw new Error('a generated mutation has a mutationFn');
  return generated.mutationFn(options, context);
}

/**
 * The generated key of an operation asked with no parameters. TanStack Query matches query keys
 * partially (object by object), so as a filter it stands for every cached query of that
 * operation — whatever its path, query or body, paged or not. For operations whose key helper
 * insists on parameters (`catalogGetProductQueryKey`, ...).
 */
export function everyQueryOf(queryKey: (options: never) => QueryKey): QueryKey {
  // no path, query or body: the key helper copies only what it is given
  return queryKey({} as never);
}

/** Mark stale (and refetch the ones on screen) every cached query matching one of `keys`. */
export async function invalidate(queryClient: QueryClient, keys: readonly QueryKey[]): Promise<void> {
  await Promise.all(keys.map((queryKey) => queryClient.invalidateQueries({ queryKey })));
}
