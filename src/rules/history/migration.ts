/**
 * The migrations of execution history. 0.1.0 → 0.2.0: plugboard 0.1.0 stored one
 * execution per document of `executions`; each becomes a record holding that one
 * execution, under the same id (so its logs document still matches). Then every record
 * gets the fields history is listed by across rules: `integrationId` and its statuses
 * (`statuses`, or `status` with one document per execution).
 *
 * @internal
 * @module
 */
import { runMigrations } from '../../storage/migrations.js';
import type { Collection, StorageAdapter } from '../../storage/types.js';
import type { Execution } from '../types.js';
import { type RecordDocument, statusesOf, statusOf } from './layout.js';

/** A document of the 0.1.0 layout: one execution per document. */
type LegacyDocument = Execution & { readonly executions?: undefined };

/** Converts 0.1.0 execution documents (one per execution) into records of one. */
const RECORDS_MIGRATION = '0.2.0-execution-records';

/** Adds `integrationId` and the statuses to records written before they were indexed. */
const FILTERS_MIGRATION = '0.2.0-execution-record-filters';

/**
 * Brings `executions` to the record layout, once per storage (recorded in `migrations`).
 * With `perExecution` (an adapter without array indexes) each record keeps its `ruleId`.
 */
export async function migrateExecutionRecords(
  storage: StorageAdapter,
  records: Collection<RecordDocument>,
  perExecution: boolean,
): Promise<void> {
  if ((await records.count()) === 0) return;
  const executions = records as unknown as Collection<LegacyDocument | RecordDocument>;
  await runMigrations(storage, [
    {
      id: RECORDS_MIGRATION,
      description: 'executions: one record per execution document of plugboard 0.1.0',
      up: async ({ log }) => {
        let converted = 0;
        let cursor: string | undefined;
        do {
          const page = await executions.find({
            limit: 500,
            ...(cursor !== undefined ? { cursor } : {}),
          });
          for (const doc of page.items) {
            if (doc.executions !== undefined) continue;
            await executions.update(doc.id, recordOf(doc as LegacyDocument, perExecution) as never);
            converted++;
          }
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        log(`converted ${converted} execution documents`);
      },
    },
    {
      id: FILTERS_MIGRATION,
      description: 'executions: integrationId and statuses on every record, to list by them',
      up: async ({ log }) => {
        let updated = 0;
        let cursor: string | undefined;
        do {
          const page = await records.find({
            limit: 500,
            ...(cursor !== undefined ? { cursor } : {}),
          });
          for (const doc of page.items) {
            const changes = filterFields(doc, perExecution);
            if (!changes) continue;
            await records.update(doc.id, changes);
            updated++;
          }
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        log(`added list fields to ${updated} execution records`);
      },
    },
  ]);
}

/** The filter fields a record lacks, or undefined when it has them. */
export function filterFields(
  doc: RecordDocument,
  perExecution: boolean,
): Partial<RecordDocument> | undefined {
  const first = doc.executions[0];
  if (!first) return undefined;
  const changes: { -readonly [K in keyof RecordDocument]?: RecordDocument[K] } = {};
  if (doc.integrationId === undefined && 'integrationId' in first) {
    changes.integrationId = first.integrationId;
  }
  if (perExecution && doc.executions.length === 1) {
    if (doc.status === undefined) changes.status = statusOf(first);
  } else if (doc.statuses === undefined) {
    changes.statuses = statusesOf(doc.executions);
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/** The changes turning a 0.1.0 document into a record holding its one execution. */
function recordOf(legacy: LegacyDocument, perExecution: boolean): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  for (const k of Object.keys(legacy)) if (k !== 'id' && k !== 'revision') changes[k] = undefined;
  changes['ruleIds'] = [legacy.ruleId];
  if (perExecution) changes['ruleId'] = legacy.ruleId;
  changes['startTime'] = legacy.startTime;
  changes['executions'] = [{ ...legacy }];
  return changes;
}
