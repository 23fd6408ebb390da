/**
 * Access control of the config manager: the `authorize` hook asked before every write
 * and credential read, with the instance's integration and scope read from storage, and
 * each refusal written to the audit log.
 *
 * @internal
 * @module
 */
import {
  AccessGuard,
  type AccessOperation,
  type Authorize,
  type RefusalSink,
  type TargetFields,
} from '../internal/access.js';
import type { AuditInput, InstanceContext } from './types.js';

/** The audit action of a refused call; its `detail` is the refused operation. */
export const ACCESS_DENIED = 'access.denied';

/**
 * A {@link RefusalSink} appending `{ action: 'access.denied', outcome: 'failure',
 * detail: <operation> }` through `record` (a ConfigManager's `recordAudit`).
 */
export function auditRefusals(
  record: (entry: AuditInput) => Promise<void>,
  defaultActor: string,
): RefusalSink {
  return async ({ actor, operation, target }) => {
    await record({
      actor: actor === undefined || actor === '' ? defaultActor : actor,
      action: ACCESS_DENIED,
      ...(target.instanceId === undefined ? {} : { instanceId: target.instanceId }),
      ...(target.integrationId === undefined ? {} : { integrationId: target.integrationId }),
      outcome: 'failure',
      detail: operation,
    });
  };
}

/** How the access checks read an instance: its integration and scope. */
type InstanceLookup = (
  instanceId: string,
) => Promise<{ readonly integrationId: string; readonly context: InstanceContext } | undefined>;

/** The config manager's checks; each public method calls one of them first. */
export class ConfigAccess {
  readonly #guard: AccessGuard;
  readonly #lookup: InstanceLookup;

  constructor(hook: Authorize | undefined, sink: RefusalSink, lookup: InstanceLookup) {
    this.#guard = new AccessGuard(hook, sink);
    this.#lookup = lookup;
  }

  /** Asks the hook about an operation on `target`. @throws ForbiddenError */
  check(operation: AccessOperation, target: TargetFields, actor?: string): Promise<void> {
    return this.#guard.check(operation, target, actor);
  }

  /**
   * Asks the hook about an operation on an existing instance, with its integration and
   * scope (only `instanceId` when it does not exist: the method then fails as usual).
   * @throws ForbiddenError
   */
  async instance(
    operation: AccessOperation,
    instanceId: string,
    actor?: string,
    newContext?: InstanceContext,
  ): Promise<void> {
    if (!this.#guard.active) return;
    const doc = typeof instanceId === 'string' ? await this.#lookup(instanceId) : undefined;
    const target = { instanceId, integrationId: doc?.integrationId, context: doc?.context };
    await this.#guard.check(operation, { ...target, newContext }, actor);
  }
}
