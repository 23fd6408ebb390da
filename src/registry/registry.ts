/**
 * `IntegrationRegistry`: versioned integration definitions with lifecycle, compatibility
 * checks, discovery and schema validation.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import semver from 'semver';
import {
  CompatibilityError,
  ConflictError,
  NotFoundError,
  type Reference,
  ReferencedError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import { deepFreeze, frozenJson, isObject } from '../internal/json.js';
import { closest } from '../internal/suggest.js';
import { createAjv, toIssues } from '../schema/ajv.js';
import {
  type AuthType,
  type DefinitionStatus,
  type Deprecation,
  type IntegrationDefinition,
  IntegrationDefinitionData,
} from '../schema/definition.js';
import { secretFields } from '../schema/json-schema.js';
import type {
  ActionRuntime,
  ConditionRuntime,
  IntegrationDefinitionInput,
  RegisteredAction,
  RegisteredCondition,
  RegisteredTrigger,
  TriggerRuntime,
} from '../schema/runtime.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import { findBreakingChanges } from './compatibility.js';
import type { RegistryEvents } from './events.js';
import {
  SchemaService,
  type SchemaTarget,
  type SchemaValidationResult,
  type SchemaValidator,
  sharedOf,
} from './schemas.js';
import { score } from './search.js';

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
}

/**
 * Options of {@link IntegrationRegistry.register}, and of `PluginLoader.load`,
 * `loadManifest` and `loadModule`.
 */
export interface RegisterOptions {
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

export type { SchemaTarget, SchemaValidationResult, SchemaValidator };

interface DefinitionDocument extends StoredDocument {
  readonly integrationId: string;
  readonly version: string;
  readonly status: DefinitionStatus;
  readonly definition: IntegrationDefinition;
}

interface Entry {
  def: IntegrationDefinition;
  parsed: semver.SemVer;
}

/** The components of one definition version with their runtime parts attached. */
export interface DefinitionComponents {
  /** Triggers, with `factory` where attached. */
  triggers: RegisteredTrigger[];
  /** Condition types, with `factory` where attached. */
  conditions: RegisteredCondition[];
  /** Actions, with `handler` where attached. */
  actions: RegisteredAction[];
}

const TRANSITIONS: Record<DefinitionStatus, readonly DefinitionStatus[]> = {
  draft: ['published'],
  published: ['deprecated', 'archived'],
  deprecated: ['archived'],
  archived: [],
};

const VERB: Record<DefinitionStatus, string> = {
  draft: 'draft',
  published: 'publish',
  deprecated: 'deprecate',
  archived: 'archive',
};

let definitionDataValidator: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

function validateDefinitionData(data: unknown): ValidationIssue[] {
  if (!definitionDataValidator) {
    definitionDataValidator = createAjv('draft-07').compile(IntegrationDefinitionData);
  }
  if (definitionDataValidator(data)) return [];
  return toIssues(definitionDataValidator.errors, '', 50).map(friendlier);
}

const REGISTRY_FIELDS = new Set(['status', 'createdAt', 'updatedAt', 'deprecation']);

/** Replaces raw pattern/unknown-property messages with ones that say what to do. */
function friendlier(issue: ValidationIssue): ValidationIssue {
  if (issue.keyword === 'pattern') {
    if (issue.path === 'id') {
      return {
        ...issue,
        message:
          "must be a lowercase slug of 2-64 characters: a letter, then letters, digits, '_' or '-' (e.g. 'stripe')",
      };
    }
    if (issue.path === 'version')
      return { ...issue, message: "must be a semantic version such as '1.2.0'" };
    if (/\.type$/.test(issue.path)) {
      return {
        ...issue,
        message:
          "must start with a letter and contain only letters, digits, '_', '.', ':', '/' or '-'",
      };
    }
  }
  if (issue.keyword === 'additionalProperties' && REGISTRY_FIELDS.has(issue.path)) {
    return {
      ...issue,
      message:
        'is set by the registry; remove it (register with { publish: true } or call publish())',
    };
  }
  return issue;
}

function findProtoKeys(value: unknown, path: string, out: ValidationIssue[], depth = 0): void {
  if (depth > 64 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) findProtoKeys(v, `${path}[${i}]`, out, depth + 1);
    return;
  }
  for (const key of Object.keys(value)) {
    const p = path ? `${path}.${key}` : key;
    if (key === '__proto__') out.push({ path: p, message: '"__proto__" is not allowed as a key' });
    else findProtoKeys((value as Record<string, unknown>)[key], p, out, depth + 1);
  }
}

