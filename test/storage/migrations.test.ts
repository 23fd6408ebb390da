import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPlugboardError, MemoryStorage, type StorageAdapter } from '../../src/index.js';
import { listAppliedMigrations, type Migration, runMigrations } from '../../src/migrations.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['memory', 'json-file'] as const)('runMigrations on %s storage', (kind) => {
  let storage: StorageAdapter;
  let dir: string | undefined;
  beforeEach(async () => {
    if (kind === 'memory') {
      storage = new MemoryStorage();
    } else {
      dir = await mkdtemp(join(tmpdir(), 'plugboard-migrations-'));
      storage = await JsonFileStorage.open({ dir, durability: 'batched' });
    }
  });
  afterEach(async () => {
    await storage.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const counting = (order: string[]): Migration[] => [
    {
      id: '001-create-tags',
      description: 'seed tags',
      up: async ({ storage: s, log }) => {
        order.push('001');
        await s.collection<{ id: string; revision: number }>('tags').insert({ id: 'vip' });
        log('inserted vip');
      },
    },
    {
      id: '002-more-tags',
      up: async ({ storage: s }) => {
        order.push('002');
        await s.collection<{ id: string; revision: number }>('tags').insert({ id: 'b2b' });
      },
    },
  ];

  it('applies each migration once, in order, and records it', async () => {
    const order: string[] = [];
    expect(await runMigrations(storage, counting(order))).toEqual({
      applied: ['001-create-tags', '002-more-tags'],
      skipped: [],
    });
    expect(await runMigrations(storage, counting(order))).toEqual({
      applied: [],
      skipped: ['001-create-tags', '002-more-tags'],
    });
    expect(order).toEqual(['001', '002']);
    const records = await listAppliedMigrations(storage);
    expect(records.map((r) => r.id)).toEqual(['001-create-tags', '002-more-tags']);
    expect(records[0]).toMatchObject({ description: 'seed tags', notes: ['inserted vip'] });
  });

  it('is safe when two runners start at once: the second waits, then skips', async () => {
    const order: string[] = [];
    const slow: Migration[] = counting(order).map((m) => ({
      ...m,
      up: async (ctx) => {
        await sleep(20);
        await m.up(ctx);
      },
    }));
    const [a, b] = await Promise.all([
      runMigrations(storage, slow, { pollMs: 5 }),
      runMigrations(storage, slow, { pollMs: 5 }),
    ]);
    expect(order).toEqual(['001', '002']);
    expect([...a.applied, ...b.applied].sort()).toEqual(['001-create-tags', '002-more-tags']);
    expect([...a.skipped, ...b.skipped].sort()).toEqual(['001-create-tags', '002-more-tags']);
  });

  it('stops at a failing migration, records nothing for it and releases the lock', async () => {
    const order: string[] = [];
    const failing: Migration[] = [
      counting(order)[0]!,
      {
        id: '002-broken',
        up: async () => {
          throw new Error('boom');
        },
      },
    ];
    await expect(runMigrations(storage, failing)).rejects.toThrow('boom');
    expect((await listAppliedMigrations(storage)).map((r) => r.id)).toEqual(['001-create-tags']);
    const fixed = await runMigrations(storage, [
      failing[0]!,
      { id: '002-broken', up: async () => {} },
    ]);
    expect(fixed).toEqual({ applied: ['002-broken'], skipped: ['001-create-tags'] });
  });

  it('waits for a live lock until its timeout, and takes over a stale one', async () => {
    const col = storage.collection<{ id: string; revision: number }>('migrations');
    const old = new Date(Date.now() - 60_000).toISOString();
    await col.insert({
      id: '__lock__',
      owner: 'pid 1 (dead)',
      acquiredAt: old,
      heartbeatAt: old,
    } as never);
    const e = await runMigrations(storage, counting([]), {
      lockTimeoutMs: 50,
      pollMs: 5,
      staleLockMs: 120_000,
    }).catch((x: unknown) => x);
    expect(isPlugboardError(e, 'TIMEOUT')).toBe(true);
    expect((e as Error).message).toContain('pid 1 (dead)');
    const report = await runMigrations(storage, counting([]), { staleLockMs: 1000 });
    expect(report.applied).toHaveLength(2);
  });

  it('takes over at once a fresh lock whose process on this machine is gone', async () => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.status).toBe(0);
    const col = storage.collection<{ id: string; revision: number }>('migrations');
    const now = new Date().toISOString();
    const lock = { id: '__lock__', owner: 'a killed runner', acquiredAt: now, heartbeatAt: now };
    await col.insert({ ...lock, host: hostname(), pid: child.pid } as never);
    const report = await runMigrations(storage, counting([]), { lockTimeoutMs: 2000 });
    expect(report.applied).toHaveLength(2);
    // A live process's lock (this one's parent, on this machine) is waited for.
    await col.insert({ ...lock, id: '__lock__', host: hostname(), pid: process.ppid } as never);
    const more = [...counting([]), { id: '003-new', up: async () => undefined }];
    const e = await runMigrations(storage, more, { lockTimeoutMs: 50, pollMs: 5 }).catch(
      (x: unknown) => x,
    );
    expect(isPlugboardError(e, 'TIMEOUT')).toBe(true);
  });

  it('skips without the lock when everything is applied: a lock left by a killed runner holds up only new migrations', async () => {
    await runMigrations(storage, counting([]));
    const col = storage.collection<{ id: string; revision: number }>('migrations');
    const now = new Date().toISOString();
    await col.insert({
      id: '__lock__',
      owner: 'pid 1 (killed)',
      acquiredAt: now,
      heartbeatAt: now,
    } as never);
    const order: string[] = [];
    await expect(runMigrations(storage, counting(order), { lockTimeoutMs: 50 })).resolves.toEqual({
      applied: [],
      skipped: ['001-create-tags', '002-more-tags'],
    });
    const more = [...counting(order), { id: '003-new', up: async () => void order.push('003') }];
    const e = await runMigrations(storage, more, { lockTimeoutMs: 50, pollMs: 5 }).catch(
      (x: unknown) => x,
    );
    expect(isPlugboardError(e, 'TIMEOUT')).toBe(true);
    expect(order).toEqual([]);
  });

  it('rejects malformed migration lists', async () => {
    await expect(
      runMigrations(storage, [
        { id: 'a', up: async () => {} },
        { id: 'a', up: async () => {} },
        { id: '_bad', up: async () => {} },
      ]),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining("migrations[1].id: duplicate id 'a'"),
    });
  });
});
