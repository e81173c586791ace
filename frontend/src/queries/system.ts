import { useQuery } from '@tanstack/react-query';

import { systemInfoOptions } from '../client/@tanstack/react-query.gen';
import './common'; // the configured client (src/api.ts)

/** How often the health page asks again (the worker reports itself every 5 s). */
export const SYSTEM_INFO_REFRESH_MS = 5_000;

/** `system:info` — GET /api/v1/system/info: version and health of every part. */
export function useSystemInfo() {
  return useQuery({ ...systemInfoOptions(), refetchInterval: SYSTEM_INFO_REFRESH_MS });
}
