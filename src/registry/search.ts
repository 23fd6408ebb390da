/**
 * Text ranking for `IntegrationRegistry.search` and "did you mean" suggestions.
 *
 * @internal
 * @module
 */
import type { IntegrationDefinition } from '../schema/definition.js';

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

/** The definitions matching `text`, best first (ties by id), at most `limit`. */
export function rankByText(
  defs: readonly IntegrationDefinition[],
  text: string,
  limit: number,
): IntegrationDefinition[] {
  const scored: [IntegrationDefinition, number][] = [];
  for (const def of defs) {
    const s = score(def, text);
    if (s > 0) scored.push([def, s]);
  }
  scored.sort((a, b) => b[1] - a[1] || (a[0].id < b[0].id ? -1 : 1));
  return scored.slice(0, limit).map(([d]) => d);
}
