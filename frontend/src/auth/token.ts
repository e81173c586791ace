/**
 * The access token, in memory only (never localStorage: a script injected into the page could
 * read it there). The refresh token is an httpOnly cookie the page cannot see at all; a reload
 * gets a new access token from POST /api/v1/auth/refresh (see session.ts).
 *
 * Kept in a module of its own, with no imports, so the API client (api.ts) can add the
 * Authorization header without importing the session logic that itself uses the client.
 */
let accessToken: string | null = null;

export function getAccessToken(): string | null {
  return accessToken;
}

export function setAccessToken(token: string | null): void {
  accessToken = token;
}
