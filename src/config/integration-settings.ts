/**
 * Integration-level settings (`enabled`, `settings`) of a config manager, kept in the
 * `integration_configs` collection and cached in memory.
 *
 * @internal
 * @module
 */
import {
  isPlugboardError,
  NotFoundError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import { isoAt } from '../internal/clock.js';
import { isObject } from '../internal/json.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import { assertIntegrationId } from './input-checks.js';
import { MAX_MUTATE_ATTEMPTS } from './instance-document.js';
import type { ConfigEmitter, SettingsRegistry } from './ports.js';
import type { IntegrationConfig } from './types.js';

interface IntegrationConfigDocument extends StoredDocument {
  readonly enabled: boolean;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly updatedAt: string;
}

/** Changes accepted by `ConfigManager.updateConfig`. */
export type IntegrationConfigChanges = {
  readonly enabled?: boolean;
  readonly settings?: Readonly<Record<string, unknown>>;
};

/** Owns the `integration_configs` collection and its cache. */
export class IntegrationSettings {
  private readonly configs: Collection<IntegrationConfigDocument>;
  private readonly cache = new Map<string, IntegrationConfig>();

  constructor(
    storage: StorageAdapter,
    private readonly registry: SettingsRegistry,
    private readonly emitter: ConfigEmitter,
    private readonly now: () => number,
  ) {
    this.configs = storage.collection<IntegrationConfigDocument>('integration_configs');
  }

  /** See `ConfigManager.getConfig`. */
  async get(integrationId: string): Promise<IntegrationConfig> {
    assertIntegrationId('getConfig', integrationId);
    const cached = this.cache.get(integrationId);
    if (cached) return cached;
    const doc = await this.configs.get(integrationId);
    const config: IntegrationConfig = doc
      ? Object.freeze({
          integrationId,
          enabled: doc.enabled,
          settings: doc.settings,
          updatedAt: doc.updatedAt,
        })
      : Object.freeze({ integrationId, enabled: true, settings: Object.freeze({}) });
    this.cache.set(integrationId, config);
    return config;
  }

  /** See `ConfigManager.updateConfig`. */
  async update(
    integrationId: string,
    changes: IntegrationConfigChanges,
  ): Promise<IntegrationConfig> {
    assertIntegrationId('updateConfig', integrationId);
    checkChanges(changes);
    const versions = await this.registry.listVersions(integrationId).catch(() => []);
    if (versions.length === 0) throw new NotFoundError('integration', integrationId);
    const updatedAt = isoAt(this.now());
    for (let attempt = 0; ; attempt++) {
      try {
        const stored = await this.write(integrationId, changes, updatedAt);
        const config: IntegrationConfig = Object.freeze({
          integrationId,
          enabled: stored.enabled,
          settings: stored.settings,
          updatedAt: stored.updatedAt,
        });
        this.cache.set(integrationId, config);
        this.emitter.emit('config:updated', config);
        return config;
      } catch (error) {
        if (!isPlugboardError(error, 'CONFLICT') || attempt >= MAX_MUTATE_ATTEMPTS) throw error;
      }
    }
  }

  /** See `ConfigManager.isEnabled`. */
  async isEnabled(integrationId: string): Promise<boolean> {
    const cached = this.cache.get(integrationId);
    return cached ? cached.enabled : (await this.get(integrationId)).enabled;
  }

  /** Forgets the cached settings (all, or one integration). */
  invalidate(integrationId?: string): void {
    if (integrationId === undefined) this.cache.clear();
    else this.cache.delete(integrationId);
  }

  private async write(
    integrationId: string,
    changes: IntegrationConfigChanges,
    updatedAt: string,
  ): Promise<IntegrationConfigDocument> {
    const current = await this.configs.get(integrationId);
    return current
      ? this.configs.update(
          integrationId,
          {
            ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
            ...(changes.settings !== undefined ? { settings: changes.settings } : {}),
            updatedAt,
          },
          { expectedRevision: current.revision },
        )
      : this.configs.insert({
          id: integrationId,
          enabled: changes.enabled ?? true,
          settings: changes.settings ?? {},
          updatedAt,
        });
  }
}

function checkChanges(changes: IntegrationConfigChanges): void {
  const issues: ValidationIssue[] = [];
  if (!isObject(changes)) issues.push({ path: 'changes', message: 'must be an object' });
  else {
    if (changes.enabled !== undefined && typeof changes.enabled !== 'boolean') {
      issues.push({ path: 'enabled', message: 'must be a boolean' });
    }
    if (changes.settings !== undefined && !isObject(changes.settings)) {
      issues.push({ path: 'settings', message: 'must be an object' });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues, 'integration config');
}
