import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';

import { unwrap } from '../api';
import { usersLoginEvents } from '../client';

export interface LoginEventFilters {
  user_id?: number;
  result?: string;
  ip?: string;
  since?: string;
  until?: string;
}

export const loginEventKeys = {
  all: ['login-events'] as const,
  list: (filters: LoginEventFilters) => [...loginEventKeys.all, 'list', filters] as const,
};

export const LOGIN_LOG_PAGE = 50;

/** `users:login_events` — the login log, newest first, "load more" with before_id. */
export function useLoginLog(filters: LoginEventFilters) {
  return useInfiniteQuery({
    queryKey: loginEventKeys.list(filters),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        usersLoginEvents({
          signal,
          query: { ...filters, limit: LOGIN_LOG_PAGE, before_id: pageParam ?? undefined },
          throwOnError: true,
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before_id,
    placeholderData: keepPreviousData,
  });
}
