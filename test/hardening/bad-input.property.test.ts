/**
 * Every public method of the four classes and of the storage collections answers bad
 * input with a PlugboardError, and changes nothing when it does. Methods are enumerated
 * from the prototypes, so a new method fails the coverage check until it has a valid
 * call here (or is excluded below, with the reason).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Collection,
  isPlugboardError,
  PluginLoader,
  type StoredDocument,
} from '../../src/index.js';
import {
  type AdapterKind,
  ALL_ADAPTERS,
  bigOrderRule,
  closePostgresWorlds,
  createWorld,
  orderEvent,
  type World,
} from '../rules/fixtures.js';

// ---------------------------------------------------------------------------------------
// Bad values

function nested(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

function cyclicObject(): unknown {
  const o: Record<string, unknown> = { a: 1 };
  o['self'] = o;
  return o;
}

function cyclicArray(): unknown {
  const a: unknown[] = [1];
  a.push(a);
  return a;
}

/** Values no public method should meet with a raw TypeError or RangeError. */
const BAD: Readonly<Record<string, () => unknown>> = {
  null: () => null,
  number: () => 42,
  NaN: () => Number.NaN,
  Infinity: () => Number.POSITIVE_INFINITY,
  'negative number': () => -1,
  'huge number': () => Number.MAX_VALUE,
  'empty string': () => '',
  'huge string': () => 'x'.repeat(100_000),
  true: () => true,
  BigInt: () => 10n,
  symbol: () => Symbol('bad'),
  function: () => () => 1,
  'empty array': () => [],
  'array of strings': () => ['a', 'b'],
  'empty object': () => ({}),
  'object nested 10,000 deep': () => nested(10_000, (v) => ({ a: v })),
  'array nested 10,000 deep': () => nested(10_000, (v) => [v]),
  'cyclic object': cyclicObject,
  'cyclic array': cyclicArray,
  'Invalid Date': () => new Date(Number.NaN),
  Date: () => new Date(0),
  '__proto__ key': () => JSON.parse('{"__proto__": {"polluted": true}, "x": 1}'),
  'null-prototype object': () => Object.create(null),
  Map: () => new Map([['a', 1]]),
  'object holding BigInt': () => ({ a: 1n }),
  'object holding a symbol': () => ({ a: Symbol('s') }),
  'object holding a function': () => ({ a: () => 1 }),
  'object holding Invalid Date': () => ({ a: new Date(Number.NaN) }),
};

// ---------------------------------------------------------------------------------------
// The world and the calls

interface Subjects {
  world: World;
  loader: PluginLoader;
  collection: Collection<StoredDocument>;
  ruleId: string;
  executionId: string;
}

/** A plugin the loader can load (its id is fresh). */
function extraPlugin(): Record<string, unknown> {
  return {
    id: 'extra',
    name: 'Extra',
    version: '1.0.0',
    authType: 'none',
    triggers: [{ type: 'thing.happened', name: 'Thing happened' }],
  };
}

type Target = 'registry' | 'loader' | 'config' | 'engine' | 'storage' | 'collection';

