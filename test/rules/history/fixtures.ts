/**
 * Helpers of the history listing tests: the engine's execution store, a seeded history
 * of several rules and integrations, and the per-rule oracle the listing is checked by.
 */
import type { Execution, ExecutionListQuery, RuleEngine, RuleInput } from '../../../src/index.js';
import { ExecutionStore, type RetentionOptions } from '../../../src/rules/history/index.js';
import { bigOrderRule, orderEvent, type World } from '../fixtures.js';

/**
 * An execution store over a world's storage, with the retention limits of the engine that
 * wrote the history (it applies them as that engine would).
 */
export function storeOf(w: World, retention: RetentionOptions = {}): ExecutionStore {
  return new ExecutionStore(w.storage, retention);
}

/** The rules of a seeded world. */
export interface Seeded {
  /** Runs an action on big orders (an execution of its own, `succeeded` or `failed`). */
  readonly acting: string;
  /** Decided at once for every order (conditions never met): a dispatch's record. */
  readonly quiet: string;
  /** Decided at once with its conditions met on big orders: a dispatch's record. */
  readonly silent: string;
  /** A chat rule, decided at once for every message. */
  readonly chat: string;
  readonly ruleIds: readonly string[];
}

/** Creates the seeded rules. */
export async function seedRules(w: World): Promise<Seeded> {
  const acting = await w.engine.createRule(bigOrderRule({ name: 'acting' }) as RuleInput);
  const quiet = await w.engine.createRule(
    bigOrderRule({
      name: 'quiet',
      conditions: [
        {
          id: 'huge',
          type: 'match',
          config: { path: 'payload.amount', operator: 'greaterThan', value: 10_000 },
        },
      ],
    }) as RuleInput,
  );
  const silent = await w.engine.createRule(
    bigOrderRule({ name: 'silent', actions: [] }) as RuleInput,
  );
  const chat = await w.engine.createRule({
    name: 'chat',
    integrationId: 'chat',
    triggerType: 'message.posted',
    conditions: [],
    actions: [],
  } as RuleInput);
  const ids = { acting: acting.id, quiet: quiet.id, silent: silent.id, chat: chat.id };
  return { ...ids, ruleIds: Object.values(ids) };
}

/**
 * Dispatches `n` rounds: an order (every third one failing its action, every other one
 * small) and, every fourth round, a chat message.
 */
export async function seedHistory(w: World, n: number): Promise<void> {
  const send = w.handlers.send;
  let failNext = false;
  w.handlers.send = async (input, ctx) => {
    if (failNext) throw new Error('chat is down');
    return send(input, ctx);
  };
  for (let i = 0; i < n; i++) {
    failNext = i % 3 === 0;
    await w.engine.dispatch(orderEvent({ id: `o${i}`, amount: i % 2 === 0 ? 500 : 5 }));
    if (i % 4 === 0) {
      await w.engine.dispatch({ integrationId: 'chat', type: 'message.posted', payload: { i } });
    }
  }
  w.handlers.send = send;
}

/** Every execution of the rules, through the per-rule history (the oracle). */
export async function perRule(
  engine: RuleEngine,
  ruleIds: readonly string[],
): Promise<Execution[]> {
  const all: Execution[] = [];
  for (const ruleId of ruleIds) {
    let cursor: string | undefined;
    do {
      const page = await engine.getRuleExecutions(ruleId, {
        limit: 200,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  return all;
}

/** Whether an execution passes a query's filters (the oracle of a filtered listing). */
export function matches(e: Execution, q: ExecutionListQuery): boolean {
  const statuses = q.status === undefined ? undefined : ([] as string[]).concat(q.status);
  return (
    (q.integrationId === undefined || e.integrationId === q.integrationId) &&
    (q.ruleId === undefined || e.ruleId === q.ruleId) &&
    (statuses === undefined || statuses.includes(e.status)) &&
    (q.since === undefined || e.startTime >= new Date(q.since).toISOString()) &&
    (q.until === undefined || e.startTime < new Date(q.until).toISOString())
  );
}

/** Pages through a query with the store, checking each page's size. */
export async function pageAll(
  store: ExecutionStore,
  query: ExecutionListQuery,
): Promise<{ items: Execution[]; pages: number }> {
  const items: Execution[] = [];
  let pages = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list(cursor !== undefined ? { ...query, cursor } : query);
    pages++;
    if (page.items.length > (query.limit ?? 50)) throw new Error('page larger than its limit');
    // Only a page that stopped at its limit is followed by more.
    if (page.nextCursor !== undefined && page.items.length < (query.limit ?? 50)) {
      throw new Error('a short page with a next cursor');
    }
    items.push(...page.items);
    cursor = page.nextCursor;
    if (pages > 10_000) throw new Error('paging does not end');
  } while (cursor !== undefined);
  return { items, pages };
}

/** Ids, sorted (to compare sets). */
export const idSet = (xs: readonly Execution[]): string[] => xs.map((e) => e.id).sort();

/** Whether the executions are newest first (start times never increase). */
export function newestFirst(xs: readonly Execution[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i]!.startTime > xs[i - 1]!.startTime) return false;
  return true;
}
