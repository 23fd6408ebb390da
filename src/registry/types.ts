/**
 * Option, query and result types of `IntegrationRegistry`, and the runtime parts it
 * keeps beside stored definitions.
 *
 * @module
 */
import type { Reference, ValidationIssue } from '../errors.js';
import type { Authorize } from '../internal/access.js';
import type { AuthType, DefinitionStatus, IntegrationDefinition } from '../schema/definition.js';
import type {
  ActionRuntime,
  ConditionRuntime,
  ConfigMigration,
  RegisteredAction,
  RegisteredCondition,
  RegisteredTrigger,
  TriggerRuntime,
} from '../schema/runtime.js';
import type { StorageAdapter } from '../storage/types.js';

/** Options of {@link IntegrationRegistry}. */
export interface IntegrationRegistryOptions {
  /** Where definitions are persisted (`definitions` collection). */
  readonly storage: StorageAdapter;
  /**
   * Reject keywords that JSON Schema does not define (vendor `x-*` and others) instead of
   * ignoring them as annotations. Default `false`.
   */
  readonly strictKeywords?: boolean;
  /** Keywords accepted as annotations even with `strictKeywords` on. */
  readonly allowedKeywords?: readonly string[];
  /** At most this many issues per validation result (default 20). */
  readonly maxIssues?: number;
  /**
   * How `format` keywords are checked: `fast` (default) uses quick regular expressions
   * (a date-time's day is not checked against its month, URIs are checked loosely);
   * `full` uses exact ones at about half the validation speed on format-heavy payloads.
   */
  readonly formats?: 'fast' | 'full';
  /**
   * Asked before `register`, `publish`, `deprecate`, `archive` and `delete`; a refusal
   * throws `ForbiddenError` and changes nothing. See docs/access-control.md.
   */
  readonly authorize?: Authorize;
}

/**
 * Options of {@link IntegrationRegistry.register}, and of `PluginLoader.load`,
 * `loadManifest` and `loadModule`.
 */
export interface RegisterOptions {
  /** Who is acting, passed to the `authorize` hook as `actor`. */
  readonly actor?: string;
  /**
   * Register as `published` instead of `draft` (for code-defined integrations). Default:
   * `false` for `register`, the loader's `publish` option for the loader.
   */
  readonly publish?: boolean;
}

/** Query of {@link IntegrationRegistry.list}. */
export interface ListDefinitionsQuery {
  /** Only versions in this status. */
  readonly status?: DefinitionStatus;
  /** Only definitions carrying this tag. */
  readonly tag?: string;
  /** Only definitions matching this text (as in {@link IntegrationRegistry.search}). */
  readonly text?: string;
  /** Only definitions with this auth type. */
  readonly authType?: AuthType;
  /** Only the highest matching version of each integration. Default `false`. */
  readonly latest?: boolean;
  /** Page size, 1 to 1000 (default 50). */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

/** A page of {@link IntegrationRegistry.list}. */
export interface DefinitionPage {
  /** Definitions ordered by id, then version from highest to lowest. */
  readonly items: IntegrationDefinition[];
  /** Present when more follow. */
  readonly nextCursor?: string;
}

/** Result of {@link IntegrationRegistry.validateEventPayload}. */
export interface PayloadValidationResult {
  /** Whether the payload is valid. */
  readonly isValid: boolean;
  /** Problems, when invalid. */
  readonly errors?: ValidationIssue[];
}

/** Runtime parts attached to a stored definition version (see {@link IntegrationRegistry.attachRuntime}). */
export interface DefinitionRuntime {
  /** Trigger runtime parts keyed by trigger type. */
  readonly triggers?: Readonly<Record<string, TriggerRuntime>>;
  /** Condition runtime parts keyed by condition type. */
  readonly conditions?: Readonly<Record<string, ConditionRuntime>>;
  /** Action runtime parts keyed by action type. */
  readonly actions?: Readonly<Record<string, ActionRuntime>>;
  /** Config migrations to this version, in order (see `IntegrationDefinitionInput.migrations`). */
  readonly migrations?: readonly ConfigMigration[];
  /** A plugin's own payload validator; replaces schema validation of payloads. */
  readonly validateEventPayload?: (
    eventType: string,
    payload: unknown,
  ) => Promise<PayloadValidationResult>;
}

/** Identifies a definition, or one version of it, for reference checks. */
export interface DefinitionRef {
  /** Integration id. */
  readonly id: string;
  /** A single version; absent means any version. */
  readonly version?: string;
}

/** Lists what still uses a definition (instances, rules); see {@link IntegrationRegistry.addReferenceChecker}. */
export type ReferenceChecker = (ref: DefinitionRef) => Promise<readonly Reference[]>;

/** The components of one definition version with their runtime parts attached. */
export interface DefinitionComponents {
  /** Triggers, with `factory` where attached. */
  triggers: RegisteredTrigger[];
  /** Condition types, with `factory` where attached. */
  conditions: RegisteredCondition[];
  /** Actions, with `handler` where attached. */
  actions: RegisteredAction[];
}
