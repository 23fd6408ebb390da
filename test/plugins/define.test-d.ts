import { Type } from '@sinclair/typebox';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type ActionInputOf,
  type ActionOutputOf,
  type ConfigOf,
  type CredentialsOf,
  defineIntegration,
  type IntegrationPlugin,
  type TriggerPayloadOf,
} from '../../src/index.js';

const Config = Type.Object({ tenantId: Type.String(), sandbox: Type.Optional(Type.Boolean()) });
const Credentials = Type.Object({ apiKey: Type.String({ writeOnly: true }) });
const Input = Type.Object({ amount: Type.Integer(), currency: Type.String() });
const Output = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
});
const Payload = Type.Object({ id: Type.String(), amount: Type.Number() });

const base = defineIntegration({
  id: 'typed',
  name: 'Typed',
  version: '1.0.0',
  authType: 'apikey',
  configSchema: Config,
  credentialSchema: Credentials,
  async testConnection(credentials, config, tools) {
    expectTypeOf(credentials).toEqualTypeOf<{ apiKey: string }>();
    expectTypeOf(config).toEqualTypeOf<{ tenantId: string; sandbox?: boolean }>();
    expectTypeOf(tools.fetch).toEqualTypeOf<typeof fetch>();
  },
});

const plugin = base
  .action('charge', {
    name: 'Charge',
    inputSchema: Input,
    outputSchema: Output,
    async handler(input, ctx) {
      expectTypeOf(input).toEqualTypeOf<{ amount: number; currency: string }>();
      expectTypeOf(ctx.config).toEqualTypeOf<{ tenantId: string; sandbox?: boolean }>();
      expectTypeOf(ctx.getCredentials()).resolves.toEqualTypeOf<{ apiKey: string }>();
      return { id: 'ch_1', status: 'ok' as const };
    },
  })
  .action('ping', {
    name: 'Ping',
    inputSchema: Type.Object({}),
    async handler() {
      return 42;
    },
  })
  .trigger('charge.succeeded', {
    name: 'Charge succeeded',
    payloadSchema: Payload,
    configSchema: Type.Object({ minAmount: Type.Number() }),
    factory(config) {
      expectTypeOf(config).toEqualTypeOf<{ minAmount: number }>();
      return (event) => {
        expectTypeOf(event.payload).toEqualTypeOf<{ id: string; amount: number }>();
        return event.payload.amount >= config.minAmount;
      };
    },
  });

describe('defineIntegration types', () => {
  it('is an IntegrationPlugin', () => {
    expectTypeOf(plugin).toExtend<IntegrationPlugin>();
  });

  it('records config, credentials, action and trigger types', () => {
    expectTypeOf<ConfigOf<typeof plugin>>().toEqualTypeOf<{
      tenantId: string;
      sandbox?: boolean;
    }>();
    expectTypeOf<CredentialsOf<typeof plugin>>().toEqualTypeOf<{ apiKey: string }>();
    expectTypeOf<ActionInputOf<typeof plugin, 'charge'>>().toEqualTypeOf<{
      amount: number;
      currency: string;
    }>();
    expectTypeOf<ActionOutputOf<typeof plugin, 'charge'>>().toEqualTypeOf<{
      id: string;
      status: 'ok' | 'failed';
    }>();
    expectTypeOf<ActionOutputOf<typeof plugin, 'ping'>>().toEqualTypeOf<unknown>();
    expectTypeOf<TriggerPayloadOf<typeof plugin, 'charge.succeeded'>>().toEqualTypeOf<{
      id: string;
      amount: number;
    }>();
  });

  it('rejects a handler whose return does not match outputSchema', () => {
    base.action('bad', {
      name: 'Bad',
      inputSchema: Input,
      outputSchema: Output,
      // @ts-expect-error status must be 'ok' | 'failed', and id a string
      async handler(input) {
        return { id: input.amount, status: 'done' };
      },
    });
  });

  it('rejects reading a field the input schema does not have', () => {
    base.action('bad-input', {
      name: 'Bad input',
      inputSchema: Input,
      async handler(input) {
        // @ts-expect-error `customer` is not in the input schema
        return input.customer;
      },
    });
  });

  it('types config as any object when no schema is given', () => {
    defineIntegration({
      id: 'loose',
      name: 'Loose',
      version: '1.0.0',
      authType: 'none',
      async testConnection(credentials, config) {
        expectTypeOf(config).toEqualTypeOf<Record<string, unknown>>();
        expectTypeOf(credentials).toEqualTypeOf<Record<string, unknown>>();
      },
    });
  });
});
