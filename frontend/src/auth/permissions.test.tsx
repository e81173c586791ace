import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { appRoutes, firstAllowedPath, visibleRoutes } from '../routeTable';
import { jsonResponse, makeMe, pathOf, renderApp, stubApi } from '../test/render';
import { can, hasPermission, setPermissionSubject } from './permissions';

const keyUploader = makeMe({
  id: 6,
  display_name: '卡密上传 Key uploader',
  permissions: ['inventory:import'],
  roles: ['key_uploader_only'],
  mfa_enabled: false,
});

function keysOf(routes: ReturnType<typeof visibleRoutes>): unknown[] {
  return routes.map((r) => (r.children ? { [r.key]: keysOf(r.children) } : r.key));
}

describe('permission checks', () => {
  it('can() answers from the signed-in user; a super admin may do everything', () => {
    expect(can('orders:read')).toBe(false); // nobody signed in
    expect(can()).toBe(true); // no permission needed

    setPermissionSubject({ permissions: ['inventory:import'], roles: ['custom'] });
    expect(can('inventory:import')).toBe(true);
    expect(can('inventory:read')).toBe(false);

    setPermissionSubject({ permissions: [], roles: ['super_admin'] });
    expect(can('settings:write')).toBe(true);

    setPermissionSubject(null);
    expect(can('inventory:import')).toBe(false);
    expect(hasPermission(undefined, 'orders:read')).toBe(false);
  });

  it('the menu of a user holding only inventory:import is 商品与库存 › 卡密导入 and nothing else', () => {
    const allowed = (p?: string) => hasPermission(keyUploader, p);
    expect(keysOf(visibleRoutes(appRoutes, allowed))).toEqual([{ catalog: ['inventoryImport'] }]);
    expect(firstAllowedPath(appRoutes, allowed)).toBe('/catalog/inventory-import');
  });

  it('every module is gated by its read permission', () => {
    const only = (...permissions: string[]) => (p?: string) => hasPermission({ permissions, roles: [] }, p);
    expect(keysOf(visibleRoutes(appRoutes, only('orders:read', 'reports:read')))).toEqual([{ orders: ['orderList'] }, 'reports']);
    expect(keysOf(visibleRoutes(appRoutes, only('settings:read')))).toEqual([{ settings: ['system'] }]);
    expect(keysOf(visibleRoutes(appRoutes, only('audit:read', 'users:login_log')))).toEqual([{ users: ['auditLog', 'loginLog'] }]);
    expect(keysOf(visibleRoutes(appRoutes, only()))).toEqual([]);
    expect(firstAllowedPath(appRoutes, only())).toBeNull();
    // the super admin lands on the first module
    const admin = (p?: string) => hasPermission({ permissions: [], roles: ['super_admin'] }, p);
    expect(firstAllowedPath(appRoutes, admin)).toBe('/orders/list');
    expect(visibleRoutes(appRoutes, admin).map((r) => r.key)).toEqual(['orders', 'catalog', 'finance', 'users', 'reports', 'suppliers', 'settings']);
    // 财务: reading balances and the ledger, reconciling on its own permission
    expect(keysOf(visibleRoutes(appRoutes, only('wallet:read')))).toEqual([{ finance: ['walletAccounts', 'ledger'] }]);
    expect(keysOf(visibleRoutes(appRoutes, only('wallet:reconcile')))).toEqual([{ finance: ['trialBalance'] }]);
  });

  it('signed in as that user, the console lands on 卡密导入 and shows only that entry', async () => {
    stubApi(
      (request) => {
        const path = pathOf(request);
        if (path === '/api/v1/inventory/targets') {
          return jsonResponse([{ product_id: 2, product_name: '王者荣耀点券', looping_keys: false, skus: [{ id: 21, name: '100 点券', available: 3 }] }]);
        }
        return undefined;
      },
      { me: keyUploader },
    );
    const { router } = renderApp('/');

    const entry = await screen.findByTestId('menu-inventory-import');
    expect(router.state.location.pathname).toBe('/catalog/inventory-import');
    expect(entry).toHaveTextContent('卡密导入');
    const menu = screen.getByTestId('module-menu');
    expect(within(menu).getAllByRole('menuitem').map((item) => item.textContent)).toEqual(['商品与库存', '卡密导入']);
    // the import wizard, with their own import history
    expect(await screen.findByTestId('import-form')).toHaveTextContent('上传并校验');
    expect(screen.getByTestId('tab-history')).toHaveTextContent('我的导入');
    expect(screen.getByTestId('inventory-import-page')).toHaveTextContent('您当前的角色仅可导入卡密');
  });

  it('a page the user may not use shows 403, also for a module path', async () => {
    stubApi(undefined, { me: keyUploader });
    const { router } = renderApp('/settings/system');
    expect(await screen.findByTestId('forbidden')).toHaveTextContent('settings:read');

    await router.navigate('/users');
    expect(await screen.findByText(/users:read/)).toBeInTheDocument();
    expect(screen.getByTestId('forbidden')).not.toHaveTextContent('settings:read');
  });
});
