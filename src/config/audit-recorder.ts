/**
 * How the pieces of the config manager write the audit log: every entry is checked like
 * a caller's, and a failure entry that cannot be written is logged instead of hiding
 * the error being reported.
 *
 * @internal
 * @module
 */

import { safeErrorMessage } from '../credentials/redact.js';
import { isPlugboardError } from '../errors.js';
import { optionsOf } from '../internal/options.js';
import type { AuditLog } from './audit.js';
import { checkAuditInput } from './audit.js';
import type { ConfigLogger } from './ports.js';
import type { AuditEntry, AuditInput, AuditQuery } from './types.js';

/** Owns the audit log of one manager, its default actor and its logger. */
export class AuditRecorder {
  constructor(
    private readonly log: AuditLog,
    /** Actor recorded when a call passes none. */
    readonly defaultActor: string,
    private readonly logger: ConfigLogger | undefined,
  ) {}

  /** Checks and appends an entry. @throws ValidationError for a malformed entry */
  async record(entry: AuditInput): Promise<void> {
    checkAuditInput(entry);
    await this.log.append(entry);
  }

  /** Records a failed operation with the error's code; never throws. */
  async failure(
    actor: string,
    action: string,
    instanceId: string,
    error: unknown,
    integrationId?: string,
  ): Promise<void> {
    const code = isPlugboardError(error) ? error.code : 'ERROR';
    try {
      await this.record({
        actor,
        action,
        instanceId,
        ...(integrationId !== undefined ? { integrationId } : {}),
        outcome: 'failure',
        detail: code,
      });
    } catch (auditError) {
      this.warn('Could not write an audit entry', {
        action,
        error: safeErrorMessage(auditError, []),
      });
    }
  }

  /** Reports background trouble to the logger, if there is one. */
  warn(message: string, data: Record<string, unknown>): void {
    this.logger?.warn(message, data);
  }

  /** Audit entries, newest first. */
  query(q: AuditQuery): Promise<{ items: AuditEntry[]; nextCursor?: string }> {
    return this.log.query(optionsOf(q, 'audit query', 'query'));
  }

  /** Applies the retention policy now; resolves how many entries were removed. */
  prune(): Promise<number> {
    return this.log.prune();
  }
}
