/**
 * `replayExecution`: an execution's actions run again as a new execution linked to the
 * old one, with the rule as it is now or as it was recorded.
 *
 * @internal
 * @module
 */
import { ValidationError } from '../../errors.js';
import { isoAt } from '../../internal/clock.js';
import { OrderedIds } from '../../internal/ids.js';
import type { IntegrationEvent } from '../../schema/runtime.js';
import type { ActionRunner } from '../action-runner.js';
import type { ExecutionDraft } from '../dispatch/execution-draft.js';
import { type ExecutionStore, suffix } from '../history/index.js';
import type { CompiledRule } from '../rule-shape.js';
import type { Execution, Rule } from '../types.js';
import type { DeliveryService } from './service.js';

/** Options of `RuleEngine.replayExecution`. */
export interface ReplayOptions {
  /** The id of the first action to run; the ones before it are not run. Default: the first. */
  readonly fromAction?: string;
  /**
   * `current` (default): the rule's actions as they are now. `recorded`: as they were when
   * the execution ran (kept with durable executions; older ones can only replay `current`).
   */
  readonly rule?: 'current' | 'recorded';
  /** Resolve once the replay is final (default), or once it is recorded. */
  readonly wait?: boolean;
  /** Who asks, for the `authorize` hook and the audit log. */
  readonly actor?: string;
}

/** What {@link Replays} works with. */
export interface ReplaysOptions {
  readonly store: Pick<ExecutionStore, 'get' | 'recordedActions' | 'recordOne'>;
  readonly actions: ActionRunner;
  readonly delivery: DeliveryService | undefined;
  readonly compile: (rule: Rule) => CompiledRule;
  readonly getRule: (id: string) => Promise<Rule>;
}

function refuse(path: string, message: string): never {
  throw new ValidationError([{ path, message }], 'replay');
}

/** Replays of executions. */
export class Replays {
  /** Replay ids: `ex_<ms>_<seq>_<node>.0000`, like dispatched executions. */
  private readonly ids = new OrderedIds('ex_', '_');

  constructor(private readonly o: ReplaysOptions) {}

  /** Runs the actions of execution `id` again. */
  async replay(id: string, opts: ReplayOptions): Promise<Execution> {
    checkReplay(opts);
    const old = await this.o.store.get(id);
    if (!old.conditionsMet)
      refuse(
        'executionId',
        'its conditions were not met, so no action ran: there is nothing to replay',
      );
    const current = await this.o.getRule(old.ruleId);
    let actions = current.actions;
    if (opts.rule === 'recorded' && old.ruleRevision !== current.revision) {
      const kept = await this.o.store.recordedActions(id);
      if (!kept)
        refuse(
          'rule',
          `the actions of rule revision ${old.ruleRevision} were not kept with this execution; replay with rule: 'current'`,
        );
      actions = kept;
    }
    if (opts.fromAction !== undefined) {
      const i = actions.findIndex((a) => a.id === opts.fromAction);
      if (i < 0)
        refuse(
          'fromAction',
          `no action '${opts.fromAction}' in the rule; its actions are ${actions.map((a) => `'${a.id}'`).join(', ')}`,
        );
      actions = actions.slice(i);
    }
    if (actions.length === 0) refuse('executionId', 'the rule has no action to run');
    const revision = opts.rule === 'recorded' ? old.ruleRevision : current.revision;
    const cr = this.o.compile({ ...current, actions, revision });
    const ms = Date.now();
    const draft: ExecutionDraft = {
      id: this.ids.next(ms) + suffix(0),
      ruleId: cr.rule.id,
      ruleRevision: revision,
      integrationId: cr.rule.integrationId,
      triggerType: old.triggerType,
      triggered: true,
      conditionsMet: true,
      successful: true,
      startTime: isoAt(ms),
      endTime: isoAt(ms),
      triggerData: old.triggerData,
      replayOf: old.id,
    };
    const { delivery } = this.o;
    if (delivery) {
      const begun = delivery.begin(cr, draft);
      return opts.wait === false ? begun.recorded : begun.finished();
    }
    const scope = { actions: new Map(), instances: new Map(), enabled: new Map() };
    const event = old.triggerData as IntegrationEvent;
    const done = await this.o.actions.runAll(cr, event, draft, [], scope);
    return this.o.store.recordOne(done.exec, done.logs);
  }
}

function checkReplay(opts: ReplayOptions): void {
  const issues: { path: string; message: string }[] = [];
  if (opts.fromAction !== undefined && typeof opts.fromAction !== 'string') {
    issues.push({ path: 'fromAction', message: 'must be an action id (a string)' });
  }
  if (opts.rule !== undefined && opts.rule !== 'current' && opts.rule !== 'recorded') {
    issues.push({ path: 'rule', message: "must be 'current' or 'recorded'" });
  }
  if (opts.wait !== undefined && typeof opts.wait !== 'boolean') {
    issues.push({ path: 'wait', message: 'must be a boolean' });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'replay options');
}
