import { defineConfig } from '@playwright/test';

/**
 * Browser tests against a REAL kameng (`kameng run`: embedded PostgreSQL + Redis, API, worker,
 * and this SPA from frontend/dist), driven by Debian's chromium — no downloaded browsers.
 * e2e/global-setup.ts starts and stops the server; run `npm run build` first (`npm run e2e`
 * builds when dist/ is missing).
 */
export default defineConfig({
  testDir: './e2e',
  outputDir: 'test-results/artifacts',
  globalSetup: './e2e/global-setup.ts',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    screenshot: 'only-on-failure',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
