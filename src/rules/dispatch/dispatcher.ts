/**
 * `dispatch`: the enabled rules of an event's `(integrationId, type)` run as a pipeline
 * of named steps — trigger filter, conditions (decided at once when they are all
 * `match` ones), actions — and every execution lands in the dispatch's record.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../../errors.js';
import { isoAt, isoNow } from '../../internal/clock.js';
import { errorMessage } from '../../internal/error-message.js';
import { MAX_ID_LENGTH, OrderedIds } from '../../internal/ids.js';
import { frozenJson, shareFrozen } from '../../internal/json.js';
import { CYCLIC, jsonBytesUpTo } from '../../internal/json-size.js';
import type { ConditionContext, IntegrationEvent } from '../../schema/runtime.js';
import type { ActionRunner, DispatchScope } from '../action-runner.js';
import { type CompiledMatch, whyMatch } from '../compile.js';
import type { Deliverer } from '../delivery/deliverer.js';
import type { LogWriter } from '../execution-log.js';
import { type LogEntry, suffix } from '../history/index.js';
import type { ConfigPort, RegistryPort, RuleEventsPort } from '../ports.js';
import type { CompiledRule } from '../rule-shape.js';
import type { Execution } from '../types.js';
import type { Deduplicator, FirstClaim } from './dedup.js';
import { DispatchRecord, type ExecutionRecorder, NO_LOGS } from './dispatch-record.js';
import { checkEventId, EventIdTemplateCache, eventIdOf } from './event-id.js';
import { type Delegated, type ExecutionDraft, type Finished, seal } from './execution-draft.js';
import type { InFlightDispatches } from './in-flight.js';
import { failedEntry, firstFailing, type MatchCondition } from './match-failures.js';
import {
  customCheck,
  type DispatchRuntime,
  filterOf,
  type RuntimeLookup,
} from './runtime-lookup.js';

/** What a {@link Dispatcher} works with. */
export interface DispatcherOptions {
  readonly registry: Pick<RegistryPort, 'getValidator'>;
  readonly config: Pick<ConfigPort, 'isEnabled'>;
  readonly events: RuleEventsPort;
  readonly lookup: RuntimeLookup;
  readonly actions: ActionRunner;
  readonly recorder: ExecutionRecorder;
  readonly inFlight: InFlightDispatches;
  readonly log: LogWriter;
  /** Starts a new evaluation of the engine's memoising path readers (`CompileCache.nextEpoch`). */
  readonly nextEpoch: () => void;
  /** Validate event payloads against the trigger's `payloadSchema`. */
  readonly validatePayloads: boolean;
  /** Record executions whose conditions were not met. */
  readonly recordUnmatched: boolean;
  /** The largest event accepted, in bytes of UTF-8 JSON (`RuleEngineOptions.maxEventBytes`). */
  readonly maxEventBytes: number;
  /** Runs executions with actions durably; undefined: inline (in memory). */
  readonly delivery: Deliverer | undefined;
  /** Claims event ids, so a redelivered event runs nothing. */
  readonly dedup: Deduplicator;
  /** Reads recorded executions, to answer a duplicate with the first delivery's. */
  readonly recorded: (executionId: string) => Promise<Execution | undefined>;
}

/** Ids of one dispatch's executions: `<base>.<n>`, n counting up. */
interface DispatchIds {
  readonly base: string;
  n: number;
}

/** One dispatch on its way through the steps. */
interface DispatchRun {
  readonly event: IntegrationEvent;
  readonly rt: DispatchRuntime;
  readonly now: string;
  /** One frozen copy of the event serves every execution this dispatch records. */
  readonly triggerData: unknown;
  readonly ids: DispatchIds;
  readonly scope: DispatchScope;
  readonly record: DispatchRecord;
  /** Whether the dispatch resolves once durable executions finished (else once recorded). */
  readonly wait: boolean;
}

