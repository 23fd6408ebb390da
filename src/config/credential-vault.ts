/**
 * The credential vault of a config manager: seals and opens instance credentials with
 * the `Keyring`, keeps the recently opened plaintexts and the credential visibility of
 * each definition version (which fields views show), validates config and credentials
 * with scrubbed messages, re-encrypts everything under a new primary key and rebuilds
 * the views of documents written by 0.1.0.
 *
 * @internal
 * @module
 */
import type { Keyring } from '../credentials/keyring.js';
import { scrub, secretStrings } from '../credentials/redact.js';
import { CredentialVisibility } from '../credentials/visibility.js';
import {
  type DecryptionError,
  isPlugboardError,
  NotFoundError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import { integerIssue, optionsOf, throwIfIssues } from '../internal/options.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { AuditRecorder } from './audit-recorder.js';
import { actorOf } from './input-checks.js';
import {
  type Changes,
  type InstanceDocument,
  type SealedFields,
  VIEW_FORMAT,
} from './instance-document.js';
import type { InstanceStore } from './instance-store.js';
import type { ConfigEmitter, VaultRegistry } from './ports.js';
import type { ReencryptOptions, ReencryptReport } from './types.js';

/** Options of {@link CredentialVault}. */
export interface CredentialVaultOptions {
  readonly keyring: Keyring;
  readonly registry: VaultRegistry;
  /** Where the sealed credentials are stored. */
  readonly instances: VaultInstances;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  /** Instances whose plaintext is kept in memory; `0` disables. */
  readonly cacheSize: number;
}

/** The instance store methods the vault calls. */
export type VaultInstances = Pick<InstanceStore, 'find' | 'touch' | 'pages' | 'mutate' | 'commit'>;

type Rewrite = 'reencrypted' | 'current' | 'gone' | { keyId?: string; error: string };

/** Owns the keyring, the plaintext cache and the visibility cache. */
export class CredentialVault {
  private readonly visibilities = new Map<string, Promise<CredentialVisibility>>();
  /** instanceId → the sealed value last opened and its plaintext JSON (LRU order). */
  private readonly plainCache = new Map<
    string,
    { readonly sealed: string; readonly json: string }
  >();
  private readonly plainCacheSize: number;

  constructor(private readonly o: CredentialVaultOptions) {
    this.plainCacheSize = o.cacheSize;
  }

  /** Which credential values views show, for one definition version (built once per version). */
  visibility(id: string, version: string): Promise<CredentialVisibility> {
    const key = `${id}@${version}`;
    let cached = this.visibilities.get(key);
    if (!cached) {
      cached = this.o.registry.getVersion(id, version).then(
        (def) =>
          new CredentialVisibility(def.credentialSchema, {
            ...(def.definitions ? { definitions: def.definitions } : {}),
            ...(def.$defs ? { $defs: def.$defs } : {}),
          }),
      );
      cached.catch(() => this.visibilities.delete(key));
      this.visibilities.set(key, cached);
    }
    return cached;
  }

  /** Validates config and/or credentials; issue messages are scrubbed of secret values. */
  validate(
    def: IntegrationDefinition,
    config: Readonly<Record<string, unknown>> | undefined,
    credentials: Readonly<Record<string, unknown>> | undefined,
    visibility: CredentialVisibility,
    what = `instance of '${def.id}@${def.version}'`,
  ): void {
    const issues: ValidationIssue[] = [];
    const run = (
      kind: 'config' | 'credentials',
      value: unknown,
      secrets: readonly string[],
    ): void => {
      const result = this.o.registry.getValidator(def.id, def.version, { kind })(value);
      if (result.valid) return;
      for (const issue of result.errors) {
        const raw = issue.path.replace(/^\//, '').replace(/\//g, '.');
        const path =
          raw === kind || raw.startsWith(`${kind}.`) || raw.startsWith(`${kind}[`)
            ? raw
            : raw
              ? `${kind}.${raw}`
              : kind;
        issues.push({
          path,
          message: scrub(issue.message, secrets),
          ...(issue.keyword !== undefined ? { keyword: issue.keyword } : {}),
        });
      }
    };
    if (config !== undefined) run('config', config, []);
    if (credentials !== undefined)
      run('credentials', credentials, secretStrings(credentials, visibility.view(credentials)));
    if (issues.length > 0) throw new ValidationError(issues, what);
  }

  /** Seals credentials whole under the primary key, with their view (public values only). */
  seal(
    instanceId: string,
    credentials: Readonly<Record<string, unknown>>,
    visibility: CredentialVisibility,
  ): SealedFields {
    return {
      sealedCredentials: this.o.keyring.seal(JSON.stringify(credentials), instanceId),
      keyId: this.o.keyring.primaryKeyId,
      credentialsView: visibility.view(credentials),
      viewFormat: VIEW_FORMAT,
    };
  }

  /**
   * The changes rebuilding the view of a document written by 0.1.0 (whose view showed
   * every field its name heuristic missed) from the credential schema, or `undefined`
   * for a current document. Without the key (or the definition), the view is rebuilt
   * from the old one, hiding whatever the schema does not mark public; the sealed
   * credentials are kept as they are either way.
   */
  async rebuildView(doc: InstanceDocument): Promise<Changes | undefined> {
    if (doc.viewFormat === VIEW_FORMAT) return undefined;
    const visibility = await this.visibility(doc.integrationId, doc.version).catch(
      () => new CredentialVisibility(undefined, {}),
    );
    let plain: Record<string, unknown> | undefined;
    try {
      plain = this.open(doc);
    } catch {
      plain = undefined;
    }
    const view = visibility.view(plain ?? doc.credentialsView);
    const changes: Changes = { credentialsView: view, viewFormat: VIEW_FORMAT };
    // A status message stored by 0.1.0 was scrubbed of raw secrets only.
    if (plain && doc.status.error !== undefined) {
      const error = scrub(doc.status.error, secretStrings(plain, view));
      if (error !== doc.status.error) changes.status = { ...doc.status, error };
    }
    return changes;
  }

  /** The credentials of a stored instance, in clear. @throws DecryptionError */
  open(doc: InstanceDocument): Record<string, unknown> {
    const cache = this.plainCache;
    const hit = cache.get(doc.id);
    // Same instance, byte-identical ciphertext: it authenticated before, so the plaintext
    // is the same. Any change of the stored value misses and is authenticated again.
    if (hit !== undefined && hit.sealed === doc.sealedCredentials) {
      cache.delete(doc.id);
      cache.set(doc.id, hit);
      return JSON.parse(hit.json) as Record<string, unknown>;
    }
    const json = this.o.keyring.open(doc.sealedCredentials, doc.id).toString('utf8');
    if (this.plainCacheSize > 0) {
      cache.delete(doc.id);
      cache.set(doc.id, { sealed: doc.sealedCredentials, json });
      if (cache.size > this.plainCacheSize) cache.delete(cache.keys().next().value as string);
    }
    return JSON.parse(json) as Record<string, unknown>;
  }

  /** Drops the cached plaintext of a deleted instance. */
  forget(instanceId: string): void {
    this.plainCache.delete(instanceId);
  }

  /** Drops every cached plaintext. */
  clear(): void {
    this.plainCache.clear();
  }

  /**
   * The actor of a credential or token read, after checking the read's arguments.
   * @throws ValidationError naming `instanceId`, `options` or `options.actor`
   */
  actorOf(instanceId: unknown, opts: { readonly actor?: string } | undefined): string {
    return actorOf(instanceId, opts, this.o.recorder);
  }

  /** Decrypts an instance's credentials, recording the read (see `ConfigManager.getCredentials`). */
  async read(instanceId: string, actor: string): Promise<Record<string, unknown>> {
    const doc = await this.o.instances.find(instanceId);
    if (!doc) {
      await this.o.recorder.record({
        actor,
        action: 'credentials.read',
        instanceId,
        outcome: 'failure',
        detail: 'not found',
      });
      throw new NotFoundError('instance', instanceId);
    }
    let credentials: Record<string, unknown>;
    try {
      credentials = this.open(doc);
    } catch (error) {
      await this.o.recorder.failure(
        actor,
        'credentials.read',
        instanceId,
        error,
        doc.integrationId,
      );
      throw error;
    }
    await this.o.recorder.record({
      actor,
      action: 'credentials.read',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    await this.o.instances.touch(doc);
    return credentials;
  }

  /** Re-encrypts every instance under the primary key (see `ConfigManager.reencryptAll`). */
  async reencryptAll(opts: ReencryptOptions = {}): Promise<ReencryptReport> {
    optionsOf(opts, 'reencryptAll options');
    const batchSize = opts.batchSize ?? 100;
    throwIfIssues('reencryptAll options', [integerIssue('batchSize', batchSize)]);
    const primary = this.o.keyring.primaryKeyId;
    const report = { scanned: 0, reencrypted: 0, alreadyCurrent: 0, failed: [] as Failure[] };
    const snapshot = (): ReencryptReport => ({ ...report, failed: [...report.failed] });
    outer: for await (const page of this.o.instances.pages(batchSize)) {
      for (const doc of page) {
        if (opts.signal?.aborted) break outer;
        report.scanned++;
        const outcome = doc.keyId === primary ? 'current' : await this.rewrite(doc);
        if (outcome === 'reencrypted') report.reencrypted++;
        else if (outcome === 'current') report.alreadyCurrent++;
        else if (outcome !== 'gone') report.failed.push({ instanceId: doc.id, ...outcome });
      }
      opts.onProgress?.(snapshot());
    }
    const final = snapshot();
    await this.o.recorder.record({
      actor: opts.actor ?? this.o.recorder.defaultActor,
      action: 'credentials.reencrypt',
      outcome: final.failed.length === 0 ? 'success' : 'failure',
      detail: `primary key '${primary}': ${final.reencrypted} re-encrypted, ${final.alreadyCurrent} already current, ${final.failed.length} failed${opts.signal?.aborted ? ', aborted' : ''}`,
    });
    this.o.emitter.emit('credentials:reencrypted', final);
    return final;
  }

  /** Re-seals one instance under the primary key, atomically. */
  private async rewrite(doc: InstanceDocument): Promise<Rewrite> {
    const primary = this.o.keyring.primaryKeyId;
    try {
      let rewritten = false;
      const { after } = await this.o.instances.mutate(doc.id, undefined, async (current) => {
        if (current.keyId === primary) return undefined;
        const plain = this.o.keyring.open(current.sealedCredentials, current.id);
        rewritten = true;
        return { sealedCredentials: this.o.keyring.seal(plain, current.id), keyId: primary };
      });
      this.o.instances.commit(after);
      return rewritten ? 'reencrypted' : 'current';
    } catch (error) {
      if (isPlugboardError(error, 'NOT_FOUND')) return 'gone';
      if (!isPlugboardError(error, 'DECRYPTION_FAILED')) throw error;
      const keyId = (error as DecryptionError).keyId;
      return { ...(keyId !== undefined ? { keyId } : {}), error: error.message };
    }
  }
}

type Failure = { instanceId: string; keyId?: string; error: string };
