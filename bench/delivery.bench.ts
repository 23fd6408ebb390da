/**
 * Durable against inline delivery, and both against json-rules-engine 7, on the rules
 * workload (`bench/rules-workload.ts`: 1,000 rules over 20 trigger types, 20,000
 * events) where every rule whose conditions hold runs one action that does nothing
 * (`npx tsx bench/run.ts delivery.bench`).
 *
 * - plugboard: `dispatch()` on `MemoryStorage` with `retention: { maxExecutionsPerRule:
 *   100 }`, each rule with one registered no-op action (handler returning its input, a
 *   `{{ payload.id }}` template), once with the default `delivery: { mode: 'durable' }`
 *   (the default queue, actions run in the dispatching process) and once with
 *   `delivery: { mode: 'inline' }`.
 * - json-rules-engine: its best configuration as in rules.bench.ts (one `Engine` per
 *   trigger type, facts passed per run), each rule with an `onSuccess` handler (an async
 *   function that counts the call and returns): the nearest thing it has to an action.
 *
 * Before timing, every contender must match exactly the rules json-rules-engine matches
 * (checksum over the matched rule ids of every event) and run its action once per match.
 * Then: one tinybench table of the three, and interleaved batches of equal duration of
 * the three in turn (8 rounds, medians of wall-clock and CPU time per event), with the
 * ratios durable / inline and each against json-rules-engine. Last, the storage
 * operations one dispatch costs in each mode, counted on a wrapped `MemoryStorage`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from 'json-rules-engine';
import { type IntegrationEvent, MemoryStorage, type RuleEngine } from '../src/index.js';
import { countingStorage, deliveryWorld, ruleWithAction } from './delivery-world.js';
import { fmt, runBench } from './harness.js';
import {
  BENCH_INTEGRATION,
  checksum,
  generateEvents,
  generateRules,
  TRIGGER_TYPES,
  toJreConditions,
  type WorkloadEvent,
  type WorkloadRule,
} from './rules-workload.js';

const RULES = 1_000;
const EVENTS = 20_000;
const RETENTION = { retention: { maxExecutionsPerRule: 100 } };

type Runner = (e: WorkloadEvent) => Promise<string[]>;

interface Contender {
  readonly name: string;
  readonly run: Runner;
  /** How many actions (handlers) ran so far. */
  readonly calls: () => number;
}

function event(e: WorkloadEvent): IntegrationEvent {
  return { integrationId: BENCH_INTEGRATION, type: e.type, payload: e.payload };
}

function jreContender(rules: readonly WorkloadRule[]): Contender {
  let calls = 0;
  const onSuccess = async (): Promise<void> => {
    calls++;
  };
  const engines = new Map<string, Engine>();
  for (const type of TRIGGER_TYPES) {
    engines.set(type, new Engine([], { allowUndefinedFacts: true }));
  }
  for (const r of rules) {
    engines.get(r.triggerType)!.addRule({
      name: r.id,
      conditions: toJreConditions(r.tree) as never,
      event: { type: r.id },
      onSuccess,
    });
  }
  return {
    name: 'json-rules-engine 7 run() + onSuccess no-op',
    run: async (e) => {
      const res = await engines.get(e.type)!.run({ payload: e.payload });
      return res.events.map((x) => x.type);
    },
    calls: () => calls,
  };
}

async function plugboardContender(
  mode: 'durable' | 'inline',
  rules: readonly WorkloadRule[],
): Promise<{ contender: Contender; engine: RuleEngine; close: () => Promise<void> }> {
  const world = await deliveryWorld(new MemoryStorage());
  const engine = world.engine({ ...RETENTION, delivery: { mode } });
  for (const r of rules) await engine.createRule(ruleWithAction(r));
  const run: Runner = async (e) => {
    const out: string[] = [];
    for (const x of await engine.dispatch(event(e))) {
      if (!x.conditionsMet) continue;
      if (x.status !== 'succeeded') {
        throw new Error(`${mode}: execution ${x.id} ended ${x.status}: ${x.error ?? ''}`);
      }
      out.push(x.ruleId);
    }
    return out;
  };
  return {
    contender: { name: `plugboard dispatch(), ${mode}`, run, calls: world.calls },
    engine,
    close: async () => {
      await engine.close();
      await world.close();
    },
  };
}

