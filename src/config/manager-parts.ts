/**
 * The pieces of a `ConfigManager`, built from its options and wired to each other: each
 * concern lives in the piece that owns its state (see "Inside the config manager" in
 * docs/architecture.md).
 *
 * @internal
 * @module
 */
import type { Keyring } from '../credentials/keyring.js';
import { integerIssue, missingOptions, throwIfIssues } from '../internal/options.js';
import type { Collection } from '../storage/types.js';
import { auditRefusals, ConfigAccess } from './access.js';
import { AuditLog } from './audit.js';
import { AuditRecorder } from './audit-recorder.js';
import { migrateCredentialViews } from './credential-migration.js';
import { CredentialVault } from './credential-vault.js';
import { HealthMonitor } from './health-monitor.js';
import type { InstanceDocument } from './instance-document.js';
import { InstanceStore } from './instance-store.js';
import { InstanceUpgrader } from './instance-upgrade.js';
import { InstanceWriter } from './instance-writer.js';
import { IntegrationSettings } from './integration-settings.js';
import type { ConfigManagerOptions } from './manager-options.js';
import type { ConfigEmitter } from './ports.js';
import { TokenService } from './token-service.js';

/** The pieces a `ConfigManager` delegates to. */
export interface ManagerParts {
  readonly keyring: Keyring;
  readonly recorder: AuditRecorder;
  readonly vault: CredentialVault;
  readonly store: InstanceStore;
  readonly writer: InstanceWriter;
  readonly upgrader: InstanceUpgrader;
  readonly tokens: TokenService;
  readonly health: HealthMonitor;
  readonly settings: IntegrationSettings;
  readonly access: ConfigAccess;
}

/**
 * Checks the options and builds the pieces; `emitter` (the manager) announces changes.
 *
 * @throws ValidationError for malformed options
 */
export function createManagerParts(
  options: ConfigManagerOptions,
  emitter: ConfigEmitter,
): ManagerParts {
  const what = 'ConfigManager options';
  throwIfIssues(what, missingOptions(options, ['storage', 'registry', 'keyring']));
  const cacheSize = options.credentialCacheSize ?? 1000;
  throwIfIssues(what, [integerIssue('credentialCacheSize', cacheSize, 0)]);
  const { storage, registry, keyring, plugins, fetch, oauth2 } = options;
  const now = options.now ?? Date.now;
  const log = new AuditLog(storage, options.auditRetention, now);
  const recorder = new AuditRecorder(log, options.defaultActor ?? 'system', options.logger);
  // What every piece gets: the registry (each reads its own narrow port of it), the
  // audit log, the manager as the emitter of events, and the clock.
  const shared = { registry, recorder, emitter, now };
  const lastUsedThrottleMs = options.lastUsedThrottleMs ?? 60_000;
  // The store migrates 0.1.0 documents with the vault on first use (after this function).
  const migrate = (col: Collection<InstanceDocument>): Promise<void> =>
    migrateCredentialViews(storage, col, (doc) => vault.rebuildView(doc));
  const store = new InstanceStore({ ...shared, storage, lastUsedThrottleMs, migrate });
  const vault = new CredentialVault({ ...shared, keyring, instances: store, cacheSize });
  const tokens = new TokenService({ ...shared, plugins, storage, store, vault, fetch, oauth2 });
  const testTimeoutMs = options.testTimeoutMs ?? 30_000;
  const health = new HealthMonitor({ ...shared, plugins, store, vault, tokens, testTimeoutMs });
  const writer = new InstanceWriter({ ...shared, store, vault, tester: health });
  const settings = new IntegrationSettings(storage, registry, emitter, now);
  const sink = auditRefusals((e) => recorder.record(e), recorder.defaultActor);
  const access = new ConfigAccess(options.authorize, sink, (id) => store.find(id));
  const allowed = (id: string, actor: string | undefined) =>
    access.instance('instance.upgrade', id, actor);
  const upgrader = new InstanceUpgrader({ ...shared, store, vault, allowed });
  return { keyring, recorder, vault, store, writer, upgrader, tokens, health, settings, access };
}
