import { partialMatchKey, QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';

import {
  catalogGetProductOptions,
  catalogGetProductQueryKey,
  catalogListProductsInfiniteOptions,
  catalogListProductsQueryKey,
  ordersGetMineOptions,
  ordersGetMineQueryKey,
  ordersListInfiniteQueryKey,
  ordersListMineInfiniteQueryKey,
  walletAccountStatementInfiniteQueryKey,
} from '../client/@tanstack/react-query.gen';
import { everyQueryOf } from './common';
import { invalidateWallet } from './wallet';

describe('generated query keys', () => {
  it('a list key without parameters matches that list whatever its filters, paged or not', () => {
    const filtered = catalogListProductsInfiniteOptions({ query: { status: 'listed', q: 'steam', limit: 50 } }).queryKey;
    expect(partialMatchKey(filtered, catalogListProductsQueryKey())).toBe(true);
    expect(partialMatchKey(catalogListProductsQueryKey({ query: { q: 'x' } }), catalogListProductsQueryKey())).toBe(true);
  });

  it('everyQueryOf() matches an operation whatever its path, and no other operation', () => {
    const one = catalogGetProductOptions({ path: { product_id: 7 } }).queryKey;
    expect(partialMatchKey(one, everyQueryOf(catalogGetProductQueryKey))).toBe(true);
    expect(partialMatchKey(one, catalogListProductsQueryKey())).toBe(false);
    // the admin list and the buyer's list are different operations
    expect(partialMatchKey(ordersListInfiniteQueryKey({ query: {} }), ordersListMineInfiniteQueryKey({ query: {} }))).toBe(false);
  });

  it('the key a mutation writes an answer under is the one the hook reads', () => {
    const queryClient = new QueryClient();
    queryClient.setQueryData(ordersGetMineQueryKey({ path: { order_no: 'K1' } }), { order_no: 'K1' });
    expect(queryClient.getQueryData(ordersGetMineOptions({ path: { order_no: 'K1' } }).queryKey)).toEqual({ order_no: 'K1' });
  });

  it('invalidating the wallet reaches a statement of any user', async () => {
    const queryClient = new QueryClient();
    const statement = walletAccountStatementInfiniteQueryKey({ path: { user_id: 42 }, query: { limit: 20 } });
    queryClient.setQueryData(statement, { pages: [], pageParams: [] });
    expect(queryClient.getQueryState(statement)?.isInvalidated).toBe(false);
    await invalidateWallet(queryClient);
    expect(queryClient.getQueryState(statement)?.isInvalidated).toBe(true);
  });
});