/** A valid call of each public method: the arguments the bad values are put into. */
const VALID: Readonly<Record<Target, Readonly<Record<string, (s: Subjects) => unknown[]>>>> = {
  registry: {
    reload: () => [],
    register: () => [extraPlugin(), { publish: true }],
    attachRuntime: () => ['shop', '1.0.0', { triggers: {}, conditions: {}, actions: {} }],
    detachRuntime: () => ['nope', '1.0.0'],
    hasRuntime: () => ['shop', '1.0.0'],
    get: () => ['shop', '^1.0.0'],
    getVersion: () => ['shop', '1.0.0'],
    listVersions: () => ['shop'],
    list: () => [{ status: 'published', limit: 5 }],
    search: () => ['shop', { limit: 5 }],
    publish: () => ['shop', '1.0.0'],
    deprecate: () => ['shop', '1.0.0', { reason: 'use chat', sunsetAt: '2030-01-01T00:00:00Z' }],
    archive: () => ['nope', '1.0.0'],
    delete: () => ['nope', '1.0.0'],
    addReferenceChecker: () => [async () => []],
    findReferences: () => ['shop', '1.0.0'],
    getAvailableTriggers: () => ['shop', '^1'],
    getAvailableConditions: () => ['shop', '^1'],
    getAvailableActions: () => ['chat', '^1'],
    getComponents: () => ['shop', '1.0.0'],
    getValidator: () => ['shop', '1.0.0', { kind: 'config' }],
    validateConfig: () => ['shop', { a: 1 }, '^1'],
    validateCredentials: () => ['shop', { apiKey: 'k' }, '^1'],
    validateEventPayload: () => ['shop', 'order.created', { amount: 1 }, '^1'],
    getSecretFields: () => ['shop', '1.0.0'],
    getMigrations: () => ['shop', '1.0.0'],
  },
  loader: {
    load: () => [extraPlugin(), { publish: true }],
    loadManifest: () => ['/nonexistent/plugboard-dir', {}],
    loadModule: () => ['/nonexistent/plugboard-module.js', {}],
    loadAll: () => [[extraPlugin()]],
    loadManifestsFrom: () => ['/nonexistent/plugboard-dir'],
    unload: () => ['nope', {}],
    list: () => [],
    getPlugin: () => ['shop', '1.0.0'],
  },
  config: {
    createInstance: () => [
      {
        integrationId: 'chat',
        name: 'Chat 2',
        credentials: { token: 't' },
        scope: { userId: 'u' },
      },
      {},
    ],
    getInstance: (s) => [s.world.shopInstanceId],
    updateInstance: (s) => [s.world.shopInstanceId, { name: 'Shop!' }, { expectedRevision: 99 }],
    upgradeInstance: (s) => [s.world.shopInstanceId, '2.0.0', {}],
    upgradeInstances: () => ['shop', '2.0.0', { dryRun: true }],
    deleteInstance: () => ['nope', {}],
    addReferenceChecker: () => [async () => []],
    listInstances: () => [{ integrationId: 'shop', limit: 5 }],
    resolveInstance: () => ['shop', { userId: 'u1', clientId: 'c1' }],
    invalidateCache: () => ['shop'],
    getCredentials: (s) => [s.world.shopInstanceId, { actor: 'tester' }],
    reencryptAll: () => [{ batchSize: 10 }],
    testConnection: () => ['nope', { actor: 'tester' }],
    // A missing instance is ignored: the well-formed call changes nothing.
    reportAuthFailure: () => ['nope', 'the service refused the key'],
    checkHealth: () => [{ integrationId: 'nope' }],
    startHealthChecks: () => [{ intervalMs: 60_000 }],
    buildAuthorizationUrl: (s) => [s.world.shopInstanceId, { redirectUri: 'https://x.test/cb' }],
    exchangeCode: (s) => [
      s.world.shopInstanceId,
      { code: 'c', state: 's', redirectUri: 'https://x.test/cb' },
    ],
    // The world has no OAuth2 integration: an unknown id is the well-formed call here.
    getAccessToken: () => ['nope', { actor: 'tester' }],
    getConfig: () => ['shop'],
    updateConfig: () => ['shop', { enabled: true, settings: { a: 1 } }],
    isEnabled: () => ['shop'],
    recordAudit: () => [{ action: 'custom', actor: 'tester', details: { a: 1 } }],
    getAuditLog: () => [{ limit: 5 }],
    pruneAuditLog: () => [],
    toJSON: () => [],
  },
  engine: {
    ready: () => [],
    reload: () => [],
    addOperator: () => ['isFortyTwo', (v: unknown) => v === 42, {}],
    validateRule: () => [bigOrderRule()],
    createRule: () => [bigOrderRule({ name: 'Another' })],
    updateRule: (s) => [s.ruleId, { name: 'Renamed' }, { expectedRevision: 99 }],
    deleteRule: () => ['nope'],
    enableRule: (s) => [s.ruleId],
    disableRule: () => ['nope'],
    getRule: (s) => [s.ruleId],
    getRulesByIntegration: () => ['shop'],
    listRules: () => [{ integrationId: 'shop', enabled: true, limit: 5 }],
    getRuleExecutions: (s) => [s.ruleId, { limit: 5 }],
    getExecutionLogs: (s) => [s.executionId],
    listExecutions: () => [{ integrationId: 'shop', status: ['succeeded', 'dead'], limit: 5 }],
    executions: () => [{ status: 'succeeded', limit: 5 }],
    getExecution: (s) => [s.executionId],
    waitForExecution: (s) => [s.executionId],
    replayExecution: (s) => [s.executionId, { rule: 'current', wait: true }],
    startWorker: () => [{ concurrency: 2 }],
    prune: () => [],
    dispatch: () => [orderEvent({ amount: 1 })],
    evaluate: () => [orderEvent({ amount: 500 })],
  },
  storage: {
    collection: () => ['things', { indexes: ['kind'] }],
  },
  collection: {
    get: () => ['a'],
    insert: () => [{ id: 'b', kind: 'x', data: { n: 1 } }],
    update: () => ['a', { data: { n: 2 } }, { expectedRevision: 99 }],
    delete: () => ['a', { expectedRevision: 99 }],
    find: () => [{ where: { kind: 'x' }, limit: 5 }],
    count: () => [{ kind: 'x' }],
  },
};

