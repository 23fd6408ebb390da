/**
 * The instances of a config manager: the `instances` collection, the frozen views of
 * its documents, the scope index kept current by every write, the checkers asked before
 * a delete, and the instance writes themselves (create, update, upgrade, delete) with
 * their revision checks.
 *
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import { redactCredentials, safeErrorMessage } from '../credentials/redact.js';
import {
  ConflictError,
  ConnectionTestError,
  isPlugboardError,
  NotFoundError,
  ReferencedError,
  ValidationError,
} from '../errors.js';
import { isoAt } from '../internal/clock.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { Collection, StorageAdapter } from '../storage/types.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { CredentialVault } from './credential-vault.js';
import {
  type Changes,
  type InstanceDocument,
  MAX_MUTATE_ATTEMPTS,
  sameStatus,
  statusOf,
  viewOf,
} from './instance-document.js';
import { checkCreateInput, checkUpdateChanges, contextOf } from './instance-schemas.js';
import type { ConfigEmitter, ConnectionTester, InstanceAccess, StoreRegistry } from './ports.js';
import { ScopeIndex } from './scope-index.js';
import type {
  CreateInstanceInput,
  CreateInstanceOptions,
  DeleteInstanceOptions,
  InstanceContext,
  InstanceReferenceChecker,
  InstanceStatus,
  InstanceView,
  InstanceWriteOptions,
  ListInstancesQuery,
  ResolveContext,
  UpdateInstanceChanges,
} from './types.js';

/** Options of {@link InstanceStore}. */
export interface InstanceStoreOptions {
  readonly storage: StorageAdapter;
  readonly registry: StoreRegistry;
  readonly vault: CredentialVault;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
  /** `lastUsedAt` is written at most this often per instance. */
  readonly lastUsedThrottleMs: number;
}

/** Owns the instance documents, their views, the scope index and the reference checkers. */
export class InstanceStore implements InstanceAccess {
  private readonly col: Collection<InstanceDocument>;
  private readonly registry: StoreRegistry;
  private readonly vault: CredentialVault;
  private readonly recorder: AuditRecorder;
  private readonly emitter: ConfigEmitter;
  private readonly now: () => number;
  private readonly lastUsedThrottleMs: number;
  private readonly views = new WeakMap<InstanceDocument, InstanceView>();
  private readonly scopes: ScopeIndex;
  private readonly checkers = new Set<InstanceReferenceChecker>();
  private readonly removeReferenceChecker: () => void;

  constructor(options: InstanceStoreOptions) {
    this.registry = options.registry;
    this.vault = options.vault;
    this.recorder = options.recorder;
    this.emitter = options.emitter;
    this.now = options.now;
    this.lastUsedThrottleMs = options.lastUsedThrottleMs;
    this.col = options.storage.collection<InstanceDocument>('instances', {
      indexes: [
        'integrationId',
        'version',
        'context.type',
        'context.contextId',
        'status.state',
        'keyId',
      ],
    });
    this.scopes = new ScopeIndex(async (integrationId) => {
      const views: InstanceView[] = [];
      for await (const page of this.pages(1000, { integrationId })) {
        for (const doc of page) views.push(this.view(doc));
      }
      return views;
    });
    this.removeReferenceChecker = this.registry.addReferenceChecker(async (ref) => {
      const where: Record<string, string> = { integrationId: ref.id };
      if (ref.version !== undefined) where['version'] = ref.version;
      const { items } = await this.col.find({ where });
      return items.map((d) => ({ kind: 'instance', id: d.id }));
    });
  }

  // ------------------------------------------------------------------ writes

  /** See `ConfigManager.createInstance`; `tester` runs the connection test of `{ test: true }`. */
  async create(
    input: CreateInstanceInput,
    opts: CreateInstanceOptions,
    tester: ConnectionTester,
  ): Promise<InstanceView> {
    checkCreateInput(input);
    const config = input.config ?? {};
    const credentials = input.credentials ?? {};
    const def = await this.registry.get(input.integrationId, input.version);
    const secretFields = await this.vault.secretFields(def.id, def.version);
    this.vault.validate(def, config, credentials, secretFields);
    const instanceId = input.instanceId ?? randomUUID();
    const actor = opts.actor ?? this.recorder.defaultActor;
    const nowIso = this.iso();
    if (opts.test) {
      await this.testNew(tester, def, { credentials, config, secretFields, instanceId, actor });
    }
    const stored = await this.insert({
      id: instanceId,
      integrationId: def.id,
      version: def.version,
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      context: contextOf(input.context),
      ...(input.isDefault !== undefined ? { isDefault: input.isDefault } : {}),
      config,
      ...this.vault.seal(instanceId, credentials, secretFields),
      status: statusOf('active', opts.test ? nowIso : undefined),
      createdAt: nowIso,
      updatedAt: nowIso,
    });
    const view = this.commit(stored);
    if (stored.isDefault === true) await this.clearOtherDefaults(stored, actor);
    await this.recorder.record({
      actor,
      action: 'instance.create',
      instanceId,
      integrationId: def.id,
      outcome: 'success',
    });
    this.emitter.emit('instance:created', view);
    return view;
  }

