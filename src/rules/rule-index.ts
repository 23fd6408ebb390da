/**
 * The compiled rules of an engine: loaded once from storage, indexed by id and by
 * `(integrationId, triggerType)`, with a lock per rule id for the writes that change them.
 *
 * @internal
 * @module
 */
import { type Reference, ValidationError, type ValidationIssue } from '../errors.js';
import { KeyedMutex } from '../internal/async.js';
import type { Collection } from '../storage/types.js';
import { CompileCache, suggest } from './compile.js';
import { OperatorTable } from './operators.js';
import type { RegistryPort } from './ports.js';
import { type CompiledRule, compileRule } from './rule-shape.js';
import type { Rule } from './types.js';

const RESOLVED = Promise.resolve();

/** What a {@link RuleIndex} is built from. */
export interface RuleIndexOptions {
  /** The stored rules, read on load. */
  readonly rules: Pick<Collection<Rule>, 'find'>;
  /** Asked which integration version rules follow, for reference checks. */
  readonly registry: Pick<RegistryPort, 'get'>;
  /** Runs before the rules are first read (the history's migration). */
  readonly beforeLoad: () => Promise<void>;
  /** Told about a stored rule that no longer compiles (it is left out). */
  readonly onLoadFailed: (ruleId: string, error: ValidationError) => void;
}

function keyOf(integrationId: string, triggerType: string): string {
  return `${integrationId}\u0000${triggerType}`;
}

/** Compiles `rule` with the index's operators. @throws ValidationError when it does not compile */
export function compileOrThrow(index: RuleIndex, rule: Rule): CompiledRule {
  const issues: ValidationIssue[] = [];
  const cr = index.compile(rule, issues);
  if (issues.length > 0) throw new ValidationError(issues, `rule '${rule.id}'`);
  return cr;
}

/** Compiled rules by id and, for enabled ones, by `(integrationId, triggerType)`. */
export class RuleIndex {
  /** Operators of `match` leaves, built-in and custom. */
  readonly operators: OperatorTable = new OperatorTable();
  private readonly cache = new CompileCache();
  private readonly byId = new Map<string, CompiledRule>();
  private readonly buckets = new Map<string, CompiledRule[]>();
  /** Buckets holding a rule with integration conditions (evaluated with awaits). */
  private readonly asyncBuckets = new WeakSet<CompiledRule[]>();
  private readonly locks = new KeyedMutex();
  private readonly options: RuleIndexOptions;
  private loading: Promise<void> | undefined;
  private isLoaded = false;

  constructor(options: RuleIndexOptions) {
    this.options = options;
  }

  /** Whether the stored rules have been loaded. */
  get loaded(): boolean {
    return this.isLoaded;
  }

  /** Loads and compiles the stored rules, once. */
  ready(): Promise<void> {
    if (this.isLoaded) return RESOLVED;
    if (!this.loading) {
      this.loading = this.load().then(
        () => {
          this.isLoaded = true;
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
    await this.options.beforeLoad();
    const { items } = await this.options.rules.find({ orderBy: { field: 'createdAt' } });
    for (const rule of items) this.install(rule, true);
  }

  /** Forgets every compiled rule and loads them from storage again. */
  async reload(): Promise<void> {
    await this.ready();
    this.byId.clear();
    this.buckets.clear();
    await this.load();
  }

  /** Compiles a rule with this index's operators; problems are appended to `issues`. */
  compile(rule: Rule, issues: ValidationIssue[]): CompiledRule {
    return compileRule(rule, this.operators, issues, this.cache);
  }

  /**
   * Compiles and indexes a stored rule, replacing its previous version.
   *
   * @throws ValidationError when it does not compile and is not `fromStorage`
   */
  install(rule: Rule, fromStorage: boolean): CompiledRule | undefined {
    const issues: ValidationIssue[] = [];
    const compiled = this.compile(rule, issues);
    this.uninstall(rule.id);
    if (issues.length > 0) {
      if (!fromStorage) throw new ValidationError(issues, `rule '${rule.id}'`);
      this.options.onLoadFailed(rule.id, new ValidationError(issues, `stored rule '${rule.id}'`));
      return undefined;
    }
    this.byId.set(rule.id, compiled);
    if (rule.enabled) {
      const key = keyOf(rule.integrationId, rule.triggerType);
      let bucket = this.buckets.get(key);
      if (!bucket) {
        bucket = [];
        this.buckets.set(key, bucket);
      }
      bucket.push(compiled);
      if (!compiled.syncConditions) this.asyncBuckets.add(bucket);
    }
    return compiled;
  }

  /** Removes a rule from the index. */
  uninstall(ruleId: string): void {
    const old = this.byId.get(ruleId);
    if (!old) return;
    this.byId.delete(ruleId);
    const key = keyOf(old.rule.integrationId, old.rule.triggerType);
    const bucket = this.buckets.get(key);
    if (!bucket) return;
    const i = bucket.indexOf(old);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 0) this.buckets.delete(key);
  }

  /** The enabled rules of `(integrationId, triggerType)`, in creation order. */
  bucket(integrationId: string, triggerType: string): readonly CompiledRule[] | undefined {
    return this.buckets.get(keyOf(integrationId, triggerType));
  }

  /** Whether a bucket holds a rule with integration conditions. */
  isAsync(bucket: readonly CompiledRule[]): boolean {
    return this.asyncBuckets.has(bucket as CompiledRule[]);
  }

  /** Runs `fn` once the earlier writes of rule `id` have settled. */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  /** The ids of the compiled rules. */
  ids(): IterableIterator<string> {
    return this.byId.keys();
  }

  /** Up to one known rule id close to `id`, for a not-found message. */
  closeIds(id: string): string[] {
    const hint = suggest(id, [...this.byId.keys()].slice(0, 10_000));
    const m = /'([^']+)'/.exec(hint);
    return m?.[1] ? [m[1]] : [];
  }

  /** The rules using a definition (as trigger or action integration), for the registry. */
  async referencesTo(ref: { id: string; version?: string }): Promise<Reference[]> {
    await this.ready();
    if (ref.version !== undefined) {
      // Rules follow the highest published version; other versions are free to go.
      try {
        if ((await this.options.registry.get(ref.id)).version !== ref.version) return [];
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
  async rulesNaming(instanceId: string): Promise<Reference[]> {
    await this.ready();
    const refs: Reference[] = [];
    for (const { rule, actions } of this.byId.values()) {
      if (actions.some((a) => a.action.instanceId === instanceId)) {
        refs.push({ kind: 'rule', id: rule.id });
      }
    }
    return refs;
  }

  /** Starts a new evaluation of the compiled rules' memoising path readers. */
  nextEpoch(): void {
    this.cache.nextEpoch();
  }
}
