/**
 * Rule engine benchmark against json-rules-engine 7 (`npm run bench:rules`).
 *
 * 1,000 rules over 20 trigger types (3–5 conditions each: equal, notEqual, greaterThan,
 * in, contains, nested paths) and 20,000 events, generated from a seeded PRNG. Both
 * engines must produce identical matches (checksum over the matched rule ids of every
 * event) before anything is timed. json-rules-engine runs in its best configuration: one
 * Engine per trigger type, facts passed per run.
 */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Engine } from 'json-rules-engine';
import {
  ConfigManager,
  type IntegrationEvent,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  RuleEngine,
  type RuleEngineOptions,
} from '../src/index.js';
import { type BenchRow, fmt, runBench } from './harness.js';
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
const LOAD_RULES = 100_000;

async function plugboardWorld(options: Partial<RuleEngineOptions> = {}) {
  const storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  await registry.register(
    {
      id: BENCH_INTEGRATION,
      name: 'Bench',
      version: '1.0.0',
      authType: 'none',
      triggers: TRIGGER_TYPES.map((type) => ({ type, name: type })),
      actions: [
        {
          type: 'noop',
          name: 'No-op',
          inputSchema: { type: 'object', properties: { ref: { type: 'string' } } },
          handler: async (input: unknown) => input,
        },
      ],
    },
    { publish: true },
  );
  const keyring = new Keyring({ keys: { k: randomBytes(32).toString('base64') }, primary: 'k' });
  const config = new ConfigManager({ storage, registry, keyring });
  await config.createInstance({ integrationId: BENCH_INTEGRATION, name: 'bench' });
  const engine = new RuleEngine({ storage, registry, config, ...options });
  return { storage, registry, config, engine };
}

/**
 * A workload rule for plugboard: its tree, and one no-op action with a template (run
 * with timeout, audit entry and execution record), unless `withAction` is false: then
 * a match does what json-rules-engine's does (nothing but report it), and is recorded.
 */
function ruleInput(r: WorkloadRule, withAction = true) {
  return {
    id: r.id,
    name: r.id,
    integrationId: BENCH_INTEGRATION,
    triggerType: r.triggerType,
    conditions: [{ id: 'c', type: 'match', config: r.tree }],
    actions: withAction ? [{ id: 'a', type: 'noop', config: { ref: '{{ payload.id }}' } }] : [],
  };
}

function event(e: WorkloadEvent): IntegrationEvent {
  return { integrationId: BENCH_INTEGRATION, type: e.type, payload: e.payload };
}

/** Runs the comparison and the load test, printing tables. */
export async function run(): Promise<void> {
  await compare();
  recordingFloor();
  recordsFloor();
  await loadTest();
}

/** The execution both floors store: the shape `dispatch` records for an unmet condition. */
function floorExecution(id: string, ruleId: string, now: string, triggerData: object) {
  return Object.freeze({
    id,
    ruleId,
    ruleRevision: 1,
    integrationId: BENCH_INTEGRATION,
    triggerType: 't',
    triggered: true,
    conditionsMet: false,
    successful: true,
    startTime: now,
    endTime: now,
    triggerData,
    failedCondition: Object.freeze({
      conditionId: 'c',
      path: 'payload.amount',
      operator: 'greaterThan',
      expected: 10,
      actual: 5,
    }),
    revision: 1,
  });
}

/** Executions per event in both floors, as in the comparison's workload. */
const FLOOR_PER_EVENT = 50;

/**
 * Runs `event` (one event's recording) over four rounds of 4,000 events and prints the
 * CPU time per execution of the last three (the first warms up).
 */
function printFloor(label: string, unit: string, event: () => void): void {
  const rounds: number[] = [];
  const events = 4_000;
  for (let round = 0; round < 4; round++) {
    const start = process.cpuUsage();
    for (let k = 0; k < events; k++) event();
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / (events * FLOOR_PER_EVENT));
  }
  const steady = rounds.slice(1).sort((a, b) => a - b);
  const lo = steady[0]!;
  const hi = steady[steady.length - 1]!;
  console.log(
    `${label}: ${fmt(lo, 2)}–${fmt(hi, 2)} µs of CPU per ${unit}, ` +
      `${fmt(lo * FLOOR_PER_EVENT)}–${fmt(hi * FLOOR_PER_EVENT)} µs per event of ${FLOOR_PER_EVENT} executions`,
  );
}

/**
 * What one-document-per-execution recording costs with no engine and no adapter: plain
 * frozen objects in a `Map` with one `Set` index per rule, the 100,000th-oldest deleted
 * as each new one goes in (the retention of the comparison above). A lower bound for
 * any adapter that stores executions as separate documents.
 */
