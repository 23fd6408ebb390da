/**
 * Rule engine benchmark against json-rules-engine 7 (`npm run bench:rules`).
 *
 * 1,000 rules over 20 trigger types (3–5 conditions each: equal, notEqual, greaterThan,
 * in, contains, nested paths) and 20,000 events, generated from a seeded PRNG. Every
 * configuration must produce the same matches as json-rules-engine (checksum over the
 * matched rule ids of every event) before it is timed. json-rules-engine runs in its
 * best configuration: one Engine per trigger type, facts passed per run. Each plugboard
 * configuration is then measured on its own (only its engine alive), by tinybench and by
 * interleaved batches against json-rules-engine; the targets are checked on the
 * interleaved ratios.
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
  // Bounded history everywhere, as in production: 100 executions per rule, and as many
  // audit entries (actions append one each) as the executions kept.
  const config = new ConfigManager({
    storage,
    registry,
    keyring,
    auditRetention: { maxEntries: 100_000 },
  });
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
  await loadTest();
}

/** One plugboard configuration measured against json-rules-engine. */
interface Contender {
  readonly name: string;
  /** The target ratio to json-rules-engine, if any. */
  readonly target?: number;
  /** Engine options, and whether each rule gets the no-op action. */
  readonly options: Partial<RuleEngineOptions>;
  readonly withAction: boolean;
  /** Runs one event, resolving with the ids of the rules whose conditions held. */
  readonly run: (engine: RuleEngine, e: WorkloadEvent) => Promise<string[]>;
}

const RETENTION = { retention: { maxExecutionsPerRule: 100 } };
const matchedOf = (xs: readonly { conditionsMet: boolean; ruleId: string }[]): string[] =>
  xs.filter((x) => x.conditionsMet).map((x) => x.ruleId);

/**
 * The configurations, each measured on its own (only its engine alive) against
 * json-rules-engine in the same period. The workload's rules are what json-rules-engine
 * runs: conditions, and a match that is reported (plugboard: and recorded). The rows
 * "with a no-op action" give each rule an action on top, which json-rules-engine has no
 * counterpart for.
 */
const CONTENDERS: readonly Contender[] = [
  {
    name: 'plugboard evaluate()',
    target: 100,
    options: RETENTION,
    withAction: false,
    run: async (engine, e) => matchedOf(await engine.evaluate(event(e))),
  },
  {
    name: 'plugboard dispatch() + MemoryStorage recording',
    target: 20,
    options: RETENTION,
    withAction: false,
    run: async (engine, e) => matchedOf(await engine.dispatch(event(e))),
  },
  {
    name: 'plugboard dispatch() + MemoryStorage recording (recordUnmatched: false)',
    options: { ...RETENTION, recordUnmatched: false },
    withAction: false,
    run: async (engine, e) => matchedOf(await engine.dispatch(event(e))),
  },
  {
    name: 'plugboard dispatch() + MemoryStorage recording, each rule with a no-op action',
    options: RETENTION,
    withAction: true,
    run: async (engine, e) => matchedOf(await engine.dispatch(event(e))),
  },
];

