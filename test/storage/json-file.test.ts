import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsPromises } from 'node:fs';
import {
  appendFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isPlugboardError, type StorageAdapter, type StoredDocument } from '../../src/index.js';
import { type Durability, JsonFileStorage } from '../../src/storage/json-file/index.js';
import { runStorageAdapterSuite } from '../../src/testing/index.js';
import { compileJsonFileEntry } from './fixtures/compile-source.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plugboard-json-file-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

for (const durability of ['batched', 'fsync'] as const) {
  runStorageAdapterSuite(
    { describe, it, expect },
    async () => JsonFileStorage.open({ dir: await tempDir(), durability }),
    {
      name: `JsonFileStorage (${durability}) conformance`,
      reopen: async (previous: StorageAdapter) => {
        await previous.close();
        return JsonFileStorage.open({ dir: (previous as JsonFileStorage).dir, durability });
      },
    },
  );
}

interface Doc extends StoredDocument {
  n: number;
  team?: string;
  pad?: string;
}

async function errorOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (e) {
    return e as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

/** Every file of a directory with a hash of its bytes. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    out[name] = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
  }
  return out;
}

async function manifestOf(dir: string): Promise<{
  generation: number;
  journal: string;
  collections: Record<string, string>;
}> {
  return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
}

/** A store with a few documents, closed (so everything is in the collection files). */
async function closedStore(count = 3): Promise<string> {
  const dir = await tempDir();
  const s = await JsonFileStorage.open({ dir });
  const col = s.collection<Doc>('items');
  for (let i = 0; i < count; i++) await col.insert({ id: `d${i}`, n: i });
  await s.close();
  return dir;
}

/** The FileHandle prototype, to inject disk failures without a test hook in the source. */
async function fileHandleProto(dir: string): Promise<{
  write: (...args: unknown[]) => Promise<unknown>;
  datasync: () => Promise<void>;
  sync: () => Promise<void>;
}> {
  const fh = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(fh);
  await fh.close();
  await rm(join(dir, 'probe'));
  return proto;
}

describe('JsonFileStorage', () => {
  let entry: string;
  beforeAll(async () => {
    entry = await compileJsonFileEntry(await tempDir());
  });

  describe('files on disk', () => {
    it('keeps human-readable JSON: a manifest, one file per collection, a journal', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      const col = s.collection<Doc>('items');
      await col.insert({ id: 'a', n: 1, team: 'blue' });
      const journal = await readFile(join(dir, 'journal.0.ndjson'), 'utf8');
      expect(journal).toMatch(
        /^\{"op":"put","collection":"items","doc":\{"id":"a","n":1,"team":"blue","revision":1\},"crc":"[0-9a-f]{8}"\}\n$/,
      );
      await s.close();
      const manifest = await manifestOf(dir);
      expect(manifest).toMatchObject({ generation: 1, collections: { items: 'items.1.json' } });
      const file = JSON.parse(await readFile(join(dir, 'items.1.json'), 'utf8'));
      expect(file.documents).toEqual([{ id: 'a', n: 1, team: 'blue', revision: 1 }]);
      expect((await readdir(dir)).sort()).toEqual([
        'items.1.json',
        'journal.1.ndjson',
        'manifest.json',
      ]);
      expect(await readFile(join(dir, 'journal.1.ndjson'), 'utf8')).toBe('');
    });

    it('rejects invalid options with VALIDATION_FAILED', async () => {
      const dir = await tempDir();
      const bad = await errorOf(
        JsonFileStorage.open({ dir, durability: 'sometimes' as unknown as Durability }),
      );
      expect(bad['code']).toBe('VALIDATION_FAILED');
      expect(String(bad['message'])).toContain('durability');
      expect((await errorOf(JsonFileStorage.open({ dir: '' })))['code']).toBe('VALIDATION_FAILED');
    });

    it('close is idempotent, works with await using, and declares durable capabilities', async () => {
      const dir = await tempDir();
      {
        await using s = await JsonFileStorage.open({ dir, durability: 'batched' });
        expect(s.capabilities.durable).toBe(true);
        await s.collection<Doc>('c').insert({ id: 'x', n: 1 });
      }
      const s = await JsonFileStorage.open({ dir });
      const col = s.collection<Doc>('c');
      expect((await col.get('x'))?.n).toBe(1);
      await Promise.all([s.close(), s.close()]);
      await s.close();
      expect((await errorOf(col.get('x')))['code']).toBe('STORAGE_CLOSED');
      expect(() => s.collection('c')).toThrow(/closed/);
    });
  });

  describe('write cost', () => {
    it('coalesces concurrent writes into one journal append and one fsync (group commit)', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir, durability: 'fsync' });
      const col = s.collection<Doc>('items');
      await col.insert({ id: 'warm', n: 0 });
      const proto = await fileHandleProto(dir);
      const write = vi.spyOn(proto, 'write');
      const datasync = vi.spyOn(proto, 'datasync');
      try {
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) => col.insert({ id: `c${i}`, n: i })),
        );
        expect(write.mock.calls.length).toBeLessThanOrEqual(2);
        expect(datasync.mock.calls.length).toBeLessThanOrEqual(2);
      } finally {
        write.mockRestore();
        datasync.mockRestore();
      }
      expect(await col.count()).toBe(1001);
      await s.close();
    });

    it('10,000 inserts append to the journal and compact rarely, never rewriting a file per write', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir, durability: 'batched' });
      const col = s.collection<Doc>('items');
      const pad = 'p'.repeat(1000);
      for (let i = 0; i < 10_000; i++) await col.insert({ id: `i${i}`, n: i, pad });
      // About 10 MB of journal: one compaction at the 8 MiB threshold, at most.
      expect((await manifestOf(dir)).generation).toBeLessThanOrEqual(1);
      await s.close();
      expect((await manifestOf(dir)).generation).toBeLessThanOrEqual(2);
      const again = await JsonFileStorage.open({ dir });
      expect(await again.collection<Doc>('items').count()).toBe(10_000);
      await again.close();
    });

    it('compacts once the journal passes the threshold and keeps every document', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir, compactionThresholdBytes: 4096 });
      const a = s.collection<Doc>('a');
      const b = s.collection<Doc>('b');
      for (let i = 0; i < 200; i++) {
        await a.insert({ id: `a${i}`, n: i });
        if (i % 10 === 0) await b.insert({ id: `b${i}`, n: i });
        if (i % 3 === 0) await a.update(`a${i}`, { n: -i });
        if (i % 7 === 0) await a.delete(`a${i}`);
      }
      const gen = (await manifestOf(dir)).generation;
      expect(gen).toBeGreaterThan(2);
      // Only the current generation's files remain.
      const files = (await readdir(dir)).filter((f) => f !== 'plugboard.lock').sort();
      const m = await manifestOf(dir);
      expect(files).toEqual([m.journal, 'manifest.json', ...Object.values(m.collections)].sort());
      await s.close();
      const again = await JsonFileStorage.open({ dir });
      const a2 = again.collection<Doc>('a');
      expect(await a2.count()).toBe(200 - Math.ceil(200 / 7));
      expect((await a2.get('a3'))?.n).toBe(-3);
      expect((await a2.get('a3'))?.revision).toBe(2);
      expect(await again.collection<Doc>('b').count()).toBe(20);
      await again.close();
    });

    it('batched mode flushes the journal to disk on its interval', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir, durability: 'batched', fsyncIntervalMs: 10 });
      const proto = await fileHandleProto(dir);
      const datasync = vi.spyOn(proto, 'datasync');
      try {
        await s.collection<Doc>('c').insert({ id: 'x', n: 1 });
        expect(datasync).not.toHaveBeenCalled();
        await new Promise((r) => setTimeout(r, 80));
        expect(datasync).toHaveBeenCalled();
      } finally {
        datasync.mockRestore();
      }
      await s.close();
    });
  });

  describe('crash safety', () => {
    it('every acknowledged write survives kill -9 at random moments (55 kills)', async () => {
      const dir = await tempDir();
      const reports = await tempDir();
      const acked = new Set<string>();
      const deleted = new Set<string>();
      const deleting = new Set<string>();
      let counterRevision = 0;
      let killsWhileWriting = 0;
      const kills = 55;
      for (let run = 0; run < kills; run++) {
        const durability = run % 3 === 2 ? 'fsync' : 'batched';
        const reportFile = join(reports, `run-${run}.txt`);
        const child = spawn(
          process.execPath,
          [join(fixtures, 'writer-child.mjs'), entry, dir, durability, String(run), reportFile],
          { stdio: 'inherit' },
        );
        const closed = new Promise<void>((r) => child.on('close', () => r()));
        // Most kills land while the child writes; some during its start and recovery.
        if (run % 6 === 5) await sleep(Math.random() * 120);
        else {
          await Promise.race([waitForFile(reportFile), closed]);
          await sleep(5 + Math.random() * 100);
        }
        child.kill('SIGKILL');
        await closed;
        expect(child.signalCode).toBe('SIGKILL');
        const out = await readFile(reportFile, 'utf8').catch(() => '');
        if (out.includes('\nput ')) killsWhileWriting++;
        for (const line of out.split('\n').slice(0, -1)) {
          const [kind, value] = line.split(' ') as [string, string];
          if (kind === 'put') acked.add(value);
          else if (kind === 'del') deleted.add(value);
          else if (kind === 'deleting') deleting.add(value);
          else if (kind === 'counter') counterRevision = Math.max(counterRevision, Number(value));
        }

        // No file is corrupt: the store opens (a torn journal tail is dropped) ...
        const s = await JsonFileStorage.open({ dir });
        const docs = s.collection<Doc>('docs');
        for (const id of acked) {
          if (!deleting.has(id)) expect(await docs.get(id), `acknowledged ${id}`).toBeDefined();
        }
        for (const id of deleted) expect(await docs.get(id), `deleted ${id}`).toBeUndefined();
        const counter = await s.collection<Doc>('counters').get('c');
        expect(counter?.revision ?? 0).toBeGreaterThanOrEqual(counterRevision);
        if (counter) expect(counter.n).toBe(counter.revision);
        counterRevision = counter?.revision ?? 0;
        // ... and every JSON file parses on its own.
        const m = await manifestOf(dir);
        for (const file of Object.values(m.collections)) {
          JSON.parse(await readFile(join(dir, file), 'utf8'));
        }
        // Every other run is closed by the parent (compacting); the others are reopened
        // by the next child straight from the crashed state.
        if (run % 2 === 0) await s.close();
        else await releaseWithoutCompacting(s);
      }
      // Most kills must have hit a child that was writing (not only starting up).
      expect(killsWhileWriting).toBeGreaterThanOrEqual(30);
      expect(acked.size).toBeGreaterThan(200);
      expect(deleted.size).toBeGreaterThan(0);
    }, 120_000);

    it('a kill at any step of the very first open leaves a store that opens', async () => {
      for (const layout of ['missing directory', 'empty directory'] as const) {
        let killed = 0;
        for (let killAt = 1; killAt < 200; killAt++) {
          const parent = await tempDir();
          const dir = layout === 'missing directory' ? join(parent, 'new', 'store') : parent;
          const child = spawn(
            process.execPath,
            [join(fixtures, 'first-open-child.mjs'), entry, dir, String(killAt)],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          child.stdout?.on('data', (d: Buffer) => {
            out += d.toString();
          });
          await new Promise<void>((r) => child.on('close', () => r()));
          if (out.includes('opened')) break;
          expect(child.signalCode, `${layout}, kill at call ${killAt}`).toBe('SIGKILL');
          killed++;
          const s = await JsonFileStorage.open({ dir }).catch((e: unknown) => {
            throw new Error(`${layout}, killed at call ${killAt}: ${String(e)}`);
          });
          await s.collection<Doc>('items').insert({ id: 'a', n: 1 });
          await s.close();
          const again = await JsonFileStorage.open({ dir });
          expect((await again.collection<Doc>('items').get('a'))?.n).toBe(1);
          await again.close();
        }
        // Every file system call of the first open was a kill point, then one run finished.
        expect(killed, layout).toBeGreaterThanOrEqual(10);
        expect(killed, layout).toBeLessThan(199);
      }
    }, 120_000);

    it('opens a store left by an older version killed in its first open (an empty journal, no manifest)', async () => {
      const dir = await tempDir();
      await writeFile(join(dir, 'journal.0.ndjson'), '');
      const s = await JsonFileStorage.open({ dir });
      await s.collection<Doc>('items').insert({ id: 'a', n: 1 });
      await s.close();
      const again = await JsonFileStorage.open({ dir });
      expect(await again.collection<Doc>('items').count()).toBe(1);
      await again.close();
      // A journal with content but no manifest is still refused: those writes need a manifest.
      const other = await tempDir();
      await writeFile(join(other, 'journal.0.ndjson'), 'x\n');
      expect((await errorOf(JsonFileStorage.open({ dir: other })))['code']).toBe('STORAGE_CORRUPT');
    });

    it('drops a torn last journal line and keeps everything before it', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      await s.collection<Doc>('items').insert({ id: 'a', n: 1 });
      await s.collection<Doc>('items').insert({ id: 'b', n: 2 });
      await releaseWithoutCompacting(s);
      const journal = join(dir, 'journal.0.ndjson');
      const intact = await readFile(journal, 'utf8');
      await appendFile(journal, '{"op":"put","collection":"items","doc":{"id":"c","n":3,"rev');
      const again = await JsonFileStorage.open({ dir });
      const col = again.collection<Doc>('items');
      expect(await col.count()).toBe(2);
      expect(await col.get('c')).toBeUndefined();
      expect(await readFile(journal, 'utf8')).toBe(intact);
      await col.insert({ id: 'd', n: 4 });
      await releaseWithoutCompacting(again);
      const third = await JsonFileStorage.open({ dir });
      expect(await third.collection<Doc>('items').count()).toBe(3);
      await third.close();
    });

    it('keeps a complete last journal entry whose newline is missing', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      await s.collection<Doc>('items').insert({ id: 'a', n: 1 });
      await releaseWithoutCompacting(s);
      const journal = join(dir, 'journal.0.ndjson');
      await writeFile(journal, (await readFile(journal, 'utf8')).trimEnd());
      const again = await JsonFileStorage.open({ dir });
      await again.collection<Doc>('items').insert({ id: 'b', n: 2 });
      await releaseWithoutCompacting(again);
      const third = await JsonFileStorage.open({ dir });
      expect(await third.collection<Doc>('items').count()).toBe(2);
      await third.close();
    });

    it('removes temp files and files of other generations left by a crash', async () => {
      const dir = await closedStore();
      const m = await manifestOf(dir);
      const old = new Date(Date.now() - 60_000);
      await writeFile(join(dir, 'manifest.json.0a1b2c.tmp'), '{"format":');
      await writeFile(join(dir, `items.${m.generation + 1}.json`), '{"half');
      await writeFile(join(dir, `journal.${m.generation + 1}.ndjson`), '');
      await writeFile(join(dir, 'journal.0.ndjson'), 'old');
      await writeFile(join(dir, 'plugboard.lock.00ff00ff.tmp'), '{}');
      await utimes(join(dir, 'plugboard.lock.00ff00ff.tmp'), old, old);
      await writeFile(join(dir, 'notes.txt'), 'mine');
      const s = await JsonFileStorage.open({ dir });
      expect(await s.collection<Doc>('items').count()).toBe(3);
      expect((await readdir(dir)).sort()).toEqual(
        ['items.1.json', 'journal.1.ndjson', 'manifest.json', 'notes.txt', 'plugboard.lock'].sort(),
      );
      await s.close();
    });

    it('a failed disk write fails that write and every later operation, and loses nothing acknowledged', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      const col = s.collection<Doc>('items');
      await col.insert({ id: 'ok', n: 1 });
      const proto = await fileHandleProto(dir);
      const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      const write = vi.spyOn(proto, 'write').mockRejectedValueOnce(eio);
      try {
        const failed = await errorOf(col.insert({ id: 'lost', n: 2 }));
        expect(failed['code']).toBe('STORAGE_CLOSED');
        expect(String(failed['message'])).toContain('disk write failed (EIO');
        expect(failed['cause']).toBe(eio);
      } finally {
        write.mockRestore();
      }
      expect((await errorOf(col.insert({ id: 'later', n: 3 })))['code']).toBe('STORAGE_CLOSED');
      expect((await errorOf(col.get('ok')))['code']).toBe('STORAGE_CLOSED');
      await s.close();
      const again = await JsonFileStorage.open({ dir });
      expect((await again.collection<Doc>('items').get('ok'))?.n).toBe(1);
      await again.close();
    });

    it('a compaction that fails on close loses nothing: the journal is replayed on the next open', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      for (let i = 0; i < 5; i++) await s.collection<Doc>('items').insert({ id: `d${i}`, n: i });
      const proto = await fileHandleProto(dir);
      const enospc = Object.assign(new Error('ENOSPC: no space left on device, fsync'), {
        code: 'ENOSPC',
      });
      const sync = vi.spyOn(proto, 'sync').mockRejectedValueOnce(enospc);
      try {
        const e = await errorOf(s.close());
        expect(e['code']).toBe('STORAGE_CLOSED');
        expect(e['cause']).toBe(enospc);
      } finally {
        sync.mockRestore();
      }
      expect(await readdir(dir)).not.toContain('plugboard.lock');
      expect((await manifestOf(dir)).generation).toBe(0);
      const again = await JsonFileStorage.open({ dir });
      expect(await again.collection<Doc>('items').count()).toBe(5);
      await again.close();
      expect((await readdir(dir)).sort()).toEqual([
        'items.1.json',
        'journal.1.ndjson',
        'manifest.json',
      ]);
    });

    it('a failed fsync is a failed write too', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir, durability: 'fsync' });
      const col = s.collection<Doc>('items');
      const proto = await fileHandleProto(dir);
      const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      const datasync = vi.spyOn(proto, 'datasync').mockRejectedValueOnce(eio);
      try {
        expect((await errorOf(col.insert({ id: 'x', n: 1 })))['code']).toBe('STORAGE_CLOSED');
      } finally {
        datasync.mockRestore();
      }
      await s.close();
    });
  });

  describe('locking', () => {
    it('a second JsonFileStorage in the same process gets STORAGE_LOCKED naming this process', async () => {
      const dir = await tempDir();
      const first = await JsonFileStorage.open({ dir });
      const e = await errorOf(JsonFileStorage.open({ dir }));
      expect(isPlugboardError(e, 'STORAGE_LOCKED')).toBe(true);
      expect(e['holder']).toContain(`pid ${process.pid} on ${hostname()}`);
      expect(String(e['message'])).toContain(dir);
      await first.close();
      const second = await JsonFileStorage.open({ dir });
      await second.close();
    });

    it('a second process gets STORAGE_LOCKED naming the holder; the lock of a killed holder is recovered', async () => {
      const dir = await closedStore();
      const holder = spawn(process.execPath, [join(fixtures, 'lock-child.mjs'), entry, dir], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      expect(await firstLine(holder)).toBe('ready');
      const e = await errorOf(JsonFileStorage.open({ dir }));
      expect(e['code']).toBe('STORAGE_LOCKED');
      expect(e['holder']).toContain(`pid ${holder.pid} on ${hostname()}`);

      // The other way round: this process holds it, a child is refused.
      const closed = new Promise((r) => holder.on('close', r));
      holder.kill('SIGKILL');
      await closed;
      const s = await JsonFileStorage.open({ dir });
      expect(await s.collection<Doc>('items').count()).toBe(3);
      const refused = spawn(process.execPath, [join(fixtures, 'lock-child.mjs'), entry, dir], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const report = JSON.parse(await firstLine(refused));
      expect(report.code).toBe('STORAGE_LOCKED');
      expect(report.holder).toContain(`pid ${process.pid} on ${hostname()}`);
      await s.close();
    });

    it('recovers a stale lock file of a dead process', async () => {
      const dir = await closedStore();
      const dead = spawn(process.execPath, ['-e', '']);
      await new Promise((r) => dead.on('close', r));
      const lock = {
        pid: dead.pid,
        host: hostname(),
        since: new Date().toISOString(),
        token: 'abcdef',
      };
      await writeFile(join(dir, 'plugboard.lock'), JSON.stringify(lock));
      const s = await JsonFileStorage.open({ dir });
      expect(await s.collection<Doc>('items').count()).toBe(3);
      await s.close();
      expect(await readdir(dir)).not.toContain('plugboard.lock');
    });

    it('never takes over an unreadable lock file', async () => {
      const dir = await closedStore();
      await writeFile(join(dir, 'plugboard.lock'), '{"pid":0}');
      const e = await errorOf(JsonFileStorage.open({ dir }));
      expect(e['code']).toBe('STORAGE_LOCKED');
      expect(e['holder']).toContain('unreadable lock file');
      expect(await readFile(join(dir, 'plugboard.lock'), 'utf8')).toBe('{"pid":0}');
    });

    it('never takes over the lock of another host, and names it', async () => {
      const dir = await closedStore();
      const text = JSON.stringify({
        pid: 1,
        host: 'other-host.example',
        since: '2026-01-01T00:00:00.000Z',
        token: 'abcdef',
      });
      await writeFile(join(dir, 'plugboard.lock'), text);
      const e = await errorOf(JsonFileStorage.open({ dir }));
      expect(e['code']).toBe('STORAGE_LOCKED');
      expect(e['holder']).toContain('pid 1 on other-host.example');
      expect(await readFile(join(dir, 'plugboard.lock'), 'utf8')).toBe(text);
    });
  });

  describe('corrupt files', () => {
    async function expectCorrupt(
      dir: string,
      file: string,
      position: RegExp,
    ): Promise<Record<string, unknown>> {
      const before = await fingerprint(dir);
      const e = await errorOf(JsonFileStorage.open({ dir }));
      expect(e['code']).toBe('STORAGE_CORRUPT');
      expect(e['file']).toBe(join(dir, file));
      expect(String(e['position'])).toMatch(position);
      expect(String(e['message'])).toContain(join(dir, file));
      // Nothing was overwritten, created or removed (the lock was released again).
      expect(await fingerprint(dir)).toEqual(before);
      return e;
    }

    it('a hand-edited collection file with a syntax error: file, line and column', async () => {
      const dir = await closedStore();
      const file = join(dir, 'items.1.json');
      const text = await readFile(file, 'utf8');
      // line 8 is `    {"id":"d1","n":1,"revision":1},`; break it after `"n":1`
      await writeFile(file, text.replace('"n":1,', '"n":1,,'));
      await expectCorrupt(dir, 'items.1.json', /^line 8, column 22$/);
    });

    it('a collection file that is valid JSON but not a valid store: which document', async () => {
      const dir = await closedStore();
      const file = join(dir, 'items.1.json');
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace('"id":"d2","n":2,"revision":1', '"id":"d2","n":2'));
      const e = await expectCorrupt(dir, 'items.1.json', /^documents\[2\] \(line 9\)$/);
      expect(String(e['message'])).toContain('revision');
      await writeFile(file, text.replace('"id":"d2"', '"id":"d1"'));
      await expectCorrupt(dir, 'items.1.json', /^documents\[2\]/);
    });

    it('a truncated or missing manifest', async () => {
      const dir = await closedStore();
      const manifest = await readFile(join(dir, 'manifest.json'), 'utf8');
      await writeFile(join(dir, 'manifest.json'), manifest.slice(0, 40));
      await expectCorrupt(dir, 'manifest.json', /^line \d+, column \d+$/);
      await rm(join(dir, 'manifest.json'));
      const e = await errorOf(JsonFileStorage.open({ dir }));
      expect(e['code']).toBe('STORAGE_CORRUPT');
      expect(String(e['message'])).toContain('items.1.json');
    });

    it('a collection file the manifest names but that is missing', async () => {
      const dir = await closedStore();
      await rm(join(dir, 'items.1.json'));
      const e = await expectCorrupt(dir, 'manifest.json', /^undefined$/);
      expect(String(e['message'])).toContain('items.1.json is missing');
    });

    it('garbage in the middle of the journal is corruption, not a torn tail', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      for (const id of ['a', 'b', 'c']) await s.collection<Doc>('items').insert({ id, n: 1 });
      await releaseWithoutCompacting(s);
      const journal = join(dir, 'journal.0.ndjson');
      const lines = (await readFile(journal, 'utf8')).split('\n');
      lines[1] = lines[1]!.replace('"id":"b"', '"id":"B"');
      await writeFile(journal, lines.join('\n'));
      const e = await expectCorrupt(dir, 'journal.0.ndjson', /^line 2, column 1$/);
      expect(String(e['message'])).toContain('checksum');
      lines[1] = '{"op":"put",, garbage';
      await writeFile(journal, lines.join('\n'));
      await expectCorrupt(dir, 'journal.0.ndjson', /^line 2, column 13$/);
    });

    it('a damaged last journal line that ends with a newline is corruption too', async () => {
      const dir = await tempDir();
      const s = await JsonFileStorage.open({ dir });
      await s.collection<Doc>('items').insert({ id: 'a', n: 1 });
      await releaseWithoutCompacting(s);
      await appendFile(join(dir, 'journal.0.ndjson'), 'not json\n');
      await expectCorrupt(dir, 'journal.0.ndjson', /^line 2, column 2$/);
    });
  });
  describe('file system errors', () => {
    it('a directory in place of a store file is STORAGE_CORRUPT naming it, and is left alone', async () => {
      for (const name of ['manifest.json', 'items.1.json', 'journal.1.ndjson', 'plugboard.lock']) {
        const dir = await closedStore();
        await rm(join(dir, name), { force: true });
        await mkdir(join(dir, name));
        const e = await errorOf(JsonFileStorage.open({ dir }));
        expect(e['code'], name).toBe('STORAGE_CORRUPT');
        expect(e['file'], name).toBe(join(dir, name));
        expect(String(e['message'])).toContain(`${join(dir, name)}: is a directory`);
        expect(isPlugboardError(e)).toBe(true);
        expect((await stat(join(dir, name))).isDirectory()).toBe(true);
        if (name !== 'plugboard.lock') expect(await readdir(dir)).not.toContain('plugboard.lock');
      }
    });

    it('a read-only file system or a missing permission is STORAGE_UNAVAILABLE naming the file', async () => {
      const cases = [
        ['mkdir', 'EROFS', 'read-only'],
        ['writeFile', 'EACCES', 'permission denied'],
        ['open', 'EROFS', 'read-only'],
        ['rename', 'ENOSPC', 'no space left'],
        ['readdir', 'EIO', 'input/output error'],
      ] as const;
      for (const [fn, code, text] of cases) {
        const dir = join(await tempDir(), 'store');
        const failing = new Set<string>();
        const restore = injectFsError(fn, code, failing);
        try {
          const e = await errorOf(JsonFileStorage.open({ dir }));
          expect(e['code'], `${fn} ${code}`).toBe('STORAGE_UNAVAILABLE');
          expect(e['name']).toBe('StorageUnavailableError');
          const [path] = [...failing];
          expect(path, `${fn} ${code}`).toBeDefined();
          expect(String(e['message'])).toContain(`cannot use ${path} (${code}): `);
          expect(String(e['message'])).toContain(text);
          expect((e['cause'] as { code?: string }).code).toBe(code);
        } finally {
          restore();
        }
        // Once the file system works again, the store opens.
        const s = await JsonFileStorage.open({ dir });
        await s.collection<Doc>('items').insert({ id: 'a', n: 1 });
        await s.close();
      }
    });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until the file has content (at most 10 s). */
async function waitForFile(path: string): Promise<void> {
  for (const end = Date.now() + 10_000; Date.now() < end; ) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.length > 0) return;
    await sleep(2);
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve(out.slice(0, nl));
    });
    child.on('close', () => reject(new Error(`child exited before reporting: ${out}`)));
  });
}