function recordingFloor(): void {
  const triggerData = Object.freeze({ integrationId: BENCH_INTEGRATION, type: 't', payload: {} });
  const KEEP = 100_000;
  const docs = new Map<string, { ruleId: string }>();
  const byRule = new Map<string, Set<object>>();
  const key = (n: number): string => `e${n.toString(36).padStart(8, '0')}`;
  let n = 0;
  console.log('');
  printFloor('recording floor (plain Map + Set, no adapter, 100,000 kept)', 'document', () => {
    const now = new Date().toISOString();
    for (let j = 0; j < FLOOR_PER_EVENT; j++, n++) {
      const ruleId = `rule-${(n * 7) % 1000}`;
      const doc = floorExecution(key(n), ruleId, now, triggerData);
      docs.set(doc.id, doc);
      let bucket = byRule.get(ruleId);
      if (!bucket) {
        bucket = new Set();
        byRule.set(ruleId, bucket);
      }
      bucket.add(doc);
      if (n >= KEEP) {
        const old = docs.get(key(n - KEEP))!;
        docs.delete(key(n - KEEP));
        byRule.get(old.ruleId)!.delete(old);
      }
    }
  });
}

/**
 * The same history kept as plugboard keeps it now, with no engine and no adapter: per
 * event one frozen record holding 50 frozen executions (the event shared), a `Set` per
 * rule indexing the records it appears in, per-rule queues of 100, and a record deleted
 * when the last of its executions has expired. A lower bound for the record layout.
 */
function recordsFloor(): void {
  const triggerData = Object.freeze({ integrationId: BENCH_INTEGRATION, type: 't', payload: {} });
  const KEEP_PER_RULE = 100;
  const records = new Map<string, { ruleIds: readonly string[] }>();
  const byRule = new Map<string, Set<object>>();
  const live = new Map<string, number>();
  const queues = new Map<string, string[]>();
  let n = 0;
  let g = 0;
  const expireOldest = (q: string[]): void => {
    const old = q.shift()!;
    const left = live.get(old)! - 1;
    if (left > 0) {
      live.set(old, left);
      return;
    }
    live.delete(old);
    const gone = records.get(old)!;
    records.delete(old);
    for (const r of gone.ruleIds) byRule.get(r)!.delete(gone);
  };
  printFloor(
    `records floor (one record of ${FLOOR_PER_EVENT} per event, plain Map + Set, no adapter, 100 kept per rule)`,
    'execution',
    () => {
      const now = new Date().toISOString();
      const id = `r${(g++).toString(36).padStart(8, '0')}`;
      const ruleIds = new Array<string>(FLOOR_PER_EVENT);
      const executions = new Array<object>(FLOOR_PER_EVENT);
      for (let j = 0; j < FLOOR_PER_EVENT; j++, n++) {
        const ruleId = `rule-${(n * 7) % 1000}`;
        ruleIds[j] = ruleId;
        executions[j] = floorExecution(`${id}.${j}`, ruleId, now, triggerData);
      }
      const record = Object.freeze({
        id,
        ruleIds: Object.freeze(ruleIds),
        startTime: now,
        executions: Object.freeze(executions),
        revision: 1,
      });
      records.set(id, record);
      live.set(id, FLOOR_PER_EVENT);
      for (const ruleId of ruleIds) {
        let bucket = byRule.get(ruleId);
        if (!bucket) {
          bucket = new Set();
          byRule.set(ruleId, bucket);
        }
        bucket.add(record);
        let q = queues.get(ruleId);
        if (!q) {
          q = [];
          queues.set(ruleId, q);
        }
        q.push(id);
        if (q.length > KEEP_PER_RULE) expireOldest(q);
      }
    },
  );
}

