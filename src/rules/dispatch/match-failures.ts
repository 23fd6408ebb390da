/**
 * Where the `match` conditions of a rule fail, and the shared stored entry of each
 * failing node.
 *
 * @internal
 * @module
 */

import { shareFrozen } from '../../internal/json.js';
import type { IntegrationEvent } from '../../schema/runtime.js';
import { type CompiledMatch, failAt, failureAt } from '../compile.js';
import { type DecidedEntry, decidedFailure } from '../history/index.js';
import type { CompiledCondition, CompiledRule } from '../rule-shape.js';

/** A `match` condition of a compiled rule. */
export type MatchCondition = Extract<CompiledCondition, { kind: 'match' }>;

/** Where a rule's conditions failed: the condition and the node of its tree that decided. */
export interface Failing {
  readonly condition: MatchCondition;
  readonly node: CompiledMatch;
}

/** The first `match` condition that fails, with its failing node. */
export function firstFailing(cr: CompiledRule, event: IntegrationEvent): Failing | undefined {
  for (const c of cr.conditions) {
    if (c.kind !== 'match') continue;
    const node = failAt(c.match, event);
    if (node) return { condition: c, node };
  }
  return undefined;
}

/**
 * The stored entry of an execution of `cr` whose condition `c` failed at node `at`: one
 * frozen entry per failing node, shared by every record (the `actual` value is read
 * from the stored event when the execution is read).
 */
export function failedEntry(cr: CompiledRule, c: MatchCondition, at: CompiledMatch): DecidedEntry {
  // A condition fails at one of a few nodes, kept in pairs (node, entry).
  c.failures ??= [];
  const known = c.failures;
  for (let i = 0; i < known.length; i += 2) {
    if (known[i] === at) return known[i + 1] as DecidedEntry;
  }
  const entry = shareFrozen({
    ruleRevision: cr.rule.revision,
    conditionsMet: false,
    failedCondition: decidedFailure(failureAt(at, c.id)),
  });
  known.push(at, entry);
  return entry;
}
