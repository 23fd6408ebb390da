/**
 * Opening a `JsonFileStorage` directory: {@link load} reads and checks every file
 * without writing (so a corrupt store stays untouched), in steps: the manifest, the
 * collection snapshots, then the journal replayed over them; {@link recover} then
 * repairs what a crash left behind and opens the journal for appending. Not part of the
 * public API.
 *
 * @internal
 * @module
 */
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageCorruptError } from '../../errors.js';
import type { WriteOp } from '../document-store/collection.js';
import type { StoredDocument } from '../types.js';
import { readIfExists, replaceFileAtomically, syncDir, truncateDurably, writeAll } from './disk.js';
import {
  decodeJournalLine,
  decodeManifest,
  decodeSnapshot,
  encodeManifest,
  FormatError,
  JOURNAL_FILE,
  journalFileName,
  MANIFEST,
  type Manifest,
  SNAPSHOT_FILE,
} from './json-file-format.js';

const STALE_TEMP_MS = 10_000;

/** Documents by id, by collection name. */
export type DocumentsByCollection = Map<string, Map<string, StoredDocument>>;

/** What {@link load} read from disk; nothing has been written yet. */
export interface LoadedStore {
  /** The current generation. */
  manifest: Manifest;
  /** No manifest yet: a new store. */
  fresh: boolean;
  /** Every document, snapshots with the journal applied. */
  docs: DocumentsByCollection;
  /** Size of each collection's snapshot file. */
  snapshotBytes: Map<string, number>;
  /** Size of the journal, once a torn last line is cut. */
  journalBytes: number;
  /** Byte length to cut the journal to, when its last line is torn. */
  truncateTo: number | undefined;
  /** The last journal entry is complete but lacks its newline (e.g. an editor removed it). */
  needsNewline: boolean;
  /** Collections the journal changed: the next compaction must rewrite them. */
  journaled: Set<string>;
  /** The directory's file names. */
  entries: string[];
}

function corrupt(file: string, e: unknown): unknown {
  return e instanceof FormatError ? new StorageCorruptError(file, e.message, e.position) : e;
}

/** Reads and checks the whole store. Writes nothing, so a corrupt store stays untouched. */
export async function load(dir: string, entries: string[]): Promise<LoadedStore> {
  const { manifest, fresh } = await readManifest(dir, entries);
  const { docs, snapshotBytes } = await readSnapshots(dir, manifest);
  const journalPath = join(dir, manifest.journal);
  const journal = await readIfExists(journalPath);
  if (journal === undefined && manifest.generation > 0) {
    throw new StorageCorruptError(join(dir, MANIFEST), `journal ${manifest.journal} is missing`);
  }
  const buf = journal ?? Buffer.alloc(0);
  const replayed = replayJournal(buf, journalPath, docs);
  return {
    manifest,
    fresh,
    docs,
    snapshotBytes,
    journalBytes: replayed.truncateTo ?? buf.length,
    ...replayed,
    entries,
  };
}

/** Step 1: the manifest, or a fresh one for an empty directory. */
async function readManifest(
  dir: string,
  entries: string[],
): Promise<{ manifest: Manifest; fresh: boolean }> {
  const manifestPath = join(dir, MANIFEST);
  const manifestBuf = await readIfExists(manifestPath);
  if (manifestBuf === undefined) {
    const firstJournal = journalFileName(0);
    // An empty first journal without a manifest is an earlier version's first open, killed
    // before it wrote the manifest: no write was ever acknowledged, so the store is new.
    const interrupted =
      entries.includes(firstJournal) && (await readIfExists(join(dir, firstJournal)))?.length === 0;
    const stray = entries.filter(
      (f) =>
        (SNAPSHOT_FILE.test(f) || JOURNAL_FILE.test(f)) && !(interrupted && f === firstJournal),
    );
    if (stray.length > 0) {
      throw new StorageCorruptError(
        manifestPath,
        `missing, but the directory holds store files (${stray.slice(0, 5).join(', ')})`,
      );
    }
    return {
      manifest: { generation: 0, journal: journalFileName(0), collections: {} },
      fresh: true,
    };
  }
  try {
    return { manifest: decodeManifest(manifestBuf.toString('utf8')), fresh: false };
  } catch (e) {
    throw corrupt(manifestPath, e);
  }
}

/** Step 2: the snapshot file of every collection the manifest names. */
async function readSnapshots(
  dir: string,
  manifest: Manifest,
): Promise<{ docs: DocumentsByCollection; snapshotBytes: Map<string, number> }> {
  const docs: DocumentsByCollection = new Map();
  const snapshotBytes = new Map<string, number>();
  for (const [name, file] of Object.entries(manifest.collections)) {
    const path = join(dir, file);
    const buf = await readIfExists(path);
    if (buf === undefined) {
      throw new StorageCorruptError(join(dir, MANIFEST), `collection file ${file} is missing`);
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
  return { docs, snapshotBytes };
}

/** Step 3: applies the journal's entries to `docs`, in order. */
function replayJournal(
  buf: Buffer,
  journalPath: string,
  docs: DocumentsByCollection,
): Pick<LoadedStore, 'truncateTo' | 'needsNewline' | 'journaled'> {
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
  const tail = buf.subarray(lastNewline + 1);
  if (tail.length === 0) return { truncateTo: undefined, needsNewline: false, journaled };
  const op = decodeTail(tail);
  if (!op) return { truncateTo: lastNewline + 1, needsNewline: false, journaled };
  apply(op);
  return { truncateTo: undefined, needsNewline: true, journaled };
}

/**
 * A last line without its newline is the write a crash interrupted: it was never
 * acknowledged, so it is dropped, unless it is complete and its checksum matches.
 */
function decodeTail(tail: Buffer): WriteOp | undefined {
  try {
    return decodeJournalLine(tail.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Repairs what a crash left (a torn journal line, leftover files, a missing newline),
 * writes the manifest of a fresh store, and opens the journal for appending (creating it
 * when a crash came between a new store's manifest and its journal).
 */
export async function recover(dir: string, loaded: LoadedStore): Promise<FileHandle> {
  const journalPath = join(dir, loaded.manifest.journal);
  if (loaded.truncateTo !== undefined) await truncateDurably(journalPath, loaded.truncateTo);
  await removeLeftovers(dir, loaded.manifest, loaded.entries);
  // A new store commits its manifest first: a kill before the rename leaves only temp
  // files (removed on the next open), a kill after it a generation-0 store whose journal
  // is created below. Never a journal without a manifest, which would read as corrupt.
  if (loaded.fresh) await replaceFileAtomically(dir, MANIFEST, encodeManifest(loaded.manifest));
  const created = !loaded.entries.includes(loaded.manifest.journal);
  const journal = await open(journalPath, 'a');
  try {
    if (loaded.needsNewline) {
      await writeAll(journal, Buffer.from('\n'));
      loaded.journalBytes += 1;
    }
    await journal.sync();
    if (created) await syncDir(dir);
  } catch (e) {
    await journal.close();
    throw e;
  }
  return journal;
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