function assertString(value: unknown, path: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError([{ path, message: 'must be a non-empty string' }], what);
  }
  return value;
}

function assertRange(range: string | undefined): void {
  if (range !== undefined && (typeof range !== 'string' || semver.validRange(range) === null)) {
    throw new ValidationError(
      [
        {
          path: 'versionRange',
          message: `'${String(range)}' is not a semver range (e.g. '^1.2.0')`,
        },
      ],
      'version range',
    );
  }
}

/**
 * The versioned catalogue of integration definitions. Definitions are persisted through
 * the storage adapter and cached in memory, so lookups are cheap; runtime parts
 * (trigger/condition factories, action handlers) live in memory beside them.
 *
 * Returned definitions are deeply frozen.
 *
 * @example
 * ```ts
 * const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
 * await registry.register({
 *   id: 'stripe', name: 'Stripe', version: '1.0.0', authType: 'apikey',
 *   triggers: [{ type: 'charge.succeeded', name: 'Charge succeeded' }],
 * }, { publish: true });
 * const stripe = await registry.get('stripe', '^1.0.0');
 * ```
 */
export class IntegrationRegistry extends EventEmitter<RegistryEvents> {
  private readonly storage: StorageAdapter;
  private readonly collection: Collection<DefinitionDocument>;
  private readonly schemas: SchemaService;
  private readonly byId = new Map<string, Map<string, Entry>>();
  private readonly resolved = new Map<string, Entry>();
  private readonly runtimes = new Map<string, DefinitionRuntime>();
  private readonly merged = new Map<string, DefinitionComponents>();
  private readonly secrets = new Map<string, string[]>();
  private readonly checkers = new Set<ReferenceChecker>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private sorted: Entry[] | undefined;
  private loading: Promise<void> | undefined;
  private loaded = false;

  constructor(options: IntegrationRegistryOptions) {
    super();
    if (!options || typeof options !== 'object' || !options.storage) {
      throw new ValidationError(
        [{ path: 'storage', message: 'a StorageAdapter is required' }],
        'registry options',
      );
    }
    const maxIssues = options.maxIssues ?? 20;
    if (!Number.isInteger(maxIssues) || maxIssues < 1) {
      throw new ValidationError(
        [{ path: 'maxIssues', message: 'must be a positive integer' }],
        'registry options',
      );
    }
    this.storage = options.storage;
    this.collection = this.storage.collection<DefinitionDocument>('definitions', {
      indexes: ['integrationId', 'status'],
    });
    const formats = options.formats ?? 'fast';
    if (formats !== 'fast' && formats !== 'full') {
      throw new ValidationError(
        [{ path: 'formats', message: "must be 'fast' or 'full'" }],
        'registry options',
      );
    }
    this.schemas = new SchemaService({
      maxIssues,
      formats,
      policy: {
        strictKeywords: options.strictKeywords ?? false,
        allowedKeywords: new Set(options.allowedKeywords ?? []),
      },
    });
  }

  // ---------------------------------------------------------------- loading & cache

  private async ensureLoaded(): Promise<void> {
    if (this.loaded) return;
    if (!this.loading) {
      this.loading = (async () => {
        const { items } = await this.collection.find();
        for (const doc of items) this.cache(doc.definition);
        this.loaded = true;
      })();
      this.loading.catch(() => {
        this.loading = undefined;
      });
    }
    await this.loading;
  }

  /**
   * Re-reads every definition from storage, e.g. after another process registered some.
   * Runtime parts stay attached.
   */
  async reload(): Promise<void> {
    await this.ensureLoaded();
    const { items } = await this.collection.find();
    this.byId.clear();
    this.invalidate();
    for (const doc of items) this.cache(doc.definition);
  }

