/**
 * `IntegrationRegistry`: versioned integration definitions with lifecycle, compatibility
 * checks, discovery and schema validation. A facade over the version index, the runtime
 * parts, the schema service and the reference checkers, each owning its own state.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { ConflictError, type Reference, ValidationError } from '../errors.js';
import { AccessGuard } from '../internal/access.js';
import { KeyedMutex } from '../internal/async.js';
import {
  integerIssue,
  objectIssue,
  optionalStringIssue,
  optionsOf,
  throwIfIssues,
} from '../internal/options.js';
import { closest } from '../internal/suggest.js';
import type { DefinitionStatus, Deprecation, IntegrationDefinition } from '../schema/definition.js';
import type {
  ConfigMigration,
  IntegrationDefinitionInput,
  RegisteredAction,
  RegisteredCondition,
  RegisteredTrigger,
} from '../schema/runtime.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import { assertBackwardCompatible } from './compatibility.js';
import { checkDefinitionInput, newDefinition } from './definition-input.js';
import type { RegistryEvents } from './events.js';
import { assertIdVersion, assertRange, assertString, assertTarget } from './input-checks.js';
import { assertTransition, deprecationOf } from './lifecycle.js';
import { listPage } from './list-query.js';
import { ReferenceCheckers } from './references.js';
import { RuntimeStore } from './runtime-store.js';
import {
  SchemaService,
  type SchemaTarget,
  type SchemaValidationResult,
  type SchemaValidator,
} from './schemas.js';
import { rankByText } from './search.js';
import type {
  DefinitionComponents,
  DefinitionPage,
  DefinitionRuntime,
  IntegrationRegistryOptions,
  ListDefinitionsQuery,
  PayloadValidationResult,
  ReferenceChecker,
  RegisterOptions,
} from './types.js';
import { VersionIndex } from './version-index.js';

interface DefinitionDocument extends StoredDocument {
  readonly integrationId: string;
  readonly version: string;
  readonly status: DefinitionStatus;
  readonly definition: IntegrationDefinition;
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
  private readonly index = new VersionIndex();
  private readonly runtimes = new RuntimeStore();
  private readonly checkers = new ReferenceCheckers();
  private readonly locks = new KeyedMutex();
  private readonly guard: AccessGuard;
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
    throwIfIssues('registry options', [integerIssue('maxIssues', maxIssues)]);
    this.guard = new AccessGuard(options.authorize);
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
        for (const doc of items) this.index.add(doc.definition);
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
    this.index.clear();
    this.runtimes.invalidate();
    for (const doc of items) this.index.add(doc.definition);
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
    optionsOf(opts, 'register options');
    await this.guard.check(
      'definition.register',
      { integrationId: input?.id, version: input?.version },
      opts?.actor,
    );
    const { data, runtime } = checkDefinitionInput(input, (json) => this.schemas.check(json));
    await this.ensureLoaded();
    return this.locks.run(data.id, async () => {
      const key = `${data.id}@${data.version}`;
      if (this.index.has(data.id, data.version)) {
        throw new ConflictError(
          `Integration '${key}' is already registered; bump the version to change it`,
        );
      }
      const def = newDefinition(data, opts.publish);
      assertBackwardCompatible(this.index.previousInMajor(def.id, def.version), def);
      await this.collection.insert({
        id: key,
        integrationId: def.id,
        version: def.version,
        status: def.status,
        definition: def,
      });
      const entry = this.index.add(def);
      // Parse the shared components for ajv now (no compilation), so the first event
      // validated does not pay for a large shared block.
      if (def.definitions || def.$defs) this.schemas.addShared(entry.def);
      this.runtimes.set(key, runtime);
      this.runtimes.invalidate(def.id);
      this.emit('definition:registered', entry.def);
      return entry.def;
    });
  }

  // ---------------------------------------------------------------- runtime parts

  /**
   * Attaches runtime parts to a stored version (replacing any attached before), e.g. when
   * a plugin is loaded in a process that finds its definition already stored.
   *
   * @throws NotFoundError when the version is unknown; ValidationError for unknown component types
   */
  attachRuntime(id: string, version: string, runtime: DefinitionRuntime): void {
    assertIdVersion(id, version);
    throwIfIssues('runtime', [objectIssue('runtime', runtime)]);
    if (!this.loaded) {
      throw new ValidationError(
        [{ path: 'registry', message: 'no definitions loaded yet; await get()/register() first' }],
        'attachRuntime',
      );
    }
    this.runtimes.attach(this.index.entry(id, version).def, runtime);
  }

  /** Removes runtime parts of one version, or of every version when `version` is omitted. */
  detachRuntime(id: string, version?: string): void {
    assertIdVersion(id, version, true);
    this.runtimes.detach(id, version);
  }

  /** Whether runtime parts are attached to `id@version`. */
  hasRuntime(id: string, version: string): boolean {
    assertIdVersion(id, version);
    return this.runtimes.has(`${id}@${version}`);
  }

  /** The config migrations declared by `id@version` (empty when none are attached). */
  getMigrations(id: string, version: string): readonly ConfigMigration[] {
    assertIdVersion(id, version);
    return this.runtimes.get(`${id}@${version}`)?.migrations ?? [];
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
    return this.index.resolve(id, versionRange).def;
  }

  /** One exact version, whatever its status. @throws NotFoundError */
  async getVersion(id: string, version: string): Promise<IntegrationDefinition> {
    if (!this.loaded) await this.ensureLoaded();
    assertString(id, 'id', 'integration id');
    assertString(version, 'version', 'version');
    return this.index.entry(id, version).def;
  }

  /** Every registered version of an integration, lowest first. @throws NotFoundError */
  async listVersions(id: string): Promise<string[]> {
    assertString(id, 'id', 'integration id');
    await this.ensureLoaded();
    return this.index.versionsOf(id);
  }

  /** Definitions ordered by id then version (highest first), filtered and paged. */
  async list(query: ListDefinitionsQuery = {}): Promise<DefinitionPage> {
    const q = optionsOf(query, 'list query', 'query');
    throwIfIssues(
      'list query',
      (['status', 'authType', 'tag', 'text', 'cursor'] as const).map((k) =>
        optionalStringIssue(k, q[k]),
      ),
    );
    await this.ensureLoaded();
    return listPage(this.index.all(), query);
  }

  /**
   * Integrations matching `text`, best first: ranked by id, name, tags, trigger and action
   * names, description. Returns the highest non-archived version of each.
   */
  async search(text: string, opts: { limit?: number } = {}): Promise<IntegrationDefinition[]> {
    if (typeof text !== 'string') {
      throw new ValidationError([{ path: 'text', message: 'must be a string' }], 'search');
    }
    const limit = optionsOf(opts, 'search options').limit ?? 20;
    throwIfIssues('search options', [integerIssue('limit', limit)]);
    await this.ensureLoaded();
    return rankByText(this.index.latestOfEach(), text, limit);
  }

  // ---------------------------------------------------------------- lifecycle

  private async transition(
    id: string,
    version: string,
    to: DefinitionStatus,
    extra: Partial<IntegrationDefinition> = {},
  ): Promise<IntegrationDefinition> {
    assertIdVersion(id, version);
    await this.ensureLoaded();
    return this.locks.run(id, async () => {
      const { def } = this.index.entry(id, version);
      const from = def.status;
      assertTransition(id, version, from, to);
      if (to === 'archived') await this.checkers.assertUnreferenced(id, version, 'archive');
      const next: IntegrationDefinition = {
        ...def,
        ...extra,
        status: to,
        updatedAt: new Date().toISOString(),
      };
      await this.collection.update(`${id}@${version}`, { status: to, definition: next });
      const entry = this.index.add(next);
      this.runtimes.invalidate(id);
      if (to === 'archived') this.schemas.drop(id, version);
      this.emit('definition:status-changed', entry.def, { from, to });
      return entry.def;
    });
  }

  /** `draft → published`. @throws ValidationError naming the allowed transitions */
  async publish(
    id: string,
    version: string,
    opts: { readonly actor?: string } = {},
  ): Promise<IntegrationDefinition> {
    await this.guard.check('definition.publish', { integrationId: id, version }, opts?.actor);
    return this.transition(id, version, 'published');
  }

  /** `published → deprecated`, keeping the reason and optional sunset date. */
  async deprecate(
    id: string,
    version: string,
    opts: Deprecation & { readonly actor?: string },
  ): Promise<IntegrationDefinition> {
    assertIdVersion(id, version);
    await this.guard.check('definition.deprecate', { integrationId: id, version }, opts?.actor);
    return this.transition(id, version, 'deprecated', { deprecation: deprecationOf(opts) });
  }

  /**
   * `published|deprecated → archived`. Compiled validators of the version are dropped.
   * @throws ReferencedError when instances or rules still use it
   */
  async archive(
    id: string,
    version: string,
    opts: { readonly actor?: string } = {},
  ): Promise<IntegrationDefinition> {
    await this.guard.check('definition.archive', { integrationId: id, version }, opts?.actor);
    return this.transition(id, version, 'archived');
  }

  /** Deletes a version. @throws ReferencedError when instances or rules still use it */
  async delete(id: string, version: string, opts: { readonly actor?: string } = {}): Promise<void> {
    assertIdVersion(id, version);
    optionsOf(opts, 'delete options');
    await this.guard.check('definition.delete', { integrationId: id, version }, opts?.actor);
    await this.ensureLoaded();
    await this.locks.run(id, async () => {
      this.index.entry(id, version);
      await this.checkers.assertUnreferenced(id, version, 'delete');
      await this.collection.delete(`${id}@${version}`);
      this.index.remove(id, version);
      this.runtimes.delete(`${id}@${version}`);
      this.schemas.drop(id, version);
      this.runtimes.invalidate(id);
      this.emit('definition:deleted', { id, version });
    });
  }

  /**
   * Registers a checker asked before a version is archived or deleted (ConfigManager and
   * RuleEngine register theirs). Returns a function that unregisters it.
   */
  addReferenceChecker(checker: ReferenceChecker): () => void {
    return this.checkers.add(checker);
  }

  /** Everything that still references an integration (any version, or one version). */
  async findReferences(id: string, version?: string): Promise<Reference[]> {
    assertIdVersion(id, version, true);
    return this.checkers.find(id, version);
  }

  // ---------------------------------------------------------------- components

  /** Triggers of the resolved version, with runtime `factory` where attached. */
  async getAvailableTriggers(id: string, versionRange?: string): Promise<RegisteredTrigger[]> {
    return this.runtimes.components(await this.get(id, versionRange)).triggers;
  }

  /** Integration-specific condition types, with runtime `factory` where attached. */
  async getAvailableConditions(id: string, versionRange?: string): Promise<RegisteredCondition[]> {
    return this.runtimes.components(await this.get(id, versionRange)).conditions;
  }

  /** Actions of the resolved version, with runtime `handler` where attached. */
  async getAvailableActions(id: string, versionRange?: string): Promise<RegisteredAction[]> {
    return this.runtimes.components(await this.get(id, versionRange)).actions;
  }

  /** Components of one exact version, with runtime parts (for callers pinned to a version). */
  async getComponents(id: string, version: string): Promise<Readonly<DefinitionComponents>> {
    return this.runtimes.components(await this.getVersion(id, version));
  }

  // ---------------------------------------------------------------- validation

  /**
   * A compiled validator of one component schema of one version, compiled on first use
   * and cached. Synchronous once obtained; hold on to it on hot paths.
   *
   * @throws NotFoundError when the version (call `get` first so definitions are loaded) or component is unknown
   */
  getValidator(id: string, version: string, target: SchemaTarget): SchemaValidator {
    assertIdVersion(id, version);
    assertTarget(target);
    return this.schemas.validator(this.index.entry(id, version).def, target);
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
    assertString(eventType, 'eventType', 'event type');
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

  /**
   * Names of the top-level credential fields a version marks secret (`writeOnly: true` or
   * `format: 'password'`). Instance views do not depend on it: they show only the fields
   * marked `x-public: true`.
   */
  async getSecretFields(id: string, version: string): Promise<string[]> {
    return this.schemas.secretFields(await this.getVersion(id, version));
  }

  /** Number of compiled validators currently cached (diagnostics). */
  get compiledValidatorCount(): number {
    return this.schemas.size;
  }
}
