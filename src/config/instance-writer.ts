/**
 * The instance writes the API offers: create, update and delete (upgrades are in
 * instance-upgrade.ts). Each checks its input, validates config and credentials against
 * the pinned definition version, seals the credentials, keeps one default per scope,
 * audits and announces the change.
 *
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import { REDACTED } from '../credentials/redact.js';
import { ConnectionTestError, isPlugboardError, ReferencedError } from '../errors.js';
import { isoAt } from '../internal/clock.js';
import { objectIssue, throwIfIssues } from '../internal/options.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { CredentialVault } from './credential-vault.js';
import type { HealthMonitor } from './health-monitor.js';
import { instanceCall } from './input-checks.js';
import { type Changes, type InstanceDocument, statusOf } from './instance-document.js';
import { checkCreateInput, checkUpdateChanges, contextOf } from './instance-schemas.js';
import type { InstanceStore } from './instance-store.js';
import type { ConfigEmitter, WriterRegistry } from './ports.js';
import type {
  CreateInstanceInput,
  CreateInstanceOptions,
  DeleteInstanceOptions,
  InstanceContext,
  InstanceView,
  InstanceWriteOptions,
  UpdateInstanceChanges,
} from './types.js';

/** Options of {@link InstanceWriter}. */
export interface InstanceWriterOptions {
  readonly registry: WriterRegistry;
  readonly store: InstanceStore;
  readonly vault: CredentialVault;
  /** Runs the connection test of `createInstance(…, { test: true })`. */
  readonly tester: Pick<HealthMonitor, 'runTest'>;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
}

/** Writes instances through the store, with the checks and side effects of each write. */
export class InstanceWriter {
  constructor(private readonly o: InstanceWriterOptions) {}

  /** See `ConfigManager.createInstance`. */
  async create(input: CreateInstanceInput, opts: CreateInstanceOptions): Promise<InstanceView> {
    throwIfIssues('createInstance arguments', [objectIssue('options', opts, true)]);
    checkCreateInput(input);
    const context = contextOf(input.context);
    const config = input.config ?? {};
    const credentials = input.credentials ?? {};
    const def = await this.o.registry.get(input.integrationId, input.version);
    const visibility = await this.o.vault.visibility(def.id, def.version);
    this.o.vault.validate(def, config, credentials, visibility);
    const instanceId = input.instanceId ?? randomUUID();
    const actor = opts.actor ?? this.o.recorder.defaultActor;
    const nowIso = this.iso();
    if (opts.test) {
      const view = visibility.view(credentials);
      await this.testNew(def, { credentials, config, view, instanceId, actor });
    }
    const stored = await this.o.store.insert({
      id: instanceId,
      integrationId: def.id,
      version: def.version,
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      context,
      ...(input.isDefault !== undefined ? { isDefault: input.isDefault } : {}),
      config,
      ...this.o.vault.seal(instanceId, credentials, visibility),
      status: statusOf('active', opts.test ? nowIso : undefined),
      createdAt: nowIso,
      updatedAt: nowIso,
    });
    const view = this.o.store.commit(stored);
    if (stored.isDefault === true) await this.clearOtherDefaults(stored, actor);
    await this.o.recorder.record({
      actor,
      action: 'instance.create',
      instanceId,
      integrationId: def.id,
      outcome: 'success',
    });
    this.o.emitter.emit('instance:created', view);
    return view;
  }

  /** See `ConfigManager.updateInstance`. */
  async update(
    instanceId: string,
    changes: UpdateInstanceChanges,
    opts: InstanceWriteOptions,
  ): Promise<InstanceView> {
    instanceCall('updateInstance', instanceId, opts);
    checkUpdateChanges(changes);
    const context = changes.context !== undefined ? contextOf(changes.context) : undefined;
    const actor = opts.actor ?? this.o.recorder.defaultActor;
    let result: { before: InstanceDocument; after: InstanceDocument };
    try {
      result = await this.o.store.mutate(instanceId, opts.expectedRevision, (doc) =>
        this.changesOf(doc, changes, context),
      );
    } catch (error) {
      await this.o.recorder.failure(actor, 'instance.update', instanceId, error);
      throw error;
    }
    const view = this.o.store.view(result.after);
    if (changes.isDefault === true || (context !== undefined && result.after.isDefault === true)) {
      await this.clearOtherDefaults(result.after, actor);
    }
    await this.o.recorder.record({
      actor,
      action: 'instance.update',
      instanceId,
      integrationId: result.after.integrationId,
      outcome: 'success',
      detail: `changed ${Object.keys(changes).sort().join(', ') || 'nothing'}`,
    });
    this.o.emitter.emit('instance:updated', view);
    this.o.store.emitStatus(result.before, result.after);
    return view;
  }

