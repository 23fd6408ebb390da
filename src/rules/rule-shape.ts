/**
 * Shape checks of rule input (before any registry lookup) and normalisation into the
 * stored form, plus compilation of a stored rule into closures.
 *
 * @internal
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import { isObject, jsonIssue } from '../internal/json.js';
import { CompileCache, type CompiledMatch, compileMatch } from './compile.js';
import type { DecidedEntry } from './history/layout.js';
import type { OperatorTable } from './operators.js';
import { type CompiledTemplate, compileTemplates } from './templates.js';
import type { Rule, RuleAction, RuleCondition, RuleInput } from './types.js';

/** Pattern of rule, condition and action ids. */
export const RULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

const RULE_KEYS = new Set([
  'id',
  'name',
  'description',
  'enabled',
  'integrationId',
  'triggerType',
  'triggerConfig',
  'conditions',
  'actions',
  'metadata',
]);
const CONDITION_KEYS = new Set(['id', 'type', 'config']);
const ACTION_KEYS = new Set([
  'id',
  'type',
  'integrationId',
  'instanceId',
  'config',
  'timeoutMs',
  'retry',
  'continueOnError',
]);
const RETRY_KEYS = new Set(['attempts', 'initialDelayMs', 'factor', 'maxDelayMs', 'jitter']);

function unknownKeys(
  obj: Record<string, unknown>,
  allowed: Set<string>,
  at: string,
  issues: ValidationIssue[],
): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) {
      issues.push({ path: at ? `${at}.${k}` : k, message: 'is not a known field' });
    }
  }
}

function str(
  v: unknown,
  at: string,
  issues: ValidationIssue[],
  opts: { optional?: boolean; max?: number; pattern?: RegExp } = {},
): void {
  if (v === undefined) {
    if (!opts.optional) issues.push({ path: at, message: 'is required' });
    return;
  }
  if (typeof v !== 'string' || v.length === 0) {
    issues.push({ path: at, message: 'must be a non-empty string' });
  } else if (v.length > (opts.max ?? 200)) {
    issues.push({ path: at, message: `must be at most ${opts.max ?? 200} characters` });
  } else if (opts.pattern && !opts.pattern.test(v)) {
    issues.push({ path: at, message: `must match ${opts.pattern.source}` });
  }
}

function int(v: unknown, at: string, issues: ValidationIssue[], min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    issues.push({ path: at, message: `must be an integer from ${min} to ${max}` });
  }
}

/**
 * Checks the shape of a rule input and returns the stored form (without revision and
 * timestamps). Condition and action ids default to `condition-<n>` / `action-<n>`.
 */
export function normaliseRule(
  input: RuleInput,
  id: string,
  issues: ValidationIssue[],
): Omit<Rule, 'revision' | 'createdAt' | 'updatedAt'> {
  if (!isObject(input)) {
    issues.push({ path: '', message: 'a rule must be an object' });
    return input as never;
  }
  // A cycle, a BigInt or a value nested too deep would break the walks below.
  const notJson = jsonIssue(input, '');
  if (notJson) {
    issues.push(notJson);
    return input as never;
  }
  unknownKeys(input, RULE_KEYS, '', issues);
  str(id, 'id', issues, { pattern: RULE_ID_PATTERN, max: 128 });
  str(input.name, 'name', issues);
  str(input.description, 'description', issues, { optional: true, max: 10_000 });
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') {
    issues.push({ path: 'enabled', message: 'must be true or false' });
  }
  str(input.integrationId, 'integrationId', issues, { max: 64 });
  str(input.triggerType, 'triggerType', issues, { max: 128 });
  if (input.triggerConfig !== undefined && !isObject(input.triggerConfig)) {
    issues.push({ path: 'triggerConfig', message: 'must be an object' });
  }
  if (input.metadata !== undefined && !isObject(input.metadata)) {
    issues.push({ path: 'metadata', message: 'must be an object' });
  }
  const conditions = normaliseConditions(input.conditions, issues);
  const actions = normaliseActions(input.actions, issues);
  return {
    id,
    name: input.name,
    ...(input.description !== undefined ? { description: input.description } : {}),
    enabled: input.enabled ?? true,
    integrationId: input.integrationId,
    triggerType: input.triggerType,
    triggerConfig: input.triggerConfig ?? {},
    conditions,
    actions,
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
  };
}

