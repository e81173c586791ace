import { expect, test } from '@playwright/test';
import { join } from 'node:path';

import { loginAsAdmin, screenshotDir } from './support';

const RUN = Date.now().toString(36);
const TOP = `E2E 游戏 ${RUN}`;
const SUB = `E2E 点券 ${RUN}`;
const PRODUCT = `E2E 王者点券 ${RUN}`;

test.describe.serial('catalog: categories, the product wizard and bulk listing', () => {
  test('an admin builds a category tree, creates a product through the wizard and lists it', async ({ page }) => {
    await loginAsAdmin(page);
    const menu = page.getByTestId('module-menu');
    await menu.getByText('商品与库存', { exact: true }).click();
    await menu.getByText('分类', { exact: true }).click();
    await expect(page).toHaveURL(/\/catalog\/categories$/);

    // a top-level category and a sub-category under it
    await page.getByTestId('create-category').click();
    await page.getByTestId('category-name').fill(TOP);
    await page.getByTestId('category-icon').fill('🎮');
    await page.getByTestId('category-save').click();
    const table = page.getByTestId('category-table');
    const topRow = table.locator('tr', { hasText: TOP });
    await expect(topRow).toContainText('顶级');
    await topRow.getByRole('button', { name: '添加子分类' }).click();
    await expect(page.getByRole('dialog')).toContainText(`在「${TOP}」下新建子分类`);
    await page.getByTestId('category-name').fill(SUB);
    await page.getByTestId('category-save').click();
    await expect(table.locator('tr', { hasText: SUB })).toContainText('子分类');

    // a category with a sub-category cannot be deleted: the backend's reason is shown
    await topRow.getByRole('button', { name: '删除' }).click();
    await page.getByTestId('delete-category-confirm').click();
    await expect(page.getByTestId('category-delete-error')).toContainText('不能删除');
    await page.waitForTimeout(400); // let the confirm bubble fade out
    await page.screenshot({ path: join(screenshotDir, 'catalog-categories.png') });

    // 商品 › 新建商品: the wizard
    await menu.getByText('商品', { exact: true }).click();
    await expect(page).toHaveURL(/\/catalog\/products$/);
    await page.getByTestId('create-product').click();
    await expect(page).toHaveURL(/\/catalog\/products\/new$/);

    // step 1: basics
    await page.getByTestId('product-category').click();
    await page.locator('.ant-select-tree').getByTitle(SUB, { exact: true }).click();
    await page.getByTestId('product-name').fill(PRODUCT);
    await page.getByTestId('product-summary').fill('秒到账，24 小时自动发货');
    await page.getByTestId('product-tags').locator('input').fill('热卖');
    await page.keyboard.press('Enter');
    await page.getByTestId('wizard-next').click();

    // step 2: rules, with one buyer input field
    await page.getByTestId('product-max-qty').fill('50');
    await page.getByTestId('buyer-field-add').click();
    await page.getByTestId('buyer-field-key-0').fill('game_id');
    await page.getByTestId('buyer-field-label-0').fill('游戏账号');
    await page.getByTestId('wizard-next').click();

    // step 3: one SKU 10 % below its market price: the live hint says so
    await page.getByTestId('sku-name-0').fill('100 点券');
    await page.getByTestId('sku-face-0').fill('100');
    await page.getByTestId('sku-cost-0').fill('8');
    await page.getByTestId('sku-market-0').fill('10');
    await page.getByTestId('sku-base-0').fill('9');
    await expect(page.getByTestId('sku-hints-0')).toContainText('该价格低于市场均价10%');
    await page.screenshot({ path: join(screenshotDir, 'catalog-editor.png'), fullPage: true });

    // step 4: review and save; the market hint comes back as a warning of the save
    await page.getByTestId('wizard-next').click();
    await expect(page.getByTestId('product-review')).toContainText(PRODUCT);
    await page.getByTestId('product-save').click();
    await expect(page.getByTestId('save-warnings')).toContainText('该价格低于市场均价10%');
    await page.getByTestId('back-to-list').click();

    // the list shows it unlisted; bulk-list it
    await expect(page).toHaveURL(/\/catalog\/products$/);
    await page.getByTestId('filter-q').fill(RUN);
    await page.getByTestId('filter-q').press('Enter');
    const row = page.getByTestId('product-table').locator('tbody tr', { hasText: PRODUCT });
    await expect(row).toContainText('已下架');
    await expect(row).toContainText(`${TOP} / ${SUB}`);
    await expect(row).toContainText('¥9.00');
    await row.getByRole('checkbox').check();
    await expect(page.getByText('已选 1 个商品')).toBeVisible();
    await page.getByTestId('bulk-list').click();
    await expect(row).toContainText('已上架');
    await expect(row).toContainText('在售');
    await expect(page.getByText('已上架 1 个商品')).toBeVisible();
    await expect(page.getByText('已选 0 个商品')).toBeVisible();
    await page.mouse.move(0, 0);
    await page.waitForTimeout(400); // let the checkbox animation finish
    await page.screenshot({ path: join(screenshotDir, 'catalog-list.png') });

    // the editor opens the saved product with its SKU and prices
    await row.getByRole('link', { name: PRODUCT }).click();
    await expect(page).toHaveURL(/\/catalog\/products\/\d+$/);
    await expect(page.getByTestId('product-name')).toHaveValue(PRODUCT);
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-next').click();
    await expect(page.getByTestId('sku-base-0')).toHaveValue('9.00');
    await expect(page.getByTestId('sku-market-0')).toHaveValue('10.00');
    await expect(page.getByTestId('sku-hints-0')).toContainText('该价格低于市场均价10%');
  });
});
