/**
 * Operators of `match` leaves: the built-in ones and the table custom ones are added to.
 * Each operator compiles its `value` once (sets, regexes, parsed dates) into a test of
 * the actual value, so nothing is parsed per event.
 *
 * @module
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import { ConflictError, ValidationError } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';
import type { JsonSchemaObject } from '../schema/definition.js';

/** A compiled test of an actual value (only called when the path is present). */
export type ValueTest = (actual: unknown) => boolean;

/** A custom operator: does `actual` (read from the event) satisfy `expected` (the leaf's value)? */
export type OperatorFn = (actual: unknown, expected: unknown) => boolean;

/** Options of `RuleEngine.addOperator`. */
export interface OperatorOptions {
  /** JSON Schema the leaf's `value` must match; checked when a rule is saved. */
  readonly valueSchema?: JsonSchemaObject;
}

/** An operator as the compiler uses it. */
export interface OperatorSpec {
  /** Checks a leaf's value at save time; returns an error message or undefined. */
  check(value: unknown): string | undefined;
  /** Builds the test for a checked value. */
  compile(value: unknown): ValueTest;
}

type Primitive = string | number | boolean | null;

function isPrimitive(v: unknown): v is Primitive {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Structural equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/** Milliseconds since the epoch of an ISO string (or a number of ms); undefined when invalid. */
export function toTime(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function equalTest(value: unknown): ValueTest {
  return isPrimitive(value) ? (a) => a === value : (a) => jsonEqual(a, value);
}

function memberTest(list: readonly unknown[]): ValueTest {
  if (list.every(isPrimitive)) {
    const prims: readonly unknown[] = list;
    if (prims.length <= 8) return (a) => prims.includes(a);
    const set = new Set<unknown>(list);
    return (a) => set.has(a);
  }
  return (a) => list.some((x) => jsonEqual(a, x));
}

function containsTest(value: unknown): ValueTest {
  const inArray = isPrimitive(value)
    ? (a: unknown[]) => a.includes(value)
    : (a: unknown[]) => a.some((x) => jsonEqual(x, value));
  return (a) => {
    if (Array.isArray(a)) return inArray(a);
    return typeof a === 'string' && typeof value === 'string' && a.includes(value);
  };
}

function numeric(cmp: (a: number, b: number) => boolean): OperatorSpec {
  return {
    check: (v) => (isFiniteNumber(v) ? undefined : 'must be a finite number'),
    compile: (v) => {
      const b = v as number;
      return (a) => typeof a === 'number' && cmp(a, b);
    },
  };
}

function dated(cmp: (a: number, b: number) => boolean): OperatorSpec {
  return {
    check: (v) =>
      toTime(v) === undefined ? 'must be an ISO date string or a number of ms' : undefined,
    compile: (v) => {
      const b = toTime(v)!;
      return (a) => {
        const t = toTime(a);
        return t !== undefined && cmp(t, b);
      };
    },
  };
}

/** The longest `matches` pattern, in characters. */
const MAX_PATTERN_LENGTH = 1000;
/**
 * The most instructions a `matches` pattern may compile to. The linear-time engine's
 * worst case is proportional to this times the input length, so it bounds the constant.
 */
const MAX_PATTERN_PROGRAM = 500;

const FLAG_BITS: Readonly<Record<string, number>> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  // Matching is by code point already, as with JavaScript's `u` flag.
  u: 0,
};

/** What RE2 cannot do in linear time, by the start of its parse error. */
function unsupported(reason: string): string {
  if (/`\(\?[=!]/.test(reason)) return 'lookahead ((?= and (?!) is not supported';
  if (/escape sequence: `\\[1-9]/.test(reason)) return 'backreferences are not supported';
  return reason.replace(/^error parsing regexp: /, '');
}

/** Whether the pattern has a `\k` escape: a named backreference in JavaScript. */
function hasNamedBackreference(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '\\') continue;
    if (pattern[i + 1] === 'k') return true;
    i++;
  }
  return false;
}

/**
 * A `matches` value compiled for the linear-time engine (RE2), or why it cannot be. The
 * pattern must also be valid JavaScript, so it means what its author expects.
 */
function regexOf(v: unknown): RE2JS | string {
  let pattern: unknown = v;
  let flags = '';
  if (isObject(v)) {
    pattern = v['pattern'];
    const f = v['flags'];
    if (f !== undefined && (typeof f !== 'string' || !/^[imsu]*$/.test(f))) {
      return 'flags may only contain i, m, s and u';
    }
    flags = (f as string | undefined) ?? '';
  }
  if (typeof pattern !== 'string') return 'must be a regex source string or { pattern, flags }';
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return `pattern must be at most ${MAX_PATTERN_LENGTH} characters`;
  }
  try {
    new RegExp(pattern, flags);
  } catch (e) {
    return `is not a valid regular expression (${(e as Error).message})`;
  }
  if (hasNamedBackreference(pattern)) {
    return 'uses a backreference (\\k<name>): backreferences are not supported';
  }
  let re: RE2JS;
  try {
    let bits = RE2JS.LOOKBEHINDS;
    for (const f of flags) bits |= FLAG_BITS[f] ?? 0;
    re = RE2JS.compile(RE2JS.translateRegExp(pattern), bits);
  } catch (e) {
    return `cannot run in linear time: ${unsupported(errorMessage(e))}`;
  }
  if (re.programSize() > MAX_PATTERN_PROGRAM) {
    return `is too complex (${re.programSize()} instructions, at most ${MAX_PATTERN_PROGRAM}); use smaller repetition counts`;
  }
  return re;
}

