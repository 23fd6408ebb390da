import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.ts'))
  .sort();

describe('examples run with one command (npx tsx examples/<file>)', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(0);
  });
  for (const file of examples) {
    it(`examples/${file} exits 0`, async () => {
      const { stdout } = await run(tsx, [join('examples', file)], {
        cwd: root,
        timeout: 120_000,
        env: { ...process.env, NO_COLOR: '1', PLUGBOARD_EXAMPLE_TEST: '1' },
      });
      expect(stdout.length).toBeGreaterThan(0);
    }, 130_000);
  }
});
