import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const examples = join(repo, 'examples', 'integrations');

function io(cwd: string, options: { tty?: boolean; env?: Record<string, string> } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string) => out.push(s), isTTY: options.tty ?? false },
      stderr: { write: (s: string) => err.push(s), isTTY: options.tty ?? false },
      cwd,
      env: options.env ?? {},
    },
  };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'plugboard-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('plugboard validate', () => {
  it('passes on the three example integrations', async () => {
    const t = io(repo);
    const code = await runCli(
      [
        'validate',
        'examples/integrations/stripe',
        'examples/integrations/slack/index.ts',
        'examples/integrations/xero/index.ts',
      ],
      t.io,
    );
    expect(t.out.join('')).toBe(
      [
        '✓ stripe@1.0.0 (examples/integrations/stripe, manifest) 3 events, 1 action',
        '✓ slack@1.0.0 (examples/integrations/slack/index.ts, module) 1 event, 1 action',
        '✓ xero@1.0.0 (examples/integrations/xero/index.ts, module) 1 event, 1 action',
        '',
      ].join('\n'),
    );
    expect(code).toBe(0);
  });

  it('accepts a manifest.json path', async () => {
    const t = io(examples);
    await expect(runCli(['validate', 'stripe/manifest.json'], t.io)).resolves.toBe(0);
  });

  it('fails on a broken copy of the stripe package, naming every problem with its path', async () => {
    const dir = join(tmp, 'stripe-broken');
    await cp(join(examples, 'stripe'), dir, { recursive: true });
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.version = '1.0';
    manifest.events[2].schemaPath = '../../secrets/invoice.paid.json';
    manifest.actions[0].outputSchemaPath = '/etc/passwd';
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    await writeFile(
      join(dir, 'schemas', 'events', 'charge.refunded.json'),
      '{\n  "type": "object",\n  "properties": {\n    "id": { "type": "string" }\n  \n',
    );
    const t = io(tmp);
    const code = await runCli(['validate', 'stripe-broken'], t.io);
    expect(t.out.join('')).toBe(
      [
        '✗ stripe (stripe-broken) 4 problems',
        '  version: must be a semantic version such as 1.0.0',
        "  events[1].schemaPath: schemas/events/charge.refunded.json: invalid JSON at line 6, column 1 (position 74): expected ',' or '}', found end of file",
        "  events[2].schemaPath: '../../secrets/invoice.paid.json' leaves the package directory; files must be inside it",
        "  actions[0].outputSchemaPath: '/etc/passwd' is an absolute path; use a path relative to the package directory",
        '',
      ].join('\n'),
    );
    expect(code).toBe(1);
  });

  it('reports schema and runtime problems found while loading', async () => {
    const dir = join(tmp, 'stripe-runtime');
    await cp(join(examples, 'stripe'), dir, { recursive: true });
    await writeFile(
      join(dir, 'schemas', 'actions', 'create_refund.input.json'),
      '{ "type": "objekt" }',
    );
    const t = io(tmp);
    expect(await runCli(['validate', 'stripe-runtime'], t.io)).toBe(1);
    const text = t.out.join('');
    expect(text).toMatch(
      /^✗ stripe \(stripe-runtime\) 1 problem\n {2}actions\[0\]\.inputSchema(\.type)?: .*/,
    );

    const dir2 = join(tmp, 'stripe-typo');
    await cp(join(examples, 'stripe'), dir2, { recursive: true });
    const js = await readFile(join(dir2, 'index.js'), 'utf8');
    await writeFile(join(dir2, 'index.js'), js.replace('create_refund: {', 'create_refnd: {'));
    const t2 = io(tmp);
    expect(await runCli(['validate', 'stripe-typo'], t2.io)).toBe(1);
    expect(t2.out.join('')).toContain(
      `main.actions["create_refnd"]: manifest.json has no action 'create_refnd' (it has: 'create_refund')`,
    );
  });

  it('fails on a module that exports no plugin, and on a missing path', async () => {
    await writeFile(join(tmp, 'nothing.mjs'), 'export const x = 1;\n');
    const t = io(tmp);
    expect(await runCli(['validate', 'nothing.mjs', 'missing-dir'], t.io)).toBe(1);
    expect(t.out.join('')).toBe(
      [
        `✗ (nothing.mjs) 1 problem`,
        `  ${join(tmp, 'nothing.mjs')} exports no plugin (an object with getDefinition()); export one as default`,
        '✗ (missing-dir) 1 problem',
        '  no such file or directory',
        '',
      ].join('\n'),
    );
  });

  it('reports a plugin whose getDefinition() throws a revoked proxy', async () => {
    await writeFile(
      join(tmp, 'hostile.mjs'),
      [
        'const { proxy, revoke } = Proxy.revocable({}, {});',
        'revoke();',
        'export default { getDefinition() { throw proxy; } };',
        '',
      ].join('\n'),
    );
    const t = io(tmp);
    expect(await runCli(['validate', 'hostile.mjs'], t.io)).toBe(1);
    expect(t.out.join('')).toContain('✗ (hostile.mjs) 1 problem');
    expect(t.out.join('')).toContain('getDefinition() threw:');
  });

  it('prints JSON reports with --json', async () => {
    const t = io(examples);
    expect(await runCli(['validate', '--json', 'stripe'], t.io)).toBe(0);
    expect(JSON.parse(t.out.join(''))).toEqual([
      {
        target: 'stripe',
        kind: 'manifest',
        id: 'stripe',
        version: '1.0.0',
        counts: { triggers: 3, conditions: 0, actions: 1 },
        problems: [],
      },
    ]);
  });

  it('colours output only on a TTY without NO_COLOR', async () => {
    const tty = io(examples, { tty: true });
    await runCli(['validate', 'stripe'], tty.io);
    expect(tty.out.join('')).toContain('\u001b[32m✓\u001b[39m');
    const noColor = io(examples, { tty: true, env: { NO_COLOR: '1' } });
    await runCli(['validate', 'stripe'], noColor.io);
    expect(noColor.out.join('')).not.toContain('\u001b[');
    const pipe = io(examples);
    await runCli(['validate', 'stripe'], pipe.io);
    expect(pipe.out.join('')).not.toContain('\u001b[');
  });

  it('exits 2 on usage errors', async () => {
    const t = io(tmp);
    expect(await runCli(['validate'], t.io)).toBe(2);
    expect(await runCli(['frobnicate'], t.io)).toBe(2);
    expect(await runCli(['validate', '--strict', 'x'], t.io)).toBe(2);
    expect(t.err.join('')).toContain('Usage: plugboard <command>');
    const help = io(tmp);
    expect(await runCli(['--help'], help.io)).toBe(0);
    expect(help.out.join('')).toContain('init-integration <name>');
  });
});

