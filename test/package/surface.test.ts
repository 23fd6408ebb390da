/**
 * The public surface of every entry point, snapshotted in `surface.json`: the runtime
 * exports (`Object.keys` of the module) and the type-only exports (read with the
 * TypeScript compiler from the source entry, so no build is needed). Any change to what
 * the package exports shows up as a diff of that file; update it with
 * `npx vitest run test/package/surface.test.ts -u` and say why in the CHANGELOG.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where each public import path comes from in `src/`. */
const entries: Readonly<Record<string, string>> = {
  plugboard: 'src/index.ts',
  'plugboard/manifest': 'src/manifest.ts',
  'plugboard/migrations': 'src/migrations.ts',
  'plugboard/oauth2': 'src/oauth2.ts',
  'plugboard/queue': 'src/queue/index.ts',
  'plugboard/queue/bullmq': 'src/queue/bullmq.ts',
  'plugboard/storage/json-file': 'src/storage/json-file/index.ts',
  'plugboard/storage/postgres': 'src/storage/postgres/index.ts',
  'plugboard/testing': 'src/testing/index.ts',
};

/** The most names the root entry may export (runtime and type-only together). */
const ROOT_LIMIT = 160;

interface Surface {
  readonly count: number;
  readonly runtime: readonly string[];
  readonly types: readonly string[];
}

/** Every exported name of each entry, with whether it has a runtime value. */
function exportedNames(files: readonly string[]): Map<string, Map<string, boolean>> {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram(
    files.map((f) => join(root, f)),
    { ...options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const out = new Map<string, Map<string, boolean>>();
  for (const file of files) {
    const source = program.getSourceFile(join(root, file));
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${file}: not a module`);
    const names = new Map<string, boolean>();
    for (const symbol of checker.getExportsOfModule(module)) {
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      // `export type { X }` of a class or TypeBox schema exports the type only.
      const typeOnly = symbol.declarations?.some((d) => ts.isTypeOnlyExportDeclaration(d)) ?? false;
      names.set(symbol.name, !typeOnly && (target.flags & ts.SymbolFlags.Value) !== 0);
    }
    out.set(file, names);
  }
  return out;
}

describe('the public surface', async () => {
  const declared = exportedNames(Object.values(entries));
  const surfaces: Record<string, Surface> = {};
  for (const [path, file] of Object.entries(entries)) {
    const module = (await import(join(root, file))) as Record<string, unknown>;
    const runtime = Object.keys(module).sort();
    const names = declared.get(file)!;
    const types = [...names.keys()].filter((n) => !runtime.includes(n)).sort();
    surfaces[path] = { count: runtime.length + types.length, runtime, types };
  }

  it('every package.json export has an entry here', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    const paths = Object.keys(pkg.exports)
      .filter((p) => p !== './package.json')
      .map((p) => (p === '.' ? 'plugboard' : `plugboard/${p.slice(2)}`));
    expect(paths.sort()).toEqual(Object.keys(entries).sort());
  });

  it('the compiler and the runtime agree on which names are values', () => {
    for (const [path, file] of Object.entries(entries)) {
      const values = [...declared.get(file)!].filter(([, v]) => v).map(([n]) => n);
      expect(values.sort(), path).toEqual(surfaces[path]!.runtime);
    }
  });

  it(`the root entry exports at most ${ROOT_LIMIT} names`, () => {
    expect(surfaces['plugboard']!.count).toBeLessThanOrEqual(ROOT_LIMIT);
  });

  it('matches surface.json', async () => {
    await expect(`${JSON.stringify(surfaces, null, 2)}\n`).toMatchFileSnapshot('./surface.json');
  });
});
