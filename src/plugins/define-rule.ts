/**
 * Static types of `DefinedIntegration.rule()`: a rule of one integration whose `match`
 * paths, operators and values, trigger config, condition configs and action inputs are
 * checked against the integration's schemas at compile time. Types only; the rule engine
 * still validates every rule when it is saved.
 *
 * Paths are generated at most five levels below `payload` (array indexes and `some` /
 * `every` sub-trees count as levels), so large schemas stay within the compiler's limits;
 * deeper paths are refused (write such a rule as a plain `RuleInput`).
 *
 * @module
 */
import type { RetryPolicy } from '../schema/runtime.js';
import type { DefinedTypes } from './define-spec.js';

/** Remaining depth budget: `Prev[D]` is `D - 1` (`never` when spent). */
type Prev = [never, 0, 1, 2, 3, 4, 5];
type Depth = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** Every operator a `match` leaf may name without registering one (`RuleEngine.addOperator`). */
export type BuiltinOperator =
  | 'equal'
  | 'notEqual'
  | 'lessThan'
  | 'lessThanInclusive'
  | 'greaterThan'
  | 'greaterThanInclusive'
  | 'between'
  | 'before'
  | 'after'
  | 'in'
  | 'notIn'
  | 'contains'
  | 'doesNotContain'
  | 'startsWith'
  | 'endsWith'
  | 'matches'
  | 'exists'
  | 'some'
  | 'every';

/** A string that is exactly one `{{ path }}` template: it takes the value found, with its type. */
export type WholeTemplate = `{{${string}}}`;

type Join<Prefix extends string, K extends string> = Prefix extends '' ? K : `${Prefix}.${K}`;

/**
 * `[path, value type, depth left]` of every path under `T`, each prefixed with `Prefix`.
 * An array's elements are `[n]`; an `unknown` value accepts any path below it.
 */
type PathEntries<T, Prefix extends string, D extends Depth> = [D] extends [never]
  ? never
  : unknown extends T
    ? [Join<Prefix, string>, unknown, D]
    : T extends readonly (infer E)[]
      ? Prefix extends ''
        ? never
        : [`${Prefix}[${number}]`, E, Prev[D]] | PathEntries<E, `${Prefix}[${number}]`, Prev[D]>
      : T extends object
        ? {
            [K in keyof T & string]-?:
              | [Join<Prefix, K>, T[K], Prev[D]]
              | PathEntries<Exclude<T[K], undefined>, Join<Prefix, K>, Prev[D]>;
          }[keyof T & string]
        : never;

/** Any leaf, for values whose type is not known (`Type.Unknown()`, or past the depth budget). */
export interface UntypedMatchLeaf<P extends string = string> {
  /** Where to read the actual value. */
  readonly path: P;
  /** Any built-in operator. */
  readonly operator: BuiltinOperator;
  /** What to compare with. */
  readonly value?: unknown;
}

/** A `match` tree over the leaves `L`: `all` / `any` / `not` nodes and leaves. */
export type TypedMatchNode<L> =
  | L
  | { readonly all: readonly TypedMatchNode<L>[] }
  | { readonly any: readonly TypedMatchNode<L>[] }
  | { readonly not: TypedMatchNode<L> };

/** Leaves that only numbers take. */
type NumberLeaf<P extends string> =
  | {
      readonly path: P;
      readonly operator: 'lessThan' | 'lessThanInclusive' | 'greaterThan' | 'greaterThanInclusive';
      readonly value: number;
    }
  | { readonly path: P; readonly operator: 'between'; readonly value: readonly [number, number] }
  | { readonly path: P; readonly operator: 'before' | 'after'; readonly value: string | number };

/** Leaves that only strings take. */
type StringLeaf<P extends string> =
  | {
      readonly path: P;
      readonly operator: 'contains' | 'doesNotContain' | 'startsWith' | 'endsWith';
      readonly value: string;
    }
  | {
      readonly path: P;
      readonly operator: 'matches';
      readonly value: string | { readonly pattern: string; readonly flags?: string };
    }
  | { readonly path: P; readonly operator: 'before' | 'after'; readonly value: string | number };

/** Leaves that only arrays take; `some` / `every` sub-trees use element-relative paths. */
type ArrayLeaf<P extends string, E, D extends Depth> =
  | {
      readonly path: P;
      readonly operator: 'contains' | 'doesNotContain';
      readonly value: Exclude<E, undefined>;
    }
  | {
      readonly path: P;
      readonly operator: 'some' | 'every';
      readonly value: TypedMatchNode<ElementLeaf<E, D>>;
    };

/** The leaves of one member of a field's type (distributes over unions). */
type KindLeaf<P extends string, X, D extends Depth> = X extends number
  ? NumberLeaf<P>
  : X extends string
    ? StringLeaf<P>
    : X extends readonly (infer E)[]
      ? ArrayLeaf<P, E, D>
      : never;

/** Every leaf that may test path `P`, whose value has type `V`. */
type LeafFor<P extends string, V, D extends Depth> = unknown extends V
  ? UntypedMatchLeaf<P>
  :
      | { readonly path: P; readonly operator: 'exists'; readonly value?: boolean }
      | {
          readonly path: P;
          readonly operator: 'equal' | 'notEqual';
          readonly value: Exclude<V, undefined>;
        }
      | {
          readonly path: P;
          readonly operator: 'in' | 'notIn';
          readonly value: readonly Exclude<V, undefined>[];
        }
      | KindLeaf<P, Exclude<V, undefined>, D>;