async function compare(): Promise<void> {
  const rules = generateRules(RULES);
  const events = generateEvents(EVENTS);

  // json-rules-engine, best configuration: one Engine per trigger type.
  const jre = new Map<string, Engine>();
  for (const type of TRIGGER_TYPES) jre.set(type, new Engine([], { allowUndefinedFacts: true }));
  for (const r of rules) {
    jre.get(r.triggerType)!.addRule({
      name: r.id,
      conditions: toJreConditions(r.tree) as never,
      event: { type: r.id },
    });
  }
  const jreRun = async (e: WorkloadEvent): Promise<string[]> => {
    const res = await jre.get(e.type)!.run({ payload: e.payload });
    return res.events.map((x) => x.type);
  };

  const world = await plugboardWorld({ retention: { maxExecutionsPerRule: 100 } });
  for (const r of rules) await world.engine.createRule(ruleInput(r));
  const lean = await plugboardWorld({
    retention: { maxExecutionsPerRule: 100 },
    recordUnmatched: false,
  });
  for (const r of rules) await lean.engine.createRule(ruleInput(r));
  const bare = await plugboardWorld({ retention: { maxExecutionsPerRule: 100 } });
  for (const r of rules) await bare.engine.createRule(ruleInput(r, false));
  const pbEvaluate = async (e: WorkloadEvent): Promise<string[]> =>
    (await world.engine.evaluate(event(e))).filter((x) => x.conditionsMet).map((x) => x.ruleId);
  const pbDispatch = async (e: WorkloadEvent): Promise<string[]> =>
    (await world.engine.dispatch(event(e))).filter((x) => x.conditionsMet).map((x) => x.ruleId);
  const pbLean = async (e: WorkloadEvent): Promise<string[]> =>
    (await lean.engine.dispatch(event(e))).filter((x) => x.conditionsMet).map((x) => x.ruleId);
  const pbBare = async (e: WorkloadEvent): Promise<string[]> =>
    (await bare.engine.dispatch(event(e))).filter((x) => x.conditionsMet).map((x) => x.ruleId);
  // What a UI showing every explanation pays: the annotated trees are built on access.
  const pbExplain = async (e: WorkloadEvent): Promise<number> => {
    let leaves = 0;
    for (const r of await world.engine.evaluate(event(e))) {
      for (const c of r.conditions) if (c.tree && 'all' in c.tree) leaves += c.tree.all.length;
    }
    return leaves;
  };

  // Identical matches before any timing.
  const t0 = performance.now();
  const sumJre = checksum(await mapSeq(events, jreRun));
  const jreFullMs = performance.now() - t0;
  const t1 = performance.now();
  const sumEval = checksum(await mapSeq(events, pbEvaluate));
  const evalFullMs = performance.now() - t1;
  const t2 = performance.now();
  const sumDispatch = checksum(await mapSeq(events, pbDispatch));
  const dispatchFullMs = performance.now() - t2;
  const t3 = performance.now();
  const sumLean = checksum(await mapSeq(events, pbLean));
  const leanFullMs = performance.now() - t3;
  const t4 = performance.now();
  const sumBare = checksum(await mapSeq(events, pbBare));
  const bareFullMs = performance.now() - t4;
  console.log(
    `\nworkload: ${RULES} rules / ${TRIGGER_TYPES.length} trigger types, ${EVENTS} events; ` +
      `checksums json-rules-engine ${sumJre.hash} (${sumJre.matches} matches), ` +
      `plugboard evaluate ${sumEval.hash} (${sumEval.matches}), dispatch ${sumDispatch.hash} (${sumDispatch.matches}), ` +
      `dispatch recordUnmatched:false ${sumLean.hash} (${sumLean.matches}), ` +
      `dispatch of rules without actions ${sumBare.hash} (${sumBare.matches})`,
  );
  if (
    sumJre.hash !== sumEval.hash ||
    sumJre.hash !== sumDispatch.hash ||
    sumJre.hash !== sumLean.hash ||
    sumJre.hash !== sumBare.hash
  ) {
    throw new Error('plugboard and json-rules-engine disagree on the matches; not timing');
  }
  console.log(
    `full pass over ${EVENTS} events: json-rules-engine ${fmt(jreFullMs)} ms, ` +
      `plugboard evaluate ${fmt(evalFullMs)} ms, dispatch+record ${fmt(dispatchFullMs)} ms, ` +
      `dispatch+record (recordUnmatched: false) ${fmt(leanFullMs)} ms, ` +
      `dispatch+record of rules without actions ${fmt(bareFullMs)} ms`,
  );

  let i = 0;
  let j = 0;
  let k = 0;
  let l = 0;
  let m = 0;
  let b = 0;
  const rows = await runBench(
    `rules: ${RULES} rules, ${TRIGGER_TYPES.length} trigger types (one event per op)`,
    [
      { name: 'json-rules-engine 7 run()', fn: () => jreRun(events[i++ % EVENTS]!) },
      { name: 'plugboard evaluate()', fn: () => pbEvaluate(events[j++ % EVENTS]!) },
      {
        name: 'plugboard evaluate() + reading every explanation',
        fn: () => pbExplain(events[m++ % EVENTS]!),
      },
      {
        name: 'plugboard dispatch() + MemoryStorage recording (default: every triggered rule)',
        fn: () => pbDispatch(events[k++ % EVENTS]!),
      },
      {
        name: 'plugboard dispatch() + MemoryStorage recording (recordUnmatched: false)',
        fn: () => pbLean(events[l++ % EVENTS]!),
      },
      {
        name: 'plugboard dispatch() + MemoryStorage recording, rules without actions',
        fn: () => pbBare(events[b++ % EVENTS]!),
      },
    ],
    { time: 2000, warmupTime: 500 },
  );
  printRatios(rows);
  await interleaved(
    [
      { name: 'json-rules-engine 7 run()', fn: jreRun },
      { name: 'plugboard evaluate()', fn: pbEvaluate },
      { name: 'plugboard dispatch() + recording (default)', fn: pbDispatch },
      { name: 'plugboard dispatch() + recording (recordUnmatched: false)', fn: pbLean },
      { name: 'plugboard dispatch() + recording, rules without actions', fn: pbBare },
    ],
    events,
  );
  for (const w of [world, lean, bare]) {
    await w.engine.close();
    await w.config.close();
  }
}

