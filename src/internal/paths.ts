/**
 * Dot paths such as `payload.items[0].sku`: parsed once, read with specialised closures.
 * Shared by rule conditions and templates and by the registry's check of trigger
 * `eventId` templates.
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