type LeavesOf<E> = E extends [infer P extends string, infer V, infer D extends Depth]
  ? LeafFor<P, V, D>
  : never;

/** Leaves inside a `some` / `every` sub-tree: `$` is the element, other paths are relative to it. */
type ElementLeaf<E, D extends Depth> = [D] extends [never]
  ? UntypedMatchLeaf
  : LeafFor<'$', E, D> | LeavesOf<PathEntries<E, '', D>>;

/** The leaves of a `match` condition of a rule on trigger `K` with payload `Payload`. */
export type EventMatchLeaf<Payload, K extends string> = LeavesOf<
  | ['integrationId' | 'id' | 'timestamp' | 'context.userId' | 'context.clientId', string, 0]
  | ['type', K, 0]
  | ['payload', Payload, 4]
  | PathEntries<Payload, 'payload', 4>
>;

/**
 * An action input as a rule writes it: the input's own type, where any value may instead
 * be a whole `{{ path }}` template and strings may hold templates anywhere.
 */
export type TemplatedInput<T, D extends Depth = 6> = [D] extends [never]
  ? unknown
  : T extends string
    ? string
    : T extends number | boolean | null
      ? T | WholeTemplate
      : T extends readonly (infer E)[]
        ? readonly TemplatedInput<E, Prev[D]>[] | WholeTemplate
        : T extends object
          ? { readonly [K in keyof T]: TemplatedInput<T[K], Prev[D]> } | WholeTemplate
          : T;

/** Fields every action of a rule may set besides `type`, `integrationId` and `config`. */
export interface TypedRuleActionBase {
  /** Unique within the rule; default `action-<n>`. */
  readonly id?: string;
  /** Instance to run with; default: `ConfigManager.resolveInstance` with the event's `context`. */
  readonly instanceId?: string;
  /** Time limit of one attempt, in ms; default the engine's `actionTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Retry policy; default the engine's `retry`. */
  readonly retry?: RetryPolicy;
  /** When this action fails, run the following actions anyway. Default false. */
  readonly continueOnError?: boolean;
}

/** An action of this integration: `type` one of its actions, `config` typed from its input. */
export type OwnRuleAction<A> = {
  [T in keyof A & string]: TypedRuleActionBase & {
    /** An action type of this integration. */
    readonly type: T;
    /** The action input; values may be `{{ path }}` templates. */
    readonly config: A[T] extends { readonly input: infer I }
      ? I extends object
        ? { readonly [F in keyof I]: TemplatedInput<I[F]> }
        : Readonly<Record<string, unknown>>
      : never;
  };
}[keyof A & string];

/** An action of another integration, named by `integrationId`: not typed here. */
export interface OtherRuleAction extends TypedRuleActionBase {
  /** The integration providing the action. */
  readonly integrationId: string;
  /** Its action type. */
  readonly type: string;
  /** The action input; string values may hold `{{ payload.x }}` templates. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** A condition of this integration's own condition types, config typed from its schema. */
type OwnRuleCondition<TTypes> = TTypes extends { readonly conditions: infer C }
  ? {
      [T in keyof C & string]: {
        readonly id?: string;
        readonly type: T;
        readonly config: C[T] extends { readonly config: infer X } ? X : never;
      };
    }[keyof C & string]
  : never;

/** A condition of a typed rule: a typed `match` tree, or one of the integration's condition types. */
export type TypedRuleCondition<TTypes extends DefinedTypes, K extends keyof TTypes['triggers']> =
  | {
      /** Unique within the rule; default `condition-<n>`. */
      readonly id?: string;
      /** The built-in `match` condition. */
      readonly type: 'match';
      /** The match tree; paths, operators and values are checked against the trigger's payload. */
      readonly config: TypedMatchNode<EventMatchLeaf<TTypes['triggers'][K]['payload'], K & string>>;
    }
  | OwnRuleCondition<TTypes>;

/**
 * What `DefinedIntegration.rule()` takes: a rule of the integration on trigger `K`, whose
 * `triggerConfig`, `match` conditions and own actions are checked against the
 * integration's schemas. Paths reach at most five levels below `payload`.
 */
export interface TypedRule<TTypes extends DefinedTypes, K extends keyof TTypes['triggers']> {
  /** Default: a generated id. */
  readonly id?: string;
  /** Display name. */
  readonly name: string;
  /** Optional description. */
  readonly description?: string;
  /** Default true. */
  readonly enabled?: boolean;
  /** Passed to the trigger's factory; typed from its `configSchema`. */
  readonly triggerConfig?: TTypes['triggers'][K]['config'];
  /** All must hold; default none. */
  readonly conditions?: readonly TypedRuleCondition<TTypes, K>[];
  /** Run in order when the conditions hold. */
  readonly actions: readonly (OwnRuleAction<TTypes['actions']> | OtherRuleAction)[];
  /** Free-form data of the host app. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** What `DefinedIntegration.rule()` returns: the rule with its integration and trigger, ready for `createRule`. */
export type TypedRuleInput<
  TTypes extends DefinedTypes,
  K extends keyof TTypes['triggers'],
> = TypedRule<TTypes, K> & {
  /** The integration's id. */
  readonly integrationId: string;
  /** The trigger type. */
  readonly triggerType: K & string;
};
