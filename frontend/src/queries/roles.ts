import { useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';

import {
  rolesCreateMutation,
  rolesDeleteMutation,
  rolesGetQueryKey,
  rolesListOptions,
  rolesListQueryKey,
  rolesPermissionCatalogueOptions,
  rolesUpdateMutation,
} from '../client/@tanstack/react-query.gen';
import { everyQueryOf, invalidate, mutationWith } from './common';

/** The role queries a change of roles (or of who holds them) makes stale; the permission
 * catalogue changes with releases only. */
export function rolesQueries(): QueryKey[] {
  return [rolesListQueryKey(), everyQueryOf(rolesGetQueryKey)];
}

/** `roles:list` — built-in roles first. */
export function useRoles(options: { enabled?: boolean } = {}) {
  return useQuery({ ...rolesListOptions(), enabled: options.enabled ?? true });
}

/** `roles:permission_catalogue` — every permission grouped by module; it changes with releases only. */
export function usePermissionCatalogue() {
  return useQuery({ ...rolesPermissionCatalogueOptions(), staleTime: Infinity });
}

export interface RoleBody {
  name: string;
  description: string;
  permissions: string[];
}

function useInvalidateRoles() {
  const queryClient = useQueryClient();
  return () => invalidate(queryClient, rolesQueries());
}

export function useCreateRole() {
  const invalidateRoles = useInvalidateRoles();
  return useMutation({
    ...mutationWith(rolesCreateMutation(), (body: RoleBody & { key: string }) => ({ body })),
    meta: { silentError: true },
    onSuccess: invalidateRoles,
  });
}

export function useUpdateRole() {
  const invalidateRoles = useInvalidateRoles();
  return useMutation({
    ...mutationWith(rolesUpdateMutation(), ({ id, ...body }: RoleBody & { id: number }) => ({ path: { role_id: id }, body })),
    meta: { silentError: true },
    onSuccess: invalidateRoles,
  });
}

export function useDeleteRole() {
  const invalidateRoles = useInvalidateRoles();
  return useMutation({
    ...mutationWith(rolesDeleteMutation(), (id: number) => ({ path: { role_id: id } })),
    onSuccess: invalidateRoles,
  });
}
