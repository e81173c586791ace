import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(frontend, '..');
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        ok(port);
      });
    });
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const timer = setTimeout(() => {
      ok(false);
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      ok(true);
    });
  });
}

/** Starts `kameng run` on a free port with a fresh var dir; returns the teardown. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const spaDir = join(frontend, 'dist');
  if (!existsSync(join(spaDir, 'index.html'))) {
    throw new Error(`no built SPA in ${spaDir}: run \`npm run build\` first`);
  }
  const kameng = process.env.KAMENG_BIN ?? join(repo, '.venv', 'bin', 'kameng');
  if (!existsSync(kameng)) throw new Error(`${kameng} not found: install the backend first`);

  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const varDir = mkdtempSync(join(tmpdir(), 'kameng-e2e-'));
  mkdirSync(join(frontend, 'test-results'), { recursive: true });
  const logPath = join(frontend, 'test-results', 'kameng.log');
  const log = createWriteStream(logPath);

  const child = spawn(kameng, ['run', '--port', String(port)], {
    cwd: repo,
    env: { ...process.env, KAMENG_VAR_DIR: varDir, KAMENG_SPA_DIR: spaDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so a last-resort kill reaches its children too
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await exited(child, STOP_TIMEOUT_MS))) {
        console.error(`kameng did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; killing its process group`);
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
        await exited(child, 10_000);
      }
    }
    log.end();
    rmSync(varDir, { recursive: true, force: true });
  };

  const started = Date.now();
  let ready = false;
  while (Date.now() - started < READY_TIMEOUT_MS) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${baseURL}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) {
        ready = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }

  if (!ready) {
    const exitCode = child.exitCode;
    await stop();
    const tail = readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n');
    throw new Error(
      `kameng did not become ready on ${baseURL}/readyz within ${READY_TIMEOUT_MS / 1000} s` +
        (exitCode !== null ? ` (it exited with ${exitCode})` : '') +
        `; last lines of ${logPath}:\n${tail}`,
    );
  }

  process.env.KAMENG_E2E_URL = baseURL;
  // the admin's TOTP secret, written by the first spec that enrolls it (see support.ts)
  process.env.KAMENG_E2E_TOTP_FILE = join(varDir, 'e2e-admin-totp.json');
  return stop;
}
