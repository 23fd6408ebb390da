/**
 * The size of a value as JSON text, in UTF-8 bytes, counted without building the text
 * and without recursion, and only up to a limit: past it the count stops, so measuring
 * a 100 MB value costs no more than measuring one of the limit's size.
 *
 * @internal
 * @module
 */

/** {@link jsonBytesUpTo}'s answer for a value that contains itself. */
export const CYCLIC = -1;

/** A container being measured: its keys (objects only) and how far the walk got. */
interface Frame {
  readonly node: object;
  readonly keys: readonly string[] | undefined;
  /** The next index (arrays) or key index (objects). */
  i: number;
  /** Members written so far (a comma precedes each one after the first). */
  written: number;
}

/** A character that is not one byte in JSON: a control, `"`, `\\` or non-ASCII. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const NOT_PLAIN = /[\u0000-\u001f"\\\u007f-\uffff]/;

/** UTF-8 bytes of a string as JSON (quotes and escapes included), or more than `room`. */
function stringBytes(s: string, room: number): number {
  // Every code unit takes at least one byte: a string longer than the room is over it.
  if (s.length + 2 > room) return s.length + 2;
  // Most strings are plain ASCII: one byte per character, no escapes.
  if (!NOT_PLAIN.test(s)) return s.length + 2;
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) n += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    else if (c === 0x22 || c === 0x5c) n += 2;
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 6;
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 6;
    else n += 3;
  }
  return n;
}

function scalarBytes(v: unknown, room: number): number {
  switch (typeof v) {
    case 'string':
      return stringBytes(v, room);
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4;
    case 'boolean':
      return v ? 4 : 5;
    case 'bigint':
      return String(v).length;
    default:
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? 4 : 26;
      // null, and undefined, functions and symbols in arrays, are written as null.
      return 4;
  }
}

/** Whether JSON leaves out an object member with this value. */
function dropped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** The next member of `top` to measure, adding its key and comma to the count. */
function advance(
  top: Frame,
  room: number,
): { readonly value: unknown; readonly bytes: number } | undefined {
  const { node, keys } = top;
  if (keys === undefined) {
    const list = node as readonly unknown[];
    if (top.i >= list.length) return undefined;
    return { value: list[top.i++], bytes: top.written++ > 0 ? 1 : 0 };
  }
  while (top.i < keys.length) {
    const key = keys[top.i++]!;
    const value = (node as Record<string, unknown>)[key];
    if (dropped(value)) continue;
    const comma = top.written++ > 0 ? 1 : 0;
    return { value, bytes: comma + stringBytes(key, room) + 1 };
  }
  return undefined;
}

/** {@link fastBytes}' answer when the value nests deeper than it recurses. */
const TOO_DEEP = -2;
const MAX_FAST_DEPTH = 64;

/**
 * The recursive count of {@link jsonBytesUpTo} for values nested at most
 * {@link MAX_FAST_DEPTH} deep (a cycle looks infinitely deep): no allocation per member.
 */
function fastBytes(v: unknown, depth: number, room: number): number {
  if (v === null || typeof v !== 'object' || v instanceof Date) return scalarBytes(v, room);
  if (depth >= MAX_FAST_DEPTH) return TOO_DEEP;
  let n = 2;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && n <= room; i++) {
      if (i > 0) n++;
      const b = fastBytes(v[i], depth + 1, room - n);
      if (b === TOO_DEEP) return b;
      n += b;
    }
    return n;
  }
  let first = true;
  for (const key of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[key];
    if (dropped(x)) continue;
    n += (first ? 0 : 1) + stringBytes(key, room - n) + 1;
    first = false;
    if (n > room) return n;
    const b = fastBytes(x, depth + 1, room - n);
    if (b === TOO_DEEP) return b;
    n += b;
    if (n > room) return n;
  }
  return n;
}

/**
 * The UTF-8 length of `JSON.stringify(value)` when it is at most `limit`; a number over
 * `limit` as soon as the count passes it; {@link CYCLIC} when the value contains itself.
 * Objects are walked by their own enumerable keys (`toJSON` other than `Date`'s is not
 * called). Shallow values are counted recursively; deeper ones (or cyclic ones) by an
 * explicit stack, so no nesting depth overflows the call stack.
 */
export function jsonBytesUpTo(value: unknown, limit: number): number {
  const fast = fastBytes(value, 0, limit);
  return fast === TOO_DEEP ? walkBytes(value, limit) : fast;
}

/** {@link jsonBytesUpTo} by an explicit stack, with cycle detection. */
function walkBytes(value: unknown, limit: number): number {
  let size = 0;
  const frames: Frame[] = [];
  const open = new Set<object>();
  let next: { readonly value: unknown } | undefined = { value };
  for (;;) {
    if (next !== undefined) {
      const v = next.value;
      next = undefined;
      if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
        if (open.has(v)) return CYCLIC;
        open.add(v);
        frames.push({
          node: v,
          keys: Array.isArray(v) ? undefined : Object.keys(v),
          i: 0,
          written: 0,
        });
        size += 2;
      } else {
        size += scalarBytes(v, limit - size);
      }
      if (size > limit) return size;
    }
    const top = frames.at(-1);
    if (top === undefined) return size;
    const member = advance(top, limit - size);
    if (member === undefined) {
      frames.pop();
      open.delete(top.node);
      continue;
    }
    size += member.bytes;
    if (size > limit) return size;
    next = member;
  }
}
