import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { RoleOut, UserOut } from '../../client';
import { jsonResponse, makeMe, pathOf, renderApp, stubApi } from '../../test/render';

const manager = makeMe({
  id: 2,
  display_name: 'HR 经理',
  roles: ['staff_manager'],
  permissions: ['users:read', 'users:write', 'roles:read', 'roles:assign', 'inventory:import'],
});

const roles: RoleOut[] = [
  { id: 6, key: 'key_uploader', name: '卡密上传员', description: '', builtin: true, permissions: ['inventory:import'], user_count: 1 },
  { id: 4, key: 'finance', name: '财务', description: '', builtin: true, permissions: ['orders:refund', 'wallet:adjust'], user_count: 1 },
];

function staff(id: number, overrides: Partial<UserOut> = {}): UserOut {
  return {
    id,
    kind: 'staff',
    email: `staff${id}@demo.kameng.example`,
    phone: null,
    display_name: `员工 ${id}`,
    status: 'active',
    mfa_enabled: false,
    must_change_password: false,
    created_at: '2026-11-20T08:00:00Z',
    last_login_at: null,
    roles: [],
    ...overrides,
  };
}

describe('员工 page', () => {
  it('creates a staff member with a role it may grant and shows the temporary password once', async () => {
    const created: unknown[] = [];
    const listQueries: string[] = [];
    stubApi(
      async (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/users' && request.method === 'GET') {
          listQueries.push(url.search);
          return jsonResponse({ items: [staff(3, { roles: [{ id: 4, key: 'finance', name: '财务' }] })], next_before_id: null });
        }
        if (url.pathname === '/api/v1/roles') return jsonResponse(roles);
        if (url.pathname === '/api/v1/users' && request.method === 'POST') {
          const body = (await request.json()) as { email: string; display_name: string; role_ids: number[] };
          created.push(body);
          return jsonResponse(
            {
              user: staff(10, { email: body.email, display_name: body.display_name, must_change_password: true }),
              temporary_password: 'Tmp-8kq2-Zp9x',
            },
            { status: 201 },
          );
        }
        return undefined;
      },
      { me: manager },
    );

    renderApp('/users/staff');
    const table = await screen.findByTestId('users-table');
    expect(await within(table).findByText('staff3@demo.kameng.example')).toBeInTheDocument();
    expect(within(table).getByText('财务')).toBeInTheDocument();
    expect(listQueries[0]).toContain('kind=staff');

    fireEvent.click(screen.getByTestId('create-staff'));
    fireEvent.change(await screen.findByTestId('staff-email'), { target: { value: 'new@demo.kameng.example' } });
    fireEvent.change(screen.getByTestId('staff-name'), { target: { value: '新员工' } });

    // open the role list: the manager may not hand out 财务 (it holds none of its permissions)
    fireEvent.mouseDown(within(screen.getByTestId('role-select')).getByRole('combobox'));
    const finance = await screen.findByTitle('该角色包含您未持有的权限，不能分配');
    expect(finance).toHaveClass('ant-select-item-option-disabled');
    const grantable = document.querySelectorAll('.ant-select-item-option:not(.ant-select-item-option-disabled)');
    expect([...grantable].map((o) => o.textContent)).toEqual(['卡密上传员']);
    fireEvent.click(grantable[0] as Element);

    fireEvent.click(screen.getByTestId('create-staff-submit'));
    expect(await screen.findByTestId('temporary-password')).toHaveTextContent('Tmp-8kq2-Zp9x');
    expect(screen.getByText(/临时密码只显示这一次/)).toBeInTheDocument();
    expect(created).toEqual([{ email: 'new@demo.kameng.example', display_name: '新员工', role_ids: [6] }]);

    // the list was asked again and shows the new account
    await waitFor(() => expect(listQueries.length).toBeGreaterThan(1));
    fireEvent.click(screen.getByTestId('temporary-password-close'));
  }, 60_000); // antd's modal, form and select are slow to render the first time in jsdom

  it('searching asks the API with q; no disable button without users:disable', async () => {
    const listQueries: string[] = [];
    stubApi(
      (request) => {
        const url = new URL(request.url);
        if (url.pathname === '/api/v1/users') {
          listQueries.push(url.search);
          return jsonResponse({ items: [staff(3)], next_before_id: null });
        }
        if (pathOf(request) === '/api/v1/roles') return jsonResponse(roles);
        return undefined;
      },
      { me: manager },
    );
    renderApp('/users/staff');
    const search = await screen.findByTestId('users-search');
    fireEvent.change(search, { target: { value: 'staff3' } });
    fireEvent.keyDown(search, { key: 'Enter', code: 'Enter', keyCode: 13 });
    await waitFor(() => expect(listQueries.some((q) => q.includes('q=staff3'))).toBe(true));
    expect(screen.queryByText('停用')).not.toBeInTheDocument();
    expect(screen.queryByText('强制下线')).not.toBeInTheDocument();
  });
});
