/**
 * The audit log: an append-only record of credential reads, token operations, instance
 * changes and action invocations, kept in the `audit_log` collection with a retention
 * policy.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../errors.js';
import { isoAt } from '../internal/clock.js';
import { OrderedIds, timePart } from '../internal/ids.js';
import { isObject } from '../internal/json.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import type { AuditEntry, AuditInput, AuditQuery, AuditRetention } from './types.js';

interface AuditDocument extends StoredDocument {
  readonly timestamp: string;
  readonly actor: string;
  readonly action: string;
  readonly instanceId?: string;
  readonly integrationId?: string;
  readonly outcome: 'success' | 'failure';
  readonly detail?: string;
}

/**
 * Checks an entry given to `ConfigManager.recordAudit`, naming each wrong field.
 *
 * @throws ValidationError
 */
export function checkAuditInput(input: unknown): asserts input is AuditInput {
  if (!isObject(input)) {
    throw new ValidationError([{ path: '', message: 'must be an object' }], 'audit entry');
  }
  const entry = input;
  const issues: ValidationIssue[] = [];
  for (const field of ['actor', 'action'] as const) {
    const v = entry[field];
    if (typeof v !== 'string' || v.length === 0) {
      issues.push({ path: field, message: 'must be a non-empty string' });
    }
  }
  if (entry['outcome'] !== 'success' && entry['outcome'] !== 'failure') {
    issues.push({ path: 'outcome', message: "must be 'success' or 'failure'" });
  }
  for (const field of ['instanceId', 'integrationId', 'detail'] as const) {
    const v = entry[field];
    if (v !== undefined && typeof v !== 'string') {
      issues.push({ path: field, message: 'must be a string when given' });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues, 'audit entry');
}

/** Fewest appends between automatic prunes. */
const MIN_PRUNE_INTERVAL = 100;

/** `maxEntries` when the options set none: about 45 MB of entries in memory. */
export const DEFAULT_AUDIT_MAX_ENTRIES = 100_000;

/** Appends, queries and prunes audit entries. */
export class AuditLog {
  private readonly col: Collection<AuditDocument>;
  /** `<ms>-<seq>-<node>`: sorting ids sorts entries by time of writing, in every process. */
  private readonly ids = new OrderedIds('', '-');
  /** The policy applied: the options' fields, `maxEntries` defaulted. */
  private readonly retention: Required<Pick<AuditRetention, 'maxEntries'>> & AuditRetention;
  private sincePrune = 0;
  /**
   * Appends between automatic prunes: a tenth of `maxEntries` (at least 100), so each
   * prune's scan is paid for by many appends. Between prunes the log may exceed
   * `maxEntries` by that much; `prune()` trims it exactly.
   */
  private readonly pruneInterval: number;
  private pruning: Promise<number> | undefined;

  /**
   * @param retention - the options' policy; `maxEntries` defaults to
   *   {@link DEFAULT_AUDIT_MAX_ENTRIES}, `Infinity` keeps every entry
   * @throws ValidationError for a malformed policy
   */
  constructor(
    storage: StorageAdapter,
    retention: AuditRetention | undefined,
    private readonly now: () => number,
  ) {
    this.col = storage.collection<AuditDocument>('audit_log', {
      // Only what getAuditLog filters on: every index costs time on each append.
      indexes: ['instanceId', 'action'],
    });
    const maxEntries = retention?.maxEntries ?? DEFAULT_AUDIT_MAX_ENTRIES;
    if (
      maxEntries !== Number.POSITIVE_INFINITY &&
      !(Number.isInteger(maxEntries) && maxEntries >= 1)
    ) {
      throw new ValidationError(
        [{ path: 'auditRetention.maxEntries', message: 'must be a positive integer or Infinity' }],
        'ConfigManager options',
      );
    }
    if (retention?.maxAgeMs !== undefined && !(retention.maxAgeMs > 0)) {
      throw new ValidationError(
        [{ path: 'auditRetention.maxAgeMs', message: 'must be a positive number' }],
        'ConfigManager options',
      );
    }
    this.retention = { ...retention, maxEntries };
    this.pruneInterval = Number.isFinite(maxEntries)
      ? Math.max(MIN_PRUNE_INTERVAL, Math.floor(maxEntries / 10))
      : MIN_PRUNE_INTERVAL;
  }

  /** Whether the policy removes anything: `maxEntries: Infinity` without `maxAgeMs` does not. */
  private get bounded(): boolean {
    return Number.isFinite(this.retention.maxEntries) || this.retention.maxAgeMs !== undefined;
  }

  /** Appends an entry. */
  async append(input: AuditInput): Promise<void> {
    const ms = this.now();
    const doc: Record<string, unknown> = {
      id: this.ids.next(ms),
      timestamp: isoAt(ms),
      actor: input.actor,
      action: input.action,
      outcome: input.outcome,
    };
    if (input.instanceId !== undefined) doc['instanceId'] = input.instanceId;
    if (input.integrationId !== undefined) doc['integrationId'] = input.integrationId;
    if (input.detail !== undefined) doc['detail'] = input.detail.slice(0, 1000);
    await this.col.insert(doc as unknown as Omit<AuditDocument, 'revision'>);
    if (++this.sincePrune >= this.pruneInterval && this.bounded) {
      this.sincePrune = 0;
      await this.prune();
    }
  }

  /** Entries, newest first. */
  async query(q: AuditQuery = {}): Promise<{ items: AuditEntry[]; nextCursor?: string }> {
    const where: Record<string, string> = {};
    if (q.instanceId !== undefined) where['instanceId'] = q.instanceId;
    if (q.action !== undefined) where['action'] = q.action;
    const page = await this.col.find({
      where,
      orderBy: { field: 'id', direction: 'desc' },
      limit: q.limit ?? 100,
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    const items = page.items.map(toEntry);
    return page.nextCursor !== undefined ? { items, nextCursor: page.nextCursor } : { items };
  }

  /** Applies the retention policy now; resolves the number of entries removed. */
  prune(): Promise<number> {
    if (!this.bounded) return Promise.resolve(0);
    this.pruning ??= this.runPrune().finally(() => {
      this.pruning = undefined;
    });
    return this.pruning;
  }

  private async runPrune(): Promise<number> {
    const { maxEntries, maxAgeMs } = this.retention;
    let removed = 0;
    if (maxAgeMs !== undefined) {
      // Ids sort by time, so the oldest entries come first in id order.
      const cutoff = timePart(this.now() - maxAgeMs);
      for (;;) {
        const { items } = await this.col.find({ limit: 500 });
        const old = items.filter((d) => d.id.slice(0, 9) < cutoff);
        for (const d of old) if (await this.col.delete(d.id)) removed++;
        if (old.length < items.length || items.length === 0) break;
      }
    }
    if (Number.isFinite(maxEntries)) {
      const excess = (await this.col.count()) - maxEntries;
      if (excess > 0) {
        const { items } = await this.col.find({ limit: excess });
        for (const d of items) if (await this.col.delete(d.id)) removed++;
      }
    }
    return removed;
  }
}

function toEntry(doc: AuditDocument): AuditEntry {
  const { revision: _revision, ...rest } = doc;
  return rest;
}