const stringArg = (v: unknown): string | undefined =>
  typeof v === 'string' ? undefined : 'must be a string';
const arrayArg = (v: unknown): string | undefined =>
  Array.isArray(v) ? undefined : 'must be an array';

/** Built-in operators (besides `exists`, `some` and `every`, which the compiler handles). */
export const BUILTIN_OPERATORS: Readonly<Record<string, OperatorSpec>> = Object.freeze({
  equal: { check: () => undefined, compile: equalTest },
  notEqual: {
    check: () => undefined,
    compile: (v) => {
      const eq = equalTest(v);
      return (a) => !eq(a);
    },
  },
  lessThan: numeric((a, b) => a < b),
  lessThanInclusive: numeric((a, b) => a <= b),
  greaterThan: numeric((a, b) => a > b),
  greaterThanInclusive: numeric((a, b) => a >= b),
  between: {
    check: (v) =>
      Array.isArray(v) && v.length === 2 && isFiniteNumber(v[0]) && isFiniteNumber(v[1])
        ? v[0] <= v[1]
          ? undefined
          : 'minimum must not exceed maximum'
        : 'must be [min, max] (two finite numbers)',
    compile: (v) => {
      const [min, max] = v as [number, number];
      return (a) => typeof a === 'number' && a >= min && a <= max;
    },
  },
  before: dated((a, b) => a < b),
  after: dated((a, b) => a > b),
  in: { check: arrayArg, compile: (v) => memberTest(v as unknown[]) },
  notIn: {
    check: arrayArg,
    compile: (v) => {
      const has = memberTest(v as unknown[]);
      return (a) => !has(a);
    },
  },
  contains: { check: () => undefined, compile: containsTest },
  doesNotContain: {
    check: () => undefined,
    compile: (v) => {
      const has = containsTest(v);
      return (a) => (Array.isArray(a) || typeof a === 'string') && !has(a);
    },
  },
  startsWith: {
    check: stringArg,
    compile: (v) => (a) => typeof a === 'string' && a.startsWith(v as string),
  },
  endsWith: {
    check: stringArg,
    compile: (v) => (a) => typeof a === 'string' && a.endsWith(v as string),
  },
  matches: {
    check: (v) => {
      const r = regexOf(v);
      return typeof r === 'string' ? r : undefined;
    },
    compile: (v) => {
      const re = regexOf(v) as RE2JS;
      return (a) => typeof a === 'string' && re.test(a);
    },
  },
});

/** Operators the compiler treats specially. */
export const STRUCTURAL_OPERATORS: readonly string[] = ['exists', 'some', 'every'];

/** The operators one engine knows: built-ins plus custom ones. */
export class OperatorTable {
  private readonly custom = new Map<string, OperatorSpec>();
  private ajv: Ajv | undefined;

  /** The spec of an operator, or undefined. */
  get(name: string): OperatorSpec | undefined {
    return Object.hasOwn(BUILTIN_OPERATORS, name) ? BUILTIN_OPERATORS[name] : this.custom.get(name);
  }

  /** Every operator name, built-in and custom. */
  names(): string[] {
    return [...Object.keys(BUILTIN_OPERATORS), ...STRUCTURAL_OPERATORS, ...this.custom.keys()];
  }

  /** Whether a custom operator of that name exists. */
  hasCustom(name: string): boolean {
    return this.custom.has(name);
  }

  /**
   * Adds a custom operator.
   * @throws ConflictError when the name is taken; ValidationError for a bad name or schema.
   */
  add(name: string, fn: OperatorFn, options: OperatorOptions = {}): void {
    if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) {
      throw new ValidationError(
        [{ path: 'name', message: 'must be 1-64 letters, digits or _, starting with a letter' }],
        'operator',
      );
    }
    if (typeof fn !== 'function') {
      throw new ValidationError([{ path: 'fn', message: 'must be a function' }], 'operator');
    }
    if (this.get(name) || STRUCTURAL_OPERATORS.includes(name)) {
      throw new ConflictError(`Operator '${name}' already exists; pick another name`);
    }
    let validate: ValidateFunction | undefined;
    if (options.valueSchema !== undefined) {
      this.ajv ??= new Ajv({ allErrors: true, strict: false });
      try {
        validate = this.ajv.compile(options.valueSchema);
      } catch (e) {
        throw new ValidationError(
          [
            {
              path: 'valueSchema',
              message: `is not a valid JSON Schema (${(e as Error).message})`,
            },
          ],
          'operator',
          { cause: e },
        );
      }
    }
    this.custom.set(name, {
      check: (value) => {
        if (!validate || validate(value)) return undefined;
        const err = validate.errors?.[0];
        const where = err?.instancePath ? `${err.instancePath.replaceAll('/', '.')} ` : '';
        return `${where}${err?.message ?? 'does not match the operator value schema'}`.trim();
      },
      compile: (value) => (actual) => fn(actual, value) === true,
    });
  }
}