  private cache(def: IntegrationDefinition): Entry {
    const parsed = new semver.SemVer(def.version);
    const entry: Entry = { def: deepFreeze(def), parsed };
    let versions = this.byId.get(def.id);
    if (!versions) {
      versions = new Map();
      this.byId.set(def.id, versions);
    }
    versions.set(def.version, entry);
    return entry;
  }

  private invalidate(id?: string): void {
    this.resolved.clear();
    this.sorted = undefined;
    if (id === undefined) {
      this.merged.clear();
      return;
    }
    for (const key of [...this.merged.keys()])
      if (key.startsWith(`${id}@`)) this.merged.delete(key);
  }

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  private notFound(id: string): NotFoundError {
    return new NotFoundError('integration', id, { suggestions: closest(id, this.byId.keys()) });
  }

  private describeVersions(id: string): string {
    const versions = [...(this.byId.get(id)?.values() ?? [])]
      .sort((a, b) => semver.compare(a.parsed, b.parsed))
      .map((e) => `${e.def.version} (${e.def.status})`);
    return versions.length > 0 ? `Existing versions: ${versions.join(', ')}` : 'It has no versions';
  }

  private entry(id: string, version: string): Entry {
    const versions = this.byId.get(id);
    if (!versions) throw this.notFound(id);
    const e = versions.get(version);
    if (!e) {
      throw new NotFoundError('integration version', `${id}@${version}`, {
        detail: this.describeVersions(id),
      });
    }
    return e;
  }

  private resolve(id: string, range: string | undefined): Entry {
    const key = range === undefined ? id : `${id}\u0000${range}`;
    const hit = this.resolved.get(key);
    if (hit) return hit;
    const versions = this.byId.get(id);
    if (!versions) throw this.notFound(id);
    let best: Entry | undefined;
    for (const e of versions.values()) {
      const ok =
        range === undefined
          ? e.def.status === 'published'
          : e.def.status !== 'archived' && semver.satisfies(e.parsed, range);
      if (ok && (!best || semver.gt(e.parsed, best.parsed))) best = e;
    }
    if (!best) {
      throw new NotFoundError(
        'integration version',
        range === undefined ? `${id} (published)` : `${id}@${range}`,
        {
          detail: this.describeVersions(id),
        },
      );
    }
    this.resolved.set(key, best);
    return best;
  }

  // ---------------------------------------------------------------- registration

  /**
   * Registers a new definition version. Runtime parts may be passed inline
   * (`triggers[i].factory`, `conditions[i].factory`, `actions[i].handler`).
   *
   * @throws ValidationError with field paths when the definition or one of its schemas is invalid
   * @throws ConflictError when `id@version` exists
   * @throws CompatibilityError when a minor/patch breaks the previous version of its major
   */
  async register(
    input: IntegrationDefinitionInput,
    opts: RegisterOptions = {},
  ): Promise<IntegrationDefinition> {
    if (!isObject(input)) {
      throw new ValidationError(
        [{ path: '', message: 'definition must be an object' }],
        'definition',
      );
    }
    const { data, runtime, issues } = splitRuntime(input);
    if (issues.length === 0) {
      let json: unknown;
      try {
        json = frozenJson(data, '');
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(e.issues, 'definition');
        throw e;
      }
      findProtoKeys(data, '', issues);
      if (issues.length === 0) issues.push(...validateDefinitionData(json));
      if (issues.length === 0) {
        issues.push(...semanticIssues(json as IntegrationDefinitionData));
        issues.push(...this.schemas.check(json as IntegrationDefinitionData));
      }
      if (issues.length === 0) {
        return this.insertDefinition(json as IntegrationDefinitionData, runtime, opts);
      }
    }
    throw new ValidationError(issues, 'definition');
  }

