/**
 * The single writer of a `JsonFileStorage`: it owns the journal and the current
 * generation, appends the writes of one turn as one batch (group commit), flushes on an
 * interval in `batched` mode, and compacts the journal into new collection files. Not
 * part of the public API.
 *
 * @internal
 * @module
 */
import { writeSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageClosedError } from '../../errors.js';
import { errorMessage } from '../../internal/error-message.js';
import type { WriteOp } from '../document-store/collection.js';
import type { StoredDocument } from '../types.js';
import { replaceFileAtomically, syncDir, writeAll, writeFileDurably } from './disk.js';
import {
  encodeJournalLine,
  encodeManifest,
  encodeSnapshot,
  journalFileName,
  MANIFEST,
  type Manifest,
  snapshotFileName,
} from './json-file-format.js';
import type { LoadedStore } from './loader.js';
import type { Durability, JsonFileStorageOptions } from './options.js';

const DEFAULT_THRESHOLD = 8 * 1024 * 1024;

interface Batch {
  readonly lines: string[];
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function newBatch(): Batch {
  let resolveFn!: () => void;
  let rejectFn!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolveFn = res;
    rejectFn = rej;
  });
  return { lines: [], promise, resolve: resolveFn, reject: rejectFn };
}

/** The writer's view of the collections: their current documents, for snapshots. */
export type CollectionContents = ReadonlyMap<string, { values(): Iterable<StoredDocument> }>;

/** Appends writes to the journal and compacts it; after a failed disk write, refuses all. */
export class JournalWriter {
  private readonly thresholdBytes: number;
  private manifest: Manifest;
  private journal: FileHandle;
  private journalBytes: number;
  private readonly snapshotBytes: Map<string, number>;
  private readonly dirty = new Set<string>();
  private pending: Batch | undefined;
  private draining: Promise<void> | undefined;
  private unsynced = false;
  private syncRequested = false;
  private readonly syncTimer: ReturnType<typeof setInterval> | undefined;
  private failed: StorageClosedError | undefined;

  /**
   * @param dir - the store's directory
   * @param durability - when a write resolves
   * @param collections - the documents to snapshot at compaction
   */
  constructor(
    private readonly dir: string,
    private readonly durability: Durability,
    options: JsonFileStorageOptions,
    journal: FileHandle,
    loaded: LoadedStore,
    private readonly collections: CollectionContents,
  ) {
    this.thresholdBytes = options.compactionThresholdBytes ?? DEFAULT_THRESHOLD;
    this.journal = journal;
    this.manifest = loaded.manifest;
    this.journalBytes = loaded.journalBytes;
    this.snapshotBytes = loaded.snapshotBytes;
    for (const name of loaded.journaled) this.dirty.add(name);
    if (durability === 'batched') {
      this.syncTimer = setInterval(() => {
        this.syncRequested = true;
        this.kick();
      }, options.fsyncIntervalMs ?? 1000);
      this.syncTimer.unref();
    }
  }

  /** The error every operation throws once a disk write failed. */
  get failure(): StorageClosedError | undefined {
    return this.failed;
  }

