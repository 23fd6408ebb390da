/**
 * The packed package works for a consumer: `npm pack`, install the tarball into a fresh
 * project, and import every public entry point from plain node.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function newestMtime(path: string): Promise<number> {
  const s = await stat(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const entry of await readdir(path)) {
    newest = Math.max(newest, await newestMtime(join(path, entry)));
  }
  return newest;
}

/** Runs `npx tsup` when dist/ is missing or older than the sources. */
async function ensureBuilt(): Promise<void> {
  const outputs = [
    'dist/index.js',
    'dist/manifest.js',
    'dist/migrations.js',
    'dist/oauth2.js',
    'dist/storage/json-file.js',
    'dist/queue/index.js',
    'dist/queue/bullmq.js',
    'dist/testing/index.js',
  ];
  let oldestOutput = Number.POSITIVE_INFINITY;
  try {
    for (const f of outputs)
      oldestOutput = Math.min(oldestOutput, (await stat(join(root, f))).mtimeMs);
  } catch {
    oldestOutput = 0;
  }
  let newestInput = 0;
  for (const f of [
    'src',
    'package.json',
    'tsup.config.ts',
    'tsconfig.json',
    'tsconfig.build.json',
  ]) {
    newestInput = Math.max(newestInput, await newestMtime(join(root, f)));
  }
  if (oldestOutput < newestInput) await run('npx', ['tsup'], { cwd: root });
}