  private async insertDefinition(
    data: IntegrationDefinitionData,
    runtime: DefinitionRuntime,
    opts: RegisterOptions,
  ): Promise<IntegrationDefinition> {
    await this.ensureLoaded();
    return this.withLock(data.id, async () => {
      const key = `${data.id}@${data.version}`;
      if (this.byId.get(data.id)?.has(data.version)) {
        throw new ConflictError(
          `Integration '${key}' is already registered; bump the version to change it`,
        );
      }
      const parsed = new semver.SemVer(data.version);
      const prev = this.previousInMajor(data.id, parsed);
      const now = new Date().toISOString();
      const def: IntegrationDefinition = {
        ...data,
        triggers: data.triggers ?? [],
        conditions: data.conditions ?? [],
        actions: data.actions ?? [],
        status: opts.publish ? 'published' : 'draft',
        createdAt: now,
        updatedAt: now,
      };
      if (prev) {
        const changes = findBreakingChanges(prev.def, def);
        if (changes.length > 0) {
          throw new CompatibilityError(
            `'${key}' is not backward compatible with ${prev.def.version}; release it as ${parsed.major + 1}.0.0 or undo these changes`,
            changes,
          );
        }
      }
      await this.collection.insert({
        id: key,
        integrationId: def.id,
        version: def.version,
        status: def.status,
        definition: def,
      });
      const entry = this.cache(def);
      // Parse the shared components for ajv now (no compilation), so the first event
      // validated does not pay for a large shared block.
      if (def.definitions || def.$defs) this.schemas.addShared(entry.def);
      this.setRuntime(key, runtime);
      this.invalidate(def.id);
      this.emit('definition:registered', entry.def);
      return entry.def;
    });
  }

