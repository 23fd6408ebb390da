/**
 * The message of any thrown value.
 *
 * @internal
 * @module
 */

/** `error.message` for an `Error`, else the value as a string (never throws). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}
