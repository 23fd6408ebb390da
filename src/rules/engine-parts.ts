/**
 * The parts a `RuleEngine` is made of, wired together from its options, and its shutdown.
 * The facade (engine.ts) holds them and delegates.
 *
 * @internal
 * @module
 */
import { StorageClosedError, ValidationError } from '../errors.js';
import { optionsOf } from '../internal/options.js';
import type { Collection } from '../storage/types.js';
import { ActionRunner } from './action-runner.js';
import { Replays } from './delivery/replay.js';
import { DeliveryService } from './delivery/service.js';
import { Deduplicator } from './dispatch/dedup.js';
import { ExecutionRecorder } from './dispatch/dispatch-record.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { InFlightDispatches } from './dispatch/in-flight.js';
import { RuntimeLookup } from './dispatch/runtime-lookup.js';
import { RuleAccess } from './engine-access.js';
import { type RuleEngineOptions, resolveOptions } from './engine-options.js';
import { Evaluator } from './evaluate.js';
import type { RuleEngineEvents } from './events.js';
import { LogWriter } from './execution-log.js';
import { ExecutionStore } from './history/index.js';
import { workerConcurrency } from './input-checks.js';
import type { RuleEventsPort } from './ports.js';
import { compileOrThrow, RuleIndex } from './rule-index.js';
import type { CompiledRule } from './rule-shape.js';
import { RuleValidator, type WarningsHook } from './rule-validation.js';
import type { Rule } from './types.js';

/** The indexed fields of `rules`. */
const RULE_INDEXES = ['integrationId', 'triggerType', 'enabled'];

/** Everything a `RuleEngine` delegates to. */
export interface EngineParts {
  readonly rules: Collection<Rule>;
  readonly store: ExecutionStore;
  readonly index: RuleIndex;
  readonly validator: RuleValidator;
  readonly inFlight: InFlightDispatches;
  readonly actions: ActionRunner;
  readonly dispatcher: Dispatcher;
  readonly evaluator: Evaluator;
  readonly access: RuleAccess;
  /** Durable delivery; undefined with `delivery.mode: 'inline'`. */
  readonly delivery: DeliveryService | undefined;
  readonly replays: Replays;
  readonly dedup: Deduplicator;
  readonly closeGraceMs: number;
  /** Undoes the reference checkers and stops the timers. */
  readonly detach: () => void;
}

/** What the parts ask of the facade. */
export interface Facade {
  readonly getRule: (id: string) => Promise<Rule>;
  readonly ready: () => Promise<void>;
}

/**
 * Builds the parts of an engine.
 *
 * @throws ValidationError for invalid options
 */
export function buildParts(
  options: RuleEngineOptions,
  events: RuleEventsPort & { emit: (...a: Parameters<RuleEventsPort['emit']>) => boolean },
  facade: Facade,
): EngineParts {
  const o = resolveOptions(options);
  const { storage, registry, config } = options;
  const rules = storage.collection<Rule>('rules', { indexes: RULE_INDEXES });
  const store = new ExecutionStore(storage, options.retention);
  const index = new RuleIndex({
    rules,
    registry,
    beforeLoad: () => store.migrate(),
    onLoadFailed: (id, error) => events.emit('rule:load-failed', id, error),
  });
  const log = new LogWriter(o.logLevel);
  const actions = new ActionRunner({ registry, config, log, ...o });
  const lookup = new RuntimeLookup(registry);
  const windowMs = options.delivery?.dedupWindowMs;
  const dedup = new Deduplicator(storage, windowMs === undefined ? {} : { windowMs });
  const compile = (rule: Rule): CompiledRule => compileOrThrow(index, rule);
  const d = options.delivery;
  const delivery =
    d?.mode === 'inline'
      ? undefined
      : new DeliveryService({ ...o, storage, store, actions, compile, events, delivery: d });
  const inFlight = new InFlightDispatches();
  const dispatcher = new Dispatcher({
    registry,
    config,
    events,
    lookup,
    actions,
    recorder: new ExecutionRecorder(store, events),
    inFlight,
    log,
    nextEpoch: () => index.nextEpoch(),
    ...o,
    delivery: delivery?.deliverer,
    dedup,
    recorded: (id) => store.get(id).catch(() => undefined),
  });
  const detach = attach(options, index, store, dedup, facade);
  return {
    rules,
    store,
    index,
    validator: new RuleValidator(registry, config, index, o.schemaChecks, warnerOf(events)),
    inFlight,
    actions,
    dispatcher,
    evaluator: new Evaluator(lookup, () => index.nextEpoch()),
    access: new RuleAccess(options.authorize, config),
    delivery,
    replays: new Replays({ store, actions, delivery, compile, getRule: facade.getRule }),
    dedup,
    closeGraceMs: o.closeGraceMs,
    detach,
  };
}

/** Emits `rule:warnings` for a saved rule whose check left warnings. */
function warnerOf(events: Pick<RuleEventsPort, 'emit'>): WarningsHook {
  return (rule, warnings) => {
    events.emit('rule:warnings', rule, warnings);
  };
}

/**
 * Registers the engine's reference checkers with the registry and the config, and starts
 * the pruning timer (event ids always, history when `maxAgeMs` is set). Resolves with
 * the function that undoes both.
 */
function attach(
  options: RuleEngineOptions,
  index: RuleIndex,
  store: ExecutionStore,
  dedup: Deduplicator,
  facade: Facade,
): () => void {
  const unregister = [
    options.registry.addReferenceChecker((ref) => index.referencesTo(ref)),
    options.config.addReferenceChecker((id) => index.rulesNaming(id)),
  ];
  // The timer is the engine's own retention, not a caller's: the hook is not asked.
  const ageLimited = options.retention?.maxAgeMs !== undefined;
  const pruneTimer = setInterval(() => {
    facade
      .ready()
      .then(() => Promise.all([dedup.prune(), ageLimited && store.prune(index.ids())]))
      .catch(() => undefined);
  }, options.pruneIntervalMs ?? 60_000);
  pruneTimer.unref?.();
  return () => {
    clearInterval(pruneTimer);
    for (const undo of unregister) undo();
  };
}

/**
 * Stops an engine's parts: running dispatches and worker jobs get `grace` ms, then their
 * actions are aborted (interrupted durable executions stay unfinished, for another process
 * or the next start); the worker and the queue stop.
 */
export async function shutdownParts(p: EngineParts, grace: number): Promise<void> {
  p.detach();
  const running = Promise.allSettled([p.inFlight.settled(), p.delivery?.stopWorker()]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = await Promise.race([
    running.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), grace);
    }),
  ]);
  clearTimeout(timer);
  if (late) {
    p.actions.shutdown.abort(
      new StorageClosedError('RuleEngine closed while the action was running'),
    );
    // Their dispatches get the interrupted durable executions as stored.
    await p.delivery?.deliverer.waiters.close();
    await running;
  }
  await p.delivery?.close();
}

export type { RuleEngineEvents };

/**
 * The delivery a worker runs on and its concurrency (default `maxConcurrentActions`).
 *
 * @throws ValidationError for bad options, or an engine with inline delivery
 */
export function workerOf(
  p: EngineParts,
  opts: { readonly concurrency?: number } | undefined,
): { delivery: DeliveryService; concurrency: number } {
  const o = optionsOf(opts, 'worker options');
  const concurrency = workerConcurrency(o.concurrency, p.actions.maxConcurrent);
  if (!p.delivery) {
    throw new ValidationError(
      [{ path: 'delivery.mode', message: "is 'inline': there is no queue to work on" }],
      'startWorker',
    );
  }
  return { delivery: p.delivery, concurrency };
}