/** The rule's conditions with their ids, checked (issues under `conditions[i]`). */
function normaliseConditions(list: unknown, issues: ValidationIssue[]): RuleCondition[] {
  const conditions: RuleCondition[] = [];
  if (list !== undefined && !Array.isArray(list)) {
    issues.push({ path: 'conditions', message: 'must be an array' });
  } else if ((list?.length ?? 0) > 100) {
    issues.push({ path: 'conditions', message: 'must hold at most 100 conditions' });
  } else {
    const seen = new Set<string>();
    ((list ?? []) as unknown[]).forEach((c, i) => {
      const at = `conditions[${i}]`;
      if (!isObject(c)) {
        issues.push({ path: at, message: 'must be an object { id?, type, config }' });
        return;
      }
      unknownKeys(c, CONDITION_KEYS, at, issues);
      const cid = (c['id'] ?? `condition-${i + 1}`) as string;
      str(cid, `${at}.id`, issues, { pattern: RULE_ID_PATTERN, max: 128 });
      if (seen.has(cid)) issues.push({ path: `${at}.id`, message: `duplicate id '${cid}'` });
      seen.add(cid);
      str(c['type'], `${at}.type`, issues, { max: 128 });
      if (c['config'] === undefined) issues.push({ path: `${at}.config`, message: 'is required' });
      conditions.push({ id: cid, type: c['type'] as string, config: c['config'] });
    });
  }
  return conditions;
}

/** The rule's actions with their ids, checked (issues under `actions[i]`). */
function normaliseActions(list: unknown, issues: ValidationIssue[]): RuleAction[] {
  const actions: RuleAction[] = [];
  if (!Array.isArray(list)) {
    issues.push({ path: 'actions', message: 'must be an array' });
  } else if (list.length > 50) {
    issues.push({ path: 'actions', message: 'must hold at most 50 actions' });
  } else {
    const seen = new Set<string>();
    (list as unknown[]).forEach((a, i) => {
      const at = `actions[${i}]`;
      if (!isObject(a)) {
        issues.push({ path: at, message: 'must be an object { id?, type, config, … }' });
        return;
      }
      unknownKeys(a, ACTION_KEYS, at, issues);
      const aid = (a['id'] ?? `action-${i + 1}`) as string;
      str(aid, `${at}.id`, issues, { pattern: RULE_ID_PATTERN, max: 128 });
      if (seen.has(aid)) issues.push({ path: `${at}.id`, message: `duplicate id '${aid}'` });
      seen.add(aid);
      checkAction(a, at, issues);
      actions.push({ ...a, id: aid } as RuleAction);
    });
  }
  return actions;
}

/** Checks the fields of one action but its id. */
function checkAction(a: Record<string, unknown>, at: string, issues: ValidationIssue[]): void {
  str(a['type'], `${at}.type`, issues, { max: 128 });
  str(a['integrationId'], `${at}.integrationId`, issues, { optional: true, max: 64 });
  str(a['instanceId'], `${at}.instanceId`, issues, { optional: true, max: 512 });
  if (!isObject(a['config'])) issues.push({ path: `${at}.config`, message: 'must be an object' });
  int(a['timeoutMs'], `${at}.timeoutMs`, issues, 1, 24 * 3600 * 1000);
  const continueOnError = a['continueOnError'];
  if (continueOnError !== undefined && typeof continueOnError !== 'boolean') {
    issues.push({ path: `${at}.continueOnError`, message: 'must be true or false' });
  }
  if (a['retry'] !== undefined) checkRetry(a['retry'], `${at}.retry`, issues);
}