  /** See `ConfigManager.updateInstance`. */
  async update(
    instanceId: string,
    changes: UpdateInstanceChanges,
    opts: InstanceWriteOptions,
  ): Promise<InstanceView> {
    checkUpdateChanges(changes);
    const context = changes.context !== undefined ? contextOf(changes.context) : undefined;
    const actor = opts.actor ?? this.recorder.defaultActor;
    let result: { before: InstanceDocument; after: InstanceDocument };
    try {
      result = await this.mutate(instanceId, opts.expectedRevision, (doc) =>
        this.changesOf(doc, changes, context),
      );
    } catch (error) {
      await this.recorder.failure(actor, 'instance.update', instanceId, error);
      throw error;
    }
    const view = this.view(result.after);
    if (changes.isDefault === true || (context !== undefined && result.after.isDefault === true)) {
      await this.clearOtherDefaults(result.after, actor);
    }
    await this.recorder.record({
      actor,
      action: 'instance.update',
      instanceId,
      integrationId: result.after.integrationId,
      outcome: 'success',
      detail: `changed ${Object.keys(changes).sort().join(', ') || 'nothing'}`,
    });
    this.emitter.emit('instance:updated', view);
    this.emitStatus(result.before, result.after);
    return view;
  }

  /** See `ConfigManager.upgradeInstance`. */
  async upgrade(
    instanceId: string,
    toVersion: string,
    opts: InstanceWriteOptions & { readonly config?: Readonly<Record<string, unknown>> },
  ): Promise<InstanceView> {
    const actor = opts.actor ?? this.recorder.defaultActor;
    let result: { before: InstanceDocument; after: InstanceDocument };
    try {
      result = await this.mutate(instanceId, opts.expectedRevision, async (doc) => {
        const def = await this.registry.get(doc.integrationId, toVersion);
        const secretFields = await this.vault.secretFields(def.id, def.version);
        const config = opts.config ?? doc.config;
        const credentials = this.vault.open(doc);
        const what = `upgrade to ${def.id}@${def.version}`;
        this.vault.validate(def, config, credentials, secretFields, what);
        return {
          version: def.version,
          config,
          // Secret fields may differ between versions: re-derive the redacted view.
          credentialsView: redactCredentials(credentials, secretFields),
          updatedAt: this.iso(),
        };
      });
    } catch (error) {
      await this.recorder.failure(actor, 'instance.upgrade', instanceId, error);
      throw error;
    }
    const view = this.view(result.after);
    await this.recorder.record({
      actor,
      action: 'instance.upgrade',
      instanceId,
      integrationId: result.after.integrationId,
      outcome: 'success',
      detail: `${result.before.version} -> ${result.after.version}`,
    });
    this.emitter.emit('instance:updated', view);
    return view;
  }

