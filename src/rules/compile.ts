/**
 * The `match` condition compiler: turns a tree of `all` / `any` / `not` / leaves into
 * closures once, with pre-split paths and pre-built operator tests, so evaluating an
 * event does no parsing, cloning or allocation on the hot path.
 *
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import { frozenChild, frozenJson, isObject } from '../internal/json.js';
import { type ClosestOptions, didYouMean } from '../internal/suggest.js';
import type { OperatorTable, ValueTest } from './operators.js';
import {
  compileReader,
  Epoch,
  MISSING,
  memoReader,
  type PathPart,
  type PathReader,
  parsePath,
} from './paths.js';
import type { ConditionFailure, ExplainedLeaf, ExplainedNode } from './types.js';

/**
 * A compiled `match` node: a short-circuit `test` closure plus the little data that
 * {@link explainMatch} and {@link whyMatch} need. Leaves with the same path, operator and
 * value are shared between rules (see {@link CompileCache}), which keeps 100,000 rules
 * small in memory.
 */
export type CompiledMatch =
  | {
      readonly kind: 'all' | 'any';
      readonly test: Test;
      readonly children: readonly CompiledMatch[];
    }
  | { readonly kind: 'not'; readonly test: Test; readonly child: CompiledMatch }
  | {
      readonly kind: 'leaf';
      readonly test: Test;
      readonly path: string;
      readonly operator: string;
      readonly value: unknown;
      readonly read: PathReader;
      /** The operator's test of a present value (absent for exists/some/every). */
      readonly check?: ValueTest;
      /** The element sub-tree of some/every. */
      readonly sub?: CompiledMatch;
    };

type Test = (root: unknown) => boolean;

/** Limits that keep a stored tree from becoming a denial of service. */
export const MATCH_LIMITS = Object.freeze({ maxDepth: 16, maxLeaves: 500 });

/** Shares compiled readers and leaves between rules; bounded. */
export class CompileCache {
  private readonly readers = new Map<string, PathReader>();
  private readonly leaves = new Map<string, CompiledMatch>();
  /** The evaluation counter of this cache's memoising readers. */
  private readonly epoch = new Epoch();
  constructor(private readonly max = 50_000) {}

  /** Starts a new evaluation: the readers read each path again (see {@link Epoch.next}). */
  nextEpoch(): void {
    this.epoch.next();
  }

  reader(path: string, parts: readonly PathPart[]): PathReader {
    let r = this.readers.get(path);
    if (!r) {
      if (this.readers.size >= this.max) this.readers.clear();
      r = memoReader(compileReader(parts), this.epoch);
      this.readers.set(path, r);
    }
    return r;
  }

  leaf(key: string): CompiledMatch | undefined {
    return this.leaves.get(key);
  }

  setLeaf(key: string, node: CompiledMatch): void {
    if (this.leaves.size >= this.max) this.leaves.clear();
    this.leaves.set(key, node);
  }

  /** Compiled action configs, keyed by their JSON. */
  readonly templates = new Map<string, unknown>();
}

interface State {
  readonly operators: OperatorTable;
  readonly issues: ValidationIssue[];
  readonly cache: CompileCache;
  leaves: number;
}

const FALSE: CompiledMatch = { kind: 'any', test: () => false, children: [] };

/**
 * Compiles a `match` tree. Problems are appended to `issues` (with paths under
 * `basePath`); when there are any the returned value must not be used.
 */
export function compileMatch(
  tree: unknown,
  operators: OperatorTable,
  basePath: string,
  issues: ValidationIssue[],
  cache: CompileCache = new CompileCache(),
): CompiledMatch {
  return compileNode(tree, basePath, 0, { operators, issues, cache, leaves: 0 });
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
    const tests = children.map((c) => c.test);
    return { kind, test: kind === 'all' ? allTest(tests) : anyTest(tests), children };
  }
  if ('not' in node) {
    if (keys.length !== 1) return issue(at, "a 'not' node must have no other field");
    const child = compileNode(node['not'], `${at}.not`, depth + 1, st);
    const t = child.test;
    return { kind: 'not', test: (r) => !t(r), child };
  }
  return compileLeaf(node, at, depth, st);
}

function allTest(tests: Test[]): Test {
  const [a, b, c] = tests;
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return a!;
  if (tests.length === 2) return (r) => a!(r) && b!(r);
  if (tests.length === 3) return (r) => a!(r) && b!(r) && c!(r);
  return (r) => {
    for (const t of tests) if (!t(r)) return false;
    return true;
  };
}

