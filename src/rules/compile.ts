/**
 * The `match` condition compiler: turns a tree of `all` / `any` / `not` / leaves into
 * closures once, with pre-split paths and pre-built operator tests, so evaluating an
 * event does no parsing, cloning or allocation on the hot path.
 *
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import type { OperatorTable, ValueTest } from './operators.js';
import { compileReader, MISSING, type PathReader, parsePath } from './paths.js';
import type { ConditionFailure, ExplainedLeaf, ExplainedNode } from './types.js';

/** Where a compiled tree failed, for the execution record. */
export type LeafFailure = Omit<ConditionFailure, 'conditionId'>;

/** A compiled `match` tree. */
export interface CompiledMatch {
  /** Short-circuit evaluation. */
  readonly test: (root: unknown) => boolean;
  /** Full evaluation with every node annotated. */
  readonly explain: (root: unknown) => ExplainedNode;
  /** For a failing tree: the leaf that decided the failure, when one leaf did. */
  readonly why: (root: unknown) => LeafFailure | undefined;
}

/** Limits that keep a stored tree from becoming a denial of service. */
export const MATCH_LIMITS = Object.freeze({ maxDepth: 16, maxLeaves: 500 });

interface State {
  readonly operators: OperatorTable;
  readonly issues: ValidationIssue[];
  leaves: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const FALSE: CompiledMatch = {
  test: () => false,
  explain: () => ({ all: [], result: false }),
  why: () => undefined,
};

/**
 * Compiles a `match` tree. Problems are appended to `issues` (with paths under
 * `basePath`); when there are any the returned value must not be used.
 */
export function compileMatch(
  tree: unknown,
  operators: OperatorTable,
  basePath: string,
  issues: ValidationIssue[],
): CompiledMatch {
  return compileNode(tree, basePath, 0, { operators, issues, leaves: 0 });
}

function compileNode(node: unknown, at: string, depth: number, st: State): CompiledMatch {
  const issue = (path: string, message: string): CompiledMatch => {
    st.issues.push({ path, message });
    return FALSE;
  };
  if (!isObject(node)) {
    return issue(at, 'must be an object: { all }, { any }, { not } or { path, operator, value }');
  }
  if (depth >= MATCH_LIMITS.maxDepth) {
    return issue(at, `nests deeper than ${MATCH_LIMITS.maxDepth} levels`);
  }
  const keys = Object.keys(node);
  if ('all' in node || 'any' in node) {
    const kind = 'all' in node ? 'all' : 'any';
    if (keys.length !== 1) return issue(at, `a '${kind}' node must have no other field`);
    const list = node[kind];
    if (!Array.isArray(list)) return issue(`${at}.${kind}`, 'must be an array');
    const children = list.map((c, i) => compileNode(c, `${at}.${kind}[${i}]`, depth + 1, st));
    return kind === 'all' ? compileAll(children) : compileAny(children);
  }
  if ('not' in node) {
    if (keys.length !== 1) return issue(at, "a 'not' node must have no other field");
    const child = compileNode(node['not'], `${at}.not`, depth + 1, st);
    return {
      test: (r) => !child.test(r),
      explain: (r) => {
        const inner = child.explain(r);
        return { not: inner, result: !inner.result };
      },
      why: () => undefined,
    };
  }
  return compileLeaf(node, at, depth, st);
}

function compileAll(children: CompiledMatch[]): CompiledMatch {
  const tests = children.map((c) => c.test);
  const [a, b, c] = tests;
  let test: (r: unknown) => boolean;
  if (tests.length === 0) test = () => true;
  else if (tests.length === 1) test = a!;
  else if (tests.length === 2) test = (r) => a!(r) && b!(r);
  else if (tests.length === 3) test = (r) => a!(r) && b!(r) && c!(r);
  else {
    test = (r) => {
      for (const t of tests) if (!t(r)) return false;
      return true;
    };
  }
  return {
    test,
    explain: (r) => {
      const all = children.map((ch) => ch.explain(r));
      return { all, result: all.every((x) => x.result) };
    },
    why: (r) => {
      for (const ch of children) if (!ch.test(r)) return ch.why(r);
      return undefined;
    },
  };
}

function compileAny(children: CompiledMatch[]): CompiledMatch {
  const tests = children.map((c) => c.test);
  const [a, b] = tests;
  let test: (r: unknown) => boolean;
  if (tests.length === 0) test = () => false;
  else if (tests.length === 1) test = a!;
  else if (tests.length === 2) test = (r) => a!(r) || b!(r);
  else {
    test = (r) => {
      for (const t of tests) if (t(r)) return true;
      return false;
    };
  }
  return {
    test,
    explain: (r) => {
      const any = children.map((ch) => ch.explain(r));
      return { any, result: any.some((x) => x.result) };
    },
    // Every child failed; the first one is as good an answer as any.
    why: (r) => children[0]?.why(r),
  };
}

const LEAF_KEYS = new Set(['path', 'operator', 'value']);

function compileLeaf(
  node: Record<string, unknown>,
  at: string,
  depth: number,
  st: State,
): CompiledMatch {
  const before = st.issues.length;
  for (const k of Object.keys(node)) {
    if (!LEAF_KEYS.has(k)) {
      st.issues.push({
        path: `${at}.${k}`,
        message: 'unknown field (a leaf has path, operator and value)',
      });
    }
  }
  if (++st.leaves > MATCH_LIMITS.maxLeaves) {
    st.issues.push({
      path: at,
      message: `a tree may hold at most ${MATCH_LIMITS.maxLeaves} leaves`,
    });
    return FALSE;
  }
  const path = node['path'];
  const operator = node['operator'];
  const value = node['value'];
  const parts = typeof path === 'string' ? parsePath(path) : 'is required (a string)';
  if (typeof parts === 'string') st.issues.push({ path: `${at}.path`, message: parts });
  if (typeof operator !== 'string') {
    st.issues.push({ path: `${at}.operator`, message: 'is required (a string)' });
    return FALSE;
  }
  if (typeof parts === 'string') return FALSE;
  const read = compileReader(parts);
  const p = path as string;

  if (operator === 'exists') {
    if (value !== undefined && typeof value !== 'boolean') {
      st.issues.push({ path: `${at}.value`, message: 'must be true or false (default true)' });
      return FALSE;
    }
    const want = value !== false;
    const test = (r: unknown): boolean => (read(r) !== MISSING) === want;
    return {
      test,
      explain: (r) => leafExplain(p, operator, value ?? true, read(r), test(r)),
      why: (r) => leafWhy(p, operator, value ?? true, read(r)),
    };
  }

  if (operator === 'some' || operator === 'every') {
    const sub = compileNode(value, `${at}.value`, depth + 1, st);
    if (st.issues.length > before) return FALSE;
    const some = operator === 'some';
    const test = some
      ? (r: unknown): boolean => {
          const a = read(r);
          return Array.isArray(a) && a.some(sub.test);
        }
      : (r: unknown): boolean => {
          const a = read(r);
          return Array.isArray(a) && a.every(sub.test);
        };
    return {
      test,
      explain: (r) => {
        const a = read(r);
        const result = test(r);
        const base = leafExplain(p, operator, value, a, result) as ExplainedLeaf;
        if (!Array.isArray(a) || a.length === 0) return base;
        let index = some ? a.findIndex(sub.test) : a.findIndex((x) => !sub.test(x));
        if (index < 0) {
          if (!some) return base;
          index = 0;
        }
        return { ...base, element: { index, tree: sub.explain(a[index]) } };
      },
      why: (r) => leafWhy(p, operator, value, read(r)),
    };
  }

  const spec = st.operators.get(operator);
  if (!spec) {
    st.issues.push({
      path: `${at}.operator`,
      message: `unknown operator '${operator}'${suggest(operator, st.operators.names())}`,
    });
    return FALSE;
  }
  const problem = spec.check(value);
  if (problem !== undefined) {
    st.issues.push({ path: `${at}.value`, message: `${problem} for operator '${operator}'` });
    return FALSE;
  }
  if (st.issues.length > before) return FALSE;
  const check: ValueTest = spec.compile(value);
  const test = (r: unknown): boolean => {
    const a = read(r);
    return a !== MISSING && check(a);
  };
  return {
    test,
    explain: (r) => {
      const a = read(r);
      if (a === MISSING) return leafExplain(p, operator, value, a, false);
      try {
        return leafExplain(p, operator, value, a, check(a));
      } catch (e) {
        return { path: p, operator, expected: value, actual: a, result: false, error: errText(e) };
      }
    },
    why: (r) => leafWhy(p, operator, value, read(r)),
  };
}

function leafExplain(
  path: string,
  operator: string,
  expected: unknown,
  actual: unknown,
  result: boolean,
): ExplainedNode {
  return actual === MISSING
    ? { path, operator, expected, missing: true, result }
    : { path, operator, expected, actual, result };
}

function leafWhy(path: string, operator: string, expected: unknown, actual: unknown): LeafFailure {
  return actual === MISSING
    ? { path, operator, expected }
    : { path, operator, expected, actual: actual as unknown };
}

/** The message of a thrown value. */
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** ` (did you mean 'x'?)` for the closest name, or an empty string. */
export function suggest(name: string, names: readonly string[]): string {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const n of names) {
    const d = distance(name.toLowerCase(), n.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3))
    ? ` (did you mean '${best}'?)`
    : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Re-exported for the engine: the reader type used by templates. */
export type { PathReader };