/**
 * Methods on the prototypes that take no caller input or are not public API, and why.
 * Everything else on the prototypes must have a valid call in {@link VALID}.
 */
const EXCLUDED: Readonly<Record<Target, Readonly<Record<string, string>>>> = {
  registry: {
    ensureLoaded: 'TypeScript-private helper',
    transition: 'TypeScript-private helper',
  },
  loader: { close: 'ends the loader (disposes every plugin); takes no input' },
  config: { close: 'ends the manager; takes no input' },
  engine: {
    assertOpen: 'TypeScript-private helper',
    shutdown: 'TypeScript-private helper',
    close: 'ends the engine; its only option (graceMs) is checked in engine tests',
  },
  storage: {
    close: 'ends the adapter; takes no input',
    shutdown: 'TypeScript-private helper (JsonFileStorage)',
    assertOpen: 'TypeScript-private helper (PostgresStorage)',
    track: 'TypeScript-private helper (PostgresStorage)',
  },
  collection: {
    declare: 'internal to the document store, not on the Collection interface',
    indexedFields: 'internal to the document store, not on the Collection interface',
    values: 'internal to the document store, not on the Collection interface',
    load: 'internal to the document store, not on the Collection interface',
    unload: 'internal to the document store, not on the Collection interface',
    appended: 'TypeScript-private helper',
    persist: 'TypeScript-private helper',
    assertOpen: 'TypeScript-private helper',
    firstById: 'TypeScript-private helper',
    run: 'TypeScript-private helper (PostgreSQL collection)',
    exec: 'TypeScript-private helper (PostgreSQL collection)',
    revisionOf: 'TypeScript-private helper (PostgreSQL collection)',
  },
};

/** Own method names of an object's prototype chain, below EventEmitter / Object. */
function publicMethods(obj: object): string[] {
  const names = new Set<string>();
  for (
    let proto = Object.getPrototypeOf(obj) as object | null;
    proto && proto !== Object.prototype && proto.constructor.name !== 'EventEmitter';
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== 'constructor' && typeof desc?.value === 'function') names.add(name);
    }
  }
  return [...names].sort();
}

function subjectOf(s: Subjects, target: Target): Record<string, (...a: unknown[]) => unknown> {
  const objects = {
    registry: s.world.registry,
    loader: s.loader,
    config: s.world.config,
    engine: s.world.engine,
    storage: s.world.storage,
    collection: s.collection,
  };
  return objects[target] as unknown as Record<string, (...a: unknown[]) => unknown>;
}

// ---------------------------------------------------------------------------------------
// Putting a bad value somewhere in the arguments

/** Paths into the arguments where a bad value can go: each argument, and fields of objects. */
function slotsOf(args: readonly unknown[]): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[], depth: number): void => {
    out.push(path);
    if (depth >= 3 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...path, i], depth + 1);
    } else {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k], depth + 1);
      out.push([...path, 'unexpected']);
    }
  };
  // One slot past the end: an optional argument left out.
  for (const [i, a] of args.entries()) walk(a, [i], 0);
  out.push([args.length]);
  return out;
}

function withBad(args: unknown[], path: readonly (string | number)[], bad: unknown): unknown[] {
  const copy = structuredClone(args.map((a) => (typeof a === 'function' ? null : a)));
  for (const [i, a] of args.entries()) if (typeof a === 'function') copy[i] = a;
  let parent: unknown = copy;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string, unknown>)[key];
  (parent as Record<string | number, unknown>)[path[path.length - 1]!] = bad;
  return copy;
}

// ---------------------------------------------------------------------------------------
// State

/** Every collection the classes write (and the test's own). */
const COLLECTIONS = [
  'definitions',
  'instances',
  'integration_configs',
  'audit_log',
  'oauth2_states',
  'oauth2_leases',
  'rules',
  'executions',
  'execution_logs',
  'things',
];

