/**
 * Keeping caller-supplied text short where it is repeated: in error messages, issues and
 * suggestions. A 10 MB id given to a lookup must not come back as a 10 MB message.
 *
 * @internal
 * @module
 */

/** The longest id or value quoted whole in a message, in UTF-16 code units. */
export const MAX_QUOTED_LENGTH = 128;

/** The longest message of a plugboard error, in UTF-16 code units. */
export const MAX_MESSAGE_LENGTH = 4096;

/**
 * `text` itself when it has at most `max` characters, else its start followed by
 * `…(N characters)` naming the full length. Never splits a surrogate pair.
 */
export function clip(text: string, max: number = MAX_QUOTED_LENGTH): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…(${text.length} characters)`;
}
