/**
 * The 0.1.0 → 0.2.0 migration of instance documents: plugboard 0.1.0 sealed the
 * credentials whole but also stored a view of them that kept in clear every field whose
 * name did not look secret (a nested `pin`, a `signingPin`, every field of a `$ref`'d
 * schema). Each such view is rebuilt from the credential schema (public values only),
 * once per storage; the sealed credentials are kept.
 *
 * @internal
 * @module
 */
import { isPlugboardError } from '../errors.js';
import { runMigrations } from '../storage/migrations.js';
import type { Collection, StorageAdapter } from '../storage/types.js';
import { type Changes, type InstanceDocument, MAX_MUTATE_ATTEMPTS } from './instance-document.js';

/** Id of the migration, as recorded in `migrations`. */
export const SEALED_VIEWS_MIGRATION = '0.2.0-sealed-credential-views';

/** The changes bringing one document to the current format, if it needs any. */
export type RebuildView = (doc: InstanceDocument) => Promise<Changes | undefined>;

/**
 * Rebuilds the stored view of every instance written by 0.1.0, once per storage
 * (recorded in `migrations`; safe to re-run after a crash half-way). A store without
 * instances has nothing to migrate.
 */
export async function migrateCredentialViews(
  storage: StorageAdapter,
  instances: Collection<InstanceDocument>,
  rebuild: RebuildView,
): Promise<void> {
  if ((await instances.count()) === 0) return;
  await runMigrations(storage, [
    {
      id: SEALED_VIEWS_MIGRATION,
      description: 'instances: credential views show only the values the schema marks x-public',
      up: async ({ log }) => {
        let rebuilt = 0;
        let cursor: string | undefined;
        do {
          const page = await instances.find({
            limit: 200,
            ...(cursor !== undefined ? { cursor } : {}),
          });
          for (const doc of page.items) if (await rewrite(instances, doc, rebuild)) rebuilt++;
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        log(`rebuilt the credential view of ${rebuilt} instances`);
      },
    },
  ]);
}

/** Rewrites one document, re-reading it after a concurrent write; whether it changed. */
async function rewrite(
  instances: Collection<InstanceDocument>,
  first: InstanceDocument,
  rebuild: RebuildView,
): Promise<boolean> {
  let doc: InstanceDocument | undefined = first;
  for (let attempt = 1; doc !== undefined; attempt++) {
    const changes = await rebuild(doc);
    if (changes === undefined) return false;
    try {
      await instances.update(doc.id, changes, { expectedRevision: doc.revision });
      return true;
    } catch (error) {
      if (isPlugboardError(error, 'NOT_FOUND')) return false;
      if (!isPlugboardError(error, 'CONFLICT') || attempt >= MAX_MUTATE_ATTEMPTS) throw error;
    }
    doc = await instances.get(first.id);
  }
  return false;
}
