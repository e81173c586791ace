import { expect, test, type Locator, type Page } from '@playwright/test';
import { join } from 'node:path';

import { ADMIN_LOGIN, CUSTOMER_LOGIN, DEMO_PASSWORD, fillLogin, loginAsAdmin, logout, screenshotDir, staffCode } from './support';

const RUN = Date.now().toString(36).toUpperCase();
const PRODUCT = 'Steam 钱包充值卡'; // the demo's card-key product (catalog/demo.py), 50 元 at ¥48.50
const MANUAL = '视频会员月卡'; // the demo's manual-delivery product, ¥19.90
const RECHARGE = '100.00'; // more than this spec spends: wallet.spec.ts expects the demo customer's ¥200 still there
const DELIVERY = `会员账号 vip-${RUN}\n密码 Pass-${RUN}`;

/** "¥1,250.00" / "250.00" → 1250 */
function amount(text: string): number {
  return Number(text.replace(/[¥,\s]/g, ''));
}

async function shot(page: Page, name: string): Promise<void> {
  await page.mouse.move(0, 0);
  await expect(page.locator('.ant-spin-blur')).toHaveCount(0); // no table still loading
  await page.waitForTimeout(400); // ... nor fading back in
  await page.screenshot({ path: join(screenshotDir, `orders-${name}.png`), fullPage: true });
}

async function balanceOf(page: Page): Promise<number> {
  return amount(await page.getByTestId('my-balance').locator('.ant-statistic-content').innerText());
}

/** The 2FA dialog, when the last confirmation is not fresh: answer it. `done` shows otherwise. */
async function stepUpIfAsked(page: Page, login: string, done: Locator): Promise<void> {
  const code = page.locator('[data-testid="step-up-code"]:visible'); // the dialog is always rendered, hidden
  await expect(code.or(done)).toBeVisible();
  if (await code.isVisible()) {
    await code.fill(await staffCode(login));
    await page.getByTestId('step-up-confirm').click();
  }
}

/** 商城 → the demo card-key product's checkout. */
async function openProduct(page: Page): Promise<void> {
  await page.getByTestId('module-menu').getByText('商城', { exact: true }).click();
  await expect(page).toHaveURL(/\/shop$/);
  const card = page.locator('[data-testid^="shop-product-"]', { hasText: PRODUCT });
  await expect(card).toContainText('¥48.50 起');
  await card.click();
  await expect(page).toHaveURL(/\/shop\/\d+$/);
  await expect(page.getByTestId('checkout-total')).toHaveText('¥48.50');
}

let orderNo = '';
let manualNo = '';

