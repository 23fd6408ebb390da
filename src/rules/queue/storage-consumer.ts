/**
 * One consumer of a `StorageQueue`: finds due jobs, takes each with an optimistic update
 * (so two consumers, in one process or many, never both hold a job's lease), runs the
 * handler, extends the lease while it runs, then deletes the job or makes it due again.
 *
 * @internal
 * @module
 */
import { isPlugboardError } from '../../errors.js';
import type { Collection, StoredDocument } from '../../storage/types.js';
import type { ExecutionJob, JobHandler, QueueConsumer } from './types.js';

/** How a job is stored: one document per job, its id the job id. */
export interface JobDocument extends StoredDocument {
  /** The execution the job advances. */
  readonly executionId: string;
  /** Due time in ms since the epoch; while the job is taken, the end of its lease. */
  readonly runAt: number;
  /** End of the current lease (ms since the epoch), absent when nobody holds the job. */
  readonly leaseUntil?: number;
  /** The consumer holding the lease, absent when nobody does. */
  readonly owner?: string;
}

/** What a consumer needs from its queue. */
export interface ConsumerSettings {
  readonly jobs: Collection<JobDocument>;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly retryDelayMs: number;
  readonly concurrency: number;
  readonly handler: JobHandler;
  /** Called once the consumer has stopped, so the queue forgets it. */
  readonly onStopped: (consumer: StorageConsumer) => void;
}

/** Whether an error only means another consumer got there first. */
function lostRace(e: unknown): boolean {
  return isPlugboardError(e, 'CONFLICT') || isPlugboardError(e, 'NOT_FOUND');
}