async function mapSeq<T, R>(items: readonly T[], fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const x of items) out.push(await fn(x));
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** `global.gc` without a command-line flag. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * The contenders take turns on batches of about equal duration (the first runs
 * `firstBatch` events, the others as many as they run in that time), `rounds` times;
 * medians of wall-clock and CPU µs per event.
 */
async function interleaved(
  contenders: readonly Contender[],
  events: readonly WorkloadEvent[],
  rounds = 8,
  firstBatch = 100,
): Promise<{ wall: number; cpu: number; batch: number }[]> {
  let offset = 0;
  const batchRun = async (c: Contender, n: number) => {
    const u = process.cpuUsage();
    const t = performance.now();
    for (let k = 0; k < n; k++) await c.run(events[offset++ % events.length]!);
    const d = process.cpuUsage(u);
    return { wall: ((performance.now() - t) * 1000) / n, cpu: (d.user + d.system) / n };
  };
  const calib: { wall: number; cpu: number }[] = [];
  for (const c of contenders) calib.push(await batchRun(c, firstBatch));
  const batches = calib.map((x) =>
    Math.min(
      events.length,
      Math.max(firstBatch, Math.round((firstBatch * calib[0]!.wall) / x.wall)),
    ),
  );
  const wall = contenders.map((): number[] => []);
  const cpu = contenders.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of contenders.entries()) {
      const x = await batchRun(c, batches[i]!);
      wall[i]!.push(x.wall);
      cpu[i]!.push(x.cpu);
    }
  }
  return contenders.map((_, i) => ({
    wall: median(wall[i]!),
    cpu: median(cpu[i]!),
    batch: batches[i]!,
  }));
}

/** Storage operations per dispatch of each mode, on a counting `MemoryStorage`. */
async function countWrites(
  rules: readonly WorkloadRule[],
  events: readonly WorkloadEvent[],
): Promise<void> {
  const N = 2_000;
  console.log(
    `\n## delivery: storage operations per dispatch (${fmt(N)} events after 500 of warm-up, MemoryStorage)\n`,
  );
  const tables = new Map<string, Map<string, number>>();
  let executionsWithActions = 0;
  for (const mode of ['inline', 'durable'] as const) {
    const counted = countingStorage(new MemoryStorage());
    const world = await deliveryWorld(counted.storage);
    const engine = world.engine({ ...RETENTION, delivery: { mode } });
    for (const r of rules) await engine.createRule(ruleWithAction(r));
    for (const e of events.slice(0, 500)) await engine.dispatch(event(e));
    // Let the worker's first sweep and any deferred work settle before counting.
    await new Promise((r) => setTimeout(r, 50));
    counted.reset();
    let withActions = 0;
    for (const e of events.slice(500, 500 + N)) {
      for (const x of await engine.dispatch(event(e))) if (x.conditionsMet) withActions++;
    }
    executionsWithActions = withActions;
    tables.set(mode, new Map(counted.counts));
    await engine.close();
    await world.close();
  }
  const keys = [...new Set([...tables.values()].flatMap((m) => [...m.keys()]))].sort();
  console.log(
    '| collection.operation | inline per dispatch | durable per dispatch | durable − inline per execution with an action |',
  );
  console.log('|---|---:|---:|---:|');
  const total = { inline: 0, durable: 0, inlineW: 0, durableW: 0 };
  for (const k of keys) {
    const a = (tables.get('inline')!.get(k) ?? 0) / N;
    const b = (tables.get('durable')!.get(k) ?? 0) / N;
    const write = /\.(insert|update|delete)$/.test(k);
    total.inline += a;
    total.durable += b;
    if (write) {
      total.inlineW += a;
      total.durableW += b;
    }
    const perExec = ((b - a) * N) / executionsWithActions;
    console.log(`| ${k} | ${fmt(a, 2)} | ${fmt(b, 2)} | ${fmt(perExec, 2)} |`);
  }
  const per = (x: number) => fmt((x * N) / executionsWithActions, 2);
  console.log(
    `| all writes (insert, update, delete) | ${fmt(total.inlineW, 2)} | ${fmt(total.durableW, 2)} | ${per(total.durableW - total.inlineW)} |`,
  );
  console.log(
    `| all operations | ${fmt(total.inline, 2)} | ${fmt(total.durable, 2)} | ${per(total.durable - total.inline)} |`,
  );
  console.log(
    `\n${fmt(executionsWithActions / N, 2)} executions with an action per dispatch (${fmt(executionsWithActions)} in ${fmt(N)} dispatches)`,
  );
}

