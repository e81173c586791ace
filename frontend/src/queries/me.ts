import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';

import { unwrap } from '../api';
import { hasPermission, setPermissionSubject, type Permission } from '../auth/permissions';
import { useSession } from '../auth/useSession';
import {
  meChangePassword,
  meDisable2Fa,
  meEnable2Fa,
  meGet,
  meListLoginEvents,
  meListNotices,
  meListSessions,
  meReadNotice,
  meRegenerateRecoveryCodes,
  meRevokeSession,
  meStart2Fa,
  type MeOut,
} from '../client';

export const meKeys = {
  all: ['me'] as const,
  profile: () => [...meKeys.all, 'profile'] as const,
  sessions: () => [...meKeys.all, 'sessions'] as const,
  notices: () => [...meKeys.all, 'notices'] as const,
  loginEvents: () => [...meKeys.all, 'login-events'] as const,
};

/** How often the header asks for new notices. */
export const NOTICES_REFRESH_MS = 60_000;

/** `me:get` — who is signed in, with their permissions (handed to `can()`). */
export function useMe() {
  const { status } = useSession();
  return useQuery({
    queryKey: meKeys.profile(),
    queryFn: async ({ signal }) => {
      const me = await unwrap(meGet({ signal, throwOnError: true }));
      setPermissionSubject(me);
      return me;
    },
    enabled: status === 'signedIn',
    staleTime: 30_000,
  });
}

/** A permission check bound to the signed-in user; re-renders when their permissions change. */
export function useCan(): (permission?: Permission) => boolean {
  const { data } = useMe();
  return useCallback((permission?: Permission) => hasPermission(data, permission), [data]);
}

export function isSuperAdmin(me: MeOut | undefined): boolean {
  return !!me?.roles.includes('super_admin');
}

/** `me:change_password` — the page shows the errors itself. */
export function useChangePassword() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { current_password: string; new_password: string }) =>
      unwrap(meChangePassword({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meKeys.all }),
  });
}

/** `me:start_2fa` — a new secret and its otpauth URI. */
export function useStart2fa() {
  return useMutation({
    mutationFn: () => unwrap(meStart2Fa({ throwOnError: true })),
    meta: { silentError: true },
  });
}

/** `me:enable_2fa` — confirms the first code; answers the recovery codes (shown once). */
export function useEnable2fa() {
  return useMutation({
    mutationFn: (code: string) => unwrap(meEnable2Fa({ body: { code }, throwOnError: true })),
    meta: { silentError: true },
  });
}

export function useDisable2fa() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (code: string) => unwrap(meDisable2Fa({ body: { code }, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meKeys.profile() }),
  });
}

/** `me:regenerate_recovery_codes` — needs a fresh 2FA: the step-up dialog handles it. */
export function useRegenerateRecoveryCodes() {
  return useMutation({
    mutationFn: () => unwrap(meRegenerateRecoveryCodes({ throwOnError: true })),
  });
}

export function useMySessions() {
  return useQuery({
    queryKey: meKeys.sessions(),
    queryFn: ({ signal }) => unwrap(meListSessions({ signal, throwOnError: true })),
  });
}

export function useRevokeSession() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (sessionId: string) =>
      unwrap(meRevokeSession({ path: { session_id: sessionId }, throwOnError: true })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meKeys.sessions() }),
  });
}

export function useNotices(options: { poll?: boolean } = {}) {
  const { status } = useSession();
  return useQuery({
    queryKey: meKeys.notices(),
    queryFn: ({ signal }) => unwrap(meListNotices({ signal, throwOnError: true })),
    enabled: status === 'signedIn',
    refetchInterval: options.poll ? NOTICES_REFRESH_MS : false,
    meta: { silentError: options.poll },
  });
}

export function useReadNotice() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (noticeId: number) => unwrap(meReadNotice({ path: { notice_id: noticeId }, throwOnError: true })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meKeys.notices() }),
  });
}

export const LOGIN_EVENTS_PAGE = 20;

/** `me:list_login_events` — newest first, "load more" with before_id. */
export function useMyLoginEvents() {
  return useInfiniteQuery({
    queryKey: meKeys.loginEvents(),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        meListLoginEvents({
          signal,
          query: { limit: LOGIN_EVENTS_PAGE, before_id: pageParam ?? undefined },
          throwOnError: true,
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before_id,
    placeholderData: keepPreviousData,
  });
}