function anyTest(tests: Test[]): Test {
  const [a, b] = tests;
  if (tests.length === 0) return () => false;
  if (tests.length === 1) return a!;
  if (tests.length === 2) return (r) => a!(r) || b!(r);
  return (r) => {
    for (const t of tests) if (t(r)) return true;
    return false;
  };
}

const LEAF_KEYS = new Set(['path', 'operator', 'value']);

function leafKey(path: unknown, operator: unknown, value: unknown): string | undefined {
  if (typeof path !== 'string' || typeof operator !== 'string') return undefined;
  if (operator === 'some' || operator === 'every') return undefined;
  try {
    return `${path}\u0000${operator}\u0000${JSON.stringify(value) ?? ''}`;
  } catch {
    return undefined;
  }
}

function compileLeaf(
  node: Record<string, unknown>,
  at: string,
  depth: number,
  st: State,
): CompiledMatch {
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
  const onlyLeafKeys = Object.keys(node).every((k) => LEAF_KEYS.has(k));
  const key = onlyLeafKeys ? leafKey(path, operator, value) : undefined;
  const hit = key !== undefined ? st.cache.leaf(key) : undefined;
  if (hit) return hit;
  const before = st.issues.length;
  for (const k of Object.keys(node)) {
    if (!LEAF_KEYS.has(k)) {
      st.issues.push({
        path: `${at}.${k}`,
        message: 'unknown field (a leaf has path, operator and value)',
      });
    }
  }
  const parts = typeof path === 'string' ? parsePath(path) : 'is required (a string)';
  if (typeof parts === 'string') st.issues.push({ path: `${at}.path`, message: parts });
  if (typeof operator !== 'string') {
    st.issues.push({ path: `${at}.operator`, message: 'is required (a string)' });
    return FALSE;
  }
  if (typeof parts === 'string') return FALSE;
  const p = path as string;
  const leaf: Leaf = { at, before, path: p, operator, value, read: st.cache.reader(p, parts) };
  const compiled =
    operator === 'exists'
      ? existsLeaf(leaf, st)
      : operator === 'some' || operator === 'every'
        ? elementsLeaf(leaf, depth, st)
        : operatorLeaf(leaf, st);
  if (compiled !== FALSE && key !== undefined) st.cache.setLeaf(key, compiled);
  return compiled;
}

/** A leaf whose fields have the right types, being compiled. */
interface Leaf {
  /** Where it is in the tree, for issues. */
  readonly at: string;
  /** The number of issues before it was compiled. */
  readonly before: number;
  readonly path: string;
  readonly operator: string;
  readonly value: unknown;
  readonly read: PathReader;
}

/** `exists`: whether the path is present (or, with `value: false`, absent). */
function existsLeaf({ at, path, operator, value, read }: Leaf, st: State): CompiledMatch {
  if (value !== undefined && typeof value !== 'boolean') {
    st.issues.push({ path: `${at}.value`, message: 'must be true or false (default true)' });
    return FALSE;
  }
  const want = value !== false;
  const test = (r: unknown): boolean => (read(r) !== MISSING) === want;
  return { kind: 'leaf', test, path, operator, value: shared(value ?? true), read };
}

/** `some` / `every`: a sub-tree tested against the elements of an array. */
function elementsLeaf(leaf: Leaf, depth: number, st: State): CompiledMatch {
  const { at, path, operator, value, read } = leaf;
  const sub = compileNode(value, `${at}.value`, depth + 1, st);
  if (st.issues.length > leaf.before) return FALSE;
  const t = sub.test;
  const test =
    operator === 'some'
      ? (r: unknown): boolean => {
          const a = read(r);
          return Array.isArray(a) && a.some(t);
        }
      : (r: unknown): boolean => {
          const a = read(r);
          return Array.isArray(a) && a.every(t);
        };
  return { kind: 'leaf', test, path, operator, value: shared(value), read, sub };
}

/** An operator of the table, tested against the value at the path when it is present. */
function operatorLeaf(leaf: Leaf, st: State): CompiledMatch {
  const { at, path, operator, value, read } = leaf;
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
  if (st.issues.length > leaf.before) return FALSE;
  const check: ValueTest = spec.compile(value);
  const test = (r: unknown): boolean => {
    const a = read(r);
    return a !== MISSING && check(a);
  };
  return { kind: 'leaf', test, path, operator, value: shared(value), read, check };
}

