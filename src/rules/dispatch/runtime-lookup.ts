/**
 * The runtime parts rules run with: the event's trigger (with its filter factory) and
 * the integration's condition factories, looked up in the registry per event, and the
 * filters and checks built from them, kept on the compiled rule until the plugin's
 * factory changes.
 *
 * @internal
 * @module
 */
import { isPlugboardError } from '../../errors.js';
import type {
  ConditionContext,
  IntegrationEvent,
  RegisteredCondition,
  RegisteredTrigger,
} from '../../schema/runtime.js';
import type { RegistryPort } from '../ports.js';
import type { CompiledCondition, CompiledRule } from '../rule-shape.js';

/** What one dispatch needs from the registry. */
export interface DispatchRuntime {
  /** The integration version (only looked up when payloads are validated). */
  readonly version: string;
  readonly trigger: RegisteredTrigger | undefined;
  /** Condition types with their factories, fetched on first use. */
  readonly conditions: () => Promise<readonly RegisteredCondition[]>;
}

/** Looks up triggers and conditions in the registry, with the triggers indexed by type. */
export class RuntimeLookup {
  private readonly triggerMaps = new WeakMap<object, Map<string, RegisteredTrigger>>();

  constructor(
    private readonly registry: Pick<
      RegistryPort,
      'get' | 'getAvailableTriggers' | 'getAvailableConditions'
    >,
  ) {}

  /** The trigger of `type` among `triggers`. */
  private triggerOf(
    triggers: readonly RegisteredTrigger[],
    type: string,
  ): RegisteredTrigger | undefined {
    // The registry hands out the same array until the definition or its runtime changes.
    let byType = this.triggerMaps.get(triggers);
    if (!byType) {
      byType = new Map(triggers.map((t) => [t.type, t]));
      this.triggerMaps.set(triggers, byType);
    }
    return byType.get(type);
  }

  /** The runtime of a dispatch; undefined when the integration is unknown. */
  async runtimeFor(
    event: IntegrationEvent,
    withVersion: boolean,
  ): Promise<DispatchRuntime | undefined> {
    const id = event.integrationId;
    try {
      const triggers = await this.registry.getAvailableTriggers(id);
      let conditions: Promise<readonly RegisteredCondition[]> | undefined;
      return {
        version: withVersion ? (await this.registry.get(id)).version : '',
        trigger: this.triggerOf(triggers, event.type),
        conditions: () => {
          conditions ??= this.registry.getAvailableConditions(id);
          return conditions;
        },
      };
    } catch (e) {
      if (isPlugboardError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  /** The event's trigger with its runtime part; undefined when the integration or type is unknown. */
  triggerFor(event: IntegrationEvent): Promise<RegisteredTrigger | undefined> {
    return this.registry.getAvailableTriggers(event.integrationId).then(
      (triggers) => this.triggerOf(triggers, event.type),
      (e: unknown) => {
        if (isPlugboardError(e, 'NOT_FOUND')) return undefined;
        throw e;
      },
    );
  }

  /** The condition types of an integration, with their factories. */
  conditionsOf(integrationId: string): Promise<readonly RegisteredCondition[]> {
    return this.registry.getAvailableConditions(integrationId);
  }
}

/** The rule's trigger filter, rebuilt when the plugin's factory changed. */
export function filterOf(
  cr: CompiledRule,
  trigger: RegisteredTrigger | undefined,
): ((event: IntegrationEvent) => boolean) | undefined {
  const factory = trigger?.factory;
  if (cr.trigger?.factory !== factory || cr.trigger === undefined) {
    const filter = factory
      ? (factory.call(trigger, cr.rule.triggerConfig) as (event: never) => boolean)
      : undefined;
    cr.trigger = { factory, filter };
  }
  return cr.trigger.filter as ((event: IntegrationEvent) => boolean) | undefined;
}

/**
 * The check of an integration condition, rebuilt when the plugin's factory changed.
 *
 * @throws Error when the condition type or its factory is gone
 */
export function customCheck(
  c: Extract<CompiledCondition, { kind: 'custom' }>,
  available: readonly RegisteredCondition[],
): (event: IntegrationEvent, ctx: ConditionContext) => boolean | Promise<boolean> {
  const def = available.find((d) => d.type === c.type);
  if (!def?.factory) {
    throw new Error(
      def
        ? `condition type '${c.type}' has no runtime factory (is its plugin loaded?)`
        : `condition type '${c.type}' no longer exists`,
    );
  }
  if (c.factory !== def.factory || !c.check) {
    c.check = def.factory.call(def, c.config) as never;
    c.factory = def.factory;
  }
  return c.check as never;
}
