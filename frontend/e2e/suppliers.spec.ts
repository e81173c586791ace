import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';

import { adminCode, baseURL, loginAsAdmin, screenshotDir } from './support';

const RUN = Date.now().toString(36).toUpperCase();

/** 上游 › 供应商 through the sider (the group opens with an animation: a lost click is tried again). */
async function openSuppliers(page: Page): Promise<void> {
  const menu = page.getByTestId('module-menu');
  await expect(async () => {
    const item = menu.getByText('供应商', { exact: true });
    if (!(await item.isVisible())) await menu.getByText('上游', { exact: true }).click();
    await item.click({ timeout: 3000 });
    await expect(page).toHaveURL(/\/suppliers\/list$/, { timeout: 5000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId('supplier-table')).toBeVisible();
}

/** Click `button` until `opened` shows (antd's dialogs open with an animation). */
async function clickUntil(page: Page, button: string, opened: ReturnType<Page['locator']>): Promise<void> {
  await expect(async () => {
    if (!(await opened.isVisible())) await page.getByTestId(button).click({ timeout: 3000 });
    await expect(opened).toBeVisible({ timeout: 5000 });
  }).toPass({ timeout: 30_000 });
}

test.describe.serial('上游: the admin adds a supplier and tests connections', () => {
  test('adds an http_json supplier (credentials after a 2FA step-up), sees it in the list and tests it', async ({ page }) => {
    test.setTimeout(180_000);
    await loginAsAdmin(page);
    await openSuppliers(page);

    const name = `e2e-${RUN}`;
    const form = page.locator('[data-testid="supplier-form"]:visible');
    await clickUntil(page, 'supplier-add', form);
    await page.getByTestId('supplier-name').fill(name);
    // `kameng run` hosts the http_json simulator at /supplier-sim and allows loopback calls
    await page.getByTestId('supplier-base-url').fill(`${baseURL()}/supplier-sim`);
    await page.getByTestId('supplier-cred-secret').fill('e2e-not-the-simulator-secret');
    await page.getByTestId('supplier-threshold').fill('100');
    await page.screenshot({ path: join(screenshotDir, 'suppliers-editor.png') });
    await page.getByTestId('supplier-submit').click();

    // setting credentials is sensitive: the API asks for a fresh 2FA, the SPA's dialog takes it
    const stepUp = page.locator('[data-testid="step-up-code"]:visible');
    await expect(stepUp.or(page.getByText(name, { exact: true }))).toBeVisible();
    if (await stepUp.isVisible()) {
      await stepUp.fill(await adminCode());
      await page.getByTestId('step-up-confirm').click();
    }
    const row = page.locator('tr', { hasText: name });
    await expect(row).toBeVisible();
    await expect(form).toBeHidden();
    await expect(row).toContainText('http_json');
    await expect(row.getByTestId('circuit-tag')).toHaveAttribute('data-state', 'closed');

    // the simulator refuses our made-up secret: the test answers the failure, it does not hide it
    const rowId = ((await row.getAttribute('data-testid')) ?? '').replace('supplier-row-', '');
    const result = page.locator('[data-testid="test-result"]:visible');
    await clickUntil(page, `supplier-test-${rowId}`, result);
    await expect(result).toHaveAttribute('data-ok', 'false');
    await expect(result).toContainText('连接失败');
    await page.screenshot({ path: join(screenshotDir, 'suppliers-test-failed.png') });
    await page.locator('.ant-modal:visible').getByRole('button', { name: /OK|确\s*定/ }).click();
    await expect(result).toBeHidden();

    // the settings supplier (KAMENG_RECHARGE_SUPPLIER_*, the simulator's own secret) answers its balance
    const settingsRow = page.locator('tr', { hasText: 'settings' }).first();
    if (await settingsRow.isVisible()) {
      const settingsId = ((await settingsRow.getAttribute('data-testid')) ?? '').replace('supplier-row-', '');
      await clickUntil(page, `supplier-test-${settingsId}`, result);
      await expect(result).toHaveAttribute('data-ok', 'true');
      await expect(result).toContainText('10000.00');
      await page.locator('.ant-modal:visible').getByRole('button', { name: /OK|确\s*定/ }).click();
      await expect(settingsRow.getByTestId('supplier-balance')).toContainText('10000.00');
    }
    await page.screenshot({ path: join(screenshotDir, 'suppliers-list.png'), fullPage: true });
  });
});
