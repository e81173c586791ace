import { describe, expect, it, vi } from 'vitest';

import { ApiError, NETWORK_ERROR_CODE, toApiError, unwrap } from './api';
import { systemInfo } from './client';
import { fakeFetch, jsonResponse } from './test/render';

const problem = {
  type: 'https://errors.kameng.invalid/validation_error',
  title: 'Invalid request',
  status: 422,
  code: 'validation_error',
  detail: 'qty must be at least 1',
  request_id: 'req-42',
  errors: [{ loc: ['body', 'qty'], msg: 'must be >= 1', type: 'greater_than_equal' }],
};

describe('ApiError', () => {
  it('is built from an RFC 9457 problem+json body', () => {
    const error = toApiError(problem, new Response(null, { status: 422 }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.code).toBe('validation_error');
    expect(error.detail).toBe('qty must be at least 1');
    expect(error.requestId).toBe('req-42');
    expect(error.errors[0]?.loc).toEqual(['body', 'qty']);
    expect(error.message).toBe('Invalid request: qty must be at least 1');
  });

  it('is what a generated SDK call rejects with on a problem+json answer', async () => {
    vi.stubGlobal(
      'fetch',
      fakeFetch(() =>
        jsonResponse(problem, { status: 422, headers: { 'content-type': 'application/problem+json' } }),
      ).fn,
    );
    const error: unknown = await unwrap(systemInfo({ throwOnError: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: 'validation_error', requestId: 'req-42' });
  });

  it('takes the request id from the header when the body has none, and survives non-JSON pages', async () => {
    vi.stubGlobal(
      'fetch',
      fakeFetch(
        () =>
          new Response('<html>Bad gateway</html>', {
            status: 502,
            statusText: 'Bad Gateway',
            headers: { 'content-type': 'text/html', 'x-request-id': 'rid-7' },
          }),
      ).fn,
    );
    const error = (await unwrap(systemInfo({ throwOnError: true })).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(502);
    expect(error.code).toBe('http_502');
    expect(error.requestId).toBe('rid-7');
    expect(error.detail).toContain('Bad gateway');
  });

  it('reports a network failure as status 0', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('Failed to fetch')));
    const error = (await unwrap(systemInfo({ throwOnError: true })).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.code).toBe(NETWORK_ERROR_CODE);
  });
});
