/**
 * The work state of durable executions: one document per unfinished execution in
 * `deliveries` (its event, the rule's actions as dispatched, the results so far, the
 * attempt count, the next attempt time and the lease of the process running it). Every
 * write is conditional on the revision last read, so a process that lost its lease
 * cannot overwrite the state of the one that took it over.
 *
 * @internal
 * @module
 */
import { isPlugboardError } from '../../errors.js';
import type { IntegrationEvent } from '../../schema/runtime.js';
import type { Collection, DocumentChanges, StorageAdapter } from '../../storage/types.js';
import type { LogEntry } from '../history/index.js';
import type { ActionResult, RuleAction } from '../types.js';

/** The status of an unfinished execution. */
export type UnfinishedStatus = 'pending' | 'running' | 'retrying';

/** One document of `deliveries`: the state of an unfinished durable execution (id = execution id). */
export interface DeliveryDocument {
  readonly id: string;
  readonly revision: number;
  readonly ruleId: string;
  readonly ruleRevision: number;
  /** The rule's integration (the default integration of its actions). */
  readonly integrationId: string;
  readonly triggerType: string;
  readonly startTime: string;
  /** The event, as dispatched. */
  readonly event: IntegrationEvent;
  /** The rule's actions as they were when the execution began. */
  readonly actions: readonly RuleAction[];
  readonly status: UnfinishedStatus;
  /** Index of the next action to run. */
  readonly step: number;
  /** Attempts made of the action at `step`. */
  readonly attempts: number;
  /** Results of the actions before `step`. */
  readonly results: readonly ActionResult[];
  /** The first action error so far. */
  readonly error?: string;
  /** An action failed without `continueOnError`: the rest are skipped. */
  readonly stopped?: boolean;
  /** When the next attempt is due, ms since the epoch. */
  readonly nextAttemptAt: number;
  /** The process running it, and until when its lease holds (ms since the epoch). */
  readonly leaseOwner?: string;
  readonly leaseUntil?: number;
  /** Log entries so far. */
  readonly logs: readonly LogEntry[];
  /** The execution this one replays. */
  readonly replayOf?: string;
}

/** The document as inserted. */
export type NewDelivery = Omit<DeliveryDocument, 'revision'>;

/** A write lost to another process (its lease was taken over) or to a deletion of the rule. */
export class LeaseLost extends Error {
  constructor(readonly executionId: string) {
    super(`the lease of execution '${executionId}' was lost`);
  }
}

/** Whether an error says a conditional write found another revision, or no document. */
function isLost(e: unknown): boolean {
  return isPlugboardError(e, 'CONFLICT') || isPlugboardError(e, 'NOT_FOUND');
}

/** The `deliveries` collection. */
export class DeliveryStore {
  readonly docs: Collection<DeliveryDocument & { revision: number }>;

  constructor(storage: StorageAdapter) {
    this.docs = storage.collection<DeliveryDocument>('deliveries', {
      indexes: ['status', 'ruleId'],
    });
  }

  insert(doc: NewDelivery): Promise<DeliveryDocument> {
    return this.docs.insert(doc);
  }

  get(id: string): Promise<DeliveryDocument | undefined> {
    return this.docs.get(id);
  }

  /**
   * Writes `changes` over `doc` if it is still the stored revision.
   *
   * @throws LeaseLost when another process wrote it since, or it was deleted
   */
  async save(
    doc: DeliveryDocument,
    changes: DocumentChanges<DeliveryDocument>,
  ): Promise<DeliveryDocument> {
    try {
      return await this.docs.update(doc.id, changes, { expectedRevision: doc.revision });
    } catch (e) {
      if (isLost(e)) throw new LeaseLost(doc.id);
      throw e;
    }
  }

  /** Deletes the state of a finished execution (a newer revision of another process stays). */
  async remove(doc: DeliveryDocument): Promise<void> {
    try {
      await this.docs.delete(doc.id, { expectedRevision: doc.revision });
    } catch (e) {
      if (!isLost(e)) throw e;
    }
  }

  /** Deletes the unfinished executions of a rule. */
  async deleteForRule(ruleId: string): Promise<void> {
    const { items } = await this.docs.find({ where: { ruleId } });
    await Promise.all(items.map((d) => this.docs.delete(d.id)));
  }

  /** Pages of unfinished executions with a status, oldest due first. */
  async *withStatus(status: UnfinishedStatus): AsyncGenerator<DeliveryDocument> {
    let cursor: string | undefined;
    do {
      const page = await this.docs.find({
        where: { status },
        orderBy: { field: 'nextAttemptAt' },
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
}
