import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { extractCodeBlocks } from './markdown.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, '.tmp', 'readme-run');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('README code blocks run', async () => {
  const blocks = extractCodeBlocks(await readFile(join(root, 'README.md'), 'utf8')).filter(
    (b) => (b.lang === 'ts' || b.lang === 'typescript') && !b.flags.includes('ignore'),
  );

  it('has a quick start to run', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  for (const [i, block] of blocks.entries()) {
    it(`README.md block ${i + 1} (line ${block.line}) runs with tsx and exits 0`, async () => {
      await mkdir(dir, { recursive: true });
      // Inside the repository, so `plugboard` resolves to src/ through tsconfig paths.
      const file = join(dir, `block-${i + 1}.ts`);
      await writeFile(file, `${block.code}\nexport {};\n`);
      const { stdout } = await promisify(execFile)(tsx, [file], { cwd: root, timeout: 60_000 });
      expect(stdout.length).toBeGreaterThan(0);
    }, 70_000);
  }
});
