import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';

import { ApiError, toApiError } from './api';

declare module '@tanstack/react-query' {
  interface Register {
    queryMeta: { /** do not show the global error message for this query */ silentError?: boolean };
    mutationMeta: { silentError?: boolean };
  }
}

/** Shows an error to the user; set by <ApiErrorMessages/> once antd's App context exists. */
export type ErrorNotifier = (error: ApiError) => void;

let notifier: ErrorNotifier = () => undefined;

export function setErrorNotifier(next: ErrorNotifier): () => void {
  notifier = next;
  return () => {
    if (notifier === next) notifier = () => undefined;
  };
}

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : toApiError(error);
}

function shouldRetry(failureCount: number, error: unknown): boolean {
  // a 4xx will not get better by asking again
  if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false;
  return failureCount < 2;
}

export function createQueryClient(options: { retry?: boolean } = {}): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (error, query) => {
        if (query.meta?.silentError) return;
        notifier(asApiError(error));
      },
    }),
    mutationCache: new MutationCache({
      onError: (error, _variables, _context, mutation) => {
        if (mutation.meta?.silentError) return;
        notifier(asApiError(error));
      },
    }),
    defaultOptions: {
      queries: {
        retry: options.retry === false ? false : shouldRetry,
        staleTime: 2_000,
      },
      mutations: { retry: false },
    },
  });
}
