/**
 * What an author writes for `defineIntegration()`: the specs of an integration and of its
 * actions, triggers and conditions (TypeBox schemas and functions typed from them), and
 * the helper types that read the static types back from a defined plugin.
 *
 * @module
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { AuthType, OAuth2Config } from '../schema/definition.js';
import type { ActionContext, ConditionContext, IntegrationEvent } from '../schema/runtime.js';
import type {
  OAuth2Tokens,
  PayloadValidationResult,
  PluginContext,
  PluginLogger,
} from './types.js';

/** Tools the loader provides to a plugin's own functions. */
export interface PluginTools {
  /** The host's `fetch` (a mock in tests); `globalThis.fetch` outside a loader. */
  readonly fetch: typeof fetch;
  /** The plugin's logger. */
  readonly log: PluginLogger;
}

/** What a typed action handler receives besides its input. */
export type TypedActionContext<TConfig, TCredentials> = ActionContext<TConfig, TCredentials> &
  PluginTools;

/** Serialisable fields and plugin-level functions passed to {@link defineIntegration}. */
export interface IntegrationSpec<TConfig extends TSchema, TCredentials extends TSchema> {
  /** Slug such as `xero`. */
  readonly id: string;
  /** Display name. */
  readonly name: string;
  /** What the integration does. */
  readonly description?: string;
  /** Semantic version of this definition. */
  readonly version: string;
  /** How instances authenticate. */
  readonly authType: AuthType;
  /** Required when `authType` is `oauth2`. */
  readonly oauth2Config?: OAuth2Config;
  /** Instance configuration schema; types `config` everywhere. */
  readonly configSchema?: TConfig;
  /**
   * Credential schema. Credentials are sealed whole; instance views show only the fields
   * marked `'x-public': true` (`writeOnly: true` keeps one hidden inside a public object).
   */
  readonly credentialSchema?: TCredentials;
  /** Search tags. */
  readonly tags?: readonly string[];
  /** Homepage URL. */
  readonly homepage?: string;
  /** Icon (URL or data URI). */
  readonly icon?: string;
  /** Shared schema components (draft-07), referenced as `#/definitions/<name>`. */
  readonly definitions?: Record<string, unknown>;
  /** Shared schema components (2020-12), referenced as `#/$defs/<name>`. */
  readonly $defs?: Record<string, unknown>;
  /** One-time set-up; the loader bounds it with a timeout. */
  initialize?(ctx: PluginContext): Promise<void>;
  /** Checks credentials and config against the service; throws on failure. */
  testConnection?(
    credentials: Static<TCredentials>,
    config: Static<TConfig>,
    tools: PluginTools,
  ): Promise<void>;
  /** Refreshes OAuth2 tokens the service's own way. */
  refreshAccessToken?(
    credentials: Static<TCredentials>,
    config: Static<TConfig>,
    tools: PluginTools,
  ): Promise<OAuth2Tokens>;
  /** Custom payload validation; without it the trigger's `payloadSchema` is used. */
  validateEventPayload?(eventType: string, payload: unknown): Promise<PayloadValidationResult>;
  /** Releases resources on unload. */
  dispose?(): Promise<void>;
}

/** An action: schemas and a handler typed from them. */
export interface ActionSpec<
  TInput extends TSchema,
  TOutput extends TSchema,
  TConfig,
  TCredentials,
> {
  /** Display name. */
  readonly name: string;
  /** What it does. */
  readonly description?: string;
  /** Schema of the handler's `input`. */
  readonly inputSchema: TInput;
  /** Schema of what the handler returns; the return type is checked against it. */
  readonly outputSchema?: TOutput;
  /** Performs the action. */
  handler(
    input: Static<TInput>,
    ctx: TypedActionContext<TConfig, TCredentials>,
  ): Promise<Static<TOutput>>;
}

/** A trigger: payload and rule-config schemas, and an optional typed filter factory. */
export interface TriggerSpec<TPayload extends TSchema, TTriggerConfig extends TSchema> {
  /** Display name. */
  readonly name: string;
  /** When it fires. */
  readonly description?: string;
  /** Schema of the event payload; types `event.payload` in `factory`. */
  readonly payloadSchema?: TPayload;
  /** Schema of a rule's `triggerConfig`; types `config` in `factory`. */
  readonly configSchema?: TTriggerConfig;
  /**
   * How to derive the event's delivery id when `event.id` is absent, for deduplication:
   * text with `{{ path }}` placeholders read from the event, e.g. `'{{ payload.delivery_id }}'`.
   */
  readonly eventId?: string;
  /** Builds a filter from a rule's `triggerConfig`; absent: every event fires. */
  factory?(config: Static<TTriggerConfig>): (event: IntegrationEvent<Static<TPayload>>) => boolean;
}

/** An integration-specific condition type. */
export interface ConditionSpec<TConditionConfig extends TSchema> {
  /** Display name. */
  readonly name: string;
  /** What it checks. */
  readonly description?: string;
  /** Schema of the condition's config. */
  readonly configSchema: TConditionConfig;
  /** Builds the check once per rule. */
  factory(
    config: Static<TConditionConfig>,
  ): (event: IntegrationEvent, ctx: ConditionContext) => boolean | Promise<boolean>;
}

/** Static types recorded by a {@link DefinedIntegration}, for the `*Of` helper types. */
export interface DefinedTypes {
  /** Instance config. */
  readonly config: unknown;
  /** Instance credentials. */
  readonly credentials: unknown;
  /** Per action type: input and output. */
  readonly actions: Record<string, { readonly input: unknown; readonly output: unknown }>;
  /** Per trigger type: payload and rule config. */
  readonly triggers: Record<string, { readonly payload: unknown; readonly config: unknown }>;
  /** Per condition type: its config (absent until the plugin has a condition). */
  readonly conditions?: Record<string, { readonly config: unknown }>;
}

/** The `config` type of a plugin built with {@link defineIntegration}. */
export type ConfigOf<P extends { readonly '~types': DefinedTypes }> = P['~types']['config'];
/** The `credentials` type of a plugin built with {@link defineIntegration}. */
export type CredentialsOf<P extends { readonly '~types': DefinedTypes }> =
  P['~types']['credentials'];
/** The input type of one action of a plugin built with {@link defineIntegration}. */
export type ActionInputOf<
  P extends { readonly '~types': DefinedTypes },
  K extends keyof P['~types']['actions'],
> = P['~types']['actions'][K]['input'];
/** The output type of one action of a plugin built with {@link defineIntegration}. */
export type ActionOutputOf<
  P extends { readonly '~types': DefinedTypes },
  K extends keyof P['~types']['actions'],
> = P['~types']['actions'][K]['output'];
/** The payload type of one trigger of a plugin built with {@link defineIntegration}. */
export type TriggerPayloadOf<
  P extends { readonly '~types': DefinedTypes },
  K extends keyof P['~types']['triggers'],
> = P['~types']['triggers'][K]['payload'];