  /** The persistence hook: queue the op's journal line into the open batch. */
  enqueue(op: WriteOp): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    this.dirty.add(op.collection);
    let batch = this.pending;
    if (!batch) {
      batch = newBatch();
      this.pending = batch;
      this.kick();
    }
    batch.lines.push(encodeJournalLine(op));
    return batch.promise;
  }

  /**
   * Waits for pending writes, then compacts (or flushes) and closes the journal.
   * @throws the first error met; the journal is closed either way
   */
  async close(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    while (this.draining) await this.draining;
    let error: unknown;
    if (!this.failed) {
      try {
        if (this.journalBytes > 0 || this.dirty.size > 0) await this.compact();
        else if (this.unsynced) await this.journal.datasync();
      } catch (e) {
        error = e;
      }
    }
    await this.journal.close().catch((e: unknown) => {
      error ??= e;
    });
    if (error !== undefined) throw error;
  }

  private kick(): void {
    this.draining ??= this.drain();
  }

  /** The single writer: appends batches (group commit), compacts, runs interval fsyncs. */
  private async drain(): Promise<void> {
    // Let the current synchronous burst of writes join the first batch.
    await null;
    while (!this.failed && (this.pending !== undefined || this.syncRequested)) {
      const batch = this.pending;
      try {
        if (batch) {
          this.pending = undefined;
          if (this.journalBytes >= Math.max(this.thresholdBytes, this.totalSnapshotBytes())) {
            // The snapshot is taken from memory, which already holds this batch.
            await this.compact();
          } else {
            await this.append(batch.lines);
          }
          batch.resolve();
        } else {
          this.syncRequested = false;
          if (this.unsynced) {
            this.unsynced = false;
            await this.journal.datasync();
          }
        }
      } catch (e) {
        this.fail(e, batch);
      }
    }
    this.draining = undefined;
  }

  private totalSnapshotBytes(): number {
    let total = 0;
    for (const n of this.snapshotBytes.values()) total += n;
    return total;
  }

  private async append(lines: readonly string[]): Promise<void> {
    const data = Buffer.from(lines.length === 1 ? lines[0]! : lines.join(''));
    if (this.durability === 'fsync') {
      await writeAll(this.journal, data);
      this.journalBytes += data.length;
      await this.journal.datasync();
    } else {
      // A write into the page cache takes microseconds; doing it synchronously saves the
      // thread-pool round trip, which is most of the cost of a small batch.
      for (let offset = 0; offset < data.length; ) {
        offset += writeSync(this.journal.fd, data, offset, data.length - offset);
      }
      this.journalBytes += data.length;
      this.unsynced = true;
    }
  }

  /**
   * Writes the changed collections of a new generation, then commits it by replacing the
   * manifest atomically. Until that rename, the previous generation's files are intact.
   */
  private async compact(): Promise<void> {
    // Capture synchronously: documents are frozen, so these arrays are a consistent
    // point-in-time view that includes every write queued so far.
    const generation = this.manifest.generation + 1;
    const captured: [string, StoredDocument[]][] = [];
    for (const name of this.dirty) {
      captured.push([name, Array.from(this.collections.get(name)?.values() ?? [])]);
    }
    this.dirty.clear();
    const collections: Record<string, string> = { ...this.manifest.collections };
    const sizes = await this.writeSnapshots(generation, captured, collections);
    const next: Manifest = { generation, journal: journalFileName(generation), collections };
    const journal = await this.commit(next);
    await this.switchTo(next, journal, sizes);
  }

  /** Writes the snapshot files of a generation, updating `collections` (name → file). */
  private async writeSnapshots(
    generation: number,
    captured: [string, StoredDocument[]][],
    collections: Record<string, string>,
  ): Promise<Map<string, number | undefined>> {
    const sizes = new Map<string, number | undefined>();
    for (const [name, docs] of captured) {
      if (docs.length === 0) {
        delete collections[name];
        sizes.set(name, undefined);
        continue;
      }
      const file = snapshotFileName(name, generation);
      sizes.set(
        name,
        await writeFileDurably(join(this.dir, file), encodeSnapshot(name, generation, docs)),
      );
      collections[name] = file;
    }
    return sizes;
  }

  /** Creates the new generation's empty journal and commits the manifest naming it. */
  private async commit(next: Manifest): Promise<FileHandle> {
    const journal = await open(join(this.dir, next.journal), 'a');
    try {
      await journal.truncate(0);
      await journal.sync();
      await syncDir(this.dir);
      await replaceFileAtomically(this.dir, MANIFEST, encodeManifest(next));
    } catch (e) {
      await journal.close().catch(() => undefined);
      throw e;
    }
    return journal;
  }

  /** Committed: switch to the new journal; old files are garbage (also removed on open). */
  private async switchTo(
    next: Manifest,
    journal: FileHandle,
    sizes: Map<string, number | undefined>,
  ): Promise<void> {
    const previous = this.manifest;
    const oldJournal = this.journal;
    this.manifest = next;
    this.journal = journal;
    this.journalBytes = 0;
    this.unsynced = false;
    for (const [name, size] of sizes) {
      if (size === undefined) this.snapshotBytes.delete(name);
      else this.snapshotBytes.set(name, size);
    }
    await oldJournal.close().catch(() => undefined);
    const live = new Set(Object.values(next.collections));
    for (const file of [previous.journal, ...Object.values(previous.collections)]) {
      if (!live.has(file)) await unlink(join(this.dir, file)).catch(() => undefined);
    }
  }

  /** A disk write failed: fail the affected writes and refuse everything from now on. */
  private fail(cause: unknown, batch: Batch | undefined): void {
    const reason = errorMessage(cause);
    this.failed ??= new StorageClosedError(
      `JsonFileStorage at ${this.dir} stopped after a disk write failed (${reason}); the last writes may not be on disk. Close it, fix the disk problem and open the directory again`,
      { cause },
    );
    batch?.reject(this.failed);
    this.pending?.reject(this.failed);
    this.pending = undefined;
  }
}
