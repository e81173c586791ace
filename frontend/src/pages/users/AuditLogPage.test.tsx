import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import type { AuditEntryOut } from '../../client';
import { jsonResponse, makeMe, renderApp, stubApi } from '../../test/render';
import { changedKeys, toAuditFilters } from './AuditLogPage';

const auditor = makeMe({ id: 4, display_name: '财务', roles: ['finance'], permissions: ['audit:read', 'audit:export'] });

function entry(id: number, overrides: Partial<AuditEntryOut> = {}): AuditEntryOut {
  return {
    id,
    at: '2026-11-23T08:00:00Z',
    actor_id: 1,
    actor_kind: 'staff',
    action: 'users.update',
    target_type: 'user',
    target_id: '9',
    before: null,
    after: null,
    result: 'ok',
    risk: 'low',
    ip: '127.0.0.1',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36',
    request_id: `req-${id}`,
    detail: null,
    ...overrides,
  };
}

describe('操作日志 page', () => {
  it('lists newest first, loads more with before_id, filters, shows before/after and exports the CSV', async () => {
    const asked: URLSearchParams[] = [];
    const exports: Request[] = [];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/audit-log') {
          asked.push(url.searchParams);
          if (url.searchParams.get('before_id') === '11') {
            return jsonResponse({ items: [entry(10, { action: 'auth.login', actor_id: null, actor_kind: null })], next_before_id: null });
          }
          return jsonResponse({
            items: [
              entry(12, {
                action: 'roles.update',
                target_type: 'role',
                target_id: '7',
                risk: 'high',
                before: { name: 'key uploader', permissions: ['inventory:import'] },
                after: { name: 'key uploader', permissions: ['inventory:import', 'inventory:read'] },
              }),
              entry(11, { action: 'authz.denied', result: 'denied', risk: 'medium', detail: 'roles:write' }),
            ],
            next_before_id: 11,
          });
        }
        if (url.pathname === '/api/v1/audit-log/export') {
          exports.push(request);
          return new Response('\ufeffid,at,action\n12,2026-11-23,roles.update\n', {
            headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="operation-log-20261123.csv"' },
          });
        }
        return undefined;
      },
      { me: auditor },
    );
    const createObjectURL = vi.fn((_blob: Blob) => 'blob:csv');
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);

    renderApp('/users/audit-log');
    const table = await screen.findByTestId('audit-table');
    expect(await within(table).findByText('修改角色')).toBeInTheDocument();
    expect(within(table).getByText('越权尝试')).toBeInTheDocument();
    expect(within(table).getByText('已拒绝')).toBeInTheDocument();
    expect(asked[0]?.get('limit')).toBe('50');
    expect(asked[0]?.has('before_id')).toBe(false);

    fireEvent.click(screen.getByTestId('audit-more'));
    expect(await within(table).findByText('登录')).toBeInTheDocument();
    expect(asked.at(-1)?.get('before_id')).toBe('11');
    expect(screen.getByText('没有更多了')).toBeInTheDocument();

    // detail drawer: before/after and what changed
    fireEvent.click(within(table).getByText('修改角色'));
    const drawer = await screen.findByTestId('audit-drawer');
    expect(within(drawer).getByTestId('audit-after')).toHaveTextContent('inventory:read');
    expect(within(drawer).getByTestId('audit-before')).not.toHaveTextContent('inventory:read');
    expect(within(drawer).getByText('permissions')).toBeInTheDocument();
    expect(within(drawer).getByText('req-12')).toBeInTheDocument();

    // filters go to the API
    fireEvent.change(within(screen.getByTestId('audit-filter-action')).getByRole('combobox'), { target: { value: 'roles.' } });
    fireEvent.click(screen.getByTestId('audit-search'));
    await waitFor(() => expect(asked.at(-1)?.get('action')).toBe('roles.'));

    // CSV export: fetched with the access token, saved as a blob under the server's name
    fireEvent.click(screen.getByTestId('audit-export'));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(exports).toHaveLength(1);
    expect(exports[0]?.headers.get('authorization')).toBe('Bearer access-1');
    expect(new URL(exports[0]?.url ?? '').searchParams.get('action')).toBe('roles.');
    const blob = createObjectURL.mock.calls[0]?.[0];
    expect(await blob?.text()).toContain('roles.update');
    expect(await screen.findByText('已导出: operation-log-20261123.csv')).toBeInTheDocument();
  }, 60_000);

  it('turns the form into query parameters, leaving empty ones out', () => {
    expect(toAuditFilters({ actor_id: null, action: '  ', target_id: ' 9 ', result: 'denied', range: null })).toEqual({
      target_id: '9',
      result: 'denied',
    });
    expect(changedKeys({ a: 1, b: [1] }, { a: 1, b: [1, 2], c: true })).toEqual(['b', 'c']);
    expect(changedKeys(null, { a: 1 })).toEqual(['a']);
  });
});
