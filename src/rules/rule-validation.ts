/**
 * The checks a rule passes on save: its shape, then its trigger, conditions and actions
 * against the registry's definitions and schemas, and its instances against the config.
 *
 * @internal
 * @module
 */
import { isPlugboardError, type ValidationIssue } from '../errors.js';
import type { IntegrationRegistry } from '../registry/index.js';
import { suggest } from './compile.js';
import type { ConfigPort, RegistryPort } from './ports.js';
import type { RuleIndex } from './rule-index.js';
import { type CompiledAction, normaliseRule } from './rule-shape.js';
import { SchemaChecker, type SchemaCheckMode } from './schema-check.js';
import type { Rule, RuleChanges, RuleInput } from './types.js';

type Definition = Awaited<ReturnType<IntegrationRegistry['get']>>;

/** Rebases schema issues from a validator root (`input`) onto a rule path (`actions[0].config`). */
export function rebase(
  issues: readonly ValidationIssue[],
  root: string,
  to: string,
): ValidationIssue[] {
  return issues.map((i) => {
    const p = i.path;
    const rest =
      p === root
        ? ''
        : p.startsWith(`${root}.`) || p.startsWith(`${root}[`)
          ? p.slice(root.length)
          : `.${p}`;
    return { path: `${to}${rest}`, message: i.message };
  });
}

/** A rule checked on save: the rule built, its problems, and warnings that do not refuse it. */
export interface CheckedRule {
  readonly rule: Rule;
  readonly issues: ValidationIssue[];
  /** Payload schema problems when `schemaChecks` is `warn`. */
  readonly warnings: ValidationIssue[];
}

/** Told about a saved rule whose check left warnings (`schemaChecks: 'warn'`). */
export type WarningsHook = (rule: Rule, warnings: readonly ValidationIssue[]) => void;

/** Validates rules on save, against the registry and the config. */
export class RuleValidator {
  private readonly schemas = new SchemaChecker();

  constructor(
    private readonly registry: Pick<RegistryPort, 'get' | 'getValidator'>,
    private readonly config: Pick<ConfigPort, 'isEnabled' | 'getInstance'>,
    private readonly index: Pick<RuleIndex, 'compile'>,
    private readonly schemaChecks: SchemaCheckMode = 'error',
    private readonly onWarnings: WarningsHook = () => undefined,
  ) {}

  /** Reports the warnings of a rule just saved, if there are any. */
  warned(rule: Rule, warnings: readonly ValidationIssue[]): void {
    if (warnings.length > 0) this.onWarnings(rule, warnings);
  }

  /**
   * A new rule built from `input` (revision 0, timestamps now) with every problem found
   * in it; registry checks only run on a rule of a sound shape.
   */
  async checkNew(input: RuleInput, id: string): Promise<CheckedRule> {
    const issues: ValidationIssue[] = [];
    const warnings: ValidationIssue[] = [];
    const now = new Date().toISOString();
    const base = normaliseRule(input, id, issues);
    const rule: Rule = { ...base, revision: 0, createdAt: now, updatedAt: now };
    if (issues.length === 0) await this.validate(rule, issues, warnings);
    return { rule, issues, warnings };
  }

  /**
   * What `validateRule` answers: {@link RuleValidator.checkNew} without the rule;
   * `warnings` are payload schema problems under `schemaChecks: 'warn'`.
   */
  async dryRun(
    input: RuleInput,
  ): Promise<{ valid: boolean; errors: ValidationIssue[]; warnings: ValidationIssue[] }> {
    const { issues, warnings } = await this.checkNew(input, input?.id ?? 'rule_validation');
    return { valid: issues.length === 0, errors: issues, warnings };
  }

  /**
   * Rule `id` (stored as `current`) with `changes` applied, and every problem found in it.
   * Disabling alone is not checked against the registry again.
   */
  async checkChanged(id: string, current: Rule, changes: RuleChanges): Promise<CheckedRule> {
    const issues: ValidationIssue[] = [];
    const warnings: ValidationIssue[] = [];
    const { revision, createdAt, updatedAt: _updatedAt, ...rest } = current;
    const merged = { ...rest, ...changes } as RuleInput;
    const base = normaliseRule(merged, id, issues);
    const rule: Rule = { ...base, revision, createdAt, updatedAt: new Date().toISOString() };
    // Disabling never needs the registry; anything else is checked again.
    if (issues.length === 0 && !(Object.keys(changes).length === 1 && changes.enabled === false)) {
      await this.validate(rule, issues, warnings);
    }
    return { rule, issues, warnings };
  }

