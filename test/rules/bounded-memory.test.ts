/**
 * Bounded by default: a process that dispatches events running actions, with default
 * options on MemoryStorage, keeps a flat heap. (Without audit retention every action
 * kept about 410 bytes, and such a process ran out of heap between 800,000 and
 * 1,000,000 dispatches.) The dispatches run in a child process started with
 * `--expose-gc`, so each sample is the heap after a full collection, and with a 256 MB
 * heap limit, so unbounded growth kills it well before the end.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const child = join(here, 'fixtures', 'dispatch-heap-child.ts');

const DISPATCHES = 1_000_000;
const SAMPLE_EVERY = 100_000;

interface Sample {
  readonly dispatched: number;
  readonly heapUsed: number;
  readonly ms: number;
}

function run(): Promise<{ code: number | null; samples: Sample[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--max-old-space-size=256',
        '--import',
        'tsx',
        child,
        String(DISPATCHES),
        String(SAMPLE_EVERY),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    p.on('error', reject);
    p.on('close', (code) => {
      const samples = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Sample);
      resolve({ code, samples, stderr });
    });
  });
}

describe('memory under default options', () => {
  it(`stays flat over ${DISPATCHES.toLocaleString('en')} dispatches with actions`, async () => {
    const { code, samples, stderr } = await run();
    const mb = (s: Sample) => `${s.dispatched}: ${(s.heapUsed / 2 ** 20).toFixed(1)} MB`;
    const trace = samples.map(mb).join(', ');
    expect(code, `child exited with ${code} after [${trace}]\n${stderr}`).toBe(0);
    expect(samples.map((s) => s.dispatched)).toEqual(
      Array.from({ length: DISPATCHES / SAMPLE_EVERY }, (_, i) => (i + 1) * SAMPLE_EVERY),
    );
    // The audit log and the execution history reach their limits within the first
    // 100,000 dispatches; after that the heap must not grow beyond noise.
    const first = samples[0]!.heapUsed;
    for (const s of samples.slice(1)) {
      expect(s.heapUsed, trace).toBeLessThanOrEqual(first * 1.25);
    }
  }, 600_000);
});
