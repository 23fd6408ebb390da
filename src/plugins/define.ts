/**
 * `defineIntegration()`: build a plugin from TypeBox schemas, with handlers typed from
 * those schemas and no hand-written duplicate types.
 *
 * @module
 */
import type { Static, TRecord, TSchema, TString, TUnknown } from '@sinclair/typebox';
import { ValidationError } from '../errors.js';
import type {
  ActionContext,
  IntegrationDefinitionInput,
  IntegrationEvent,
  RegisteredAction,
  RegisteredCondition,
  RegisteredTrigger,
} from '../schema/runtime.js';
import type { TypedRule, TypedRuleInput } from './define-rule.js';
import type {
  ActionSpec,
  ConditionSpec,
  DefinedTypes,
  IntegrationSpec,
  PluginTools,
  TriggerSpec,
  TypedActionContext,
} from './define-spec.js';
import { silentLogger } from './logger.js';
import type {
  IntegrationPlugin,
  OAuth2Tokens,
  PayloadValidationResult,
  PluginContext,
} from './types.js';

export type * from './define-rule.js';
export type * from './define-spec.js';

interface Components {
  readonly actions: ReadonlyMap<string, ActionSpec<TSchema, TSchema, unknown, unknown>>;
  readonly triggers: ReadonlyMap<string, TriggerSpec<TSchema, TSchema>>;
  readonly conditions: ReadonlyMap<string, ConditionSpec<TSchema>>;
}

/** TypeBox schemas carry symbol keys; the registry stores plain JSON. */
function toJsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

function withKey<V>(
  map: ReadonlyMap<string, V>,
  kind: string,
  key: string,
  value: V,
): Map<string, V> {
  if (map.has(key)) {
    throw new ValidationError(
      [{ path: `${kind}.${key}`, message: `${kind.slice(0, -1)} '${key}' is defined twice` }],
      'integration',
    );
  }
  return new Map(map).set(key, value);
}

/**
 * A plugin built by {@link defineIntegration}. Add components with {@link action},
 * {@link trigger} and {@link condition}; each call returns a new plugin that also
 * records the component's static types.
 */
export class DefinedIntegration<
  TConfig extends TSchema,
  TCredentials extends TSchema,
  TTypes extends DefinedTypes,
