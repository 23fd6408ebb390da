import { describe, expect, it } from 'vitest';
import { functionsOf, moduleLevelLets, readSources } from './source-graph.js';

/** Size limits of docs/architecture.md: small files and functions, facades that delegate. */
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 60;
const FACADE_LIMITS: Readonly<Record<string, number>> = {
  'rules/engine.ts': 400,
  'config/manager.ts': 450,
};

describe('the size of src/', () => {
  const sources = readSources();

  it(`no file is over ${MAX_FILE_LINES} lines, and the facades stay under their limits`, () => {
    const over = sources
      .filter((f) => f.lines > (FACADE_LIMITS[f.path] ?? MAX_FILE_LINES))
      .map((f) => `${f.path}: ${f.lines} lines`);
    expect(over).toEqual([]);
  });

  it(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
    const over = sources.flatMap((f) =>
      functionsOf(f)
        .filter((fn) => fn.lines > MAX_FUNCTION_LINES)
        .map((fn) => `${f.path}:${fn.line} ${fn.name}: ${fn.lines} lines`),
    );
    expect(over).toEqual([]);
  });

  it('rules/ and config/ keep no state at module level (no top-level let or var)', () => {
    const lets = sources
      .filter((f) => f.path.startsWith('rules/') || f.path.startsWith('config/'))
      .flatMap((f) => moduleLevelLets(f).map((name) => `${f.path}: ${name}`));
    expect(lets).toEqual([]);
  });
});
