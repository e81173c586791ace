/**
 * The one place that knows how the API answers.
 *
 * - configures the generated client (src/client/, never edited by hand): same-origin base URL,
 *   cookies included, every SDK call throws on a non-2xx answer;
 * - turns every failure (RFC 9457 problem+json, a non-JSON error page, a network failure)
 *   into one `ApiError` with `status`, `code`, `detail` and `requestId`;
 * - hands the in-memory access token (auth/token.ts) to the generated client as its `auth`: the
 *   client sends it as `Authorization: Bearer` with exactly the operations whose OpenAPI entry
 *   declares the bearer scheme (derived from each route's access rule on the server), and never
 *   with the sign-in steps, the refresh or the public ones — no list of paths kept here;
 * - hands every 401 answer to the unauthorized handler (auth/session.ts: refresh the token once,
 *   then replay the request) and every 403 to the forbidden handler (auth/stepUp.ts: ask for a
 *   2FA code on `step_up_required`, then replay the request); `replay()` re-sends a request
 *   that has already been sent, body included.
 *
 * The query hooks (src/queries/*) are built on the generated TanStack Query helpers
 * (src/client/@tanstack/react-query.gen.ts), which call the SDK with `throwOnError: true` through
 * this same client; src/queries/common.ts imports this module, so importing a hook always brings
 * this configuration along. Imperative calls elsewhere await the SDK through `unwrap()` below.
 */
import { getAccessToken } from './auth/token';
import { client } from './client/client.gen';
import type { FieldProblem, Problem } from './client';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status; 0 when no answer arrived (network down, CORS, aborted). */
  readonly status: number;
  /** Stable machine-readable code from the problem body, e.g. `validation_error`. */
  readonly code: string;
  readonly title: string;
  readonly detail: string | null;
  readonly requestId: string | null;
  /** Field problems of a 422. */
  readonly errors: FieldProblem[];
  /** Seconds until trying again makes sense (the `Retry-After` header of a 429), if given. */
  readonly retryAfter: number | null;

  constructor(init: {
    status: number;
    code: string;
    title: string;
    detail?: string | null;
    requestId?: string | null;
    errors?: FieldProblem[] | null;
    retryAfter?: number | null;
  }) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title);
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail ?? null;
    this.requestId = init.requestId ?? null;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter ?? null;
  }
}