/** `global.gc` without a command-line flag. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function mapSeq<T, R>(items: readonly T[], fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const x of items) out.push(await fn(x));
  return out;
}

/**
 * Runs the engines in alternating batches over the same events and compares median
 * batch times, wall clock and CPU (`process.cpuUsage`, GC threads included): fairer than
 * back-to-back runs when the machine's load changes, and CPU time does not count the
 * time the process waited for a core.
 */
async function interleaved(
  engines: readonly { name: string; fn: (e: WorkloadEvent) => Promise<unknown> }[],
  events: readonly WorkloadEvent[],
  rounds = 8,
  batch = 500,
): Promise<void> {
  const wall = engines.map(() => [] as number[]);
  const cpu = engines.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    const start = (r * batch) % events.length;
    const slice = events.slice(start, start + batch);
    for (let e = 0; e < engines.length; e++) {
      const c = process.cpuUsage();
      const t = performance.now();
      for (const ev of slice) await engines[e]!.fn(ev);
      wall[e]!.push(((performance.now() - t) * 1000) / slice.length);
      const d = process.cpuUsage(c);
      cpu[e]!.push((d.user + d.system) / slice.length);
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const baseWall = median(wall[0]!);
  const baseCpu = median(cpu[0]!);
  console.log(
    `\n## rules: interleaved batches (${rounds} rounds × ${batch} events, medians per event)\n`,
  );
  console.log(
    '| engine | wall µs/event | events/s (wall) | × jre (wall) | CPU µs/event | events per CPU-second | × jre (CPU) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  engines.forEach((eng, e) => {
    const w = median(wall[e]!);
    const c = median(cpu[e]!);
    console.log(
      `| ${eng.name} | ${fmt(w, 1)} | ${fmt(1e6 / w)} | ${fmt(baseWall / w, 1)} | ${fmt(c, 1)} | ${fmt(1e6 / c)} | ${fmt(baseCpu / c, 1)} |`,
    );
  });
}

function printRatios(rows: readonly BenchRow[]): void {
  const [jre, evaluate, explain, dispatch, lean, bare] = rows;
  if (!jre || !evaluate || !explain || !dispatch || !lean || !bare) return;
  console.log('\n| engine | events/s | µs/event | × json-rules-engine | target |');
  console.log('|---|---:|---:|---:|---:|');
  const line = (r: BenchRow, target: string): void =>
    console.log(
      `| ${r.name} | ${fmt(r.opsPerSec)} | ${fmt(1e6 / r.opsPerSec, 2)} | ${fmt(r.opsPerSec / jre.opsPerSec, 1)} | ${target} |`,
    );
  line(jre, '');
  line(evaluate, '≥ 100×');
  line(explain, '');
  line(dispatch, '≥ 20×');
  line(lean, '≥ 20×');
  line(bare, '');
}

async function loadTest(): Promise<void> {
  const rules = generateRules(LOAD_RULES, 99);
  const world = await plugboardWorld();
  // Stored rules, as another process left them: the engine loads and compiles them.
  const col = world.storage.collection<{ id: string; revision: number }>('rules');
  const now = new Date().toISOString();
  for (const r of rules) {
    await col.insert({
      ...ruleInput(r),
      enabled: true,
      triggerConfig: {},
      createdAt: now,
      updatedAt: now,
    } as never);
  }
  const gc = exposeGc();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const engine = new RuleEngine({
    storage: world.storage,
    registry: world.registry,
    config: world.config,
  });
  const t0 = performance.now();
  await engine.ready();
  const ms = performance.now() - t0;
  gc();
  const heap = process.memoryUsage().heapUsed;
  const probe = await engine.evaluate(event(generateEvents(1, 3)[0]!));
  console.log(`\n## rules: load and compile ${fmt(LOAD_RULES)} stored rules\n`);
  console.log(
    '| rules | load + compile (ms) | heap used after (MB) | heap added by the engine (MB) | rules per trigger type |',
  );
  console.log('|---:|---:|---:|---:|---:|');
  console.log(
    `| ${fmt(LOAD_RULES)} | ${fmt(ms)} | ${fmt(heap / 2 ** 20)} | ${fmt((heap - heapBefore) / 2 ** 20)} | ${fmt(probe.length)} |`,
  );
  if (ms > 5000) console.log('WARNING: above the 5 s target');
  if (heap > 500 * 2 ** 20) console.log('WARNING: above the 500 MB heap target');
  await engine.close();
  await world.engine.close();
  await world.config.close();
}
