/**
 * Save-time checks of rules against GitHub's webhook schemas (224 event types, 344 shared
 * definitions): one rule per event type with three `match` leaves and a template, all
 * paths taken from GitHub's example payloads. Reports the first check of each event type
 * (which builds its payload shape), the check alone once the schema has been used, and
 * `validateRule` end to end.
 */
import { randomBytes } from 'node:crypto';
import {
  ConfigManager,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  type Rule,
  RuleEngine,
} from '../src/index.js';
import { SchemaChecker } from '../src/rules/schema-check.js';
import {
  exampleTriggerType,
  githubWebhooksDefinition,
  loadWebhookExamples,
} from '../test/fixtures/github-webhooks.js';
import { fmt, runBench } from './harness.js';

/** Leaf paths of a payload (object properties, first array element), up to `depth`. */
function leafPaths(v: unknown, path: string, depth: number, out: [string, unknown][]): void {
  if (depth === 0 || v === null || typeof v !== 'object') {
    out.push([path, v]);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length > 0) leafPaths(v[0], `${path}[0]`, depth - 1, out);
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if (/^[^.[\]\s]+$/.test(k)) leafPaths(x, `${path}.${k}`, depth - 1, out);
  }
}

function leafOf(path: string, value: unknown): Record<string, unknown> {
  if (typeof value === 'number') return { path, operator: 'greaterThan', value: 0 };
  if (typeof value === 'string') return { path, operator: 'startsWith', value: 'a' };
  return { path, operator: 'exists' };
}

/** Runs the schema check benchmarks. */
export async function run(): Promise<void> {
  const storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  const def = await registry.register(githubWebhooksDefinition(), { publish: true });
  const types = new Set(def.triggers.map((t) => t.type));
  const rules: Rule[] = [];
  const now = new Date().toISOString();
  const seen = new Set<string>();
  for (const { event, payload } of loadWebhookExamples()) {
    const type = exampleTriggerType(event, payload, types);
    if (seen.has(type)) continue;
    seen.add(type);
    const paths: [string, unknown][] = [];
    leafPaths(payload, 'payload', 4, paths);
    const picks = [paths[0], paths[Math.floor(paths.length / 2)], paths.at(-1)].filter(
      (p): p is [string, unknown] => p !== undefined,
    );
    rules.push({
      id: `r_${rules.length}`,
      name: type,
      enabled: true,
      integrationId: 'github',
      triggerType: type,
      triggerConfig: {},
      conditions: [
        { id: 'c', type: 'match', config: { all: picks.map(([p, v]) => leafOf(p, v)) } },
      ],
      actions: [{ id: 'a', type: 'note', config: { text: `{{ ${picks[0]![0]} }}` } }],
      revision: 0,
      createdAt: now,
      updatedAt: now,
    } as Rule);
  }

  // First check of each event type: builds its payload shape from the schema.
  const checker = new SchemaChecker();
  const firstTimes: number[] = [];
  for (const rule of rules) {
    const issues: { path: string; message: string }[] = [];
    const t = performance.now();
    checker.check(rule, def, issues);
    firstTimes.push(performance.now() - t);
    if (issues.length > 0) throw new Error(`${rule.triggerType}: ${issues[0]!.message}`);
  }
  firstTimes.sort((a, b) => a - b);
  const pct = (p: number): number =>
    firstTimes[Math.min(firstTimes.length - 1, Math.floor((p / 100) * firstTimes.length))]!;

  console.log(`\n## Rules checked against GitHub webhook schemas (${rules.length} event types)\n`);
  console.log(
    `first check per event type (builds its payload shape): p50 ${fmt(pct(50), 3)} ms, p95 ${fmt(pct(95), 3)} ms, max ${fmt(firstTimes.at(-1)!, 3)} ms`,
  );

  const keyring = new Keyring({ keys: { k: randomBytes(32) }, primary: 'k' });
  const config = new ConfigManager({ storage, registry, keyring });
  await registry.register(
    {
      id: 'sink',
      name: 'Sink',
      version: '1.0.0',
      authType: 'none',
      actions: [
        {
          type: 'note',
          name: 'Note',
          inputSchema: { type: 'object', properties: { text: {} } },
          handler: async () => ({}),
        },
      ],
    },
    { publish: true },
  );
  await config.createInstance({ integrationId: 'sink', name: 'Sink' });
  const engine = new RuleEngine({ storage, registry, config });
  const inputs = rules.map((r) => ({
    name: r.name,
    integrationId: 'github',
    triggerType: r.triggerType,
    conditions: r.conditions.map((c) => ({ type: c.type, config: c.config })),
    actions: r.actions.map((a) => ({ ...a, integrationId: 'sink' })),
  }));
  for (const input of inputs) {
    const r = await engine.validateRule(input);
    if (!r.valid) throw new Error(`${input.triggerType}: ${r.errors[0]!.message}`);
  }
  let i = 0;
  let j = 0;
  await runBench('check one rule after its schema was first used', [
    {
      name: 'payload schema check of a rule (3 leaves, 1 template)',
      batch: 100,
      fn: () => {
        for (let k = 0; k < 100; k++) checker.check(rules[i++ % rules.length]!, def, []);
      },
    },
    {
      name: 'validateRule end to end (shape, registry, schema checks)',
      fn: () => engine.validateRule(inputs[j++ % inputs.length]!),
    },
  ]);
  await engine.close();
  await config.close();
}
