import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { CallbackDetailOut, CallbackOut, ResellerKeyCreated, ResellerKeyOut } from '../../client';
import { adminMe, inputOf, jsonResponse, makeMe, pathOf, problemResponse, renderApp, stubApi } from '../../test/render';

const reseller = makeMe({ id: 9, kind: 'reseller', email: 'reseller@demo.kameng.example', display_name: '演示代理 Reseller', roles: [], permissions: [], mfa_enabled: false });

const key: ResellerKeyOut = {
  id: 1,
  name: '正式环境',
  app_id: 'ak_live1',
  secret_hint: 'Wx9Z',
  ip_allowlist: ['203.0.113.0/24'],
  rate_limit_per_min: 600,
  status: 'active',
  created_at: '2026-12-01T08:00:00Z',
  last_used_at: null,
  expires_at: null,
  rotated_to_id: null,
};

describe('我的对接 (reseller personal center)', () => {
  it('a reseller sees 我的对接 in the sider; a staff member (even a super admin) does not and gets 403 on the URL', async () => {
    stubApi(() => undefined, { me: reseller });
    const first = renderApp('/account/wallet');
    const menu = await screen.findByTestId('module-menu');
    for (const label of ['API 密钥', '回调设置', '回调日志', '签名调试']) expect(within(menu).getByText(label)).toBeInTheDocument();
    first.unmount();

    stubApi(() => undefined, { me: adminMe });
    renderApp('/account/reseller/keys');
    expect(await screen.findByText('无权访问')).toBeInTheDocument();
    expect(within(screen.getByTestId('module-menu')).queryByText('API 密钥')).toBeNull();
  });

  it('creates a key: the secret is shown once with a warning, then the list shows only its last 4 characters', async () => {
    const keys: ResellerKeyOut[] = [key];
    const bodies: unknown[] = [];
    const created: ResellerKeyCreated = { ...key, id: 2, name: '测试', app_id: 'ak_new2', secret_hint: 'Q7rT', ip_allowlist: ['198.51.100.7'], rate_limit_per_min: 120, secret: 'sk_supersecretvalue_Q7rT' };
    stubApi(
      async (request) => {
        if (pathOf(request) !== '/api/v1/account/reseller/keys') return undefined;
        if (request.method === 'POST') {
          bodies.push(await request.json());
          const { secret: _shown, ...listed } = created;
          keys.unshift(listed);
          return jsonResponse(created, { status: 201 });
        }
        return jsonResponse(keys);
      },
      { me: reseller },
    );
    renderApp('/account/reseller/keys');

    const table = await screen.findByTestId('key-table');
    expect(await within(table).findByText('ak_live1')).toBeInTheDocument();
    expect(within(table).getByText('••••Wx9Z')).toBeInTheDocument();
    expect(within(table).getByText('203.0.113.0/24')).toBeInTheDocument();
    expect(within(table).getByText('从未使用')).toBeInTheDocument();

    fireEvent.click(screen.getByTestId('key-create'));
    fireEvent.change(await screen.findByTestId('key-name'), { target: { value: '测试' } });
    const allowlist = within(screen.getByTestId('key-allowlist')).getByRole('combobox');
    fireEvent.change(allowlist, { target: { value: '198.51.100.7' } });
    fireEvent.keyDown(allowlist, { key: 'Enter', code: 'Enter', keyCode: 13 });
    fireEvent.change(inputOf(screen.getByTestId('key-rate')), { target: { value: '120' } });
    fireEvent.click(screen.getByTestId('key-submit'));

    expect(await screen.findByTestId('secret-value')).toHaveTextContent('sk_supersecretvalue_Q7rT');
    expect(screen.getByTestId('secret-app-id')).toHaveTextContent('ak_new2');
    expect(screen.getByTestId('secret-once-warning')).toHaveTextContent('密钥只显示这一次');
    expect(bodies).toEqual([{ name: '测试', ip_allowlist: ['198.51.100.7'], rate_limit_per_min: 120 }]);

    fireEvent.click(screen.getByTestId('secret-done'));
    await waitFor(() => expect(screen.queryByTestId('secret-value')).toBeNull());
    expect(await within(table).findByText('ak_new2')).toBeInTheDocument();
    expect(within(table).getByText('••••Q7rT')).toBeInTheDocument();
    expect(document.body.textContent).not.toContain('sk_supersecretvalue_Q7rT');
  });

  it('a callback URL the SSRF guard refuses shows the server\'s url_not_allowed sentence at the field', async () => {
    const puts: unknown[] = [];
    stubApi(
      async (request) => {
        if (pathOf(request) !== '/api/v1/account/reseller/callback') return undefined;
        if (request.method === 'PUT') {
          puts.push(await request.json());
          return problemResponse(422, 'url_not_allowed', { detail: 'private address' });
        }
        return jsonResponse({ callback_url: null, has_webhook_secret: false });
      },
      { me: reseller },
    );
    renderApp('/account/reseller/callback');
    fireEvent.change(await screen.findByTestId('callback-url'), { target: { value: 'http://10.0.0.5/cb' } });
    fireEvent.click(screen.getByTestId('callback-save'));
    expect(await screen.findByText(/这个地址不允许使用/)).toBeInTheDocument();
    expect(puts).toEqual([{ callback_url: 'http://10.0.0.5/cb' }]);
    expect(screen.queryByTestId('callback-saved')).toBeNull();
    // without a URL there is nothing to ping
    expect(screen.getByTestId('callback-ping')).toBeDisabled();
  });

  it('the callback log shows a callback with its last answer, every attempt and the body, and resends it', async () => {
    const cb: CallbackOut = {
      id: 5,
      webhook_id: 'msg_abc',
      event: 'order.delivered',
      status: 'failed',
      order_no: '2612072300011234567890',
      out_trade_no: 'A-1001',
      url: 'https://reseller.example/cb',
      attempts: 2,
      next_attempt_at: null,
      created_at: '2026-12-07T08:00:00Z',
      delivered_at: null,
      last_attempt_at: '2026-12-07T08:01:00Z',
      last_status_code: 500,
      last_latency_ms: 31,
      last_response_excerpt: 'oops',
      last_error: null,
    };
    const detail: CallbackDetailOut = {
      ...cb,
      payload: { type: 'order.delivered', timestamp: '2026-12-07T08:00:00Z', data: { out_trade_no: 'A-1001' } },
      attempt_log: [
        { attempt_no: 1, trigger: 'auto', url: cb.url ?? '', started_at: '2026-12-07T08:00:00Z', status_code: null, latency_ms: 5000, response_excerpt: null, error: 'timeout' },
        { attempt_no: 2, trigger: 'auto', url: cb.url ?? '', started_at: '2026-12-07T08:01:00Z', status_code: 500, latency_ms: 31, response_excerpt: 'oops', error: null },
      ],
    };
    const queries: string[] = [];
    let resent = 0;
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/account/reseller/callbacks') {
          queries.push(url.search);
          return jsonResponse({ items: [cb], next_before: null });
        }
        if (url.pathname === '/api/v1/account/reseller/callbacks/5') return jsonResponse(detail);
        if (url.pathname === '/api/v1/account/reseller/callbacks/5/resend') {
          resent += 1;
          return jsonResponse({ ...cb, status: 'pending' }, { status: 202 });
        }
        return undefined;
      },
      { me: reseller },
    );
    renderApp('/account/reseller/callback-log');
    const table = await screen.findByTestId('callback-table');
    const row = (await within(table).findByText('A-1001')).closest('tr');
    if (!row) throw new Error('no row');
    expect(row).toHaveTextContent('订单已发货');
    expect(row).toHaveTextContent('已放弃');
    expect(row).toHaveTextContent('HTTP 500');

    fireEvent.click(row);
    const attempts = await screen.findByTestId('attempt-table');
    await waitFor(() => expect(within(attempts).getByText('timeout')).toBeInTheDocument());
    expect(within(attempts).getByText('oops')).toBeInTheDocument();
    expect(screen.getByTestId('callback-payload')).toHaveTextContent('"type": "order.delivered"');
    fireEvent.click(screen.getByTestId('callback-resend'));
    expect(await screen.findByTestId('resend-note')).toHaveTextContent('已重新发送');
    expect(resent).toBe(1);
    expect(queries[0]).toContain('limit=20');
  });

  it('签名调试 computes the worked example of docs/reseller-api.md in the page, and the secret is never sent', async () => {
    const fetch = stubApi(() => undefined, { me: reseller });
    renderApp('/account/reseller/signing');
    const set = async (testid: string, value: string) => {
      const field = await screen.findByTestId(testid);
      fireEvent.change(field.tagName === 'INPUT' || field.tagName === 'TEXTAREA' ? field : within(field).getByRole('textbox'), { target: { value } });
    };
    // method: the select's first option is GET; the worked example is a POST
    fireEvent.mouseDown(within(await screen.findByTestId('sign-method')).getByRole('combobox'));
    fireEvent.click(await screen.findByTitle('POST'));
    await set('sign-path', '/open/v1/orders');
    await set('sign-timestamp', '1765152000');
    await set('sign-nonce', '0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7');
    await set('sign-body', '{"out_trade_no":"A-1001","sku_id":7,"quantity":1,"buyer_input":{}}');
    await set('sign-secret', 'sk_example_secret_do_not_use');

    await waitFor(() => expect(screen.getByTestId('signature')).toHaveTextContent('d36cfcfbab998c0d44016fa537e6e329e08a5dd62743efad9b4058b81a1f02e2'));
    expect(screen.getByTestId('body-sha')).toHaveTextContent('8daea458fb49c7813c313223a9e0044019e42ae2f588204166c92f7ad37fab91');
    expect(screen.getByTestId('string-to-sign').textContent).toBe(
      'POST\\n\n/open/v1/orders\\n\n\\n\n1765152000\\n\n0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7\\n\n8daea458fb49c7813c313223a9e0044019e42ae2f588204166c92f7ad37fab91',
    );
    expect(screen.getByTestId('curl')).toHaveTextContent("X-Kameng-Nonce: 0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7");
    for (const request of fetch.calls) {
      expect(request.url).not.toContain('sk_example');
      expect(await request.clone().text()).not.toContain('sk_example');
    }
  });
});