/** A condition evaluation that threw. */
interface Thrown {
  readonly error: unknown;
}

/**
 * Checks an event given to `dispatch` or `evaluate`: its shape, the length of its ids,
 * and its size against `maxEventBytes`.
 *
 * @throws ValidationError for an event without a non-empty `integrationId` and `type` (of
 *   at most 256 characters), or one over `maxEventBytes` as UTF-8 JSON, or cyclic
 */
export function checkEvent(event: IntegrationEvent, maxEventBytes: number): void {
  const issues: ValidationIssue[] = [];
  if (event === null || typeof event !== 'object') {
    throw new ValidationError([{ path: '', message: 'an event must be an object' }], 'event');
  }
  for (const field of ['integrationId', 'type'] as const) {
    const v: unknown = event[field];
    if (typeof v !== 'string' || v.length === 0) {
      issues.push({ path: field, message: 'must be a non-empty string' });
    } else if (v.length > MAX_ID_LENGTH) {
      issues.push({ path: field, message: `must be at most ${MAX_ID_LENGTH} characters` });
    }
  }
  const idIssue = checkEventId(event);
  if (idIssue) issues.push(idIssue);
  if (issues.length > 0) throw new ValidationError(issues, 'event');
  const bytes = jsonBytesUpTo(event, maxEventBytes);
  if (bytes === CYCLIC) {
    throw new ValidationError(
      [{ path: '', message: 'must be JSON, but contains itself' }],
      'event',
    );
  }
  if (bytes > maxEventBytes) {
    throw new ValidationError(
      [
        {
          path: '',
          message: `is larger than maxEventBytes (${maxEventBytes}) as UTF-8 JSON; send a smaller payload or raise the RuleEngine option maxEventBytes`,
        },
      ],
      'event',
    );
  }
}

/** Runs the rules of events and records their executions. */
export class Dispatcher {
  private readonly o: DispatcherOptions;
  /**
   * Dispatch ids, `ex_<ms>_<seq>_<node>`: in time order, and unique across processes
   * writing one store (128 random bits per engine).
   */
  private readonly ids = new OrderedIds('ex_', '_');
  private readonly templates = new EventIdTemplateCache();

  constructor(options: DispatcherOptions) {
    this.o = options;
  }

  /** {@link checkEvent} with this engine's `maxEventBytes`. @throws ValidationError */
  checkEvent(event: IntegrationEvent): void {
    checkEvent(event, this.o.maxEventBytes);
  }

  /**
   * Runs `bucket`, the enabled rules of the event's trigger type, and resolves with the
   * recorded executions once their actions finished.
   *
   * @throws ValidationError for a payload that fails the trigger's `payloadSchema`
   */
  async dispatch(
    event: IntegrationEvent,
    bucket: readonly CompiledRule[],
    wait = true,
  ): Promise<Execution[]> {
    const [enabled, rt] = await Promise.all([
      this.o.config.isEnabled(event.integrationId),
      this.o.lookup.runtimeFor(event, this.o.validatePayloads),
    ]);
    if (!enabled || !rt?.trigger) return [];
    this.validatePayload(event, rt);
    const ms = Date.now();
    const id = this.ids.next(ms);
    const eventId = eventIdOf(event, this.templates.get(rt.trigger.eventId));
    if (eventId === undefined) return this.run(this.begin(event, rt, wait, id, ms), bucket);
    const claim = await this.o.dedup.claim(event.integrationId, eventId, id);
    if (!claim.first) return this.duplicates(claim.executionIds);
    // A dispatch that died holding the claim may have stored executions: they run to the end.
    const left = await this.o.delivery?.storedBy(claim.takenOver, bucket.length);
    if (left !== undefined && left.length > 0) return this.adopt(claim, left);
    try {
      return await this.run(this.begin(event, rt, wait, id, ms), bucket, claim);
    } catch (e) {
      await claim.abandon().catch(() => undefined);
      throw e;
    }
  }

