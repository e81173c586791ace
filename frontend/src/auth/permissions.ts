/**
 * Permission checks for the SPA (menu entries and, later, route guards and buttons).
 *
 * Permission names are the backend's (`orders:read`, `inventory:import`, ...). Until the
 * identity capability exposes the signed-in user's permissions, everything is allowed; the
 * real check replaces the body of `can()` and nothing else has to change.
 */
export type Permission = string;

export function can(_permission?: Permission): boolean {
  return true;
}