export const NETWORK_ERROR_CODE = 'network_error';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isProblem(body: unknown): body is Problem {
  return isRecord(body) && typeof body.code === 'string' && typeof body.title === 'string';
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * Build an `ApiError` from what the generated client hands its error interceptor:
 * the parsed JSON body (or the raw text, or the thrown fetch error) and the response,
 * when there was one.
 */
export function toApiError(body: unknown, response?: Response): ApiError {
  if (body instanceof ApiError) return body;
  const headerRequestId = response?.headers.get('x-request-id') ?? null;
  const retryAfterHeader = Number.parseInt(response?.headers.get('retry-after') ?? '', 10);
  const retryAfter = Number.isFinite(retryAfterHeader) && retryAfterHeader >= 0 ? retryAfterHeader : null;

  if (isProblem(body)) {
    return new ApiError({
      status: typeof body.status === 'number' ? body.status : (response?.status ?? 0),
      code: body.code,
      title: body.title,
      detail: optionalString(body.detail),
      requestId: optionalString(body.request_id) ?? headerRequestId,
      errors: Array.isArray(body.errors) ? body.errors : null,
      retryAfter,
    });
  }

  if (!response) {
    // fetch itself failed: no server answer at all
    const reason = body instanceof Error ? body.message : optionalString(body);
    return new ApiError({ status: 0, code: NETWORK_ERROR_CODE, title: 'Network error', detail: reason });
  }

  // an error page that is not problem+json (a proxy's 502 HTML, a plain-text 404, ...)
  const text = typeof body === 'string' ? body.trim() : isRecord(body) ? JSON.stringify(body) : '';
  return new ApiError({
    status: response.status,
    code: `http_${response.status}`,
    title: response.statusText || `HTTP ${response.status}`,
    detail: text ? text.slice(0, 300) : null,
    requestId: headerRequestId,
  });
}

/**
 * What to do with a 401 / 403 answer before it becomes an error. A handler returns either the
 * response unchanged or the answer of `replay(request)` (after refreshing the token, after a
 * step-up). Installed by auth/session.ts and auth/stepUp.ts.
 */
export type ResponseHandler = (response: Response, request: Request) => Promise<Response>;

const passThrough: ResponseHandler = (response) => Promise.resolve(response);
let unauthorizedHandler: ResponseHandler = passThrough;
let forbiddenHandler: ResponseHandler = passThrough;

export function setUnauthorizedHandler(handler: ResponseHandler | null): void {
  unauthorizedHandler = handler ?? passThrough;
}

export function setForbiddenHandler(handler: ResponseHandler | null): void {
  forbiddenHandler = handler ?? passThrough;
}

/** Unsent copies of requests (fetch consumes a body), so a request can be sent again. */
const pristine = new WeakMap<Request, Request>();
/** How many times a request descends from a replay; stops 401/403 loops. */
const replays = new WeakMap<Request, number>();
const MAX_REPLAYS = 2;

/** Requests whose operation takes the bearer token (its OpenAPI entry declares it). */
const tokenTaking = new WeakSet<Request>();

/** The access token for an operation that declares the bearer scheme (the client's `auth`). */
function accessToken(): string | undefined {
  return getAccessToken() ?? undefined;
}

/**
 * Whether `request`'s operation takes the access token (its OpenAPI entry declares the bearer
 * scheme). A 401 to one that does not (signing in, the refresh) is about credentials, not about
 * an expired token.
 */
export function takesToken(request: Request): boolean {
  return tokenTaking.has(request);
}

/** The bearer token a request was sent with, if any. */
export function requestToken(request: Request): string | null {
  const header = request.headers.get('authorization') ?? '';
  return header.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : null;
}

/** 0 for a request as first sent, 1 for its first replay, ... */
export function replayDepth(request: Request): number {
  return replays.get(request) ?? 0;
}

async function handle(response: Response, request: Request): Promise<Response> {
  if ((replays.get(request) ?? 0) > MAX_REPLAYS) return response;
  if (response.status === 401) return unauthorizedHandler(response, request);
  if (response.status === 403) return forbiddenHandler(response, request);
  return response;
}

/**
 * Send `request` again with the current access token and return the answer (which is again
 * subject to the 401/403 handlers, at most twice in a row). Rejects when the request cannot be
 * replayed (it was not made through the generated client).
 */
export async function replay(request: Request): Promise<Response> {
  const original = pristine.get(request);
  if (!original) throw new Error(`cannot replay ${request.method} ${request.url}`);
  const again = original.clone();
  again.headers.delete('authorization');
  if (takesToken(request)) {
    const token = accessToken();
    if (token) again.headers.set('authorization', `Bearer ${token}`);
    tokenTaking.add(again);
  }
  pristine.set(again, again.clone());
  replays.set(again, (replays.get(request) ?? 0) + 1);
  return handle(await globalThis.fetch(again), again);
}

let configured = false;

export function configureApiClient(): void {
  if (configured) return;
  configured = true;
  client.setConfig({
    // paths in the spec already carry /api/v1 (or /readyz ...): same origin, absolute URL
    baseUrl: typeof window !== 'undefined' ? window.location.origin : '',
    credentials: 'include',
    throwOnError: true,
    // called only for operations that declare the bearer scheme
    auth: accessToken,
  });
  client.interceptors.request.use((request, options) => {
    if (options.security?.some((scheme) => scheme.scheme === 'bearer')) tokenTaking.add(request);
    pristine.set(request, request.clone());
    return request;
  });
  client.interceptors.response.use((response, request) => handle(response, request));
  client.interceptors.error.use((error, response) => toApiError(error, response));
}

configureApiClient();

/** Await an SDK call made with `throwOnError: true` and return its body. */
export async function unwrap<T>(call: Promise<{ data: T }>): Promise<T> {
  const { data } = await call;
  return data;
}
