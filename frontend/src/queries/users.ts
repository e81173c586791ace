import { keepPreviousData, useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';

import { unwrap } from '../api';
import { usersCreateStaff, usersForceLogout, usersList, usersSetRoles, usersUpdate, type UserKind } from '../client';
import { rolesKeys } from './roles';

export interface UserFilters {
  kind: UserKind;
  q?: string;
  status?: 'active' | 'disabled';
}

export const usersKeys = {
  all: ['users'] as const,
  list: (filters: UserFilters) => [...usersKeys.all, 'list', filters] as const,
};

export const USERS_PAGE = 50;

/** `users:list` — newest first, "load more" with before_id. */
export function useUsers(filters: UserFilters) {
  return useInfiniteQuery({
    queryKey: usersKeys.list(filters),
    queryFn: ({ signal, pageParam }) =>
      unwrap(
        usersList({
          signal,
          query: {
            kind: filters.kind,
            q: filters.q || undefined,
            status: filters.status,
            limit: USERS_PAGE,
            before_id: pageParam ?? undefined,
          },
          throwOnError: true,
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before_id,
    placeholderData: keepPreviousData,
  });
}

function useInvalidateUsers() {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: usersKeys.all }),
      // user counts per role change with assignments
      queryClient.invalidateQueries({ queryKey: rolesKeys.all }),
    ]);
}

/** `users:create_staff` — answers the temporary password (shown once). */
export function useCreateStaff() {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: (body: { email: string; display_name: string; role_ids: number[] }) =>
      unwrap(usersCreateStaff({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: invalidate,
  });
}

export function useUpdateUser() {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: ({ id, ...body }: { id: number; display_name?: string; status?: 'active' | 'disabled' }) =>
      unwrap(usersUpdate({ path: { user_id: id }, body, throwOnError: true })),
    onSuccess: invalidate,
  });
}

export function useSetUserRoles() {
  const invalidate = useInvalidateUsers();
  return useMutation({
    mutationFn: ({ id, roleIds }: { id: number; roleIds: number[] }) =>
      unwrap(usersSetRoles({ path: { user_id: id }, body: { role_ids: roleIds }, throwOnError: true })),
    onSuccess: invalidate,
  });
}

export function useForceLogout() {
  return useMutation({
    mutationFn: (id: number) => unwrap(usersForceLogout({ path: { user_id: id }, throwOnError: true })),
  });
}
