/**
 * Conformance group `crud`: capabilities, insert, get, update, delete, revisions and
 * immutable snapshots. Not part of the public API.
 *
 * @internal
 * @module
 */
import type { StoredDocument } from '../../storage/types.js';
import { codeOf, type Item, items, type SuiteContext } from './context.js';

/** Registers the `crud` tests. */
export function crudTests(ctx: SuiteContext): void {
  insertTests(ctx);
  snapshotTests(ctx);
  updateTests(ctx);
  deleteTests(ctx);
}

function insertTests({ test, expect }: SuiteContext): void {
  test('declares its capabilities', async (s) => {
    expect(typeof s.capabilities.durable).toBe('boolean');
    expect(typeof s.capabilities.transactions).toBe('boolean');
    return undefined;
  });

  test('inserts with revision 1 and reads the document back', async (s) => {
    const col = items(s);
    const inserted = await col.insert({
      id: 'a',
      name: 'Alpha',
      group: 'x',
      nested: { kind: 'k', tags: ['t1'] },
    });
    expect(inserted.revision).toBe(1);
    expect(await col.get('a')).toEqual({
      id: 'a',
      revision: 1,
      name: 'Alpha',
      group: 'x',
      nested: { kind: 'k', tags: ['t1'] },
    });
    expect(await col.get('missing')).toBe(undefined);
    return undefined;
  });

  test('sets revision 1 even when the input carries one', async (s) => {
    const col = items(s);
    const doc = { id: 'r', name: 'R', revision: 99 } as unknown as Omit<Item, 'revision'>;
    expect((await col.insert(doc)).revision).toBe(1);
    return undefined;
  });

  test('rejects a duplicate id with CONFLICT and keeps the first document', async (s) => {
    const col = items(s);
    await col.insert({ id: 'a', name: 'first' });
    expect(await codeOf(col.insert({ id: 'a', name: 'second' }))).toBe('CONFLICT');
    expect((await col.get('a'))?.name).toBe('first');
    return undefined;
  });
}

function snapshotTests({ test, expect }: SuiteContext): void {
  test('rejects invalid ids and non-JSON values with VALIDATION_FAILED', async (s) => {
    const col = items(s);
    expect(await codeOf(col.insert({ id: '', name: 'x' }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(col.insert({ id: 42 as unknown as string, name: 'x' }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(
      await codeOf(col.insert({ id: 'f', name: 'x', note: (() => 1) as unknown as string })),
    ).toBe('VALIDATION_FAILED');
    expect(await codeOf(col.insert({ id: 'n', name: 'x', score: Number.NaN }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await col.count()).toBe(0);
    return undefined;
  });

  test('keeps JSON data exactly, including unicode and a __proto__ key', async (s) => {
    const col = s.collection<StoredDocument & { data: unknown }>('json');
    const data = JSON.parse(
      '{"__proto__":{"polluted":true},"text":"zürich ✓ 😀","n":-1.5e-7,"deep":[[{"a":null}],true,0]}',
    );
    await col.insert({ id: 'j', data });
    const back = await col.get('j');
    expect(JSON.stringify(back?.data)).toBe(JSON.stringify(data));
    expect(({} as Record<string, unknown>)['polluted']).toBe(undefined);
    return undefined;
  });

  test('a returned or inserted object mutated by the caller never changes the store', async (s) => {
    const col = items(s);
    const input = { id: 'm', name: 'orig', nested: { kind: 'k', tags: ['a'] } };
    const returned = await col.insert(input);
    input.name = 'changed';
    input.nested.tags.push('b');
    try {
      (returned as { name: string }).name = 'changed';
      returned.nested?.tags?.push('c');
    } catch {
      // frozen documents throw in strict mode; that is an allowed way to protect the store
    }
    const read = await col.get('m');
    try {
      (read as { name: string }).name = 'changed';
      (read as Item).nested!.kind = 'other';
    } catch {
      // as above
    }
    const again = await col.get('m');
    expect(again?.name).toBe('orig');
    expect(again?.nested).toEqual({ kind: 'k', tags: ['a'] });
    expect((await col.find({ where: { 'nested.kind': 'k' } })).items.length).toBe(1);
    return undefined;
  });
}

function updateTests({ test, expect }: SuiteContext): void {
  test('update merges shallowly, bumps the revision and removes undefined keys', async (s) => {
    const col = items(s);
    await col.insert({ id: 'u', name: 'n', group: 'g', score: 1, note: 'keep?' });
    const updated = await col.update('u', { score: 2, note: undefined });
    expect(updated.revision).toBe(2);
    expect(await col.get('u')).toEqual({ id: 'u', revision: 2, name: 'n', group: 'g', score: 2 });
    const again = await col.update('u', { nested: { kind: 'z' } });
    expect(again.revision).toBe(3);
    expect(again.nested).toEqual({ kind: 'z' });
    return undefined;
  });

  test('update of a missing id is NOT_FOUND; changing id or revision is VALIDATION_FAILED', async (s) => {
    const col = items(s);
    expect(await codeOf(col.update('nope', { name: 'x' }))).toBe('NOT_FOUND');
    await col.insert({ id: 'u', name: 'n' });
    expect(await codeOf(col.update('u', { id: 'v' }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(col.update('u', { revision: 7 }))).toBe('VALIDATION_FAILED');
    expect((await col.get('u'))?.revision).toBe(1);
    return undefined;
  });
}

function deleteTests({ test, expect }: SuiteContext): void {
  test('expectedRevision: stale writes fail with CONFLICT and change nothing', async (s) => {
    const col = items(s);
    await col.insert({ id: 'c', name: 'v1' });
    await col.update('c', { name: 'v2' }, { expectedRevision: 1 });
    expect(await codeOf(col.update('c', { name: 'v3' }, { expectedRevision: 1 }))).toBe('CONFLICT');
    expect(await codeOf(col.delete('c', { expectedRevision: 1 }))).toBe('CONFLICT');
    expect(await col.get('c')).toEqual({ id: 'c', revision: 2, name: 'v2' });
    expect(await col.delete('c', { expectedRevision: 2 })).toBe(true);
    return undefined;
  });

  test('delete resolves true once, then false', async (s) => {
    const col = items(s);
    await col.insert({ id: 'd', name: 'x', group: 'g' });
    expect(await col.delete('d')).toBe(true);
    expect(await col.delete('d')).toBe(false);
    expect(await col.get('d')).toBe(undefined);
    expect(await col.count({ group: 'g' })).toBe(0);
    return undefined;
  });
}
