/**
 * Text ranking for `IntegrationRegistry.search` and "did you mean" suggestions.
 *
 * @internal
 * @module
 */
import type { IntegrationDefinition } from '../schema/definition.js';

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

/** Up to `limit` candidates closest to `wanted` (prefix matches first, then by distance). */
export function closest(wanted: string, candidates: Iterable<string>, limit = 3): string[] {
  const w = wanted.toLowerCase();
  const max = Math.max(2, Math.floor(w.length / 3));
  const scored: [string, number][] = [];
  for (const c of candidates) {
    const lc = c.toLowerCase();
    const d = lc.startsWith(w) || w.startsWith(lc) ? 0.5 : editDistance(w, lc, max);
    if (d <= max) scored.push([c, d]);
  }
  scored.sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
  return scored.slice(0, limit).map(([c]) => c);
}

function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 0);
}

/** Builds the searchable text fields of a definition, with their weights. */
function fields(def: IntegrationDefinition): [string, number][] {
  const out: [string, number][] = [
    [def.id, 10],
    [def.name, 6],
  ];
  for (const t of def.tags ?? []) out.push([t, 4]);
  for (const t of def.triggers) out.push([`${t.type} ${t.name}`, 2]);
  for (const a of def.actions) out.push([`${a.type} ${a.name}`, 2]);
  if (def.description) out.push([def.description, 1]);
  return out;
}

/**
 * Scores a definition against a query: each query token found in a field adds that
 * field's weight (double for a whole-word match); an exact id match dominates.
 * Returns 0 when some query token matches nothing.
 */
export function score(def: IntegrationDefinition, query: string): number {
  const q = tokens(query);
  if (q.length === 0) return 0;
  const fs = fields(def).map(
    ([text, w]) => [text.toLowerCase(), new Set(tokens(text)), w] as const,
  );
  let total = def.id === query.trim().toLowerCase() ? 100 : 0;
  for (const t of q) {
    let best = 0;
    for (const [text, words, w] of fs) {
      if (words.has(t)) best = Math.max(best, w * 2);
      else if (text.includes(t)) best = Math.max(best, w);
    }
    if (best === 0) return 0;
    total += best;
  }
  return total;
}
