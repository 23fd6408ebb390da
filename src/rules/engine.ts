/**
 * `RuleEngine`: stores rules, compiles them once, and runs them on events.
 *
 * @module
 */
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import type { ConfigManager } from '../config/manager.js';
import type { InstanceView } from '../config/types.js';
import { scrub, scrubJson, secretStrings } from '../credentials/redact.js';
import {
  isPlugboardError,
  NotFoundError,
  type Reference,
  StorageClosedError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import { Semaphore, Shutdown, sleep, withTimeout } from '../internal/async.js';
import { isoNow } from '../internal/clock.js';
import { deepFreeze, frozenJson, shareFrozen } from '../internal/json.js';
import type { IntegrationRegistry } from '../registry/index.js';
import type {
  ActionContext,
  ConditionContext,
  ExecutionLogger,
  IntegrationEvent,
  LogLevel,
  RegisteredAction,
  RegisteredCondition,
  RegisteredTrigger,
} from '../schema/runtime.js';
import type { Collection, StorageAdapter } from '../storage/types.js';
import {
  CompileCache,
  type CompiledMatch,
  errText,
  explainMatch,
  failAt,
  failureAt,
  suggest,
  whyMatch,
} from './compile.js';
import type { RuleEngineEvents } from './events.js';
import {
  type DecidedEntry,
  type DispatchBatch,
  decidedFailure,
  ExecutionStore,
  type LogEntry,
  type RecordEntry,
  type RetentionOptions,
  type StaleRules,
  suffix,
} from './history/index.js';
import { type OperatorFn, type OperatorOptions, OperatorTable } from './operators.js';
import {
  type CompiledAction,
  type CompiledCondition,
  type CompiledRule,
  compileRule,
  normaliseRule,
} from './rule-shape.js';
import type {
  ActionResult,
  ConditionFailure,
  Execution,
  ExecutionComponent,
  ExecutionLog,
  ExecutionQuery,
  ExplainedCondition,
  ExplainedNode,
  RetryPolicy,
  Rule,
  RuleChanges,
  RuleEvaluation,
  RuleInput,
} from './types.js';

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
  /** At most this many action attempts run at once, over all dispatches. Default 16. */
  readonly maxConcurrentActions?: number;
  /** Time limit of one action attempt, in ms, unless the action sets `timeoutMs`. Default 30 000. */
  readonly actionTimeoutMs?: number;
  /** Retry policy of actions that set none. Default: 1 attempt (no retry). */
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
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const RESOLVED = Promise.resolve();
const RULE_INDEXES = ['integrationId', 'triggerType', 'enabled'];

interface DispatchRuntime {
  /** The integration version (only looked up when payloads are validated). */
  readonly version: string;
  readonly trigger: RegisteredTrigger | undefined;
  /** Condition types with their factories, fetched on first use. */
  readonly conditions: () => Promise<readonly RegisteredCondition[]>;
}

/** Lookups shared by the actions of one dispatch (many rules use the same integration). */
interface DispatchScope {
  readonly actions: Map<string, Promise<{ version: string; actions: readonly RegisteredAction[] }>>;
  readonly instances: Map<string, Promise<InstanceView>>;
  readonly enabled: Map<string, Promise<boolean>>;
}

function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
  }
  return p;
}

/** The log array of executions with nothing to log (never written to). */
const NO_LOGS: LogEntry[] = Object.freeze([]) as unknown as LogEntry[];

/** An execution that awaited something, finished and sealed but not recorded yet. */
interface Finished {
  readonly exec: Execution;
  readonly logs: LogEntry[];
}

/** The place of an execution still running in a dispatch's batch. */
const PENDING: RecordEntry = Object.freeze({ ruleRevision: 0, conditionsMet: false });

/**
 * Drops the places of executions still running from `batch` (they are recorded on their
 * own when they finish), renumbering the batch positions in `slots`.
 */
function dropPending(
  batch: DispatchBatch,
  slots: (Promise<Execution | undefined> | number | undefined)[],
): void {
  const moved = new Array<number>(batch.entries.length);
  let k = 0;
  for (let i = 0; i < batch.entries.length; i++) {
    if (batch.entries[i] === PENDING) continue;
    moved[i] = k;
    batch.ruleIds[k] = batch.ruleIds[i]!;
    batch.seq[k] = batch.seq[i]!;
    batch.entries[k] = batch.entries[i]!;
    batch.logs[k] = batch.logs[i]!;
    k++;
  }
  batch.ruleIds.length = k;
  batch.seq.length = k;
  batch.entries.length = k;
  batch.logs.length = k;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (typeof s === 'number') slots[i] = moved[s];
  }
}

/** Resolves on the next turn of the event loop; `cancel` stops it. */
function nextTurn(): { readonly promise: Promise<void>; readonly cancel: () => void } {
  let handle: ReturnType<typeof setImmediate> | undefined;
  const promise = new Promise<void>((resolve) => {
    handle = setImmediate(resolve);
  });
  return { promise, cancel: () => clearImmediate(handle) };
}

/** Ids of one dispatch's executions: `<base>.<n>`, n counting up. */
interface DispatchIds {
  readonly base: string;
  n: number;
}

interface ExecutionDraft {
  id: string;
  ruleId: string;
  ruleRevision: number;
  integrationId: string;
  triggerType: string;
  triggered: true;
  conditionsMet: boolean;
  successful: boolean;
  startTime: string;
  endTime: string;
  triggerData: unknown;
  resultData?: { readonly actions: readonly ActionResult[] };
  error?: string;
  failedCondition?: ConditionFailure;
}

/**
 * An execution as stored: the draft itself, frozen with its revision. Everything in a
 * draft is JSON the engine built (the event is a frozen snapshot; action outputs went
 * through `toJson`; a failed condition comes frozen from `whyMatch`).
 */
function seal(draft: ExecutionDraft): Execution {
  // Its parts are frozen as they are built (action results, outputs, failures).
  (draft as { revision?: number }).revision = 1;
  return Object.freeze(draft) as unknown as Execution;
}

/**
 * A handler's output or log data as frozen JSON. Plain JSON is copied directly; anything
 * else (class instances, `toJSON`, `NaN`) goes through `JSON.stringify`, as it would on
 * the wire, and what cannot be serialised at all becomes its string.
 */
function toJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  } else {
    try {
      return frozenJson(value, 'output');
    } catch {
      // not plain JSON: serialise it below
    }
  }
  try {
    const s = JSON.stringify(value);
    return s === undefined ? undefined : deepFreeze(JSON.parse(s));
  } catch {
    return String(value);
  }
}

/**
 * A handler's output or log data, when it read credentials: frozen JSON (see `toJson`)
 * scrubbed of their secrets.
 */
function scrubbedJson(value: unknown, secrets: readonly string[]): unknown {
  const json = toJson(value);
  const clean = scrubJson(json, secrets);
  return clean === json || clean === null || typeof clean !== 'object'
    ? clean
    : frozenJson(clean, 'output');
}

/** `T` with its fields writable, for results built up before they are frozen. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Both lists of secrets, longest first (so a secret containing another is replaced whole). */
function mergeSecrets(
  known: readonly string[] | undefined,
  more: readonly string[],
): readonly string[] {
  if (!known) return more;
  return [...new Set([...known, ...more])].sort((a, b) => b.length - a.length);
}

function keyOf(integrationId: string, triggerType: string): string {
  return `${integrationId}\u0000${triggerType}`;
}

/** Rebases schema issues from a validator root (`input`) onto a rule path (`actions[0].config`). */
function rebase(issues: readonly ValidationIssue[], root: string, to: string): ValidationIssue[] {
  return issues.map((i) => {
    const p = i.path;
    const rest =
      p === root
        ? ''
        : p.startsWith(`${root}.`) || p.startsWith(`${root}[`)
          ? p.slice(root.length)
          : `.${p}`;
    return { path: `${to}${rest}`, message: i.message };
  });
}

