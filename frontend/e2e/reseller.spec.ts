import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';

import { baseURL, DEMO_PASSWORD, fillLogin, screenshotDir } from './support';

const RESELLER_LOGIN = 'reseller@demo.kameng.example';
const RUN = Date.now().toString(36).toUpperCase();

/** One of 我的对接's pages through the sider (a reseller's sider lists their own pages). */
async function openPage(page: Page, label: string, path: RegExp): Promise<void> {
  await expect(async () => {
    await page.getByTestId('module-menu').getByText(label, { exact: true }).click({ timeout: 3000 });
    await expect(page).toHaveURL(path, { timeout: 5000 });
  }).toPass({ timeout: 30_000 });
}

test.describe.serial('代理对接: the demo reseller manages keys and callbacks', () => {
  test('creates a key, sees the secret once, the list shows it without the secret, and the playground signs a ping the API accepts', async ({ page, request }) => {
    test.setTimeout(180_000);
    await fillLogin(page, RESELLER_LOGIN, DEMO_PASSWORD);
    await expect(page.getByTestId('user-menu')).toContainText('Reseller');
    await openPage(page, 'API 密钥', /\/account\/reseller\/keys$/);

    const form = page.locator('[data-testid="key-form"]:visible');
    await expect(async () => {
      if (!(await form.isVisible())) await page.getByTestId('key-create').click({ timeout: 3000 });
      await expect(form).toBeVisible({ timeout: 5000 });
    }).toPass({ timeout: 30_000 });
    const name = `e2e ${RUN}`;
    await page.getByTestId('key-name').fill(name);
    await page.getByTestId('key-rate').fill('120');
    await page.getByTestId('key-submit').click();

    // the secret, once, with its warning
    const secretValue = page.locator('[data-testid="secret-value"]:visible');
    await expect(secretValue).toBeVisible();
    await expect(page.getByTestId('secret-once-warning')).toContainText('只显示这一次');
    const secret = (await secretValue.innerText()).trim();
    const appId = (await page.locator('[data-testid="secret-app-id"]:visible').innerText()).trim();
    expect(secret.length).toBeGreaterThanOrEqual(16);
    expect(appId).toMatch(/^ak_/);
    await page.screenshot({ path: join(screenshotDir, 'reseller-key-created.png') });
    await page.getByTestId('secret-done').click();
    await expect(secretValue).toBeHidden();

    // the list: app id, the last 4 characters, 120/min — and the secret nowhere on the page
    const row = page.locator('tr', { hasText: appId });
    await expect(row).toBeVisible();
    await expect(row).toContainText(name);
    await expect(row.getByTestId('key-hint')).toHaveText(`••••${secret.slice(-4)}`);
    await expect(row).toContainText('120 次/分');
    await expect(row.getByTestId('key-status')).toHaveText('有效');
    expect(await page.content()).not.toContain(secret);
    await page.screenshot({ path: join(screenshotDir, 'reseller-keys.png') });

    // 签名调试: the browser signs GET /open/v1/ping; the API accepts those headers
    await openPage(page, '签名调试', /\/account\/reseller\/signing$/);
    await page.getByTestId('sign-app-id').fill(appId);
    await page.getByTestId('sign-secret').fill(secret);
    const signature = page.getByTestId('signature');
    await expect(signature).toHaveText(/^[0-9a-f]{64}$/);
    await expect(page.getByTestId('string-to-sign')).toContainText(/GET\\n\s*\/open\/v1\/ping\\n\s*\\n/);
    await expect(page.getByTestId('curl')).toContainText('X-Kameng-Signature');
    const timestamp = await page.getByTestId('sign-timestamp').inputValue();
    const nonce = await page.getByTestId('sign-nonce').inputValue();
    const answer = await request.get(`${baseURL()}/open/v1/ping`, {
      headers: {
        'X-Kameng-App-Id': appId,
        'X-Kameng-Timestamp': timestamp,
        'X-Kameng-Nonce': nonce,
        'X-Kameng-Signature': (await signature.innerText()).trim(),
      },
    });
    expect(answer.status()).toBe(200);
    expect(((await answer.json()) as { app_id: string }).app_id).toBe(appId);
    await page.screenshot({ path: join(screenshotDir, 'reseller-signing.png'), fullPage: true });
  });

  test('callback settings: a metadata address is refused with the server\'s message; a test ping lands in the log', async ({ page }) => {
    test.setTimeout(120_000);
    await fillLogin(page, RESELLER_LOGIN, DEMO_PASSWORD);
    await expect(page.getByTestId('user-menu')).toContainText('Reseller');
    await openPage(page, '回调设置', /\/account\/reseller\/callback$/);

    const url = page.getByTestId('callback-url');
    await url.fill('http://169.254.169.254/latest/meta-data');
    await page.getByTestId('callback-save').click();
    await expect(page.getByText('这个地址不允许使用')).toBeVisible();

    // loopback is allowed in this test server: our own /readyz answers a POST with an error
    await url.fill(`${baseURL()}/readyz`);
    await page.getByTestId('callback-save').click();
    await expect(page.getByTestId('callback-saved')).toBeVisible();
    await page.getByTestId('callback-ping').click();
    await expect(page.getByTestId('ping-sent').or(page.getByTestId('ping-error'))).toBeVisible();
    await expect(page.getByTestId('ping-sent')).toBeVisible();
    await page.screenshot({ path: join(screenshotDir, 'reseller-callback.png'), fullPage: true });

    await openPage(page, '回调日志', /\/account\/reseller\/callback-log$/);
    const pingRow = page.getByTestId('callback-table').locator('tr', { hasText: '测试 (ping)' }).first();
    await expect(pingRow).toBeVisible();
    await expect(async () => {
      await pingRow.click({ timeout: 3000 });
      await expect(page.locator('[data-testid="attempt-table"]:visible')).toBeVisible({ timeout: 5000 });
    }).toPass({ timeout: 30_000 });
    await expect(page.getByTestId('callback-payload')).toContainText('"type": "ping"');
    await page.waitForTimeout(500); // the drawer's slide-in, for the screenshot
    await page.screenshot({ path: join(screenshotDir, 'reseller-callback-log.png'), fullPage: true });
  });
});