async function snapshot(s: Subjects): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const name of COLLECTIONS) {
    const docs: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.world.storage
        .collection(name)
        .find({ limit: 500, ...(cursor ? { cursor } : {}) });
      docs.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    state[name] = JSON.stringify(docs);
  }
  state['loaded'] = JSON.stringify(s.loader.list().map((p) => `${p.id}@${p.version}`));
  state['runtimes'] = JSON.stringify(
    ['shop', 'chat', 'extra'].map((id) => s.world.registry.hasRuntime(id, '1.0.0')),
  );
  return state;
}

/** The parts of the state that differ between two snapshots. */
function changedParts(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(after).filter((k) => before[k] !== after[k]);
}

async function buildSubjects(kind: AdapterKind): Promise<Subjects> {
  const world = await createWorld(kind);
  const loader = new PluginLoader({ registry: world.registry });
  const collection = world.storage.collection<StoredDocument>('things', { indexes: ['kind'] });
  await collection.insert({ id: 'a', kind: 'x', data: { n: 1 } } as never);
  const rule = await world.engine.createRule(bigOrderRule());
  const [execution] = await world.engine.dispatch(orderEvent({ amount: 500, id: 'o1' }));
  return { world, loader, collection, ruleId: rule.id, executionId: execution!.id };
}

// ---------------------------------------------------------------------------------------
// The property

interface Failure {
  readonly call: string;
  readonly problem: string;
}

const TARGETS = Object.keys(VALID) as Target[];

function callArb() {
  return fc
    .constantFrom(...TARGETS.flatMap((t) => Object.keys(VALID[t]).map((m) => [t, m] as const)))
    .chain(([target, method]) =>
      fc.record({
        target: fc.constant(target),
        method: fc.constant(method),
        slot: fc.nat(),
        bad: fc.constantFrom(...Object.keys(BAD)),
      }),
    );
}

/** One bad call: the valid call of `method` with `bad` put at `path` of its arguments. */
interface BadCall {
  readonly target: Target;
  readonly method: string;
  /** Picks the path among the argument slots, or gives it. */
  readonly slot: number | readonly (string | number)[];
  /** A name of {@link BAD}. */
  readonly bad: string;
}

async function runOne(s: Subjects, c: BadCall): Promise<{ failure?: Failure; changed: boolean }> {
  const args = VALID[c.target][c.method]!(s);
  const slots = slotsOf(args);
  const path = typeof c.slot === 'number' ? slots[c.slot % slots.length]! : c.slot;
  const badArgs = withBad(args, path, BAD[c.bad]!());
  const label = `${c.target}.${c.method} with ${c.bad} at args[${path.join('][')}]`;
  const before = await snapshot(s);
  let thrown: unknown;
  let result: unknown;
  try {
    const subject = subjectOf(s, c.target);
    result = await subject[c.method]!.apply(subject, badArgs);
  } catch (e) {
    thrown = e;
  }
  if (typeof result === 'function') await (result as () => unknown)();
  const after = await snapshot(s);
  const changed = changedParts(before, after);
  if (thrown !== undefined && !isPlugboardError(thrown)) {
    const name = thrown instanceof Error ? thrown.constructor.name : typeof thrown;
    const message = thrown instanceof Error ? thrown.message.slice(0, 120) : '';
    const problem = `${name}: ${message}`;
    return { failure: { call: label, problem }, changed: changed.length > 0 };
  }
  // Bad input changes nothing. A well-formed call that fails on the state (an unknown
  // id, a stale revision, a non-OAuth2 instance) may only add its audit entry: failed
  // credential reads and writes are audited by design.
  // A bad value where the method ignores it (an unknown option, an extra argument)
  // leaves a well-formed call, which is held to that rule too.
  const ignored = path.includes('unexpected') || (path.length === 1 && path[0] === args.length);
  const allowed = isPlugboardError(thrown, 'VALIDATION_FAILED') && !ignored ? [] : ['audit_log'];
  const unexpected = changed.filter((part) => !allowed.includes(part));
  if (thrown !== undefined && unexpected.length > 0) {
    const problem = `${(thrown as Error).name}, but ${unexpected.join(', ')} changed`;
    return { failure: { call: label, problem }, changed: true };
  }
  return { changed: changed.length > 0 };
}

