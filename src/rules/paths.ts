/**
 * Dot paths of rule conditions and templates: parsing and reading live in
 * `internal/paths` (the registry checks `eventId` templates with them); memoised reads
 * per engine evaluation live here.
 *
 * @internal
 * @module
 */
import type { PathReader } from '../internal/paths.js';

export {
  compileReader,
  MISSING,
  type PathPart,
  type PathReader,
  parsePath,
} from '../internal/paths.js';

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
