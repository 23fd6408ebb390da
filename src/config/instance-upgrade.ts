/**
 * Moving instances to other versions of their definition: one instance (its config
 * migrated by the target version's declared migrations, then validated) or every older
 * instance of an integration, deciding from the compatibility diff and the migrations
 * which can move. A failed migration leaves the instance as it was, status `error`
 * with reason `migration`; new OAuth2 scopes the tokens lack set `needs-reconsent`.
 *
 * @internal
 * @module
 */
import semver from 'semver';
import { safeErrorMessage, secretStrings } from '../credentials/redact.js';
import { isPlugboardError, ValidationError } from '../errors.js';
import { isoAt } from '../internal/clock.js';
import { errorMessage } from '../internal/error-message.js';
import { frozenJson, isObject } from '../internal/json.js';
import { objectIssue, optionsOf, throwIfIssues, typeNameOf } from '../internal/options.js';
import { findBreakingChanges } from '../registry/compatibility.js';
import { migrationPath } from '../registry/config-migrations.js';
import { assertRange, assertString } from '../registry/input-checks.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { CredentialVault } from './credential-vault.js';
import { instanceCall } from './input-checks.js';
import { type Changes, type InstanceDocument, statusOf, VIEW_FORMAT } from './instance-document.js';
import type { InstanceStore } from './instance-store.js';
import type { ConfigEmitter, UpgradeRegistry } from './ports.js';
import { driftStatus, grantedScopes, missingScopes } from './scope-drift.js';
import type {
  InstanceView,
  UpgradeInstanceOptions,
  UpgradeInstancesOptions,
  UpgradeInstancesReport,
} from './types.js';

/** Options of {@link InstanceUpgrader}. */
export interface InstanceUpgraderOptions {
  readonly registry: UpgradeRegistry;
  readonly store: InstanceStore;
  readonly vault: CredentialVault;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
  /** Asks the `authorize` hook about upgrading one instance. @throws ForbiddenError */
  readonly allowed: (instanceId: string, actor: string | undefined) => Promise<void>;
}

/** Set by {@link InstanceUpgrader.plan} when the failure came from a migration. */
interface PlanFailure {
  migration: boolean;
}

/** Moves instances between versions. */
export class InstanceUpgrader {
  constructor(private readonly o: InstanceUpgraderOptions) {}

  /** See `ConfigManager.upgradeInstance`. */
  async upgrade(
    instanceId: string,
    toVersion: string,
    opts: UpgradeInstanceOptions,
  ): Promise<InstanceView> {
    instanceCall('upgradeInstance', instanceId, opts);
    assertString(toVersion, 'toVersion', 'upgradeInstance arguments');
    assertRange(toVersion);
    throwIfIssues('upgradeInstance options', [objectIssue('config', opts.config, true)]);
    const actor = opts.actor ?? this.o.recorder.defaultActor;
    const failure: PlanFailure = { migration: false };
    let result: { before: InstanceDocument; after: InstanceDocument };
    try {
      result = await this.o.store.mutate(instanceId, opts.expectedRevision, async (doc) => {
        failure.migration = false;
        const def = await this.o.registry.get(doc.integrationId, toVersion);
        return this.plan(doc, def, opts.config, failure);
      });
    } catch (error) {
      if (failure.migration) await this.markFailed(instanceId, error);
      await this.o.recorder.failure(actor, 'instance.upgrade', instanceId, error);
      throw error;
    }
    const view = this.o.store.view(result.after);
    await this.o.recorder.record({
      actor,
      action: 'instance.upgrade',
      instanceId,
      integrationId: result.after.integrationId,
      outcome: 'success',
      detail: `${result.before.version} -> ${result.after.version}`,
    });
    this.o.emitter.emit('instance:updated', view);
    this.o.store.emitStatus(result.before, result.after);
    return view;
  }

  /** See `ConfigManager.upgradeInstances`. */
  async upgradeAll(
    integrationId: string,
    toVersion: string,
    options: UpgradeInstancesOptions | undefined,
  ): Promise<UpgradeInstancesReport> {
    const what = 'upgradeInstances arguments';
    assertString(integrationId, 'integrationId', what);
    assertString(toVersion, 'toVersion', what);
    assertRange(toVersion);
    const opts = optionsOf(options, what);
    if (opts.dryRun !== undefined && typeof opts.dryRun !== 'boolean') {
      const message = `must be a boolean (got ${typeNameOf(opts.dryRun)})`;
      throwIfIssues(what, [{ path: 'options.dryRun', message }]);
    }
    const def = await this.o.registry.get(integrationId, toVersion);
    const docs = await this.o.store.findWhere({ integrationId: def.id });
    docs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const upgraded: string[] = [];
    const needsReconsent: string[] = [];
    const skipped: { instanceId: string; reason: string }[] = [];
    const failed: { instanceId: string; error: string }[] = [];
    for (const doc of docs) {
      if (!semver.lt(doc.version, def.version)) continue;
      const reason = await this.blocker(doc, def);
      if (reason !== undefined) {
        skipped.push({ instanceId: doc.id, reason });
        continue;
      }
      try {
        await this.o.allowed(doc.id, opts.actor);
      } catch (error) {
        if (!isPlugboardError(error, 'FORBIDDEN')) throw error;
        skipped.push({ instanceId: doc.id, reason: 'refused by the authorize hook' });
        continue;
      }
      try {
        const state = await this.moveOne(doc, def, opts);
        upgraded.push(doc.id);
        if (state === 'needs-reconsent') needsReconsent.push(doc.id);
      } catch (error) {
        failed.push({ instanceId: doc.id, error: errorMessage(error) });
      }
    }
    return { toVersion: def.version, upgraded, needsReconsent, skipped, failed };
  }

