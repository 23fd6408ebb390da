/**
 * Dot paths such as `payload.items[0].sku`: parsed once, read with specialised closures.
 *
 * @internal
 * @module
 */

/** One step of a parsed path: an own property name, or an array index. */
export type PathPart = string | number;

/** Sentinel returned by readers when a path is not present. */
export const MISSING: unique symbol = Symbol('missing');

/** Reads a parsed path; returns {@link MISSING} when any step is absent. */
export type PathReader = (root: unknown) => unknown;

const SEGMENT = /^[^.[\]\s]+$/;
const MAX_PATH_LENGTH = 512;

/**
 * Parses `a.b[0].c` into `['a', 'b', 0, 'c']`. `$` (or an empty path) is the root itself.
 * Returns an error message instead of throwing.
 */
export function parsePath(path: string): PathPart[] | string {
  if (typeof path !== 'string') return 'must be a string';
  if (path.length > MAX_PATH_LENGTH) return `must be at most ${MAX_PATH_LENGTH} characters`;
  if (path === '$' || path === '') return [];
  const src = path.startsWith('$.') ? path.slice(2) : path;
  const parts: PathPart[] = [];
  for (const dotted of src.split('.')) {
    // A segment is `name`, `name[0]`, `name[0][1]` or `[0]`.
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(dotted);
    if (!m) return `'${path}' is not a valid path (use a.b[0].c)`;
    const name = m[1] ?? '';
    const indexes = m[2] ?? '';
    if (name.length > 0) {
      if (!SEGMENT.test(name)) return `'${path}' is not a valid path (use a.b[0].c)`;
      parts.push(name);
    } else if (indexes.length === 0) {
      return `'${path}' has an empty segment`;
    }
    for (const im of indexes.matchAll(/\[(\d+)\]/g)) parts.push(Number(im[1]));
  }
  return parts;
}

function stepIndex(cur: unknown, i: number): unknown {
  if (!Array.isArray(cur) || i >= cur.length) return MISSING;
  const v: unknown = cur[i];
  return v === undefined ? MISSING : v;
}

function stepKey(cur: unknown, key: string): unknown {
  if (cur === null || typeof cur !== 'object') return MISSING;
  const v = (cur as Record<string, unknown>)[key];
  if (v === undefined) return MISSING;
  // Own properties only: a path never reaches `constructor`, `__proto__` and friends
  // (inherited members are objects or functions, so scalars skip the extra check).
  if ((typeof v === 'object' || typeof v === 'function') && !Object.hasOwn(cur, key)) {
    return MISSING;
  }
  return v;
}

type Step = (cur: unknown) => unknown;

function stepOf(part: PathPart): Step {
  return typeof part === 'number' ? (cur) => stepIndex(cur, part) : (cur) => stepKey(cur, part);
}

/** Builds a reader for parsed parts, unrolled for the common short paths. */
export function compileReader(parts: readonly PathPart[]): PathReader {
  const steps = parts.map(stepOf);
  const [a, b, c] = steps;
  switch (steps.length) {
    case 0:
      return (root) => (root === undefined ? MISSING : root);
    case 1:
      return a!;
    case 2:
      return (root) => {
        const x = a!(root);
        return x === MISSING ? MISSING : b!(x);
      };
    case 3:
      return (root) => {
        let x = a!(root);
        if (x === MISSING) return MISSING;
        x = b!(x);
        return x === MISSING ? MISSING : c!(x);
      };
    default:
      return (root) => {
        let x: unknown = root;
        for (const s of steps) {
          x = s(x);
          if (x === MISSING) return MISSING;
        }
        return x;
      };
  }
}

/**
 * The evaluation counter of {@link memoReader} readers: one per engine (held by its
 * compile cache) rather than module state, so engines never invalidate each other's reads.
 */
export class Epoch {
  /** Advanced once per evaluation. */
  value = 0;

  /**
   * Starts a new evaluation: values remembered by {@link memoReader} readers are read
   * again. The engine calls it once per `dispatch` / `evaluate`, so the rules of one event
   * share each path read while a caller mutating its event between calls is never served
   * a stale value.
   */
  next(): void {
    this.value++;
  }
}

/**
 * Wraps a reader so that, within one epoch, reading the same root again returns the value
 * read the first time: fifty rules testing `payload.amount` walk the path once.
 */
export function memoReader(read: PathReader, epoch: Epoch): PathReader {
  let seen = -1;
  let lastRoot: unknown;
  let last: unknown;
  return (root) => {
    if (seen === epoch.value && root === lastRoot) return last;
    last = read(root);
    lastRoot = root;
    seen = epoch.value;
    return last;
  };
}
