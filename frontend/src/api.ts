/**
 * The one place that knows how the API answers.
 *
 * - configures the generated client (src/client/, never edited by hand): same-origin base URL,
 *   cookies included, every SDK call throws on a non-2xx answer;
 * - turns every failure (RFC 9457 problem+json, a non-JSON error page, a network failure)
 *   into one `ApiError` with `status`, `code`, `detail` and `requestId`;
 * - holds the hook point for "on 401 refresh the token once, then go to /login".
 *
 * Query hooks (src/queries/*) call the SDK through `unwrap()` below, so importing them always
 * brings this configuration along.
 */
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

  constructor(init: {
    status: number;
    code: string;
    title: string;
    detail?: string | null;
    requestId?: string | null;
    errors?: FieldProblem[] | null;
  }) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title);
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail ?? null;
    this.requestId = init.requestId ?? null;
    this.errors = init.errors ?? [];
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

  if (isProblem(body)) {
    return new ApiError({
      status: typeof body.status === 'number' ? body.status : (response?.status ?? 0),
      code: body.code,
      title: body.title,
      detail: optionalString(body.detail),
      requestId: optionalString(body.request_id) ?? headerRequestId,
      errors: Array.isArray(body.errors) ? body.errors : null,
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
 * HOOK POINT — 401 handling.
 *
 * Called for every 401 answer before it is turned into an error. Later (when the identity
 * capability exists) this will: call the refresh endpoint once (deduplicated across parallel
 * requests), retry `request` with the new token and return the retried response; when the
 * refresh fails, send the browser to /login and return the original response.
 * Until then it returns the response unchanged.
 */
export type UnauthorizedHandler = (response: Response, request: Request) => Promise<Response>;

let unauthorizedHandler: UnauthorizedHandler = (response) => Promise.resolve(response);

export function setUnauthorizedHandler(handler: UnauthorizedHandler): void {
  unauthorizedHandler = handler;
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
  });
  client.interceptors.response.use((response, request) =>
    response.status === 401 ? unauthorizedHandler(response, request) : response,
  );
  client.interceptors.error.use((error, response) => toApiError(error, response));
}

configureApiClient();

/** Await an SDK call made with `throwOnError: true` and return its body. */
export async function unwrap<T>(call: Promise<{ data: T }>): Promise<T> {
  const { data } = await call;
  return data;
}
