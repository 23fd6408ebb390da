/**
 * In-memory index of instances by integration and scope, so that `resolveInstance` is a
 * few Map lookups instead of storage queries. Loaded lazily per integration and kept
 * current by every write the owning `ConfigManager` makes.
 *
 * @internal
 * @module
 */
import { AmbiguousInstanceError, NotFoundError } from '../errors.js';
import { assertIdLength } from '../internal/ids.js';
import type { InstanceView, ResolveContext } from './types.js';

interface Scopes {
  readonly global: Map<string, InstanceView>;
  readonly client: Map<string, Map<string, InstanceView>>;
  readonly user: Map<string, Map<string, InstanceView>>;
  /** Where each instance currently sits, for moves and removals. */
  readonly where: Map<string, InstanceView>;
}

type Pending =
  | { readonly op: 'upsert'; readonly view: InstanceView }
  | { readonly op: 'remove'; readonly id: string };

interface Entry {
  scopes: Scopes | undefined;
  loading: Promise<Scopes> | undefined;
  pending: Pending[];
}

function emptyScopes(): Scopes {
  return { global: new Map(), client: new Map(), user: new Map(), where: new Map() };
}

function bucketOf(
  scopes: Scopes,
  view: InstanceView,
  create: boolean,
): Map<string, InstanceView> | undefined {
  const { type, contextId } = view.context;
  if (type === 'global') return scopes.global;
  const byId = type === 'client' ? scopes.client : scopes.user;
  const key = contextId ?? '';
  let bucket = byId.get(key);
  if (!bucket && create) {
    bucket = new Map();
    byId.set(key, bucket);
  }
  return bucket;
}

function removeFrom(scopes: Scopes, id: string): void {
  const old = scopes.where.get(id);
  if (!old) return;
  const bucket = bucketOf(scopes, old, false);
  bucket?.delete(id);
  if (bucket && bucket.size === 0 && old.context.type !== 'global') {
    (old.context.type === 'client' ? scopes.client : scopes.user).delete(
      old.context.contextId ?? '',
    );
  }
  scopes.where.delete(id);
}

function upsertInto(scopes: Scopes, view: InstanceView): void {
  const old = scopes.where.get(view.instanceId);
  if (old && old.revision > view.revision) return;
  removeFrom(scopes, view.instanceId);
  bucketOf(scopes, view, true)!.set(view.instanceId, view);
  scopes.where.set(view.instanceId, view);
}

/** Picks the instance at one level: the only usable one, or the `isDefault` one. */
function pick(
  integrationId: string,
  bucket: Map<string, InstanceView> | undefined,
): InstanceView | undefined {
  if (!bucket || bucket.size === 0) return undefined;
  let only: InstanceView | undefined;
  let count = 0;
  let preferred: InstanceView | undefined;
  let preferredCount = 0;
  for (const view of bucket.values()) {
    if (view.status.state === 'inactive') continue;
    count++;
    only = view;
    if (view.isDefault === true) {
      preferred = view;
      preferredCount++;
    }
  }
  if (count === 0) return undefined;
  if (count === 1) return only;
  if (preferredCount === 1) return preferred;
  const candidates = [...bucket.values()]
    .filter((v) => v.status.state !== 'inactive' && (preferredCount === 0 || v.isDefault === true))
    .map((v) => v.instanceId)
    .sort();
  throw new AmbiguousInstanceError(integrationId, candidates);
}

/** The scope index; one per `ConfigManager`. */
export class ScopeIndex {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly load: (integrationId: string) => Promise<InstanceView[]>) {}

  /** Resolves user > client > global; see `ConfigManager.resolveInstance`. */
  resolve(
    integrationId: string,
    ctx: ResolveContext | undefined,
  ): InstanceView | Promise<InstanceView> {
    assertIdLength(integrationId, 'integrationId', 'integration id');
    const scopes = this.entries.get(integrationId)?.scopes;
    if (scopes) return this.resolveIn(scopes, integrationId, ctx);
    return this.scopes(integrationId).then((s) => this.resolveIn(s, integrationId, ctx));
  }

  private resolveIn(
    scopes: Scopes,
    integrationId: string,
    ctx: ResolveContext | undefined,
  ): InstanceView {
    const userId = ctx?.userId;
    const clientId = ctx?.clientId;
    if (userId !== undefined) {
      const found = pick(integrationId, scopes.user.get(userId));
      if (found) return found;
    }
    if (clientId !== undefined) {
      const found = pick(integrationId, scopes.client.get(clientId));
      if (found) return found;
    }
    const found = pick(integrationId, scopes.global);
    if (found) return found;
    const searched = [
      ...(userId !== undefined ? [`user '${userId}'`] : []),
      ...(clientId !== undefined ? [`client '${clientId}'`] : []),
      'global',
    ];
    throw new NotFoundError('instance of integration', integrationId, {
      detail: `Searched scopes: ${searched.join(', ')} (inactive instances are skipped); create one with createInstance()`,
    });
  }

  private scopes(integrationId: string): Promise<Scopes> {
    let entry = this.entries.get(integrationId);
    if (entry?.scopes) return Promise.resolve(entry.scopes);
    if (entry?.loading) return entry.loading;
    entry = { scopes: undefined, loading: undefined, pending: [] };
    this.entries.set(integrationId, entry);
    const e = entry;
    e.loading = this.load(integrationId).then(
      (views) => {
        const scopes = emptyScopes();
        for (const v of views) upsertInto(scopes, v);
        // Writes that finished while the load ran are applied on top, in order.
        for (const p of e.pending) {
          if (p.op === 'upsert') upsertInto(scopes, p.view);
          else removeFrom(scopes, p.id);
        }
        e.pending = [];
        e.scopes = scopes;
        e.loading = undefined;
        return scopes;
      },
      (error: unknown) => {
        this.entries.delete(integrationId);
        throw error;
      },
    );
    return e.loading;
  }

  /** Records a created or updated instance. */
  upsert(view: InstanceView): void {
    const entry = this.entries.get(view.integrationId);
    if (!entry) return;
    if (entry.scopes) upsertInto(entry.scopes, view);
    else entry.pending.push({ op: 'upsert', view });
  }

  /** Records a deleted instance. */
  remove(integrationId: string, id: string): void {
    const entry = this.entries.get(integrationId);
    if (!entry) return;
    if (entry.scopes) removeFrom(entry.scopes, id);
    else entry.pending.push({ op: 'remove', id });
  }

  /** Forgets what is cached (all integrations, or one). */
  clear(integrationId?: string): void {
    if (integrationId === undefined) this.entries.clear();
    else this.entries.delete(integrationId);
  }
}
