import { expect, test, type Locator, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CUSTOMER_LOGIN, DEMO_PASSWORD, FINANCE_LOGIN, fillLogin, loginAsStaff, logout, screenshotDir, staffCode } from './support';

const RUN = Date.now().toString(36).toUpperCase();
const REASON = `线下转账充值 e2e ${RUN}`;

/** "¥1,250.00" / "250.00" → 1250 */
function amount(text: string): number {
  return Number(text.replace(/[¥,\s]/g, ''));
}

async function shot(page: Page, name: string): Promise<void> {
  await page.mouse.move(0, 0);
  await expect(page.locator('.ant-spin-blur')).toHaveCount(0); // no table still loading
  await page.waitForTimeout(400); // ... nor fading back in
  await page.screenshot({ path: join(screenshotDir, `wallet-${name}.png`), fullPage: true });
}

/** The 2FA dialog, when the last confirmation is not fresh: answer it. `done` shows otherwise. */
async function stepUpIfAsked(page: Page, login: string, done: Locator): Promise<void> {
  const code = page.locator('[data-testid="step-up-code"]:visible'); // the dialog is always rendered, hidden
  await expect(code.or(done)).toBeVisible();
  const asked = await code.isVisible();
  // a sign-in with a 2FA code a moment ago is itself a fresh step-up: the API may not ask again
  test.info().annotations.push({ type: 'step-up', description: asked ? 'asked and answered' : 'not asked (2FA fresh from sign-in)' });
  if (asked) {
    await code.fill(await staffCode(login));
    await page.getByTestId('step-up-confirm').click();
  }
}

let before = Number.NaN;

test.describe.serial('wallet: finance adjusts a balance, the customer sees it', () => {
  test('finance finds the demo customer in 余额账户 and credits ¥50 with a reason (2FA step-up when asked)', async ({ page }) => {
    test.setTimeout(180_000);
    await loginAsStaff(page, FINANCE_LOGIN, 'Finance');
    const menu = page.getByTestId('module-menu');
    await menu.getByText('财务', { exact: true }).click();
    await menu.getByText('余额账户', { exact: true }).click();
    await expect(page).toHaveURL(/\/finance\/accounts$/);

    // search by email: one row, the customer with their balance
    await page.getByTestId('accounts-search').fill('customer@demo');
    await page.getByTestId('accounts-search').press('Enter');
    const row = page.getByTestId('accounts-table').locator('tbody tr', { hasText: CUSTOMER_LOGIN });
    await expect(row).toContainText('顾客');
    await expect(page.getByTestId('accounts-table').locator('tbody tr.ant-table-row')).toHaveCount(1);
    before = amount(await row.locator('[data-testid^="account-balance-"]').innerText());
    expect(before).toBeGreaterThanOrEqual(200); // the demo gives ¥200
    await shot(page, 'accounts');

    // the account: balance and statement (the demo credit is an adjustment)
    await row.click();
    await expect(page).toHaveURL(/\/finance\/accounts\/\d+$/);
    await expect(page.getByText('余额账户：演示顾客 Customer')).toBeVisible();
    await expect.poll(async () => amount(await page.getByTestId('account-balance').locator('.ant-statistic-content').innerText())).toBe(before);
    await expect(page.getByTestId('statement-table')).toContainText('演示余额');
    await expect(page.getByTestId('export-xlsx')).toBeVisible();

    // 调账 +50 with a reason, confirmed with a 2FA code when asked
    await page.getByTestId('adjust').click();
    await page.getByTestId('adjust-amount').fill('50');
    await page.getByTestId('adjust-reason').fill(REASON);
    await expect(page.getByTestId('adjust-preview')).toHaveText(`¥${(before + 50).toFixed(2)}`);
    await shot(page, 'adjust');
    await page.getByTestId('adjust-confirm').click();
    const done = page.getByTestId('adjust-done');
    await stepUpIfAsked(page, FINANCE_LOGIN, done);
    await expect(done).toContainText(`当前余额 ¥${(before + 50).toFixed(2)}`);
    await expect(page.getByTestId('adjust-form')).toBeHidden();
    await expect.poll(async () => amount(await page.getByTestId('account-balance').locator('.ant-statistic-content').innerText())).toBe(before + 50);
    const newest = page.getByTestId('statement-table').locator('tbody tr.ant-table-row').first();
    await expect(newest).toContainText(REASON);
    await expect(newest).toContainText('+¥50.00');
    await expect(newest).toContainText('调账');
    await shot(page, 'account');

    // 账本: the entry with both its lines; 对账: still balanced
    await menu.getByText('账本', { exact: true }).click();
    await expect(page).toHaveURL(/\/finance\/ledger$/);
    const entry = page.getByTestId('ledger-table').locator('tbody tr.ant-table-row', { hasText: REASON });
    await expect(entry).toBeVisible();
    await expect(page.getByTestId('ledger-table')).toContainText('用户钱包');
    await shot(page, 'ledger');

    await menu.getByText('对账', { exact: true }).click();
    await expect(page).toHaveURL(/\/finance\/trial-balance$/);
    await expect(page.getByTestId('trial-balanced')).toContainText('账平');
    await expect(page.getByTestId('trial-total')).toHaveText('¥0.00');
    await expect(page.getByTestId('by-kind-user')).toContainText('用户钱包');
    await shot(page, 'trial-balance');

    await logout(page);
  });

  test('the customer signs in, lands on 我的余额 and sees the new balance and the 调账 line', async ({ page }) => {
    expect(before, 'the previous test read the balance').not.toBeNaN();
    await fillLogin(page, CUSTOMER_LOGIN, DEMO_PASSWORD);
    await expect(page).toHaveURL(/\/account\/wallet$/);
    const menu = page.getByTestId('module-menu');
    await expect(menu.getByRole('menuitem')).toHaveText(['商城', '我的订单', '我的余额', '我的安全']);
    await expect(menu).toContainText('我的余额');
    await expect(menu).not.toContainText('财务');

    await expect.poll(async () => amount(await page.getByTestId('my-balance').locator('.ant-statistic-content').innerText())).toBe(before + 50);
    const newest = page.getByTestId('statement-table').locator('tbody tr.ant-table-row').first();
    await expect(newest).toContainText('调账');
    await expect(newest).toContainText(REASON);
    await expect(newest.locator('.kameng-amount.is-credit')).toHaveText('+¥50.00');
    await expect(newest).toContainText(`¥${(before + 50).toFixed(2)}`);
    await shot(page, 'mine');

    // the statement as CSV, through the authenticated client
    const downloading = page.waitForEvent('download');
    await page.getByTestId('export-csv').click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^statement-\d+-.*\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8');
    expect(csv).toContain(REASON);
    expect(csv).toContain('演示余额');
  });
});
