import { render, within } from '@testing-library/react';
import { StrictMode } from 'react';
import { createMemoryRouter } from 'react-router';
import { vi } from 'vitest';

import { AppRoot } from '../App';
import { SESSION_HINT_KEY } from '../auth/session';
import type { MeOut, TokenOut } from '../client';
import { createQueryClient } from '../queryClient';
import { buildRoutes } from '../routes';

/** The whole console (providers, layout, routes) at `path`, with a fresh query cache, in
 * StrictMode as in main.tsx (effects run twice). */
export function renderApp(path = '/') {
  const router = createMemoryRouter(buildRoutes(), { initialEntries: [path] });
  const queryClient = createQueryClient({ retry: false });
  const utils = render(
    <StrictMode>
      <AppRoot router={router} queryClient={queryClient} />
    </StrictMode>,
  );
  return { ...utils, router, queryClient };
}

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
  });
}

/** An RFC 9457 answer with a stable code, as the API gives. */
export function problemResponse(
  status: number,
  code: string,
  extra: { detail?: string; errors?: unknown[]; headers?: Record<string, string> } = {},
): Response {
  return jsonResponse(
    { type: `https://kameng.dev/problems/${code}`, title: code, status, code, detail: extra.detail ?? null, errors: extra.errors },
    { status, headers: { 'content-type': 'application/problem+json', ...extra.headers } },
  );
}

/** Replace fetch; `answer` gets each Request the generated client makes. */
export function fakeFetch(answer: (request: Request) => Response | Promise<Response>) {
  const calls: Request[] = [];
  const fn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push(request);
    return answer(request);
  };
  return { fn, calls };
}

/** Every permission of the catalogue (what the super admin role holds). */
export const ALL_PERMISSIONS = [
  'audit:export',
  'audit:read',
  'catalog:pricing',
  'catalog:read',
  'catalog:write',
  'inventory:export',
  'inventory:import',
  'inventory:read',
  'inventory:reveal',
  'inventory:void',
  'orders:confirm_paid',
  'orders:deliver',
  'orders:export',
  'orders:read',
  'orders:redeliver',
  'orders:refund',
  'orders:resend',
  'reports:export',
  'reports:read',
  'roles:assign',
  'roles:read',
  'roles:write',
  'settings:read',
  'settings:write',
  'suppliers:credentials',
  'suppliers:read',
  'suppliers:write',
  'users:disable',
  'users:force_logout',
  'users:login_log',
  'users:read',
  'users:write',
  'wallet:adjust',
  'wallet:export',
  'wallet:read',
  'wallet:reconcile',
];

export function makeMe(overrides: Partial<MeOut> = {}): MeOut {
  return {
    id: 1,
    kind: 'staff',
    email: 'admin@demo.kameng.example',
    phone: null,
    display_name: '超管 Admin',
    email_verified: true,
    mfa_enabled: true,
    mfa_enrollment_required: false,
    must_change_password: false,
    permissions: ALL_PERMISSIONS,
    roles: ['super_admin'],
    step_up_valid_until: null,
    ...overrides,
  };
}

export const adminMe = makeMe();

export function tokenOut(overrides: Partial<TokenOut> = {}): TokenOut {
  return {
    status: 'ok',
    access_token: 'access-1',
    token_type: 'bearer',
    expires_in: 900,
    refresh_token: null,
    session_id: 'sid-1',
    must_change_password: false,
    mfa_enrollment_required: false,
    ...overrides,
  };
}

export function pathOf(request: Request): string {
  return new URL(request.url).pathname;
}

/**
 * Stub fetch as the API of a signed-in user (`me`; null: nobody signed in): the page-load
 * refresh and GET /me are answered, notices are empty, everything else goes to `answer`
 * (undefined from it: 404).
 */
export function stubApi(
  answer: (request: Request) => Response | undefined | Promise<Response | undefined> = () => undefined,
  options: { me?: MeOut | null } = {},
) {
  const me = options.me === undefined ? adminMe : options.me;
  if (me) localStorage.setItem(SESSION_HINT_KEY, '1');
  const fake = fakeFetch(async (request) => {
    const answered = await answer(request);
    if (answered) return answered;
    const path = pathOf(request);
    if (me && path === '/api/v1/auth/refresh') return jsonResponse(tokenOut());
    if (me && path === '/api/v1/me') return jsonResponse(me);
    if (me && path === '/api/v1/me/notices') return jsonResponse([]);
    return problemResponse(404, 'not_found');
  });
  vi.stubGlobal('fetch', fake.fn);
  return fake;
}

/** The <input> of an antd number field whose test id sits on the input or on its wrapper. */
export function inputOf(element: HTMLElement): HTMLElement {
  return element.tagName === 'INPUT' ? element : within(element).getByRole('spinbutton');
}
