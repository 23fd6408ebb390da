/**
 * Checks of the arguments of `RuleEngine` methods, run before a method reads or changes
 * anything: rule and execution ids, update changes and options, list and history queries.
 *
 * @internal
 * @module
 */
import { ValidationError } from '../errors.js';
import { assertIdLength } from '../internal/ids.js';
import {
  integerIssue,
  isPlainObject,
  optionalIntegerIssue,
  optionalStringIssue,
  optionsOf,
  stringIssue,
  throwIfIssues,
} from '../internal/options.js';
import type { FindQuery } from '../storage/types.js';
import type { ExecutionQuery, Rule } from './types.js';

/** The filters and paging of `RuleEngine.listRules`. */
export interface ListRulesQuery {
  integrationId?: string;
  triggerType?: string;
  enabled?: boolean;
  limit?: number;
  cursor?: string;
}

/** Checks a rule (or execution) id argument. */
export function assertRuleId(id: unknown, path = 'id', what = 'rule id'): void {
  throwIfIssues(what, [stringIssue(path, id)]);
  assertIdLength(id, path, what);
}

/** Checks the arguments of `updateRule`: an id, an object of changes without `id`, options. */
export function assertRuleUpdate(id: unknown, changes: unknown, opts: unknown): void {
  assertRuleId(id);
  if (!isPlainObject(changes) || 'id' in changes) {
    throw new ValidationError(
      [{ path: 'changes', message: 'must be an object without id' }],
      'rule changes',
    );
  }
  optionsOf(opts as object | undefined, 'update options');
}

/** Checks the arguments of `getRuleExecutions` and returns the query (`{}` when left out). */
export function executionQueryOf(
  ruleId: unknown,
  query: ExecutionQuery | undefined,
): ExecutionQuery {
  assertRuleId(ruleId, 'ruleId');
  const q = optionsOf(query, 'execution query', 'query');
  throwIfIssues('execution query', [
    q.limit === undefined ? undefined : integerIssue('limit', q.limit),
    optionalStringIssue('cursor', q.cursor),
  ]);
  return q;
}

/** The storage query of `listRules`, after checking the caller's query. */
export function ruleFindQuery(query: ListRulesQuery | undefined): FindQuery {
  const q = optionsOf(query, 'rule list query', 'query');
  throwIfIssues('rule list query', [
    optionalStringIssue('integrationId', q.integrationId),
    optionalStringIssue('triggerType', q.triggerType),
    q.enabled === undefined || typeof q.enabled === 'boolean'
      ? undefined
      : { path: 'enabled', message: 'must be a boolean' },
  ]);
  const where: Record<string, string | boolean> = {};
  if (q.integrationId !== undefined) where['integrationId'] = q.integrationId;
  if (q.triggerType !== undefined) where['triggerType'] = q.triggerType;
  if (q.enabled !== undefined) where['enabled'] = q.enabled;
  return {
    where,
    orderBy: { field: 'createdAt' satisfies keyof Rule },
    limit: q.limit ?? 50,
    ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
  };
}

/** Options of `RuleEngine.dispatch`. */
export interface DispatchOptions {
  /**
   * `true` (default): resolve once every execution is final (durable ones included, even
   * when their retries run later or in another process). `false`: resolve once the
   * executions are recorded, durable ones as `pending` / `running` (the answer a webhook
   * endpoint should send); follow them with `waitForExecution`.
   */
  readonly wait?: boolean;
}

/** The `wait` of dispatch options. @throws ValidationError */
export function dispatchWait(opts: DispatchOptions | undefined): boolean {
  if (opts === undefined) return true;
  const o = optionsOf(opts, 'dispatch options');
  if (o.wait !== undefined && typeof o.wait !== 'boolean') {
    throw new ValidationError([{ path: 'wait', message: 'must be a boolean' }], 'dispatch options');
  }
  return o.wait ?? true;
}

/** A worker's concurrency: a positive safe integer, default `maxConcurrentActions`. @throws ValidationError */
export function workerConcurrency(value: unknown, fallback: number): number {
  throwIfIssues('worker options', [optionalIntegerIssue('concurrency', value)]);
  return (value as number | undefined) ?? fallback;
}
