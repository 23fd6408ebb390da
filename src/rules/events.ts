/**
 * The typed event map of `RuleEngine`, for eventemitter3. Each key is an event name
 * (`noun:verb-past`), each value the tuple of listener arguments.
 *
 * @module
 */
import type { ValidationError, ValidationIssue } from '../errors.js';
import type { Execution, Rule } from './types.js';

/** Events of `RuleEngine`. */
export interface RuleEngineEvents {
  /** A rule was created. */
  'rule:created': [rule: Rule];
  /** A rule was changed (including enable/disable). */
  'rule:updated': [rule: Rule, previous: Rule];
  /**
   * A rule was saved (created or updated) with payload schema problems, under
   * `schemaChecks: 'warn'`; `warnings` have the paths within the rule.
   */
  'rule:warnings': [rule: Rule, warnings: readonly ValidationIssue[]];
  /** A rule was deleted (with its executions and logs). */
  'rule:deleted': [rule: Rule];
  /** A stored rule could not be compiled when loaded; it is left out until fixed. */
  'rule:load-failed': [ruleId: string, error: ValidationError];
  /** A rule's trigger fired for an event; its execution starts. */
  'execution:started': [
    info: {
      readonly executionId: string;
      readonly ruleId: string;
      readonly integrationId: string;
      readonly triggerType: string;
      readonly startTime: string;
    },
  ];
  /** An execution was recorded. */
  'execution:completed': [execution: Execution];
}
