/**
 * The runtime parts (trigger/condition factories, action handlers, a plugin's payload
 * validator) attached to stored definition versions, and the components merged from
 * both. Kept in memory only, never stored.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import { migrationIssues } from './config-migrations.js';
import type { DefinitionComponents, DefinitionRuntime } from './types.js';

/** Runtime parts by `id@version`, and the components merged with them. */
export class RuntimeStore {
  private readonly runtimes = new Map<string, DefinitionRuntime>();
  private readonly merged = new Map<string, DefinitionComponents>();

  /** Sets the parts of `key` (`id@version`), forgetting them when there are none. */
  set(key: string, runtime: DefinitionRuntime): void {
    const empty =
      !runtime.validateEventPayload &&
      (runtime.migrations ?? []).length === 0 &&
      Object.keys(runtime.triggers ?? {}).length === 0 &&
      Object.keys(runtime.conditions ?? {}).length === 0 &&
      Object.keys(runtime.actions ?? {}).length === 0;
    if (empty) this.runtimes.delete(key);
    else this.runtimes.set(key, runtime);
    this.merged.delete(key);
  }

  /**
   * Checks the parts against the components of `def`, then sets them.
   *
   * @throws ValidationError for unknown component types or parts that are not functions
   */
  attach(def: IntegrationDefinition, runtime: DefinitionRuntime): void {
    const { id, version } = def;
    const issues: ValidationIssue[] = [];
    const check = (kind: 'triggers' | 'conditions' | 'actions', fnName: string) => {
      const parts = runtime[kind] ?? {};
      const known = new Set(def[kind].map((c) => c.type));
      for (const [type, part] of Object.entries(parts)) {
        if (!known.has(type)) {
          issues.push({
            path: `${kind}.${type}`,
            message: `'${id}@${version}' has no such ${kind.slice(0, -1)}`,
          });
        } else if (
          typeof (part as Record<string, unknown>)[fnName] !== 'function' &&
          (part as Record<string, unknown>)[fnName] !== undefined
        ) {
          issues.push({ path: `${kind}.${type}.${fnName}`, message: 'must be a function' });
        }
      }
    };
    check('triggers', 'factory');
    check('conditions', 'factory');
    check('actions', 'handler');
    issues.push(...migrationIssues(runtime.migrations));
    if (issues.length > 0) throw new ValidationError(issues, 'runtime parts');
    this.set(`${id}@${version}`, runtime);
  }

  /** Removes the parts of one version, or of every version when `version` is omitted. */
  detach(id: string, version?: string): void {
    for (const key of [...this.runtimes.keys()]) {
      if (version === undefined ? key.startsWith(`${id}@`) : key === `${id}@${version}`) {
        this.runtimes.delete(key);
        this.merged.delete(key);
      }
    }
  }

  /** The parts of `key` (`id@version`), if any. */
  get(key: string): DefinitionRuntime | undefined {
    return this.runtimes.get(key);
  }

  /** Whether parts are attached to `key` (`id@version`). */
  has(key: string): boolean {
    return this.runtimes.has(key);
  }

  /** Forgets the parts of `key` (`id@version`), e.g. when the version is deleted. */
  delete(key: string): void {
    this.runtimes.delete(key);
  }

  /** Drops the merged components of every version of `id`, or of all ids. */
  invalidate(id?: string): void {
    if (id === undefined) {
      this.merged.clear();
      return;
    }
    for (const key of [...this.merged.keys()])
      if (key.startsWith(`${id}@`)) this.merged.delete(key);
  }

  /** The components of `def` with their attached parts (cached until invalidated). */
  components(def: IntegrationDefinition): DefinitionComponents {
    const key = `${def.id}@${def.version}`;
    let m = this.merged.get(key);
    if (!m) {
      const rt = this.runtimes.get(key);
      m = {
        triggers: def.triggers.map((t) => Object.freeze({ ...t, ...rt?.triggers?.[t.type] })),
        conditions: def.conditions.map((c) => Object.freeze({ ...c, ...rt?.conditions?.[c.type] })),
        actions: def.actions.map((a) => Object.freeze({ ...a, ...rt?.actions?.[a.type] })),
      };
      this.merged.set(key, m);
    }
    return m;
  }
}
