/**
 * Writes the OAuth2 tokens a provider returned into an instance's sealed credentials.
 * The write is a compare-and-set on the instance revision that checks the stored
 * tokens are still the ones the refresh started from; tokens that cannot be written
 * (storage down) are kept in memory and written at the next call, because a provider
 * that rotates refresh tokens has already revoked the old one.
 *
 * @internal
 * @module
 */

import type { StoredOAuth2Tokens } from '../credentials/oauth2.js';
import { safeErrorMessage } from '../credentials/redact.js';
import type { CredentialVisibility } from '../credentials/visibility.js';
import { isPlugboardError } from '../errors.js';
import { isoAt } from '../internal/clock.js';
import { isObject } from '../internal/json.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { CredentialVault } from './credential-vault.js';
import { statusOf } from './instance-document.js';
import type { InstanceStore } from './instance-store.js';
import type { ConfigEmitter } from './ports.js';
import { driftStatus, scopesOf } from './scope-drift.js';
import type { InstanceStatus, TokenInfo } from './types.js';

/** Options of {@link TokenWriter}. */
export interface TokenWriterOptions {
  readonly store: InstanceStore;
  readonly vault: CredentialVault;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
}

/** New tokens to write, and what they replace. */
export interface TokenWrite {
  /** The tokens, in the stored shape. */
  readonly stored: StoredOAuth2Tokens;
  /**
   * The stored tokens the refresh started from: the write is skipped when others were
   * stored meanwhile. `'any'` overwrites whatever is stored (a code exchange).
   */
  readonly base: unknown;
  readonly grant: 'refresh_token' | 'authorization_code';
  /** Which credential fields the views of the instance's definition version show. */
  readonly visibility: CredentialVisibility;
  /**
   * The scopes the instance's version asks for (a code exchange): a `needs-reconsent`
   * status is recomputed from the new grant.
   */
  readonly requiredScopes?: readonly string[];
}

/** Outcome of {@link TokenWriter.store}. */
export interface TokenWriteResult {
  readonly info: TokenInfo;
  /** `stored`: written; `superseded`: newer tokens were stored meanwhile; `kept`: in memory. */
  readonly outcome: 'stored' | 'superseded' | 'kept';
}

/** Owns the tokens waiting to be written, per instance. */
export class TokenWriter {
  private readonly kept = new Map<string, TokenWrite>();

  constructor(private readonly o: TokenWriterOptions) {}

  /** Whether tokens of this instance wait in memory to be written. */
  has(instanceId: string): boolean {
    return this.kept.has(instanceId);
  }

  /**
   * Writes the tokens; when the write fails they are kept for {@link flush}.
   * @throws NotFoundError when the instance was deleted
   */
  async store(instanceId: string, write: TokenWrite): Promise<TokenWriteResult> {
    try {
      const outcome = await this.write(instanceId, write);
      if (this.kept.get(instanceId) === write) this.kept.delete(instanceId);
      return { info: infoOf(instanceId, write.stored), outcome };
    } catch (error) {
      if (isPlugboardError(error, 'NOT_FOUND')) throw error;
      this.kept.set(instanceId, write);
      this.o.recorder.warn(
        'Could not store the OAuth2 tokens the provider returned; they are kept in memory and written at the next call',
        { instanceId, error: safeErrorMessage(error, secretsOf(write.stored)) },
      );
      return { info: infoOf(instanceId, write.stored), outcome: 'kept' };
    }
  }

  /**
   * Writes the tokens kept for an instance, if any; resolves them with `written` false
   * when the write failed again, or undefined when none were kept.
   * @throws NotFoundError when the instance was deleted (the kept tokens are dropped)
   */
  async flush(
    instanceId: string,
  ): Promise<{ readonly stored: StoredOAuth2Tokens; readonly written: boolean } | undefined> {
    const write = this.kept.get(instanceId);
    if (!write) return undefined;
    try {
      const { outcome } = await this.store(instanceId, write);
      return { stored: write.stored, written: outcome !== 'kept' };
    } catch (error) {
      this.kept.delete(instanceId);
      throw error;
    }
  }

  /** Tries once more to write every instance's kept tokens (on close); never throws. */
  async flushAll(): Promise<void> {
    await Promise.allSettled([...this.kept.keys()].map((id) => this.flush(id)));
  }

  /** One compare-and-set write (retried on concurrent writes that left the tokens alone). */
  private async write(instanceId: string, write: TokenWrite): Promise<'stored' | 'superseded'> {
    let superseded = false;
    const { before, after } = await this.o.store.mutate(instanceId, undefined, async (doc) => {
      const credentials = this.o.vault.open(doc);
      if (write.base !== 'any' && !sameTokens(credentials['oauth2'], write.base)) {
        superseded = true;
        return undefined;
      }
      credentials['oauth2'] = write.stored;
      const now = isoAt(this.o.now());
      const status = statusAfter(doc.status, write, now);
      return {
        ...this.o.vault.seal(doc.id, credentials, write.visibility),
        ...(status ? { status } : {}),
        updatedAt: now,
      };
    });
    if (superseded) {
      this.o.recorder.warn(
        'Other OAuth2 tokens were stored while this refresh ran; they are kept and these are used only by this call',
        { instanceId },
      );
      return 'superseded';
    }
    const { expiresAt } = infoOf(instanceId, write.stored);
    this.o.emitter.emit('token:refreshed', {
      instanceId,
      integrationId: after.integrationId,
      grant: write.grant,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    });
    this.o.store.emitStatus(before, after);
    return 'stored';
  }
}

/**
 * The status after new tokens were written: `error` becomes `active`; missing OAuth2
 * scopes are kept, and after a code exchange recomputed from the new grant (a refresh
 * cannot add scopes, RFC 6749 §6).
 */
function statusAfter(
  status: InstanceStatus,
  write: TokenWrite,
  now: string,
): InstanceStatus | undefined {
  let missing = status.missingScopes;
  if (write.requiredScopes !== undefined && missing !== undefined) {
    const granted = new Set(scopesOf(write.stored.scope ?? ''));
    missing = write.requiredScopes.filter((s) => !granted.has(s));
  }
  if (status.state !== 'error') {
    return missing === status.missingScopes ? undefined : driftStatus(status, missing ?? [], now);
  }
  const active = statusOf('active', now);
  return missing ? (driftStatus(active, missing, now) ?? active) : active;
}

/** Whether two stored token sets are the same tokens. */
function sameTokens(a: unknown, b: unknown): boolean {
  if (!isObject(a) || !isObject(b)) return !isObject(a) && !isObject(b);
  return (
    a['access_token'] === b['access_token'] &&
    a['refresh_token'] === b['refresh_token'] &&
    a['expires_at'] === b['expires_at']
  );
}

function infoOf(instanceId: string, stored: StoredOAuth2Tokens): TokenInfo {
  return {
    instanceId,
    ...(stored.expires_at !== undefined ? { expiresAt: stored.expires_at } : {}),
    ...(stored.scope !== undefined ? { scope: stored.scope } : {}),
    ...(stored.token_type !== undefined ? { tokenType: stored.token_type } : {}),
  };
}

function secretsOf(stored: StoredOAuth2Tokens): string[] {
  return [stored.access_token, stored.refresh_token].filter(
    (s): s is string => typeof s === 'string' && s.length >= 4,
  );
}
