/**
 * Where the `match` conditions of a rule fail, found without allocating per failing
 * rule, and the shared stored entry of each failing node.
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

/** Receives the failing node {@link firstFailing} found (the run of a dispatch or evaluation). */
export interface FailureSink {
  failedNode: CompiledMatch | undefined;
}

/**
 * The first `match` condition that fails, when all conditions are `match` ones; its
 * failing node is left in `sink.failedNode` (no allocation per failing rule).
 */
export function firstFailing(
  cr: CompiledRule,
  event: IntegrationEvent,
  sink: FailureSink,
): MatchCondition | undefined {
  for (const c of cr.conditions) {
    if (c.kind !== 'match') continue;
    const at = failAt(c.match, event);
    if (at) {
      sink.failedNode = at;
      return c;
    }
  }
  return undefined;
}

/**
 * The stored entry of an execution of `cr` whose condition `c` failed at node `at`: one
 * frozen entry per failing node, shared by every record (the `actual` value is read
 * from the stored event when the execution is read).
 */
export function failedEntry(cr: CompiledRule, c: MatchCondition, at: CompiledMatch): DecidedEntry {
  // A condition fails at one of a few nodes: a linear scan beats a Map here.
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
