/**
 * `eventId` templates of trigger definitions: how to derive an event's delivery id from
 * the event when the host app does not pass `event.id`, e.g. `{{ payload.delivery_id }}`
 * or `{{ payload.account }}:{{ payload.id }}`.
 *
 * Grammar: literal text and one or more `{{ path }}` placeholders, each a path read from
 * the event (`payload.a.b[0]`, `type`, …; lookup only, never code evaluation). A template
 * without a placeholder is refused: it would make every event of the type a duplicate of
 * the first.
 *
 * Derivation: every placeholder must find a non-empty string or a finite number (numbers
 * are written in decimal); otherwise — a missing path, an empty string, another type —
 * the event has no derived id and is not deduplicated. So is a derived id longer than
 * {@link MAX_ID_LENGTH} or holding U+0000 (which PostgreSQL cannot store).
 *
 * @internal
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import { MAX_ID_LENGTH } from './ids.js';
import { compileReader, type PathReader, parsePath } from './paths.js';

/** A compiled `eventId` template. */
export interface EventIdTemplate {
  /** The template as declared on the trigger. */
  readonly source: string;
  /** The id the template gives for `event`, or `undefined` when it gives none. */
  derive(event: unknown): string | undefined;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

type Piece = string | PathReader;

/**
 * Compiles an `eventId` template. Problems are appended to `issues` under `path` (e.g.
 * `triggers[0].eventId`) and the result is then `undefined`.
 */
export function compileEventIdTemplate(
  source: string,
  path: string,
  issues: ValidationIssue[],
): EventIdTemplate | undefined {
  if (typeof source !== 'string' || source.length === 0) {
    issues.push({ path, message: "must be a non-empty template such as '{{ payload.id }}'" });
    return undefined;
  }
  const pieces: Piece[] = [];
  const before = issues.length;
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    if (match.index > last) pieces.push(source.slice(last, match.index));
    const p = match[1] ?? '';
    const parts = parsePath(p);
    if (typeof parts === 'string' || parts.length === 0) {
      const why = typeof parts === 'string' ? parts : 'needs a path such as payload.id';
      issues.push({ path, message: `template '{{ ${p} }}': ${why}` });
    } else pieces.push(compileReader(parts));
    last = match.index + match[0].length;
  }
  if (last < source.length) pieces.push(source.slice(last));
  const literal = pieces.filter((x): x is string => typeof x === 'string').join('');
  if (literal.includes('{{') || literal.includes('}}')) {
    issues.push({ path, message: "has an unclosed template; write '{{ payload.path }}'" });
  } else if (issues.length === before && pieces.every((x) => typeof x === 'string')) {
    issues.push({
      path,
      message:
        "must read the event with at least one '{{ path }}' (e.g. '{{ payload.delivery_id }}'); a fixed id would make every event a duplicate of the first",
    });
  }
  if (issues.length > before) return undefined;
  return { source, derive: (event) => derive(pieces, event) };
}

function derive(pieces: readonly Piece[], event: unknown): string | undefined {
  let out = '';
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      out += piece;
      continue;
    }
    const v = piece(event);
    if (typeof v === 'string' && v.length > 0) out += v;
    else if (typeof v === 'number' && Number.isFinite(v)) out += String(v);
    else return undefined;
    if (out.length > MAX_ID_LENGTH) return undefined;
  }
  return out.length > MAX_ID_LENGTH || out.includes('\0') ? undefined : out;
}