/** Checks a retry policy: an action's `retry`, or the engine's `retry` option. */
export function checkRetry(retry: unknown, at: string, issues: ValidationIssue[]): void {
  if (!isObject(retry)) {
    issues.push({ path: at, message: 'must be an object' });
    return;
  }
  unknownKeys(retry, RETRY_KEYS, at, issues);
  int(retry['attempts'], `${at}.attempts`, issues, 1, 20);
  int(retry['initialDelayMs'], `${at}.initialDelayMs`, issues, 0, 3_600_000);
  int(retry['maxDelayMs'], `${at}.maxDelayMs`, issues, 0, 3_600_000);
  const f = retry['factor'];
  if (f !== undefined && (typeof f !== 'number' || !(f >= 1 && f <= 10))) {
    issues.push({ path: `${at}.factor`, message: 'must be a number from 1 to 10' });
  }
  const j = retry['jitter'];
  if (j !== undefined && (typeof j !== 'number' || !(j >= 0 && j <= 1))) {
    issues.push({ path: `${at}.jitter`, message: 'must be a number from 0 to 1' });
  }
}

/** A condition compiled for evaluation. */
export type CompiledCondition =
  | {
      readonly kind: 'match';
      readonly id: string;
      readonly match: CompiledMatch;
      /**
       * Stored entries of executions that failed here: pairs of failing node and entry,
       * built on demand (at most one pair per node of the tree).
       */
      failures?: (CompiledMatch | DecidedEntry)[];
    }
  | {
      readonly kind: 'custom';
      readonly id: string;
      readonly type: string;
      readonly config: unknown;
      /** The factory the check was built from; rebuilt when the plugin's factory changes. */
      factory?: unknown;
      check?: (event: never, ctx: never) => boolean | Promise<boolean>;
    };

/** An action compiled for execution. */
export interface CompiledAction {
  readonly action: RuleAction;
  readonly integrationId: string;
  readonly template: CompiledTemplate;
  /** Index in the rule, for error paths. */
  readonly index: number;
  /** The input validator of the integration version last used. */
  validator?: {
    readonly version: string;
    readonly fn: (value: unknown) => { valid: boolean; errors: readonly ValidationIssue[] };
  };
}

/** A rule compiled for evaluation. */
export interface CompiledRule {
  readonly rule: Rule;
  readonly conditions: readonly CompiledCondition[];
  /** True when every condition is a `match` (evaluation is synchronous). */
  readonly syncConditions: boolean;
  readonly actions: readonly CompiledAction[];
  /** The stored entry of an execution whose conditions held (no actions; built on demand). */
  met?: DecidedEntry;
  /** The stored entry of an execution whose trigger filter rejected the event (built on demand). */
  notTriggered?: DecidedEntry;
  /** `{ id, type }` of the actions, built once for explanations. */
  actionList?: readonly { readonly id: string; readonly type: string }[];
  /** Trigger factory the filter was built from, and the filter. */
  trigger?: { readonly factory: unknown; readonly filter: ((event: never) => boolean) | undefined };
}

/** Compiles a stored (or about to be stored) rule; problems are appended to `issues`. */
export function compileRule(
  rule: Rule,
  operators: OperatorTable,
  issues: ValidationIssue[],
  cache: CompileCache = new CompileCache(),
): CompiledRule {
  const conditions: CompiledCondition[] = rule.conditions.map((c, i) =>
    c.type === 'match'
      ? {
          kind: 'match',
          id: c.id,
          match: compileMatch(c.config, operators, `conditions[${i}].config`, issues, cache),
        }
      : { kind: 'custom', id: c.id, type: c.type, config: c.config },
  );
  const actions = rule.actions.map(
    (a, index): CompiledAction => ({
      action: a,
      integrationId: a.integrationId ?? rule.integrationId,
      template: cachedTemplate(a.config ?? {}, `actions[${index}].config`, issues, cache),
      index,
    }),
  );
  return {
    rule,
    conditions,
    syncConditions: conditions.every((c) => c.kind === 'match'),
    actions,
  };
}

function cachedTemplate(
  config: Readonly<Record<string, unknown>>,
  at: string,
  issues: ValidationIssue[],
  cache: CompileCache,
): CompiledTemplate {
  let key: string | undefined;
  try {
    key = JSON.stringify(config);
  } catch {
    key = undefined;
  }
  const hit = key !== undefined ? cache.templates.get(key) : undefined;
  if (hit) return hit as CompiledTemplate;
  const before = issues.length;
  const compiled = compileTemplates(config, at, issues);
  if (key !== undefined && issues.length === before) {
    if (cache.templates.size >= 50_000) cache.templates.clear();
    cache.templates.set(key, compiled);
  }
  return compiled;
}
