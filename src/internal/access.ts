/**
 * The `authorize` hook shared by the four classes: its request shape, the stable
 * operation names, and the guard each class calls before a mutating method or a
 * credential read.
 *
 * @module
 */
import { ForbiddenError, isPlugboardError, ValidationError } from '../errors.js';
import { errorMessage } from './error-message.js';

/** The stable name of every guarded operation (docs/access-control.md lists the methods). */
export type AccessOperation =
  | 'definition.register'
  | 'definition.publish'
  | 'definition.deprecate'
  | 'definition.archive'
  | 'definition.delete'
  | 'plugin.load'
  | 'plugin.unload'
  | 'instance.create'
  | 'instance.update'
  | 'instance.upgrade'
  | 'instance.delete'
  | 'instance.test'
  | 'instance.check-health'
  | 'instance.report-auth-failure'
  | 'credentials.read'
  | 'credentials.access-token'
  | 'credentials.authorization-url'
  | 'credentials.exchange-code'
  | 'credentials.reencrypt'
  | 'integration-config.update'
  | 'audit.prune'
  | 'rule.create'
  | 'rule.update'
  | 'rule.delete'
  | 'history.prune'
  | 'execution.replay'
  | 'event.dispatch';

/** The scope of an instance, as in `InstanceContext`. */
export interface AccessContext {
  /** `global`, `client` or `user`. */
  readonly type: 'global' | 'client' | 'user';
  /** The client or user id, for `client` and `user` scopes. */
  readonly contextId?: string;
}

/** What an operation acts on; only the fields that apply to it are set. */
export interface AccessTarget {
  /** The integration (definition id) concerned. */
  readonly integrationId?: string;
  /** The definition version concerned. */
  readonly version?: string;
  /** The instance concerned. */
  readonly instanceId?: string;
  /** The scope of the instance concerned (read from storage for existing instances). */
  readonly context?: AccessContext;
  /** The scope an instance moves to (`instance.update` changing `context`). */
  readonly newContext?: AccessContext;
  /** The rule concerned. */
  readonly ruleId?: string;
  /** The execution concerned (`execution.replay`). */
  readonly executionId?: string;
  /** The event type (`event.dispatch`). */
  readonly eventType?: string;
  /** Where a plugin comes from: `code`, a module path or a manifest package directory. */
  readonly source?: string;
}

/** What the `authorize` hook is asked. */
export interface AccessRequest {
  /** The `actor` option of the call; `undefined` when it passed none. */
  readonly actor: string | undefined;
  /** The stable operation name, e.g. `instance.delete`. */
  readonly operation: AccessOperation;
  /** What the operation acts on. */
  readonly target: AccessTarget;
}

/**
 * The access-control hook: resolve `true` to allow. `false`, or a hook that throws or
 * rejects, refuses the call with a `ForbiddenError` before anything changes.
 */
export type Authorize = (request: AccessRequest) => boolean | Promise<boolean>;

/** Called once per refusal, before the `ForbiddenError` is thrown (e.g. to audit it). */
export type RefusalSink = (request: AccessRequest, error: ForbiddenError) => Promise<void>;

function describe(request: AccessRequest): string {
  const t = request.target;
  const on = [
    t.integrationId === undefined ? '' : `integration '${t.integrationId}'`,
    t.version === undefined ? '' : `version '${t.version}'`,
    t.instanceId === undefined ? '' : `instance '${t.instanceId}'`,
    t.ruleId === undefined ? '' : `rule '${t.ruleId}'`,
  ].filter((s) => s !== '');
  const who = request.actor === undefined ? 'a call without actor' : `actor '${request.actor}'`;
  return `${request.operation}${on.length > 0 ? ` on ${on.join(', ')}` : ''} refused for ${who}`;
}

/**
 * Asks the hook. Resolves `undefined` when it allows, else the `ForbiddenError` to throw:
 * `false` (or any value but `true`), or a hook that throws (fail closed, the thrown error
 * as `cause`; a thrown `ForbiddenError` is kept as it is).
 */
export async function decide(
  hook: Authorize,
  request: AccessRequest,
): Promise<ForbiddenError | undefined> {
  let allowed: unknown;
  try {
    allowed = await hook(request);
  } catch (error) {
    if (isPlugboardError(error, 'FORBIDDEN')) return error as ForbiddenError;
    const why = `${describe(request)}: the authorize hook failed (${errorMessage(error)})`;
    return new ForbiddenError(why, request.operation, request.actor, { cause: error });
  }
  if (allowed === true) return undefined;
  const why = `${describe(request)} by the authorize hook; allow it there or call as an actor that may`;
  return new ForbiddenError(why, request.operation, request.actor);
}

/** The check each class runs first in a guarded method. Without a hook it does nothing. */
export class AccessGuard {
  readonly #hook: Authorize | undefined;
  readonly #onRefused: RefusalSink | undefined;

  /** @throws ValidationError when `hook` is neither a function nor undefined */
  constructor(hook: Authorize | undefined, onRefused?: RefusalSink) {
    if (hook !== undefined && typeof hook !== 'function') {
      const issue = { path: 'authorize', message: `must be a function (got ${typeof hook})` };
      throw new ValidationError([issue], 'options');
    }
    this.#hook = hook;
    this.#onRefused = onRefused;
  }

  /** Whether a hook is set (callers skip building costly targets when not). */
  get active(): boolean {
    return this.#hook !== undefined;
  }

  /**
   * Resolves when the hook allows the operation.
   * @throws ForbiddenError when it refuses (after `onRefused` ran)
   */
  async check(
    operation: AccessOperation,
    target: TargetFields,
    actor: string | undefined,
  ): Promise<void> {
    if (this.#hook === undefined) return;
    const request: AccessRequest = { actor, operation, target: compact(target) };
    const refusal = await decide(this.#hook, request);
    if (refusal === undefined) return;
    // A failing audit write must not turn a refusal into an allowed call.
    await this.#onRefused?.(request, refusal).catch(() => undefined);
    throw refusal;
  }
}

/** {@link AccessTarget} fields, where `undefined` means "not set". */
export type TargetFields = { readonly [K in keyof AccessTarget]?: AccessTarget[K] | undefined };

/** A frozen target without the fields that are `undefined`. */
function compact(fields: TargetFields): AccessTarget {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return Object.freeze(out) as AccessTarget;
}