  private previousInMajor(id: string, parsed: semver.SemVer): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.byId.get(id)?.values() ?? []) {
      if (e.parsed.major !== parsed.major || e.def.status === 'archived') continue;
      if (semver.gte(e.parsed, parsed)) continue;
      if (!best || semver.gt(e.parsed, best.parsed)) best = e;
    }
    return best;
  }

  // ---------------------------------------------------------------- runtime parts

  private setRuntime(key: string, runtime: DefinitionRuntime): void {
    const empty =
      !runtime.validateEventPayload &&
      Object.keys(runtime.triggers ?? {}).length === 0 &&
      Object.keys(runtime.conditions ?? {}).length === 0 &&
      Object.keys(runtime.actions ?? {}).length === 0;
    if (empty) this.runtimes.delete(key);
    else this.runtimes.set(key, runtime);
    this.merged.delete(key);
  }

  /**
   * Attaches runtime parts to a stored version (replacing any attached before), e.g. when
   * a plugin is loaded in a process that finds its definition already stored.
   *
   * @throws NotFoundError when the version is unknown; ValidationError for unknown component types
   */
  attachRuntime(id: string, version: string, runtime: DefinitionRuntime): void {
    if (!this.loaded) {
      throw new ValidationError(
        [{ path: 'registry', message: 'no definitions loaded yet; await get()/register() first' }],
        'attachRuntime',
      );
    }
    const { def } = this.entry(id, version);
    const issues: ValidationIssue[] = [];
    const check = (kind: 'triggers' | 'conditions' | 'actions', fnName: string) => {
      const parts = runtime[kind] ?? {};
      const known = new Set(def[kind].map((c) => c.type));
      for (const [type, part] of Object.entries(parts)) {
        if (!known.has(type)) {
          issues.push({
            path: `${kind}.${type}`,
            message: `'${id}@${version}' has no such ${kind.slice(0, -1)}`,
          });
        } else if (
          typeof (part as Record<string, unknown>)[fnName] !== 'function' &&
          (part as Record<string, unknown>)[fnName] !== undefined
        ) {
          issues.push({ path: `${kind}.${type}.${fnName}`, message: 'must be a function' });
        }
      }
    };
    check('triggers', 'factory');
    check('conditions', 'factory');
    check('actions', 'handler');
    if (issues.length > 0) throw new ValidationError(issues, 'runtime parts');
    this.setRuntime(`${id}@${version}`, runtime);
  }

  /** Removes runtime parts of one version, or of every version when `version` is omitted. */
  detachRuntime(id: string, version?: string): void {
    for (const key of [...this.runtimes.keys()]) {
      if (version === undefined ? key.startsWith(`${id}@`) : key === `${id}@${version}`) {
        this.runtimes.delete(key);
        this.merged.delete(key);
      }
    }
  }

  /** Whether runtime parts are attached to `id@version`. */
  hasRuntime(id: string, version: string): boolean {
    return this.runtimes.has(`${id}@${version}`);
  }

  private components(def: IntegrationDefinition): DefinitionComponents {
    const key = `${def.id}@${def.version}`;
    let m = this.merged.get(key);
    if (!m) {
      const rt = this.runtimes.get(key);
      m = {
        triggers: def.triggers.map((t) => Object.freeze({ ...t, ...rt?.triggers?.[t.type] })),
        conditions: def.conditions.map((c) => Object.freeze({ ...c, ...rt?.conditions?.[c.type] })),
        actions: def.actions.map((a) => Object.freeze({ ...a, ...rt?.actions?.[a.type] })),
      };
      this.merged.set(key, m);
    }
    return m;
  }

  // ---------------------------------------------------------------- lookups

  /**
   * The highest version matching `versionRange` that is not archived; without a range,
   * the highest published version.
   *
   * @throws NotFoundError suggesting close ids, or listing existing versions
   */
  async get(id: string, versionRange?: string): Promise<IntegrationDefinition> {
    if (!this.loaded) await this.ensureLoaded();
    assertString(id, 'id', 'integration id');
    if (versionRange !== undefined) assertRange(versionRange);
    return this.resolve(id, versionRange).def;
  }

  /** One exact version, whatever its status. @throws NotFoundError */
  async getVersion(id: string, version: string): Promise<IntegrationDefinition> {
    if (!this.loaded) await this.ensureLoaded();
    assertString(id, 'id', 'integration id');
    assertString(version, 'version', 'version');
    return this.entry(id, version).def;
  }

  /** Every registered version of an integration, lowest first. @throws NotFoundError */
  async listVersions(id: string): Promise<string[]> {
    await this.ensureLoaded();
    const versions = this.byId.get(id);
    if (!versions) throw this.notFound(id);
    return [...versions.values()]
      .sort((a, b) => semver.compare(a.parsed, b.parsed))
      .map((e) => e.def.version);
  }

  private sortedEntries(): Entry[] {
    if (!this.sorted) {
      const all: Entry[] = [];
      for (const versions of this.byId.values()) all.push(...versions.values());
      all.sort(compareEntries);
      this.sorted = all;
    }
    return this.sorted;
  }

  /** Definitions ordered by id then version (highest first), filtered and paged. */
  async list(query: ListDefinitionsQuery = {}): Promise<DefinitionPage> {
    await this.ensureLoaded();
    const limit = query.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError(
        [{ path: 'limit', message: 'must be an integer from 1 to 1000' }],
        'list query',
      );
    }
    const all = this.sortedEntries();
    let start = 0;
    let skipId: string | undefined;
    if (query.cursor !== undefined) {
      const pos = decodeListCursor(query.cursor);
      start = lowerBound(all, pos);
      const at = all[start];
      if (at && at.def.id === pos.id && at.def.version === pos.version) start++;
      if (query.latest) skipId = pos.id;
    }
    const matches = (e: Entry): boolean =>
      (query.status === undefined || e.def.status === query.status) &&
      (query.authType === undefined || e.def.authType === query.authType) &&
      (query.tag === undefined || (e.def.tags ?? []).includes(query.tag)) &&
      (query.text === undefined || score(e.def, query.text) > 0);
    const items: IntegrationDefinition[] = [];
    let lastId = skipId;
    for (let i = start; i < all.length; i++) {
      const e = all[i]!;
      if (query.latest && e.def.id === lastId) continue;
      if (!matches(e)) continue;
      if (items.length === limit) {
        const last = items[items.length - 1]!;
        return { items, nextCursor: encodeListCursor(last.id, last.version) };
      }
      items.push(e.def);
      lastId = e.def.id;
    }
    return { items };
  }

  /**
   * Integrations matching `text`, best first: ranked by id, name, tags, trigger and action
   * names, description. Returns the highest non-archived version of each.
   */
  async search(text: string, opts: { limit?: number } = {}): Promise<IntegrationDefinition[]> {
    await this.ensureLoaded();
    if (typeof text !== 'string') {
      throw new ValidationError([{ path: 'text', message: 'must be a string' }], 'search');
    }
    const scored: [IntegrationDefinition, number][] = [];
    for (const versions of this.byId.values()) {
      let best: Entry | undefined;
      for (const e of versions.values()) {
        if (e.def.status === 'archived') continue;
        if (!best || semver.gt(e.parsed, best.parsed)) best = e;
      }
      if (!best) continue;
      const s = score(best.def, text);
      if (s > 0) scored.push([best.def, s]);
    }
    scored.sort((a, b) => b[1] - a[1] || (a[0].id < b[0].id ? -1 : 1));
    return scored.slice(0, opts.limit ?? 20).map(([d]) => d);
  }

  // ---------------------------------------------------------------- lifecycle

  private async transition(
    id: string,
    version: string,
    to: DefinitionStatus,
    extra: Partial<IntegrationDefinition> = {},
  ): Promise<IntegrationDefinition> {
    await this.ensureLoaded();
    return this.withLock(id, async () => {
      const { def } = this.entry(id, version);
      const from = def.status;
      if (!TRANSITIONS[from].includes(to)) {
        const allowed = TRANSITIONS[from].map((s) => VERB[s]);
        throw new ValidationError(
          [
            {
              path: 'status',
              message: `cannot ${VERB[to]} '${id}@${version}': it is ${from}; ${
                allowed.length > 0
                  ? `allowed from ${from}: ${allowed.join(', ')}`
                  : `${from} is final`
              }`,
            },
          ],
          'status change',
        );
      }
      if (to === 'archived') await this.assertUnreferenced(id, version, 'archive');
      const next: IntegrationDefinition = {
        ...def,
        ...extra,
        status: to,
        updatedAt: new Date().toISOString(),
      };
      const key = `${id}@${version}`;
      await this.collection.update(key, { status: to, definition: next });
      const entry = this.cache(next);
      this.invalidate(id);
      if (to === 'archived') this.schemas.drop(id, version);
      this.emit('definition:status-changed', entry.def, { from, to });
      return entry.def;
    });
  }

  /** `draft → published`. @throws ValidationError naming the allowed transitions */
  async publish(id: string, version: string): Promise<IntegrationDefinition> {
    return this.transition(id, version, 'published');
  }

  /** `published → deprecated`, keeping the reason and optional sunset date. */
  async deprecate(id: string, version: string, opts: Deprecation): Promise<IntegrationDefinition> {
    const issues: ValidationIssue[] = [];
    if (!isObject(opts) || typeof opts.reason !== 'string' || opts.reason.trim().length === 0) {
      issues.push({ path: 'reason', message: 'must say why the version is deprecated' });
    }
    if (
      opts?.sunsetAt !== undefined &&
      (typeof opts.sunsetAt !== 'string' || Number.isNaN(Date.parse(opts.sunsetAt)))
    ) {
      issues.push({ path: 'sunsetAt', message: 'must be an ISO date-time' });
    }
    if (issues.length > 0) throw new ValidationError(issues, 'deprecation');
    const deprecation =
      opts.sunsetAt === undefined
        ? { reason: opts.reason }
        : { reason: opts.reason, sunsetAt: new Date(opts.sunsetAt).toISOString() };
    return this.transition(id, version, 'deprecated', { deprecation });
  }

  /**
   * `published|deprecated → archived`. Compiled validators of the version are dropped.
   * @throws ReferencedError when instances or rules still use it
   */
  async archive(id: string, version: string): Promise<IntegrationDefinition> {
    return this.transition(id, version, 'archived');
  }

  /** Deletes a version. @throws ReferencedError when instances or rules still use it */
  async delete(id: string, version: string): Promise<void> {
    await this.ensureLoaded();
    await this.withLock(id, async () => {
      this.entry(id, version);
      await this.assertUnreferenced(id, version, 'delete');
      await this.collection.delete(`${id}@${version}`);
      const versions = this.byId.get(id);
      versions?.delete(version);
      if (versions && versions.size === 0) this.byId.delete(id);
      this.runtimes.delete(`${id}@${version}`);
      this.secrets.delete(`${id}@${version}`);
      this.schemas.drop(id, version);
      this.invalidate(id);
      this.emit('definition:deleted', { id, version });
    });
  }

  /**
   * Registers a checker asked before a version is archived or deleted (ConfigManager and
   * RuleEngine register theirs). Returns a function that unregisters it.
   */
  addReferenceChecker(checker: ReferenceChecker): () => void {
    if (typeof checker !== 'function') {
      throw new ValidationError(
        [{ path: 'checker', message: 'must be a function' }],
        'reference checker',
      );
    }
    this.checkers.add(checker);
    return () => {
      this.checkers.delete(checker);
    };
  }

  /** Everything that still references an integration (any version, or one version). */
  async findReferences(id: string, version?: string): Promise<Reference[]> {
    const ref: DefinitionRef = version === undefined ? { id } : { id, version };
    const lists = await Promise.all([...this.checkers].map((c) => c(ref)));
    return lists.flat();
  }

  private async assertUnreferenced(id: string, version: string, verb: string): Promise<void> {
    const refs = await this.findReferences(id, version);
    if (refs.length > 0) throw new ReferencedError(`Cannot ${verb} '${id}@${version}': it`, refs);
  }

  // ---------------------------------------------------------------- components

  /** Triggers of the resolved version, with runtime `factory` where attached. */
  async getAvailableTriggers(id: string, versionRange?: string): Promise<RegisteredTrigger[]> {
    return this.components(await this.get(id, versionRange)).triggers;
  }

  /** Integration-specific condition types, with runtime `factory` where attached. */
  async getAvailableConditions(id: string, versionRange?: string): Promise<RegisteredCondition[]> {
    return this.components(await this.get(id, versionRange)).conditions;
  }

  /** Actions of the resolved version, with runtime `handler` where attached. */
  async getAvailableActions(id: string, versionRange?: string): Promise<RegisteredAction[]> {
    return this.components(await this.get(id, versionRange)).actions;
  }

  /** Components of one exact version, with runtime parts (for callers pinned to a version). */
  async getComponents(id: string, version: string): Promise<Readonly<DefinitionComponents>> {
    return this.components(await this.getVersion(id, version));
  }

  // ---------------------------------------------------------------- validation

  /**
   * A compiled validator of one component schema of one version, compiled on first use
   * and cached. Synchronous once obtained; hold on to it on hot paths.
   *
   * @throws NotFoundError when the version (call `get` first so definitions are loaded) or component is unknown
   */
  getValidator(id: string, version: string, target: SchemaTarget): SchemaValidator {
    return this.schemas.validator(this.entry(id, version).def, target);
  }

  /** Validates an instance configuration against `configSchema`; never throws for invalid data. */
  async validateConfig(
    id: string,
    config: unknown,
    versionRange?: string,
  ): Promise<SchemaValidationResult> {
    const def = await this.get(id, versionRange);
    return this.schemas.validator(def, { kind: 'config' })(config);
  }

  /** Validates credentials against `credentialSchema`; messages never contain values. */
  async validateCredentials(
    id: string,
    credentials: unknown,
    versionRange?: string,
  ): Promise<SchemaValidationResult> {
    const def = await this.get(id, versionRange);
    return this.schemas.validator(def, { kind: 'credentials' })(credentials);
  }

  /**
   * Validates an event payload with the plugin's own validator when it has one, else
   * against the trigger's `payloadSchema`.
   */
  async validateEventPayload(
    id: string,
    eventType: string,
    payload: unknown,
    versionRange?: string,
  ): Promise<PayloadValidationResult> {
    const def = await this.get(id, versionRange);
    const rt = this.runtimes.get(`${def.id}@${def.version}`);
    if (rt?.validateEventPayload) return rt.validateEventPayload(eventType, payload);
    if (!def.triggers.some((t) => t.type === eventType)) {
      const hint = closest(
        eventType,
        def.triggers.map((t) => t.type),
      );
      return {
        isValid: false,
        errors: [
          {
            path: 'type',
            message: `'${def.id}@${def.version}' has no event type '${eventType}'${
              hint.length > 0 ? ` (did you mean ${hint.map((h) => `'${h}'`).join(' or ')}?)` : ''
            }`,
          },
        ],
      };
    }
    const r = this.schemas.validator(def, { kind: 'trigger-payload', type: eventType })(payload);
    return r.valid ? { isValid: true } : { isValid: false, errors: r.errors };
  }

  /** Names of the secret credential fields (`writeOnly: true` or `format: 'password'`) of a version. */
  async getSecretFields(id: string, version: string): Promise<string[]> {
    const def = await this.getVersion(id, version);
    const key = `${id}@${version}`;
    let fields = this.secrets.get(key);
    if (!fields) {
      fields = secretFields(def.credentialSchema, sharedOf(def));
      this.secrets.set(key, fields);
    }
    return [...fields];
  }

  /** Number of compiled validators currently cached (diagnostics). */
  get compiledValidatorCount(): number {
    return this.schemas.size;
  }
}