/** Fisher–Yates, so consumers racing for the same due jobs mostly pick different ones. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The lease on one taken job: extended while the handler runs, released at the end. */
class Lease {
  #doc: JobDocument;
  #chain: Promise<void> = Promise.resolve();
  #lost = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly jobs: Collection<JobDocument>,
    doc: JobDocument,
    private readonly leaseMs: number,
  ) {
    this.#doc = doc;
    this.#timer = setInterval(
      () => {
        this.#chain = this.#chain.then(() => this.#extend());
      },
      Math.max(1, Math.floor(leaseMs / 2)),
    );
    this.#timer.unref();
  }

  async #extend(): Promise<void> {
    if (this.#lost) return;
    const until = Date.now() + this.leaseMs;
    try {
      this.#doc = await this.jobs.update(
        this.#doc.id,
        { runAt: until, leaseUntil: until },
        { expectedRevision: this.#doc.revision },
      );
    } catch (e) {
      // A stale revision means the lease ran out and another consumer took the job;
      // any other failure is retried at the next tick, while the lease still holds.
      if (lostRace(e)) this.#lost = true;
    }
  }

  /** Deletes the job (`retryAt` undefined) or makes it due at `retryAt`, unless the lease was lost. */
  async finish(retryAt: number | undefined): Promise<void> {
    clearInterval(this.#timer);
    await this.#chain;
    if (this.#lost) return;
    const expectedRevision = this.#doc.revision;
    try {
      if (retryAt === undefined) await this.jobs.delete(this.#doc.id, { expectedRevision });
      else {
        await this.jobs.update(
          this.#doc.id,
          { runAt: retryAt, leaseUntil: undefined, owner: undefined },
          { expectedRevision },
        );
      }
    } catch {
      // Lost race or storage failure: the lease then runs out and the job is delivered
      // again, which at-least-once delivery allows.
    }
  }
}

/** A running consumer of a `StorageQueue`. */
export class StorageConsumer implements QueueConsumer {
  readonly #s: ConsumerSettings;
  readonly #owner: string = globalThis.crypto.randomUUID();
  readonly #running = new Set<Promise<void>>();
  #stopped = false;
  #passing: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopping: Promise<void> | undefined;

  constructor(settings: ConsumerSettings) {
    this.#s = settings;
    this.wake(Date.now());
  }

  /** Looks for due jobs at `at` (at once when `at` is now or past). */
  wake(at: number): void {
    if (at <= Date.now()) this.#kick();
    else this.#schedule(at);
  }

  /** {@inheritDoc QueueConsumer.stop} */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#passing;
    await Promise.all(this.#running);
    this.#s.onStopped(this);
  }

  #schedule(at: number): void {
    if (this.#stopped || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#kick();
      },
      Math.max(0, at - Date.now()),
    );
    this.#timer.unref();
  }

  #kick(): void {
    if (this.#stopped) return;
    if (this.#passing) this.#again = true;
    else this.#passing = this.#passes();
  }

  /** Runs passes until none was asked for meanwhile; never rejects. */
  async #passes(): Promise<void> {
    for (;;) {
      this.#again = false;
      let next: number;
      try {
        next = await this.#pass();
      } catch {
        // Storage failure (connection lost, storage closed): try again at the next poll.
        next = Number.POSITIVE_INFINITY;
      }
      this.#schedule(Math.min(next, Date.now() + this.#s.pollIntervalMs));
      // Checked and cleared in one synchronous step, so no kick falls in between.
      if (!this.#again || this.#stopped) {
        this.#passing = undefined;
        return;
      }
    }
  }

  /** Takes due jobs while there are free slots; returns when the next job falls due. */
  async #pass(): Promise<number> {
    for (;;) {
      const free = this.#s.concurrency - this.#running.size;
      if (free <= 0 || this.#stopped) return Number.POSITIVE_INFINITY;
      const page = await this.#s.jobs.find({
        orderBy: { field: 'runAt' },
        limit: Math.min(free * 2 + 8, 500),
      });
      const now = Date.now();
      const due = page.items.filter((d) => d.runAt <= now && !((d.leaseUntil ?? 0) > now));
      if (due.length === 0) {
        const next = page.items.find((d) => d.runAt > now);
        return next?.runAt ?? Number.POSITIVE_INFINITY;
      }
      await this.#takeSome(shuffled(due), free);
    }
  }

  /** Tries to take up to `free` of `candidates`, starting each one taken. */
  async #takeSome(candidates: readonly JobDocument[], free: number): Promise<void> {
    let taken = 0;
    let i = 0;
    while (taken < free && i < candidates.length && !this.#stopped) {
      const batch = candidates.slice(i, i + free - taken);
      i += batch.length;
      const results = await Promise.allSettled(batch.map((d) => this.#take(d)));
      let failure: unknown;
      for (const r of results) {
        if (r.status === 'rejected') failure ??= r.reason;
        else if (r.value) taken++;
      }
      if (failure !== undefined) throw failure;
    }
  }

  /** Takes one job with an optimistic update; `false` when another consumer was first. */
  async #take(doc: JobDocument): Promise<boolean> {
    const until = Date.now() + this.#s.leaseMs;
    let mine: JobDocument;
    try {
      mine = await this.#s.jobs.update(
        doc.id,
        { runAt: until, leaseUntil: until, owner: this.#owner },
        { expectedRevision: doc.revision },
      );
    } catch (e) {
      if (lostRace(e)) return false;
      throw e;
    }
    const lease = new Lease(this.#s.jobs, mine, this.#s.leaseMs);
    if (this.#stopped) {
      // stop() came while the update was in flight: hand the job back, due at once.
      await lease.finish(Date.now());
      return false;
    }
    const run = this.#run(mine, lease).finally(() => {
      this.#running.delete(run);
      this.#kick();
    });
    this.#running.add(run);
    return true;
  }

  async #run(doc: JobDocument, lease: Lease): Promise<void> {
    const job: ExecutionJob = Object.freeze({ id: doc.id, executionId: doc.executionId });
    let failed = false;
    try {
      await this.#s.handler(job);
    } catch {
      failed = true;
    }
    await lease.finish(failed ? Date.now() + this.#s.retryDelayMs : undefined);
  }
}
