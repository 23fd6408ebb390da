/**
 * Connection tests and health checks of the instances of a config manager, one at a
 * time or all of them with bounded concurrency, and the timers of scheduled checks.
 *
 * @internal
 * @module
 */
import { safeErrorMessage, scrub, secretStrings } from '../credentials/redact.js';
import { isPlugboardError, ValidationError } from '../errors.js';
import { raceTimeout } from '../internal/async.js';
import { isoAt } from '../internal/clock.js';
import { isObject } from '../internal/json.js';
import {
  integerIssue,
  optionsOf,
  positiveNumberIssue,
  throwIfIssues,
} from '../internal/options.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { CredentialVault } from './credential-vault.js';
import { instanceCall } from './input-checks.js';
import { kindOf, statusOf, type TestOutcome } from './instance-document.js';
import type { InstanceStore } from './instance-store.js';
import {
  type ConfigEmitter,
  type ConfigPluginSource,
  type HealthRegistry,
  pluginFor,
} from './ports.js';
import { driftStatus } from './scope-drift.js';
import type { TokenService } from './token-service.js';
import type {
  CheckHealthOptions,
  ConnectionTestResult,
  HealthCheckSchedule,
  HealthReport,
} from './types.js';

/** Options of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  readonly registry: HealthRegistry;
  readonly plugins: ConfigPluginSource | undefined;
  readonly store: InstanceStore;
  readonly vault: CredentialVault;
  readonly tokens: TokenService;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
  /** Limit of one plugin `testConnection` call. */
  readonly testTimeoutMs: number;
}

/** Owns the connection-test limit and the running health-check schedules. */
export class HealthMonitor {
  private readonly stoppers = new Set<() => Promise<void>>();

  constructor(private readonly o: HealthMonitorOptions) {}

  /** See `ConfigManager.testConnection`. */
  async testConnection(
    instanceId: string,
    opts: { readonly actor?: string } = {},
  ): Promise<ConnectionTestResult> {
    instanceCall('testConnection', instanceId, opts);
    const { store, vault, now } = this.o;
    const doc = await store.require(instanceId);
    const started = now();
    let result: TestOutcome;
    try {
      const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
      const credentials = vault.open(doc);
      const actor = opts.actor;
      const view = doc.credentialsView;
      result = await this.runTest(def, credentials, doc.config, view, instanceId, actor);
    } catch (error) {
      const reason = isPlugboardError(error, 'DECRYPTION_FAILED')
        ? 'auth'
        : ((error as { kind?: 'auth' | 'transient' }).kind ?? 'transient');
      result = { ok: false, method: 'credentials', reason, error: safeErrorMessage(error, []) };
    }
    const checkedAt = isoAt(now());
    const after = await store.recordStatus(instanceId, (current) => {
      const inactive = current.status.state === 'inactive';
      // Missing OAuth2 scopes outlive connection tests: only a new grant clears them.
      const missing = current.status.missingScopes;
      if (result.ok && missing)
        return driftStatus(current.status, missing, checkedAt) ?? current.status;
      const status = result.ok
        ? statusOf(inactive ? 'inactive' : 'active', checkedAt)
        : statusOf(inactive ? 'inactive' : 'error', checkedAt, {
            error: result.error ?? 'connection test failed',
            reason: result.reason ?? 'transient',
          });
      return missing ? { ...status, missingScopes: missing } : status;
    });
    const state = after?.status.state ?? 'error';
    return { instanceId, state, ...result, checkedAt, durationMs: now() - started };
  }

  /**
   * See `ConfigManager.reportAuthFailure`. An instance already marked with the same
   * failure is not written again, so a run of refused actions costs one write.
   *
   * @throws ValidationError when `instanceId` or `message` is not a string
   */
  async recordAuthFailure(instanceId: string, message: string): Promise<void> {
    throwIfIssues('reportAuthFailure arguments', [
      typeof instanceId === 'string'
        ? undefined
        : { path: 'instanceId', message: 'must be a string' },
      typeof message === 'string' ? undefined : { path: 'message', message: 'must be a string' },
    ]);
    const error = message.length > 1000 ? `${message.slice(0, 999)}…` : message;
    const doc = await this.o.store.find(instanceId);
    const { status } = doc ?? {};
    if (
      !status ||
      (status.reason === 'auth' && status.state !== 'active' && status.error === error)
    )
      return;
    const checkedAt = isoAt(this.o.now());
    await this.o.store.recordStatus(instanceId, (current) => {
      const state = current.status.state === 'inactive' ? 'inactive' : 'error';
      const status = statusOf(state, checkedAt, { error, reason: 'auth' });
      const missing = current.status.missingScopes;
      return missing ? { ...status, missingScopes: missing } : status;
    });
  }

