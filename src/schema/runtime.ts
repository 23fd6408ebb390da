/**
 * Runtime parts of integrations (trigger filters, condition factories, action handlers)
 * and the event shape they receive. Runtime parts live in memory only, never in storage.
 *
 * @module
 */

import type {
  ActionDefinition,
  ConditionDefinition,
  IntegrationDefinitionData,
  TriggerDefinition,
} from './definition.js';
import type { InstanceView, ResolveContext } from './instance.js';

/** An event an integration emitted, as the host app passes it to `RuleEngine.dispatch`. */
export interface IntegrationEvent<P = unknown> {
  /** The integration that emitted it, e.g. `stripe`. */
  readonly integrationId: string;
  /** The trigger type, e.g. `charge.succeeded`. */
  readonly type: string;
  /** The event body. */
  readonly payload: P;
  /**
   * The provider's delivery or event id (at most 256 characters), kept in execution
   * records and used for deduplication: a second dispatch of the same
   * `(integrationId, id)` within the window runs nothing and answers with what the first
   * recorded. Absent: the trigger's `eventId` template may derive one from the event.
   */
  readonly id?: string;
  /** When it happened (ISO string); defaults to the time of dispatch. */
  readonly timestamp?: string;
  /** Which user/client the event concerns; picks the instance an action runs with. */
  readonly context?: ResolveContext;
}

/** Decides whether an event fires a rule, given that rule's `triggerConfig`. */
export type TriggerFilter<P = unknown> = (event: IntegrationEvent<P>) => boolean;

/** Log levels of execution logs. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A logger bound to one execution and component; entries land in the execution logs. */
export interface ExecutionLogger {
  /** Records a debug entry. */
  debug(message: string, data?: unknown): void;
  /** Records an info entry. */
  info(message: string, data?: unknown): void;
  /** Records a warning. */
  warn(message: string, data?: unknown): void;
  /** Records an error. */
  error(message: string, data?: unknown): void;
}

/** What a custom condition receives besides the event. */
export interface ConditionContext {
  /** The rule being evaluated. */
  readonly ruleId: string;
  /** The integration of the rule. */
  readonly integrationId: string;
}

/** What an action handler receives besides its input. */
export interface ActionContext<
  TConfig = Record<string, unknown>,
  TCredentials = Record<string, unknown>,
> {
  /** The event that triggered the rule. */
  readonly event: IntegrationEvent;
  /** The instance the action runs with (credentials redacted). */
  readonly instance: InstanceView;
  /** Decrypts the instance's credentials (audited). */
  getCredentials(): Promise<TCredentials>;
  /** The instance configuration. */
  readonly config: TConfig;
  /** Aborted when the action times out or the engine closes. */
  readonly signal: AbortSignal;
  /** Logger bound to this execution and action. */
  readonly log: ExecutionLogger;
  /**
   * `<execution id>:<action id>`: the same for every attempt of this action in this
   * execution, in every process that runs it (a replay is a new execution, with a new
   * key). Pass it to services that accept one (Stripe's `Idempotency-Key`, a unique
   * column) to make the action's side effect happen once even when an attempt is
   * repeated after a crash.
   */
  readonly idempotencyKey: string;
}

/** Runtime part of a trigger: builds a filter from a rule's `triggerConfig`. */
export interface TriggerRuntime<TConfig = unknown, TPayload = unknown> {
  /** Absent: every event of the type fires. */
  factory?(config: TConfig): TriggerFilter<TPayload>;
}

/** Runtime part of a condition type. */
export interface ConditionRuntime<TConfig = unknown> {
  /** Builds the check once per rule, from the condition's config. */
  factory?(
    config: TConfig,
  ): (event: IntegrationEvent, ctx: ConditionContext) => boolean | Promise<boolean>;
}

/** Runtime part of an action. */
export interface ActionRuntime<TInput = unknown, TOutput = unknown> {
  /** Performs the action. */
  handler?(input: TInput, ctx: ActionContext): Promise<TOutput>;
}

/** A trigger as registered: stored definition plus optional runtime part. */
export type RegisteredTrigger = TriggerDefinition & TriggerRuntime;
/** A condition type as registered: stored definition plus optional runtime part. */
export type RegisteredCondition = ConditionDefinition & ConditionRuntime;
/** An action as registered: stored definition plus optional runtime part. */
export type RegisteredAction = ActionDefinition & ActionRuntime;

/** A definition as passed to `IntegrationRegistry.register`: data plus runtime parts. */
export type IntegrationDefinitionInput = Omit<
  IntegrationDefinitionData,
  'triggers' | 'conditions' | 'actions'
> & {
  /** Events the integration emits. */
  readonly triggers?: readonly RegisteredTrigger[];
  /** Integration-specific condition types. */
  readonly conditions?: readonly RegisteredCondition[];
  /** Methods the integration offers. */
  readonly actions?: readonly RegisteredAction[];
};

/**
 * Retry policy of an action: exponential backoff between attempts, with jitter. Only
 * failures that a later attempt may fix are retried (see "Timeouts and retries" in the
 * rules guide).
 */
export interface RetryPolicy {
  /** Total attempts including the first (≥ 1). Default 1 (no retry). */
  readonly attempts?: number;
  /** Delay before the second attempt, in ms, before jitter. Default 200. */
  readonly initialDelayMs?: number;
  /** Each further delay is multiplied by this. Default 2. */
  readonly factor?: number;
  /**
   * Upper bound of a delay, in ms. Default 30 000. A failure whose `Retry-After` asks
   * for a longer wait is not retried.
   */
  readonly maxDelayMs?: number;
  /**
   * Each delay is shortened by a random fraction of itself, up to this one (0–1), so that
   * actions failing together do not retry together. Default 0.2; 0 turns jitter off.
   */
  readonly jitter?: number;
}
