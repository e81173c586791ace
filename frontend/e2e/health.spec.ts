import { expect, test } from '@playwright/test';
import { join } from 'node:path';

const baseURL = (): string => {
  const url = process.env.KAMENG_E2E_URL;
  if (!url) throw new Error('KAMENG_E2E_URL is not set: global setup did not run');
  return url;
};

const screenshotDir = join(import.meta.dirname, '..', 'test-results');

test('the console opens on a healthy system status page and speaks English on request', async ({ page, request }) => {
  const info = await request.get(`${baseURL()}/api/v1/system/info`);
  expect(info.ok()).toBe(true);
  const { version } = (await info.json()) as { version: string };

  await page.goto(`${baseURL()}/`);

  // `/` lands on 设置 › 系统状态
  await expect(page).toHaveURL(/\/settings\/system$/);
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
  const menu = page.getByTestId('module-menu');
  await expect(menu.getByText('商品与库存')).toBeVisible();
  await page.getByTestId('language-switch').click();
  await page.getByRole('menuitem', { name: 'English' }).click();
  await expect(menu.getByText('Catalog & inventory')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'System health' })).toBeVisible();
  await expect(page.getByTestId('status-database')).toHaveText('Healthy');

  await page.reload();
  await expect(page.getByTestId('module-menu').getByText('Orders')).toBeVisible();
  await page.screenshot({ path: join(screenshotDir, 'health-en.png'), fullPage: true });
});