/**
 * Simulates a crash of this process: the journal file handle is left to the garbage
 * collector and the lock is removed by hand, so no compaction runs.
 */
async function releaseWithoutCompacting(s: JsonFileStorage): Promise<void> {
  const internals = s as unknown as {
    closed: boolean;
    writer: { draining: Promise<void> | undefined; journal: { close(): Promise<void> } };
  };
  while (internals.writer.draining) await internals.writer.draining;
  internals.closed = true;
  await internals.writer.journal.close();
  await rm(join(s.dir, 'plugboard.lock'));
}

/**
 * Makes the first call of `fn` in `node:fs/promises` (as the store's modules import it)
 * fail like the kernel would with `code`, recording the path; returns the undo function.
 */
function injectFsError(
  fn: 'mkdir' | 'writeFile' | 'open' | 'rename' | 'readdir',
  code: string,
  failing: Set<string>,
): () => void {
  const target = fsPromises as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = target[fn]!;
  target[fn] = (...args: unknown[]) => {
    const path = String(args[0]);
    // Only the store's own files: the lock's temp file, the manifest, the directory.
    if (failing.size === 0) {
      failing.add(path);
      const syscall = fn === 'writeFile' ? 'open' : fn;
      return Promise.reject(
        Object.assign(new Error(`${code}: simulated, ${syscall} '${path}'`), {
          code,
          syscall,
          path,
        }),
      );
    }
    return original(...args);
  };
  syncBuiltinESMExports();
  return () => {
    target[fn] = original;
    syncBuiltinESMExports();
  };
}
