import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IntegrationRegistry, MemoryStorage } from '../../src/index.js';
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
});
