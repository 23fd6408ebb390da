/**
 * The conformance suite every `StorageAdapter` runs. It takes the test runner's
 * `describe`, `it` and `expect` as arguments, so it works under vitest, jest, mocha with
 * an assertion library of the same shape, or node's test runner with a small shim.
 * The tests are registered by group (`suite/*.ts`), keyv-style.
 *
 * @module
 */
import { ValidationError } from '../errors.js';
import type { StorageAdapter } from '../storage/types.js';
import type { StorageSuiteGroup, StorageSuiteOptions, SuiteTestApi } from './suite/api.js';
import { arrayIndexTests } from './suite/array-indexes.js';
import { concurrencyTests } from './suite/concurrency.js';
import { type SuiteContext, suiteContext } from './suite/context.js';
import { crudTests } from './suite/crud.js';
import { indexTests } from './suite/indexes.js';
import { lifecycleTests } from './suite/lifecycle.js';
import { pagingTests } from './suite/paging.js';
import { queryTests } from './suite/query.js';
import { reopenTests } from './suite/reopen.js';

export type { StorageSuiteGroup, StorageSuiteOptions, SuiteTestApi } from './suite/api.js';

/** Each group and the function registering its tests, in the order they run. */
const GROUPS: Readonly<Record<StorageSuiteGroup, (ctx: SuiteContext) => void>> = {
  crud: crudTests,
  query: queryTests,
  indexes: indexTests,
  paging: pagingTests,
  arrayIndexes: arrayIndexTests,
  concurrency: concurrencyTests,
  lifecycle: lifecycleTests,
  reopen: reopenTests,
};

/**
 * Registers the storage conformance tests.
 *
 * Tests that need a capability the adapter does not declare (`capabilities.arrayIndexes`)
 * pass without checking anything; the `reopen` group needs `options.reopen`.
 *
 * @param api - the runner's `describe`, `it` and `expect`
 * @param createAdapter - returns a new, empty adapter for each test
 * @param options - reopen support, naming, and which groups to run (`groups`, default all)
 * @throws ValidationError when `options.groups` names an unknown group
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * import { MemoryStorage } from 'plugboard';
 * import { runStorageAdapterSuite } from 'plugboard/testing';
 *
 * runStorageAdapterSuite({ describe, it, expect }, () => new MemoryStorage());
 * // only some groups:
 * runStorageAdapterSuite({ describe, it, expect }, () => new MemoryStorage(), {
 *   groups: ['crud', 'query'],
 * });
 * ```
 */
export function runStorageAdapterSuite(
  api: SuiteTestApi,
  createAdapter: () => StorageAdapter | Promise<StorageAdapter>,
  options: StorageSuiteOptions = {},
): void {
  const wanted = selectedGroups(options.groups);
  const ctx = suiteContext(api, createAdapter, options);
  api.describe(options.name ?? 'StorageAdapter conformance', () => {
    for (const [group, register] of Object.entries(GROUPS)) {
      if (wanted.has(group)) register(ctx);
    }
  });
}

/** The groups to run, checked. */
function selectedGroups(groups: readonly StorageSuiteGroup[] | undefined): Set<string> {
  if (groups === undefined) return new Set(Object.keys(GROUPS));
  const known = Object.keys(GROUPS);
  const unknown = [...groups].filter((g) => !known.includes(g));
  if (unknown.length > 0) {
    throw new ValidationError(
      [
        {
          path: 'groups',
          message: `unknown group(s) ${unknown.join(', ')}; known: ${known.join(', ')}`,
        },
      ],
      'storage suite options',
    );
  }
  return new Set(groups);
}
