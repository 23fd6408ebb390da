/**
 * Event deduplication in storage: the first dispatch of an `(integrationId, eventId)`
 * claims it in the `event_ids` collection; a redelivery within the window finds the
 * claim and answers with what the first dispatch recorded. Every decision is one
 * conditional write (an insert that fails on an existing id, an update or delete at a
 * revision), so it holds across processes sharing a store.
 *
 * One document per key, its id a SHA-256 digest (base64url, 43 characters) of
 * `integrationId + '\0' + eventId`, so ids of any length and alphabet fit:
 *
 * - `claimed`: a dispatch is running it until `claimedUntil`; others wait for it, and
 *   take it over once `claimedUntil` passed (the claiming process died).
 * - `done`: the dispatch recorded `executionIds`; until `expiresAt` every claim is a
 *   duplicate, after it the key is claimed afresh.
 *
 * @internal
 * @module
 */
import { createHash } from 'node:crypto';
import { ConflictError, isPlugboardError, type ValidationIssue } from '../../errors.js';
import { sleep } from '../../internal/async.js';
import { MAX_ID_LENGTH } from '../../internal/ids.js';
import { optionalIntegerIssue, optionsOf, throwIfIssues } from '../../internal/options.js';
import type { Collection, StorageAdapter, StoredDocument } from '../../storage/types.js';

/** The collection of dedup claims. */
export const EVENT_IDS_COLLECTION = 'event_ids';

/** Default {@link DeduplicatorOptions.windowMs}: 24 hours. */
export const DEFAULT_DEDUP_WINDOW_MS: number = 24 * 60 * 60 * 1000;

/** Default {@link DeduplicatorOptions.claimMs}: one minute. */
export const DEFAULT_DEDUP_CLAIM_MS = 60_000;

/** One claimed key, as stored in `event_ids`. */
export interface EventIdDocument extends StoredDocument {
  readonly integrationId: string;
  readonly eventId: string;
  readonly state: 'claimed' | 'done';
  /** The dispatch that claimed the key. */
  readonly dispatchId: string;
  /** Epoch ms until which the claim holds while `claimed`. */
  readonly claimedUntil: number;
  /** Epoch ms after which the key is free again (the window's end). */
  readonly expiresAt: number;
  /** What the dispatch recorded, once `done`. */
  readonly executionIds?: readonly string[];
}

/** Options of {@link Deduplicator}. */
export interface DeduplicatorOptions {
  /**
   * How long after its first dispatch an event id counts as seen, in ms (a positive
   * integer); default 24 hours, longer than the redelivery schedules of common providers.
   */
  readonly windowMs?: number;
  /**
   * How long a claim holds before another dispatch may take it over, in ms (a positive
   * integer); default 60 000. A dispatch that takes longer than this before recording may
   * run twice; a dispatch that died holds its key this long.
   */
  readonly claimMs?: number;
  /** The clock, in epoch ms; default `Date.now` (tests pass a fake one). */
  readonly now?: () => number;
}

/** The answer of {@link Deduplicator.claim} for the first dispatch of a key. */
export interface FirstClaim {
  readonly first: true;
  /**
   * Records what the dispatch did; later claims of the key answer with `executionIds`.
   * Resolves `false` when the claim had expired and another dispatch took the key over
   * (the event may then run twice: raise `claimMs`).
   */
  complete(executionIds: readonly string[]): Promise<boolean>;
  /** Gives the key up (the dispatch recorded nothing), so a redelivery runs. */
  abandon(): Promise<void>;
  /**
   * The dispatch whose claim this one took over after it ran out (that process died, or
   * took longer than `claimMs`): what it stored must be looked for before running again.
   */
  readonly takenOver?: string;
}

/** The answer of {@link Deduplicator.claim} for a duplicate: what the first recorded. */
export interface DuplicateClaim {
  readonly first: false;
  /** The dispatch that ran the event. */
  readonly dispatchId: string;
  /** The executions it recorded. */
  readonly executionIds: readonly string[];
}

/** The answer of {@link Deduplicator.claim}. */
export type Claim = FirstClaim | DuplicateClaim;

const MAX_POLL_MS = 100;

/** The document id of a key: a fixed-length digest, whatever the ids' length or alphabet. */
export function eventIdKey(integrationId: string, eventId: string): string {
  return createHash('sha256').update(`${integrationId}\0${eventId}`).digest('base64url');
}

function idIssue(path: string, value: unknown): ValidationIssue | undefined {
  if (typeof value !== 'string' || value.length === 0) {
    return { path, message: 'must be a non-empty string' };
  }
  if (value.length > MAX_ID_LENGTH) {
    return { path, message: `must be at most ${MAX_ID_LENGTH} characters` };
  }
  // Kept in the document, and PostgreSQL cannot store U+0000 in JSON.
  if (value.includes('\0')) return { path, message: 'must not contain the character U+0000' };
  return undefined;
}

/** Claims event ids in storage so that each runs once per window (see the module comment). */
export class Deduplicator {
  private readonly ids: Collection<EventIdDocument>;
  private readonly windowMs: number;
  private readonly claimMs: number;
  private readonly now: () => number;

