/**
 * Every guide in docs/*.md carries the front matter TypeDoc uses to title and group it
 * on the docs site (see CONTRIBUTING.md); without it a guide lands under "Documents"
 * with its file name as title.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
const guides = readdirSync(docs)
  .filter((f) => f.endsWith('.md'))
  .sort();

function frontMatter(text: string): Record<string, string> | undefined {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text);
  if (!m) return undefined;
  const fields: Record<string, string> = {};
  for (const line of (m[1] ?? '').split(/\r?\n/)) {
    const kv = /^([A-Za-z]+):\s*(.*)$/.exec(line);
    if (kv) fields[kv[1] ?? ''] = (kv[2] ?? '').trim();
  }
  return fields;
}

describe('guides in docs/', () => {
  it('has guides', () => {
    expect(guides.length).toBeGreaterThan(0);
  });
  for (const file of guides) {
    it(`docs/${file} has front matter with a title and group: Guides`, () => {
      const fields = frontMatter(readFileSync(join(docs, file), 'utf8'));
      expect(fields, `docs/${file} must start with ---\\ntitle: …\\ngroup: Guides\\n---`).toEqual(
        expect.objectContaining({ title: expect.stringMatching(/\S/), group: 'Guides' }),
      );
    });
  }
});

describe('docs/errors.md', () => {
  const source = readFileSync(join(docs, '..', 'src', 'errors.ts'), 'utf8');
  const guide = readFileSync(join(docs, 'errors.md'), 'utf8');
  const codes = [
    ...(/export type PlugboardErrorCode =([^;]*);/.exec(source)?.[1] ?? '').matchAll(
      /'([A-Z0-9_]+)'/g,
    ),
  ].map((m) => m[1]);
  const classes = [...source.matchAll(/^export class (\w+)/gm)].map((m) => m[1]);

  it('lists every error code and class of src/errors.ts', () => {
    expect(codes.length).toBeGreaterThan(5);
    expect(classes.length).toBeGreaterThan(5);
    const missing = [...codes, ...classes].filter((name) => !guide.includes(`\`${name}\``));
    expect(missing, 'add a row to the table in docs/errors.md').toEqual([]);
  });
});
