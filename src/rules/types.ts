/**
 * Shapes of rules, conditions, executions and explanations.
 *
 * @module
 */
import type { ActionError } from '../errors.js';
import type { LogLevel, RetryPolicy } from '../schema/runtime.js';

export type { RetryPolicy } from '../schema/runtime.js';

/** A leaf of a `match` tree: compares the value at `path` with `value` using `operator`. */
export interface MatchLeaf {
  /**
   * Where to read the actual value: a dot path into the event (`payload.amount`,
   * `payload.items[0].sku`). Inside a `some`/`every` sub-tree the path is relative to the
   * array element, and `$` is the element itself.
   */
  readonly path: string;
  /** Operator name: a built-in one (`equal`, `in`, `between`, …) or a registered custom one. */
  readonly operator: string;
  /** What to compare with; for `some`/`every` a nested match tree. */
  readonly value?: unknown;
}

/** Holds when every child holds (an empty list holds). */
export interface MatchAll {
  readonly all: readonly MatchNode[];
}

/** Holds when at least one child holds (an empty list does not hold). */
export interface MatchAny {
  readonly any: readonly MatchNode[];
}

/** Holds when the child does not hold. */
export interface MatchNot {
  readonly not: MatchNode;
}

/** The config of the built-in `match` condition: a tree of `all` / `any` / `not` over leaves. */
export type MatchNode = MatchAll | MatchAny | MatchNot | MatchLeaf;

/** One condition of a rule; all conditions of a rule must hold. */
export interface RuleCondition {
  /** Unique within the rule; used in logs and explanations. */
  readonly id: string;
  /** `match`, or a condition type of the rule's integration. */
  readonly type: string;
  /** For `match`: a {@link MatchNode}; otherwise validated against the condition's `configSchema`. */
  readonly config: unknown;
}

/** One action of a rule; actions of a rule run in order. */
export interface RuleAction {
  /** Unique within the rule. */
  readonly id: string;
  /** Action type of the integration, e.g. `send_message`. */
  readonly type: string;
  /** Integration that provides the action; defaults to the rule's integration. */
  readonly integrationId?: string;
  /** Instance to run with; default: `ConfigManager.resolveInstance` with the event's `context`. */
  readonly instanceId?: string;
  /** The action input; string values may hold `{{ payload.x }}` templates. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Time limit of one attempt, in ms; default the engine's `actionTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Retry policy; default the engine's `retry`. */
  readonly retry?: RetryPolicy;
  /** When this action fails, run the following actions anyway. Default false. */
  readonly continueOnError?: boolean;
}

/** A stored rule. */
export interface Rule {
  /** Unique id. */
  readonly id: string;
  /** Display name. */
  readonly name: string;
  /** Optional description. */
  readonly description?: string;
  /** Disabled rules never fire. */
  readonly enabled: boolean;
  /** The integration whose events fire the rule. */
  readonly integrationId: string;
  /** The trigger type, e.g. `charge.succeeded`. */
  readonly triggerType: string;
  /** Passed to the trigger's factory, validated against the trigger's `configSchema`. */
  readonly triggerConfig: Readonly<Record<string, unknown>>;
  /** All must hold. */
  readonly conditions: readonly RuleCondition[];
  /** Run in order when the conditions hold. */
  readonly actions: readonly RuleAction[];
  /** Free-form data of the host app. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Storage revision: 1 on create, +1 on each update. */
  readonly revision: number;
  /** ISO timestamps. */
  readonly createdAt: string;
  /** ISO timestamps. */
  readonly updatedAt: string;
}

/** A condition as passed to `createRule`; `id` defaults to `condition-<n>`. */
export type RuleConditionInput = Omit<RuleCondition, 'id'> & { readonly id?: string };
/** An action as passed to `createRule`; `id` defaults to `action-<n>`. */
export type RuleActionInput = Omit<RuleAction, 'id'> & { readonly id?: string };