  /** See `ConfigManager.checkHealth`. */
  async checkHealth(opts: CheckHealthOptions = {}): Promise<HealthReport> {
    optionsOf(opts, 'checkHealth options');
    const concurrency = opts.concurrency ?? 4;
    throwIfIssues('checkHealth options', [integerIssue('concurrency', concurrency)]);
    const started = this.o.now();
    const ids: string[] = [];
    const where =
      opts.integrationId !== undefined ? { integrationId: opts.integrationId } : undefined;
    for await (const page of this.o.store.pages(500, where)) {
      for (const d of page) {
        if ((opts.skipInactive ?? true) && d.status.state === 'inactive') continue;
        ids.push(d.id);
      }
    }
    const results: ConnectionTestResult[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          results.push(await this.testConnection(id));
        } catch (error) {
          if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    const healthy = results.filter((r) => r.ok).length;
    const report: HealthReport = {
      startedAt: new Date(started).toISOString(),
      durationMs: this.o.now() - started,
      results,
      healthy,
      failing: results.length - healthy,
    };
    this.o.emitter.emit('health:checked', report);
    return report;
  }

  /** See `ConfigManager.startHealthChecks`. */
  startHealthChecks(schedule: HealthCheckSchedule): () => Promise<void> {
    const { intervalMs, jitter = 0.1 } = optionsOf(schedule, 'health check schedule', 'schedule');
    throwIfIssues('health check schedule', [positiveNumberIssue('intervalMs', intervalMs)]);
    if (!(jitter >= 0 && jitter <= 1)) {
      throw new ValidationError(
        [{ path: 'jitter', message: 'must be between 0 and 1' }],
        'health check schedule',
      );
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running: Promise<void> | undefined;
    const scheduleNext = (): void => {
      if (stopped) return;
      const delay = intervalMs * (1 + jitter * (Math.random() * 2 - 1));
      timer = setTimeout(tick, Math.max(0, delay));
      timer.unref?.();
    };
    const tick = (): void => {
      timer = undefined;
      running = this.checkHealth(schedule)
        .then(
          () => undefined,
          (error: unknown) =>
            this.o.recorder.warn('Scheduled health check failed', {
              error: safeErrorMessage(error, []),
            }),
        )
        .finally(() => {
          running = undefined;
          scheduleNext();
        });
    };
    const stop = async (): Promise<void> => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      this.stoppers.delete(stop);
      await running;
    };
    this.stoppers.add(stop);
    if (schedule.runImmediately) tick();
    else scheduleNext();
    return stop;
  }

  /** Stops every schedule, waiting for the checks running. */
  async close(): Promise<void> {
    await Promise.all([...this.stoppers].map((stop) => stop()));
  }

  /**
   * Runs a connection test against credentials and config: the plugin's
   * `testConnection`, else (OAuth2, stored instance) obtaining an access token, else the
   * credential schema. Never throws for a failing test.
   */
  async runTest(
    def: IntegrationDefinition,
    credentials: Record<string, unknown>,
    config: Readonly<Record<string, unknown>>,
    view: Readonly<Record<string, unknown>>,
    instanceId?: string,
    actor?: string,
  ): Promise<TestOutcome> {
    const secrets = secretStrings(credentials, view);
    const plugin = pluginFor(this.o.plugins, def.id, def.version);
    if (plugin?.testConnection) {
      const test = plugin.testConnection.bind(plugin);
      return this.attempt('plugin', secrets, () =>
        raceTimeout(
          test(structuredClone(credentials), structuredClone({ ...config })),
          this.o.testTimeoutMs,
          `testConnection of '${def.id}'`,
        ),
      );
    }
    if (def.authType === 'oauth2' && instanceId !== undefined && isObject(credentials['oauth2'])) {
      const by = actor ?? this.o.recorder.defaultActor;
      return this.attempt('oauth2', secrets, () => this.o.tokens.getAccessToken(instanceId, by));
    }
    const result = this.o.registry.getValidator(def.id, def.version, { kind: 'credentials' })(
      credentials,
    );
    return result.valid
      ? { ok: true, method: 'credentials' }
      : {
          ok: false,
          method: 'credentials',
          reason: 'auth',
          error: scrub(result.errors.map((e) => `${e.path}: ${e.message}`).join('; '), secrets),
        };
  }

  /** The outcome of one test method: ok when `fn` resolves, else why not (scrubbed). */
  private async attempt(
    method: 'plugin' | 'oauth2',
    secrets: readonly string[],
    fn: () => Promise<unknown>,
  ): Promise<TestOutcome> {
    try {
      await fn();
      return { ok: true, method };
    } catch (error) {
      return { ok: false, method, reason: kindOf(error), error: safeErrorMessage(error, secrets) };
    }
  }
}
