/**
 * The browser's sign-in session.
 *
 * - The access token lives in memory (token.ts); the refresh token is an httpOnly SameSite
 *   cookie scoped to /api/v1/auth that only the server reads.
 * - At page load `bootstrapSession()` calls POST /api/v1/auth/refresh once to get an access
 *   token (when this browser has signed in and not out, see SESSION_HINT_KEY); a timer
 *   refreshes it shortly before it expires.
 * - A 401 on any other request refreshes once (deduplicated: parallel 401s share one refresh)
 *   and replays the request; when the refresh fails the session ends and the guard sends the
 *   browser to /login.
 * - Refreshes are serialised across tabs with the Web Locks API where available: the server
 *   rotates the refresh token and treats a spent one presented again as theft (it ends the
 *   session), so two tabs must never refresh with the same cookie at once.
 */
import {
  ApiError,
  NETWORK_ERROR_CODE,
  replay,
  replayDepth,
  requestToken,
  setUnauthorizedHandler,
  takesToken,
  toApiError,
} from '../api';
import { authLogout, authRefresh, type TokenOut } from '../client';
import { getAccessToken, setAccessToken } from './token';

export type SessionStatus = 'unknown' | 'signedIn' | 'signedOut';
/** Why the session ended: the user signed out, or it could not be refreshed any more. */
export type SignOutReason = 'logout' | 'expired' | null;

export interface SessionState {
  status: SessionStatus;
  reason: SignOutReason;
}

/** Refresh this many seconds before the access token expires. */
export const REFRESH_MARGIN_S = 60;
/** After a network failure during a timed refresh, try again this much later. */
const NETWORK_RETRY_S = 15;
const LOCK_NAME = 'kameng-auth-refresh';
/**
 * A hint (not a secret) that this browser signed in and has not signed out: without it the
 * page-load refresh is skipped, so a signed-out visit makes no refused request (which the
 * server would record in the operation log).
 */
export const SESSION_HINT_KEY = 'kameng.session';

function setHint(on: boolean): void {
  try {
    if (on) localStorage.setItem(SESSION_HINT_KEY, '1');
    else localStorage.removeItem(SESSION_HINT_KEY);
  } catch {
    // storage disabled: the page-load refresh simply always runs
  }
}

function hinted(): boolean {
  try {
    return localStorage.getItem(SESSION_HINT_KEY) === '1';
  } catch {
    return true; // cannot tell: ask the server
  }
}

let state: SessionState = { status: 'unknown', reason: null };
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setTimeout> | null = null;
let inflight: Promise<boolean> | null = null;
let boot: Promise<boolean> | null = null;

function setState(next: SessionState): void {
  if (next.status === state.status && next.reason === state.reason) return;
  state = next;
  for (const listener of listeners) listener();
}

export function getSession(): SessionState {
  return state;
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function clearTimer(): void {
  if (timer !== null) clearTimeout(timer);
  timer = null;
}

function scheduleRefresh(seconds: number): void {
  clearTimer();
  timer = setTimeout(() => {
    timer = null;
    void refreshSession();
  }, seconds * 1000);
}

/** Seconds from now at which to refresh a token that lives `expiresIn` seconds. */
export function refreshDelay(expiresIn: number): number {
  return Math.max(5, Math.min(expiresIn - REFRESH_MARGIN_S, Math.floor(expiresIn * 0.8)));
}

/** Keep the access token of a sign-in / refresh answer and schedule its renewal. */
export function acceptTokens(tokens: Pick<TokenOut, 'access_token' | 'expires_in'>): void {
  setAccessToken(tokens.access_token);
  setHint(true);
  scheduleRefresh(refreshDelay(tokens.expires_in));
  setState({ status: 'signedIn', reason: null });
}

/** Forget the token locally (no server call). */
export function endSession(reason: SignOutReason): void {
  clearTimer();
  setAccessToken(null);
  setHint(false);
  setState({ status: 'signedOut', reason });
}

async function exclusive(fn: () => Promise<boolean>): Promise<boolean> {
  if (typeof navigator !== 'undefined' && 'locks' in navigator && typeof navigator.locks.request === 'function') {
    return await navigator.locks.request(LOCK_NAME, fn);
  }
  return fn();
}

async function doRefresh(): Promise<boolean> {
  try {
    const { data } = await authRefresh({ throwOnError: true });
    acceptTokens(data);
    return true;
  } catch (error) {
    const problem = error instanceof ApiError ? error : toApiError(error);
    if (problem.code === NETWORK_ERROR_CODE && getAccessToken()) {
      // the server is unreachable for now: keep the token while it lasts and try again
      scheduleRefresh(NETWORK_RETRY_S);
      return false;
    }
    endSession(state.status === 'signedIn' ? 'expired' : null);
    return false;
  }
}

/**
 * Get a new access token with the refresh cookie. Parallel callers share one request.
 * Resolves to whether the session is alive.
 */
export function refreshSession(): Promise<boolean> {
  inflight ??= exclusive(doRefresh).finally(() => {
    inflight = null;
  });
  return inflight;
}

/** Once per page: turn the refresh cookie (if any) into an access token. */
export function bootstrapSession(): Promise<boolean> {
  if (state.status !== 'unknown') return Promise.resolve(state.status === 'signedIn');
  if (!hinted()) {
    endSession(null);
    return Promise.resolve(false);
  }
  boot ??= refreshSession();
  return boot;
}

/** Sign out on the server (best effort) and locally. */
export async function signOut(): Promise<void> {
  try {
    await authLogout({ throwOnError: true });
  } catch {
    // already ended server-side or unreachable: the local session ends anyway
  }
  endSession('logout');
}

async function onUnauthorized(response: Response, request: Request): Promise<Response> {
  // an operation that takes no token (signing in, the refresh): the 401 is about credentials
  if (!takesToken(request)) return response;
  const sent = requestToken(request);
  const current = getAccessToken();
  // somebody refreshed while this request was under way: just send it again
  if (current && sent !== current) return replay(request);
  // refresh once per request, not again for its replay
  if (replayDepth(request) > 0) return response;
  return (await refreshSession()) ? replay(request) : response;
}

setUnauthorizedHandler(onUnauthorized);

/** Tests only: back to a fresh page. */
export function resetSessionForTests(): void {
  clearTimer();
  inflight = null;
  boot = null;
  setAccessToken(null);
  state = { status: 'unknown', reason: null };
  for (const listener of listeners) listener();
}
