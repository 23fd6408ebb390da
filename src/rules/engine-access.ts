/**
 * Access control of the rule engine: the `authorize` hook asked before rule writes,
 * history pruning and dispatch, with refusals written to the config manager's audit log.
 *
 * @internal
 * @module
 */
import { auditRefusals } from '../config/access.js';
import type { ConfigManager } from '../config/manager.js';
import { AccessGuard, type AccessOperation, type Authorize } from '../internal/access.js';
import type { IntegrationEvent } from '../schema/runtime.js';
import type { RuleInput } from './types.js';

/** The engine's checks; each guarded method calls one of them first. @throws ForbiddenError */
export class RuleAccess {
  readonly #guard: AccessGuard;

  constructor(hook: Authorize | undefined, config: Pick<ConfigManager, 'recordAudit'>) {
    this.#guard = new AccessGuard(
      hook,
      auditRefusals((entry) => config.recordAudit(entry), 'system'),
    );
  }

  /** `rule.create`, with the rule's integration and (when given) its id. */
  create(input: RuleInput | undefined, actor: string | undefined): Promise<void> {
    const target = { integrationId: input?.integrationId, ruleId: input?.id };
    return this.#guard.check('rule.create', target, actor);
  }

  /** An operation on the stored rule `ruleId`. */
  rule(operation: AccessOperation, ruleId: string, actor: string | undefined): Promise<void> {
    return this.#guard.check(operation, { ruleId }, actor);
  }

  /** `execution.replay` of execution `executionId`. */
  replay(executionId: string, actor: string | undefined): Promise<void> {
    return this.#guard.check('execution.replay', { executionId }, actor);
  }

  /** `history.prune`. */
  prune(actor: string | undefined): Promise<void> {
    return this.#guard.check('history.prune', {}, actor);
  }

  /** `event.dispatch`, with the event's integration and type (no actor: events come from outside). */
  dispatch(event: IntegrationEvent): Promise<void> {
    const target = { integrationId: event.integrationId, eventType: event.type };
    return this.#guard.check('event.dispatch', target, undefined);
  }
}
