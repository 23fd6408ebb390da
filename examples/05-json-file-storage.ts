/**
 * Example 5: JsonFileStorage — durable, human-readable JSON on disk, locked against a
 * second opener, reopened with everything in place.
 *
 * Run: npx tsx examples/05-json-file-storage.ts
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPlugboardError, type StoredDocument } from 'plugboard';
import { JsonFileStorage } from 'plugboard/storage/json-file';

interface Note extends StoredDocument {
  text: string;
  tag: string;
}

const dir = await mkdtemp(join(tmpdir(), 'plugboard-example-'));
try {
  // 'fsync' (default) survives power loss; 'batched' survives a process crash and is faster.
  const storage = await JsonFileStorage.open({ dir, durability: 'batched' });
  const notes = storage.collection<Note>('notes', { indexes: ['tag'] });
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      notes.insert({ id: `n${i}`, text: `note ${i}`, tag: i % 2 ? 'odd' : 'even' }),
    ),
  );
  const first = await notes.update('n1', { text: 'edited' }, { expectedRevision: 1 });
  console.log('n1 is now at revision', first.revision);

  try {
    await JsonFileStorage.open({ dir });
  } catch (e) {
    if (isPlugboardError(e, 'STORAGE_LOCKED')) console.log('second open refused:', e.message);
    else throw e;
  }
  await storage.close();

  const reopened = await JsonFileStorage.open({ dir });
  const again = reopened.collection<Note>('notes', { indexes: ['tag'] });
  console.log(
    'after reopen:',
    await again.count(),
    'notes,',
    await again.count({ tag: 'odd' }),
    'odd',
  );
  console.log('n1:', (await again.get('n1'))?.text);
  const page = await again.find({ where: { tag: 'even' }, orderBy: { field: 'id' }, limit: 3 });
  console.log(
    'first page:',
    page.items.map((n) => n.id),
    'more:',
    page.nextCursor !== undefined,
  );
  await reopened.close();
  console.log('files:', (await readdir(dir)).sort());
} finally {
  await rm(dir, { recursive: true, force: true });
}