test.describe.serial('orders: the customer recharges through EPay, buys a card key, and staff see the order', () => {
  test('the customer tops up ¥100 through the EPay simulator and comes back to the new balance', async ({ page }) => {
    await fillLogin(page, CUSTOMER_LOGIN, DEMO_PASSWORD);
    await expect(page).toHaveURL(/\/account\/wallet$/);
    const menu = page.getByTestId('module-menu');
    await expect(menu.getByRole('menuitem')).toHaveText(['商城', '我的订单', '我的余额', '我的安全']);
    await expect.poll(() => balanceOf(page)).toBeGreaterThan(0);
    const before = await balanceOf(page);

    await page.getByTestId('recharge-amount').fill(RECHARGE);
    await shot(page, 'recharge');
    await page.getByTestId('recharge-submit').click();

    // the gateway's pay page (the simulator hosted by the demo API)
    await expect(page).toHaveURL(/\/epay-sim\/submit\.php\?/);
    await expect(page.locator('#money')).toHaveText(`¥${RECHARGE}`);
    await page.screenshot({ path: join(screenshotDir, 'orders-epay-recharge.png') });
    await page.locator('#pay').click();
    await expect(page.locator('#done')).toHaveText('支付成功');
    await page.locator('#back').click();

    // back on 我的余额: the notice was applied, the balance and the statement show it
    await expect(page).toHaveURL(/\/account\/wallet/);
    await expect.poll(() => balanceOf(page)).toBeCloseTo(before + Number(RECHARGE), 2);
    const newest = page.getByTestId('statement-table').locator('tbody tr.ant-table-row').first();
    await expect(newest).toContainText('充值');
    await expect(newest.locator('.kameng-amount.is-credit')).toHaveText(`+¥${RECHARGE}`);
    await expect(newest).toContainText(/支付单 #\d+/);
    await shot(page, 'wallet-after-recharge');
  });

  test('the customer buys a Steam card by balance and sees its key on the order page', async ({ page }) => {
    await fillLogin(page, CUSTOMER_LOGIN, DEMO_PASSWORD);
    await expect(page).toHaveURL(/\/account\/wallet$/);
    await expect.poll(() => balanceOf(page)).toBeGreaterThan(48.5);
    const before = await balanceOf(page);

    await openProduct(page);
    await expect(page.getByTestId('checkout-balance')).toContainText(`¥${before.toFixed(2)}`);
    await shot(page, 'checkout');
    await page.getByTestId('checkout-submit').click();

    // the order: delivered at once, one key with a copy button each for card number and secret
    await expect(page).toHaveURL(/\/account\/orders\/\d+$/);
    orderNo = /\/account\/orders\/(\d+)$/.exec(page.url())?.[1] ?? '';
    expect(orderNo).not.toBe('');
    await expect(page.getByTestId('order-status')).toHaveText('已发货');
    await expect(page.getByTestId('key-card-no-1')).toContainText(/^DEMO\d+/);
    await expect(page.getByTestId('key-secret-1')).toHaveText(/^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
    await expect(page.getByTestId('order-keys').locator('tbody tr.ant-table-row')).toHaveCount(1);
    await expect(page.getByTestId('order-total')).toHaveText('¥48.50');
    await expect(page.getByTestId('order-progress')).toContainText('发货 · 1 / 1');
    await shot(page, 'order');

    // 我的订单 lists it; the balance paid for it
    await page.getByTestId('back-to-orders').click();
    await expect(page.getByTestId(`my-order-status-${orderNo}`)).toHaveText('已发货');
    await shot(page, 'my-orders');
    await page.getByTestId('module-menu').getByText('我的余额', { exact: true }).click();
    await expect.poll(() => balanceOf(page)).toBeCloseTo(before - 48.5, 2);
    const newest = page.getByTestId('statement-table').locator('tbody tr.ant-table-row').first();
    await expect(newest).toContainText(`购买 ${PRODUCT}`);
    await expect(newest.locator('.kameng-amount.is-debit')).toHaveText('-¥48.50');
  });

  test('paying online instead: the simulator brings the customer back to the delivered order; a manual product waits for staff', async ({ page }) => {
    await fillLogin(page, CUSTOMER_LOGIN, DEMO_PASSWORD);
    await expect(page).toHaveURL(/\/account\/wallet$/);
    await openProduct(page);
    await page.getByTestId('pay-epay').click();
    await expect(page.getByTestId('checkout-submit')).toHaveText(/去支付/);
    await page.getByTestId('checkout-submit').click();

    await expect(page).toHaveURL(/\/epay-sim\/submit\.php\?/);
    await expect(page.locator('#money')).toHaveText('¥48.50');
    await page.locator('#pay').click();
    await expect(page.locator('#done')).toHaveText('支付成功');
    await page.locator('#back').click();

    await expect(page).toHaveURL(/\/account\/orders\/\d+$/);
    await expect(page.getByTestId('order-status')).toHaveText('已发货');
    await expect(page.getByTestId('key-secret-1')).toHaveText(/^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
    await expect(page.getByTestId('order-info')).toContainText('在线支付');
    await shot(page, 'order-epay');

    // a manual product: paid by balance, it waits for staff
    await page.getByTestId('module-menu').getByText('商城', { exact: true }).click();
    await page.locator('[data-testid^="shop-product-"]', { hasText: MANUAL }).click();
    await expect(page.getByTestId('checkout-total')).toHaveText('¥19.90');
    await page.getByTestId('checkout-submit').click();
    await expect(page).toHaveURL(/\/account\/orders\/\d+$/);
    manualNo = /\/account\/orders\/(\d+)$/.exec(page.url())?.[1] ?? '';
    await expect(page.getByTestId('order-status')).toHaveText('发货中');
    await expect(page.getByTestId('order-banner')).toContainText('等待客服人工发货');
  });

  test('an admin finds the order in 交易 › 订单, reads its timeline, refunds ¥1.00 of it (2FA step-up when asked) and delivers the manual order', async ({ page }) => {
    test.setTimeout(180_000);
    expect(orderNo, 'the purchase test made an order').not.toBe('');
    await loginAsAdmin(page);
    // the first module: the admin lands on 交易 › 订单
    await expect(page).toHaveURL(/\/orders\/list$/);
    const menu = page.getByTestId('module-menu');
    await expect(menu.locator('.ant-menu-item-selected')).toHaveText('订单');

    await page.getByTestId('orders-filter-no').fill(orderNo);
    await page.getByTestId('orders-search').click();
    const row = page.getByTestId(`order-row-${orderNo}`);
    await expect(row).toContainText(PRODUCT);
    await expect(page.getByTestId('orders-table').locator('tbody tr.ant-table-row')).toHaveCount(1);
    await expect(page.getByTestId(`order-status-${orderNo}`)).toHaveText('已发货');
    await shot(page, 'admin-list');

    await row.click();
    await expect(page).toHaveURL(new RegExp(`/orders/list/${orderNo}$`));
    await expect(page.getByTestId('admin-order-status')).toHaveText('已发货');
    await expect(page.getByTestId('admin-order-total')).toHaveText('¥48.50');
    const timeline = page.getByTestId('order-timeline');
    await expect(timeline).toContainText('下单');
    await expect(timeline).toContainText('余额支付');
    await expect(timeline).toContainText('自动发卡 1 张');
    await expect(page.getByTestId('action-confirm-paid')).toBeDisabled();

    const reason = `e2e 部分退款 ${RUN}`;
    await page.getByTestId('action-refund').click();
    await page.getByTestId('refund-form').getByText('部分退款', { exact: true }).click(); // the radio's input itself is 0×0
    await page.getByTestId('refund-amount').fill('1');
    await page.getByTestId('refund-reason').fill(reason);
    await page.getByTestId('refund-confirm').click();
    const done = page.getByTestId('action-done');
    await stepUpIfAsked(page, ADMIN_LOGIN, done);
    await expect(done).toContainText('已退款');
    await expect(page.getByTestId('admin-order-refunded')).toHaveText('¥1.00');
    await expect(timeline).toContainText(reason);
    await shot(page, 'admin-detail');

    // the manual order: 人工发货 with what the buyer gets
    await page.getByTestId('back-to-order-list').click();
    await page.getByTestId('orders-filter-no').fill(manualNo);
    await page.getByTestId('orders-search').click();
    await page.getByTestId(`order-row-${manualNo}`).click();
    await expect(page.getByTestId('admin-order-status')).toHaveText('发货中');
    await expect(page.getByTestId('action-refund')).toBeEnabled();
    await page.getByTestId('action-deliver').click();
    await page.getByTestId('deliver-content').fill(DELIVERY);
    await page.getByTestId('deliver-note').fill('e2e');
    await page.getByTestId('deliver-confirm').click();
    await expect(done).toContainText('已发货，订单状态：已发货');
    await expect(page.getByTestId('admin-order-status')).toHaveText('已发货');
    await expect(timeline).toContainText('人工发货 e2e');
    await logout(page);
  });

  test('the customer sees what staff delivered on the manual order', async ({ page }) => {
    expect(manualNo, 'the online-payment test made a manual order').not.toBe('');
    await fillLogin(page, CUSTOMER_LOGIN, DEMO_PASSWORD);
    await page.getByTestId('module-menu').getByText('我的订单', { exact: true }).click();
    await expect(page.getByTestId(`my-order-status-${manualNo}`)).toHaveText('已发货');
    await page.getByTestId(`my-order-row-${manualNo}`).click();
    await expect(page.getByTestId('delivery-content')).toContainText(`会员账号 vip-${RUN}`);
    await expect(page.getByTestId('delivery-content')).toContainText(`密码 Pass-${RUN}`);
    await expect(page.getByTestId('keys-card')).toHaveCount(0);
    await shot(page, 'order-manual');
  });
});