/** Bare specifiers imported by `file` and the chunks it imports, transitively. */
async function bareImports(
  file: string,
  seen = new Set<string>(),
  includeDynamic = true,
): Promise<Set<string>> {
  const out = new Set<string>();
  if (seen.has(file)) return out;
  seen.add(file);
  const source = await readFile(file, 'utf8');
  for (const m of source.matchAll(
    /(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
  )) {
    if (m[2] !== undefined && !includeDynamic) continue;
    const spec = (m[1] ?? m[2] ?? m[3])!;
    if (spec.startsWith('.')) {
      for (const s of await bareImports(resolve(dirname(file), spec), seen, includeDynamic))
        out.add(s);
    } else {
      out.add(spec);
    }
  }
  return out;
}

const consumerScript = `
import { deepStrictEqual } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage, isPlugboardError } from 'plugboard';
import { MANIFEST_SCHEMA_ID } from 'plugboard/manifest';
import { runMigrations } from 'plugboard/migrations';
import { createPkcePair } from 'plugboard/oauth2';
import { JsonFileStorage } from 'plugboard/storage/json-file';
import { StorageQueue } from 'plugboard/queue';
import { runStorageAdapterSuite } from 'plugboard/testing';

const memory = new MemoryStorage();
await memory.collection('notes').insert({ id: 'n1', text: 'hello' });
const memoryDoc = await memory.collection('notes').get('n1');

const dir = await mkdtemp(join(tmpdir(), 'plugboard-consumer-'));
const file = await JsonFileStorage.open({ dir, durability: 'batched' });
await file.collection('notes').insert({ id: 'n1', text: 'on disk' });
await file.close();
const reopened = await JsonFileStorage.open({ dir });
const fileDoc = await reopened.collection('notes').get('n1');
let locked;
try {
  await JsonFileStorage.open({ dir });
} catch (e) {
  locked = isPlugboardError(e, 'STORAGE_LOCKED');
}
await reopened.close();
await rm(dir, { recursive: true, force: true });

// Run the published conformance suite against MemoryStorage with a tiny runner.
const tests = [];
const expect = (actual) => ({
  toBe(expected) {
    if (!Object.is(actual, expected)) throw new Error(\`expected \${String(actual)} to be \${String(expected)}\`);
  },
  toEqual(expected) {
    deepStrictEqual(actual, expected);
  },
});
runStorageAdapterSuite({ describe: (_name, fn) => fn(), it: (name, fn) => tests.push({ name, fn }), expect }, () => new MemoryStorage());
const failed = [];
for (const t of tests) {
  try {
    await t.fn();
  } catch (e) {
    failed.push(\`\${t.name}: \${e.message}\`);
  }
}
const queue = new StorageQueue(memory, { pollIntervalMs: 20 });
const handled = await new Promise((resolve) => {
  queue.consume(async (job) => resolve(job.executionId), { concurrency: 1 });
  void queue.enqueue({ id: 'exe_1:1', executionId: 'exe_1' });
});
await queue.close();
const migrated = await runMigrations(memory, [{ id: 'm1', up: async () => {} }]);
const subpaths = [handled, migrated.applied, createPkcePair().codeChallengeMethod, MANIFEST_SCHEMA_ID.endsWith('.json')];
console.log(JSON.stringify({ memoryDoc, fileDoc, locked, tests: tests.length, failed, subpaths }));
`;

describe('packed package', () => {
  it('installs from the tarball and every entry point imports from plain node', async () => {
    await ensureBuilt();
    const work = await mkdtemp(join(tmpdir(), 'plugboard-pack-'));
    dirs.push(work);
    const { stdout: packed } = await run(
      'npm',
      ['pack', '--json', '--pack-destination', work, '--ignore-scripts'],
      { cwd: root },
    );
    const [info] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
    const paths = info!.files.map((f) => f.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/storage/json-file.d.ts');
    expect(paths.some((p) => p.startsWith('src/') || p.startsWith('test/'))).toBe(false);

    const consumer = join(work, 'consumer');
    await run('mkdir', ['-p', consumer]);
    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const tarball = join(work, info!.filename);
    const flags = ['--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts'];
    try {
      await run('npm', ['install', '--offline', ...flags, tarball], { cwd: consumer });
    } catch {
      // Something was not in the local npm cache: let npm fetch what is missing.
      await run('npm', ['install', '--prefer-offline', ...flags, tarball], { cwd: consumer });
    }
    await writeFile(join(consumer, 'check.mjs'), consumerScript);
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: consumer });
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result.memoryDoc).toEqual({ id: 'n1', text: 'hello', revision: 1 });
    expect(result.fileDoc).toEqual({ id: 'n1', text: 'on disk', revision: 1 });
    expect(result.locked).toBe(true);
    expect(result.tests).toBeGreaterThan(20);
    expect(result.failed).toEqual([]);
    expect(result.subpaths).toEqual(['exe_1', ['m1'], 'S256', true]);

    // The JSON-file adapter (and its node:fs use) stays on its own subpath: no module the
    // root entry loads contains it.
    const installed = join(consumer, 'node_modules/plugboard/dist');
    const rootFiles = new Set<string>();
    await bareImports(join(installed, 'index.js'), rootFiles);
    for (const f of rootFiles) {
      expect(await readFile(f, 'utf8'), f).not.toContain('plugboard-json-file');
    }
    // Importing the root entry loads no file system module (plugin packages load it lazily).
    const rootStatic = await bareImports(join(installed, 'index.js'), new Set(), false);
    expect([...rootStatic].filter((s) => /^(node:)?fs(\/promises)?$/.test(s))).toEqual([]);
    // BullMQ (an optional peer dependency) is loaded by plugboard/queue/bullmq only.
    const redisDeps = (specs: Set<string>): string[] =>
      [...specs].filter((s) => /^(bullmq|ioredis)$/.test(s));
    for (const entry of ['index.js', 'queue/index.js', 'testing/index.js']) {
      expect(redisDeps(await bareImports(join(installed, entry))), entry).toEqual([]);
    }
    expect(redisDeps(await bareImports(join(installed, 'queue/bullmq.js')))).toEqual(['bullmq']);
    const fileImports = await bareImports(join(installed, 'storage/json-file.js'));
    expect([...fileImports].some((s) => /^(node:)?fs\/promises$/.test(s))).toBe(true);
  }, 240_000);
});
