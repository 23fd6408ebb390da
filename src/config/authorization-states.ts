/**
 * The `state` values of OAuth2 authorization requests: issued with each authorization
 * URL, recorded in storage (so any process sharing the store can check the callback),
 * valid for a limited time and accepted once.
 *
 * @internal
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { isPlugboardError, ValidationError } from '../errors.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';

/** One issued state, stored under the SHA-256 of its value (the value itself is not kept). */
interface StateDocument extends StoredDocument {
  readonly instanceId: string;
  readonly redirectUri: string;
  /** The scopes the URL asked for (absent in states issued before they were recorded). */
  readonly scopes?: readonly string[];
  /** Whether the URL asked for more scopes on top of the granted ones. */
  readonly incremental?: boolean;
  /** Epoch ms after which the state is refused. */
  readonly expiresAt: number;
}

/** What an accepted state was issued for. */
export interface IssuedState {
  readonly instanceId: string;
  readonly redirectUri: string;
  /** The scopes requested. */
  readonly scopes?: readonly string[];
  /** Whether the request was incremental (`include_granted_scopes`). */
  readonly incremental?: boolean;
}

/** Expired states removed per issue, so abandoned authorizations do not pile up. */
const PRUNE_BATCH = 50;

/** Owns the `oauth2_states` collection. */
export class AuthorizationStates {
  private readonly col: Collection<StateDocument>;

  constructor(
    storage: StorageAdapter,
    private readonly now: () => number,
    private readonly ttlMs: number,
  ) {
    this.col = storage.collection<StateDocument>('oauth2_states');
  }

  /** Issues and records a new state (256 random bits, base64url) for an instance. */
  async issue(
    instanceId: string,
    redirectUri: string,
    request: { readonly scopes: readonly string[]; readonly incremental: boolean },
  ): Promise<string> {
    const state = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.col.insert({
      id: digest(state),
      instanceId,
      redirectUri,
      scopes: [...request.scopes],
      ...(request.incremental ? { incremental: true } : {}),
      expiresAt: now + this.ttlMs,
    });
    await this.prune(now);
    return state;
  }

  /**
   * Accepts a state once: it must have been issued, for this instance, and not have
   * expired. A state is used up by the first attempt, whatever its outcome.
   *
   * @throws ValidationError (path `state`) naming what is wrong
   */
  async consume(state: unknown, instanceId: string): Promise<IssuedState> {
    if (typeof state !== 'string' || state === '') {
      throw refused(
        'is required: pass the state the provider sent back to the redirect URI (issued by buildAuthorizationUrl)',
      );
    }
    const id = digest(state);
    const doc = await this.col.get(id);
    if (!doc || !(await this.take(doc))) {
      throw refused(
        'is unknown or was already used; start the authorization again with buildAuthorizationUrl',
      );
    }
    if (doc.expiresAt <= this.now()) {
      throw refused(
        `expired (a state is valid for ${Math.round(this.ttlMs / 1000)} s); start the authorization again`,
      );
    }
    if (doc.instanceId !== instanceId) {
      throw refused(
        'was issued for another instance; exchange the code for the instance that built the authorization URL',
      );
    }
    return {
      instanceId: doc.instanceId,
      redirectUri: doc.redirectUri,
      ...(doc.scopes !== undefined ? { scopes: doc.scopes } : {}),
      ...(doc.incremental === true ? { incremental: true } : {}),
    };
  }

  /** Deletes the state if nobody else did first; resolves whether this call did. */
  private async take(doc: StateDocument): Promise<boolean> {
    try {
      return await this.col.delete(doc.id, { expectedRevision: doc.revision });
    } catch (error) {
      if (isPlugboardError(error, 'CONFLICT')) return false;
      throw error;
    }
  }

  /** Deletes up to one batch of expired states, oldest first. */
  private async prune(now: number): Promise<void> {
    const { items } = await this.col.find({
      orderBy: { field: 'expiresAt' },
      limit: PRUNE_BATCH,
    });
    for (const doc of items) {
      if (doc.expiresAt > now) break;
      await this.take(doc);
    }
  }
}

function digest(state: string): string {
  return createHash('sha256').update(state).digest('base64url');
}

function refused(message: string): ValidationError {
  return new ValidationError([{ path: 'state', message }], 'OAuth2 callback');
}
