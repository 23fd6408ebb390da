/**
 * The instances of a config manager: the `instances` collection, the frozen views of
 * its documents, the scope index kept current by every write, the checkers asked before
 * a delete, and the writes with their revision checks (optimistic concurrency).
 *
 * @internal
 * @module
 */
import { safeErrorMessage } from '../credentials/redact.js';
import { ConflictError, isPlugboardError, NotFoundError, type Reference } from '../errors.js';
import { assertIdLength } from '../internal/ids.js';
import { optionsOf, stringIssue, throwIfIssues } from '../internal/options.js';
import { ReferenceCheckers } from '../registry/references.js';
import type { Collection, StorageAdapter } from '../storage/types.js';
import type { AuditRecorder } from './audit-recorder.js';
import {
  type Changes,
  type InstanceDocument,
  MAX_MUTATE_ATTEMPTS,
  sameStatus,
  viewOf,
} from './instance-document.js';
import type { ConfigEmitter, StoreRegistry } from './ports.js';
import { ScopeIndex } from './scope-index.js';
import type {
  InstanceReferenceChecker,
  InstanceStatus,
  InstanceView,
  ListInstancesQuery,
  ResolveContext,
} from './types.js';

/** Options of {@link InstanceStore}. */
export interface InstanceStoreOptions {
  readonly storage: StorageAdapter;
  readonly registry: StoreRegistry;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
  /** `lastUsedAt` is written at most this often per instance. */
  readonly lastUsedThrottleMs: number;
  /**
   * Brings the stored documents to the current format; runs once, before the first
   * access (retried on the next access when it fails).
   */
  readonly migrate: (instances: Collection<InstanceDocument>) => Promise<void>;
}

/** Owns the instance documents, their views, the scope index and the reference checkers. */
export class InstanceStore {
  private readonly col: Collection<InstanceDocument>;
  private readonly views = new WeakMap<InstanceDocument, InstanceView>();
  private readonly scopes: ScopeIndex;
  private readonly checkers = new ReferenceCheckers<string>();
  private readonly removeReferenceChecker: () => void;
  private migrated: Promise<void> | undefined;

  constructor(private readonly o: InstanceStoreOptions) {
    this.col = o.storage.collection<InstanceDocument>('instances', {
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
    this.removeReferenceChecker = this.o.registry.addReferenceChecker(async (ref) => {
      const where: Record<string, string> = { integrationId: ref.id };
      if (ref.version !== undefined) where['version'] = ref.version;
      const items = await this.findWhere(where);
      return items.map((d) => ({ kind: 'instance', id: d.id }));
    });
  }

  /** The collection, once its documents are in the current format. */
  private async ready(): Promise<Collection<InstanceDocument>> {
    this.migrated ??= this.o.migrate(this.col).catch((e: unknown) => {
      this.migrated = undefined;
      throw e;
    });
    await this.migrated;
    return this.col;
  }

  /** Deletes a document read at `expectedRevision` and drops it from the scope index. */
  async delete(doc: InstanceDocument, expectedRevision: number): Promise<void> {
    const col = await this.ready();
    await col.delete(doc.id, { expectedRevision });
    this.scopes.remove(doc.integrationId, doc.id);
  }

  /** What the reference checkers report as still using an instance. */
  references(instanceId: string): Promise<Reference[]> {
    return this.checkers.collect(instanceId);
  }

  /** See `ConfigManager.addReferenceChecker`. */
  addReferenceChecker(checker: InstanceReferenceChecker): () => void {
    return this.checkers.add(checker);
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
      const doc = await this.requireAt(instanceId, expectedRevision);
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
      this.o.emitter.emit('instance:status-changed', this.view(after), {
        from: before.status,
        to: after.status,
      });
    }
  }

  /** Writes `lastUsedAt`, at most once per throttle window per instance. */
  async touch(doc: InstanceDocument): Promise<void> {
    const now = this.o.now();
    if (
      doc.lastUsedAt !== undefined &&
      now - Date.parse(doc.lastUsedAt) < this.o.lastUsedThrottleMs
    )
      return;
    try {
      const after = await this.col.update(doc.id, {
        lastUsedAt: new Date(now).toISOString(),
      });
      this.commit(after);
    } catch (error) {
      if (!isPlugboardError(error, 'NOT_FOUND')) {
        this.o.recorder.warn('Could not record lastUsedAt', {
          instanceId: doc.id,
          error: safeErrorMessage(error, []),
        });
      }
    }
  }

  // ------------------------------------------------------------------- reads

  /** The stored document, if any. @throws ValidationError for an over-long id */
  find(instanceId: string): Promise<InstanceDocument | undefined> {
    assertIdLength(instanceId, 'instanceId', 'instance id');
    return this.ready().then((col) => col.get(instanceId));
  }

  /** The stored document. @throws NotFoundError; ValidationError for an over-long id */
  async require(instanceId: string): Promise<InstanceDocument> {
    throwIfIssues('instance id', [stringIssue('instanceId', instanceId)]);
    const doc = await this.find(instanceId);
    if (!doc) throw new NotFoundError('instance', instanceId);
    return doc;
  }

  /** The stored document, at `expectedRevision` when given. @throws NotFoundError; ConflictError */
  async requireAt(
    instanceId: string,
    expectedRevision: number | undefined,
  ): Promise<InstanceDocument> {
    const doc = await this.require(instanceId);
    if (expectedRevision !== undefined && doc.revision !== expectedRevision) {
      throw new ConflictError(
        `Instance '${instanceId}' is at revision ${doc.revision}, not ${expectedRevision}; reload it and retry`,
      );
    }
    return doc;
  }

  /** The stored documents matching `where` (one unbounded query). */
  async findWhere(where: Readonly<Record<string, string>>): Promise<InstanceDocument[]> {
    const col = await this.ready();
    return (await col.find({ where })).items;
  }

  /** Stored documents (all, or those matching `where`), page by page. */
  async *pages(
    pageSize: number,
    where?: Readonly<Record<string, string>>,
  ): AsyncGenerator<readonly InstanceDocument[]> {
    let cursor: string | undefined;
    do {
      const col = await this.ready();
      const page = await col.find({
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
    optionsOf(q, 'instance list query', 'query');
    const where: Record<string, string> = {};
    if (q.integrationId !== undefined) where['integrationId'] = q.integrationId;
    if (q.context !== undefined) {
      where['context.type'] = q.context.type;
      if (q.context.contextId !== undefined) where['context.contextId'] = q.context.contextId;
    }
    if (q.status !== undefined) where['status.state'] = q.status;
    const col = await this.ready();
    const page = await col.find({
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

  /** Inserts a new document. @throws ConflictError when the id is taken */
  async insert(doc: Omit<InstanceDocument, 'revision'>): Promise<InstanceDocument> {
    try {
      const col = await this.ready();
      return await col.insert(doc);
    } catch (error) {
      if (isPlugboardError(error, 'CONFLICT')) {
        throw new ConflictError(`Instance '${doc.id}' already exists; choose another instanceId`);
      }
      throw error;
    }
  }
}
