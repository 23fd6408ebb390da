/**
 * Real-world schema benchmarks on GitHub's webhook schemas (@octokit/webhooks-schemas):
 * registering 224 event types that share 344 definitions, the first validation of each
 * not-yet-compiled event type, and validation of real ~8 KB example payloads.
 */
import { IntegrationRegistry, MemoryStorage } from '../src/index.js';
import {
  exampleTriggerType,
  githubWebhooksDefinition,
  loadWebhookExamples,
  loadWebhookSchemas,
} from '../test/fixtures/github-webhooks.js';
import { fmt, runBench } from './harness.js';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs the schema benchmarks. */
export async function run(): Promise<void> {
  const doc = loadWebhookSchemas();
  const prettySize = JSON.stringify(doc, null, 2).length;
  const input = githubWebhooksDefinition();

  const registerTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.list();
    const t = performance.now();
    await registry.register(input, { publish: true });
    registerTimes.push(performance.now() - t);
  }
  registerTimes.sort((a, b) => a - b);

  const storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  const def = await registry.register(input, { publish: true });
  const storedSize = JSON.stringify(
    await storage.collection('definitions').get('github@1.0.0'),
  ).length;
  const types = new Set(def.triggers.map((t) => t.type));
  const examples = loadWebhookExamples().map(({ event, payload }) => ({
    type: exampleTriggerType(event, payload, types),
    payload,
    size: JSON.stringify(payload).length,
  }));

  // First validation of each event type (compiles its validator), in declaration order.
  const firstTimes: number[] = [];
  const firstPayload = new Map(examples.map((e) => [e.type, e.payload]));
  for (const t of def.triggers) {
    const payload = firstPayload.get(t.type) ?? {};
    const start = performance.now();
    await registry.validateEventPayload('github', t.type, payload);
    firstTimes.push(performance.now() - start);
  }
  const firstSorted = [...firstTimes].sort((a, b) => a - b);

  console.log(
    '\n## Real-world schemas (GitHub webhooks: 224 event types, 344 shared definitions)\n',
  );
  console.log(
    `schema document: ${fmt(prettySize / 1024)} KB pretty-printed; stored definition: ${fmt(storedSize / 1024)} KB (stored once)`,
  );
  console.log(
    `register (meta-schema and $ref checks, shared block parsed; no validator compiled): best ${fmt(registerTimes[0]!, 1)} ms, median ${fmt(percentile(registerTimes, 50), 1)} ms`,
  );
  console.log(
    `first validation per event type (includes compiling it): p50 ${fmt(percentile(firstSorted, 50), 1)} ms, p95 ${fmt(percentile(firstSorted, 95), 1)} ms, max ${fmt(firstSorted.at(-1)!, 1)} ms (the first one: ${fmt(firstTimes[0]!, 1)} ms)`,
  );

  // Valid example payloads of 7-9 KB, validated again and again (compiled by now).
  const valid: { type: string; payload: unknown }[] = [];
  for (const e of examples) {
    if (e.size < 7000 || e.size > 9500) continue;
    if ((await registry.validateEventPayload('github', e.type, e.payload)).isValid) valid.push(e);
  }
  if (valid.length === 0) throw new Error('no valid ~8 KB example payloads found');
  let i = 0;
  await runBench(`validate real ~8 KB payloads (${valid.length} distinct examples)`, [
    {
      name: 'validateEventPayload (8 KB, compiled)',
      fn: () => {
        const e = valid[i++ % valid.length]!;
        return registry.validateEventPayload('github', e.type, e.payload);
      },
    },
  ]);
}
