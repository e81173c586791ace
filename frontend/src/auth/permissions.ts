/**
 * Permission checks for the SPA: menu entries, route guards and buttons.
 *
 * Permission names are the backend's (`orders:read`, `inventory:import`, ...). The signed-in
 * user's permissions come from GET /api/v1/me; the me query (queries/me.ts) hands them to
 * `setPermissionSubject()` and `can()` checks against them. A super admin may do everything.
 * The backend checks every request again: this only decides what to show.
 */
export type Permission = string;

export const SUPER_ADMIN_ROLE = 'super_admin';

/** Not a permission of the catalogue: "the user is of kind reseller" (their 我的对接 pages; the
 * API refuses anyone else with 403). A super admin does not hold it. */
export const RESELLER_KIND = 'kind:reseller';
const KIND_PREFIX = 'kind:';

/** What a permission check needs to know about the user (a subset of MeOut). */
export interface PermissionSubject {
  permissions: readonly string[];
  roles: readonly string[];
  /** staff, customer, reseller (MeOut.kind) */
  kind?: string;
}

interface Compiled {
  all: boolean;
  held: ReadonlySet<string>;
  kind: string | undefined;
}

let subject: Compiled | null = null;

function compile(who: PermissionSubject): Compiled {
  return { all: who.roles.includes(SUPER_ADMIN_ROLE), held: new Set(who.permissions), kind: who.kind };
}

/** Set (or clear, on sign-out) whose permissions `can()` checks. */
export function setPermissionSubject(who: PermissionSubject | null): void {
  subject = who ? compile(who) : null;
}

/** May `who` use `permission`? No permission named: anyone signed in may. */
export function hasPermission(who: PermissionSubject | null | undefined, permission?: Permission): boolean {
  if (!permission) return true;
  if (!who) return false;
  if (permission.startsWith(KIND_PREFIX)) return who.kind === permission.slice(KIND_PREFIX.length);
  return who.roles.includes(SUPER_ADMIN_ROLE) || who.permissions.includes(permission);
}

/** May the signed-in user use `permission`? Nobody signed in: only entries without one. */
export function can(permission?: Permission): boolean {
  if (!permission) return true;
  if (!subject) return false;
  if (permission.startsWith(KIND_PREFIX)) return subject.kind === permission.slice(KIND_PREFIX.length);
  return subject.all || subject.held.has(permission);
}