function compareEntries(a: Entry, b: Entry): number {
  if (a.def.id !== b.def.id) return a.def.id < b.def.id ? -1 : 1;
  return semver.rcompare(a.parsed, b.parsed);
}

function lowerBound(all: readonly Entry[], pos: { id: string; version: string }): number {
  const parsed = new semver.SemVer(pos.version);
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = all[mid]!;
    const c =
      e.def.id !== pos.id ? (e.def.id < pos.id ? -1 : 1) : semver.rcompare(e.parsed, parsed);
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeListCursor(id: string, version: string): string {
  return Buffer.from(JSON.stringify([id, version])).toString('base64url');
}

function decodeListCursor(cursor: string): { id: string; version: string } {
  try {
    const v = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      semver.valid(v[1])
    ) {
      return { id: v[0], version: v[1] };
    }
  } catch {
    // fall through
  }
  throw new ValidationError(
    [
      {
        path: 'cursor',
        message: 'is not a cursor returned by list(); start again without a cursor',
      },
    ],
    'list query',
  );
}

/** Separates runtime functions from the serialisable definition. */
function splitRuntime(input: IntegrationDefinitionInput): {
  data: Record<string, unknown>;
  runtime: DefinitionRuntime;
  issues: ValidationIssue[];
} {
  const issues: ValidationIssue[] = [];
  const data: Record<string, unknown> = { ...(input as unknown as Record<string, unknown>) };
  const triggers: Record<string, TriggerRuntime> = {};
  const conditions: Record<string, ConditionRuntime> = {};
  const actions: Record<string, ActionRuntime> = {};
  const strip = (
    kind: 'triggers' | 'conditions' | 'actions',
    fnName: 'factory' | 'handler',
    into: Record<string, Record<string, unknown>>,
  ) => {
    const list = data[kind];
    if (list === undefined) return;
    if (!Array.isArray(list)) return; // the meta-schema reports it
    data[kind] = list.map((item: unknown, i: number) => {
      if (!isObject(item) || !(fnName in item)) return item;
      const { [fnName]: fn, ...rest } = item;
      if (fn !== undefined && typeof fn !== 'function') {
        issues.push({ path: `${kind}[${i}].${fnName}`, message: 'must be a function' });
      } else if (typeof fn === 'function' && typeof rest['type'] === 'string') {
        into[rest['type']] = { [fnName]: fn };
      }
      return rest;
    });
  };
  strip('triggers', 'factory', triggers as Record<string, Record<string, unknown>>);
  strip('conditions', 'factory', conditions as Record<string, Record<string, unknown>>);
  strip('actions', 'handler', actions as Record<string, Record<string, unknown>>);
  return { data, runtime: { triggers, conditions, actions }, issues };
}

/** Rules the meta-schema cannot express. */
function semanticIssues(def: IntegrationDefinitionData): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (def.authType === 'oauth2' && !def.oauth2Config) {
    issues.push({ path: 'oauth2Config', message: "is required when authType is 'oauth2'" });
  }
  const dupes = (kind: 'triggers' | 'conditions' | 'actions') => {
    const seen = new Map<string, number>();
    (def[kind] ?? []).forEach((c, i) => {
      const first = seen.get(c.type);
      if (first !== undefined) {
        issues.push({
          path: `${kind}[${i}].type`,
          message: `duplicates ${kind}[${first}].type '${c.type}'`,
        });
      } else seen.set(c.type, i);
    });
  };
  dupes('triggers');
  dupes('conditions');
  dupes('actions');
  return issues;
}
