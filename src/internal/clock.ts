/**
 * Timestamps as ISO-8601 text, built once per millisecond: `Date#toISOString` costs far
 * more than reading the clock, and a busy engine stamps many records within one
 * millisecond.
 *
 * @internal
 * @module
 */

let lastMs = Number.NaN;
let lastText = '';

/** `new Date(ms).toISOString()`, reusing the text of the previous call for the same `ms`. */
export function isoAt(ms: number): string {
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}

/** The current time as ISO-8601 text (`new Date().toISOString()`). */
export function isoNow(): string {
  return isoAt(Date.now());
}
