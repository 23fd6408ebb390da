/**
 * The bound on ids given to lookups. No id plugboard stores is longer than 128 characters
 * (rule, instance and action ids; integration ids are at most 64), so a longer one cannot
 * name anything: it is refused before any search, suggestion or message repeats it.
 *
 * @internal
 * @module
 */
import { ValidationError } from '../errors.js';

/** The longest id a lookup accepts, in UTF-16 code units. */
export const MAX_ID_LENGTH = 256;

/**
 * Checks the length of an id given to a lookup (`getRule`, `getInstance`, `registry.get`…).
 * Values that are not strings are left to the lookup, which does not find them.
 *
 * @param what - what the id names, for the message prefix, e.g. `rule id`, `version range`
 * @throws ValidationError for a string longer than {@link MAX_ID_LENGTH}
 */
export function assertIdLength(id: unknown, path: string, what: string): void {
  if (typeof id === 'string' && id.length > MAX_ID_LENGTH) {
    throw new ValidationError(
      [
        {
          path,
          message: `must be at most ${MAX_ID_LENGTH} characters (got ${id.length})`,
        },
      ],
      what,
    );
  }
}
