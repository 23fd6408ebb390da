/**
 * `JsonFileStorage`: a durable adapter that keeps a directory of human-readable JSON.
 * Import it from `plugboard/storage/json-file`, so the root entry never loads `node:fs`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { StorageClosedError, StorageCorruptError, ValidationError } from '../errors.js';
import { MemoryCollection, type WriteOp } from './document-store.js';
import { acquireLock, type HeldLock, releaseLock } from './file-lock.js';
import {
  decodeJournalLine,
  decodeManifest,
  decodeSnapshot,
  encodeJournalLine,
  encodeManifest,
  encodeSnapshot,
  FormatError,
  JOURNAL_FILE,
  journalFileName,
  LOCK,
  MANIFEST,
  type Manifest,
  SNAPSHOT_FILE,
  snapshotFileName,
} from './json-file-format.js';
import { assertCollectionName } from './memory.js';
import type {
  Collection,
  CollectionOptions,
  StorageAdapter,
  StorageCapabilities,
  StoredDocument,
} from './types.js';

/**
 * When a write's promise resolves:
 * - `'fsync'`: after its journal append was flushed to the disk with `fdatasync`. A
 *   resolved write survives a process kill, an OS crash and a power loss.
 * - `'batched'`: after its journal append was handed to the operating system. A resolved
 *   write survives a process kill (`kill -9`, an uncaught exception); an OS crash or power
 *   loss may lose the writes of the last `fsyncIntervalMs`, but never leaves a corrupt store.
 */
export type Durability = 'fsync' | 'batched';

/** Options of {@link JsonFileStorage.open}. */
export interface JsonFileStorageOptions {
  /** Directory of the store; created when missing. It belongs to the storage: keep other files out. */
  readonly dir: string;
  /** Default `'fsync'`. See {@link Durability} for the trade-off. */
  readonly durability?: Durability;
  /** With `durability: 'batched'`, how often the journal is flushed to disk; default 1,000 ms. */
  readonly fsyncIntervalMs?: number;
  /**
   * The journal is compacted into the collection files once it is larger than this and
   * larger than the collection files themselves; default 8 MiB.
   */
  readonly compactionThresholdBytes?: number;
}

