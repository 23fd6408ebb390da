/**
 * The options of `RuleEngine`, their checks and their defaults.
 *
 * @internal
 * @module
 */
import type { ConfigManager } from '../config/manager.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { Authorize } from '../internal/access.js';
import { optionalIntegerIssue, pushIssues } from '../internal/options.js';
import type { IntegrationRegistry } from '../registry/index.js';
import type { LogLevel } from '../schema/runtime.js';
import type { StorageAdapter } from '../storage/types.js';
import { type DeliveryOptions, deliveryIssues } from './delivery/service.js';
import { LEVELS } from './execution-log.js';
import type { RetentionOptions } from './history/index.js';
import { checkRetry } from './rule-shape.js';
import type { RetryPolicy } from './types.js';

/** Options of {@link RuleEngine}. */
export interface RuleEngineOptions {
  /** Where rules, executions and logs are kept. */
  readonly storage: StorageAdapter;
  /** Provides triggers, conditions, actions and their schemas. */
  readonly registry: IntegrationRegistry;
  /** Provides instances and credentials. */
  readonly config: ConfigManager;
  /** Validate event payloads against the trigger's `payloadSchema`. Default true. */
  readonly validatePayloads?: boolean;
  /**
   * At most this many action handlers run at once, over all dispatches. Default 16. A
   * handler that ignores its `signal` keeps its slot after its attempt timed out, until
   * it settles.
   */
  readonly maxConcurrentActions?: number;
  /** Time limit of one action attempt, in ms, unless the action sets `timeoutMs`. Default 30 000. */
  readonly actionTimeoutMs?: number;
  /**
   * Retry policy of actions that set none (an action's own `retry` overrides it field by
   * field). Default: 1 attempt (no retry).
   */
  readonly retry?: RetryPolicy;
  /** Retention of execution history. */
  readonly retention?: RetentionOptions;
  /** Lowest log level recorded. Default `info` (trigger and condition details are `debug`). */
  readonly logLevel?: LogLevel;
  /** How long `close()` waits for running executions before aborting them. Default 10 000 ms. */
  readonly closeGraceMs?: number;
  /** How often age-based retention runs for idle rules, in ms. Default 60 000. */
  readonly pruneIntervalMs?: number;
  /**
   * Record (and return from `dispatch`) executions whose conditions were not met.
   * Default true, so users can see why nothing happened; turn it off to save writes
   * when many rules share a trigger type.
   */
  readonly recordUnmatched?: boolean;
  /**
   * Asked before `createRule`, `updateRule` (and so `enableRule` / `disableRule`),
   * `deleteRule`, `prune` and `dispatch`; refusals go to the config's audit log. See
   * docs/access-control.md.
   */
  readonly authorize?: Authorize;
  /**
   * The largest event `dispatch` and `evaluate` accept, in bytes of its UTF-8 JSON text.
   * A larger one is refused with a `ValidationError` before any rule runs. Default
   * 1 048 576 (1 MiB).
   */
  readonly maxEventBytes?: number;
  /**
   * How actions are delivered: durably by default (stored before they run, retried from
   * storage, resumed after a crash), optionally on a queue shared by worker processes.
   * See {@link DeliveryOptions} and docs/delivery.md.
   */
  readonly delivery?: DeliveryOptions;
  /**
   * How rules are checked on save against their trigger's `payloadSchema` (paths that
   * cannot exist, operators that cannot fit the field's types, template paths):
   * `error` (default) refuses the rule; `warn` saves it and returns the problems as
   * `warnings` from `validateRule` and with a `rule:warnings` event after `createRule` /
   * `updateRule`; `off` skips the checks. See docs/rules.md.
   */
  readonly schemaChecks?: 'error' | 'warn' | 'off';
}

/** The default of {@link RuleEngineOptions.maxEventBytes}: 1 MiB. */
export const DEFAULT_MAX_EVENT_BYTES = 1_048_576;

/** The options with their defaults filled in. */
export interface ResolvedOptions {
  readonly validatePayloads: boolean;
  readonly recordUnmatched: boolean;
  readonly maxConcurrentActions: number;
  readonly actionTimeoutMs: number;
  readonly retry: Required<RetryPolicy>;
  readonly logLevel: LogLevel;
  readonly closeGraceMs: number;
  readonly maxEventBytes: number;
  readonly schemaChecks: 'error' | 'warn' | 'off';
}

/**
 * Checks the options and fills in the defaults.
 *
 * @throws ValidationError for invalid options
 */
export function resolveOptions(options: RuleEngineOptions): ResolvedOptions {
  checkOptions(options);
  return {
    validatePayloads: options.validatePayloads ?? true,
    recordUnmatched: options.recordUnmatched ?? true,
    maxConcurrentActions: options.maxConcurrentActions ?? 16,
    actionTimeoutMs: options.actionTimeoutMs ?? 30_000,
    retry: {
      attempts: options.retry?.attempts ?? 1,
      initialDelayMs: options.retry?.initialDelayMs ?? 200,
      factor: options.retry?.factor ?? 2,
      maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
      jitter: options.retry?.jitter ?? 0.2,
    },
    logLevel: options.logLevel ?? 'info',
    closeGraceMs: options.closeGraceMs ?? 10_000,
    maxEventBytes: options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES,
    schemaChecks: options.schemaChecks ?? 'error',
  };
}

function checkOptions(options: RuleEngineOptions): void {
  const issues: ValidationIssue[] = [];
  if (!options || typeof options !== 'object') {
    throw new ValidationError(
      [{ path: '', message: 'options are required' }],
      'rule engine options',
    );
  }
  if (!options.storage) issues.push({ path: 'storage', message: 'a StorageAdapter is required' });
  if (!options.registry)
    issues.push({ path: 'registry', message: 'an IntegrationRegistry is required' });
  if (!options.config) issues.push({ path: 'config', message: 'a ConfigManager is required' });
  pushIssues(
    issues,
    optionalIntegerIssue('maxConcurrentActions', options.maxConcurrentActions),
    optionalIntegerIssue('actionTimeoutMs', options.actionTimeoutMs),
    optionalIntegerIssue('pruneIntervalMs', options.pruneIntervalMs),
    optionalIntegerIssue('maxEventBytes', options.maxEventBytes),
    optionalIntegerIssue('closeGraceMs', options.closeGraceMs, 0),
  );
  if (options.retry !== undefined) checkRetry(options.retry, 'retry', issues);
  deliveryIssues(options.delivery, issues);
  if (options.logLevel !== undefined && !Object.hasOwn(LEVELS, options.logLevel)) {
    issues.push({ path: 'logLevel', message: 'must be debug, info, warn or error' });
  }
  const sc = options.schemaChecks;
  if (sc !== undefined && sc !== 'error' && sc !== 'warn' && sc !== 'off') {
    issues.push({ path: 'schemaChecks', message: "must be 'error', 'warn' or 'off'" });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'rule engine options');
}
