import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('package-lock.json', () => {
  it('records every platform package, so `npm ci` accepts it (node scripts/lock-platform-packages.mjs)', async () => {
    await expect(
      promisify(execFile)(process.execPath, ['scripts/lock-platform-packages.mjs', '--check'], {
        cwd: root,
      }),
    ).resolves.toBeDefined();
  });
});