/** Runs the comparison, printing tables. */
export async function run(): Promise<void> {
  const rules = generateRules(RULES);
  const events = generateEvents(EVENTS);
  const gc = exposeGc();
  const jre = jreContender(rules);
  const inline = await plugboardContender('inline', rules);
  const durable = await plugboardContender('durable', rules);
  const contenders = [jre, inline.contender, durable.contender];

  console.log(
    `\ndelivery: ${RULES} rules / ${TRIGGER_TYPES.length} trigger types, ${EVENTS} events, one no-op action per matched rule`,
  );
  let reference: string | undefined;
  let matches = 0;
  for (const c of contenders) {
    const t = performance.now();
    const sum = checksum(await mapSeq(events, c.run));
    const ms = performance.now() - t;
    console.log(
      `${c.name}: checksum ${sum.hash} (${sum.matches} matches, ${c.calls()} actions run), full pass ${fmt(ms)} ms`,
    );
    reference ??= sum.hash;
    matches = sum.matches;
    if (sum.hash !== reference) throw new Error(`${c.name} disagrees on the matches; not timing`);
    if (c.calls() !== sum.matches) {
      throw new Error(`${c.name} ran ${c.calls()} actions for ${sum.matches} matches; not timing`);
    }
    gc();
  }

  const cursors = contenders.map(() => 0);
  const rows = await runBench(
    'delivery: one event per op, each matched rule runs a no-op action',
    contenders.map((c, i) => ({
      name: c.name,
      fn: () => c.run(events[cursors[i]!++ % EVENTS]!),
    })),
    { time: 2000, warmupTime: 500 },
  );
  gc();
  const inter = await interleaved(contenders, events);
  const [j, n, d] = inter as [(typeof inter)[0], (typeof inter)[0], (typeof inter)[0]];
  const [jt, nt, dt] = rows.map((r) => 1e6 / r.opsPerSec) as [number, number, number];

  console.log(
    `\n## delivery: interleaved (8 rounds; batches of ${inter.map((x) => x.batch).join(' / ')} events), medians, µs per event\n`,
  );
  console.log(
    '| contender | wall µs/event | CPU µs/event | tinybench mean µs/event | × json-rules-engine (wall / CPU / tinybench) |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const [i, c] of contenders.entries()) {
    const x = inter[i]!;
    const tb = 1e6 / rows[i]!.opsPerSec;
    console.log(
      `| ${c.name} | ${fmt(x.wall, 1)} | ${fmt(x.cpu, 1)} | ${fmt(tb, 1)} | ${fmt(j.wall / x.wall, 2)} / ${fmt(j.cpu / x.cpu, 2)} / ${fmt(jt / tb, 2)} |`,
    );
  }
  console.log(
    `\ndurable / inline: ${fmt(d.wall / n.wall, 2)} (wall), ${fmt(d.cpu / n.cpu, 2)} (CPU), ${fmt(dt / nt, 2)} (tinybench mean)`,
  );
  console.log(
    `durable − inline: ${fmt(d.wall - n.wall, 1)} µs/event wall, ${fmt(d.cpu - n.cpu, 1)} µs/event CPU; ` +
      `per execution with an action (${fmt(matches / EVENTS, 2)} per event): ` +
      `${fmt(((d.wall - n.wall) * EVENTS) / matches, 1)} µs wall, ${fmt(((d.cpu - n.cpu) * EVENTS) / matches, 1)} µs CPU`,
  );
  await inline.close();
  await durable.close();
  gc();
  await countWrites(rules, events);
}