/** Full evaluation of a compiled tree, every node annotated with its result. */
export function explainMatch(node: CompiledMatch, root: unknown): ExplainedNode {
  switch (node.kind) {
    case 'all': {
      const all = node.children.map((c) => explainMatch(c, root));
      return { all, result: all.every((x) => x.result) };
    }
    case 'any': {
      const any = node.children.map((c) => explainMatch(c, root));
      return { any, result: any.some((x) => x.result) };
    }
    case 'not': {
      const inner = explainMatch(node.child, root);
      return { not: inner, result: !inner.result };
    }
    default:
      return explainLeaf(node, root);
  }
}

function explainLeaf(node: Extract<CompiledMatch, { kind: 'leaf' }>, root: unknown): ExplainedLeaf {
  const { path, operator, value: expected } = node;
  const actual = node.read(root);
  if (actual === MISSING) {
    return { path, operator, expected, missing: true, result: node.test(root) };
  }
  let result: boolean;
  try {
    result = node.check ? node.check(actual) : node.test(root);
  } catch (e) {
    return { path, operator, expected, actual, result: false, error: errorMessage(e) };
  }
  const leaf: ExplainedLeaf = { path, operator, expected, actual, result };
  const sub = node.sub;
  if (!sub || !Array.isArray(actual) || actual.length === 0) return leaf;
  const some = operator === 'some';
  let index = some ? actual.findIndex(sub.test) : actual.findIndex((x) => !sub.test(x));
  if (index < 0) {
    if (!some) return leaf;
    index = 0;
  }
  return { ...leaf, element: { index, tree: explainMatch(sub, actual[index]) } };
}

/**
 * For a failing tree of condition `conditionId`: the failure to record, naming the leaf
 * that decided it when one leaf did. Frozen JSON: object values are copied.
 */
export function whyMatch(
  node: CompiledMatch,
  root: unknown,
  conditionId: string,
): ConditionFailure {
  const at = failingNode(node, root);
  if (at.kind !== 'leaf') return Object.freeze({ conditionId });
  const actual = at.read(root);
  const { path, operator } = at;
  const expected = jsonOf(at.value);
  return Object.freeze(
    actual === MISSING
      ? { conditionId, path, operator, expected }
      : { conditionId, path, operator, expected, actual: jsonOf(actual) },
  );
}

/**
 * The node {@link whyMatch} reports for a tree that failed on `root`: the first failing
 * leaf, or a `not` (or empty group) that failed as a whole.
 */
export function failingNode(node: CompiledMatch, root: unknown): CompiledMatch {
  switch (node.kind) {
    case 'all':
      for (const c of node.children) if (!c.test(root)) return failingNode(c, root);
      return node;
    case 'any':
      // Every child failed; the first one is as good an answer as any.
      return node.children[0] ? failingNode(node.children[0], root) : node;
    default:
      return node;
  }
}

/**
 * The node {@link whyMatch} would report when `node` fails on `root`, or undefined when
 * it holds: one walk instead of a test and then a search for the failing leaf.
 */
export function failAt(node: CompiledMatch, root: unknown): CompiledMatch | undefined {
  if (node.kind !== 'all') return node.test(root) ? undefined : failingNode(node, root);
  for (const c of node.children) if (!c.test(root)) return failingNode(c, root);
  return undefined;
}

/**
 * What {@link whyMatch} reports for a failing node, without the `actual` value: the same
 * for every event that fails there, so it can be built once and shared (frozen).
 */
export function failureAt(
  node: CompiledMatch,
  conditionId: string,
): Omit<ConditionFailure, 'actual'> {
  if (node.kind !== 'leaf') return Object.freeze({ conditionId });
  return Object.freeze({
    conditionId,
    path: node.path,
    operator: node.operator,
    expected: jsonOf(node.value),
  });
}

/**
 * A leaf's value as a shared frozen snapshot, so every execution recording it as
 * `expected` references it instead of copying it.
 */
function shared(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  try {
    return frozenJson(value, 'value');
  } catch {
    return value;
  }
}

function jsonOf(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? frozenChild(v, 'value') : v;
}

/**
 * How rule validation suggests names: by edit distance only, ties in the candidates'
 * order, as its messages have read since 0.1.0 (no prefix matches first).
 */
const RULE_SUGGESTIONS: ClosestOptions = Object.freeze({ prefixes: false, inOrder: true });

/** ` (did you mean 'x'?)` for the closest name, or an empty string. */
export function suggest(name: string, names: readonly string[]): string {
  return didYouMean(name, names, RULE_SUGGESTIONS);
}
