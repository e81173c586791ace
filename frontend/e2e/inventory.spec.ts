import { expect, test, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { adminCode, loginAsAdmin } from './support';

const RUN = Date.now().toString(36).toUpperCase();

/** A unique, random-looking key: XXXX-XXXX-XXXX-XXXX. */
function secret(): string {
  return (randomBytes(8).toString('hex').toUpperCase().match(/.{4}/g) ?? []).join('-');
}

/** The number a Statistic shows (group separators removed). */
async function statistic(page: Page, testid: string): Promise<number> {
  const text = (await page.getByTestId(testid).locator('.ant-statistic-content-value').innerText()).replace(/[,\s]/g, '');
  return Number(text);
}

test.describe.serial('inventory: the card-key import wizard and the stock pages', () => {
  test('an admin imports a CSV with one duplicate and one empty line, and the stock grows by the valid keys', async ({ page }) => {
    test.setTimeout(180_000);
    await loginAsAdmin(page);
    const menu = page.getByTestId('module-menu');
    // the group opens with an animation: a click on 库存 lost on the way (seen once in CI: the
    // page stayed on the order list) is tried again, the group reopened if it closed
    await expect(async () => {
      const item = menu.getByText('库存', { exact: true });
      if (!(await item.isVisible())) await menu.getByText('商品与库存', { exact: true }).click();
      await item.click({ timeout: 3000 });
      await expect(page).toHaveURL(/\/catalog\/inventory$/, { timeout: 5000 });
    }).toPass({ timeout: 30_000 });

    // a card-key product of the demo shop and its first SKU, with the stock before the import
    await expect(page.getByTestId('inventory-table').locator('[data-testid^="low-stock-"]').first()).toBeVisible();
    await page.screenshot({ path: '/tmp/inv-list.png' });
    const productLink = page.locator('[data-testid^="inventory-product-"]').first();
    await expect(productLink).toBeVisible();
    const productName = (await productLink.innerText()).trim();
    const productId = ((await productLink.getAttribute('data-testid')) ?? '').replace('inventory-product-', '');
    await productLink.click();
    await expect(page).toHaveURL(new RegExp(`/catalog/inventory/${productId}$`));
    const skuCard = page.locator('[data-testid^="sku-card-"]').first();
    await expect(skuCard).toBeVisible();
    const skuId = ((await skuCard.getAttribute('data-testid')) ?? '').replace('sku-card-', '');
    const skuName = (await skuCard.locator('.ant-card-head-title').innerText()).trim();
    const before = await statistic(page, `sku-available-${skuId}`);

    // 卡密导入: pick the product and the SKU in the wizard's pickers
    await menu.getByText('卡密导入', { exact: true }).click();
    await expect(page).toHaveURL(/\/catalog\/inventory-import$/);
    await page.getByTestId('import-product').click();
    await page.locator('.ant-select-dropdown:visible .ant-select-item-option').filter({ hasText: productName }).first().click();
    await page.getByTestId('import-sku').click();
    await page
      .locator('.ant-select-dropdown:visible .ant-select-item-option')
      .filter({ hasText: `${skuName}（可用 ${before}）` })
      .click();
    await page.getByTestId('import-note').fill(`e2e ${RUN}`);

    // a CSV: 5 new keys, the first one again, and an empty line
    const keys = Array.from({ length: 5 }, (_, i) => ({ card: `E2E${RUN}${i}`, secret: secret() }));
    const lines = keys.map((k) => `${k.card},${k.secret}`);
    const csv = [lines[0], lines[1], '', lines[2], lines[3], lines[0], lines[4]].join('\n') + '\n';
    await page.getByTestId('import-source').getByText('上传文件').click();
    await page.locator('input[type="file"]').setInputFiles({ name: `keys-${RUN}.csv`, mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await expect(page.locator('.ant-upload-list')).toContainText(`keys-${RUN}.csv`);
    await page.getByTestId('import-submit').click();

    // the report
    const report = page.getByTestId('import-report');
    await expect(report).toBeVisible();
    await expect(report.getByTestId('import-summary')).toContainText(`${productName} / ${skuName}`);
    await expect(report.getByTestId('import-summary')).toContainText(`keys-${RUN}.csv`);
    await expect(report.getByTestId('report-total')).toContainText('7');
    await expect(report.getByTestId('report-valid')).toContainText('5');
    await expect(report.getByTestId('problem-duplicate_in_file')).toHaveText('文件内重复 1');
    await expect(report.getByTestId('problem-empty')).toHaveText('空行 1');
    await expect(report.getByTestId('report-samples')).toContainText(keys[0]?.card ?? '');
    // the report never shows a secret in full
    await expect(report).not.toContainText(keys[0]?.secret ?? '');
    await page.screenshot({ path: '/tmp/inv-report.png', fullPage: true });

    // confirm: a small import is done at once
    await page.getByTestId('import-confirm').click();
    const done = page.getByTestId('import-done');
    await expect(done).toContainText('导入完成');
    await expect(done).toContainText(`已将 5 条卡密导入「${productName} / ${skuName}」`);

    // the product's stock page: 5 more available, the new keys listed masked
    await done.getByTestId('go-inventory').click();
    await expect(page).toHaveURL(new RegExp(`/catalog/inventory/${productId}\\?sku_id=${skuId}$`));
    await expect.poll(() => statistic(page, `sku-available-${skuId}`)).toBe(before + 5);
    const list = page.getByTestId('keys-available');
    const newest = list.locator('tbody tr', { hasText: keys[4]?.card ?? '' });
    await expect(newest).toBeVisible();
    await expect(newest).toContainText(`****${(keys[4]?.secret ?? '').slice(-4)}`);
    await expect(list).not.toContainText(keys[4]?.secret ?? '');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: '/tmp/inv-page.png', fullPage: true });

    // 查看: the plaintext, after a 2FA step-up when the last one is not fresh
    await newest.getByRole('button', { name: '查看' }).click();
    await page.getByTestId('reveal-reason').fill('e2e check');
    const stepUp = page.locator('[data-testid="step-up-code"]:visible'); // the dialog is always rendered, hidden
    const revealed = page.getByTestId('revealed-secret');
    // a click that lands while the dialog is still opening can be lost (once in CI): click again
    // until the request was sent — the 2FA dialog or the plaintext answers it
    await expect(async () => {
      if (!(await stepUp.or(revealed).isVisible())) await page.getByTestId('reveal-confirm').click();
      await expect(stepUp.or(revealed)).toBeVisible({ timeout: 5_000 });
    }).toPass({ timeout: 30_000 });
    if (await stepUp.isVisible()) {
      await stepUp.fill(await adminCode());
      await page.getByTestId('step-up-confirm').click();
    }
    await expect(revealed).toContainText(keys[4]?.secret ?? '');
    await page.getByTestId('reveal-close').click();

    // 导出: the plaintext CSV of the available keys, downloaded by the browser
    // (a sensitive action: the 2FA dialog comes first when the last confirmation is not fresh;
    // an error shows in the dialog — either fails here with what the page shows)
    const downloading = page.waitForEvent('download', { timeout: 60_000 });
    await page.getByTestId('export-keys').click();
    await expect(page.getByTestId('export-scope')).toBeVisible();
    await page.getByTestId('export-modal-reason').fill('e2e export');
    await page.getByTestId('export-modal-confirm').click();
    const exportedNotice = page.locator('.ant-message').getByText('已导出');
    const exportError = page.getByTestId('export-modal-error');
    await expect(stepUp.or(exportedNotice).or(exportError)).toBeVisible();
    if (await stepUp.isVisible()) {
      await stepUp.fill(await adminCode());
      await page.getByTestId('step-up-confirm').click();
    }
    await expect(exportedNotice.or(exportError)).toBeVisible();
    await expect(exportError).toHaveCount(0);
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(new RegExp(`^keys-sku${skuId}-available-.*\\.csv$`));
    const exported = readFileSync(await download.path(), 'utf8');
    for (const k of keys) expect(exported).toContain(k.secret);

    // 批次: the batch, imported, with its counts; voided as a whole, the stock is back where it was
    await page.getByTestId('tab-batches').click();
    const batchRow = page.getByTestId('batch-table').locator('tbody tr', { hasText: `keys-${RUN}.csv` });
    await expect(batchRow).toContainText('已导入');
    await expect(batchRow).toContainText(skuName);
    await batchRow.getByRole('button', { name: '整批作废' }).click();
    await page.getByTestId('void-batch-modal-reason').fill('e2e cleanup');
    await page.getByTestId('void-batch-modal-confirm').click();
    await expect(page.getByText('批次已作废，共 5 条卡密')).toBeVisible();
    await expect(batchRow).toContainText('已作废');
    await expect.poll(() => statistic(page, `sku-available-${skuId}`)).toBe(before);
    await expect.poll(() => statistic(page, `sku-voided-${skuId}`)).toBeGreaterThanOrEqual(5);
  });
});
