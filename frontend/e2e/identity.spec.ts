import { expect, test } from '@playwright/test';
import { join } from 'node:path';

import { baseURL, fillLogin, loginAsAdmin, logout, screenshotDir } from './support';

const ROLE_NAME = 'key uploader only';
const ROLE_KEY = 'key_uploader_only';
const STAFF_EMAIL = `uploader-${Date.now()}@e2e.kameng.example`;
const NEW_PASSWORD = 'Upload-Keys-Only-2026';

let temporaryPassword = '';

test.describe.serial('identity: roles, staff and least privilege', () => {
  test('the sign-in page explains a wrong password without saying which part was wrong', async ({ page }) => {
    await fillLogin(page, 'nobody@e2e.kameng.example', 'not-the-password');
    await expect(page.getByTestId('login-error')).toHaveText('账号或密码错误');
    await page.getByTestId('login-account').fill('admin@demo.kameng.example');
    await page.getByTestId('login-password').fill('');
    await page.screenshot({ path: join(screenshotDir, 'login.png') });
  });

  test('an admin creates a custom role holding only inventory:import and a staff member with it', async ({ page }) => {
    await loginAsAdmin(page);

    // 用户与权限 › 角色
    const menu = page.getByTestId('module-menu');
    await menu.getByText('用户与权限').click();
    await menu.getByText('角色').click();
    await expect(page).toHaveURL(/\/users\/roles$/);
    await expect(page.getByTestId('role-row-super_admin')).toContainText('内置');

    await page.getByTestId('create-role').click();
    const editor = page.getByTestId('role-editor');
    await editor.getByTestId('role-name').fill(ROLE_NAME);
    await expect(editor.getByTestId('role-key')).toHaveValue(ROLE_KEY);
    // permissions are grouped by module, sensitive ones are marked
    await expect(editor.getByTestId('perm-module-inventory')).toBeVisible();
    await expect(editor.getByTestId('perm-module-orders').getByText('敏感')).toHaveCount(2);
    await editor.getByTestId('perm-inventory:import').check();
    await expect(editor.getByTestId('role-selected-count')).toHaveText('已选 1 项');
    await page.screenshot({ path: join(screenshotDir, 'roles.png') });
    await editor.getByTestId('role-save').click();
    await expect(editor).toBeHidden();

    const row = page.getByTestId(`role-row-${ROLE_KEY}`);
    await expect(row).toContainText(ROLE_NAME);
    await expect(row).toContainText('自定义');
    await expect(row).toContainText('1 项权限');

    // 用户与权限 › 员工: create the staff member with that role
    await menu.getByText('员工').click();
    await expect(page).toHaveURL(/\/users\/staff$/);
    await page.getByTestId('create-staff').click();
    await page.getByTestId('staff-email').fill(STAFF_EMAIL);
    await page.getByTestId('staff-name').fill('E2E 卡密上传');
    await page.getByTestId('role-select').click();
    await page.locator('.ant-select-dropdown').getByText(ROLE_NAME, { exact: true }).click();
    await page.keyboard.press('Escape');
    await page.getByTestId('create-staff-submit').click();

    const password = page.getByTestId('temporary-password');
    await expect(password).toBeVisible();
    temporaryPassword = ((await password.textContent()) ?? '').trim();
    expect(temporaryPassword.length).toBeGreaterThanOrEqual(12);
    // once in a full run the first click on 完成 was lost while the dialogs were animating
    // (the create-staff one closing, this one opening): click until the dialog has gone
    await expect(async () => {
      await page.getByTestId('temporary-password-close').click({ timeout: 2_000 });
      await expect(password).toBeHidden({ timeout: 2_000 });
    }).toPass({ timeout: 15_000 });

    const staffRow = page.getByTestId('users-table').locator('tr', { hasText: STAFF_EMAIL });
    await expect(staffRow).toContainText(ROLE_NAME);
    await expect(staffRow).toContainText('待改密');

    // 操作日志: both writes are there, with before/after in the detail drawer
    await menu.getByText('操作日志').click();
    await expect(page).toHaveURL(/\/users\/audit-log$/);
    const table = page.getByTestId('audit-table');
    await expect(table).toContainText('roles.create');
    await expect(table).toContainText('users.set_roles');
    await expect(table).toContainText('users.create');
    await page.screenshot({ path: join(screenshotDir, 'audit-log.png'), fullPage: true });

    await table.locator('tr', { hasText: 'roles.create' }).first().getByRole('button').click();
    const drawer = page.getByTestId('audit-drawer');
    await expect(drawer.getByTestId('audit-after')).toContainText('inventory:import');
    await expect(drawer.getByTestId('audit-after')).toContainText(ROLE_NAME);
    await page.waitForTimeout(500); // let the drawer finish sliding in
    await page.screenshot({ path: join(screenshotDir, 'audit-log-detail.png') });
    await page.keyboard.press('Escape');

    // filter by action prefix
    await page.getByTestId('audit-filter-action').locator('input').fill('roles.');
    await page.getByTestId('audit-search').click();
    await expect(table.locator('tbody tr', { hasText: 'users.create' })).toHaveCount(0);
    await expect(table).toContainText('roles.create');

    // CSV export goes through fetch with the access token
    const download = page.waitForEvent('download');
    await page.getByTestId('audit-export').click();
    expect((await download).suggestedFilename()).toMatch(/^operation-log-.*\.csv$/);

    await logout(page);
  });

  test('the new staff member changes the temporary password and sees only 卡密导入', async ({ page }) => {
    expect(temporaryPassword, 'the previous test created the account').not.toBe('');
    await fillLogin(page, STAFF_EMAIL, temporaryPassword);

    // forced password change before anything else; the role has nothing sensitive: no 2FA
    await expect(page).toHaveURL(/\/change-password$/);
    await expect(page.getByTestId('password-policy')).toContainText('最近 5 次');
    await page.getByTestId('password-current').fill(temporaryPassword);
    await page.getByTestId('password-new').fill(NEW_PASSWORD);
    await page.getByTestId('password-confirm').fill(NEW_PASSWORD);
    await page.getByTestId('password-submit').click();

    await expect(page).toHaveURL(/\/catalog\/inventory-import$/);
    const menu = page.getByTestId('module-menu');
    await expect(menu.getByTestId('menu-inventory-import')).toBeVisible();
    await expect(menu.getByRole('menuitem')).toHaveCount(2); // 商品与库存 › 卡密导入
    await expect(menu).toContainText('商品与库存');
    for (const hidden of ['交易', '用户与权限', '报表', '上游', '设置', '商品', '库存']) {
      await expect(menu.getByText(hidden, { exact: true })).toHaveCount(0);
    }
    // the import wizard and their own import history, without any catalog permission
    await expect(page.getByTestId('import-form')).toContainText('上传并校验');
    await expect(page.getByTestId('tab-history')).toContainText('我的导入');
    await page.screenshot({ path: join(screenshotDir, 'key-uploader-menu.png') });

    // a page it may not use answers 403, not the page
    await page.goto(`${baseURL()}/users/roles`);
    await expect(page.getByTestId('forbidden')).toContainText('roles:read');

    // signing in again uses the new password
    await logout(page);
    await fillLogin(page, STAFF_EMAIL, NEW_PASSWORD);
    await expect(page).toHaveURL(/\/catalog\/inventory-import$/);
  });
});
