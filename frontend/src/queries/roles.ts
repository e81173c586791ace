import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { unwrap } from '../api';
import { rolesCreate, rolesDelete, rolesList, rolesPermissionCatalogue, rolesUpdate } from '../client';

export const rolesKeys = {
  all: ['roles'] as const,
  list: () => [...rolesKeys.all, 'list'] as const,
  catalogue: () => ['permission-catalogue'] as const,
};

/** `roles:list` — built-in roles first. */
export function useRoles(options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: rolesKeys.list(),
    queryFn: ({ signal }) => unwrap(rolesList({ signal, throwOnError: true })),
    enabled: options.enabled ?? true,
  });
}

/** `roles:permission_catalogue` — every permission grouped by module; it changes with releases only. */
export function usePermissionCatalogue() {
  return useQuery({
    queryKey: rolesKeys.catalogue(),
    queryFn: ({ signal }) => unwrap(rolesPermissionCatalogue({ signal, throwOnError: true })),
    staleTime: Infinity,
  });
}

export interface RoleBody {
  name: string;
  description: string;
  permissions: string[];
}

export function useCreateRole() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: RoleBody & { key: string }) => unwrap(rolesCreate({ body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: rolesKeys.all }),
  });
}

export function useUpdateRole() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, ...body }: RoleBody & { id: number }) =>
      unwrap(rolesUpdate({ path: { role_id: id }, body, throwOnError: true })),
    meta: { silentError: true },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: rolesKeys.all }),
  });
}

export function useDeleteRole() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => unwrap(rolesDelete({ path: { role_id: id }, throwOnError: true })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: rolesKeys.all }),
  });
}