> implements IntegrationPlugin
{
  /** Static types only (for {@link ActionInputOf} and friends); `undefined` at run time. */
  declare readonly '~types': TTypes;
  readonly #spec: IntegrationSpec<TConfig, TCredentials>;
  readonly #components: Components;
  #context: PluginContext | undefined;

  /** Checks credentials against the service (see {@link IntegrationPlugin.testConnection}); present when the spec has one. */
  declare readonly testConnection?: (
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ) => Promise<void>;
  /** Refreshes OAuth2 tokens (see {@link IntegrationPlugin.refreshAccessToken}); present when the spec has one. */
  declare readonly refreshAccessToken?: (
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ) => Promise<OAuth2Tokens>;
  /** Validates an event payload (see {@link IntegrationPlugin.validateEventPayload}); present when the spec has one. */
  declare readonly validateEventPayload?: (
    eventType: string,
    payload: unknown,
  ) => Promise<PayloadValidationResult>;

  /** @internal use {@link defineIntegration} */
  constructor(spec: IntegrationSpec<TConfig, TCredentials>, components?: Components) {
    this.#spec = spec;
    this.#components = components ?? {
      actions: new Map(),
      triggers: new Map(),
      conditions: new Map(),
    };
    // Only what the spec provides, so callers fall back to generic behaviour otherwise.
    const { testConnection, refreshAccessToken, validateEventPayload } = spec;
    if (testConnection) {
      Object.defineProperty(this, 'testConnection', {
        value: (credentials: Record<string, unknown>, config: Record<string, unknown>) =>
          testConnection.call(
            spec,
            credentials as Static<TCredentials>,
            config as Static<TConfig>,
            this.#tools(),
          ),
      });
    }
    if (refreshAccessToken) {
      Object.defineProperty(this, 'refreshAccessToken', {
        value: (credentials: Record<string, unknown>, config: Record<string, unknown>) =>
          refreshAccessToken.call(
            spec,
            credentials as Static<TCredentials>,
            config as Static<TConfig>,
            this.#tools(),
          ),
      });
    }
    if (validateEventPayload) {
      Object.defineProperty(this, 'validateEventPayload', {
        value: (eventType: string, payload: unknown) =>
          validateEventPayload.call(spec, eventType, payload),
      });
    }
  }

  /** The integration id. */
  get id(): string {
    return this.#spec.id;
  }

  /** The definition version. */
  get version(): string {
    return this.#spec.version;
  }

  /**
   * Adds an action; `input` is typed from `inputSchema` and the handler's return type is
   * checked against `outputSchema`.
   *
   * @throws {ValidationError} when the type is already defined
   */
  action<K extends string, TInput extends TSchema, TOutput extends TSchema = TUnknown>(
    type: K,
    spec: ActionSpec<TInput, TOutput, Static<TConfig>, Static<TCredentials>>,
  ): DefinedIntegration<
    TConfig,
    TCredentials,
    TTypes & {
      readonly actions: {
        readonly [P in K]: { readonly input: Static<TInput>; readonly output: Static<TOutput> };
      };
    }
  > {
    return new DefinedIntegration(this.#spec, {
      ...this.#components,
      actions: withKey(
        this.#components.actions,
        'actions',
        type,
        spec as unknown as ActionSpec<TSchema, TSchema, unknown, unknown>,
      ),
    });
  }

  /**
   * Adds a trigger; `event.payload` in `factory` is typed from `payloadSchema` and its
   * `config` from `configSchema`.
   *
   * @throws {ValidationError} when the type is already defined
   */
  trigger<
    K extends string,
    TPayload extends TSchema = TUnknown,
    TTriggerConfig extends TSchema = TRecord<TString, TUnknown>,
  >(
    type: K,
    spec: TriggerSpec<TPayload, TTriggerConfig>,
  ): DefinedIntegration<
    TConfig,
    TCredentials,
    TTypes & {
      readonly triggers: {
        readonly [P in K]: {
          readonly payload: Static<TPayload>;
          readonly config: Static<TTriggerConfig>;
        };
      };
    }
  > {
    return new DefinedIntegration(this.#spec, {
      ...this.#components,
      triggers: withKey(
        this.#components.triggers,
        'triggers',
        type,
        spec as unknown as TriggerSpec<TSchema, TSchema>,
      ),
    });
  }

  /**
   * Adds an integration-specific condition type; `config` in `factory` is typed from
   * `configSchema`.
   *
   * @throws {ValidationError} when the type is already defined
   */
  condition<K extends string, TConditionConfig extends TSchema>(
    type: K,
    spec: ConditionSpec<TConditionConfig>,
  ): DefinedIntegration<
    TConfig,
    TCredentials,
    TTypes & {
      readonly conditions: {
        readonly [P in K]: { readonly config: Static<TConditionConfig> };
      };
    }
  > {
    return new DefinedIntegration(this.#spec, {
      ...this.#components,
      conditions: withKey(
        this.#components.conditions,
        'conditions',
        type,
        spec as unknown as ConditionSpec<TSchema>,
      ),
    });
  }

  /**
   * A rule of this integration on `triggerType`, checked at compile time against the
   * integration's schemas: `match` paths must exist in the event (`payload.` paths from the
   * trigger's `payloadSchema`), each operator must suit the field's type and each value
   * must fit; `triggerConfig` follows the trigger's `configSchema`; actions of this
   * integration must name one of its action types, with `config` typed from its
   * `inputSchema` (values may be `{{ path }}` templates). Actions of other integrations
   * name their `integrationId` and are not typed. Returns the plain rule input for
   * `RuleEngine.createRule`, which validates it as usual.
   *
   * @throws {ValidationError} when `triggerType` is not a trigger of this integration, or
   * `rule` is not an object
   * @example
   * ```ts
   * const rule = chat.rule('message.received', {
   *   name: 'Escalate urgent messages',
   *   conditions: [
   *     { type: 'match', config: { path: 'payload.text', operator: 'contains', value: 'urgent' } },
   *   ],
   *   actions: [{ type: 'send_message', config: { channel: 'ops', text: '{{ payload.text }}' } }],
   * });
   * await engine.createRule(rule);
   * ```
   */
  rule<K extends keyof TTypes['triggers'] & string>(
    triggerType: K,
    rule: TypedRule<TTypes, K>,
  ): TypedRuleInput<TTypes, K> {
    if (!this.#components.triggers.has(triggerType)) {
      const known = [...this.#components.triggers.keys()].map((t) => `'${t}'`).join(', ');
      throw new ValidationError(
        [
          {
            path: 'triggerType',
            message: `'${String(triggerType)}' is not a trigger of integration '${this.id}' (known: ${known || 'none'})`,
          },
        ],
        'rule',
      );
    }
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
      throw new ValidationError([{ path: 'rule', message: 'must be an object' }], 'rule');
    }
    return { ...rule, integrationId: this.id, triggerType };
  }

  /** {@inheritDoc IntegrationPlugin.getDefinition} */
  getDefinition(): IntegrationDefinitionInput {
    const s = this.#spec;
    const actions: RegisteredAction[] = [...this.#components.actions].map(([type, a]) => ({
      type,
      name: a.name,
      ...(a.description === undefined ? {} : { description: a.description }),
      inputSchema: toJsonSchema(a.inputSchema),
      ...(a.outputSchema === undefined ? {} : { outputSchema: toJsonSchema(a.outputSchema) }),
      handler: (input: unknown, ctx: ActionContext) => a.handler(input, this.#actionContext(ctx)),
    }));
    const triggers: RegisteredTrigger[] = [...this.#components.triggers].map(([type, t]) => {
      const factory = t.factory;
      return {
        type,
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        ...(t.payloadSchema === undefined ? {} : { payloadSchema: toJsonSchema(t.payloadSchema) }),
        ...(t.configSchema === undefined ? {} : { configSchema: toJsonSchema(t.configSchema) }),
        ...(t.eventId === undefined ? {} : { eventId: t.eventId }),
        ...(factory === undefined
          ? {}
          : {
              factory: (config: unknown) =>
                factory.call(t, config) as (e: IntegrationEvent) => boolean,
            }),
      };
    });
    const conditions: RegisteredCondition[] = [...this.#components.conditions].map(([type, c]) => ({
      type,
      name: c.name,
      ...(c.description === undefined ? {} : { description: c.description }),
      configSchema: toJsonSchema(c.configSchema),
      factory: (config: unknown) => c.factory(config),
    }));
    return {
      id: s.id,
      name: s.name,
      version: s.version,
      authType: s.authType,
      ...(s.description === undefined ? {} : { description: s.description }),
      ...(s.oauth2Config === undefined ? {} : { oauth2Config: structuredClone(s.oauth2Config) }),
      ...(s.configSchema === undefined ? {} : { configSchema: toJsonSchema(s.configSchema) }),
      ...(s.credentialSchema === undefined
        ? {}
        : { credentialSchema: toJsonSchema(s.credentialSchema) }),
      ...(s.tags === undefined ? {} : { tags: [...s.tags] }),
      ...(s.homepage === undefined ? {} : { homepage: s.homepage }),
      ...(s.icon === undefined ? {} : { icon: s.icon }),
      ...(s.definitions === undefined ? {} : { definitions: structuredClone(s.definitions) }),
      ...(s.$defs === undefined ? {} : { $defs: structuredClone(s.$defs) }),
      triggers,
      conditions,
      actions,
    };
  }

  /** {@inheritDoc IntegrationPlugin.initialize} */
  async initialize(ctx: PluginContext): Promise<void> {
    this.#context = ctx;
    await this.#spec.initialize?.(ctx);
  }

  /** {@inheritDoc IntegrationPlugin.dispose} */
  async dispose(): Promise<void> {
    await this.#spec.dispose?.();
    this.#context = undefined;
  }

  #tools(): PluginTools {
    return {
      fetch: this.#context?.fetch ?? globalThis.fetch,
      log: this.#context?.log ?? silentLogger,
    };
  }

  #actionContext(ctx: ActionContext): TypedActionContext<unknown, unknown> {
    const tools = this.#tools();
    return {
      event: ctx.event,
      instance: ctx.instance,
      config: ctx.config,
      signal: ctx.signal,
      log: ctx.log,
      idempotencyKey: ctx.idempotencyKey,
      getCredentials: () => ctx.getCredentials(),
      fetch: tools.fetch,
    };
  }
}

