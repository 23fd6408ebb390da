import { describe, expect, it } from 'vitest';
import { importsOf, readSources } from './source-graph.js';

/**
 * The layer order of docs/architecture.md: a module may import only from its own layer
 * or a lower one, and the import graph (type-only imports included) has no cycle.
 */
const layers: readonly (readonly string[])[] = [
  ['internal', 'errors'],
  ['schema'],
  ['storage'],
  ['registry'],
  ['plugins', 'credentials'],
  ['config'],
  ['rules'],
  ['plugboard', 'index', 'manifest', 'migrations', 'oauth2', 'cli', 'testing', 'queue'],
];

/** The part a file belongs to: its first folder under `src/`, or its name for a top-level file. */
function partOf(path: string): string {
  const first = path.split('/')[0] ?? path;
  return first.replace(/\.ts$/, '');
}

function layerOf(path: string): number {
  const part = partOf(path);
  const layer = layers.findIndex((names) => names.includes(part));
  if (layer < 0)
    throw new Error(`src/${path}: part '${part}' has no layer in test/architecture/layers.test.ts`);
  return layer;
}

function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (seen === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

describe('the import graph of src/', () => {
  const sources = readSources();
  const graph = new Map(sources.map((file) => [file.path, importsOf(file)] as const));

  it('every part has a layer', () => {
    for (const file of sources) expect(() => layerOf(file.path)).not.toThrow();
  });

  it('imports only point down the layer order (or stay in their layer)', () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        if (layerOf(to) > layerOf(from)) upward.push(`${from} → ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('finds a cycle and an upward import when there is one (self-check)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts']],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'a.ts']]);
    expect(layerOf('rules/engine.ts')).toBeGreaterThan(layerOf('config/manager.ts'));
  });
});
