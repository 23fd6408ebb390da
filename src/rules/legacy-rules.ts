/**
 * Importer for legacy, per-integration rule tables (e.g. a Monday.com-style
 * `monday_rules` table with its own trigger and action columns) into generic rules.
 *
 * @module
 */
import { isPlugboardError, type ValidationIssue } from '../errors.js';
import type { RuleEngine } from './engine.js';
import type { RuleInput } from './types.js';

/** Options of {@link importLegacyRules}. */
export interface ImportLegacyRulesOptions {
  /** The engine the rules are created in (validated like any other rule). */
  readonly engine: RuleEngine;
  /** What to do when a rule with the mapped id exists: keep it (default) or update it. */
  readonly onExisting?: 'skip' | 'update';
  /** Validate and report without writing anything. */
  readonly dryRun?: boolean;
}

/** One legacy rule that was not imported. */
export interface LegacyRuleProblem {
  /** Position in the legacy input. */
  readonly index: number;
  /** The mapped rule id, when the mapping produced one. */
  readonly ruleId?: string;
  /** Why. */
  readonly reason: string;
  /** Field problems, when validation failed. */
  readonly issues?: readonly ValidationIssue[];
}

/** Outcome of {@link importLegacyRules}. */
export interface LegacyImportReport {
  /** Ids of the rules created (or that would be, in a dry run). */
  readonly created: readonly string[];
  /** Ids of existing rules updated (`onExisting: 'update'`). */
  readonly updated: readonly string[];
  /** Legacy rules left out on purpose: the mapping returned nothing, or the id exists. */
  readonly skipped: readonly LegacyRuleProblem[];
  /** Legacy rules that could not be imported (invalid after mapping, mapping threw). */
  readonly failed: readonly LegacyRuleProblem[];
}

/**
 * Maps legacy rules with `mapFn` and creates them in `engine`. The mapping must give
 * each rule a stable `id` (derived from the legacy id) so that running the import twice,
 * e.g. from a migration that failed half-way, never duplicates a rule. One bad legacy
 * rule never stops the others: it is listed in `failed` with its field problems.
 *
 * @example
 * ```ts
 * const report = await importLegacyRules(mondayRows, (row) => ({
 *   id: `monday-${row.id}`,
 *   name: row.title,
 *   integrationId: 'monday',
 *   triggerType: 'column.changed',
 *   triggerConfig: { boardId: row.board_id },
 *   conditions: [{ type: 'match', config: { path: 'payload.value', operator: 'equal', value: row.trigger_value } }],
 *   actions: [{ type: 'notify_user', config: { userId: row.user_id, text: row.message } }],
 * }), { engine: rules });
 * ```
 */
export async function importLegacyRules<L>(
  rules: Iterable<L> | AsyncIterable<L>,
  mapFn: (legacy: L, index: number) => RuleInput | undefined | Promise<RuleInput | undefined>,
  options: ImportLegacyRulesOptions,
): Promise<LegacyImportReport> {
  const { engine } = options;
  const onExisting = options.onExisting ?? 'skip';
  const created: string[] = [];
  const updated: string[] = [];
  const skipped: LegacyRuleProblem[] = [];
  const failed: LegacyRuleProblem[] = [];
  let index = -1;
  for await (const legacy of rules) {
    index++;
    let input: RuleInput | undefined;
    try {
      input = await mapFn(legacy, index);
    } catch (e) {
      failed.push({
        index,
        reason: `mapping failed: ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    if (input === undefined) {
      skipped.push({ index, reason: 'the mapping returned nothing' });
      continue;
    }
    const ruleId = input.id;
    if (typeof ruleId !== 'string' || ruleId.length === 0) {
      failed.push({
        index,
        reason:
          'the mapping must return an id (derived from the legacy id) so the import can run again',
      });
      continue;
    }
    try {
      const exists = await engine.getRule(ruleId).then(
        () => true,
        (e: unknown) => {
          if (isPlugboardError(e, 'NOT_FOUND')) return false;
          throw e;
        },
      );
      if (exists && onExisting === 'skip') {
        skipped.push({ index, ruleId, reason: `rule '${ruleId}' exists` });
        continue;
      }
      if (options.dryRun) {
        const result = await engine.validateRule(input);
        if (!result.valid) {
          failed.push({ index, ruleId, reason: 'invalid rule', issues: result.errors });
        } else {
          (exists ? updated : created).push(ruleId);
        }
        continue;
      }
      if (exists) {
        const { id: _id, ...changes } = input;
        await engine.updateRule(ruleId, changes);
        updated.push(ruleId);
      } else {
        await engine.createRule(input);
        created.push(ruleId);
      }
    } catch (e) {
      if (isPlugboardError(e, 'VALIDATION_FAILED')) {
        const issues = (e as { issues?: readonly ValidationIssue[] }).issues ?? [];
        failed.push({ index, ruleId, reason: e.message, issues });
      } else {
        failed.push({ index, ruleId, reason: e instanceof Error ? e.message : String(e) });
      }
    }
  }
  return { created, updated, skipped, failed };
}
