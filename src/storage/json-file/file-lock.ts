/**
 * An exclusive, crash-tolerant lock file for a storage directory. Not part of the public API.
 *
 * The lock is created complete or not at all: the holder's details are written to a
 * private temp file, which is then hard-linked to the lock name (`link` fails atomically
 * when the name exists). A lock whose holder is gone (dead pid on this host, a reboot
 * since, or the pid reused by a younger process) is stale and is taken over.
 *
 * @internal
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { StorageLockedError } from '../../errors.js';
import { asStorageError } from './disk.js';

/** What a lock file records about its holder. */
export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  readonly token: string;
  /** Linux boot id, so a lock from before a reboot is recognised as stale. */
  readonly bootId?: string;
  /** Linux process start time (clock ticks since boot), so a reused pid is recognised. */
  readonly processStart?: string;
}

/** A lock held by this process. */
export interface HeldLock {
  readonly path: string;
  readonly info: LockInfo;
}

function readLinuxFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces. */
function processStartOf(pid: number): string | undefined {
  const stat = readLinuxFile(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Describes the holder for error messages, e.g. `pid 1234 on host-a since 2026-…`. */
export function describeHolder(info: LockInfo): string {
  const self = info.pid === process.pid && info.host === hostname() ? ', this process' : '';
  return `pid ${info.pid} on ${info.host}${self} since ${info.since}`;
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (
      typeof v.pid === 'number' &&
      Number.isSafeInteger(v.pid) &&
      v.pid > 0 &&
      typeof v.host === 'string' &&
      typeof v.since === 'string' &&
      typeof v.token === 'string'
    ) {
      return v as LockInfo;
    }
  } catch {
    // fall through: an unreadable lock is reported, never taken over
  }
  return undefined;
}

/** True when the recorded holder certainly no longer runs. Locks of other hosts are never stale. */
function isStale(info: LockInfo): boolean {
  if (info.host !== hostname()) return false;
  const bootId = readLinuxFile('/proc/sys/kernel/random/boot_id');
  if (info.bootId !== undefined && bootId !== undefined && info.bootId !== bootId) return true;
  if (!isAlive(info.pid)) return true;
  if (info.processStart !== undefined) {
    const start = processStartOf(info.pid);
    if (start !== undefined && start !== info.processStart) return true;
  }
  return false;
}

/**
 * Takes the lock at `path`, recovering a stale one.
 * @throws StorageLockedError when a live process (or another host) holds it.
 */
export async function acquireLock(path: string, storePath: string): Promise<HeldLock> {
  const bootId = readLinuxFile('/proc/sys/kernel/random/boot_id');
  const processStart = processStartOf(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
    ...(bootId !== undefined ? { bootId } : {}),
    ...(processStart !== undefined ? { processStart } : {}),
  };
  const temp = `${path}.${info.token}.tmp`;
  await writeFile(temp, `${JSON.stringify(info, null, 2)}\n`, { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, path);
        return { path, info };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw asStorageError(e, path); // e.g. a directory named like the lock
      }
      const holder = parseLock(text);
      if (!holder) {
        throw new StorageLockedError(
          storePath,
          `an unknown holder (unreadable lock file ${path}; delete it if no process uses the store)`,
        );
      }
      if (!isStale(holder)) throw new StorageLockedError(storePath, describeHolder(holder));
      // Move the stale lock aside first, so two processes recovering it at once cannot
      // delete each other's fresh lock: only the one whose rename got the stale file wins.
      const aside = `${path}.${info.token}.stale.tmp`;
      try {
        await rename(path, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = await readFile(aside, 'utf8').catch(() => '');
      if (moved !== text) {
        // Someone else's fresh lock: put it back (or lose to whoever linked meanwhile).
        await link(aside, path).catch(() => undefined);
      }
      await unlink(aside).catch(() => undefined);
    }
    throw new StorageLockedError(storePath, 'another process that keeps re-taking the lock');
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Releases a lock taken by {@link acquireLock}, unless someone else has taken it over. */
export async function releaseLock(lock: HeldLock): Promise<void> {
  try {
    const current = parseLock(await readFile(lock.path, 'utf8'));
    if (current?.token === lock.info.token) await unlink(lock.path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
