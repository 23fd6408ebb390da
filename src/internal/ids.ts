/**
 * Time-ordered unique ids for documents that several processes may write into one
 * store: `<prefix><ms><sep><count><sep><node>`, where `ms` is the writing time by the
 * generator's clock (9 base-36 digits, never going back), `count` numbers the ids this
 * process made (10 base-36 digits, over all generators) and `node` is 128 random bits
 * drawn from `crypto` once per generator (25 base-36 digits).
 *
 * Ids of one process sort in the order it made them, whichever generator made them
 * (given one clock); ids of different processes sort by time to the millisecond; and
 * ids never collide unless two generators drew the same 128-bit node.
 *
 * Also the bound on ids given to lookups ({@link MAX_ID_LENGTH}).
 *
 * @internal
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors.js';

// The one piece of process-wide state: the count of ids made, so that two generators
// (two engines over one store) making ids in the same millisecond still order them.
let made = 0;

/** The first 9 characters after the prefix of an id made at `ms`: its time part. */
export function timePart(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(36).padStart(9, '0');
}

/** 128 random bits as 25 base-36 digits. */
function randomNode(): string {
  return BigInt(`0x${randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0');
}

/** Makes time-ordered ids that are unique across processes (see the module comment). */
export class OrderedIds {
  /** The random part of every id of this generator. */
  readonly node: string = randomNode();
  private lastMs = -1;
  /** `<prefix><timePart(lastMs)><sep>`, rebuilt only when the millisecond changes. */
  private head = '';

  /**
   * @param prefix - put before every id, e.g. `ex_`
   * @param sep - between the time, the count and the node, e.g. `-`
   */
  constructor(
    private readonly prefix: string,
    private readonly sep: string,
  ) {}

  /** The next id, for a write at `ms`; a clock going back keeps the last time seen. */
  next(ms: number): string {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.head = `${this.prefix}${timePart(ms)}${this.sep}`;
    }
    // 10 digits count 3.6e15 ids: over a century at a million ids a second.
    const count = (made++).toString(36).padStart(10, '0');
    return `${this.head}${count}${this.sep}${this.node}`;
  }
}

/*
 * The bound on ids given to lookups. No id plugboard stores is longer than 128 characters
 * (rule, instance and action ids; integration ids are at most 64), so a longer one cannot
 * name anything: it is refused before any search, suggestion or message repeats it.
 */

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
