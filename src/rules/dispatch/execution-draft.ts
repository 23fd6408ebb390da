/**
 * An execution while it is being built, and its sealed (stored) form.
 *
 * @internal
 * @module
 */
import type { LogEntry } from '../history/index.js';
import type { ActionResult, ConditionFailure, Execution, ExecutionStatus } from '../types.js';

/** An execution being built: filled in by the conditions and actions, then sealed. */
export interface ExecutionDraft {
  id: string;
  ruleId: string;
  ruleRevision: number;
  integrationId: string;
  triggerType: string;
  triggered: true;
  conditionsMet: boolean;
  successful: boolean;
  /** Set when the execution is not simply finished (`succeeded` / `failed` by `successful`). */
  status?: ExecutionStatus;
  startTime: string;
  endTime: string;
  triggerData: unknown;
  resultData?: { readonly actions: readonly ActionResult[] };
  error?: string;
  failedCondition?: ConditionFailure;
  replayOf?: string;
}

/** An execution that awaited something, finished and sealed but not recorded yet. */
export interface Finished {
  readonly exec: Execution;
  readonly logs: LogEntry[];
}

/** An execution recorded by someone else (durable delivery): the dispatch only awaits it. */
export interface Delegated {
  readonly own: Promise<Execution>;
}

/**
 * An execution as stored: the draft itself, frozen with its revision. Everything in a
 * draft is JSON the engine built (the event is a frozen snapshot; action outputs went
 * through `toJson`; a failed condition comes frozen from `whyMatch`).
 */
export function seal(draft: ExecutionDraft): Execution {
  // Its parts are frozen as they are built (action results, outputs, failures).
  draft.status ??= draft.successful ? 'succeeded' : 'failed';
  (draft as { revision?: number }).revision = 1;
  return Object.freeze(draft) as unknown as Execution;
}
