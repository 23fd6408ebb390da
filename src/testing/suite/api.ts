/**
 * The public types of the storage conformance suite: the test-runner API it is given and
 * its options.
 *
 * @module
 */
import type { StorageAdapter } from '../../storage/types.js';

/** The subset of a test runner's API the suite uses (vitest and jest fit as they are). */
export interface SuiteTestApi {
  /** Groups tests. */
  describe(name: string, fn: () => void): void;
  /** Declares one test. */
  it(name: string, fn: () => Promise<void>, timeout?: number): void;
  /** Creates an assertion on a value. */
  expect(actual: unknown): {
    toBe(expected: unknown): void;
    toEqual(expected: unknown): void;
  };
}

/**
 * A group of conformance tests:
 * - `crud`: capabilities, insert, get, update, delete, revisions and immutable snapshots;
 * - `query`: equality filters (dot paths, `null`, `id`), unindexed filters, ordering;
 * - `indexes`: indexes following writes, indexes declared late;
 * - `arrayIndexes`: membership filters on array fields (only when the adapter declares
 *   `capabilities.arrayIndexes`);
 * - `paging`: cursors, large result sets, writes between pages, bad cursors;
 * - `concurrency`: racing inserts and updates;
 * - `lifecycle`: independent collections, collection names, use after close;
 * - `reopen`: data and indexes surviving a reopen (only with the `reopen` option).
 */
export type StorageSuiteGroup =
  | 'crud'
  | 'query'
  | 'indexes'
  | 'arrayIndexes'
  | 'paging'
  | 'concurrency'
  | 'lifecycle'
  | 'reopen';

/** Options of {@link runStorageAdapterSuite}. */
export interface StorageSuiteOptions {
  /** Name shown in the `describe` block; default `StorageAdapter conformance`. */
  readonly name?: string;
  /**
   * For durable adapters: close `previous` and open the same store again. When given,
   * the suite checks that data and indexes survive a reopen.
   */
  readonly reopen?: (previous: StorageAdapter) => Promise<StorageAdapter>;
  /** Per-test timeout in ms; default 30,000. */
  readonly timeoutMs?: number;
  /**
   * Only these groups of tests (see {@link StorageSuiteGroup}); default every group.
   * Groups that need a capability the adapter does not declare, or an option not given,
   * pass without checking anything whatever this says.
   */
  readonly groups?: readonly StorageSuiteGroup[];
}