/**
 * Stores rules, compiles their conditions once, indexes them by `(integrationId,
 * triggerType)` and runs them on events, recording executions and logs.
 *
 * @example
 * ```ts
 * const rules = new RuleEngine({ storage, registry, config });
 * await rules.createRule({
 *   name: 'Big charges to Slack',
 *   integrationId: 'stripe',
 *   triggerType: 'charge.succeeded',
 *   conditions: [{ type: 'match', config: { path: 'payload.amount', operator: 'greaterThan', value: 10_000 } }],
 *   actions: [{ type: 'send_message', integrationId: 'slack', config: { channel: '#sales', text: 'New charge from {{ payload.customer.email }}' } }],
 * });
 * const executions = await rules.dispatch({ integrationId: 'stripe', type: 'charge.succeeded', payload });
 * ```
 */
export class RuleEngine extends EventEmitter<RuleEngineEvents> {
  private readonly storage: StorageAdapter;
  private readonly registry: IntegrationRegistry;
  private readonly config: ConfigManager;
  private readonly rules: Collection<Rule>;
  private readonly store: ExecutionStore;
  private readonly operators = new OperatorTable();
  private readonly cache = new CompileCache();
  private readonly validatePayloads: boolean;
  private readonly recordUnmatched: boolean;
  private readonly actionTimeoutMs: number;
  private readonly retry: Required<RetryPolicy>;
  private readonly minLevel: number;
  private readonly closeGraceMs: number;
  private readonly semaphore: Semaphore;
  private readonly abort = new Shutdown();
  private readonly byId = new Map<string, CompiledRule>();
  private readonly triggerMaps = new WeakMap<object, Map<string, RegisteredTrigger>>();
  /** Buckets holding a rule with integration conditions (evaluated with awaits). */
  private readonly asyncBuckets = new WeakSet<CompiledRule[]>();
  private readonly index = new Map<string, CompiledRule[]>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Running dispatches, with the value of `deletions` when each began. */
  private readonly running = new Map<Promise<unknown>, number>();
  /** Rule deletions so far that running dispatches may have overlapped. */
  private deletions = 0;
  /**
   * Rule id → the value of `deletions` its last deletion took, kept while dispatches
   * that began before it may still record its executions (which are then not stored).
   */
  private readonly deletedAt = new Map<string, number>();
  private readonly idPrefix: string;
  private readonly unregisterChecker: () => void;
  private readonly unregisterInstanceChecker: () => void;
  private readonly pruneTimer: ReturnType<typeof setInterval> | undefined;
  private idCounter = 0;
  private loading: Promise<void> | undefined;
  private loaded = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  /**
   * @throws ValidationError for invalid options
   */
  constructor(options: RuleEngineOptions) {
    super();
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
    const positive = (v: unknown, path: string): void => {
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) {
        issues.push({ path, message: 'must be a positive integer' });
      }
    };
    positive(options.maxConcurrentActions, 'maxConcurrentActions');
    positive(options.actionTimeoutMs, 'actionTimeoutMs');
    positive(options.pruneIntervalMs, 'pruneIntervalMs');
    if (
      options.closeGraceMs !== undefined &&
      (!Number.isInteger(options.closeGraceMs) || options.closeGraceMs < 0)
    ) {
      issues.push({ path: 'closeGraceMs', message: 'must be a non-negative integer' });
    }
    if (options.logLevel !== undefined && !Object.hasOwn(LEVELS, options.logLevel)) {
      issues.push({ path: 'logLevel', message: 'must be debug, info, warn or error' });
    }
    if (issues.length > 0) throw new ValidationError(issues, 'rule engine options');
    this.storage = options.storage;
    this.registry = options.registry;
    this.config = options.config;
    this.validatePayloads = options.validatePayloads ?? true;
    this.recordUnmatched = options.recordUnmatched ?? true;
    this.actionTimeoutMs = options.actionTimeoutMs ?? 30_000;
    this.retry = {
      attempts: options.retry?.attempts ?? 1,
      initialDelayMs: options.retry?.initialDelayMs ?? 200,
      factor: options.retry?.factor ?? 2,
      maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
    };
    this.minLevel = LEVELS[options.logLevel ?? 'info'];
    this.closeGraceMs = options.closeGraceMs ?? 10_000;
    this.semaphore = new Semaphore(options.maxConcurrentActions ?? 16);
    // Every running attempt listens for shutdown; that is not a leak.
    setMaxListeners(0, this.abort.signal);
    this.rules = this.storage.collection<Rule>('rules', { indexes: RULE_INDEXES });
    this.store = new ExecutionStore(this.storage, options.retention);
    this.idPrefix = `ex_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}_`;
    this.unregisterChecker = this.registry.addReferenceChecker((ref) => this.referencesTo(ref));
    this.unregisterInstanceChecker = this.config.addReferenceChecker((id) => this.rulesNaming(id));
    if (options.retention?.maxAgeMs !== undefined) {
      this.pruneTimer = setInterval(() => {
        this.prune().catch(() => undefined);
      }, options.pruneIntervalMs ?? 60_000);
      this.pruneTimer.unref?.();
    }
  }

  // ---------------------------------------------------------------- loading

  /**
   * Loads and compiles the stored rules (done once, implicitly, by every other method).
   * Stored rules that no longer compile (e.g. a custom operator not added yet) are left
   * out of the index and reported with `rule:load-failed`.
   */
  ready(): Promise<void> {
    if (this.loaded) return RESOLVED;
    if (!this.loading) {
      this.loading = this.load().then(
        () => {
          this.loaded = true;
        },
        (e: unknown) => {
          this.loading = undefined;
          throw e;
        },
      );
    }
    return this.loading;
  }

  private async load(): Promise<void> {
    await this.store.migrate();
    const { items } = await this.rules.find({ orderBy: { field: 'createdAt' } });
    for (const rule of items) this.install(rule, true);
  }

  /** Re-reads every rule from storage (e.g. after another process changed them). */
  async reload(): Promise<void> {
    this.assertOpen();
    await this.ready();
    this.byId.clear();
    this.index.clear();
    await this.load();
  }

  /** Compiles and indexes a stored rule. */
  private install(rule: Rule, fromStorage: boolean): CompiledRule | undefined {
    const issues: ValidationIssue[] = [];
    const compiled = compileRule(rule, this.operators, issues, this.cache);
    this.uninstall(rule.id);
    if (issues.length > 0) {
      if (!fromStorage) throw new ValidationError(issues, `rule '${rule.id}'`);
      this.emit(
        'rule:load-failed',
        rule.id,
        new ValidationError(issues, `stored rule '${rule.id}'`),
      );
      return undefined;
    }
    this.byId.set(rule.id, compiled);
    if (rule.enabled) {
      const key = keyOf(rule.integrationId, rule.triggerType);
      let bucket = this.index.get(key);
      if (!bucket) {
        bucket = [];
        this.index.set(key, bucket);
      }
      bucket.push(compiled);
      if (!compiled.syncConditions) this.asyncBuckets.add(bucket);
    }
    return compiled;
  }

  private uninstall(ruleId: string): void {
    const old = this.byId.get(ruleId);
    if (!old) return;
    this.byId.delete(ruleId);
    const key = keyOf(old.rule.integrationId, old.rule.triggerType);
    const bucket = this.index.get(key);
    if (!bucket) return;
    const i = bucket.indexOf(old);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 0) this.index.delete(key);
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageClosedError('RuleEngine is closed; create a new one');
  }

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? RESOLVED;
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  // ---------------------------------------------------------------- operators

  /**
   * Adds a custom operator for `match` leaves. `fn` is only called when the leaf's path
   * is present in the event. Stored rules that failed to load for want of it are
   * compiled again.
   *
   * @example
   * ```ts
   * rules.addOperator('divisibleBy', (a, b) => typeof a === 'number' && a % (b as number) === 0,
   *   { valueSchema: { type: 'number', exclusiveMinimum: 0 } });
   * ```
   * @throws ConflictError when the name exists; ValidationError for a bad name or schema
   */
  addOperator(name: string, fn: OperatorFn, options?: OperatorOptions): void {
    this.operators.add(name, fn, options);
    if (this.loaded) {
      this.reload().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- validation

  private async validate(rule: Rule, issues: ValidationIssue[]): Promise<void> {
    // Shape and compile problems come first; registry checks only on a sane rule.
    compileRule(rule, this.operators, issues, this.cache);
    if (issues.length > 0) return;
    let version: string | undefined;
    try {
      const def = await this.registry.get(rule.integrationId);
      version = def.version;
      if (!(await this.config.isEnabled(rule.integrationId))) {
        issues.push({
          path: 'integrationId',
          message: `integration '${rule.integrationId}' is disabled; enable it with config.updateConfig('${rule.integrationId}', { enabled: true })`,
        });
      }
      const trigger = def.triggers.find((t) => t.type === rule.triggerType);
      if (!trigger) {
        const types = def.triggers.map((t) => t.type);
        issues.push({
          path: 'triggerType',
          message: `'${rule.integrationId}@${def.version}' has no trigger '${rule.triggerType}'${suggest(rule.triggerType, types)}`,
        });
      } else {
        const r = this.registry.getValidator(rule.integrationId, def.version, {
          kind: 'trigger-config',
          type: rule.triggerType,
        })(rule.triggerConfig);
        if (!r.valid) issues.push(...rebase(r.errors, 'triggerConfig', 'triggerConfig'));
      }
      rule.conditions.forEach((c, i) => {
        if (c.type === 'match') return;
        const known = def.conditions.find((d) => d.type === c.type);
        if (!known) {
          const types = ['match', ...def.conditions.map((d) => d.type)];
          issues.push({
            path: `conditions[${i}].type`,
            message: `unknown condition type '${c.type}' (use 'match' or a condition of '${rule.integrationId}')${suggest(c.type, types)}`,
          });
          return;
        }
        const r = this.registry.getValidator(rule.integrationId, def.version, {
          kind: 'condition-config',
          type: c.type,
        })(c.config);
        if (!r.valid) issues.push(...rebase(r.errors, 'config', `conditions[${i}].config`));
      });
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
      issues.push({ path: 'integrationId', message: e.message });
    }
    if (version === undefined) return;
    const compiled = compileRule(rule, this.operators, [], this.cache);
    for (const ca of compiled.actions) await this.validateAction(rule, ca, issues);
  }

  private async validateAction(
    rule: Rule,
    ca: CompiledAction,
    issues: ValidationIssue[],
  ): Promise<void> {
    const at = `actions[${ca.index}]`;
    const aid = ca.integrationId;
    let def: Awaited<ReturnType<IntegrationRegistry['get']>>;
    try {
      def = await this.registry.get(aid);
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
      issues.push({ path: `${at}.integrationId`, message: e.message });
      return;
    }
    if (aid !== rule.integrationId && !(await this.config.isEnabled(aid))) {
      issues.push({ path: `${at}.integrationId`, message: `integration '${aid}' is disabled` });
    }
    const known = def.actions.find((a) => a.type === ca.action.type);
    if (!known) {
      issues.push({
        path: `${at}.type`,
        message: `'${aid}@${def.version}' has no action '${ca.action.type}'${suggest(
          ca.action.type,
          def.actions.map((a) => a.type),
        )}`,
      });
      return;
    }
    const r = this.registry.getValidator(aid, def.version, {
      kind: 'action-input',
      type: ca.action.type,
    })(ca.action.config);
    if (!r.valid) {
      // Templated values are checked at run time, once resolved.
      const templated = ca.template.templatedFields.map((f) => (f ? `input.${f}` : 'input'));
      const kept = r.errors.filter(
        (i) =>
          !templated.some(
            (t) => i.path === t || i.path.startsWith(`${t}.`) || i.path.startsWith(`${t}[`),
          ),
      );
      issues.push(...rebase(kept, 'input', `${at}.config`));
    }
    if (ca.action.instanceId !== undefined) {
      try {
        const inst = await this.config.getInstance(ca.action.instanceId);
        if (inst.integrationId !== aid) {
          issues.push({
            path: `${at}.instanceId`,
            message: `instance '${ca.action.instanceId}' belongs to '${inst.integrationId}', not '${aid}'`,
          });
        }
      } catch (e) {
        if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
        issues.push({ path: `${at}.instanceId`, message: e.message });
      }
    }
  }

  // ---------------------------------------------------------------- CRUD

  /**
   * Checks a rule input exactly as {@link RuleEngine.createRule} would, without saving.
   * Never throws for an invalid rule.
   */
  async validateRule(input: RuleInput): Promise<{ valid: boolean; errors: ValidationIssue[] }> {
    await this.ready();
    const issues: ValidationIssue[] = [];
    const id = input?.id ?? 'rule_validation';
    const now = new Date().toISOString();
    const base = normaliseRule(input, id, issues);
    if (issues.length === 0) {
      await this.validate({ ...base, revision: 0, createdAt: now, updatedAt: now }, issues);
    }
    return { valid: issues.length === 0, errors: issues };
  }

  /**
   * Validates and stores a new rule, compiled and indexed at once.
   *
   * @throws ValidationError with paths such as `actions[1].config.channel`
   * @throws ConflictError when the id exists
   */
  async createRule(input: RuleInput): Promise<Rule> {
    this.assertOpen();
    await this.ready();
    const issues: ValidationIssue[] = [];
    const id = input?.id ?? `rule_${globalThis.crypto.randomUUID()}`;
    const now = new Date().toISOString();
    const base = normaliseRule(input, id, issues);
    if (issues.length > 0) throw new ValidationError(issues, 'rule');
    const draft: Rule = { ...base, revision: 0, createdAt: now, updatedAt: now };
    await this.validate(draft, issues);
    if (issues.length > 0) throw new ValidationError(issues, 'rule');
    return this.withLock(id, async () => {
      const { revision: _r, ...doc } = draft;
      const stored = await this.rules.insert(doc);
      this.install(stored, false);
      this.emit('rule:created', stored);
      return stored;
    });
  }

  /**
   * Changes a rule (validated as a whole again) and recompiles it.
   *
   * @throws NotFoundError; ValidationError; ConflictError when `expectedRevision` is stale
   */
  async updateRule(
    id: string,
    changes: RuleChanges,
    opts: { expectedRevision?: number } = {},
  ): Promise<Rule> {
    this.assertOpen();
    await this.ready();
    if (changes === null || typeof changes !== 'object' || 'id' in changes) {
      throw new ValidationError(
        [{ path: 'changes', message: 'must be an object without id' }],
        'rule changes',
      );
    }
    return this.withLock(id, async () => {
      const current = await this.getRule(id);
      if (opts.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
        // Let storage produce the standard ConflictError.
        await this.rules.update(id, {}, { expectedRevision: opts.expectedRevision });
      }
      const issues: ValidationIssue[] = [];
      const { revision, createdAt, updatedAt, ...rest } = current;
      const merged = { ...rest, ...changes } as RuleInput;
      const base = normaliseRule(merged, id, issues);
      if (issues.length > 0) throw new ValidationError(issues, 'rule');
      const next: Rule = { ...base, revision, createdAt, updatedAt: new Date().toISOString() };
      // Disabling never needs the registry; anything else is checked again.
      if (!(Object.keys(changes).length === 1 && changes.enabled === false)) {
        await this.validate(next, issues);
        if (issues.length > 0) throw new ValidationError(issues, 'rule');
      }
      const { id: _id, revision: _rev, ...fields } = next;
      const cleared = {
        description: next.description,
        metadata: next.metadata,
      };
      const stored = await this.rules.update(
        id,
        { ...cleared, ...fields },
        { expectedRevision: current.revision },
      );
      this.install(stored, false);
      this.emit('rule:updated', stored, current);
      return stored;
    });
  }

  /** Deletes a rule with its executions and logs. @throws NotFoundError */
  async deleteRule(id: string): Promise<void> {
    this.assertOpen();
    await this.ready();
    await this.withLock(id, async () => {
      const current = await this.getRule(id);
      await this.rules.delete(id);
      this.uninstall(id);
      // Dispatches already running may still finish executions of this rule: they are
      // not recorded, and the ones already being written are removed below.
      if (this.running.size > 0) this.markDeleted(id);
      await this.store.deleteForRule(id);
      this.emit('rule:deleted', current);
    });
  }

  /** Notes the deletion of `id` for the running dispatches, forgetting older notes. */
  private markDeleted(id: string): void {
    this.deletedAt.set(id, ++this.deletions);
    if (this.deletedAt.size <= 64) return;
    // Notes no running dispatch can need: it began after them.
    let oldest = this.deletions;
    for (const began of this.running.values()) if (began < oldest) oldest = began;
    for (const [rule, at] of this.deletedAt) if (at <= oldest) this.deletedAt.delete(rule);
  }

  /** Enables a rule (validated again against the registry). */
  async enableRule(id: string): Promise<Rule> {
    return this.updateRule(id, { enabled: true });
  }

  /** Disables a rule; it stays stored but never fires. */
  async disableRule(id: string): Promise<Rule> {
    return this.updateRule(id, { enabled: false });
  }

  /** One rule. @throws NotFoundError suggesting close ids */
  async getRule(id: string): Promise<Rule> {
    await this.ready();
    const rule = await this.rules.get(id);
    if (!rule) throw new NotFoundError('rule', id, { suggestions: this.closeIds(id) });
    return rule;
  }

  private closeIds(id: string): string[] {
    const hint = suggest(id, [...this.byId.keys()].slice(0, 10_000));
    const m = /'([^']+)'/.exec(hint);
    return m?.[1] ? [m[1]] : [];
  }

  /** Every rule whose trigger belongs to an integration, in creation order. */
  async getRulesByIntegration(integrationId: string): Promise<Rule[]> {
    await this.ready();
    const { items } = await this.rules.find({
      where: { integrationId },
      orderBy: { field: 'createdAt' },
    });
    return items;
  }

  /** Rules, filtered and paged (ordered by creation time). */
  async listRules(
    query: {
      integrationId?: string;
      triggerType?: string;
      enabled?: boolean;
      limit?: number;
      cursor?: string;
    } = {},
  ): Promise<{ items: Rule[]; nextCursor?: string }> {
    await this.ready();
    const where: Record<string, string | boolean> = {};
    if (query.integrationId !== undefined) where['integrationId'] = query.integrationId;
    if (query.triggerType !== undefined) where['triggerType'] = query.triggerType;
    if (query.enabled !== undefined) where['enabled'] = query.enabled;
    return this.rules.find({
      where,
      orderBy: { field: 'createdAt' },
      limit: query.limit ?? 50,
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    });
  }

  /** Executions of a rule, newest first. */
  async getRuleExecutions(
    ruleId: string,
    query: ExecutionQuery = {},
  ): Promise<{ items: Execution[]; nextCursor?: string }> {
    return this.store.listForRule(ruleId, query);
  }

  /** Log entries of an execution, oldest first. @throws NotFoundError for an unknown execution */
  async getExecutionLogs(executionId: string): Promise<ExecutionLog[]> {
    return this.store.logsOf(executionId);
  }

  /** Applies retention now (age limits also run on a timer when `maxAgeMs` is set). */
  async prune(): Promise<number> {
    await this.ready();
    return this.store.prune(this.byId.keys());
  }

  private async referencesTo(ref: { id: string; version?: string }): Promise<Reference[]> {
    await this.ready();
    if (ref.version !== undefined) {
      // Rules follow the highest published version; other versions are free to go.
      try {
        if ((await this.registry.get(ref.id)).version !== ref.version) return [];
      } catch {
        // No published version left: every rule of the integration still refers to it.
      }
    }
    const refs: Reference[] = [];
    for (const { rule, actions } of this.byId.values()) {
      if (rule.integrationId === ref.id || actions.some((a) => a.integrationId === ref.id)) {
        refs.push({ kind: 'rule', id: rule.id });
      }
    }
    return refs;
  }

  /** The rules with an action naming `instanceId` as its instance. */
  private async rulesNaming(instanceId: string): Promise<Reference[]> {
    await this.ready();
    const refs: Reference[] = [];
    for (const { rule, actions } of this.byId.values()) {
      if (actions.some((a) => a.action.instanceId === instanceId)) {
        refs.push({ kind: 'rule', id: rule.id });
      }
    }
    return refs;
  }

  // ---------------------------------------------------------------- runtime lookups

  private async runtimeFor(
    event: IntegrationEvent,
    withVersion: boolean,
  ): Promise<DispatchRuntime | undefined> {
    const id = event.integrationId;
    try {
      const triggers = await this.registry.getAvailableTriggers(id);
      // The registry hands out the same array until the definition or its runtime changes.
      let byType = this.triggerMaps.get(triggers);
      if (!byType) {
        byType = new Map(triggers.map((t) => [t.type, t]));
        this.triggerMaps.set(triggers, byType);
      }
      let conditions: Promise<readonly RegisteredCondition[]> | undefined;
      return {
        version: withVersion ? (await this.registry.get(id)).version : '',
        trigger: byType.get(event.type),
        conditions: () => {
          conditions ??= this.registry.getAvailableConditions(id);
          return conditions;
        },
      };
    } catch (e) {
      if (isPlugboardError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  /** The event's trigger with its runtime part; undefined when the integration or type is unknown. */
  private triggerFor(event: IntegrationEvent): Promise<RegisteredTrigger | undefined> {
    return this.registry.getAvailableTriggers(event.integrationId).then(
      (triggers) => {
        let byType = this.triggerMaps.get(triggers);
        if (!byType) {
          byType = new Map(triggers.map((t) => [t.type, t]));
          this.triggerMaps.set(triggers, byType);
        }
        return byType.get(event.type);
      },
      (e: unknown) => {
        if (isPlugboardError(e, 'NOT_FOUND')) return undefined;
        throw e;
      },
    );
  }

  /** The rule's trigger filter, rebuilt when the plugin's factory changed. */
  private filterOf(cr: CompiledRule, trigger: RegisteredTrigger | undefined) {
    const factory = trigger?.factory;
    if (cr.trigger?.factory !== factory || cr.trigger === undefined) {
      const filter = factory
        ? (factory.call(trigger, cr.rule.triggerConfig) as (event: never) => boolean)
        : undefined;
      cr.trigger = { factory, filter };
    }
    return cr.trigger.filter as ((event: IntegrationEvent) => boolean) | undefined;
  }

  private customCheck(
    c: Extract<CompiledCondition, { kind: 'custom' }>,
    available: readonly RegisteredCondition[],
  ): (event: IntegrationEvent, ctx: ConditionContext) => boolean | Promise<boolean> {
    const def = available.find((d) => d.type === c.type);
    if (!def?.factory) {
      throw new Error(
        def
          ? `condition type '${c.type}' has no runtime factory (is its plugin loaded?)`
          : `condition type '${c.type}' no longer exists`,
      );
    }
    if (c.factory !== def.factory || !c.check) {
      c.check = def.factory.call(def, c.config) as never;
      c.factory = def.factory;
    }
    return c.check as never;
  }

  private validatePayload(event: IntegrationEvent, rt: DispatchRuntime): void {
    if (!this.validatePayloads || !rt.trigger) return;
    const r = this.registry.getValidator(event.integrationId, rt.version, {
      kind: 'trigger-payload',
      type: event.type,
    })(event.payload);
    if (!r.valid)
      throw new ValidationError(
        r.errors,
        `payload of '${event.integrationId}' event '${event.type}'`,
      );
  }

  // ---------------------------------------------------------------- dispatch

  /**
   * Runs every enabled rule of the event's `(integrationId, type)`: records one
   * execution per rule whose trigger fired (conditions met or not) and resolves with
   * them once their actions finished. Nothing runs while the integration is disabled.
   *
   * @throws ValidationError for a malformed event, or a payload that fails the trigger's
   *   `payloadSchema` (with `validatePayloads` on)
   */
  async dispatch(event: IntegrationEvent): Promise<Execution[]> {
    this.assertOpen();
    checkEvent(event);
    if (!this.loaded) await this.ready();
    const bucket = this.index.get(keyOf(event.integrationId, event.type));
    if (!bucket || bucket.length === 0) return [];
    const task = this.dispatchBucket(event, bucket);
    this.running.set(task, this.deletions);
    try {
      return await task;
    } finally {
      this.running.delete(task);
      if (this.running.size === 0 && this.deletedAt.size > 0) this.deletedAt.clear();
    }
  }

  private async dispatchBucket(
    event: IntegrationEvent,
    bucket: readonly CompiledRule[],
  ): Promise<Execution[]> {
    const [enabled, rt] = await Promise.all([
      this.config.isEnabled(event.integrationId),
      this.runtimeFor(event, this.validatePayloads),
    ]);
    if (!enabled || !rt?.trigger) return [];
    this.validatePayload(event, rt);
    const now = isoNow();
    // One frozen copy of the event serves every execution this dispatch records: storage
    // shares it instead of copying it once per rule.
    const triggerData = frozenJson(event, 'event');
    // Executions are numbered within the dispatch: `<dispatch id>.<n>`.
    const ids: DispatchIds = { base: this.nextId(), n: 0 };
    const scope: DispatchScope = { actions: new Map(), instances: new Map(), enabled: new Map() };
    this.cache.nextEpoch();
    // The executions decided without awaiting anything, and those that awaited something
    // (actions, async conditions) but finished within the same turn of the event loop,
    // are recorded together as one record (one round of storage writes). An execution
    // finishing later gets a record of its own. `slots` keeps the bucket's order: a
    // number is a position in the batch, a promise an execution recorded on its own.
    const slots: (Promise<Execution | undefined> | number | undefined)[] = [];
    const batch: DispatchBatch = {
      id: ids.base,
      startTime: now,
      integrationId: event.integrationId,
      triggerType: event.type,
      triggerData,
      ruleIds: [],
      seq: [],
      entries: [],
      logs: [],
    };
    const add = (ruleId: string, n: number, entry: RecordEntry, logs: LogEntry[]): number => {
      batch.ruleIds.push(ruleId);
      batch.seq.push(n);
      batch.logs.push(logs);
      return batch.entries.push(entry) - 1;
    };
    const settle = (ruleId: string, n: number, entry: RecordEntry, logs: LogEntry[]): void => {
      slots.push(add(ruleId, n, entry, logs));
    };
    // An execution that awaits keeps its place in the batch (so the rule id list stays in
    // bucket order, the same for every event of a busy trigger type, and storage shares
    // it) until it finishes; a place still empty when the record is written is dropped.
    let open = true;
    const waiting: Promise<void>[] = [];
    let empty = 0;
    const debug = this.minLevel <= LEVELS.debug;
    // Snapshot: rules changed during the dispatch do not affect it. The executions of a
    // rule deleted from here on are returned but not recorded (see `deleteRule`).
    const since = this.deletions;
    const stale: StaleRules = () =>
      this.deletions === since ? undefined : (id) => (this.deletedAt.get(id) ?? 0) > since;
    for (const cr of bucket.slice()) {
      let fired: boolean;
      try {
        const filter = this.filterOf(cr, rt.trigger);
        fired = filter ? filter(event) === true : true;
      } catch (e) {
        const logs: LogEntry[] = [];
        const draft = this.draft(cr, event, now, triggerData, ids);
        draft.successful = false;
        draft.error = `trigger filter failed: ${errText(e)}`;
        this.log(logs, 'error', 'trigger', draft.error, undefined, event.type);
        settle(cr.rule.id, ids.n - 1, seal(draft), logs);
        continue;
      }
      if (!fired) continue;
      let failed: Extract<CompiledCondition, { kind: 'match' }> | undefined;
      let at: CompiledMatch | undefined;
      let thrown: { error: unknown } | undefined;
      if (cr.syncConditions) {
        try {
          failed = firstFailing(cr, event);
          at = failedNode;
        } catch (error) {
          thrown = { error };
        }
        if (failed && !this.recordUnmatched) continue;
      }
      if (!cr.syncConditions || (!thrown && !failed && cr.actions.length > 0)) {
        const logs: LogEntry[] = [];
        const draft = this.draft(cr, event, now, triggerData, ids);
        const n = ids.n - 1;
        this.log(logs, 'debug', 'trigger', 'trigger fired', undefined, event.type);
        const pos = add(cr.rule.id, n, PENDING, NO_LOGS);
        const slot = slots.push(pos) - 1;
        empty++;
        waiting.push(
          this.runAsync(cr, event, draft, logs, rt, scope).then((done) => {
            if (open) {
              // Filled (or, when it is not to be recorded, left empty and dropped).
              if (done) {
                batch.entries[pos] = done.exec;
                batch.logs[pos] = done.logs;
                empty--;
              } else {
                slots[slot] = undefined;
              }
              return;
            }
            if (!done) {
              slots[slot] = undefined;
            } else {
              const recorded = this.finish(done.exec, done.logs, stale);
              recorded.catch(() => undefined); // observed with the other slots
              slots[slot] = recorded;
            }
          }),
        );
        continue;
      }
      // Decided now: most executions of a busy trigger type, so no log array unless needed.
      let logs: LogEntry[] = debug ? [] : NO_LOGS;
      if (debug) this.log(logs, 'debug', 'trigger', 'trigger fired', undefined, event.type);
      if (thrown) {
        if (logs === NO_LOGS) logs = [];
        const draft = this.draft(cr, event, now, triggerData, ids);
        settle(cr.rule.id, ids.n - 1, seal(this.conditionError(draft, logs, thrown.error)), logs);
        continue;
      }
      const n = this.startExecution(cr, event, now, ids);
      if (failed) {
        if (debug) {
          this.log(
            logs,
            'debug',
            'condition',
            `condition '${failed.id}' not met`,
            whyMatch(failed.match, event, failed.id),
            failed.id,
          );
        }
        settle(cr.rule.id, n, failedEntry(cr, failed, at!), logs);
      } else {
        cr.met ??= shareFrozen({ ruleRevision: cr.rule.revision, conditionsMet: true });
        settle(cr.rule.id, n, cr.met, logs);
      }
    }
    let all: Promise<unknown> | undefined;
    if (waiting.length > 0) {
      // Wait for the executions that finish within this turn (quick actions), no longer.
      all = Promise.all(waiting);
      all.catch(() => undefined); // observed below; this only keeps an early failure handled
      const turn = nextTurn();
      await Promise.race([all, turn.promise]).catch(() => undefined);
      turn.cancel();
    }
    open = false;
    if (empty > 0) dropPending(batch, slots);
    const recorded = batch.entries.length > 0 ? await this.finishDispatch(batch, stale) : [];
    if (all) await all;
    // Executions recorded on their own (only when some awaited something).
    const own =
      waiting.length > 0
        ? await Promise.all(slots.map((s) => (typeof s === 'number' ? undefined : s)))
        : [];
    const out: Execution[] = [];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      const e = typeof s === 'number' ? recorded[s] : own[i];
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  /** A unique, time-ordered id for this engine's next dispatch. */
  private nextId(): string {
    return this.idPrefix + (this.idCounter++).toString(36).padStart(8, '0');
  }

  /** The next execution number of the dispatch, announced with `execution:started`. */
  private startExecution(
    cr: CompiledRule,
    event: IntegrationEvent,
    now: string,
    ids: DispatchIds,
  ): number {
    const n = ids.n++;
    if (this.listenerCount('execution:started') > 0) {
      this.emit('execution:started', {
        executionId: ids.base + suffix(n),
        ruleId: cr.rule.id,
        integrationId: cr.rule.integrationId,
        triggerType: event.type,
        startTime: now,
      });
    }
    return n;
  }

  /** A draft for an execution that awaits something (actions, async conditions). */
  private draft(
    cr: CompiledRule,
    event: IntegrationEvent,
    now: string,
    triggerData: unknown,
    ids: DispatchIds,
  ): ExecutionDraft {
    return {
      id: ids.base + suffix(this.startExecution(cr, event, now, ids)),
      ruleId: cr.rule.id,
      ruleRevision: cr.rule.revision,
      integrationId: cr.rule.integrationId,
      triggerType: event.type,
      triggered: true,
      conditionsMet: false,
      successful: true,
      startTime: now,
      endTime: now,
      triggerData,
    };
  }

  private log(
    logs: LogEntry[],
    level: LogLevel,
    component: ExecutionComponent,
    message: string,
    data?: unknown,
    componentId?: string,
  ): void {
    if (LEVELS[level] < this.minLevel) return;
    const entry: {
      timestamp: string;
      level: LogLevel;
      message: string;
      component: ExecutionComponent;
      data?: unknown;
      componentId?: string;
    } = { timestamp: isoNow(), level, message, component };
    const json = toJson(data);
    if (json !== undefined) entry.data = json;
    if (componentId !== undefined) entry.componentId = componentId;
    logs.push(entry);
  }

  /** Records on the draft where a `match` condition failed. */
  private notMet(
    draft: ExecutionDraft,
    logs: LogEntry[],
    c: Extract<CompiledCondition, { kind: 'match' }>,
    event: IntegrationEvent,
  ): void {
    draft.failedCondition = whyMatch(c.match, event, c.id);
    if (this.minLevel <= LEVELS.debug) {
      this.log(
        logs,
        'debug',
        'condition',
        `condition '${c.id}' not met`,
        draft.failedCondition,
        c.id,
      );
    }
  }

  private conditionError(draft: ExecutionDraft, logs: LogEntry[], e: unknown): ExecutionDraft {
    draft.successful = false;
    draft.conditionsMet = false;
    draft.error = `condition failed: ${errText(e)}`;
    this.log(logs, 'error', 'condition', draft.error);
    return draft;
  }

  private async runAsync(
    cr: CompiledRule,
    event: IntegrationEvent,
    draft: ExecutionDraft,
    logs: LogEntry[],
    rt: DispatchRuntime,
    scope: DispatchScope,
  ): Promise<Finished | undefined> {
    draft.startTime = isoNow();
    if (!cr.syncConditions) {
      this.cache.nextEpoch();
      const ctx: ConditionContext = { ruleId: cr.rule.id, integrationId: cr.rule.integrationId };
      try {
        for (const c of cr.conditions) {
          let ok: boolean;
          if (c.kind === 'match') {
            ok = c.match.test(event);
            if (!ok) {
              this.notMet(draft, logs, c, event);
            }
          } else {
            ok = (await this.customCheck(c, await rt.conditions())(event, ctx)) === true;
            if (!ok) {
              draft.failedCondition = { conditionId: c.id };
              this.log(
                logs,
                'debug',
                'condition',
                `condition '${c.id}' (${c.type}) not met`,
                undefined,
                c.id,
              );
            }
          }
          if (!ok) {
            if (!this.recordUnmatched) return undefined;
            draft.endTime = isoNow();
            return { exec: seal(draft), logs };
          }
        }
      } catch (e) {
        draft.endTime = isoNow();
        return { exec: seal(this.conditionError(draft, logs, e)), logs };
      }
    }
    draft.conditionsMet = true;
    const results: ActionResult[] = [];
    let stop = false;
    for (const ca of cr.actions) {
      if (stop) {
        results.push(
          Object.freeze({
            actionId: ca.action.id,
            type: ca.action.type,
            integrationId: ca.integrationId,
            successful: false,
            attempts: 0,
            durationMs: 0,
            skipped: true,
          }),
        );
        this.log(
          logs,
          'info',
          'action',
          'skipped: an earlier action failed',
          undefined,
          ca.action.id,
        );
        continue;
      }
      const r = await this.runAction(cr, ca, event, draft.id, logs, scope);
      results.push(r);
      if (!r.successful) {
        draft.successful = false;
        draft.error ??= `action '${ca.action.id}' (${ca.integrationId}.${ca.action.type}) failed: ${r.error}`;
        if (!ca.action.continueOnError) stop = true;
      }
    }
    draft.resultData = Object.freeze({ actions: Object.freeze(results) });
    draft.endTime = isoNow();
    return { exec: seal(draft), logs };
  }

  private async runAction(
    cr: CompiledRule,
    ca: CompiledAction,
    event: IntegrationEvent,
    executionId: string,
    logs: LogEntry[],
    scope: DispatchScope,
  ): Promise<ActionResult> {
    const { action } = ca;
    const started = performance.now();
    const aid = ca.integrationId;
    const fail = (error: string, attempts: number, instanceId?: string): ActionResult => {
      this.log(logs, 'error', 'action', error, undefined, action.id);
      const r: Writable<ActionResult> = {
        actionId: action.id,
        type: action.type,
        integrationId: aid,
        successful: false,
        attempts,
        durationMs: performance.now() - started,
        error,
      };
      if (instanceId !== undefined) r.instanceId = instanceId;
      return Object.freeze(r);
    };
    // Resolve everything the handler needs; none of these failures is retried.
    const { value: input, missing } = ca.template.resolve(event);
    if (missing.length > 0) {
      return fail(
        `template path${missing.length > 1 ? 's' : ''} missing in the event: ${missing
          .map((m) => `'${m.path}' (config.${m.field})`)
          .join(', ')}`,
        0,
      );
    }
    let handler: RegisteredAction['handler'];
    let version: string;
    try {
      if (
        aid !== cr.rule.integrationId &&
        !(await memo(scope.enabled, aid, () => this.config.isEnabled(aid)))
      ) {
        return fail(`integration '${aid}' is disabled`, 0);
      }
      const looked = await memo(scope.actions, aid, async () => {
        const [def, actions] = await Promise.all([
          this.registry.get(aid),
          this.registry.getAvailableActions(aid),
        ]);
        return { version: def.version, actions };
      });
      version = looked.version;
      const actions = looked.actions;
      const found = actions.find((a) => a.type === action.type);
      if (!found) return fail(`'${aid}@${version}' has no action '${action.type}' any more`, 0);
      handler = found.handler;
      if (!handler) {
        return fail(`action '${aid}.${action.type}' has no handler (is its plugin loaded?)`, 0);
      }
      if (ca.validator?.version !== version) {
        const fn = this.registry.getValidator(aid, version, {
          kind: 'action-input',
          type: action.type,
        });
        ca.validator = { version, fn };
      }
      const check = ca.validator.fn(input);
      if (!check.valid) {
        const issues = rebase(check.errors, 'input', `actions[${ca.index}].config`);
        return fail(`invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, 0);
      }
    } catch (e) {
      return fail(errText(e), 0);
    }
    let instance: InstanceView;
    try {
      const explicit = action.instanceId;
      instance =
        explicit !== undefined
          ? await memo(scope.instances, `#${explicit}`, () => this.config.getInstance(explicit))
          : await memo(scope.instances, aid, () =>
              this.config.resolveInstance(aid, {
                ...(event.context?.userId !== undefined ? { userId: event.context.userId } : {}),
                ...(event.context?.clientId !== undefined
                  ? { clientId: event.context.clientId }
                  : {}),
              }),
            );
    } catch (e) {
      return fail(`no instance of '${aid}': ${errText(e)}`, 0);
    }
    const actor = `rule:${cr.rule.id}`;
    // The secret values of the credentials the handler read, once it read them: its log
    // entries, errors and output are scrubbed of them before anything is recorded.
    let secrets: readonly string[] | undefined;
    const credentials = async (): Promise<Record<string, unknown>> => {
      const plain = await this.config.getCredentials(instance.instanceId, { actor });
      const fields = await this.registry
        .getSecretFields(instance.integrationId, instance.version)
        .catch((): string[] => []); // secret-looking names are still found below
      secrets = mergeSecrets(secrets, secretStrings(plain, new Set(fields)));
      return plain;
    };
    let logger: ExecutionLogger | undefined;
    const loggerOf = (): ExecutionLogger => {
      logger ??= this.logger(logs, action.id, () => secrets);
      return logger;
    };
    const policy = action.retry ? { ...this.retry, ...action.retry } : this.retry;
    const timeoutMs = action.timeoutMs ?? this.actionTimeoutMs;
    let attempts = 0;
    let lastError = '';
    const what = `action '${action.id}' (${aid}.${action.type})`;
    while (attempts < policy.attempts) {
      attempts++;
      let release: (() => void) | undefined;
      try {
        release = this.semaphore.tryAcquire() ?? (await this.semaphore.acquire(this.abort.signal));
        const output = await withTimeout(what, timeoutMs, this.abort, (signal) => {
          const ctx = new RunContext(event, instance, loggerOf, signal, credentials);
          return handler.call(undefined, input, ctx);
        });
        release();
        release = undefined;
        const durationMs = performance.now() - started;
        if (this.minLevel <= LEVELS.debug) {
          this.log(
            logs,
            'debug',
            'action',
            `succeeded in ${Math.round(durationMs)} ms`,
            { attempts },
            action.id,
          );
        }
        await this.audit(
          actor,
          instance,
          aid,
          'success',
          `${action.type} (execution ${executionId})`,
          logs,
          action.id,
        );
        const json = secrets ? scrubbedJson(output, secrets) : toJson(output);
        const r: Writable<ActionResult> = {
          actionId: action.id,
          type: action.type,
          integrationId: aid,
          instanceId: instance.instanceId,
          successful: true,
          attempts,
          durationMs,
        };
        if (json !== undefined) r.output = json;
        return Object.freeze(r);
      } catch (e) {
        release?.();
        lastError = secrets ? scrub(errText(e), secrets) : errText(e);
        const closing = this.abort.signal.aborted;
        const permanent = isPlugboardError(e, 'VALIDATION_FAILED') || closing;
        if (attempts < policy.attempts && !permanent) {
          const delay = Math.min(
            policy.maxDelayMs,
            policy.initialDelayMs * policy.factor ** (attempts - 1),
          );
          this.log(
            logs,
            'warn',
            'action',
            `attempt ${attempts} failed: ${lastError}; retrying in ${delay} ms`,
            undefined,
            action.id,
          );
          try {
            await sleep(delay, this.abort.signal);
          } catch {
            break;
          }
        } else {
          break;
        }
      }
    }
    await this.audit(
      actor,
      instance,
      aid,
      'failure',
      `${action.type} (execution ${executionId}): ${lastError}`,
      logs,
      action.id,
    );
    return fail(
      `failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError}`,
      attempts,
      instance.instanceId,
    );
  }

  private async audit(
    actor: string,
    instance: InstanceView,
    integrationId: string,
    outcome: 'success' | 'failure',
    detail: string,
    logs: LogEntry[],
    actionId: string,
  ): Promise<void> {
    try {
      await this.config.recordAudit({
        actor,
        action: 'action.invoke',
        instanceId: instance.instanceId,
        integrationId,
        outcome,
        detail,
      });
    } catch (e) {
      this.log(
        logs,
        'warn',
        'action',
        `could not write the audit entry: ${errText(e)}`,
        undefined,
        actionId,
      );
    }
  }

  /** The logger of `ctx.log`: entries scrubbed of the secrets the handler has read. */
  private logger(
    logs: LogEntry[],
    actionId: string,
    secretsOf: () => readonly string[] | undefined,
  ): ExecutionLogger {
    const at =
      (level: LogLevel) =>
      (message: string, data?: unknown): void => {
        const secrets = secretsOf();
        if (!secrets) {
          this.log(logs, level, 'action', String(message), data, actionId);
          return;
        }
        const clean = data === undefined ? undefined : scrubbedJson(data, secrets);
        this.log(logs, level, 'action', scrub(String(message), secrets), clean, actionId);
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  /** Records an execution that finished after its dispatch's record was written, then announces it. */
  private finish(exec: Execution, logs: LogEntry[], stale: StaleRules): Promise<Execution> {
    const p = this.store.recordOne(exec, logs, stale);
    if (this.listenerCount('execution:completed') === 0) return p;
    return p.then((stored) => {
      this.emit('execution:completed', stored);
      return stored;
    });
  }

  /** Records the executions a dispatch decided (one record), then announces each. */
  private finishDispatch(batch: DispatchBatch, stale: StaleRules): Promise<Execution[]> {
    const p = this.store.recordDispatch(batch, stale);
    if (this.listenerCount('execution:completed') === 0) return p;
    return p.then((stored) => {
      for (const e of stored) this.emit('execution:completed', e);
      return stored;
    });
  }

  // ---------------------------------------------------------------- evaluate

  /**
   * A dry run: explains, per enabled rule of the event's trigger type, whether its
   * trigger fires and how each condition evaluates, with `{ result, actual, expected }`
   * on every leaf. Runs no action and records nothing.
   */
  async evaluate(event: IntegrationEvent): Promise<RuleEvaluation[]> {
    this.assertOpen();
    checkEvent(event);
    if (!this.loaded) await this.ready();
    const bucket = this.index.get(keyOf(event.integrationId, event.type));
    if (!bucket || bucket.length === 0) return [];
    const trigger = await this.triggerFor(event);
    this.cache.nextEpoch();
    let conditionTypes: Promise<readonly RegisteredCondition[]> | undefined;
    const out: RuleEvaluation[] = [];
    // Only rules with integration conditions await; snapshot the bucket for them.
    const rules = this.asyncBuckets.has(bucket) ? bucket.slice() : bucket;
    for (const cr of rules) {
      cr.actionList ??= Object.freeze(
        cr.rule.actions.map((a) => Object.freeze({ id: a.id, type: a.type })),
      );
      const ruleId = cr.rule.id;
      const ruleName = cr.rule.name;
      const actions = cr.actionList;
      let triggered: boolean;
      try {
        const filter = trigger ? this.filterOf(cr, trigger) : undefined;
        triggered = trigger !== undefined && (filter ? filter(event) === true : true);
      } catch (e) {
        out.push({
          ruleId,
          ruleName,
          actions,
          triggered: false,
          conditionsMet: false,
          conditions: [],
          error: errText(e),
        });
        continue;
      }
      if (!triggered) {
        out.push({ ruleId, ruleName, actions, triggered, conditionsMet: false, conditions: [] });
        continue;
      }
      if (cr.syncConditions) {
        let met: boolean;
        try {
          met = firstFailing(cr, event) === undefined;
        } catch {
          met = false;
        }
        out.push(new LazyRuleEvaluation(ruleId, ruleName, actions, met, cr, event));
        continue;
      }
      const conditions: ExplainedCondition[] = [];
      let met = true;
      for (const c of cr.conditions) {
        let explained: ExplainedCondition;
        if (c.kind === 'match') {
          try {
            explained = new LazyMatchExplanation(c.id, c.match.test(event), c.match, event);
          } catch (e) {
            explained = { id: c.id, type: 'match', result: false, error: errText(e) };
          }
        } else {
          try {
            const ctx = { ruleId, integrationId: cr.rule.integrationId };
            conditionTypes ??= this.registry.getAvailableConditions(event.integrationId);
            const check = this.customCheck(c, await conditionTypes);
            const ok = (await check(event, ctx)) === true;
            explained = { id: c.id, type: c.type, result: ok };
          } catch (e) {
            explained = { id: c.id, type: c.type, result: false, error: errText(e) };
          }
        }
        if (!explained.result) met = false;
        conditions.push(explained);
      }
      out.push({ ruleId, ruleName, actions, triggered, conditionsMet: met, conditions });
    }
    return out;
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops accepting events, waits up to `graceMs` (default the `closeGraceMs` option) for
   * running executions, then aborts the remaining actions (their signals fire) and waits
   * for them to be recorded. Does not close the storage.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(opts.graceMs ?? this.closeGraceMs);
    return this.closing;
  }

  private async shutdown(grace: number): Promise<void> {
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.unregisterChecker();
    this.unregisterInstanceChecker();
    const all = Promise.allSettled([...this.running.keys()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.abort.abort(new StorageClosedError('RuleEngine closed while the action was running'));
      await all;
    }
  }

  /** Same as {@link RuleEngine.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * An explained `match` condition whose annotated tree is computed on first access (and
 * kept), so a dry run that only reads `result` costs no more than the evaluation itself.
 * `JSON.stringify` includes the tree.
 */
class LazyMatchExplanation implements ExplainedCondition {
  readonly type = 'match';
  #tree: ExplainedNode | undefined;
  readonly #match: CompiledMatch;
  readonly #event: IntegrationEvent;

  constructor(
    readonly id: string,
    readonly result: boolean,
    match: CompiledMatch,
    event: IntegrationEvent,
  ) {
    this.#match = match;
    this.#event = event;
  }

  /** The annotated tree: `{ result, actual, expected }` on every leaf. */
  get tree(): ExplainedNode {
    this.#tree ??= explainMatch(this.#match, this.#event);
    return this.#tree;
  }

  toJSON(): ExplainedCondition {
    return { id: this.id, type: this.type, result: this.result, tree: this.tree };
  }
}

/** What an action handler receives; the signal is created on first access. */
class RunContext implements ActionContext {
  readonly config: Record<string, unknown>;
  readonly #log: () => ExecutionLogger;
  readonly #signal: () => AbortSignal;
  readonly #credentials: () => Promise<Record<string, unknown>>;

  constructor(
    readonly event: IntegrationEvent,
    readonly instance: InstanceView,
    log: () => ExecutionLogger,
    signal: () => AbortSignal,
    credentials: () => Promise<Record<string, unknown>>,
  ) {
    this.config = instance.config as Record<string, unknown>;
    this.#log = log;
    this.#signal = signal;
    this.#credentials = credentials;
  }

  /** Logger bound to this execution and action. */
  get log(): ExecutionLogger {
    return this.#log();
  }

  /** Aborted when the attempt times out or the engine closes. */
  get signal(): AbortSignal {
    return this.#signal();
  }

  /** Decrypts the instance's credentials through ConfigManager (audited). */
  getCredentials(): Promise<Record<string, unknown>> {
    return this.#credentials();
  }
}

/**
 * The evaluation of a rule whose conditions are all `match` ones: `conditionsMet` is
 * computed at once, the per-condition explanations on first access of `conditions`.
 */
class LazyRuleEvaluation implements RuleEvaluation {
  readonly triggered = true;
  #conditions: readonly ExplainedCondition[] | undefined;
  readonly #rule: CompiledRule;
  readonly #event: IntegrationEvent;

  constructor(
    readonly ruleId: string,
    readonly ruleName: string,
    readonly actions: readonly { readonly id: string; readonly type: string }[],
    readonly conditionsMet: boolean,
    rule: CompiledRule,
    event: IntegrationEvent,
  ) {
    this.#rule = rule;
    this.#event = event;
  }

  /** Every condition, explained. */
  get conditions(): readonly ExplainedCondition[] {
    if (!this.#conditions) {
      const event = this.#event;
      this.#conditions = this.#rule.conditions.map((c): ExplainedCondition => {
        if (c.kind !== 'match') return { id: c.id, type: c.type, result: false };
        try {
          return new LazyMatchExplanation(c.id, c.match.test(event), c.match, event);
        } catch (e) {
          return { id: c.id, type: 'match', result: false, error: errText(e) };
        }
      });
    }
    return this.#conditions;
  }

  toJSON(): RuleEvaluation {
    return {
      ruleId: this.ruleId,
      ruleName: this.ruleName,
      triggered: this.triggered,
      conditionsMet: this.conditionsMet,
      conditions: this.conditions,
      actions: this.actions,
    };
  }
}

/**
 * The stored entry of an execution of `cr` whose condition `c` failed at node `at`: one
 * frozen entry per failing node, shared by every record (the `actual` value is read
 * from the stored event when the execution is read).
 */
function failedEntry(
  cr: CompiledRule,
  c: Extract<CompiledCondition, { kind: 'match' }>,
  at: CompiledMatch,
): DecidedEntry {
  // A condition fails at one of a few nodes: a linear scan beats a Map here.
  c.failures ??= [];
  const known = c.failures;
  for (let i = 0; i < known.length; i += 2) {
    if (known[i] === at) return known[i + 1] as DecidedEntry;
  }
  const entry = shareFrozen({
    ruleRevision: cr.rule.revision,
    conditionsMet: false,
    failedCondition: decidedFailure(failureAt(at, c.id)),
  });
  known.push(at, entry);
  return entry;
}

/** Where {@link firstFailing} found the failure: the failing node of its condition. */
let failedNode: CompiledMatch | undefined;

/**
 * The first `match` condition that fails, when all conditions are `match` ones; its
 * failing node is left in `failedNode` (no allocation per failing rule).
 */
function firstFailing(
  cr: CompiledRule,
  event: IntegrationEvent,
): Extract<CompiledCondition, { kind: 'match' }> | undefined {
  for (const c of cr.conditions) {
    if (c.kind !== 'match') continue;
    const at = failAt(c.match, event);
    if (at) {
      failedNode = at;
      return c;
    }
  }
  return undefined;
}

function checkEvent(event: IntegrationEvent): void {
  const issues: ValidationIssue[] = [];
  if (event === null || typeof event !== 'object') {
    throw new ValidationError([{ path: '', message: 'an event must be an object' }], 'event');
  }
  if (typeof event.integrationId !== 'string' || event.integrationId.length === 0) {
    issues.push({ path: 'integrationId', message: 'must be a non-empty string' });
  }
  if (typeof event.type !== 'string' || event.type.length === 0) {
    issues.push({ path: 'type', message: 'must be a non-empty string' });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'event');
}