  /** See `ConfigManager.deleteInstance`. */
  async remove(instanceId: string, opts: DeleteInstanceOptions): Promise<void> {
    const doc = await this.require(instanceId);
    const actor = opts.actor ?? this.recorder.defaultActor;
    if (opts.expectedRevision !== undefined && opts.expectedRevision !== doc.revision) {
      throw staleRevision(doc, opts.expectedRevision);
    }
    if (opts.force !== true) {
      const refs = (await Promise.all([...this.checkers].map((check) => check(instanceId)))).flat();
      if (refs.length > 0) {
        throw new ReferencedError(`Instance '${instanceId}'`, refs);
      }
    }
    await this.col.delete(instanceId, {
      expectedRevision: opts.expectedRevision ?? doc.revision,
    });
    this.scopes.remove(doc.integrationId, instanceId);
    this.vault.forget(instanceId);
    await this.recorder.record({
      actor,
      action: 'instance.delete',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    this.emitter.emit('instance:deleted', { instanceId, integrationId: doc.integrationId });
  }

  /** See `ConfigManager.addReferenceChecker`. */
  addReferenceChecker(checker: InstanceReferenceChecker): () => void {
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

  /**
   * Read-modify-write with optimistic concurrency. With `expectedRevision` a stale read
   * is a ConflictError; without it, a concurrent write makes it re-read and retry.
   * `fn` returning `undefined` writes nothing.
   */
  async mutate(
    instanceId: string,
    expectedRevision: number | undefined,
    fn: (doc: InstanceDocument) => Promise<Changes | undefined>,
  ): Promise<{ before: InstanceDocument; after: InstanceDocument }> {
    for (let attempt = 1; ; attempt++) {
      const doc = await this.require(instanceId);
      if (expectedRevision !== undefined && doc.revision !== expectedRevision) {
        throw staleRevision(doc, expectedRevision);
      }
      const changes = await fn(doc);
      if (changes === undefined) return { before: doc, after: doc };
      try {
        const after = await this.col.update(instanceId, changes, {
          expectedRevision: doc.revision,
        });
        this.commit(after);
        return { before: doc, after };
      } catch (error) {
        if (!isPlugboardError(error, 'CONFLICT')) throw error;
        if (expectedRevision !== undefined) {
          throw new ConflictError(
            `Instance '${instanceId}' changed while it was being updated (expected revision ${expectedRevision}); reload it and retry`,
          );
        }
        if (attempt >= MAX_MUTATE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Sets the status computed from the current document and announces a change;
   * resolves the stored document, or undefined when the instance is gone.
   */
  async recordStatus(
    instanceId: string,
    next: (current: InstanceDocument) => InstanceStatus,
  ): Promise<InstanceDocument | undefined> {
    try {
      const { before, after } = await this.mutate(instanceId, undefined, async (current) => ({
        status: next(current),
      }));
      this.emitStatus(before, after);
      return after;
    } catch (error) {
      if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
      return undefined;
    }
  }

  /** Announces `instance:status-changed` when the status differs. */
  emitStatus(before: InstanceDocument, after: InstanceDocument): void {
    if (!sameStatus(before.status, after.status)) {
      this.emitter.emit('instance:status-changed', this.view(after), {
        from: before.status,
        to: after.status,
      });
    }
  }

  /** Writes `lastUsedAt`, at most once per throttle window per instance. */
  async touch(doc: InstanceDocument): Promise<void> {
    const now = this.now();
    if (doc.lastUsedAt !== undefined && now - Date.parse(doc.lastUsedAt) < this.lastUsedThrottleMs)
      return;
    try {
      const after = await this.col.update(doc.id, {
        lastUsedAt: new Date(now).toISOString(),
      });
      this.commit(after);
    } catch (error) {
      if (!isPlugboardError(error, 'NOT_FOUND')) {
        this.recorder.warn('Could not record lastUsedAt', {
          instanceId: doc.id,
          error: safeErrorMessage(error, []),
        });
      }
    }
  }

  // ------------------------------------------------------------------- reads

  /** The stored document, if any. */
  find(instanceId: string): Promise<InstanceDocument | undefined> {
    return this.col.get(instanceId);
  }

  /** The stored document. @throws NotFoundError */
  async require(instanceId: string): Promise<InstanceDocument> {
    const doc =
      typeof instanceId === 'string' && instanceId !== ''
        ? await this.col.get(instanceId)
        : undefined;
    if (!doc) throw new NotFoundError('instance', String(instanceId));
    return doc;
  }

  /** Stored documents (all, or those matching `where`), page by page. */
  async *pages(
    pageSize: number,
    where?: Readonly<Record<string, string>>,
  ): AsyncGenerator<readonly InstanceDocument[]> {
    let cursor: string | undefined;
    do {
      const page = await this.col.find({
        ...(where !== undefined ? { where } : {}),
        limit: pageSize,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      yield page.items;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  /** See `ConfigManager.listInstances`. */
  async list(q: ListInstancesQuery): Promise<{ items: InstanceView[]; nextCursor?: string }> {
    const where: Record<string, string> = {};
    if (q.integrationId !== undefined) where['integrationId'] = q.integrationId;
    if (q.context !== undefined) {
      where['context.type'] = q.context.type;
      if (q.context.contextId !== undefined) where['context.contextId'] = q.context.contextId;
    }
    if (q.status !== undefined) where['status.state'] = q.status;
    const page = await this.col.find({
      where,
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    const items = page.items.map((d) => this.view(d));
    return page.nextCursor !== undefined ? { items, nextCursor: page.nextCursor } : { items };
  }

  /** See `ConfigManager.resolveInstance`. */
  resolve(integrationId: string, ctx?: ResolveContext): InstanceView | Promise<InstanceView> {
    return this.scopes.resolve(integrationId, ctx);
  }

  /** Drops the scope index (all, or one integration). */
  invalidate(integrationId?: string): void {
    this.scopes.clear(integrationId);
  }

  /** The frozen view of a document, built once per document. */
  view(doc: InstanceDocument): InstanceView {
    let view = this.views.get(doc);
    if (!view) {
      view = viewOf(doc);
      this.views.set(doc, view);
    }
    return view;
  }

  /** Records a written document in the scope index and returns its view. */
  commit(doc: InstanceDocument): InstanceView {
    const view = this.view(doc);
    this.scopes.upsert(view);
    return view;
  }

  /** Unregisters from the registry. */
  close(): void {
    this.removeReferenceChecker();
  }

  // --------------------------------------------------------------- internals

  private iso(): string {
    return isoAt(this.now());
  }

  private async insert(doc: Omit<InstanceDocument, 'revision'>): Promise<InstanceDocument> {
    try {
      return await this.col.insert(doc);
    } catch (error) {
      if (isPlugboardError(error, 'CONFLICT')) {
        throw new ConflictError(`Instance '${doc.id}' already exists; choose another instanceId`);
      }
      throw error;
    }
  }

  /** Tests the credentials of an instance about to be created. @throws ConnectionTestError */
  private async testNew(
    tester: ConnectionTester,
    def: IntegrationDefinition,
    t: {
      credentials: Record<string, unknown>;
      config: Readonly<Record<string, unknown>>;
      secretFields: ReadonlySet<string>;
      instanceId: string;
      actor: string;
    },
  ): Promise<void> {
    const result = await tester.runTest(def, t.credentials, t.config, t.secretFields);
    if (result.ok) return;
    await this.recorder.record({
      actor: t.actor,
      action: 'instance.create',
      instanceId: t.instanceId,
      integrationId: def.id,
      outcome: 'failure',
      detail: `connection test failed (${result.reason})`,
    });
    throw new ConnectionTestError(
      `Connection test of the new '${def.id}' instance failed: ${result.error}`,
      result.reason,
    );
  }

  /** The document changes of an update (config and credentials re-validated). */
  private async changesOf(
    doc: InstanceDocument,
    changes: UpdateInstanceChanges,
    context: InstanceContext | undefined,
  ): Promise<Changes> {
    const out: Changes = { updatedAt: this.iso() };
    if (changes.name !== undefined) out.name = changes.name;
    if (changes.description === null) out.description = undefined;
    else if (changes.description !== undefined) out.description = changes.description;
    if (context !== undefined) out.context = context;
    if (changes.isDefault !== undefined) out.isDefault = changes.isDefault;
    if (changes.enabled === false && doc.status.state !== 'inactive') {
      out.status = statusOf('inactive', doc.status.lastChecked);
    } else if (changes.enabled === true && doc.status.state === 'inactive') {
      out.status = statusOf('active', doc.status.lastChecked);
    }
    if (changes.config === undefined && changes.credentials === undefined) return out;
    const def = await this.registry.getVersion(doc.integrationId, doc.version);
    const secretFields = await this.vault.secretFields(doc.integrationId, doc.version);
    let credentials: Record<string, unknown> | undefined;
    if (changes.credentials !== undefined) {
      const current = this.vault.open(doc);
      credentials = {};
      for (const [k, v] of Object.entries(changes.credentials)) {
        // A form that sends the redacted view back keeps the stored secret.
        credentials[k] = v === '[redacted]' && Object.hasOwn(current, k) ? current[k] : v;
      }
    }
    this.vault.validate(def, changes.config, credentials, secretFields);
    if (changes.config !== undefined) out.config = changes.config;
    if (credentials !== undefined)
      Object.assign(out, this.vault.seal(doc.id, credentials, secretFields));
    return out;
  }

  /** Clears `isDefault` on the other instances of the same scope. */
  private async clearOtherDefaults(doc: InstanceDocument, actor: string): Promise<void> {
    const where: Record<string, string> = {
      integrationId: doc.integrationId,
      'context.type': doc.context.type,
    };
    if (doc.context.contextId !== undefined) where['context.contextId'] = doc.context.contextId;
    const { items } = await this.col.find({ where });
    for (const other of items) {
      if (other.id === doc.id || other.isDefault !== true) continue;
      if (
        other.context.type === 'global' ? false : other.context.contextId !== doc.context.contextId
      )
        continue;
      try {
        const { after } = await this.mutate(other.id, undefined, async (d) =>
          d.isDefault === true ? { isDefault: false, updatedAt: this.iso() } : undefined,
        );
        await this.recorder.record({
          actor,
          action: 'instance.update',
          instanceId: other.id,
          integrationId: other.integrationId,
          outcome: 'success',
          detail: `isDefault cleared: '${doc.id}' is now the default`,
        });
        this.emitter.emit('instance:updated', this.view(after));
      } catch (error) {
        if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
      }
    }
  }
}

function staleRevision(doc: InstanceDocument, expected: number): ConflictError {
  return new ConflictError(
    `Instance '${doc.id}' is at revision ${doc.revision}, not ${expected}; reload it and retry`,
  );
}
