import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useCallback } from 'react';

import { hasPermission, setPermissionSubject, type Permission } from '../auth/permissions';
import { useSession } from '../auth/useSession';
import type { MeOut } from '../client';
import {
  meChangePasswordMutation,
  meDisable2FaMutation,
  meEnable2FaMutation,
  meGetOptions,
  meGetQueryKey,
  meListLoginEventsInfiniteOptions,
  meListLoginEventsQueryKey,
  meListNoticesOptions,
  meListNoticesQueryKey,
  meListSessionsOptions,
  meListSessionsQueryKey,
  meReadNoticeMutation,
  meRegenerateRecoveryCodesMutation,
  meRevokeSessionMutation,
  meStart2FaMutation,
} from '../client/@tanstack/react-query.gen';
import { cursorPages, invalidate, mutationWith } from './common';

/** `me:get`'s key: invalidate it when the profile changed elsewhere (2FA, step-up). */
export { meGetQueryKey };

/** Every query about the signed-in user: what signing in as someone else makes wrong. */
export function meQueries(): QueryKey[] {
  return [meGetQueryKey(), meListSessionsQueryKey(), meListNoticesQueryKey(), meListLoginEventsQueryKey()];
}

/** How often the header asks for new notices. */
export const NOTICES_REFRESH_MS = 60_000;

/** `me:get` — who is signed in, with their permissions (handed to `can()`). */
export function useMe() {
  const { status } = useSession();
  const options = meGetOptions();
  const fetchMe = options.queryFn;
  return useQuery({
    ...options,
    queryFn: async (context) => {
      if (!fetchMe) throw new Error('meGetOptions() has a queryFn');
      const me = await fetchMe(context);
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
    ...mutationWith(meChangePasswordMutation(), (body: { current_password: string; new_password: string }) => ({ body })),
    meta: { silentError: true },
    onSuccess: () => invalidate(queryClient, meQueries()),
  });
}

/** `me:start_2fa` — a new secret and its otpauth URI. */
export function useStart2fa() {
  return useMutation({
    ...mutationWith(meStart2FaMutation(), () => ({})),
    meta: { silentError: true },
  });
}

/** `me:enable_2fa` — confirms the first code; answers the recovery codes (shown once). */
export function useEnable2fa() {
  return useMutation({
    ...mutationWith(meEnable2FaMutation(), (code: string) => ({ body: { code } })),
    meta: { silentError: true },
  });
}

export function useDisable2fa() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(meDisable2FaMutation(), (code: string) => ({ body: { code } })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meGetQueryKey() }),
  });
}

/** `me:regenerate_recovery_codes` — needs a fresh 2FA: the step-up dialog handles it. */
export function useRegenerateRecoveryCodes() {
  return useMutation(mutationWith(meRegenerateRecoveryCodesMutation(), () => ({})));
}

export function useMySessions() {
  return useQuery(meListSessionsOptions());
}

export function useRevokeSession() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(meRevokeSessionMutation(), (sessionId: string) => ({ path: { session_id: sessionId } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meListSessionsQueryKey() }),
  });
}

export function useNotices(options: { poll?: boolean } = {}) {
  const { status } = useSession();
  return useQuery({
    ...meListNoticesOptions(),
    enabled: status === 'signedIn',
    refetchInterval: options.poll ? NOTICES_REFRESH_MS : false,
    meta: { silentError: options.poll },
  });
}

export function useReadNotice() {
  const queryClient = useQueryClient();
  return useMutation({
    ...mutationWith(meReadNoticeMutation(), (noticeId: number) => ({ path: { notice_id: noticeId } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: meListNoticesQueryKey() }),
  });
}

export const LOGIN_EVENTS_PAGE = 20;

/** `me:list_login_events` — newest first, "load more" with before_id. */
export function useMyLoginEvents() {
  return useInfiniteQuery({
    ...cursorPages(meListLoginEventsInfiniteOptions, { query: { limit: LOGIN_EVENTS_PAGE } }, (last) => last.next_before_id),
    placeholderData: keepPreviousData,
  });
}
