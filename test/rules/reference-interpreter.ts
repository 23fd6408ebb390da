/**
 * A deliberately plain interpreter of `match` trees, written from the documented
 * semantics (docs/rules.md) without sharing code with the compiler. The property test
 * checks that compiled evaluation always agrees with it.
 */

type Node = Record<string, unknown>;

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b) && typeof a === typeof b;
}

/** Reads `a.b[0].c` (or `$` for the root); `found` is false when any step is absent. */
export function lookup(root: unknown, path: string): { found: boolean; value?: unknown } {
  if (path === '$' || path === '')
    return root === undefined ? { found: false } : { found: true, value: root };
  const tokens: (string | number)[] = [];
  for (const seg of path.split('.')) {
    const m = /^([^[]*)(.*)$/.exec(seg)!;
    if (m[1]) tokens.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) tokens.push(Number(idx[1]));
  }
  let cur: unknown = root;
  for (const t of tokens) {
    if (cur === null || typeof cur !== 'object') return { found: false };
    if (typeof t === 'number') {
      if (!Array.isArray(cur) || t >= cur.length) return { found: false };
    } else if (!Object.hasOwn(cur, t)) {
      return { found: false };
    }
    cur = (cur as Record<string | number, unknown>)[t];
    if (cur === undefined) return { found: false };
  }
  return { found: true, value: cur };
}

function time(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? undefined : t;
}

function contains(value: unknown, expected: unknown): boolean {
  if (Array.isArray(value)) return value.some((x) => deepEqual(x, expected));
  if (typeof value === 'string' && typeof expected === 'string')
    return value.indexOf(expected) >= 0;
  return false;
}

/** Evaluates a tree against a root value. */
export function interpret(node: Node, root: unknown): boolean {
  if (Array.isArray(node['all'])) return (node['all'] as Node[]).every((c) => interpret(c, root));
  if (Array.isArray(node['any'])) return (node['any'] as Node[]).some((c) => interpret(c, root));
  if ('not' in node) return !interpret(node['not'] as Node, root);
  const operator = node['operator'] as string;
  const expected = node['value'];
  const { found, value } = lookup(root, node['path'] as string);
  if (operator === 'exists') return found === (expected !== false);
  if (!found) return false;
  switch (operator) {
    case 'equal':
      return deepEqual(value, expected);
    case 'notEqual':
      return !deepEqual(value, expected);
    case 'lessThan':
      return typeof value === 'number' && value < (expected as number);
    case 'lessThanInclusive':
      return typeof value === 'number' && value <= (expected as number);
    case 'greaterThan':
      return typeof value === 'number' && value > (expected as number);
    case 'greaterThanInclusive':
      return typeof value === 'number' && value >= (expected as number);
    case 'between': {
      const [lo, hi] = expected as [number, number];
      return typeof value === 'number' && value >= lo && value <= hi;
    }
    case 'before':
    case 'after': {
      const a = time(value);
      const b = time(expected)!;
      if (a === undefined) return false;
      return operator === 'before' ? a < b : a > b;
    }
    case 'in':
      return (expected as unknown[]).some((x) => deepEqual(x, value));
    case 'notIn':
      return !(expected as unknown[]).some((x) => deepEqual(x, value));
    case 'contains':
      return contains(value, expected);
    case 'doesNotContain':
      return (Array.isArray(value) || typeof value === 'string') && !contains(value, expected);
    case 'startsWith':
      return typeof value === 'string' && value.slice(0, (expected as string).length) === expected;
    case 'endsWith':
      return (
        typeof value === 'string' &&
        value.length >= (expected as string).length &&
        value.slice(value.length - (expected as string).length) === expected
      );
    case 'matches':
      return typeof value === 'string' && new RegExp(expected as string).test(value);
    case 'some':
      return Array.isArray(value) && value.some((el) => interpret(expected as Node, el));
    case 'every':
      return Array.isArray(value) && value.every((el) => interpret(expected as Node, el));
    default:
      throw new Error(`reference interpreter: unknown operator ${operator}`);
  }
}