const DEFAULT_THRESHOLD = 8 * 1024 * 1024;
const STALE_TEMP_MS = 10_000;

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

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** Writes a new file and flushes it; returns its size. */
async function writeFileDurably(path: string, chunks: Iterable<string>): Promise<number> {
  const fh = await open(path, 'w');
  let size = 0;
  try {
    for (const chunk of chunks) {
      const buf = Buffer.from(chunk);
      await writeAll(fh, buf);
      size += buf.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return size;
}

function corrupt(file: string, e: unknown): unknown {
  return e instanceof FormatError ? new StorageCorruptError(file, e.message, e.position) : e;
}

/** What {@link load} read from disk; nothing has been written yet. */
interface LoadedStore {
  manifest: Manifest;
  fresh: boolean;
  docs: Map<string, Map<string, StoredDocument>>;
  snapshotBytes: Map<string, number>;
  journalBytes: number;
  /** Byte length to cut the journal to, when its last line is torn. */
  truncateTo: number | undefined;
  /** The last journal entry is complete but lacks its newline (e.g. an editor removed it). */
  needsNewline: boolean;
  /** Collections the journal changed: the next compaction must rewrite them. */
  journaled: Set<string>;
  entries: string[];
}

/** Reads and checks the whole store. Writes nothing, so a corrupt store stays untouched. */
async function load(dir: string, entries: string[]): Promise<LoadedStore> {
  const manifestPath = join(dir, MANIFEST);
  const manifestBuf = await readIfExists(manifestPath);
  let manifest: Manifest;
  let fresh = false;
  if (manifestBuf === undefined) {
    const stray = entries.filter((f) => SNAPSHOT_FILE.test(f) || JOURNAL_FILE.test(f));
    if (stray.length > 0) {
      throw new StorageCorruptError(
        manifestPath,
        `missing, but the directory holds store files (${stray.slice(0, 5).join(', ')})`,
      );
    }
    manifest = { generation: 0, journal: journalFileName(0), collections: {} };
    fresh = true;
  } else {
    try {
      manifest = decodeManifest(manifestBuf.toString('utf8'));
    } catch (e) {
      throw corrupt(manifestPath, e);
    }
  }

  const docs = new Map<string, Map<string, StoredDocument>>();
  const snapshotBytes = new Map<string, number>();
  for (const [name, file] of Object.entries(manifest.collections)) {
    const path = join(dir, file);
    const buf = await readIfExists(path);
    if (buf === undefined) {
      throw new StorageCorruptError(manifestPath, `collection file ${file} is missing`);
    }
    let list: StoredDocument[];
    try {
      list = decodeSnapshot(buf.toString('utf8'), name);
    } catch (e) {
      throw corrupt(path, e);
    }
    docs.set(name, new Map(list.map((d) => [d.id, d])));
    snapshotBytes.set(name, buf.length);
  }

  const journalPath = join(dir, manifest.journal);
  const journal = await readIfExists(journalPath);
  if (journal === undefined && manifest.generation > 0) {
    throw new StorageCorruptError(manifestPath, `journal ${manifest.journal} is missing`);
  }
  const buf = journal ?? Buffer.alloc(0);
  const journaled = new Set<string>();
  const apply = (op: WriteOp): void => {
    journaled.add(op.collection);
    let col = docs.get(op.collection);
    if (!col) {
      col = new Map();
      docs.set(op.collection, col);
    }
    if (op.type === 'put') col.set(op.doc.id, op.doc);
    else col.delete(op.id);
  };
  const lastNewline = buf.lastIndexOf(0x0a);
  const lines = buf
    .subarray(0, lastNewline + 1)
    .toString('utf8')
    .split('\n');
  lines.pop(); // the empty string after the final newline
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!;
    if (line.trim() === '') continue;
    try {
      apply(decodeJournalLine(line));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      const column = /column (\d+)/.exec(e.position ?? '')?.[1] ?? '1';
      throw new StorageCorruptError(journalPath, e.message, `line ${k + 1}, column ${column}`);
    }
  }
  // A last line without its newline is the write a crash interrupted: it was never
  // acknowledged, so it is dropped, unless it is complete and its checksum matches.
  let truncateTo: number | undefined;
  let needsNewline = false;
  const tail = buf.subarray(lastNewline + 1);
  if (tail.length > 0) {
    let op: WriteOp | undefined;
    try {
      op = decodeJournalLine(tail.toString('utf8'));
    } catch {
      op = undefined;
    }
    if (op) {
      apply(op);
      needsNewline = true;
    } else {
      truncateTo = lastNewline + 1;
    }
  }
  return {
    manifest,
    fresh,
    docs,
    snapshotBytes,
    journalBytes: truncateTo ?? buf.length,
    truncateTo,
    needsNewline,
    journaled,
    entries,
  };
}

/** Removes what a crash can leave behind: temp files and files of other generations. */
async function removeLeftovers(dir: string, manifest: Manifest, entries: string[]): Promise<void> {
  const keep = new Set([manifest.journal, ...Object.values(manifest.collections)]);
  const now = Date.now();
  for (const name of entries) {
    let remove = false;
    if (/^manifest\.json\.[0-9a-f]+\.tmp$/.test(name)) remove = true;
    else if (SNAPSHOT_FILE.test(name) || JOURNAL_FILE.test(name)) remove = !keep.has(name);
    else if (/^plugboard\.lock\.[0-9a-f]+(\.stale)?\.tmp$/.test(name)) {
      // Another process may be trying to take the lock right now; only remove old ones.
      const s = await stat(join(dir, name)).catch(() => undefined);
      remove = s !== undefined && now - s.mtimeMs > STALE_TEMP_MS;
    }
    if (remove) await unlink(join(dir, name)).catch(() => undefined);
  }
}

/** Replaces `path` atomically: temp file, fsync, rename, fsync of the directory. */
async function replaceFileAtomically(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFileDurably(temp, [text]);
    await rename(temp, join(dir, name));
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

/**
 * A durable storage adapter that keeps a directory of human-readable JSON files: one
 * file per collection plus an append-only journal of recent writes. Everything is also
 * held in memory (with the same secondary indexes as `MemoryStorage`), so
 * reads never touch the disk; the store must fit in memory.
 *
 * Guarantees: a write whose promise resolved survives a process kill (and, with
 * `durability: 'fsync'`, a power loss); a crash at any moment leaves a store that opens
 * with every acknowledged write; concurrent writes share one journal append (group
 * commit); only one `JsonFileStorage` (in any process) uses a directory at a time; a
 * corrupt file is reported with {@link StorageCorruptError} and never overwritten.
 * After a failed disk write every operation throws {@link StorageClosedError}.
 *
 * @example
 * ```ts
 * import { JsonFileStorage } from 'plugboard/storage/json-file';
 *
 * await using storage = await JsonFileStorage.open({ dir: './data', durability: 'batched' });
 * const users = storage.collection<{ id: string; revision: number; team: string }>('users', {
 *   indexes: ['team'],
 * });
 * await users.insert({ id: 'u1', team: 'blue' });
 * const { items } = await users.find({ where: { team: 'blue' } });
 * ```
 */
export class JsonFileStorage implements StorageAdapter {
  /** Durable (resolved writes survive a process crash); no multi-document transactions; one process at a time. */
  readonly capabilities: StorageCapabilities = Object.freeze({
    durable: true,
    transactions: false,
    multiProcess: false,
    arrayIndexes: true,
  });
  /** Absolute path of the store's directory. */
  readonly dir: string;
  /** The durability mode this store was opened with. */
  readonly durability: Durability;

  private readonly collections = new Map<string, MemoryCollection<StoredDocument>>();
  private readonly lock: HeldLock;
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
  private closed = false;
  private closing: Promise<void> | undefined;
  private failure: StorageClosedError | undefined;

  private readonly assertOpen = (): void => {
    if (this.failure) throw this.failure;
    if (this.closed) throw new StorageClosedError(`JsonFileStorage at ${this.dir} is closed`);
  };

  private readonly hooks = {
    assertOpen: this.assertOpen,
    onWrite: (op: WriteOp): Promise<void> => this.enqueue(op),
  };

  private constructor(
    dir: string,
    options: JsonFileStorageOptions,
    lock: HeldLock,
    journal: FileHandle,
    loaded: LoadedStore,
  ) {
    this.dir = dir;
    this.durability = options.durability ?? 'fsync';
    this.thresholdBytes = options.compactionThresholdBytes ?? DEFAULT_THRESHOLD;
    this.lock = lock;
    this.journal = journal;
    this.manifest = loaded.manifest;
    this.journalBytes = loaded.journalBytes;
    this.snapshotBytes = loaded.snapshotBytes;
    for (const name of loaded.journaled) this.dirty.add(name);
    for (const [name, docs] of loaded.docs) {
      const col = new MemoryCollection<StoredDocument>(name, this.hooks);
      for (const doc of docs.values()) col.load(doc);
      this.collections.set(name, col);
    }
    if (this.durability === 'batched') {
      this.syncTimer = setInterval(() => {
        this.syncRequested = true;
        this.kick();
      }, options.fsyncIntervalMs ?? 1000);
      this.syncTimer.unref();
    }
  }

  /**
   * Opens (or creates) the store in `options.dir`, taking its lock and recovering from
   * an earlier crash (a torn last journal line is dropped, leftover temp files removed).
   *
   * @throws StorageLockedError when another live `JsonFileStorage` (in this or another
   *   process) has the directory open; the error names the holder (pid, host).
   * @throws StorageCorruptError when a file cannot be read back (file and line/column in
   *   the error); nothing is changed on disk.
   * @throws ValidationError for invalid options.
   */
  static async open(options: JsonFileStorageOptions): Promise<JsonFileStorage> {
    checkOptions(options);
    const dir = resolve(options.dir);
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined) {
      // Make the new directories' entries durable too, up to the first one that existed.
      for (let d = dir; d !== dirname(created); d = dirname(d)) await syncDir(dirname(d));
    }
    const lock = await acquireLock(join(dir, LOCK), dir);
    try {
      const loaded = await load(dir, await readdir(dir));
      const journalPath = join(dir, loaded.manifest.journal);
      if (loaded.truncateTo !== undefined) {
        const fh = await open(journalPath, 'r+');
        try {
          await fh.truncate(loaded.truncateTo);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      await removeLeftovers(dir, loaded.manifest, loaded.entries);
      const journal = await open(journalPath, 'a');
      try {
        if (loaded.needsNewline) {
          await writeAll(journal, Buffer.from('\n'));
          loaded.journalBytes += 1;
        }
        await journal.sync();
        if (loaded.fresh) {
          await syncDir(dir);
          await replaceFileAtomically(dir, MANIFEST, encodeManifest(loaded.manifest));
        }
      } catch (e) {
        await journal.close();
        throw e;
      }
      return new JsonFileStorage(dir, options, lock, journal, loaded);
    } catch (e) {
      await releaseLock(lock).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Opens (or creates) a named collection; declaring it again with more indexes adds them.
   * @throws ValidationError for an invalid name; StorageClosedError after close.
   */
  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
    this.assertOpen();
    assertCollectionName(name);
    let col = this.collections.get(name);
    if (!col) {
      col = new MemoryCollection(name, this.hooks, options);
      this.collections.set(name, col);
    } else if (options) {
      col.declare(options);
    }
    return col as unknown as Collection<T>;
  }

  /**
   * Waits for pending writes, compacts the journal into the collection files, flushes
   * and releases the lock. Idempotent; afterwards every operation throws
   * {@link StorageClosedError}.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as {@link JsonFileStorage.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    while (this.draining) await this.draining;
    let error: unknown;
    if (!this.failure) {
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
    await releaseLock(this.lock).catch((e: unknown) => {
      error ??= e;
    });
    if (error !== undefined) {
      throw new StorageClosedError(
        `JsonFileStorage at ${this.dir} could not flush on close (${(error as Error).message}); the journal still holds the writes and is replayed on the next open`,
        { cause: error },
      );
    }
  }

  /** The persistence hook: queue the op's journal line into the open batch. */
  private enqueue(op: WriteOp): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
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

  private kick(): void {
    this.draining ??= this.drain();
  }

  /** The single writer: appends batches (group commit), compacts, runs interval fsyncs. */
  private async drain(): Promise<void> {
    // Let the current synchronous burst of writes join the first batch.
    await null;
    while (!this.failure && (this.pending !== undefined || this.syncRequested)) {
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
    const journalName = journalFileName(generation);
    const journal = await open(join(this.dir, journalName), 'a');
    const next: Manifest = { generation, journal: journalName, collections };
    try {
      await journal.truncate(0);
      await journal.sync();
      await syncDir(this.dir);
      await replaceFileAtomically(this.dir, MANIFEST, encodeManifest(next));
    } catch (e) {
      await journal.close().catch(() => undefined);
      throw e;
    }
    // Committed. Switch to the new journal; old files are garbage (also removed on open).
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
    const live = new Set(Object.values(collections));
    for (const file of [previous.journal, ...Object.values(previous.collections)]) {
      if (!live.has(file)) await unlink(join(this.dir, file)).catch(() => undefined);
    }
  }

  /** A disk write failed: fail the affected writes and refuse everything from now on. */
  private fail(cause: unknown, batch: Batch | undefined): void {
    const reason = cause instanceof Error ? cause.message : String(cause);
    this.failure ??= new StorageClosedError(
      `JsonFileStorage at ${this.dir} stopped after a disk write failed (${reason}); the last writes may not be on disk. Close it, fix the disk problem and open the directory again`,
      { cause },
    );
    batch?.reject(this.failure);
    this.pending?.reject(this.failure);
    this.pending = undefined;
  }
}

function checkOptions(options: JsonFileStorageOptions): void {
  const issues: { path: string; message: string }[] = [];
  if (options === null || typeof options !== 'object') {
    throw new ValidationError(
      [{ path: '', message: 'options must be an object' }],
      'JsonFileStorage.open',
    );
  }
  if (typeof options.dir !== 'string' || options.dir.length === 0) {
    issues.push({ path: 'dir', message: 'must be a non-empty string' });
  }
  if (
    options.durability !== undefined &&
    options.durability !== 'fsync' &&
    options.durability !== 'batched'
  ) {
    issues.push({ path: 'durability', message: "must be 'fsync' or 'batched'" });
  }
  for (const key of ['fsyncIntervalMs', 'compactionThresholdBytes'] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      issues.push({ path: key, message: 'must be a positive integer' });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues, 'JsonFileStorage.open');
}
