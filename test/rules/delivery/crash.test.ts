/**
 * Durable delivery under kill -9: child processes dispatch events and are killed at
 * random moments, each next one resuming what the killed ones left; a last one runs
 * until nothing is unfinished. Every acknowledged event must then have succeeded, with
 * each of its actions' side effects performed once per idempotency key (none lost, none
 * run twice under two keys); the raw repeats the keys absorbed are the at-least-once
 * evidence.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution, StorageAdapter } from '../../../src/index.js';
import { JsonFileStorage } from '../../../src/storage/json-file/index.js';
import { PostgresStorage } from '../../../src/storage/postgres/index.js';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
} from '../../storage/fixtures/pg-env.js';
import { ACTIONS, type EffectLine, openCrashWorld, RULE_ID } from './fixtures/crash-world.js';

/** Children killed per adapter (then one more runs to the end). */
const KILLS = 55;
/**
 * The final child dispatches again the unacknowledged events of the children killed in
 * the first this many ms. A dispatch killed after claiming its event id holds the claim
 * for 60 s, and a redelivery waits for it: these claims run out about 75 s in, which
 * bounds the test's time. (The other unacknowledged events are only checked for not
 * having run twice or half.)
 */
const REDO_KILLED_WITHIN_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];
let child = '';

beforeAll(async () => {
  child = await bundleWorker(fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url)), [
    'pg',
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plugboard-crash-'));
  dirs.push(dir);
  return dir;
}

/** What the children reported, gathered over all runs. */
interface Reports {
  /** Event → when the child that sent it first was killed (its claim is older). */
  readonly sent: Map<number, number>;
  /** Event → the execution ids of each acknowledgement. */
  readonly acked: Map<number, string[]>;
  /** Acknowledgements answered as duplicates of an earlier dispatch. */
  duplicates: number;
}

/** Adds a child's report to `r`; `killedAt`: when that child was killed. */
function readReport(text: string, r: Reports, killedAt: number): void {
  for (const line of text.split('\n').slice(0, -1)) {
    const [kind, nArg, ids, dup] = line.split(' ');
    if (kind === 'sent' && !r.sent.has(Number(nArg))) r.sent.set(Number(nArg), killedAt);
    if (kind === 'ack') {
      const n = Number(nArg);
      r.acked.set(n, [...(r.acked.get(n) ?? []), ids ?? '']);
      if (dup?.includes('true')) r.duplicates++;
    }
  }
}

/** Runs one child; kills it `afterMs` after it said ready (or after it started). */
async function runChild(
  args: readonly string[],
  reportFile: string,
  kill: { afterMs: number; fromStart: boolean } | undefined,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [child, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let exited = false;
  const closed = new Promise<void>((r) =>
    proc.on('close', () => {
      exited = true;
      r();
    }),
  );
  if (kill) {
    if (!kill.fromStart) {
      while (!exited && !(await readFile(reportFile, 'utf8').catch(() => '')).includes('ready')) {
        await sleep(5);
      }
    }
    await sleep(kill.afterMs);
    proc.kill('SIGKILL');
  }
  await closed;
  return { signal: proc.signalCode, code: proc.exitCode, stderr };
}

interface Target {
  readonly kind: 'json-file' | 'postgres';
  /** The child's store argument: a directory, or `<url>,<schema>`. */
  readonly where: string;
  /** Opens the store in this process (closed by the caller). */
  open(): Promise<StorageAdapter>;
}

/** Every execution of the rule, with paging. */
async function allExecutions(
  engine: Awaited<ReturnType<typeof openCrashWorld>>['engine'],
): Promise<Execution[]> {
  const out: Execution[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.getRuleExecutions(RULE_ID, {
      limit: 100,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

async function crashScenario(t: Target): Promise<void> {
  const work = await tempDir();
  const effects = join(work, 'effects.log');
  {
    const storage = await t.open();
    const { engine, config } = await openCrashWorld(storage, true, effects);
    await engine.close();
    await config.close();
    await storage.close();
  }
  const r: Reports = { sent: new Map(), acked: new Map(), duplicates: 0 };
  const started = Date.now();
  let killedBusy = 0;
  let adopted = 0;
  let lastKill = 0;
  let killPhaseMs = 0;
  let next = 0;
  const unacked = () => [...r.sent.keys()].filter((n) => !r.acked.has(n));
  for (let run = 0; run <= KILLS; run++) {
    const last = run === KILLS;
    const reportFile = join(work, `run-${run}.txt`);
    // A redelivery of what the last child sent without acknowledging it (it mostly waits
    // for the dead dispatch's claim, and is killed in turn).
    const redo = last
      ? unacked().filter((n) => r.sent.get(n)! <= started + REDO_KILLED_WITHIN_MS)
      : unacked().filter((n) => r.sent.get(n) === lastKill);
    const args = [t.kind, t.where, effects, reportFile, String(next), String(last ? next : -1)];
    // Most kills land while the child dispatches and runs actions; some during its start
    // (opening the store, recovering the lock, resuming what the last one left).
    if (last) killPhaseMs = Date.now() - started;
    const kill = last ? undefined : { afterMs: 10 + Math.random() * 190, fromStart: run % 6 === 5 };
    const res = await runChild([...args, redo.join(',')], reportFile, kill);
    const killedAt = Date.now();
    lastKill = killedAt;
    const text = await readFile(reportFile, 'utf8').catch(() => '');
    if (last) {
      for (const m of text.matchAll(/^ack (\d+) \S+ true$/gm)) {
        if (redo.includes(Number(m[1]))) adopted++;
      }
      expect(res.stderr).toBe('');
      expect(res.code, res.stderr).toBe(0);
      expect(text).toMatch(/\ndone\n$/);
    } else {
      expect(res.signal, res.stderr).toBe('SIGKILL');
      if (text.includes('\nsent ')) killedBusy++;
    }
    readReport(text, r, killedAt);
    next = Math.max(next, ...[...r.sent.keys()].map((n) => n + 1));
  }
  const elapsed = Date.now() - started;

  // The events sent again at last were acknowledged.
  const neverAcked = unacked();
  expect(neverAcked.filter((n) => r.sent.get(n)! <= started + REDO_KILLED_WITHIN_MS)).toEqual([]);
  expect(r.sent.size).toBe(next);
  const storage = await t.open();
  try {
    const { engine, config } = await openCrashWorld(storage, false, effects, {
      delivery: { resume: false },
    });
    const executions = await allExecutions(engine);
    await engine.close();
    await config.close();
    expect(await storage.collection('deliveries').count()).toBe(0);

    // One execution per event, never two (a redelivery answered with the first one's).
    const byEvent = new Map<number, Execution[]>();
    for (const e of executions) {
      const n = (e.triggerData as { payload: { n: number } }).payload.n;
      byEvent.set(n, [...(byEvent.get(n) ?? []), e]);
    }
    const ranTwice = [...byEvent].filter(([, list]) => list.length > 1).map(([n]) => n);
    expect(ranTwice, 'events that ran as two executions').toEqual([]);
    for (const [n, ids] of r.acked) {
      const [id] = byEvent.get(n)?.map((e) => e.id) ?? [];
      expect(id, `the execution of acknowledged event ${n}`).toBeDefined();
      // Every acknowledgement of an event named the same, single execution ...
      expect(new Set(ids), `acknowledgements of event ${n}`).toEqual(new Set([id]));
    }
    // ... and every one succeeded.
    const notFinal = executions.filter((e) => e.status !== 'succeeded');
    expect(notFinal.map((e) => `${e.id}: ${e.status} ${e.error ?? ''}`)).toEqual([]);

    // Side effects: each action of each event performed under exactly one key (the
    // execution's), none lost; raw calls above that were absorbed by the key.
    const lines = (await readFile(effects, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as EffectLine);
    const raw = new Map<string, number>();
    const keysOf = new Map<string, Set<string>>();
    for (const l of lines) {
      raw.set(l.key, (raw.get(l.key) ?? 0) + 1);
      const what = `${l.n}:${l.action}`;
      keysOf.set(what, (keysOf.get(what) ?? new Set()).add(l.key));
    }
    const lost: string[] = [];
    const duplicated: string[] = [];
    for (const [n, list] of byEvent) {
      for (const action of ACTIONS) {
        const keys = keysOf.get(`${n}:${action}`) ?? new Set();
        if (!keys.has(`${list[0]!.id}:${action}`)) lost.push(`${n}:${action}`);
        if (keys.size > 1) duplicated.push(`${n}:${action} under ${[...keys].join(' and ')}`);
      }
    }
    expect(lost, 'side effects lost').toEqual([]);
    expect(duplicated, 'side effects performed under two keys').toEqual([]);
    // No side effect of an event without a stored execution, or under a foreign key.
    expect(keysOf.size).toBe(byEvent.size * ACTIONS.length);
    expect(raw.size).toBe(byEvent.size * ACTIONS.length);
    const foreign = lines.filter((l) => l.key !== `${byEvent.get(l.n)?.[0]?.id}:${l.action}`);
    expect(foreign).toEqual([]);
    const repeats = lines.length - raw.size;
    console.info(
      `${t.kind}: ${KILLS} kills (${killedBusy} while dispatching), ${next} events sent, ` +
        `${r.acked.size} acknowledged, ${byEvent.size} run, ${r.duplicates} redeliveries ` +
        `deduplicated (${adopted} in the last run, of events killed children left unacknowledged), ` +
        `${lines.length} side-effect calls for ` +
        `${raw.size} keys (${repeats} repeats absorbed by the key), ${elapsed} ms (kills: ${killPhaseMs} ms)`,
    );
    // The kills did hit children at work, and some actions ran again after a kill.
    expect(killedBusy).toBeGreaterThanOrEqual(KILLS / 2);
    expect(repeats).toBeGreaterThan(0);
  } finally {
    await storage.close();
  }
}

describe('durable delivery under kill -9', () => {
  it(`JSON file store: ${KILLS} kills, nothing lost, nothing run twice`, async () => {
    const dir = await tempDir();
    await crashScenario({
      kind: 'json-file',
      where: dir,
      open: () => JsonFileStorage.open({ dir, durability: 'batched' }),
    });
  }, 120_000);
});

if (!pgUrl && requireServer) {
  describe('durable delivery under kill -9 over PostgreSQL', () => {
    it('needs a PostgreSQL server under CI', () => {
      throw new Error(`CI=true but ${skipNotice}`);
    });
  });
}

describe.skipIf(!pgUrl)('durable delivery under kill -9 over PostgreSQL', () => {
  const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 2 }) : undefined;
  afterAll(async () => {
    if (!pool) return;
    await dropSchemas(pool, 'pbcr');
    await pool.end();
  });

  it(`PostgreSQL store: ${KILLS} kills, nothing lost, nothing run twice`, async () => {
    const schema = freshSchema('pbcr');
    await crashScenario({
      kind: 'postgres',
      where: `${pgUrl},${schema}`,
      open: () => PostgresStorage.open({ pool: pool!, schema }),
    });
  }, 120_000);
});
