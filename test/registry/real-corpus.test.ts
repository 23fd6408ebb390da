import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigManager,
  IntegrationRegistry,
  isPlugboardError,
  Keyring,
  MemoryStorage,
  RuleEngine,
} from '../../src/index.js';
import {
  exampleTriggerType,
  githubWebhooksDefinition,
  loadWebhookExamples,
  loadWebhookSchemas,
} from '../fixtures/github-webhooks.js';

/**
 * GitHub's own example payloads that fail GitHub's own published schema (the examples are
 * older than the schema). Recorded as data: a change here means our validation changed.
 */
const knownFailures = JSON.parse(
  readFileSync(new URL('../fixtures/github-webhooks-known-failures.json', import.meta.url), 'utf8'),
) as string[];

describe('real corpus: GitHub webhook schemas as one integration', () => {
  it('registers 224 event types sharing 344 definitions, stored once', async () => {
    const storage = new MemoryStorage();
    const registry = new IntegrationRegistry({ storage });
    const def = await registry.register(githubWebhooksDefinition(), { publish: true });
    expect(def.triggers.length).toBeGreaterThanOrEqual(200);
    expect(Object.keys(def.definitions ?? {}).length).toBe(344);
    const stored = await storage.collection('definitions').get('github@1.0.0');
    const schemaSize = JSON.stringify(loadWebhookSchemas().definitions).length;
    expect(JSON.stringify(stored).length).toBeLessThan(schemaSize * 1.1);
    expect(registry.compiledValidatorCount).toBe(0);
  });

  it('validates every example payload the package ships; failures of its own schema are recorded data', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const def = await registry.register(githubWebhooksDefinition(), { publish: true });
    const types = new Set(def.triggers.map((t) => t.type));
    const failures: string[] = [];
    const examples = loadWebhookExamples();
    const perType = new Map<string, number>();
    for (const { event, payload } of examples) {
      const type = exampleTriggerType(event, payload, types);
      expect(types.has(type), `no trigger for example of '${type}'`).toBe(true);
      const n = perType.get(type) ?? 0;
      perType.set(type, n + 1);
      const result = await registry.validateEventPayload('github', type, payload);
      if (!result.isValid) {
        failures.push(`${type}#${n}`);
        // Readable errors: capped, each with a path and a pointer, never the payload echoed.
        expect(result.errors!.length).toBeLessThanOrEqual(21);
        for (const e of result.errors!) {
          expect(e.path.startsWith('payload')).toBe(true);
          expect(e.message.length).toBeLessThan(300);
        }
      }
    }
    expect(examples.length).toBeGreaterThan(300);
    expect(failures.sort()).toEqual([...knownFailures].sort());
  });

  it('dispatches every valid example through a rule; invalid ones are refused with paths', async () => {
    const storage = new MemoryStorage();
    const registry = new IntegrationRegistry({ storage });
    const def = await registry.register(githubWebhooksDefinition(), { publish: true });
    const recorded: { event: string; id: unknown }[] = [];
    await registry.register(
      {
        id: 'recorder',
        name: 'Recorder',
        version: '1.0.0',
        authType: 'none',
        actions: [
          {
            type: 'record',
            name: 'Record',
            inputSchema: {
              type: 'object',
              required: ['event'],
              properties: { event: { type: 'string' } },
            },
            handler: async (input, ctx) => {
              recorded.push({ event: (input as { event: string }).event, id: ctx.event.id });
              return { ok: true };
            },
          },
        ],
      },
      { publish: true },
    );
    const keyring = new Keyring({ keys: { k: randomBytes(32) }, primary: 'k' });
    const config = new ConfigManager({ storage, registry, keyring });
    const rules = new RuleEngine({ storage, registry, config });
    await config.createInstance({ integrationId: 'recorder', name: 'Recorder' });
    for (const t of def.triggers) {
      await rules.createRule({
        name: `Record ${t.type}`,
        integrationId: 'github',
        triggerType: t.type,
        actions: [{ type: 'record', integrationId: 'recorder', config: { event: t.type } }],
      });
    }
    const types = new Set(def.triggers.map((t) => t.type));
    const known = new Set(knownFailures);
    const perType = new Map<string, number>();
    let dispatched = 0;
    for (const [i, { event, payload }] of loadWebhookExamples().entries()) {
      const type = exampleTriggerType(event, payload, types);
      const n = perType.get(type) ?? 0;
      perType.set(type, n + 1);
      const run = rules.dispatch({ integrationId: 'github', type, payload, id: `example-${i}` });
      if (known.has(`${type}#${n}`)) {
        const err = await run.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isPlugboardError(err, 'VALIDATION_FAILED')).toBe(true);
        continue;
      }
      const executions = await run;
      expect(executions).toHaveLength(1);
      expect(executions[0]).toMatchObject({ conditionsMet: true, successful: true });
      dispatched++;
    }
    expect(dispatched).toBe(loadWebhookExamples().length - knownFailures.length);
    expect(recorded).toHaveLength(dispatched);
    await rules.close();
    await config.close();
  });
});
