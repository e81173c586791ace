import { expect, test } from '@playwright/test';
import { join } from 'node:path';

import { baseURL, loginAsAdmin, screenshotDir } from './support';

test('an admin signs in (enrolling 2FA the first time) and sees a healthy system status page in either language', async ({
  page,
}) => {
  // signed out, the console sends you to the sign-in page
  await page.goto(`${baseURL()}/settings/system`);
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Fsystem$/);

  await loginAsAdmin(page);

  const infoAnswer = page.waitForResponse((r) => r.url().endsWith('/api/v1/system/info') && r.status() === 200);
  const menu = page.getByTestId('module-menu');
  await menu.getByText('设置').click();
  await menu.getByText('系统状态').click();
  await expect(page).toHaveURL(/\/settings\/system$/);
  const { version } = (await (await infoAnswer).json()) as { version: string };

  await expect(page.getByRole('heading', { name: '系统状态' })).toBeVisible();
  await expect(page.getByTestId('system-version')).toHaveText(`kameng ${version}`);

  for (const name of ['database', 'redis']) {
    const tag = page.getByTestId(`status-${name}`);
    await expect(tag).toHaveAttribute('data-status', 'ok');
    await expect(tag).toHaveText('正常');
  }
  // the worker reports itself every 5 s and the page asks every 5 s
  const worker = page.getByTestId('status-worker');
  await expect(worker).toHaveAttribute('data-status', 'ok', { timeout: 20_000 });
  await expect(worker).toHaveText('正常');
  await expect(page.getByTestId('health-summary')).toHaveText('所有组件运行正常');
  await expect(page.getByTestId('outbox-pending')).toBeVisible();

  await page.screenshot({ path: join(screenshotDir, 'health.png'), fullPage: true });

  // language switch: menu labels follow, and the choice survives a reload
  await expect(menu.getByText('商品与库存')).toBeVisible();
  await page.getByTestId('language-switch').click();
  await page.getByRole('menuitem', { name: 'English' }).click();
  await expect(menu.getByText('Catalog & inventory')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'System health' })).toBeVisible();
  await expect(page.getByTestId('status-database')).toHaveText('Healthy');

  // a reload keeps the session: the refresh cookie buys a new access token
  await page.reload();
  await expect(page).toHaveURL(/\/settings\/system$/);
  await expect(page.getByTestId('module-menu').getByText('Orders')).toBeVisible();
  await expect(page.getByTestId('status-database')).toHaveText('Healthy');
  await page.screenshot({ path: join(screenshotDir, 'health-en.png'), fullPage: true });
});