describe('plugboard init-integration', () => {
  it('scaffolds a manifest package that validates', async () => {
    const t = io(tmp);
    expect(await runCli(['init-integration', 'acme-crm'], t.io)).toBe(0);
    expect(t.out.join('')).toContain('✓ created acme-crm/ with manifest.json');
    const manifest = JSON.parse(await readFile(join(tmp, 'acme-crm', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ type: 'acme-crm', name: 'Acme Crm', version: '0.1.0' });
    expect(manifest.events).toHaveLength(1);
    expect(manifest.actions).toHaveLength(1);
    const v = io(tmp);
    expect(await runCli(['validate', 'acme-crm'], v.io)).toBe(0);
    expect(v.out.join('')).toBe('✓ acme-crm@0.1.0 (acme-crm, manifest) 1 event, 1 action\n');
  });

  it('honours --dir and refuses a non-empty directory or an invalid name', async () => {
    const t = io(tmp);
    expect(await runCli(['init-integration', 'shop', '--dir', 'pkgs/shop'], t.io)).toBe(0);
    expect(await runCli(['init-integration', 'shop', '--dir', 'pkgs/shop'], t.io)).toBe(1);
    expect(t.err.join('')).toContain('already exists and is not empty');
    expect(await runCli(['init-integration', 'Shop!'], t.io)).toBe(1);
    expect(t.err.join('')).toContain("'Shop!' is not a valid integration id");
  });
});

describe('the bin entry', () => {
  const run = promisify(execFile);
  const tsx = join(repo, 'node_modules', '.bin', 'tsx');
  const cli = join(repo, 'src', 'cli', 'index.ts');

  it('exits 0 on a valid package and 1 on a broken one', async () => {
    const ok = await run(tsx, [cli, 'validate', join(examples, 'stripe')], { cwd: repo });
    expect(ok.stdout).toContain('✓ stripe@1.0.0');
    const dir = join(tmp, 'bin-broken');
    await cp(join(examples, 'stripe'), dir, { recursive: true });
    await writeFile(join(dir, 'manifest.json'), '{ "type": "stripe", ');
    const failed = await run(tsx, [cli, 'validate', dir], { cwd: tmp }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stdout: string }).stdout).toContain(
      '  manifest.json: invalid JSON at line 1, column 21',
    );
  });
});
