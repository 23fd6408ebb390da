/**
 * One action of one execution across its attempts (the credentials its handler read,
 * its logger) and the context a handler receives.
 *
 * @internal
 * @module
 */
import type { InstanceView } from '../config/types.js';
import { scrub, secretStrings } from '../credentials/redact.js';
import type {
  ActionContext,
  ExecutionLogger,
  IntegrationEvent,
  LogLevel,
} from '../schema/runtime.js';
import { type LogWriter, scrubbedJson } from './execution-log.js';
import type { LogEntry } from './history/index.js';
import type { ConfigPort } from './ports.js';
import type { CompiledAction, CompiledRule } from './rule-shape.js';

/** What an {@link ActionCall} reads credentials through, and logs to. */
export interface ActionCallOptions {
  readonly config: Pick<ConfigPort, 'getCredentials'>;
  readonly log: LogWriter;
}

/** Both lists of secrets, longest first (so a secret containing another is replaced whole). */
function mergeSecrets(
  known: readonly string[] | undefined,
  more: readonly string[],
): readonly string[] {
  if (!known) return more;
  return [...new Set([...known, ...more])].sort((a, b) => b.length - a.length);
}

/** One action of one execution across its attempts: the credentials its handler read, its logger. */
export class ActionCall {
  /** Who the audit log names: the rule. */
  readonly actor: string;
  /** How a timeout names the action. */
  readonly what: string;
  /** `ctx.idempotencyKey`: `<execution id>:<action id>`, the same for every attempt. */
  readonly idempotencyKey: string;
  /**
   * The secret values of the credentials the handler read, once it read them: its log
   * entries, errors and output are scrubbed of them before anything is recorded.
   */
  secrets: readonly string[] | undefined;
  #logger: ExecutionLogger | undefined;

  constructor(
    private readonly options: ActionCallOptions,
    cr: CompiledRule,
    readonly ca: CompiledAction,
    readonly event: IntegrationEvent,
    readonly executionId: string,
    readonly logs: LogEntry[],
    readonly instance: InstanceView,
    readonly started: number,
  ) {
    this.actor = `rule:${cr.rule.id}`;
    this.what = `action '${ca.action.id}' (${ca.integrationId}.${ca.action.type})`;
    this.idempotencyKey = `${executionId}:${ca.action.id}`;
  }

  /** `ctx.getCredentials()`: decrypts through the config (audited) and notes the secrets. */
  readonly credentials = async (): Promise<Record<string, unknown>> => {
    const { instance } = this;
    const plain = await this.options.config.getCredentials(instance.instanceId, {
      actor: this.actor,
    });
    // Everything the instance's view does not show is secret.
    this.secrets = mergeSecrets(this.secrets, secretStrings(plain, instance.credentials));
    return plain;
  };

  /** `ctx.log`, built on first use: entries scrubbed of the secrets the handler has read. */
  readonly logger = (): ExecutionLogger => {
    this.#logger ??= {
      debug: this.at('debug'),
      info: this.at('info'),
      warn: this.at('warn'),
      error: this.at('error'),
    };
    return this.#logger;
  };

  private at(level: LogLevel): (message: string, data?: unknown) => void {
    const { log } = this.options;
    const actionId = this.ca.action.id;
    return (message, data) => {
      const secrets = this.secrets;
      if (!secrets) {
        log.add(this.logs, level, 'action', String(message), data, actionId);
        return;
      }
      const clean = data === undefined ? undefined : scrubbedJson(data, secrets);
      log.add(this.logs, level, 'action', scrub(String(message), secrets), clean, actionId);
    };
  }
}

/** What an action handler receives; the signal is created on first access. */
export class RunContext implements ActionContext {
  readonly event: IntegrationEvent;
  readonly instance: InstanceView;
  readonly config: Record<string, unknown>;
  readonly idempotencyKey: string;
  readonly #call: ActionCall;
  readonly #signal: () => AbortSignal;

  constructor(call: ActionCall, signal: () => AbortSignal) {
    this.event = call.event;
    this.instance = call.instance;
    this.config = call.instance.config as Record<string, unknown>;
    this.idempotencyKey = call.idempotencyKey;
    this.#call = call;
    this.#signal = signal;
  }

  /** Logger bound to this execution and action. */
  get log(): ExecutionLogger {
    return this.#call.logger();
  }

  /** Aborted when the attempt times out or the engine closes. */
  get signal(): AbortSignal {
    return this.#signal();
  }

  /** Decrypts the instance's credentials through ConfigManager (audited). */
  getCredentials(): Promise<Record<string, unknown>> {
    return this.#call.credentials();
  }
}
