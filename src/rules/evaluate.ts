/**
 * `evaluate`: the dry run that explains, per rule, whether its trigger fires and how each
 * condition evaluates, without running actions or recording anything. Explanations of
 * `match` conditions are built on first access.
 *
 * @internal
 * @module
 */
import { errorMessage } from '../internal/error-message.js';
import type {
  IntegrationEvent,
  RegisteredCondition,
  RegisteredTrigger,
} from '../schema/runtime.js';
import { type CompiledMatch, explainMatch } from './compile.js';
import { firstFailing } from './dispatch/match-failures.js';
import { customCheck, filterOf, type RuntimeLookup } from './dispatch/runtime-lookup.js';
import type { CompiledRule } from './rule-shape.js';
import type { ExplainedCondition, ExplainedNode, RuleEvaluation } from './types.js';

/** One evaluation on its way through the rules. */
interface EvaluationRun {
  readonly event: IntegrationEvent;
  readonly trigger: RegisteredTrigger | undefined;
  /** Condition types with their factories, fetched on first use. */
  conditionTypes: Promise<readonly RegisteredCondition[]> | undefined;
}

type ActionList = readonly { readonly id: string; readonly type: string }[];

/** Explains how the rules of an event would run. */
export class Evaluator {
  constructor(
    private readonly lookup: RuntimeLookup,
    /** Starts a new evaluation of the engine's memoising path readers. */
    private readonly nextEpoch: () => void,
  ) {}

  /**
   * Explains every rule of `bucket` (the enabled rules of the event's trigger type);
   * `awaits` says whether one of them has integration conditions.
   */
  async evaluate(
    event: IntegrationEvent,
    bucket: readonly CompiledRule[],
    awaits: boolean,
  ): Promise<RuleEvaluation[]> {
    const trigger = await this.lookup.triggerFor(event);
    this.nextEpoch();
    const run: EvaluationRun = { event, trigger, conditionTypes: undefined };
    const out: RuleEvaluation[] = [];
    // Only rules with integration conditions await; snapshot the bucket for them.
    const rules = awaits ? bucket.slice() : bucket;
    for (const cr of rules) {
      out.push(this.evaluateNow(run, cr) ?? (await this.explainAwaiting(run, cr)));
    }
    return out;
  }

  /** The evaluation of a rule, unless its conditions await (then undefined). */
  private evaluateNow(run: EvaluationRun, cr: CompiledRule): RuleEvaluation | undefined {
    const { event, trigger } = run;
    const actions = this.actionsOf(cr);
    const ruleId = cr.rule.id;
    const ruleName = cr.rule.name;
    let triggered: boolean;
    try {
      const filter = trigger ? filterOf(cr, trigger) : undefined;
      triggered = trigger !== undefined && (filter ? filter(event) === true : true);
    } catch (e) {
      return {
        ruleId,
        ruleName,
        actions,
        triggered: false,
        conditionsMet: false,
        conditions: [],
        error: errorMessage(e),
      };
    }
    if (!triggered) {
      return { ruleId, ruleName, actions, triggered, conditionsMet: false, conditions: [] };
    }
    if (!cr.syncConditions) return undefined;
    let met: boolean;
    try {
      met = firstFailing(cr, event) === undefined;
    } catch {
      met = false;
    }
    return new LazyRuleEvaluation(cr, event, actions, met);
  }

  private actionsOf(cr: CompiledRule): ActionList {
    cr.actionList ??= Object.freeze(
      cr.rule.actions.map((a) => Object.freeze({ id: a.id, type: a.type })),
    );
    return cr.actionList;
  }

  /** Explains the conditions of a triggered rule with integration conditions. */
  private async explainAwaiting(run: EvaluationRun, cr: CompiledRule): Promise<RuleEvaluation> {
    const { event } = run;
    const conditions: ExplainedCondition[] = [];
    let met = true;
    for (const c of cr.conditions) {
      let explained: ExplainedCondition;
      if (c.kind === 'match') {
        explained = explainNow(c.id, c.match, event);
      } else {
        try {
          const ctx = { ruleId: cr.rule.id, integrationId: cr.rule.integrationId };
          run.conditionTypes ??= this.lookup.conditionsOf(event.integrationId);
          const check = customCheck(c, await run.conditionTypes);
          const ok = (await check(event, ctx)) === true;
          explained = { id: c.id, type: c.type, result: ok };
        } catch (e) {
          explained = { id: c.id, type: c.type, result: false, error: errorMessage(e) };
        }
      }
      if (!explained.result) met = false;
      conditions.push(explained);
    }
    const { id: ruleId, name: ruleName } = cr.rule;
    const actions = this.actionsOf(cr);
    return { ruleId, ruleName, actions, triggered: true, conditionsMet: met, conditions };
  }
}

/** A `match` condition evaluated now, explained on first access. */
function explainNow(id: string, match: CompiledMatch, event: IntegrationEvent): ExplainedCondition {
  try {
    return new LazyMatchExplanation(id, match.test(event), match, event);
  } catch (e) {
    return { id, type: 'match', result: false, error: errorMessage(e) };
  }
}

/**
 * An explained `match` condition whose annotated tree is computed on first access (and
 * kept), so a dry run that only reads `result` costs no more than the evaluation itself.
 * `JSON.stringify` includes the tree.
 */
class LazyMatchExplanation implements ExplainedCondition {
  readonly type = 'match';
  #tree: ExplainedNode | undefined;
  readonly #match: CompiledMatch;
  readonly #event: IntegrationEvent;

  constructor(
    readonly id: string,
    readonly result: boolean,
    match: CompiledMatch,
    event: IntegrationEvent,
  ) {
    this.#match = match;
    this.#event = event;
  }

  /** The annotated tree: `{ result, actual, expected }` on every leaf. */
  get tree(): ExplainedNode {
    this.#tree ??= explainMatch(this.#match, this.#event);
    return this.#tree;
  }

  toJSON(): ExplainedCondition {
    return { id: this.id, type: this.type, result: this.result, tree: this.tree };
  }
}

/**
 * The evaluation of a rule whose conditions are all `match` ones: `conditionsMet` is
 * computed at once, the per-condition explanations on first access of `conditions`.
 */
class LazyRuleEvaluation implements RuleEvaluation {
  readonly triggered = true;
  readonly ruleId: string;
  readonly ruleName: string;
  readonly actions: ActionList;
  readonly conditionsMet: boolean;
  #conditions: readonly ExplainedCondition[] | undefined;
  readonly #rule: CompiledRule;
  readonly #event: IntegrationEvent;

  /** The evaluation of `rule`, whose trigger fired, on `event`. */
  constructor(rule: CompiledRule, event: IntegrationEvent, actions: ActionList, met: boolean) {
    this.ruleId = rule.rule.id;
    this.ruleName = rule.rule.name;
    this.actions = actions;
    this.conditionsMet = met;
    this.#rule = rule;
    this.#event = event;
  }

  /** Every condition, explained. */
  get conditions(): readonly ExplainedCondition[] {
    if (!this.#conditions) {
      const event = this.#event;
      this.#conditions = this.#rule.conditions.map(
        (c): ExplainedCondition =>
          c.kind !== 'match'
            ? { id: c.id, type: c.type, result: false }
            : explainNow(c.id, c.match, event),
      );
    }
    return this.#conditions;
  }

  toJSON(): RuleEvaluation {
    return {
      ruleId: this.ruleId,
      ruleName: this.ruleName,
      triggered: this.triggered,
      conditionsMet: this.conditionsMet,
      conditions: this.conditions,
      actions: this.actions,
    };
  }
}
