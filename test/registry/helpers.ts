import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type IntegrationDefinitionInput,
  MemoryStorage,
  type StorageAdapter,
} from '../../src/index.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';

/** A storage factory that can also reopen the same store. */
export interface StorageKind {
  readonly name: string;
  create(): Promise<{
    storage: StorageAdapter;
    reopen(): Promise<StorageAdapter>;
    cleanup(): Promise<void>;
  }>;
}

/** Both shipped adapters, for tests that must hold on each. */
export const storageKinds: readonly StorageKind[] = [
  {
    name: 'MemoryStorage',
    async create() {
      const storage = new MemoryStorage();
      return { storage, reopen: async () => storage, cleanup: async () => storage.close() };
    },
  },
  {
    name: 'JsonFileStorage',
    async create() {
      const dir = await mkdtemp(join(tmpdir(), 'plugboard-registry-'));
      let current: StorageAdapter = await JsonFileStorage.open({ dir, durability: 'batched' });
      return {
        storage: current,
        async reopen() {
          await current.close();
          current = await JsonFileStorage.open({ dir, durability: 'batched' });
          return current;
        },
        async cleanup() {
          await current.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

/** A small, valid Stripe-like definition; override fields per test. */
export function stripeDefinition(
  overrides: Partial<IntegrationDefinitionInput> = {},
): IntegrationDefinitionInput {
  return {
    id: 'stripe',
    name: 'Stripe',
    description: 'Payments: charges, refunds and invoices',
    version: '1.0.0',
    authType: 'apikey',
    tags: ['payments', 'billing'],
    credentialSchema: {
      type: 'object',
      required: ['apiKey'],
      properties: { apiKey: { type: 'string', writeOnly: true, minLength: 8 } },
      additionalProperties: false,
    },
    configSchema: {
      type: 'object',
      properties: {
        accountName: { type: 'string' },
        currency: { type: 'string', enum: ['usd', 'eur'] },
      },
    },
    triggers: [
      {
        type: 'charge.succeeded',
        name: 'Charge succeeded',
        payloadSchema: {
          type: 'object',
          required: ['amount'],
          properties: { amount: { type: 'integer' }, currency: { type: 'string' } },
        },
        configSchema: { type: 'object', properties: { minAmount: { type: 'integer' } } },
      },
      { type: 'invoice.paid', name: 'Invoice paid' },
    ],
    actions: [
      {
        type: 'create_refund',
        name: 'Create refund',
        inputSchema: {
          type: 'object',
          required: ['charge'],
          properties: { charge: { type: 'string' }, amount: { type: ['number', 'string'] } },
        },
        outputSchema: { type: 'object', properties: { id: { type: 'string' } } },
      },
    ],
    ...overrides,
  };
}

/** A rejected promise's error (code, issues and all); fails the test when it resolves. */
export async function caught(
  p: Promise<unknown>,
): Promise<Error & { code?: string; issues?: { path: string; message: string }[] }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}