  /** Runs the bucket's rules; a claimed event id is completed once the executions are recorded. */
  private run(
    run: DispatchRun,
    bucket: readonly CompiledRule[],
    claim?: FirstClaim,
  ): Promise<Execution[]> {
    for (const cr of bucket.slice()) this.step(run, cr);
    if (!claim) return run.record.flush();
    const ids: string[] = [];
    for (let n = 0; n < run.ids.n; n++) ids.push(run.ids.base + suffix(n));
    return run.record.flush(async () => {
      await claim.complete(ids);
    });
  }

  /** Completes a claim with the executions a dead dispatch left, and answers with them. */
  private async adopt(claim: FirstClaim, ids: readonly string[]): Promise<Execution[]> {
    await claim.complete(ids);
    return this.duplicates(ids);
  }

  /** The answer to a duplicate event: the first delivery's executions, as recorded now. */
  private async duplicates(executionIds: readonly string[]): Promise<Execution[]> {
    const found = await Promise.all(executionIds.map((x) => this.o.recorded(x)));
    const out: Execution[] = [];
    for (const e of found) if (e) out.push(Object.freeze({ ...e, duplicate: true as const }));
    return out;
  }

  private validatePayload(event: IntegrationEvent, rt: DispatchRuntime): void {
    if (!this.o.validatePayloads || !rt.trigger) return;
    const r = this.o.registry.getValidator(event.integrationId, rt.version, {
      kind: 'trigger-payload',
      type: event.type,
    })(event.payload);
    if (!r.valid)
      throw new ValidationError(
        r.errors,
        `payload of '${event.integrationId}' event '${event.type}'`,
      );
  }

  private begin(
    event: IntegrationEvent,
    rt: DispatchRuntime,
    wait: boolean,
    id: string,
    ms: number,
  ): DispatchRun {
    const now = isoAt(ms);
    // One frozen copy of the event serves every execution this dispatch records: storage
    // shares it instead of copying it once per rule.
    const triggerData = frozenJson(event, 'event');
    // Executions are numbered within the dispatch: `<dispatch id>.<n>`.
    const ids: DispatchIds = { base: id, n: 0 };
    const scope: DispatchScope = { actions: new Map(), instances: new Map(), enabled: new Map() };
    this.o.nextEpoch();
    const record = new DispatchRecord(
      this.o.recorder,
      {
        id: ids.base,
        startTime: now,
        integrationId: event.integrationId,
        triggerType: event.type,
        triggerData,
      },
      // Snapshot: rules changed during the dispatch do not affect it. The executions of
      // a rule deleted from here on are returned but not recorded (see `deleteRule`).
      this.o.inFlight.staleSince(),
    );
    return { event, rt, now, triggerData, ids, scope, record, wait };
  }

  /** One rule of the bucket: trigger filter, then conditions decided now or awaited. */
  private step(run: DispatchRun, cr: CompiledRule): void {
    const { event } = run;
    let fired: boolean;
    try {
      const filter = filterOf(cr, run.rt.trigger);
      fired = filter ? filter(event) === true : true;
    } catch (e) {
      this.filterFailed(run, cr, e);
      return;
    }
    if (!fired) {
      if (this.o.recordUnmatched) this.notTriggered(run, cr);
      return;
    }
    let failed: MatchCondition | undefined;
    let at: CompiledMatch | undefined;
    let thrown: Thrown | undefined;
    if (cr.syncConditions) {
      try {
        const failing = firstFailing(cr, event);
        failed = failing?.condition;
        at = failing?.node;
      } catch (error) {
        thrown = { error };
      }
      if (failed && !this.o.recordUnmatched) return;
    }
    if (!cr.syncConditions || (!thrown && !failed && cr.actions.length > 0)) {
      this.startAwaiting(run, cr);
      return;
    }
    this.decide(run, cr, failed, at, thrown);
  }

