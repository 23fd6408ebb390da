/**
 * What the groups of the conformance suite share: the assertion function, a test
 * wrapper that opens a fresh adapter and always closes it, the fixture collection and
 * error-code helpers. Not part of the public API.
 *
 * @internal
 * @module
 */
import { errorField, errorMessage } from '../../internal/error-message.js';
import type { Collection, StorageAdapter, StoredDocument } from '../../storage/types.js';
import type { StorageSuiteOptions, SuiteTestApi } from './api.js';

/** The fixture document of most tests. */
export interface Item extends StoredDocument {
  name: string;
  group?: string | null;
  score?: number;
  nested?: { kind: string; tags?: string[] };
  note?: string;
}

/**
 * The body of one test: gets a fresh adapter and returns the adapter to close when it
 * replaced it (after a reopen), else `undefined`.
 */
export type TestBody = (storage: StorageAdapter) => Promise<StorageAdapter | undefined>;

/** What each group of tests registers its tests with. */
export interface SuiteContext {
  /** The runner's `expect`. */
  readonly expect: SuiteTestApi['expect'];
  /** The suite's options. */
  readonly options: StorageSuiteOptions;
  /** Registers a test that runs on a fresh adapter, closed afterwards. */
  test(name: string, fn: TestBody): void;
  /** Like {@link SuiteContext.test}, but passes without checking when `applies` is false. */
  testWhen(applies: (storage: StorageAdapter) => boolean, name: string, fn: TestBody): void;
}

/** Builds the context the groups share. */
export function suiteContext(
  api: SuiteTestApi,
  createAdapter: () => StorageAdapter | Promise<StorageAdapter>,
  options: StorageSuiteOptions,
): SuiteContext {
  const timeout = options.timeoutMs ?? 30_000;
  const test = (name: string, fn: TestBody): void => {
    api.it(
      name,
      async () => {
        let storage = await createAdapter();
        try {
          storage = (await fn(storage)) ?? storage;
        } finally {
          await storage.close();
        }
      },
      timeout,
    );
  };
  return {
    expect: api.expect,
    options,
    test,
    testWhen: (applies, name, fn) => test(name, async (s) => (applies(s) ? fn(s) : undefined)),
  };
}

/** Whether the adapter declares array indexes. */
export function hasArrayIndexes(s: StorageAdapter): boolean {
  return s.capabilities.arrayIndexes === true;
}

/** The fixture collection, indexed on `group`, `nested.kind` and `score`. */
export function items(s: StorageAdapter): Collection<Item> {
  return s.collection<Item>('items', { indexes: ['group', 'nested.kind', 'score'] });
}

/** The `code` of the error a promise rejects with, or `undefined` when it resolves. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    const code = errorField(e, 'code');
    return typeof code === 'string' ? code : `threw without code: ${errorMessage(e)}`;
  }
}

/** The `code` of the error a synchronous call throws, or `undefined` when it returns. */
export function codeOfCall(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return errorField(e, 'code');
  }
  return undefined;
}
