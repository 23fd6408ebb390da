/**
 * "Did you mean" suggestions: a bounded edit distance and the closest names to a wanted one.
 * The work is bounded too: a name longer than any real id gets no suggestion, and one
 * search computes at most {@link SUGGEST_BUDGET} cells of edit distance over all
 * candidates, so an unknown id never costs more than a few milliseconds.
 *
 * @internal
 * @module
 */

/** Wanted names longer than this get no suggestion (no id plugboard stores is longer). */
export const MAX_SUGGEST_LENGTH = 128;

/** The most edit-distance cells one {@link closest} search computes, over all candidates. */
export const SUGGEST_BUDGET = 4_000_000;

/**
 * Levenshtein edit distance, bounded: returns `max + 1` as soon as it is exceeded. Only
 * the cells within `max` of the diagonal are computed, so the cost is
 * `min(|a|, |b|) × (2·max + 1)` at most.
 */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  const [s, t] = a.length <= b.length ? [a, b] : [b, a];
  const n = s.length;
  const m = t.length;
  if (m - n > max) return max + 1;
  if (n === 0) return m;
  const band = Math.min(max, m);
  const far = band + 1;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j <= band ? j : far;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - band);
    const hi = Math.min(m, i + band);
    let left = lo === 1 && i <= band ? i : far;
    cur[lo - 1] = left;
    let rowMin = left;
    let diag = prev[lo - 1]!;
    const si = s.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      const up = prev[j]!;
      let v = si === t.charCodeAt(j - 1) ? diag : diag + 1;
      if (up + 1 < v) v = up + 1;
      if (left + 1 < v) v = left + 1;
      cur[j] = v;
      diag = up;
      left = v;
      if (v < rowMin) rowMin = v;
    }
    // The next row reads one cell past this row's band: it lies outside, so it is far.
    if (hi < m) cur[hi + 1] = far;
    if (rowMin > max) return max + 1;
    [prev, cur] = [cur, prev];
  }
  const d = prev[m]!;
  return d > max ? max + 1 : d;
}

/** The cells {@link editDistance} computes at most for these lengths and bound. */
function cellsOf(n: number, m: number, max: number): number {
  return Math.min(n, m) * Math.min(2 * max + 1, Math.max(n, m) + 1);
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
 * Returns nothing for a name longer than {@link MAX_SUGGEST_LENGTH}; stops looking once
 * {@link SUGGEST_BUDGET} is spent (candidates are tried in their order).
 */
export function closest(
  wanted: string,
  candidates: Iterable<string>,
  limit = 3,
  options: ClosestOptions = {},
): string[] {
  if (wanted.length > MAX_SUGGEST_LENGTH) return [];
  const w = wanted.toLowerCase();
  const max = Math.max(2, Math.floor(w.length / 3));
  const prefixes = options.prefixes !== false;
  const scored: [string, number][] = [];
  let budget = SUGGEST_BUDGET;
  for (const c of candidates) {
    if (c.length > MAX_SUGGEST_LENGTH) continue;
    const lc = c.toLowerCase();
    if (prefixes && (lc.startsWith(w) || w.startsWith(lc))) {
      scored.push([c, 0.5]);
      continue;
    }
    // Too different in length to be within `max`: no work at all.
    if (Math.abs(lc.length - w.length) > max) continue;
    budget -= cellsOf(w.length, lc.length, max);
    if (budget < 0) break;
    const d = editDistance(w, lc, max);
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