  /** @throws ValidationError for a bad option */
  constructor(storage: StorageAdapter, options?: DeduplicatorOptions) {
    const o = optionsOf(options, 'Deduplicator options');
    throwIfIssues('Deduplicator options', [
      storage && typeof storage.collection === 'function'
        ? undefined
        : { path: 'storage', message: 'must be a StorageAdapter' },
      optionalIntegerIssue('windowMs', o.windowMs),
      optionalIntegerIssue('claimMs', o.claimMs),
      o.now === undefined || typeof o.now === 'function'
        ? undefined
        : { path: 'now', message: 'must be a function' },
    ]);
    this.windowMs = o.windowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.claimMs = o.claimMs ?? DEFAULT_DEDUP_CLAIM_MS;
    this.now = o.now ?? Date.now;
    this.ids = storage.collection<EventIdDocument>(EVENT_IDS_COLLECTION, {
      indexes: ['expiresAt'],
    });
  }

  /**
   * Claims `(integrationId, eventId)` for the dispatch `dispatchId`. The first claim in
   * the window gets `first: true` and must `complete` or `abandon`; a later one waits
   * while the first is running, then gets `first: false` with what it recorded.
   *
   * @throws ValidationError for an empty or over-long id
   */
  async claim(integrationId: string, eventId: string, dispatchId: string): Promise<Claim> {
    throwIfIssues('dedup claim', [
      idIssue('integrationId', integrationId),
      idIssue('eventId', eventId),
      idIssue('dispatchId', dispatchId),
    ]);
    const id = eventIdKey(integrationId, eventId);
    const fresh = (t: number) => ({
      state: 'claimed' as const,
      dispatchId,
      claimedUntil: t + this.claimMs,
      expiresAt: t + this.windowMs,
    });
    for (let attempt = 0; ; attempt++) {
      const t = this.now();
      try {
        const doc = await this.ids.insert({ id, integrationId, eventId, ...fresh(t) });
        return this.firstClaim(id, doc.revision);
      } catch (e) {
        if (!isPlugboardError(e, 'CONFLICT')) throw e;
      }
      const doc = await this.ids.get(id);
      if (doc === undefined) continue; // abandoned or pruned meanwhile: insert again
      if (doc.state === 'done' && doc.expiresAt > t) {
        return { first: false, dispatchId: doc.dispatchId, executionIds: doc.executionIds ?? [] };
      }
      if (doc.state === 'claimed' && doc.claimedUntil > t && doc.expiresAt > t) {
        await sleep(Math.min(MAX_POLL_MS, 2 ** Math.min(attempt, 7), doc.claimedUntil - t));
        continue;
      }
      // A dead claim or an expired window: take the key over, unless another did first.
      const taken = await this.takeOver(id, doc.revision, fresh(t));
      if (taken === undefined) continue;
      return this.firstClaim(id, taken, doc.state === 'claimed' ? doc.dispatchId : undefined);
    }
  }

  /**
   * Deletes keys whose window has passed, oldest first, at most `limit` of them.
   *
   * @returns how many were deleted
   * @throws ValidationError for a bad `limit`
   */
  async prune(options?: { readonly limit?: number }): Promise<number> {
    const o = optionsOf(options, 'prune options');
    throwIfIssues('prune options', [optionalIntegerIssue('limit', o.limit)]);
    let left = o.limit ?? Number.MAX_SAFE_INTEGER;
    let deleted = 0;
    const t = this.now();
    while (left > 0) {
      const page = await this.ids.find({
        orderBy: { field: 'expiresAt' },
        limit: Math.min(left, 100),
      });
      const expired = page.items.filter((d) => d.expiresAt <= t);
      for (const d of expired) {
        if (await this.deleteAt(d.id, d.revision)) deleted++;
      }
      left -= page.items.length;
      // A live key ends the expired ones (they sort first); a page of only keys that
      // changed under us is fetched again.
      if (expired.length < page.items.length || page.nextCursor === undefined) break;
    }
    return deleted;
  }

  private async takeOver(
    id: string,
    revision: number,
    fresh: Pick<EventIdDocument, 'state' | 'dispatchId' | 'claimedUntil' | 'expiresAt'>,
  ): Promise<number | undefined> {
    try {
      const doc = await this.ids.update(
        id,
        { ...fresh, executionIds: undefined },
        { expectedRevision: revision },
      );
      return doc.revision;
    } catch (e) {
      if (isPlugboardError(e, 'CONFLICT') || isPlugboardError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  private async deleteAt(id: string, revision: number): Promise<boolean> {
    try {
      return await this.ids.delete(id, { expectedRevision: revision });
    } catch (e) {
      if (isPlugboardError(e, 'CONFLICT')) return false;
      throw e;
    }
  }

  private firstClaim(id: string, revision: number, takenOver?: string): FirstClaim {
    let settled = false;
    const settle = (what: string): void => {
      if (settled) throw new ConflictError(`this dedup claim was already settled; ${what} once`);
      settled = true;
    };
    return {
      first: true,
      ...(takenOver !== undefined ? { takenOver } : {}),
      complete: async (executionIds) => {
        throwIfIssues('dedup complete', [executionIdsIssue(executionIds)]);
        settle('complete or abandon it');
        try {
          await this.ids.update(
            id,
            { state: 'done', executionIds: [...executionIds] },
            { expectedRevision: revision },
          );
          return true;
        } catch (e) {
          if (isPlugboardError(e, 'CONFLICT') || isPlugboardError(e, 'NOT_FOUND')) return false;
          throw e;
        }
      },
      abandon: async () => {
        settle('complete or abandon it');
        await this.deleteAt(id, revision);
      },
    };
  }
}

function executionIdsIssue(ids: unknown): ValidationIssue | undefined {
  if (Array.isArray(ids) && ids.every((x) => typeof x === 'string')) return undefined;
  return { path: 'executionIds', message: 'must be an array of strings' };
}