/** What `createRule` accepts. */
export interface RuleInput {
  /** Default: a generated id. */
  readonly id?: string;
  readonly name: string;
  readonly description?: string;
  /** Default true. */
  readonly enabled?: boolean;
  readonly integrationId: string;
  readonly triggerType: string;
  /** Default `{}`. */
  readonly triggerConfig?: Readonly<Record<string, unknown>>;
  /** Default `[]` (the rule fires on every event its trigger accepts). */
  readonly conditions?: readonly RuleConditionInput[];
  readonly actions: readonly RuleActionInput[];
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** What `updateRule` accepts: any field of {@link RuleInput} except `id`. */
export type RuleChanges = Partial<Omit<RuleInput, 'id'>>;

/** Outcome of one action within an execution. */
export interface ActionResult {
  /** The action's id within the rule. */
  readonly actionId: string;
  /** The action type. */
  readonly type: string;
  /** The integration providing it. */
  readonly integrationId: string;
  /** The instance it ran with, when one was resolved. */
  readonly instanceId?: string;
  /** Whether it finished without error. */
  readonly successful: boolean;
  /** Attempts made (0 when it never started, e.g. a template path was missing). */
  readonly attempts: number;
  /** Wall time over all attempts, in ms. */
  readonly durationMs: number;
  /** The handler's output (JSON), when it succeeded. */
  readonly output?: unknown;
  /** Why it failed. */
  readonly error?: string;
  /**
   * What the handler's last failure was caused by, outermost first: the thrown error and
   * its `cause` chain (at most 5 deep), each with its message (scrubbed of secrets like
   * `error`), `code` (e.g. `ECONNREFUSED`), HTTP `status` and `name` where present. Absent
   * when the error had no cause, code or status.
   */
  readonly cause?: readonly {
    /** The error's message, scrubbed of the secrets the handler read. */
    readonly message: string;
    /** Its string `code` (e.g. a system error's `ECONNREFUSED`). */
    readonly code?: string;
    /** The HTTP status it carries (`status`/`statusCode`, on it or its `response`). */
    readonly status?: number;
    /** Its `name` (e.g. `TypeError`). */
    readonly name?: string;
  }[];
  /**
   * How the handler's last failure was classified: `auth` (credentials refused, not
   * retried), `retryable` (attempts ran out) or `fatal` (not retried). Absent when the
   * handler never ran.
   */
  readonly failureKind?: ActionError['kind'];
  /** True when it did not run because an earlier action failed. */
  readonly skipped?: boolean;
}

/** Where the conditions of a rule first failed (kept on the execution record). */
export interface ConditionFailure {
  /** The condition's id. */
  readonly conditionId: string;
  /** The failing leaf's path (for `match` conditions). */
  readonly path?: string;
  /** The failing leaf's operator. */
  readonly operator?: string;
  /** The value the leaf compared with. */
  readonly expected?: unknown;
  /** The value found in the event (absent when the path was missing). */
  readonly actual?: unknown;
  /** Why it failed when it threw. */
  readonly error?: string;
}

/**
 * Where an execution stands.
 *
 * - `pending`: recorded, its first action not started yet;
 * - `running`: an action attempt is running (a process holds the execution's lease);
 * - `retrying`: an attempt failed and another is scheduled (`nextAttemptAt`);
 * - `succeeded`: finished, nothing failed (conditions not met is not a failure);
 * - `failed`: finished with an error that no attempt could change: the trigger filter or
 *   a condition threw, or (with `delivery: 'inline'`) an action failed;
 * - `dead`: an action failed and will not be attempted again (its attempts ran out, or
 *   the failure is one a retry cannot fix); a dead letter, listed by
 *   `listExecutions({ status: 'dead' })` and run again with `replayExecution`.
 *
 * The first three are *unfinished*; the rest are final.
 */
export type ExecutionStatus = 'pending' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'dead';

/** A recorded run of one rule for one event. */
export interface Execution {
  /** Unique, time-ordered id. */
  readonly id: string;
  /** The rule that ran. */
  readonly ruleId: string;
  /** The rule revision that ran. */
  readonly ruleRevision: number;
  /** The integration of the rule. */
  readonly integrationId: string;
  /** The trigger type of the event. */
  readonly triggerType: string;
  /**
   * False when the rule's trigger filter (its `triggerConfig`) rejected the event: the
   * conditions did not run. Such executions are recorded like unmet conditions, when
   * `recordUnmatched` is on.
   */
  readonly triggered: boolean;
  /** Whether every condition held. */
  readonly conditionsMet: boolean;
  /** True when nothing failed (conditions not met is not a failure). */
  readonly successful: boolean;
  /** Where the execution stands; see {@link ExecutionStatus}. */
  readonly status: ExecutionStatus;
  /** ISO timestamps. */
  readonly startTime: string;
  /** ISO timestamps. */
  readonly endTime: string;
  /** The event as dispatched. */
  readonly triggerData: unknown;
  /** Per action outcome, when actions ran. */
  readonly resultData?: { readonly actions: readonly ActionResult[] };
  /** The first error, when the execution failed. */
  readonly error?: string;
  /** When the conditions were not met: the first failing condition and leaf. */
  readonly failedCondition?: ConditionFailure;
  /** The execution this one runs again (`RuleEngine.replayExecution`). */
  readonly replayOf?: string;
  /**
   * True on the executions `dispatch` answers for a duplicate event (same integration and
   * event id within the deduplication window): they are the first delivery's, and nothing
   * ran again.
   */
  readonly duplicate?: true;
  /** Storage revision. */
  readonly revision: number;
}

/** Components an execution log entry can come from. */
export type ExecutionComponent = ExecutionLog['component'];

/** One log entry of an execution. */
export interface ExecutionLog {
  /** The execution it belongs to. */
  readonly executionId: string;
  /** ISO timestamp. */
  readonly timestamp: string;
  /** Severity. */
  readonly level: LogLevel;
  /** What happened. */
  readonly message: string;
  /** Structured detail. */
  readonly data?: unknown;
  /** Which part of the rule wrote it. */
  readonly component: 'trigger' | 'condition' | 'action';
  /** The condition or action id. */
  readonly componentId?: string;
}

/** Options of `getRuleExecutions`. */
export interface ExecutionQuery {
  /** Page size. Default 50. */
  readonly limit?: number;
  /** Cursor from the previous page. */
  readonly cursor?: string;
}

/**
 * Filters and paging of the execution history across rules (`RuleEngine.listExecutions`,
 * `RuleEngine.executions`). Executions come newest first (by the start time of the
 * dispatch that decided them); executions hidden by retention are not listed. Every
 * filter given must hold. Unknown keys are refused with a `ValidationError`, so a typo
 * (`statuses`) never silently lists everything.
 *
 * @example
 * ```ts
 * const { items, nextCursor } = await engine.listExecutions({
 *   status: ['failed', 'dead'],
 *   since: '2026-12-01T00:00:00Z',
 *   limit: 100,
 * });
 * ```
 */
export interface ExecutionListQuery {
  /** Only executions of rules of this integration. */
  readonly integrationId?: string;
  /** Only executions of this rule. */
  readonly ruleId?: string;
  /** Only executions in this status (or in any of these). */
  readonly status?: ExecutionStatus | readonly ExecutionStatus[];
  /** Only executions that started at or after this time (ISO 8601 with a time zone, or a date). */
  readonly since?: string;
  /** Only executions that started before this time (ISO 8601 with a time zone, or a date). */
  readonly until?: string;
  /** Page size: 1 to 1000. Default 50. */
  readonly limit?: number;
  /**
   * `nextCursor` of the previous page, passed with the same filters. Paging never repeats
   * or skips an execution; the last page may be empty.
   */
  readonly cursor?: string;
}

/** A leaf of an explained match tree. */
export interface ExplainedLeaf {
  readonly path: string;
  readonly operator: string;
  /** The leaf's `value`. */
  readonly expected: unknown;
  /** The value read at `path` (absent when missing). */
  readonly actual?: unknown;
  /** True when the path was not present in the event. */
  readonly missing?: boolean;
  /** Whether the leaf held. */
  readonly result: boolean;
  /** Why evaluation failed, when an operator threw. */
  readonly error?: string;
  /**
   * For `some`/`every`: the explained sub-tree of the deciding element (first match for
   * `some`, first failure for `every`), with its index.
   */
  readonly element?: { readonly index: number; readonly tree: ExplainedNode };
}

/** An explained match tree: the same shape as the input with `result` on every node. */
export type ExplainedNode =
  | { readonly all: readonly ExplainedNode[]; readonly result: boolean }
  | { readonly any: readonly ExplainedNode[]; readonly result: boolean }
  | { readonly not: ExplainedNode; readonly result: boolean }
  | ExplainedLeaf;

/** One condition of an explained rule. */
export interface ExplainedCondition {
  readonly id: string;
  readonly type: string;
  readonly result: boolean;
  /** The annotated tree, for `match` conditions. */
  readonly tree?: ExplainedNode;
  /** Why evaluation failed. */
  readonly error?: string;
}

/** What `evaluate` says about one candidate rule. */
export interface RuleEvaluation {
  readonly ruleId: string;
  readonly ruleName: string;
  /** Whether the trigger accepted the event (with the rule's `triggerConfig`). */
  readonly triggered: boolean;
  /** Whether every condition held (false when not triggered). */
  readonly conditionsMet: boolean;
  /** Every condition, evaluated fully (no short-circuit) so each leaf is explained. */
  readonly conditions: readonly ExplainedCondition[];
  /** Actions that would run. */
  readonly actions: readonly { readonly id: string; readonly type: string }[];
  /** Why the trigger filter failed, when it threw. */
  readonly error?: string;
}
