import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';

import { usersLoginEventsInfiniteOptions } from '../client/@tanstack/react-query.gen';
import { cursorPages } from './common';

export interface LoginEventFilters {
  user_id?: number;
  result?: string;
  ip?: string;
  since?: string;
  until?: string;
}

export const LOGIN_LOG_PAGE = 50;

/** `users:login_events` — the login log, newest first, "load more" with before_id. */
export function useLoginLog(filters: LoginEventFilters) {
  return useInfiniteQuery({
    ...cursorPages(usersLoginEventsInfiniteOptions, { query: { ...filters, limit: LOGIN_LOG_PAGE } }, (last) => last.next_before_id),
    placeholderData: keepPreviousData,
  });
}