  /**
   * Appends to `issues` every problem of a rule of a sound shape; payload schema problems
   * go to `warnings` instead when `schemaChecks` is `warn`.
   */
  async validate(
    rule: Rule,
    issues: ValidationIssue[],
    warnings: ValidationIssue[] = issues,
  ): Promise<void> {
    // Shape and compile problems come first; registry checks only on a sane rule.
    this.index.compile(rule, issues);
    if (issues.length > 0) return;
    let def: Definition | undefined;
    try {
      def = await this.registry.get(rule.integrationId);
      if (!(await this.config.isEnabled(rule.integrationId))) {
        issues.push({
          path: 'integrationId',
          message: `integration '${rule.integrationId}' is disabled; enable it with config.updateConfig('${rule.integrationId}', { enabled: true })`,
        });
      }
      if (this.checkTrigger(rule, def, issues) && this.schemaChecks !== 'off') {
        this.schemas.check(rule, def, this.schemaChecks === 'warn' ? warnings : issues);
      }
      this.checkConditions(rule, def, issues);
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
      issues.push({ path: 'integrationId', message: e.message });
    }
    if (def === undefined) return;
    const compiled = this.index.compile(rule, []);
    for (const ca of compiled.actions) await this.checkAction(rule, ca, issues);
  }

  /** Checks the trigger type and config; false when the type is unknown. */
  private checkTrigger(rule: Rule, def: Definition, issues: ValidationIssue[]): boolean {
    const trigger = def.triggers.find((t) => t.type === rule.triggerType);
    if (!trigger) {
      const types = def.triggers.map((t) => t.type);
      issues.push({
        path: 'triggerType',
        message: `'${rule.integrationId}@${def.version}' has no trigger '${rule.triggerType}'${suggest(rule.triggerType, types)}`,
      });
      return false;
    }
    const r = this.registry.getValidator(rule.integrationId, def.version, {
      kind: 'trigger-config',
      type: rule.triggerType,
    })(rule.triggerConfig);
    if (!r.valid) issues.push(...rebase(r.errors, 'triggerConfig', 'triggerConfig'));
    return true;
  }

  private checkConditions(rule: Rule, def: Definition, issues: ValidationIssue[]): void {
    rule.conditions.forEach((c, i) => {
      if (c.type === 'match') return;
      const known = def.conditions.find((d) => d.type === c.type);
      if (!known) {
        const types = ['match', ...def.conditions.map((d) => d.type)];
        issues.push({
          path: `conditions[${i}].type`,
          message: `unknown condition type '${c.type}' (use 'match' or a condition of '${rule.integrationId}')${suggest(c.type, types)}`,
        });
        return;
      }
      const r = this.registry.getValidator(rule.integrationId, def.version, {
        kind: 'condition-config',
        type: c.type,
      })(c.config);
      if (!r.valid) issues.push(...rebase(r.errors, 'config', `conditions[${i}].config`));
    });
  }

  private async checkAction(
    rule: Rule,
    ca: CompiledAction,
    issues: ValidationIssue[],
  ): Promise<void> {
    const at = `actions[${ca.index}]`;
    const aid = ca.integrationId;
    let def: Definition;
    try {
      def = await this.registry.get(aid);
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
      issues.push({ path: `${at}.integrationId`, message: e.message });
      return;
    }
    if (aid !== rule.integrationId && !(await this.config.isEnabled(aid))) {
      issues.push({ path: `${at}.integrationId`, message: `integration '${aid}' is disabled` });
    }
    if (!this.checkActionInput(ca, def, at, issues)) return;
    if (ca.action.instanceId !== undefined) {
      await this.checkInstance(ca.action.instanceId, aid, at, issues);
    }
  }

  /** Checks the action type and its config; false when the type is unknown. */
  private checkActionInput(
    ca: CompiledAction,
    def: Definition,
    at: string,
    issues: ValidationIssue[],
  ): boolean {
    const aid = ca.integrationId;
    const known = def.actions.find((a) => a.type === ca.action.type);
    if (!known) {
      issues.push({
        path: `${at}.type`,
        message: `'${aid}@${def.version}' has no action '${ca.action.type}'${suggest(
          ca.action.type,
          def.actions.map((a) => a.type),
        )}`,
      });
      return false;
    }
    const r = this.registry.getValidator(aid, def.version, {
      kind: 'action-input',
      type: ca.action.type,
    })(ca.action.config);
    if (!r.valid) {
      // Templated values are checked at run time, once resolved.
      const templated = ca.template.templatedFields.map((f) => (f ? `input.${f}` : 'input'));
      const kept = r.errors.filter(
        (i) =>
          !templated.some(
            (t) => i.path === t || i.path.startsWith(`${t}.`) || i.path.startsWith(`${t}[`),
          ),
      );
      issues.push(...rebase(kept, 'input', `${at}.config`));
    }
    return true;
  }

  private async checkInstance(
    instanceId: string,
    aid: string,
    at: string,
    issues: ValidationIssue[],
  ): Promise<void> {
    try {
      const inst = await this.config.getInstance(instanceId);
      if (inst.integrationId !== aid) {
        issues.push({
          path: `${at}.instanceId`,
          message: `instance '${instanceId}' belongs to '${inst.integrationId}', not '${aid}'`,
        });
      }
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
      issues.push({ path: `${at}.instanceId`, message: e.message });
    }
  }
}