/** Calls that answered with a raw TypeError or RangeError in 0.1.0, kept as fixed cases. */
const KNOWN_BAD_CALLS: readonly BadCall[] = [
  { target: 'registry', method: 'publish', slot: [0], bad: 'empty object' },
  { target: 'registry', method: 'getValidator', slot: [2, 'kind'], bad: 'number' },
  { target: 'registry', method: 'hasRuntime', slot: [0], bad: 'array nested 10,000 deep' },
  { target: 'engine', method: 'getRule', slot: [0], bad: 'null' },
  { target: 'engine', method: 'getExecutionLogs', slot: [0], bad: 'number' },
  { target: 'engine', method: 'getRuleExecutions', slot: [1, 'limit'], bad: 'symbol' },
  {
    target: 'engine',
    method: 'createRule',
    slot: [0, 'actions', 0, 'config'],
    bad: 'cyclic object',
  },
  { target: 'config', method: 'getCredentials', slot: [1], bad: 'null' },
  // Found by the property run once the access check read `opts.integrationId` first.
  { target: 'config', method: 'checkHealth', slot: [0], bad: 'null' },
  { target: 'config', method: 'getInstance', slot: [0], bad: 'null-prototype object' },
  {
    target: 'config',
    method: 'createInstance',
    slot: [0, 'credentials', 'unexpected'],
    bad: 'cyclic array',
  },
  {
    target: 'config',
    method: 'updateInstance',
    slot: [2, 'expectedRevision'],
    bad: 'null-prototype object',
  },
  { target: 'config', method: 'upgradeInstance', slot: [1], bad: 'huge string' },
  { target: 'loader', method: 'loadManifest', slot: [0], bad: 'number' },
  { target: 'loader', method: 'unload', slot: [1], bad: 'null' },
  { target: 'storage', method: 'collection', slot: [1, 'indexes'], bad: 'empty object' },
  { target: 'collection', method: 'update', slot: [0], bad: 'symbol' },
  { target: 'collection', method: 'insert', slot: [0, 'data'], bad: 'array nested 10,000 deep' },
];

function labelOf(c: BadCall): string {
  return `${c.target}.${c.method} with ${c.bad} at args${JSON.stringify(c.slot)}`;
}

/** Calls per adapter and run: at least 1,000 in all (PostgreSQL only with PLUGBOARD_TEST_PG_URL). */
const RUNS: Readonly<Record<string, number>> = { memory: 1000, 'json-file': 300, postgres: 200 };

afterAll(closePostgresWorlds);

describe.each(ALL_ADAPTERS)('bad input on %s storage', (kind) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('enumerates every public method: each has a valid call here or a stated exclusion', async () => {
    const s = await buildSubjects(kind);
    cleanups.push(() => s.world.cleanup());
    for (const target of TARGETS) {
      const methods = publicMethods(subjectOf(s, target));
      const untested = methods.filter((m) => !(m in VALID[target]) && !(m in EXCLUDED[target]));
      expect(untested, `${target} methods without a bad-input call`).toEqual([]);
      const gone = Object.keys(VALID[target]).filter((m) => !methods.includes(m));
      expect(gone, `${target} calls of methods that do not exist`).toEqual([]);
    }
  });

  it.each(KNOWN_BAD_CALLS.map((c) => [labelOf(c), c] as const))('%s', async (_name, c) => {
    const s = await buildSubjects(kind);
    cleanups.push(() => s.world.cleanup());
    const { failure } = await runOne(s, c);
    expect(failure).toBeUndefined();
  });

  it('answers every bad value with a PlugboardError and leaves state unchanged', async () => {
    let s = await buildSubjects(kind);
    const numRuns = Number(process.env['BAD_INPUT_RUNS'] ?? RUNS[kind]);
    const failures: Failure[] = [];
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(callArb(), async (c) => {
        calls++;
        const { failure, changed } = await runOne(s, c);
        if (failure) failures.push(failure);
        if (changed) {
          await s.world.cleanup();
          s = await buildSubjects(kind);
        }
      }),
      { numRuns },
    );
    cleanups.push(() => s.world.cleanup());
    expect(calls).toBe(numRuns);
    const unique = [...new Map(failures.map((f) => [`${f.call}`, f])).values()];
    if (unique.length > 0) {
      console.log(
        `${failures.length} of ${calls} bad calls failed:\n${unique
          .map((f) => `${f.call}: ${f.problem}`)
          .join('\n')}`,
      );
    }
    expect(unique).toEqual([]);
  }, 600_000);
});
