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
import { isPlugboardError, StorageCorruptError, StorageUnavailableError } from '../../errors.js';
import { errorField, errorMessage } from '../../internal/error-message.js';

/** The `code` of a Node.js system error (`ENOENT`, …). */
export function errnoCode(e: unknown): string | undefined {
  const code = errorField(e, 'code');
  return typeof code === 'string' ? code : undefined;
}

/** What to do about a file system error, by `code`. */
const FIXES: Readonly<Record<string, string>> = {
  EROFS: 'the file system is read-only; open the store in a writable directory',
  EACCES: 'permission denied; give this process read and write access to the directory',
  EPERM: 'operation not permitted; give this process read and write access to the directory',
  ENOSPC: 'no space left on the device; free some space',
  EDQUOT: 'the disk quota is exceeded; free some space',
  ENOTDIR: 'a part of the path is a file, not a directory; choose another dir',
  EEXIST: 'a file is in the way of a directory; choose another dir',
  EMFILE: 'too many open files; raise the limit or close other files',
  ENFILE: 'too many open files on the system; raise the limit',
  EIO: 'an input/output error of the device; check the disk',
};

/**
 * A file system error met while opening a store, as the plugboard error it means, naming
 * the file (`fallback` when the error does not say which): a directory where a file
 * belongs is a {@link StorageCorruptError}; a read-only file system, a missing permission,
 * a full disk, … a {@link StorageUnavailableError}. Other values are returned unchanged.
 */
export function asStorageError(e: unknown, fallback: string): unknown {
  const code = errnoCode(e);
  if (code === undefined || isPlugboardError(e)) return e;
  const path = errorField(e, 'path');
  const file = typeof path === 'string' ? path : fallback;
  if (code === 'EISDIR') {
    return new StorageCorruptError(file, 'is a directory where the store keeps a file', undefined, {
      cause: e,
    });
  }
  const fix = FIXES[code] ?? errorMessage(e);
  return new StorageUnavailableError(`JsonFileStorage cannot use ${file} (${code}): ${fix}`, {
    cause: e,
  });
}

/** The file's content, or `undefined` when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    // Reading a directory fails in read(2), so the error does not name the path.
    throw asStorageError(e, path);
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
