/**
 * "Did you mean" suggestions: a bounded edit distance and the closest names to a wanted one.
 *
 * @internal
 * @module
 */

/** Levenshtein edit distance, bounded: returns `max + 1` as soon as it is exceeded. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/** Options of {@link closest} and {@link didYouMean}. */
export interface ClosestOptions {
  /**
   * Rank a candidate that starts with the wanted name (or that it starts with) before any
   * other, whatever their edit distance. Default true.
   */
  readonly prefixes?: boolean;
  /** Break ties in the candidates' order instead of alphabetically. Default false. */
  readonly inOrder?: boolean;
}

/**
 * Up to `limit` candidates closest to `wanted` (prefix matches first, then by distance),
 * within an edit distance of a third of its length (at least 2), case-insensitive.
 */
export function closest(
  wanted: string,
  candidates: Iterable<string>,
  limit = 3,
  options: ClosestOptions = {},
): string[] {
  const w = wanted.toLowerCase();
  const max = Math.max(2, Math.floor(w.length / 3));
  const prefixes = options.prefixes !== false;
  const scored: [string, number][] = [];
  for (const c of candidates) {
    const lc = c.toLowerCase();
    const d = prefixes && (lc.startsWith(w) || w.startsWith(lc)) ? 0.5 : editDistance(w, lc, max);
    if (d <= max) scored.push([c, d]);
  }
  // Array sort is stable: with `inOrder`, ties keep the candidates' order.
  scored.sort(
    options.inOrder ? (x, y) => x[1] - y[1] : (x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1),
  );
  return scored.slice(0, limit).map(([c]) => c);
}

/** ` (did you mean 'x'?)` for the closest of `names`, or an empty string. */
export function didYouMean(
  name: string,
  names: Iterable<string>,
  options: ClosestOptions = {},
): string {
  const [best] = closest(name, names, 1, options);
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}
