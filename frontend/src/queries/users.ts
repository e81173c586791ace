import { keepPreviousData, useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';

import type { UserKind } from '../client';
import {
  usersCreateStaffMutation,
  usersForceLogoutMutation,
  usersGetQueryKey,
  usersListInfiniteOptions,
  usersListQueryKey,
  usersSetRolesMutation,
  usersUpdateMutation,
} from '../client/@tanstack/react-query.gen';
import { cursorPages, everyQueryOf, invalidate, mutationWith } from './common';
import { rolesQueries } from './roles';

export interface UserFilters {
  kind: UserKind;
  q?: string;
  status?: 'active' | 'disabled';
}

export const USERS_PAGE = 50;

/** `users:list` — newest first, "load more" with before_id. */
export function useUsers(filters: UserFilters) {
  return useInfiniteQuery({
    ...cursorPages(usersListInfiniteOptions, { query: { kind: filters.kind, q: filters.q || undefined, status: filters.status, limit: USERS_PAGE } }, (last) => last.next_before_id),
    placeholderData: keepPreviousData,
  });
}

function useInvalidateUsers() {
  const queryClient = useQueryClient();
  // user counts per role change with assignments
  return () => invalidate(queryClient, [usersListQueryKey(), everyQueryOf(usersGetQueryKey), ...rolesQueries()]);
}

/** `users:create_staff` — answers the temporary password (shown once). */
export function useCreateStaff() {
  const invalidateUsers = useInvalidateUsers();
  return useMutation({
    ...mutationWith(usersCreateStaffMutation(), (body: { email: string; display_name: string; role_ids: number[] }) => ({ body })),
    meta: { silentError: true },
    onSuccess: invalidateUsers,
  });
}

export function useUpdateUser() {
  const invalidateUsers = useInvalidateUsers();
  return useMutation({
    ...mutationWith(
      usersUpdateMutation(),
      ({ id, ...body }: { id: number; display_name?: string; status?: 'active' | 'disabled' }) => ({ path: { user_id: id }, body }),
    ),
    onSuccess: invalidateUsers,
  });
}

export function useSetUserRoles() {
  const invalidateUsers = useInvalidateUsers();
  return useMutation({
    ...mutationWith(usersSetRolesMutation(), ({ id, roleIds }: { id: number; roleIds: number[] }) => ({
      path: { user_id: id },
      body: { role_ids: roleIds },
    })),
    onSuccess: invalidateUsers,
  });
}

export function useForceLogout() {
  return useMutation(mutationWith(usersForceLogoutMutation(), (id: number) => ({ path: { user_id: id } })));
}
