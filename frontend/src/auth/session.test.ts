import { describe, expect, it, vi } from 'vitest';

import { ApiError, unwrap } from '../api';
import { authLogin, authRegister, meGet, rolesCreate, shopListProducts, systemInfo, systemLiveness } from '../client';
import { fakeFetch, jsonResponse, pathOf, problemResponse, tokenOut } from '../test/render';
import { acceptTokens, bootstrapSession, getSession, refreshDelay, SESSION_HINT_KEY } from './session';
import { getAccessToken } from './token';

const info = { name: 'kameng', version: '0.1.0' };

function roleFrom(body: { key: string; name: string; permissions: string[] }) {
  return { id: 7, description: '', builtin: false, user_count: 0, ...body };
}

describe('browser session', () => {
  it('at page load, a browser that signed in before gets an access token from the refresh cookie', async () => {
    localStorage.setItem(SESSION_HINT_KEY, '1');
    const fetch = fakeFetch((request) =>
      pathOf(request) === '/api/v1/auth/refresh' ? jsonResponse(tokenOut({ access_token: 'fresh' })) : jsonResponse(info),
    );
    vi.stubGlobal('fetch', fetch.fn);

    expect(await bootstrapSession()).toBe(true);
    expect(getSession()).toEqual({ status: 'signedIn', reason: null });
    expect(getAccessToken()).toBe('fresh');

    const refresh = fetch.calls[0];
    expect(refresh?.method).toBe('POST');
    expect(refresh?.credentials).toBe('include'); // the httpOnly cookie goes along
    expect(refresh?.headers.get('authorization')).toBeNull();

    await unwrap(systemInfo({ throwOnError: true }));
    expect(fetch.calls[1]?.headers.get('authorization')).toBe('Bearer fresh');
    // a second bootstrap (React StrictMode, another guard) does not refresh again
    expect(await bootstrapSession()).toBe(true);
    expect(fetch.calls).toHaveLength(2);
  });

  it('a browser that never signed in (or signed out) asks nothing at page load', async () => {
    const fetch = fakeFetch(() => jsonResponse(tokenOut()));
    vi.stubGlobal('fetch', fetch.fn);
    expect(await bootstrapSession()).toBe(false);
    expect(getSession()).toEqual({ status: 'signedOut', reason: null });
    expect(fetch.calls).toHaveLength(0);
  });

  it('a 401 refreshes the token once, shared by parallel requests, and replays each with its body', async () => {
    acceptTokens(tokenOut({ access_token: 'old' }));
    let refreshes = 0;
    const fetch = fakeFetch(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/auth/refresh') {
        refreshes += 1;
        await new Promise((r) => setTimeout(r, 10));
        return jsonResponse(tokenOut({ access_token: 'new' }));
      }
      if (request.headers.get('authorization') !== 'Bearer new') return problemResponse(401, 'token_expired');
      if (path === '/api/v1/roles') {
        return jsonResponse(roleFrom((await request.json()) as { key: string; name: string; permissions: string[] }), { status: 201 });
      }
      return jsonResponse(info);
    });
    vi.stubGlobal('fetch', fetch.fn);

    const [system, role] = await Promise.all([
      unwrap(systemInfo({ throwOnError: true })),
      unwrap(rolesCreate({ body: { key: 'key_only', name: 'Key only', permissions: ['inventory:import'] }, throwOnError: true })),
    ]);

    expect(system).toEqual(info);
    expect(role).toMatchObject({ key: 'key_only', name: 'Key only', permissions: ['inventory:import'] });
    expect(refreshes).toBe(1);
    expect(getAccessToken()).toBe('new');
    // 2 first tries + 1 refresh + 2 replays
    expect(fetch.calls.map((r) => `${r.method} ${pathOf(r)} ${r.headers.get('authorization') ?? ''}`).sort()).toEqual([
      'GET /api/v1/system/info Bearer new',
      'GET /api/v1/system/info Bearer old',
      'POST /api/v1/auth/refresh ',
      'POST /api/v1/roles Bearer new',
      'POST /api/v1/roles Bearer old',
    ]);
  });

  it('when the refresh fails, the session ends as expired and the request fails with its 401', async () => {
    acceptTokens(tokenOut({ access_token: 'old' }));
    const fetch = fakeFetch((request) =>
      pathOf(request) === '/api/v1/auth/refresh'
        ? problemResponse(401, 'refresh_token_reused')
        : problemResponse(401, 'session_ended'),
    );
    vi.stubGlobal('fetch', fetch.fn);

    const error: unknown = await unwrap(systemInfo({ throwOnError: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'session_ended' });
    expect(getSession()).toEqual({ status: 'signedOut', reason: 'expired' });
    expect(getAccessToken()).toBeNull();
    expect(localStorage.getItem(SESSION_HINT_KEY)).toBeNull();
    // asked once, refreshed once, not retried
    expect(fetch.calls.map(pathOf)).toEqual(['/api/v1/system/info', '/api/v1/auth/refresh']);
  });

  it('a replayed request that gets 401 again is not refreshed a second time', async () => {
    acceptTokens(tokenOut({ access_token: 'old' }));
    const fetch = fakeFetch((request) =>
      pathOf(request) === '/api/v1/auth/refresh' ? jsonResponse(tokenOut({ access_token: 'new' })) : problemResponse(401, 'session_ended'),
    );
    vi.stubGlobal('fetch', fetch.fn);
    await expect(unwrap(systemInfo({ throwOnError: true }))).rejects.toMatchObject({ status: 401 });
    expect(fetch.calls.map(pathOf)).toEqual(['/api/v1/system/info', '/api/v1/auth/refresh', '/api/v1/system/info']);
  });

  it('a wrong password (401 from sign-in) is not taken for an expired token', async () => {
    const fetch = fakeFetch(() => problemResponse(401, 'invalid_credentials'));
    vi.stubGlobal('fetch', fetch.fn);
    await expect(
      unwrap(authLogin({ body: { login: 'a@b.example', password: 'nope' }, throwOnError: true })),
    ).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(fetch.calls.map(pathOf)).toEqual(['/api/v1/auth/login']);
  });

  it('refreshes by itself shortly before the access token expires', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fetch = fakeFetch(() => jsonResponse(tokenOut({ access_token: 'next', expires_in: 900 })));
    vi.stubGlobal('fetch', fetch.fn);

    acceptTokens(tokenOut({ access_token: 'first', expires_in: 300 }));
    expect(refreshDelay(300)).toBe(240);
    await vi.advanceTimersByTimeAsync(239_000);
    expect(fetch.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetch.calls.map(pathOf)).toEqual(['/api/v1/auth/refresh']);
    expect(getAccessToken()).toBe('next');
  });
});

