import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { SESSION_HINT_KEY } from '../../auth/session';
import { adminMe, jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi, tokenOut } from '../../test/render';
import { safeNext } from './LoginPage';

function type(testId: string, value: string) {
  fireEvent.change(screen.getByTestId(testId), { target: { value } });
}

describe('sign-in', () => {
  it('password, then the 2FA code, then back to the page asked for; errors are explained', async () => {
    const bodies: Record<string, unknown>[] = [];
    const fetch = stubApi(
      async (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/auth/login') {
          const body = (await request.json()) as Record<string, unknown>;
          bodies.push(body);
          return body.password === 'right-password'
            ? jsonResponse({ status: 'mfa_required', mfa_token: 'mfa-token-123' })
            : problemResponse(401, 'invalid_credentials', { detail: 'The login or the password is wrong.' });
        }
        if (path === '/api/v1/auth/login/2fa') {
          const body = (await request.json()) as Record<string, unknown>;
          bodies.push(body);
          return body.code === '222222' ? jsonResponse(tokenOut({ access_token: 'after-2fa' })) : problemResponse(400, 'invalid_2fa_code');
        }
        if (path === '/api/v1/me') return jsonResponse(adminMe);
        if (path === '/api/v1/me/notices') return jsonResponse([]);
        if (path === '/api/v1/roles') return jsonResponse([]);
        return undefined;
      },
      { me: null },
    );

    const { router } = renderApp('/users/roles');
    // not signed in: to the sign-in page, remembering where to go back to
    await screen.findByTestId('login-submit');
    expect(router.state.location.pathname).toBe('/login');
    expect(router.state.location.search).toBe('?next=%2Fusers%2Froles');
    // nothing was asked at page load: this browser never signed in
    expect(fetch.calls).toHaveLength(0);

    type('login-account', ' Admin@Demo.kameng.example ');
    type('login-password', 'wrong');
    fireEvent.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('账号或密码错误');

    type('login-password', 'right-password');
    fireEvent.click(screen.getByTestId('login-submit'));
    await screen.findByTestId('login-code');
    type('login-code', '111111');
    fireEvent.click(screen.getByTestId('login-verify'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('验证码错误或已被使用');

    type('login-code', '222222');
    fireEvent.click(screen.getByTestId('login-verify'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/users/roles'));
    expect(await screen.findByTestId('create-role')).toBeInTheDocument();

    expect(bodies).toEqual([
      { login: 'Admin@Demo.kameng.example', password: 'wrong', refresh_transport: 'cookie' },
      { login: 'Admin@Demo.kameng.example', password: 'right-password', refresh_transport: 'cookie' },
      { mfa_token: 'mfa-token-123', code: '111111', refresh_transport: 'cookie' },
      { mfa_token: 'mfa-token-123', code: '222222', refresh_transport: 'cookie' },
    ]);
    const me = fetch.calls.find((r) => pathOf(r) === '/api/v1/me');
    expect(me?.headers.get('authorization')).toBe('Bearer after-2fa');
    expect(localStorage.getItem(SESSION_HINT_KEY)).toBe('1');
  });

  it('a recovery code can replace the authenticator', async () => {
    const bodies: unknown[] = [];
    stubApi(
      async (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/auth/login') return jsonResponse({ status: 'mfa_required', mfa_token: 'mfa-token-123' });
        if (path === '/api/v1/auth/login/2fa') {
          bodies.push(await request.json());
          return jsonResponse(tokenOut());
        }
        if (path === '/api/v1/me') return jsonResponse(makeMe({ permissions: ['inventory:import'], roles: ['key_uploader'] }));
        if (path === '/api/v1/me/notices') return jsonResponse([]);
        return undefined;
      },
      { me: null },
    );
    const { router } = renderApp('/login');
    type('login-account', 'keys@demo.kameng.example');
    type('login-password', 'x-password');
    fireEvent.click(await screen.findByTestId('login-submit'));
    fireEvent.click(await screen.findByTestId('use-recovery-code'));
    type('login-recovery-code', ' abcde-12345 ');
    fireEvent.click(screen.getByTestId('login-verify'));
    // lands on the first page the user may open
    await waitFor(() => expect(router.state.location.pathname).toBe('/catalog/inventory-import'));
    expect(bodies).toEqual([{ mfa_token: 'mfa-token-123', recovery_code: 'abcde-12345', refresh_transport: 'cookie' }]);
  });

  it('a locked account is told when to try again', async () => {
    stubApi(
      (request) =>
        pathOf(request) === '/api/v1/auth/login'
          ? problemResponse(429, 'login_locked', { detail: 'Too many failed attempts. Try again in 240 s.', headers: { 'retry-after': '240' } })
          : undefined,
      { me: null },
    );
    renderApp('/login');
    type('login-account', 'admin@demo.kameng.example');
    type('login-password', 'whatever1');
    fireEvent.click(await screen.findByTestId('login-submit'));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('登录失败次数过多，账号已暂时锁定，请 4 分 0 秒后再试');
  });

  it('only paths inside the console are used as the place to go back to', () => {
    expect(safeNext('/users/roles?x=1')).toBe('/users/roles?x=1');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('/login')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});

describe('forced first steps', () => {
  it('first sign-in: the password must change before anything else', async () => {
    let me = makeMe({ must_change_password: true, permissions: ['inventory:import'], roles: ['key_uploader'], mfa_enabled: false });
    const sent: unknown[] = [];
    stubApi(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/me') return jsonResponse(me);
      if (path === '/api/v1/me/password') {
        const body = (await request.json()) as { new_password: string };
        sent.push(body);
        if (body.new_password === 'password1') {
          return problemResponse(422, 'weak_password', { detail: 'This password is among the most common ones; choose another.' });
        }
        me = { ...me, must_change_password: false };
        return new Response(null, { status: 204 });
      }
      return undefined;
    });

    const { router } = renderApp('/settings/system');
    await screen.findByTestId('password-submit');
    expect(router.state.location.pathname).toBe('/change-password');
    expect(screen.queryByTestId('module-menu')).not.toBeInTheDocument();
    expect(screen.getByTestId('password-policy')).toHaveTextContent('最近 5 次');

    type('password-current', 'Temp-Password-1');
    type('password-new', 'password1');
    type('password-confirm', 'password1');
    fireEvent.click(screen.getByTestId('password-submit'));
    expect(await screen.findByText('这是常见密码，容易被猜到，请换一个')).toBeInTheDocument();

    type('password-new', 'A-much-better-one');
    type('password-confirm', 'A-much-better-one');
    fireEvent.click(screen.getByTestId('password-submit'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/catalog/inventory-import'));
    expect(sent).toEqual([
      { current_password: 'Temp-Password-1', new_password: 'password1' },
      { current_password: 'Temp-Password-1', new_password: 'A-much-better-one' },
    ]);
  });

  it('a role with sensitive permissions: 2FA enrollment with QR, secret and one-time recovery codes', async () => {
    let me = makeMe({ mfa_enabled: false, mfa_enrollment_required: true });
    const codes = ['aaaaa-11111', 'bbbbb-22222', 'ccccc-33333'];
    let setups = 0;
    stubApi(async (request) => {
      const path = pathOf(request);
      if (path === '/api/v1/me') return jsonResponse(me);
      if (path === '/api/v1/me/2fa/setup') {
        setups += 1;
        return jsonResponse({ secret: 'JBSWY3DPEHPK3PXP', otpauth_uri: 'otpauth://totp/kameng:admin?secret=JBSWY3DPEHPK3PXP&issuer=kameng' });
      }
      if (path === '/api/v1/me/2fa/enable') {
        const body = (await request.json()) as { code: string };
        if (body.code !== '654321') return problemResponse(400, 'invalid_2fa_code');
        me = { ...me, mfa_enabled: true, mfa_enrollment_required: false };
        return jsonResponse({ recovery_codes: codes });
      }
      return undefined;
    });

    const { router } = renderApp('/users/staff');
    expect(await screen.findByTestId('totp-secret')).toHaveTextContent('JBSWY3DPEHPK3PXP');
    expect(router.state.location.pathname).toBe('/setup-2fa');
    expect(screen.getByTestId('totp-qr')).toBeInTheDocument();

    type('totp-code', '123456');
    fireEvent.click(screen.getByTestId('enable-2fa-submit'));
    expect(await screen.findByTestId('totp-error')).toHaveTextContent('验证码错误或已被使用');
    type('totp-code', '654321');
    fireEvent.click(screen.getByTestId('enable-2fa-submit'));

    const list = await screen.findByTestId('recovery-codes');
    expect(within(list).getAllByRole('listitem').map((li) => li.textContent)).toEqual(codes);
    const done = screen.getByTestId('recovery-codes-done');
    expect(done).toBeDisabled();
    fireEvent.click(screen.getByTestId('recovery-codes-saved'));
    expect(done).toBeEnabled();
    fireEvent.click(done);

    await waitFor(() => expect(router.state.location.pathname).toBe('/orders/list'));
    expect(setups).toBe(1); // one secret, even though React runs effects twice in development
  });
});
