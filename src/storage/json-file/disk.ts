/**
 * The file operations `JsonFileStorage` builds on: reads that tolerate a missing file,
 * complete and flushed writes, atomic replacement and directory syncs. Not part of the
 * public API.
 *
 * @internal
 * @module
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The `code` of a Node.js system error (`ENOENT`, …). */
export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** The file's content, or `undefined` when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Flushes a directory's entries (new, renamed, removed files) to disk. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes all of `data` at the handle's position, however many writes it takes. */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await fh.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** Writes a new file and flushes it; returns its size. */
export async function writeFileDurably(path: string, chunks: Iterable<string>): Promise<number> {
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

/** Cuts a file to `length` bytes and flushes it. */
export async function truncateDurably(path: string, length: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(length);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces `path` atomically: temp file, fsync, rename, fsync of the directory. */
export async function replaceFileAtomically(
  dir: string,
  name: string,
  text: string,
): Promise<void> {
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
