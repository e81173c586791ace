import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { ApiError, unwrap } from '../api';
import { rolesCreate, usersUpdate } from '../client';
import { fakeFetch, jsonResponse, pathOf, problemResponse, renderApp, stubApi, tokenOut } from '../test/render';
import { acceptTokens } from './session';
import { setEnrollmentGuide, setStepUpPrompt } from './stepUp';

const catalogue = [
  {
    key: 'inventory',
    label_zh: '库存',
    label_en: 'Inventory',
    permissions: [
      { code: 'inventory:import', label_zh: '导入卡密', label_en: 'Import card keys', sensitive: false },
      { code: 'inventory:reveal', label_zh: '查看卡密明文', label_en: 'Reveal card secrets', sensitive: true },
    ],
  },
];

const user = {
  id: 9,
  kind: 'staff',
  email: 'u@e.example',
  phone: null,
  display_name: 'U',
  status: 'disabled',
  mfa_enabled: false,
  must_change_password: false,
  created_at: '2026-11-23T08:00:00Z',
  last_login_at: null,
  roles: [],
};

describe('step-up', () => {
  it('a mutation answered 403 step_up_required asks for a 2FA code once and is retried by itself', async () => {
    acceptTokens(tokenOut());
    let steppedUp = false;
    const fetch = fakeFetch(async (request) => {
      if (!steppedUp) return problemResponse(403, 'step_up_required');
      return jsonResponse({ ...user, ...((await request.json()) as object) });
    });
    vi.stubGlobal('fetch', fetch.fn);
    const prompt = vi.fn(() => {
      steppedUp = true;
      return Promise.resolve(true);
    });
    setStepUpPrompt(prompt);

    const out = await unwrap(usersUpdate({ path: { user_id: 9 }, body: { status: 'disabled' }, throwOnError: true }));

    expect(out.status).toBe('disabled');
    expect(prompt).toHaveBeenCalledTimes(1);
    expect(fetch.calls.map((r) => `${r.method} ${pathOf(r)}`)).toEqual(['PATCH /api/v1/users/9', 'PATCH /api/v1/users/9']);
  });

  it('when the user cancels, the mutation fails with step_up_required and is not retried', async () => {
    acceptTokens(tokenOut());
    const fetch = fakeFetch(() => problemResponse(403, 'step_up_required'));
    vi.stubGlobal('fetch', fetch.fn);
    setStepUpPrompt(() => Promise.resolve(false));

    const error: unknown = await unwrap(usersUpdate({ path: { user_id: 9 }, body: { status: 'disabled' }, throwOnError: true })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 403, code: 'step_up_required' });
    expect(fetch.calls).toHaveLength(1);
  });

  it('403 mfa_enrollment_required calls the enrollment guide; other 403s pass through', async () => {
    acceptTokens(tokenOut());
    const guide = vi.fn();
    setEnrollmentGuide(guide);
    const prompt = vi.fn(() => Promise.resolve(true));
    setStepUpPrompt(prompt);
    vi.stubGlobal('fetch', fakeFetch(() => problemResponse(403, 'mfa_enrollment_required')).fn);
    await expect(unwrap(rolesCreate({ body: { key: 'k_k', name: 'K' }, throwOnError: true }))).rejects.toMatchObject({
      code: 'mfa_enrollment_required',
    });
    expect(guide).toHaveBeenCalledTimes(1);

    vi.stubGlobal('fetch', fakeFetch(() => problemResponse(403, 'permission_denied')).fn);
    await expect(unwrap(rolesCreate({ body: { key: 'k_k', name: 'K' }, throwOnError: true }))).rejects.toMatchObject({
      code: 'permission_denied',
    });
    expect(prompt).not.toHaveBeenCalled();
  });

  it('in the console: saving a role opens the 2FA dialog, confirms the code, then saves', async () => {
    let steppedUp = false;
    const stepUpBodies: unknown[] = [];
    const createBodies: unknown[] = [];
    const fetch = stubApi(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/roles' && request.method === 'GET') return jsonResponse([]);
      if (path === '/api/v1/permissions') return jsonResponse(catalogue);
      if (path === '/api/v1/auth/step-up') {
        const body = (await request.json()) as { code?: string };
        stepUpBodies.push(body);
        if (body.code !== '123456') return problemResponse(400, 'invalid_2fa_code');
        steppedUp = true;
        return jsonResponse({ valid_until: '2026-11-23T08:05:00Z' });
      }
      if (path === '/api/v1/roles' && request.method === 'POST') {
        const body = (await request.json()) as { key: string; name: string; permissions: string[] };
        createBodies.push(body);
        if (!steppedUp) return problemResponse(403, 'step_up_required');
        return jsonResponse({ id: 7, description: '', builtin: false, user_count: 0, ...body }, { status: 201 });
      }
      return undefined;
    });

    renderApp('/users/roles');
    fireEvent.click(await screen.findByTestId('create-role'));
    fireEvent.change(await screen.findByTestId('role-name'), { target: { value: 'key uploader only' } });
    await waitFor(() => expect(screen.getByTestId('role-key')).toHaveValue('key_uploader_only'));
    fireEvent.click(await screen.findByTestId('perm-inventory:import'));
    // the sensitive permission is marked
    expect(within(screen.getByTestId('perm-module-inventory')).getByText('敏感')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('role-save'));

    // the dialog asks for a code; a wrong one is explained and the dialog stays.
    // (It is always rendered, hidden, and clears its field when it opens: typing before it
    // is open loses the code — wait until it is visible.)
    await waitFor(() => expect(screen.getByText('需要两步验证')).toBeVisible());
    fireEvent.change(screen.getByTestId('step-up-code'), { target: { value: '000000' } });
    fireEvent.click(screen.getByTestId('step-up-confirm'));
    expect(await screen.findByTestId('step-up-error')).toHaveTextContent('验证码错误或已被使用');
    fireEvent.change(screen.getByTestId('step-up-code'), { target: { value: '123456' } });
    fireEvent.click(screen.getByTestId('step-up-confirm'));

    expect(await screen.findByText('角色已保存')).toBeInTheDocument();
    expect(stepUpBodies).toEqual([{ code: '000000' }, { code: '123456' }]);
    // the same request, sent again after the step-up
    const body = { key: 'key_uploader_only', name: 'key uploader only', description: '', permissions: ['inventory:import'] };
    expect(createBodies).toEqual([body, body]);
    expect(fetch.calls.filter((r) => pathOf(r) === '/api/v1/auth/step-up').map((r) => r.headers.get('authorization'))).toEqual([
      'Bearer access-1',
      'Bearer access-1',
    ]);
  });
});