  /** Upgrades one instance (or, in a dry run, plans it); resolves its new state. */
  private async moveOne(
    doc: InstanceDocument,
    def: IntegrationDefinition,
    opts: UpgradeInstancesOptions,
  ): Promise<string> {
    if (opts.dryRun === true) {
      const changes = await this.plan(doc, def, undefined, { migration: false });
      return (changes.status ?? doc.status).state;
    }
    const actor = opts.actor !== undefined ? { actor: opts.actor } : {};
    const view = await this.upgrade(doc.id, def.version, actor);
    return view.status.state;
  }

  /**
   * Why an instance cannot move automatically: its credentials or auth change, its
   * config changes incompatibly, or it crosses a major that no migration covers.
   */
  private async blocker(
    doc: InstanceDocument,
    def: IntegrationDefinition,
  ): Promise<string | undefined> {
    const prev = await this.o.registry.getVersion(doc.integrationId, doc.version).catch(() => {
      return undefined;
    });
    const changes = prev
      ? findBreakingChanges(prev, def).filter((c) =>
          /^(authType|configSchema|credentialSchema)\b/.test(c),
        )
      : [];
    const credentialChanges = changes.filter((c) => !c.startsWith('configSchema'));
    if (credentialChanges.length > 0) {
      return `credentials change (${credentialChanges.join('; ')}); move it with upgradeInstance once the user can enter them`;
    }
    const migrations = this.o.registry.getMigrations?.(def.id, def.version) ?? [];
    if (migrationPath(migrations, doc.version, def.version).length > 0) return undefined;
    if (semver.major(doc.version) !== semver.major(def.version)) {
      return `no migration covers ${doc.version} -> ${def.version}; declare one in the definition's migrations, or move it with upgradeInstance`;
    }
    if (changes.length > 0) return `config changes (${changes.join('; ')})`;
    return undefined;
  }

  /**
   * The document changes that move `doc` to `def`: config (given, else migrated),
   * credential view, and the status when OAuth2 scopes are missing.
   *
   * @throws ValidationError; `failure.migration` says whether a migration caused it
   */
  private async plan(
    doc: InstanceDocument,
    def: IntegrationDefinition,
    given: Readonly<Record<string, unknown>> | undefined,
    failure: PlanFailure,
  ): Promise<Changes> {
    const visibility = await this.o.vault.visibility(def.id, def.version);
    const credentials = this.o.vault.open(doc);
    const secrets = secretStrings(credentials, visibility.view(credentials));
    const migrated =
      given === undefined ? await this.migrate(doc, def, secrets, failure) : undefined;
    const config = given ?? migrated ?? doc.config;
    const what = `upgrade to ${def.id}@${def.version}`;
    try {
      this.o.vault.validate(def, config, credentials, visibility, what);
    } catch (error) {
      if (migrated !== undefined && error instanceof ValidationError) {
        failure.migration = true;
        const context = `config after the migration of instance '${doc.id}' from ${doc.version} to ${def.version}`;
        throw new ValidationError(error.issues, context);
      }
      throw error;
    }
    const prev = await this.o.registry.getVersion(doc.integrationId, doc.version).catch(() => {
      return undefined;
    });
    const granted = grantedScopes(credentials, prev?.oauth2Config?.scopes);
    const nowIso = isoAt(this.o.now());
    // A successful move ends the failure an earlier migration recorded.
    const base =
      doc.status.reason === 'migration'
        ? statusOf(doc.status.state === 'inactive' ? 'inactive' : 'active', nowIso)
        : doc.status;
    const drift = driftStatus(base, missingScopes(def, granted), nowIso);
    const status = drift ?? (base !== doc.status ? base : undefined);
    return {
      version: def.version,
      config,
      // Public fields may differ between versions: re-derive the view.
      credentialsView: visibility.view(credentials),
      viewFormat: VIEW_FORMAT,
      updatedAt: nowIso,
      ...(status ? { status } : {}),
    };
  }

  /**
   * The config after the target version's migrations from the instance's version;
   * undefined when none apply.
   *
   * @throws ValidationError (path `config`) when a migration throws or returns no plain object
   */
  private async migrate(
    doc: InstanceDocument,
    def: IntegrationDefinition,
    secrets: readonly string[],
    failure: PlanFailure,
  ): Promise<Record<string, unknown> | undefined> {
    const migrations = this.o.registry.getMigrations?.(def.id, def.version) ?? [];
    const path = migrationPath(migrations, doc.version, def.version);
    if (path.length === 0) return undefined;
    const ctx = Object.freeze({ from: doc.version, to: def.version });
    let config = structuredClone(doc.config) as Record<string, unknown>;
    for (const m of path) {
      const step = `the migration from '${m.from}' to '${m.to}'`;
      try {
        const out: unknown = await m.migrate(config, ctx);
        if (!isObject(out)) throw new Error('it did not return an object');
        config = frozenJson(out, 'config') as Record<string, unknown>;
      } catch (error) {
        failure.migration = true;
        const message = `${step} failed: ${safeErrorMessage(error, secrets)}`;
        throw new ValidationError(
          [{ path: 'config', message }],
          `config migration of instance '${doc.id}' from ${doc.version} to ${def.version}`,
        );
      }
    }
    return config;
  }

  /** Records a failed migration on the instance: status `error`, reason `migration`. */
  private async markFailed(instanceId: string, error: unknown): Promise<void> {
    const at = isoAt(this.o.now());
    const failure = { error: errorMessage(error), reason: 'migration' as const };
    await this.o.store.recordStatus(instanceId, (current) =>
      statusOf(current.status.state === 'inactive' ? 'inactive' : 'error', at, failure),
    );
  }
}
