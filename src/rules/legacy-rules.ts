/**
 * Importer for legacy, per-integration rule tables (e.g. a Monday.com-style
 * `monday_rules` table with its own trigger and action columns) into generic rules.
 *
 * @module
 */
import { isPlugboardError, type ValidationIssue } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
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
  const report: Report = { created: [], updated: [], skipped: [], failed: [] };
  let index = -1;
  for await (const legacy of rules) {
    index++;
    const input = await mapOne(legacy, index, mapFn, report);
    if (input) await importOne(input, index, options, report);
  }
  return report;
}

/** A {@link LegacyImportReport} being filled. */
interface Report {
  readonly created: string[];
  readonly updated: string[];
  readonly skipped: LegacyRuleProblem[];
  readonly failed: LegacyRuleProblem[];
}

/** The mapped rule, or undefined (reported) when the mapping threw, skipped it or gave no id. */
async function mapOne<L>(
  legacy: L,
  index: number,
  mapFn: (legacy: L, index: number) => RuleInput | undefined | Promise<RuleInput | undefined>,
  report: Report,
): Promise<(RuleInput & { readonly id: string }) | undefined> {
  let input: RuleInput | undefined;
  try {
    input = await mapFn(legacy, index);
  } catch (e) {
    report.failed.push({ index, reason: `mapping failed: ${errorMessage(e)}` });
    return undefined;
  }
  if (input === undefined) {
    report.skipped.push({ index, reason: 'the mapping returned nothing' });
    return undefined;
  }
  if (typeof input.id !== 'string' || input.id.length === 0) {
    report.failed.push({
      index,
      reason:
        'the mapping must return an id (derived from the legacy id) so the import can run again',
    });
    return undefined;
  }
  return input as RuleInput & { readonly id: string };
}

/** Creates, updates, skips or (in a dry run) validates one mapped rule, and reports it. */
async function importOne(
  input: RuleInput & { readonly id: string },
  index: number,
  options: ImportLegacyRulesOptions,
  report: Report,
): Promise<void> {
  const { engine } = options;
  const ruleId = input.id;
  try {
    const exists = await engine.getRule(ruleId).then(
      () => true,
      (e: unknown) => {
        if (isPlugboardError(e, 'NOT_FOUND')) return false;
        throw e;
      },
    );
    if (exists && (options.onExisting ?? 'skip') === 'skip') {
      report.skipped.push({ index, ruleId, reason: `rule '${ruleId}' exists` });
    } else if (options.dryRun) {
      const result = await engine.validateRule(input);
      if (!result.valid) {
        report.failed.push({ index, ruleId, reason: 'invalid rule', issues: result.errors });
      } else {
        (exists ? report.updated : report.created).push(ruleId);
      }
    } else if (exists) {
      const { id: _id, ...changes } = input;
      await engine.updateRule(ruleId, changes);
      report.updated.push(ruleId);
    } else {
      await engine.createRule(input);
      report.created.push(ruleId);
    }
  } catch (e) {
    const issues = isPlugboardError(e, 'VALIDATION_FAILED')
      ? ((e as { issues?: readonly ValidationIssue[] }).issues ?? [])
      : undefined;
    report.failed.push({ index, ruleId, reason: errorMessage(e), ...(issues ? { issues } : {}) });
  }
}
