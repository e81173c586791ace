// Fails when src/client/ is not what `npm run generate` would write from ../openapi/openapi.json.
// Generates into a temporary folder and compares file by file; does not use git.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, 'src', 'client');
const fresh = mkdtempSync(join(tmpdir(), 'kameng-client-'));

function listFiles(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(listFiles(path));
    else out.push(path);
  }
  return out;
}

try {
  const bin = join(root, 'node_modules', '@hey-api', 'openapi-ts', 'bin', 'run.js');
  const run = spawnSync(process.execPath, [bin], {
    cwd: root,
    env: { ...process.env, OPENAPI_TS_OUTPUT: fresh },
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    console.error('check:client: openapi-ts failed (see above).');
    process.exit(2);
  }

  const want = new Map(listFiles(fresh).map((p) => [relative(fresh, p), readFileSync(p, 'utf8')]));
  const have = new Map(listFiles(committed).map((p) => [relative(committed, p), readFileSync(p, 'utf8')]));
  const problems = [];
  for (const [name, text] of want) {
    if (!have.has(name)) problems.push(`missing  src/client/${name}`);
    else if (have.get(name) !== text) problems.push(`changed  src/client/${name}`);
  }
  for (const name of have.keys()) {
    if (!want.has(name)) problems.push(`extra    src/client/${name}`);
  }

  if (problems.length > 0) {
    console.error('check:client: the generated API client in frontend/src/client is stale');
    console.error('compared with ../openapi/openapi.json:');
    for (const line of problems) console.error(`  ${line}`);
    console.error('fix: run `npm run generate` in frontend/ (after `make openapi` if the API changed)');
    console.error('and commit the result.');
    process.exit(1);
  }
  console.log(`check:client: src/client is up to date with ../openapi/openapi.json (${want.size} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