async function compare(): Promise<void> {
  const rules = generateRules(RULES);
  const events = generateEvents(EVENTS);
  const gc = exposeGc();

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

  // Identical matches before any timing.
  const t0 = performance.now();
  const sumJre = checksum(await mapSeq(events, jreRun));
  console.log(
    `\nworkload: ${RULES} rules / ${TRIGGER_TYPES.length} trigger types, ${EVENTS} events; ` +
      `json-rules-engine checksum ${sumJre.hash} (${sumJre.matches} matches), ` +
      `full pass ${fmt(performance.now() - t0)} ms`,
  );

  const summary: string[] = [];
  let jreTiny: BenchRow | undefined;
  for (const c of CONTENDERS) {
    const world = await plugboardWorld(c.options);
    for (const r of rules) await world.engine.createRule(ruleInput(r, c.withAction));
    const pb = (e: WorkloadEvent): Promise<string[]> => c.run(world.engine, e);
    const t = performance.now();
    const sum = checksum(await mapSeq(events, pb));
    const fullMs = performance.now() - t;
    console.log(
      `\n${c.name}: checksum ${sum.hash} (${sum.matches} matches), full pass ${fmt(fullMs)} ms`,
    );
    if (sum.hash !== sumJre.hash) {
      throw new Error(`${c.name} and json-rules-engine disagree on the matches; not timing`);
    }
    let i = 0;
    let j = 0;
    const tasks = [{ name: c.name, fn: () => pb(events[j++ % EVENTS]!) }];
    // json-rules-engine's tinybench row is measured once, with the first contender.
    if (!jreTiny)
      tasks.unshift({ name: 'json-rules-engine 7 run()', fn: () => jreRun(events[i++ % EVENTS]!) });
    const rows = await runBench(
      `rules: ${RULES} rules, ${TRIGGER_TYPES.length} trigger types (one event per op)`,
      tasks,
      { time: 2000, warmupTime: 500 },
    );
    jreTiny ??= rows[0];
    const row = rows[rows.length - 1]!;
    const ratio = await interleaved(jreRun, c.name, pb, events);
    summary.push(
      `| ${c.name} | ${fmt(ratio.wall, 1)} | ${fmt(ratio.wallRatio, 1)} | ${fmt(ratio.cpu, 1)} | ${fmt(ratio.cpuRatio, 1)} | ${fmt(1e6 / row.opsPerSec, 1)} | ${fmt(row.opsPerSec / jreTiny!.opsPerSec, 1)} | ${verdict(c.target, ratio)} |`,
    );
    if (c.name === 'plugboard evaluate()') {
      // What a UI showing every explanation pays: the annotated trees are built on access.
      let m = 0;
      await runBench(
        'rules: evaluate() and reading every explanation',
        [
          {
            name: 'plugboard evaluate() + reading every explanation',
            fn: async () => {
              let leaves = 0;
              for (const r of await world.engine.evaluate(event(events[m++ % EVENTS]!))) {
                for (const x of r.conditions)
                  if (x.tree && 'all' in x.tree) leaves += x.tree.all.length;
              }
              return leaves;
            },
          },
        ],
        { time: 1000, warmupTime: 200 },
      );
    }
    await world.engine.close();
    await world.config.close();
    gc();
  }
  console.log(
    '\n## rules: each configuration against json-rules-engine (interleaved batches of equal duration, 8 rounds, medians; tinybench means)\n',
  );
  console.log(
    '| plugboard | wall µs/event | × jre (wall) | CPU µs/event | × jre (CPU) | tinybench µs/event | × jre (tinybench) | target |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const line of summary) console.log(line);
  console.log(`\njson-rules-engine tinybench mean: ${fmt(1e6 / jreTiny!.opsPerSec, 1)} µs/event`);
}

/** `≥ N×: met` when both interleaved ratios (wall and CPU) reach the target. */
function verdict(
  target: number | undefined,
  ratio: { wallRatio: number; cpuRatio: number },
): string {
  if (target === undefined) return '';
  const met = ratio.wallRatio >= target && ratio.cpuRatio >= target;
  return `≥ ${target}×: ${met ? 'met' : 'NOT met'}`;
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
 * Runs json-rules-engine and one plugboard configuration in alternating batches over the
 * same events and compares the median per-event times of the batches, wall clock and CPU
 * (`process.cpuUsage`, GC threads included): fairer than back-to-back runs when the
 * machine's load changes, and CPU time does not count the time the process waited for a
 * core. Each batch of either engine lasts about the same time (json-rules-engine runs
 * 100 events, plugboard as many as it runs in that time), so each pays for its own
 * garbage collection rather than for the other's.
 */
async function interleaved(
  jre: (e: WorkloadEvent) => Promise<unknown>,
  name: string,
  pb: (e: WorkloadEvent) => Promise<unknown>,
  events: readonly WorkloadEvent[],
  rounds = 8,
): Promise<{ wall: number; cpu: number; wallRatio: number; cpuRatio: number }> {
  const JRE_BATCH = 100;
  let offset = 0;
  const run = async (fn: (e: WorkloadEvent) => Promise<unknown>, n: number) => {
    const c = process.cpuUsage();
    const t = performance.now();
    for (let k = 0; k < n; k++) await fn(events[offset++ % events.length]!);
    const d = process.cpuUsage(c);
    return { wall: ((performance.now() - t) * 1000) / n, cpu: (d.user + d.system) / n };
  };
  // Calibrate plugboard's batch to last as long as json-rules-engine's.
  const j0 = await run(jre, JRE_BATCH);
  const p0 = await run(pb, JRE_BATCH);
  const pbBatch = Math.min(
    events.length,
    Math.max(JRE_BATCH, Math.round((JRE_BATCH * j0.wall) / p0.wall)),
  );
  const wall: number[][] = [[], []];
  const cpu: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) {
    const a = await run(jre, JRE_BATCH);
    const b = await run(pb, pbBatch);
    wall[0]!.push(a.wall);
    cpu[0]!.push(a.cpu);
    wall[1]!.push(b.wall);
    cpu[1]!.push(b.cpu);
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)]!;
  };
  const [jw, pw, jc, pc] = [median(wall[0]!), median(wall[1]!), median(cpu[0]!), median(cpu[1]!)];
  console.log(
    `interleaved (${rounds} rounds of ${JRE_BATCH} json-rules-engine events and ${pbBatch} plugboard events, medians): ` +
      `json-rules-engine ${fmt(jw, 1)} µs/event wall, ${fmt(jc, 1)} CPU; ${name} ${fmt(pw, 1)} wall, ${fmt(pc, 1)} CPU: ` +
      `${fmt(jw / pw, 1)}× (wall), ${fmt(jc / pc, 1)}× (CPU)`,
  );
  return { wall: pw, cpu: pc, wallRatio: jw / pw, cpuRatio: jc / pc };
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
