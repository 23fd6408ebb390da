/**
 * Execution and audit ids stay unique when several processes write one store: each
 * generator carries 128 bits from `crypto` (not `Math.random`, not the clock), and ids
 * still sort in the order they were made.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigManager, Keyring, type RuleInput } from '../../src/index.js';
import { bigOrderRule, createWorld, orderEvent, type World } from './fixtures.js';

const EXECUTION_ID = /^ex_([0-9a-z]{9})_([0-9a-z]{10})_([0-9a-z]{25})\.([0-9a-z]{4})$/;
const AUDIT_ID = /^([0-9a-z]{9})-([0-9a-z]{10})-([0-9a-z]{25})$/;

describe('ids', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory');
    await w.engine.createRule(bigOrderRule({ id: 'r' }) as RuleInput);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await w.cleanup();
  });

  const dispatchId = async (engine = w.engine): Promise<string> => {
    const [ex] = await engine.dispatch(orderEvent({ id: 'o', amount: 500 }));
    return ex!.id;
  };

  it('execution ids carry the dispatch time and 128 random bits that do not come from Math.random', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const other = w.newEngine();
    const [a, b] = [await dispatchId(), await dispatchId(other)];
    await other.close();
    const [, time, , nodeA] = EXECUTION_ID.exec(a) ?? [];
    const [, , , nodeB] = EXECUTION_ID.exec(b) ?? [];
    expect(nodeA, a).toBeDefined();
    expect(nodeB, b).toBeDefined();
    expect(nodeA).not.toBe(nodeB);
    expect(Math.abs(Number.parseInt(time!, 36) - Date.now())).toBeLessThan(60_000);
  });

  it('execution ids of several engines over one store sort in the order they were made', async () => {
    const other = w.newEngine();
    const made: string[] = [];
    for (let i = 0; i < 20; i++) made.push(await dispatchId(i % 2 === 0 ? w.engine : other));
    await other.close();
    expect(new Set(made).size).toBe(20);
    expect([...made].sort()).toEqual(made);
    const page = await w.engine.getRuleExecutions('r', { limit: 20 });
    expect(page.items.map((e) => e.id)).toEqual([...made].reverse());
  });

  it('audit ids carry 128 random bits per manager and sort in the order they were written', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    await w.config.recordAudit({ actor: 'a', action: 'x', outcome: 'success' });
    const { items } = await w.config.getAuditLog({ limit: 5 });
    const ids = items.map((e) => e.id);
    for (const id of ids) expect(id).toMatch(AUDIT_ID);
    expect([...ids].sort().reverse()).toEqual(ids);
    const second = new ConfigManager({
      storage: w.storage,
      registry: w.registry,
      keyring: new Keyring({ keys: { k1: Keyring.generateKey() }, primary: 'k1' }),
    });
    await second.recordAudit({ actor: 'b', action: 'x', outcome: 'success' });
    const [newest] = (await w.config.getAuditLog({ limit: 1 })).items;
    expect(newest?.actor).toBe('b');
    expect(AUDIT_ID.exec(newest!.id)?.[3]).not.toBe(AUDIT_ID.exec(ids[0]!)?.[3]);
    await second.close();
  });
});
