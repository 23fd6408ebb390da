/**
 * Leases that make an OAuth2 refresh single-flight across processes sharing a store: a
 * document per instance in the `oauth2_leases` collection, naming its holder and when
 * it expires. It is taken by insert (or, once expired, by a compare-and-set on its
 * revision), renewed while the refresh runs, and deleted when the new tokens are
 * stored. A process that dies holding one leaves it to expire.
 *
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import { isPlugboardError } from '../errors.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';

/** The lease of one instance's refresh. */
interface LeaseDocument extends StoredDocument {
  /** Who holds it: `<pid>:<random>`, one per token service. */
  readonly holder: string;
  /** Epoch ms after which another holder may take it. */
  readonly expiresAt: number;
}

/** Owns the `oauth2_leases` collection and this service's holder id. */
export class RefreshLeases {
  private readonly col: Collection<LeaseDocument>;
  private readonly holder = `${process.pid}:${randomUUID()}`;

  constructor(
    storage: StorageAdapter,
    private readonly now: () => number,
    /** How long a lease lasts without renewal. */
    readonly leaseMs: number,
  ) {
    this.col = storage.collection<LeaseDocument>('oauth2_leases');
  }

  /**
   * Takes the lease of an instance if it is free, expired or already this service's;
   * resolves undefined when another holder has it.
   */
  async acquire(instanceId: string): Promise<Lease | undefined> {
    const current = await this.col.get(instanceId);
    const fields = { holder: this.holder, expiresAt: this.now() + this.leaseMs };
    try {
      if (!current) return this.lease(await this.col.insert({ id: instanceId, ...fields }));
      if (current.expiresAt > this.now() && current.holder !== this.holder) return undefined;
      const taken = await this.col.update(instanceId, fields, {
        expectedRevision: current.revision,
      });
      return this.lease(taken);
    } catch (error) {
      // Someone else inserted, took over or released it between our read and write.
      if (isPlugboardError(error, 'CONFLICT') || isPlugboardError(error, 'NOT_FOUND')) {
        return undefined;
      }
      throw error;
    }
  }

  private lease(doc: LeaseDocument): Lease {
    return new Lease(this.col, doc, this.now, this.leaseMs);
  }
}

/** A held lease: renewed every third of its duration until released or abandoned. */
export class Lease {
  private readonly id: string;
  private revision: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private renewing: Promise<void> = Promise.resolve();
  private held = true;

  constructor(
    private readonly col: Collection<LeaseDocument>,
    doc: LeaseDocument,
    private readonly now: () => number,
    private readonly leaseMs: number,
  ) {
    this.id = doc.id;
    this.revision = doc.revision;
    this.timer = setInterval(
      () => {
        this.renewing = this.renewing.then(() => this.renew());
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    this.timer.unref();
  }

  /** Whether the lease is still ours (false once another holder took it over). */
  get isHeld(): boolean {
    return this.held;
  }

  /** Stops renewing and deletes the lease, unless another holder took it over. */
  async release(): Promise<void> {
    this.abandon();
    await this.renewing;
    if (!this.held) return;
    this.held = false;
    try {
      await this.col.delete(this.id, { expectedRevision: this.revision });
    } catch {
      // Left to expire: a conflict means someone else holds it now, and a storage
      // failure changes nothing a later holder cannot recover from.
    }
  }

  /** Stops renewing; the lease expires `leaseMs` after its last renewal. */
  abandon(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    if (!this.held) return;
    try {
      const doc = await this.col.update(
        this.id,
        { expiresAt: this.now() + this.leaseMs },
        { expectedRevision: this.revision },
      );
      this.revision = doc.revision;
    } catch (error) {
      if (isPlugboardError(error, 'CONFLICT') || isPlugboardError(error, 'NOT_FOUND')) {
        this.held = false;
        this.abandon();
      }
      // Other failures: try again at the next tick; the lease may still be valid.
    }
  }
}
