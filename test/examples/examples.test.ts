import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  redisAvailable,
  redisSkipNotice,
  redisUrl,
  requireRedis,
} from '../rules/queue/fixtures/redis-env.js';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.ts'))
  .sort();

/** Examples that need a Redis server (skipped without one, except under `CI=true`). */
const needRedis = new Set(['08-bullmq.ts']);
const redis = await redisAvailable();
if (!redis && !requireRedis) console.warn(`examples/08-bullmq.ts: ${redisSkipNotice}`);

/** What an example must print, beyond something. */
const prints: Record<string, RegExp> = {
  '08-bullmq.ts': /6 of 6 succeeded, run by worker-/,
};

describe('examples run with one command (npx tsx examples/<file>)', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(0);
  });
  for (const file of examples) {
    const skip = needRedis.has(file) && !redis && !requireRedis;
    it.skipIf(skip)(
      `examples/${file} exits 0`,
      async () => {
        if (needRedis.has(file) && !redis) throw new Error(`CI=true but ${redisSkipNotice}`);
        const { stdout } = await run(tsx, [join('examples', file)], {
          cwd: root,
          timeout: 120_000,
          env: { ...process.env, NO_COLOR: '1', PLUGBOARD_EXAMPLE_TEST: '1', REDIS_URL: redisUrl },
        });
        expect(stdout.length).toBeGreaterThan(0);
        const expected = prints[file];
        if (expected) expect(stdout).toMatch(expected);
      },
      130_000,
    );
  }
});