describe('which requests carry the access token', () => {
  it('exactly those whose OpenAPI entry declares the bearer scheme', async () => {
    acceptTokens(tokenOut({ access_token: 'tok' }));
    const fetch = fakeFetch(() => jsonResponse({}));
    vi.stubGlobal('fetch', fetch.fn);

    await meGet({ throwOnError: true }); // behind an access rule
    await shopListProducts({ throwOnError: true }); // anyone; a signed-in buyer sees their price
    await systemLiveness({ throwOnError: true }); // public
    await authRegister({ throwOnError: true, body: { email: 'a@b.example', password: 'Blue-Horse-Battery-9' } });
    await authLogin({ throwOnError: true, body: { login: 'a@b.example', password: 'x' } });

    const sent = fetch.calls.map((r) => [pathOf(r), r.headers.get('authorization')]);
    expect(sent).toEqual([
      ['/api/v1/me', 'Bearer tok'],
      ['/api/v1/shop/products', 'Bearer tok'],
      ['/healthz', null],
      ['/api/v1/auth/register', null],
      ['/api/v1/auth/login', null],
    ]);
  });

  it('a 401 from an operation that takes no token is an answer, not an expired token', async () => {
    acceptTokens(tokenOut({ access_token: 'tok' }));
    const fetch = fakeFetch(() => problemResponse(401, 'invalid_credentials'));
    vi.stubGlobal('fetch', fetch.fn);
    await expect(authLogin({ throwOnError: true, body: { login: 'a@b.example', password: 'x' } })).rejects.toMatchObject({
      status: 401,
      code: 'invalid_credentials',
    });
    expect(fetch.calls.map(pathOf)).toEqual(['/api/v1/auth/login']); // no refresh
  });
});

