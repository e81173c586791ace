import { useQuery } from '@tanstack/react-query';

import { unwrap } from '../api';
import { systemInfo } from '../client';

export const systemKeys = {
  all: ['system'] as const,
  info: () => [...systemKeys.all, 'info'] as const,
};

/** How often the health page asks again (the worker reports itself every 5 s). */
export const SYSTEM_INFO_REFRESH_MS = 5_000;

/** `system:info` — GET /api/v1/system/info: version and health of every part. */
export function useSystemInfo() {
  return useQuery({
    queryKey: systemKeys.info(),
    queryFn: ({ signal }) => unwrap(systemInfo({ signal, throwOnError: true })),
    refetchInterval: SYSTEM_INFO_REFRESH_MS,
  });
}
