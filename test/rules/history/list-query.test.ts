/**
 * Checks of the query of the history across rules: each bad field is a ValidationError
 * naming its path, before anything is read; cursors are opaque and bound to their filters.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ExecutionListQuery, MemoryStorage, ValidationError } from '../../../src/index.js';
import { ExecutionStore } from '../../../src/rules/history/index.js';

describe('the query of listExecutions', () => {
  let storage: MemoryStorage;
  let store: ExecutionStore;
  beforeEach(() => {
    storage = new MemoryStorage();
    store = new ExecutionStore(storage);
  });
  afterEach(async () => {
    await storage.close();
  });

  const issuesOf = async (query: unknown): Promise<{ path: string; message: string }[]> => {
    const e: unknown = await store.list(query as ExecutionListQuery).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ValidationError);
    // The iterator checks the query at once, before the first page.
    expect(() => store.executions(query as ExecutionListQuery)).toThrow(ValidationError);
    return [...(e as ValidationError).issues];
  };

  it.each([
    [{ status: 'done' }, 'status', /one of pending, running/],
    [{ status: [] }, 'status', /non-empty list/],
    [{ status: ['dead', 'nope'] }, 'status[1]', /one of/],
    [{ status: 3 }, 'status', /one of/],
    [{ since: 'yesterday' }, 'since', /ISO 8601/],
    [{ since: '2026-12-01T10:00:00' }, 'since', /time zone/],
    [{ until: '2026-02-30T00:00:00Z' }, 'until', /ISO 8601/],
    [{ until: 1733443200000 }, 'until', /got number/],
    [{ since: '2026-12-02', until: '2026-12-01' }, 'since', /not be after until/],
    [{ limit: 0 }, 'limit', /1 to 1000/],
    [{ limit: 1001 }, 'limit', /1 to 1000/],
    [{ limit: 2.5 }, 'limit', /1 to 1000/],
    [{ limit: '10' }, 'limit', /1 to 1000/],
    [{ integrationId: '' }, 'integrationId', /non-empty string/],
    [{ ruleId: 7 }, 'ruleId', /non-empty string/],
    [{ cursor: 12 }, 'cursor', /non-empty string/],
    [{ statuses: ['dead'] }, 'statuses', /not a filter of executions/],
  ])('refuses %j at %s', async (query, path, message) => {
    const issues = await issuesOf(query);
    expect(issues).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('refuses a query that is not an object, and reports every bad field at once', async () => {
    expect(await issuesOf('dead')).toMatchObject([{ path: 'query' }]);
    expect(await issuesOf(null)).toMatchObject([{ path: 'query' }]);
    const issues = await issuesOf({ status: 'x', since: 'y', limit: -1, colour: 'red' });
    expect(issues.map((i) => i.path).sort()).toEqual(['colour', 'limit', 'since', 'status']);
  });

  it('accepts dates with offsets and plain dates, comparing them as instants', async () => {
    await expect(
      store.list({ since: '2026-12-01', until: '2026-12-01T01:00:00+01:00' }),
    ).resolves.toEqual({ items: [] });
    await expect(
      store.list({ since: '2026-12-01T00:00:00.123456Z', limit: 1000 }),
    ).resolves.toEqual({
      items: [],
    });
    await expect(store.list({ status: ['dead', 'dead'] })).resolves.toEqual({ items: [] });
  });

  it('refuses cursors that are not its own or belong to other filters', async () => {
    const ruleId = 'rule_1';
    for (let i = 0; i < 3; i++) {
      await store.recordOne(
        {
          id: `ex_${i}`,
          ruleId,
          ruleRevision: 1,
          integrationId: 'shop',
          triggerType: 'order.created',
          triggered: true,
          conditionsMet: true,
          successful: true,
          status: 'succeeded',
          startTime: `2026-12-0${i + 1}T00:00:00.000Z`,
          endTime: `2026-12-0${i + 1}T00:00:00.000Z`,
          triggerData: {},
          revision: 1,
        },
        [],
      );
    }
    const first = await store.list({ limit: 1, status: 'succeeded' });
    expect(first.items.map((e) => e.id)).toEqual(['ex_2']);
    const cursor = first.nextCursor!;
    // The page size may change from page to page; the filters may not.
    expect(
      (await store.list({ limit: 5, status: 'succeeded', cursor })).items.map((e) => e.id),
    ).toEqual(['ex_1', 'ex_0']);
    for (const bad of [
      'not a cursor!',
      'abc',
      Buffer.from('[2,"x",[null]]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
      cursor.slice(0, -3),
    ]) {
      expect(await issuesOf({ status: 'succeeded', cursor: bad })).toMatchObject([
        { path: 'cursor' },
      ]);
    }
    const issues = await issuesOf({ status: 'dead', cursor });
    expect(issues).toMatchObject([
      { path: 'cursor', message: expect.stringMatching(/other filters/) },
    ]);
    expect(await issuesOf({ cursor })).toMatchObject([{ path: 'cursor' }]);
  });
});
