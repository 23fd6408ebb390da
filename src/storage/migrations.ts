/**
 * A small versioned migration runner over any `StorageAdapter`.
 *
 * Migrations run in the order given, each once: applied ones are recorded in the
 * `migrations` collection. A lock document in the same collection makes concurrent
 * runners (two processes sharing a multi-process store, or two calls in one process)
 * safe: the second waits until the first finishes, then skips what it applied.
 *
 * @module
 */

import { hostname } from 'node:os';
import {
  isPlugboardError,
  TimeoutError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import { sleep } from '../internal/async.js';
import type { Collection, StorageAdapter } from './types.js';

/** What a migration's `up` receives. */
export interface MigrationContext {
  /** The storage being migrated. */
  readonly storage: StorageAdapter;
  /** Notes that end up in the migration's record (`notes`). */
  log(message: string): void;
}

/** One named migration. */
export interface Migration {
  /**
   * Unique, stable name, e.g. `2026-11-01-import-monday-rules`; 1-128 letters, digits,
   * `_ . : -`, starting with a letter or digit. Never rename an applied migration.
   */
  readonly id: string;
  /** What it does, kept in its record. */
  readonly description?: string;
  /** Applies the migration. Should be safe to re-run if it fails half-way. */
  up(ctx: MigrationContext): Promise<void>;
}

/** Options of {@link runMigrations}. */
export interface RunMigrationsOptions {
  /** Give up waiting for another runner's lock after this many ms. Default 60 000. */
  readonly lockTimeoutMs?: number;
  /** A lock not refreshed for this long is taken over (its runner died). Default 600 000. */
  readonly staleLockMs?: number;
  /** How often to look at the lock while waiting, in ms. Default 50. */
  readonly pollMs?: number;
  /** Who holds the lock, for messages. Default `pid <pid>`. */
  readonly owner?: string;
}

/** Outcome of {@link runMigrations}. */
export interface MigrationReport {
  /** Ids applied by this call, in order. */
  readonly applied: readonly string[];
  /** Ids that were already applied. */
  readonly skipped: readonly string[];
}

/** A record of an applied migration, as stored in `migrations`. */
export interface MigrationRecord {
  readonly id: string;
  readonly revision: number;
  readonly description?: string;
  readonly appliedAt: string;
  readonly durationMs: number;
  readonly notes?: readonly string[];
}

interface LockDocument {
  readonly id: string;
  readonly revision: number;
  readonly owner: string;
  readonly acquiredAt: string;
  readonly heartbeatAt: string;
  /** The machine and process holding it, so a runner on the same machine can tell it died. */
  readonly host?: string;
  readonly pid?: number;
}

/** Whether a lock was taken by a process of this machine that is no longer running. */
function holderDied(held: LockDocument): boolean {
  if (held.host !== hostname() || typeof held.pid !== 'number' || held.pid === process.pid) {
    return false;
  }
  try {
    process.kill(held.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const LOCK_ID = '__lock__';
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function check(migrations: readonly Migration[], options: RunMigrationsOptions): void {
  const issues: ValidationIssue[] = [];
  if (!Array.isArray(migrations)) {
    throw new ValidationError([{ path: 'migrations', message: 'must be an array' }], 'migrations');
  }
  const seen = new Set<string>();
  migrations.forEach((m, i) => {
    if (m === null || typeof m !== 'object') {
      issues.push({ path: `migrations[${i}]`, message: 'must be an object { id, up }' });
      return;
    }
    if (typeof m.id !== 'string' || !ID_PATTERN.test(m.id)) {
      issues.push({ path: `migrations[${i}].id`, message: `must match ${ID_PATTERN.source}` });
    } else if (seen.has(m.id)) {
      issues.push({ path: `migrations[${i}].id`, message: `duplicate id '${m.id}'` });
    }
    seen.add(m.id);
    if (typeof m.up !== 'function') {
      issues.push({ path: `migrations[${i}].up`, message: 'must be a function' });
    }
  });
  for (const key of ['lockTimeoutMs', 'staleLockMs', 'pollMs'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) {
      issues.push({ path: key, message: 'must be a positive number' });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues, 'migrations');
}

async function acquire(
  col: Collection<LockDocument>,
  owner: string,
  options: RunMigrationsOptions,
): Promise<LockDocument> {
  const timeout = options.lockTimeoutMs ?? 60_000;
  const stale = options.staleLockMs ?? 600_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = new Date().toISOString();
    try {
      const me = { host: hostname(), pid: process.pid };
      return await col.insert({ id: LOCK_ID, owner, acquiredAt: now, heartbeatAt: now, ...me });
    } catch (e) {
      if (!isPlugboardError(e, 'CONFLICT')) throw e;
    }
    const held = await col.get(LOCK_ID);
    // Taken over when not refreshed for `stale`, or at once when its process (on this
    // machine) is gone.
    if (held && (Date.parse(held.heartbeatAt) < Date.now() - stale || holderDied(held))) {
      try {
        await col.delete(LOCK_ID, { expectedRevision: held.revision });
      } catch (e) {
        if (!isPlugboardError(e, 'CONFLICT')) throw e;
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new TimeoutError(
        `Waiting for the migrations lock held by ${held?.owner ?? 'another runner'}`,
        timeout,
      );
    }
    await sleep(options.pollMs ?? 50);
  }
}

/**
 * Applies the migrations not applied yet, in order, each recorded in `migrations`.
 * Stops at the first failing migration (nothing is recorded for it) and rethrows its
 * error; the lock is released either way.
 *
 * @example
 * ```ts
 * const report = await runMigrations(storage, [
 *   { id: '2026-11-01-add-tags', up: async ({ storage }) => { … } },
 * ]);
 * console.log(report.applied);
 * ```
 * @throws ValidationError for malformed migrations; TimeoutError when another runner
 *   holds the lock too long; whatever a failing migration throws
 */
export async function runMigrations(
  storage: StorageAdapter,
  migrations: readonly Migration[],
  options: RunMigrationsOptions = {},
): Promise<MigrationReport> {
  check(migrations, options);
  const col = storage.collection<MigrationRecord>('migrations');
  const locks = col as unknown as Collection<LockDocument>;
  const owner = options.owner ?? `pid ${process.pid}`;
  // Nothing to apply: no lock either, so a runner killed while holding it (every engine
  // start runs its migrations) does not hold up the next start until the lock is stale.
  const recorded = new Set((await col.find()).items.map((d) => d.id));
  if (migrations.every((m) => recorded.has(m.id))) {
    return { applied: [], skipped: migrations.map((m) => m.id) };
  }
  let lock = await acquire(locks, owner, options);
  const applied: string[] = [];
  const skipped: string[] = [];
  try {
    const { items } = await col.find();
    const done = new Set(items.filter((d) => d.id !== LOCK_ID).map((d) => d.id));
    for (const m of migrations) {
      if (done.has(m.id)) {
        skipped.push(m.id);
        continue;
      }
      const notes: string[] = [];
      const started = performance.now();
      await m.up({ storage, log: (message) => notes.push(String(message)) });
      await col.insert({
        id: m.id,
        ...(m.description !== undefined ? { description: m.description } : {}),
        appliedAt: new Date().toISOString(),
        durationMs: Math.round(performance.now() - started),
        ...(notes.length > 0 ? { notes } : {}),
      });
      applied.push(m.id);
      lock = await locks.update(
        LOCK_ID,
        { heartbeatAt: new Date().toISOString() },
        { expectedRevision: lock.revision },
      );
    }
  } finally {
    await locks.delete(LOCK_ID, { expectedRevision: lock.revision }).catch(() => undefined);
  }
  return { applied, skipped };
}

/** Records of the applied migrations, oldest first. */
export async function listAppliedMigrations(storage: StorageAdapter): Promise<MigrationRecord[]> {
  const { items } = await storage
    .collection<MigrationRecord>('migrations')
    .find({ orderBy: { field: 'appliedAt' } });
  return items.filter((d) => d.id !== LOCK_ID);
}
