/**
 * Every ```ts / ```typescript block in README.md and docs/*.md type-checks.
 *
 * Each block becomes a module of its own (top-level await allowed) under a git-ignored
 * `.tmp/snippets/run-*` directory, and all of them are compiled in one `tsc` run with the
 * project's tsconfig, whose `paths` map `plugboard`, `plugboard/storage/json-file`, ... to
 * `src/`. A block opts out with the info string ```` ```ts ignore ```` (see CONTRIBUTING.md).
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractCodeBlocks, isCheckedTypeScript } from './markdown.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Snippet {
  /** Markdown file, relative to the repository root. */
  readonly file: string;
  /** 1-based number among the file's TypeScript blocks (ignored ones count too). */
  readonly block: number;
  /** Line of the opening fence in the Markdown file. */
  readonly line: number;
  readonly code: string;
  /** File name of the generated module, e.g. `docs-registry-2.ts`. */
  readonly module: string;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].filter((f) => existsSync(join(root, f)));
}

function collectSnippets(): { checked: Snippet[]; ignored: Snippet[] } {
  const checked: Snippet[] = [];
  const ignored: Snippet[] = [];
  for (const file of markdownFiles()) {
    const blocks = extractCodeBlocks(readFileSync(join(root, file), 'utf8')).filter(
      (b) => b.lang === 'ts' || b.lang === 'typescript',
    );
    blocks.forEach((b, i) => {
      const block = i + 1;
      const module = `${file.replace(/\.md$/, '').replace(/[^A-Za-z0-9_-]+/g, '-')}-${block}.ts`;
      const snippet = { file, block, line: b.line, code: b.code, module };
      (isCheckedTypeScript(b) ? checked : ignored).push(snippet);
    });
  }
  return { checked, ignored };
}

interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly text: string;
}

/** Parses `tsc --pretty false` output: `path(line,col): error TSxxxx: message` plus indented continuation lines. */
function parseDiagnostics(output: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+: .*)$/.exec(raw);
    if (m) {
      out.push({ file: m[1] ?? '', line: Number(m[2]), column: Number(m[3]), text: m[4] ?? '' });
    } else if (/^\s+\S/.test(raw) && out.length > 0) {
      const last = out.pop()!;
      out.push({ ...last, text: `${last.text}\n    ${raw.trim()}` });
    } else if (raw.trim()) {
      out.push({ file: '', line: 0, column: 0, text: raw.trim() });
    }
  }
  return out;
}

function runTsc(project: string): Promise<string> {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsc, '-p', project, '--pretty', 'false'],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
      // tsc exits non-zero when it reports errors; the output is what matters.
      (_error, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
}

const { checked, ignored } = collectSnippets();

describe('code blocks in README.md and docs/*.md', () => {
  const byModule = new Map<string, Diagnostic[]>();
  let elsewhere: Diagnostic[] = [];
  let dir = '';

  beforeAll(async () => {
    const base = join(root, '.tmp', 'snippets');
    mkdirSync(base, { recursive: true });
    // One directory per run, so concurrent test runs never see each other's files.
    dir = mkdtempSync(join(base, 'run-'));
    for (const s of checked) {
      // `export {}` makes every block a module, so top-level await is allowed.
      writeFileSync(join(dir, s.module), `${s.code}\nexport {};\n`);
    }
    const extendsPath = relative(dir, join(root, 'tsconfig.json')).split('\\').join('/');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: extendsPath,
        compilerOptions: { noEmit: true, incremental: false },
        include: ['*.ts'],
      }),
    );
    const output = await runTsc(join(dir, 'tsconfig.json'));
    for (const d of parseDiagnostics(output)) {
      const abs = d.file ? join(root, d.file) : '';
      if (abs && dirname(abs) === dir) {
        const name = abs.slice(dir.length + 1);
        byModule.set(name, [...(byModule.get(name) ?? []), d]);
      } else {
        elsewhere.push(d);
      }
    }
    if (elsewhere.length > 0) {
      // Errors in src/ are the typecheck step's business; they only explain odd snippet errors.
      console.warn(
        `[snippets] tsc also reported ${elsewhere.length} error(s) outside the snippets, e.g.\n  ` +
          elsewhere
            .slice(0, 5)
            .map((d) => `${d.file}(${d.line},${d.column}): ${d.text}`)
            .join('\n  '),
      );
    }
    if (ignored.length > 0) {
      console.info(
        `[snippets] not compiled (\`ts ignore\`): ${ignored.map((s) => `${s.file} block ${s.block} (line ${s.line})`).join(', ')}`,
      );
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    elsewhere = [];
  });

  it('finds TypeScript blocks to check', () => {
    expect(checked.length).toBeGreaterThan(0);
  });

  for (const s of checked) {
    it(`${s.file} block ${s.block} (line ${s.line}) type-checks`, () => {
      const errors = byModule.get(s.module) ?? [];
      const report = errors
        .map((d) => `${s.file}:${s.line + d.line} (block ${s.block}, line ${d.line}): ${d.text}`)
        .join('\n');
      if (report) throw new Error(`${s.file} block ${s.block} does not type-check:\n${report}`);
    });
  }
});

describe('extractCodeBlocks', () => {
  it('reads language, flags and line, and keeps nested fences verbatim', () => {
    const md = [
      '# Title',
      '````md',
      '```ts ignore',
      'inner();',
      '```',
      '````',
      '',
      '```TypeScript',
      'const a = 1;',
      '```',
      '~~~sh',
      'npm test',
      '~~~',
    ].join('\n');
    const blocks = extractCodeBlocks(md);
    expect(blocks.map((b) => [b.lang, b.flags, b.line])).toEqual([
      ['md', [], 2],
      ['typescript', [], 8],
      ['sh', [], 11],
    ]);
    expect(blocks[0]?.code).toBe('```ts ignore\ninner();\n```');
    expect(blocks.filter(isCheckedTypeScript).map((b) => b.code)).toEqual(['const a = 1;']);
    expect(isCheckedTypeScript({ lang: 'ts', flags: ['ignore'], line: 1, code: '' })).toBe(false);
  });
});