  /** See `ConfigManager.deleteInstance`. */
  async remove(instanceId: string, opts: DeleteInstanceOptions): Promise<void> {
    instanceCall('deleteInstance', instanceId, opts);
    const doc = await this.o.store.requireAt(instanceId, opts.expectedRevision);
    const actor = opts.actor ?? this.o.recorder.defaultActor;
    if (opts.force !== true) {
      const refs = await this.o.store.references(instanceId);
      if (refs.length > 0) throw new ReferencedError(`Instance '${instanceId}'`, refs);
    }
    await this.o.store.delete(doc, opts.expectedRevision ?? doc.revision);
    this.o.vault.forget(instanceId);
    await this.o.recorder.record({
      actor,
      action: 'instance.delete',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    this.o.emitter.emit('instance:deleted', { instanceId, integrationId: doc.integrationId });
  }

  /** Tests the credentials of an instance about to be created. @throws ConnectionTestError */
  private async testNew(
    def: IntegrationDefinition,
    t: {
      credentials: Record<string, unknown>;
      config: Readonly<Record<string, unknown>>;
      view: Readonly<Record<string, unknown>>;
      instanceId: string;
      actor: string;
    },
  ): Promise<void> {
    const result = await this.o.tester.runTest(def, t.credentials, t.config, t.view);
    if (result.ok) return;
    await this.o.recorder.record({
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
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const visibility = await this.o.vault.visibility(doc.integrationId, doc.version);
    let credentials: Record<string, unknown> | undefined;
    if (changes.credentials !== undefined) {
      // A form that sends the view back keeps the stored values it hides.
      credentials = keepHidden(changes.credentials, this.o.vault.open(doc), 0) as Record<
        string,
        unknown
      >;
    }
    this.o.vault.validate(def, changes.config, credentials, visibility);
    if (changes.config !== undefined) out.config = changes.config;
    if (credentials !== undefined)
      Object.assign(out, this.o.vault.seal(doc.id, credentials, visibility));
    return out;
  }

  /** Clears `isDefault` on the other instances of the same scope. */
  private async clearOtherDefaults(doc: InstanceDocument, actor: string): Promise<void> {
    const where: Record<string, string> = {
      integrationId: doc.integrationId,
      'context.type': doc.context.type,
    };
    if (doc.context.contextId !== undefined) where['context.contextId'] = doc.context.contextId;
    const items = await this.o.store.findWhere(where);
    for (const other of items) {
      if (other.id === doc.id || other.isDefault !== true) continue;
      if (
        other.context.type === 'global' ? false : other.context.contextId !== doc.context.contextId
      )
        continue;
      try {
        const { after } = await this.o.store.mutate(other.id, undefined, async (d) =>
          d.isDefault === true ? { isDefault: false, updatedAt: this.iso() } : undefined,
        );
        await this.o.recorder.record({
          actor,
          action: 'instance.update',
          instanceId: other.id,
          integrationId: other.integrationId,
          outcome: 'success',
          detail: `isDefault cleared: '${doc.id}' is now the default`,
        });
        this.o.emitter.emit('instance:updated', this.o.store.view(after));
      } catch (error) {
        if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
      }
    }
  }

  private iso(): string {
    return isoAt(this.o.now());
  }
}

/**
 * `incoming` with every `"[redacted]"` that stands where `current` holds a value replaced
 * by that value, at any depth (a view sent back keeps what it hides).
 */
function keepHidden(incoming: unknown, current: unknown, depth: number): unknown {
  if (incoming === REDACTED) return current !== undefined ? current : incoming;
  if (depth > 64 || incoming === null || typeof incoming !== 'object') return incoming;
  if (current === null || typeof current !== 'object') return incoming;
  const base = current as Record<string, unknown>;
  if (Array.isArray(incoming)) {
    return Array.isArray(current)
      ? incoming.map((v, i) => keepHidden(v, current[i], depth + 1))
      : incoming;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(incoming)) {
    const kept = keepHidden(v, Object.hasOwn(base, k) ? base[k] : undefined, depth + 1);
    Object.defineProperty(out, k, {
      value: kept,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