  /** Records that the rule's trigger filter rejected the event (one shared entry per revision). */
  private notTriggered(run: DispatchRun, cr: CompiledRule): void {
    if (cr.notTriggered?.ruleRevision !== cr.rule.revision) {
      cr.notTriggered = shareFrozen({
        ruleRevision: cr.rule.revision,
        conditionsMet: false,
        triggered: false,
      });
    }
    const logs = this.o.log.debug ? [] : NO_LOGS;
    if (logs !== NO_LOGS) {
      this.o.log.add(
        logs,
        'debug',
        'trigger',
        'trigger filter rejected the event',
        undefined,
        run.event.type,
      );
    }
    run.record.settle(cr.rule.id, this.startExecution(run, cr), cr.notTriggered, logs);
  }

  private filterFailed(run: DispatchRun, cr: CompiledRule, e: unknown): void {
    const logs: LogEntry[] = [];
    const draft = this.draft(run, cr);
    draft.successful = false;
    draft.error = `trigger filter failed: ${errorMessage(e)}`;
    this.o.log.add(logs, 'error', 'trigger', draft.error, undefined, run.event.type);
    run.record.settle(cr.rule.id, run.ids.n - 1, seal(draft), logs);
  }

  /** An execution that awaits something (actions, async conditions) keeps its place in the record. */
  private startAwaiting(run: DispatchRun, cr: CompiledRule): void {
    const logs: LogEntry[] = [];
    const draft = this.draft(run, cr);
    const n = run.ids.n - 1;
    this.o.log.add(logs, 'debug', 'trigger', 'trigger fired', undefined, run.event.type);
    run.record.reserve(cr.rule.id, n, () => this.runAwaiting(run, cr, draft, logs));
  }

  /** An execution decided now: most executions of a busy trigger type, so no log array unless needed. */
  private decide(
    run: DispatchRun,
    cr: CompiledRule,
    failed: MatchCondition | undefined,
    at: CompiledMatch | undefined,
    thrown: Thrown | undefined,
  ): void {
    const { event, record } = run;
    const { log } = this.o;
    const debug = log.debug;
    let logs: LogEntry[] = debug ? [] : NO_LOGS;
    if (debug) log.add(logs, 'debug', 'trigger', 'trigger fired', undefined, event.type);
    if (thrown) {
      if (logs === NO_LOGS) logs = [];
      const draft = this.draft(run, cr);
      record.settle(
        cr.rule.id,
        run.ids.n - 1,
        seal(this.conditionError(draft, logs, thrown.error)),
        logs,
      );
      return;
    }
    const n = this.startExecution(run, cr);
    if (failed) {
      if (debug) {
        const why = whyMatch(failed.match, event, failed.id);
        log.add(logs, 'debug', 'condition', `condition '${failed.id}' not met`, why, failed.id);
      }
      record.settle(cr.rule.id, n, failedEntry(cr, failed, at!), logs);
    } else {
      cr.met ??= shareFrozen({ ruleRevision: cr.rule.revision, conditionsMet: true });
      record.settle(cr.rule.id, n, cr.met, logs);
    }
  }

  /** Runs an execution that awaits something: its conditions when they do, then its actions. */
  private runAwaiting(
    run: DispatchRun,
    cr: CompiledRule,
    draft: ExecutionDraft,
    logs: LogEntry[],
  ): Promise<Finished | Delegated | undefined> {
    draft.startTime = isoNow();
    if (cr.syncConditions) return this.runActions(run, cr, draft, logs);
    return this.awaitConditions(run, cr, draft, logs);
  }