/**
 * Builds an {@link IntegrationPlugin} from TypeBox schemas. `config` and `credentials`
 * are typed from `configSchema` and `credentialSchema` in `testConnection` and in every
 * action handler; add actions, triggers and conditions with the returned plugin's
 * `.action()`, `.trigger()` and `.condition()`, whose handlers are typed from their own
 * schemas.
 *
 * Optional plugin functions (`refreshAccessToken`, `validateEventPayload`) exist on the
 * result only when the spec provides them, so the loader and the ConfigManager fall back
 * to their generic behaviour otherwise.
 *
 * @example
 * ```ts
 * import { Type } from '@sinclair/typebox';
 *
 * export const echo = defineIntegration({
 *   id: 'echo',
 *   name: 'Echo',
 *   version: '1.0.0',
 *   authType: 'none',
 *   configSchema: Type.Object({ prefix: Type.String() }),
 * }).action('say', {
 *   name: 'Say',
 *   inputSchema: Type.Object({ text: Type.String() }),
 *   outputSchema: Type.Object({ said: Type.String() }),
 *   async handler(input, ctx) {
 *     return { said: ctx.config.prefix + input.text };
 *   },
 * });
 * ```
 */
export function defineIntegration<
  TConfig extends TSchema = TRecord<TString, TUnknown>,
  TCredentials extends TSchema = TRecord<TString, TUnknown>,
>(
  spec: IntegrationSpec<TConfig, TCredentials>,
): DefinedIntegration<
  TConfig,
  TCredentials,
  {
    readonly config: Static<TConfig>;
    readonly credentials: Static<TCredentials>;
    readonly actions: Record<never, never>;
    readonly triggers: Record<never, never>;
  }
> {
  const plugin = new DefinedIntegration(spec);
  return plugin;
}
