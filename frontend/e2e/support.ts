/**
 * Shared helpers for the browser tests: the server's address, a TOTP generator (RFC 6238 with
 * node:crypto: base32 secret, HMAC-SHA1, 30-second steps, 6 digits) and sign-in helpers.
 *
 * The demo admin and finance user hold sensitive permissions, so their first sign-in in a fresh
 * var dir goes through the forced 2FA enrollment; every later one asks for a code. The secret
 * read from the enrollment page is kept in a JSON file per user in the e2e temp dir (global setup
 * exports the admin's path as KAMENG_E2E_TOTP_FILE; the others sit next to it), so all spec
 * files share it. The server refuses a code whose 30-second step was already used, so the file
 * also records the last step used and a sign-in waits for the next window when it would repeat
 * it.
 */
import { expect, type Page } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const ADMIN_LOGIN = 'admin@demo.kameng.example';
export const FINANCE_LOGIN = 'finance@demo.kameng.example';
export const CUSTOMER_LOGIN = 'customer@demo.kameng.example';
export const DEMO_PASSWORD = 'Kameng-Demo-2026!';
export const STEP_SECONDS = 30;

export const screenshotDir = join(import.meta.dirname, '..', 'test-results');

export function baseURL(): string {
  const url = process.env.KAMENG_E2E_URL;
  if (!url) throw new Error('KAMENG_E2E_URL is not set: global setup did not run');
  return url;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(char)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return Buffer.from(bytes);
}

export function currentStep(now = Date.now()): number {
  return Math.floor(now / 1000 / STEP_SECONDS);
}

/** The 6-digit TOTP code of `secret` for time step `step`. */
export function totp(secret: string, step = currentStep()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary =
    (((mac[offset] ?? 0) & 0x7f) << 24) |
    ((mac[offset + 1] ?? 0) << 16) |
    ((mac[offset + 2] ?? 0) << 8) |
    (mac[offset + 3] ?? 0);
  return String(binary % 1_000_000).padStart(6, '0');
}

interface TotpState {
  secret: string;
  lastStep: number | null;
}

function stateFile(login: string): string {
  const path = process.env.KAMENG_E2E_TOTP_FILE;
  if (!path) throw new Error('KAMENG_E2E_TOTP_FILE is not set: global setup did not run');
  if (login === ADMIN_LOGIN) return path;
  return join(dirname(path), `e2e-${login.replace(/[^a-z0-9]+/gi, '-')}-totp.json`);
}

function readState(login: string): TotpState | null {
  const path = stateFile(login);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TotpState) : null;
}

function writeState(login: string, state: TotpState): void {
  writeFileSync(stateFile(login), JSON.stringify(state));
}

/** A step not used yet: the current one, or — when that was used — the next (waiting for it). */
async function freshStep(lastStep: number | null): Promise<number> {
  let step = currentStep();
  if (lastStep !== null && step <= lastStep) {
    const wait = (lastStep + 1) * STEP_SECONDS * 1000 - Date.now() + 300;
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    step = currentStep();
  }
  return step;
}

/** A fresh code for a staff member who enrolled in this run (the step is recorded as used). */
export async function staffCode(login: string): Promise<string> {
  const state = readState(login);
  if (!state) throw new Error(`${login} has not enrolled 2FA in this run yet`);
  const step = await freshStep(state.lastStep);
  writeState(login, { ...state, lastStep: step });
  return totp(state.secret, step);
}

/** A fresh code for the admin. */
export function adminCode(): Promise<string> {
  return staffCode(ADMIN_LOGIN);
}

export async function fillLogin(page: Page, login: string, password: string): Promise<void> {
  await page.goto(`${baseURL()}/login`);
  await page.getByTestId('login-account').fill(login);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

/**
 * Sign in as a demo staff member with sensitive permissions: on the first sign-in of a run
 * enroll 2FA (read the secret off the page, confirm a code, save the recovery codes), later enter
 * a fresh code. `name` is part of the name the header shows.
 */
export async function loginAsStaff(page: Page, login: string, name: string): Promise<void> {
  await fillLogin(page, login, DEMO_PASSWORD);
  const codeInput = page.getByTestId('login-code');
  const secretText = page.getByTestId('totp-secret');
  await expect(codeInput.or(secretText)).toBeVisible();

  if (await secretText.isVisible()) {
    await expect(page).toHaveURL(/\/setup-2fa$/);
    const secret = ((await secretText.textContent()) ?? '').trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const step = await freshStep(null);
    writeState(login, { secret, lastStep: step });
    await page.getByTestId('totp-code').fill(totp(secret, step));
    await page.getByTestId('enable-2fa-submit').click();
    const codes = page.getByTestId('recovery-codes');
    await expect(codes.locator('li')).toHaveCount(10);
    await expect(page.getByTestId('recovery-codes-done')).toBeDisabled();
    await page.getByTestId('recovery-codes-saved').click();
    await page.getByTestId('recovery-codes-done').click();
  } else {
    await codeInput.fill(await staffCode(login));
    await page.getByTestId('login-verify').click();
  }
  await expect(page.getByTestId('module-menu')).toBeVisible();
  await expect(page.getByTestId('user-menu')).toContainText(name);
}

export function loginAsAdmin(page: Page): Promise<void> {
  return loginAsStaff(page, ADMIN_LOGIN, 'Admin');
}

export async function logout(page: Page): Promise<void> {
  // the user menu opens with an animation: a click on 退出登录 that was lost on the way (seen
  // once in CI: the page stayed put) is tried again, the menu reopened if it closed
  await expect(async () => {
    if (/\/login$/.test(page.url())) return;
    if (!(await page.getByTestId('logout').isVisible())) await page.getByTestId('user-menu').click();
    await page.getByTestId('logout').click({ timeout: 3000 });
    await expect(page).toHaveURL(/\/login$/, { timeout: 5000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId('login-submit')).toBeVisible();
}