  /** Runs the actions of an execution whose conditions held: durably, or inline. */
  private runActions(
    run: DispatchRun,
    cr: CompiledRule,
    draft: ExecutionDraft,
    logs: LogEntry[],
  ): Promise<Finished | Delegated> {
    const { delivery } = this.o;
    // A rule deleted since the dispatch began runs but leaves no record (see `deleteRule`).
    if (!delivery || run.record.isStale(cr.rule.id)) {
      return this.o.actions.runAll(cr, run.event, draft, logs, run.scope);
    }
    const begun = delivery.begin(cr, draft, logs, run.scope);
    run.record.storedBy(begun.recorded);
    return Promise.resolve({ own: run.wait ? begun.finished() : begun.recorded });
  }

  /** Evaluates conditions one by one, awaiting integration ones; runs the actions when all hold. */
  private async awaitConditions(
    run: DispatchRun,
    cr: CompiledRule,
    draft: ExecutionDraft,
    logs: LogEntry[],
  ): Promise<Finished | Delegated | undefined> {
    const { event } = run;
    this.o.nextEpoch();
    const ctx: ConditionContext = { ruleId: cr.rule.id, integrationId: cr.rule.integrationId };
    try {
      for (const c of cr.conditions) {
        const ok =
          c.kind === 'match'
            ? this.matchHolds(draft, logs, c, event)
            : (await customCheck(c, await run.rt.conditions())(event, ctx)) === true;
        if (!ok) {
          if (c.kind === 'custom') this.customNotMet(draft, logs, c.id, c.type);
          if (!this.o.recordUnmatched) return undefined;
          draft.endTime = isoNow();
          return { exec: seal(draft), logs };
        }
      }
    } catch (e) {
      draft.endTime = isoNow();
      return { exec: seal(this.conditionError(draft, logs, e)), logs };
    }
    return this.runActions(run, cr, draft, logs);
  }

  /** Whether a `match` condition holds; records on the draft where it failed. */
  private matchHolds(
    draft: ExecutionDraft,
    logs: LogEntry[],
    c: MatchCondition,
    event: IntegrationEvent,
  ): boolean {
    if (c.match.test(event)) return true;
    draft.failedCondition = whyMatch(c.match, event, c.id);
    if (this.o.log.debug) {
      const message = `condition '${c.id}' not met`;
      this.o.log.add(logs, 'debug', 'condition', message, draft.failedCondition, c.id);
    }
    return false;
  }

  private customNotMet(draft: ExecutionDraft, logs: LogEntry[], id: string, type: string): void {
    draft.failedCondition = { conditionId: id };
    this.o.log.add(
      logs,
      'debug',
      'condition',
      `condition '${id}' (${type}) not met`,
      undefined,
      id,
    );
  }

  private conditionError(draft: ExecutionDraft, logs: LogEntry[], e: unknown): ExecutionDraft {
    draft.successful = false;
    draft.conditionsMet = false;
    draft.error = `condition failed: ${errorMessage(e)}`;
    this.o.log.add(logs, 'error', 'condition', draft.error);
    return draft;
  }

  /** The next execution number of the dispatch, announced with `execution:started`. */
  private startExecution(run: DispatchRun, cr: CompiledRule): number {
    const n = run.ids.n++;
    const { events } = this.o;
    if (events.listenerCount('execution:started') > 0) {
      events.emit('execution:started', {
        executionId: run.ids.base + suffix(n),
        ruleId: cr.rule.id,
        integrationId: cr.rule.integrationId,
        triggerType: run.event.type,
        startTime: run.now,
      });
    }
    return n;
  }

  /** A draft for an execution that awaits something (actions, async conditions). */
  private draft(run: DispatchRun, cr: CompiledRule): ExecutionDraft {
    return {
      id: run.ids.base + suffix(this.startExecution(run, cr)),
      ruleId: cr.rule.id,
      ruleRevision: cr.rule.revision,
      integrationId: cr.rule.integrationId,
      triggerType: run.event.type,
      triggered: true,
      conditionsMet: false,
      successful: true,
      startTime: run.now,
      endTime: run.now,
      triggerData: run.triggerData,
    };
  }
}
