import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RuleInput } from '../../src/index.js';
import { importLegacyRules, runMigrations } from '../../src/migrations.js';
import { ADAPTERS, createWorld, type World } from './fixtures.js';

/** A row of a Monday.com-style per-integration rule table, as the seed app stored them. */
interface MondayRule {
  id: number;
  board_id: string;
  name: string;
  is_active: boolean;
  trigger: { type: 'status_changed' | 'item_created'; column_id?: string; to_status?: string };
  action: { type: 'notify'; channel: string; message: string };
}

const rows: MondayRule[] = [
  {
    id: 1,
    board_id: 'b-1',
    name: 'Done → #delivery',
    is_active: true,
    trigger: { type: 'status_changed', column_id: 'status', to_status: 'Done' },
    action: { type: 'notify', channel: '#delivery', message: '{item} is done' },
  },
  {
    id: 2,
    board_id: 'b-1',
    name: 'New items',
    is_active: true,
    trigger: { type: 'item_created' },
    action: { type: 'notify', channel: '#new', message: 'new item {item}' },
  },
  {
    id: 3,
    board_id: 'b-2',
    name: 'Stuck (no channel)',
    is_active: false,
    trigger: { type: 'status_changed', column_id: 'status', to_status: 'Stuck' },
    action: { type: 'notify', channel: '', message: '{item} is stuck' },
  },
];

/** Maps one legacy row to a generic rule; unsupported trigger types are skipped. */
function mondayToRule(row: MondayRule): RuleInput | undefined {
  if (row.trigger.type !== 'status_changed') return undefined;
  return {
    id: `monday-${row.id}`,
    name: row.name,
    enabled: row.is_active,
    integrationId: 'monday',
    triggerType: 'status.changed',
    triggerConfig: { boardId: row.board_id },
    conditions: [
      {
        id: 'status',
        type: 'match',
        config: {
          all: [
            { path: 'payload.columnId', operator: 'equal', value: row.trigger.column_id },
            { path: 'payload.value', operator: 'equal', value: row.trigger.to_status },
          ],
        },
      },
    ],
    actions: [
      {
        id: 'notify',
        type: 'send_message',
        integrationId: 'chat',
        config: {
          ...(row.action.channel ? { channel: row.action.channel } : {}),
          text: row.action.message.replace('{item}', '{{ payload.itemName }}'),
        },
      },
    ],
    metadata: { legacy: { table: 'monday_rules', id: row.id } },
  };
}

describe.each(ADAPTERS)('importLegacyRules with %s storage', (kind) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(kind);
    await w.registry.register(
      {
        id: 'monday',
        name: 'Monday',
        version: '1.0.0',
        authType: 'none',
        triggers: [
          {
            type: 'status.changed',
            name: 'Status changed',
            configSchema: {
              type: 'object',
              properties: { boardId: { type: 'string' } },
              required: ['boardId'],
            },
            factory: (config: unknown) => (event) =>
              (event.payload as { boardId?: string }).boardId ===
              (config as { boardId: string }).boardId,
          },
        ],
      },
      { publish: true },
    );
  });
  afterEach(async () => {
    await w.cleanup();
  });

  it('imports what maps, skips what does not, and lists invalid rules with their paths', async () => {
    const report = await importLegacyRules(rows, mondayToRule, { engine: w.engine });
    expect(report.created).toEqual(['monday-1']);
    expect(report.skipped).toEqual([{ index: 1, reason: 'the mapping returned nothing' }]);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ index: 2, ruleId: 'monday-3' });
    expect(report.failed[0]?.issues?.map((i) => i.path)).toEqual(['actions[0].config.channel']);

    const [ex] = await w.engine.dispatch({
      integrationId: 'monday',
      type: 'status.changed',
      payload: { boardId: 'b-1', columnId: 'status', value: 'Done', itemName: 'Launch' },
    });
    expect(ex).toMatchObject({ ruleId: 'monday-1', conditionsMet: true, successful: true });
    expect(w.sent[0]?.input).toEqual({ channel: '#delivery', text: 'Launch is done' });
  });

  it('can run twice (inside a migration) without duplicating rules', async () => {
    const migration = {
      id: '2026-11-import-monday-rules',
      up: async () => {
        const report = await importLegacyRules(rows.slice(0, 2), mondayToRule, {
          engine: w.engine,
        });
        if (report.failed.length > 0) throw new Error('some legacy rules did not import');
      },
    };
    expect((await runMigrations(w.storage, [migration])).applied).toHaveLength(1);
    expect((await runMigrations(w.storage, [migration])).skipped).toHaveLength(1);
    const again = await importLegacyRules(rows.slice(0, 1), mondayToRule, { engine: w.engine });
    expect(again.skipped).toEqual([
      { index: 0, ruleId: 'monday-1', reason: "rule 'monday-1' exists" },
    ]);
    expect((await w.engine.listRules()).items.map((r) => r.id)).toEqual(['monday-1']);
    const updated = await importLegacyRules([{ ...rows[0]!, name: 'Renamed' }], mondayToRule, {
      engine: w.engine,
      onExisting: 'update',
    });
    expect(updated.updated).toEqual(['monday-1']);
    expect((await w.engine.getRule('monday-1')).name).toBe('Renamed');
  });

  it('validates without writing in a dry run, and requires stable ids', async () => {
    const dry = await importLegacyRules(rows, mondayToRule, { engine: w.engine, dryRun: true });
    expect(dry.created).toEqual(['monday-1']);
    expect(dry.failed.map((f) => f.ruleId)).toEqual(['monday-3']);
    expect((await w.engine.listRules()).items).toEqual([]);
    const noId = await importLegacyRules(
      rows.slice(0, 1),
      (r) => {
        const { id: _id, ...rest } = mondayToRule(r)!;
        return rest;
      },
      { engine: w.engine },
    );
    expect(noId.failed[0]?.reason).toContain('must return an id');
  });
});
