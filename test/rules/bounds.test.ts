/**
 * Bounds that keep one rule, one event or one id from freezing the process: regular
 * expressions run in linear time, event size is limited, ids and suggestions are bounded.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isPlugboardError,
  type Rule,
  type StoredDocument,
  ValidationError,
} from '../../src/index.js';
import { bigOrderRule, createWorld, orderEvent, type World } from './fixtures.js';

async function rejection(p: Promise<unknown>): Promise<Error & { issues?: unknown[] }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Milliseconds `fn` takes. */
async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function regexRule(value: unknown, overrides: Record<string, unknown> = {}) {
  return bigOrderRule({
    conditions: [
      { id: 'ref', type: 'match', config: { path: 'payload.ref', operator: 'matches', value } },
    ],
    ...overrides,
  });
}

describe('regular expressions in rules', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory');
  });
  afterEach(async () => {
    await w.cleanup();
  });

  it('match ^(a+)+$ against a 10 KB adversarial payload in linear time', async () => {
    await w.engine.createRule(regexRule('^(a+)+$', { id: 'redos' }));
    // One small event first, so the time below is the match and not the first-use
    // compilation of the engine's own code.
    await w.engine.dispatch(orderEvent({ amount: 1, ref: 'aaa!' }));
    const payload = { amount: 1, ref: `${'a'.repeat(10_000)}!` };
    let executions: unknown[] = [];
    const dispatchMs = await elapsed(async () => {
      executions = await w.engine.dispatch(orderEvent(payload));
    });
    expect(executions).toMatchObject([{ ruleId: 'redos', conditionsMet: false }]);
    let evaluations: { conditionsMet?: boolean }[] = [];
    const evaluateMs = await elapsed(async () => {
      evaluations = await w.engine.evaluate(orderEvent(payload));
    });
    expect(evaluations).toMatchObject([{ ruleId: 'redos', conditionsMet: false }]);
    expect(dispatchMs).toBeLessThan(50);
    expect(evaluateMs).toBeLessThan(50);
    // And the regex still means what it says.
    const [hit] = await w.engine.dispatch(orderEvent({ amount: 1, ref: 'a'.repeat(10_000) }));
    expect(hit).toMatchObject({ conditionsMet: true });
  });

  it('keep flags i, m, s and u with JavaScript syntax', async () => {
    await w.engine.createRule(
      regexRule({ pattern: '^INV-(?<n>\\d+)\\/x.$', flags: 'ims' }, { id: 'flags' }),
    );
    const run = async (ref: string) =>
      (await w.engine.dispatch(orderEvent({ amount: 1, ref })))[0]?.conditionsMet;
    expect(await run('inv-12/X\n')).toBe(true);
    expect(await run('note\ninv-7/xz')).toBe(true);
    expect(await run('inv-/x1')).toBe(false);
    await w.engine.createRule(regexRule({ pattern: '^\\u{1F600}.$', flags: 'u' }, { id: 'u' }));
    const [, u] = await w.engine.dispatch(orderEvent({ amount: 1, ref: '😀😀' }));
    expect(u).toMatchObject({ ruleId: 'u', conditionsMet: true });
  });

  it.each([
    ['a backreference', '(a)\\1', /backreference/],
    ['a named backreference', '(?<x>a)\\k<x>', /backreference/],
    ['a lookahead', 'a(?=b)', /lookahead/],
    ['a negative lookahead', 'a(?!b)', /lookahead/],
    ['a repetition too large', '(?:a?){300}a{300}', /too complex/],
    ['invalid JavaScript', '(', /not a valid regular expression/],
  ])('refuse %s at save with the reason', async (_what, pattern, reason) => {
    const error = await rejection(w.engine.createRule(regexRule(pattern)));
    expect(error).toBeInstanceOf(ValidationError);
    const [issue] = (error as unknown as ValidationError).issues;
    expect(issue?.path).toBe('conditions[0].config.value');
    expect(issue?.message).toMatch(reason);
  });
});

describe('event size', () => {
  let w: World;
  afterEach(async () => {
    await w?.cleanup();
  });

  it('rejects an event over maxEventBytes (default 1 MiB) in dispatch and evaluate', async () => {
    w = await createWorld('memory');
    await w.engine.createRule(bigOrderRule({ id: 'r1' }));
    const big = orderEvent({ amount: 500, note: 'x'.repeat(1024 * 1024) });
    for (const run of [() => w.engine.dispatch(big), () => w.engine.evaluate(big)]) {
      const error = await rejection(run());
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toMatch(/maxEventBytes/);
      expect(error.message.length).toBeLessThan(1000);
    }
    expect(w.sent).toHaveLength(0);
    // Just under the limit is fine.
    const [ok] = await w.engine.dispatch(orderEvent({ amount: 500, note: 'x'.repeat(1000) }));
    expect(ok).toMatchObject({ ruleId: 'r1', conditionsMet: true });
  });

  it('counts UTF-8 bytes of the JSON text, checks the option and names it', async () => {
    w = await createWorld('memory', { maxEventBytes: 200 });
    await w.engine.createRule(bigOrderRule({ id: 'r1' }));
    // 60 three-byte characters: 60 UTF-16 units, but 180 bytes plus the rest of the event.
    const error = await rejection(w.engine.dispatch(orderEvent({ amount: 1, s: '€'.repeat(60) })));
    expect(error.message).toMatch(/maxEventBytes \(200\)/);
    expect(await w.engine.dispatch(orderEvent({ amount: 1, s: '€'.repeat(20) }))).toHaveLength(1);
    for (const bad of [0, -1, 1.5, 'big']) {
      expect(() => w.newEngine({ maxEventBytes: bad as number })).toThrow(/maxEventBytes/);
    }
  });

  it('rejects a cyclic payload without hanging', async () => {
    w = await createWorld('memory');
    await w.engine.createRule(bigOrderRule({ id: 'r1' }));
    const payload: Record<string, unknown> = { amount: 1 };
    payload['self'] = payload;
    const error = await rejection(w.engine.evaluate(orderEvent(payload)));
    expect(error).toBeInstanceOf(ValidationError);
  });
});

describe('ids', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory');
  });
  afterEach(async () => {
    await w.cleanup();
  });

  /** Stores `count` copies of a rule straight into storage, then opens a new engine on them. */
  async function manyRules(count: number, idOf: (i: number) => string) {
    const template = await w.engine.createRule(bigOrderRule({ id: 'a-template' }));
    const rules = w.storage.collection<Rule & StoredDocument>('rules');
    const { revision: _r, ...doc } = template;
    for (let i = 0; i < count; i++) await rules.insert({ ...doc, id: idOf(i) });
    const engine = w.newEngine();
    await engine.ready();
    return engine;
  }

  it('an 8 KB unknown rule id among 10,000 rules is refused at once', async () => {
    const engine = await manyRules(10_000, (i) => `rule-${i}-${'x'.repeat(i % 100)}`);
    try {
      const long = 'r'.repeat(8 * 1024);
      let error: Error | undefined;
      const ms = await elapsed(async () => {
        error = await rejection(engine.getRule(long));
      });
      expect(error).toBeInstanceOf(ValidationError);
      expect(error?.message).toMatch(/at most 256 characters/);
      expect(error?.message.length).toBeLessThan(500);
      expect(ms).toBeLessThan(500);
      // Still helpful for ordinary typos.
      const typo = await rejection(engine.getRule('a-templat'));
      expect(typo.message).toContain("did you mean 'a-template'?");
      for (const op of [
        () => engine.updateRule(long, { name: 'x' }),
        () => engine.deleteRule(long),
        () => engine.enableRule(long),
        () => engine.getRuleExecutions(long),
        () => engine.getExecutionLogs(long),
      ]) {
        expect(await rejection(op())).toBeInstanceOf(ValidationError);
      }
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('suggests within a bounded time for the longest ids among 10,000 rules', async () => {
    const engine = await manyRules(10_000, (i) => `${i}`.padEnd(128, 'y'));
    try {
      const wanted = 'z'.padEnd(128, 'y');
      let error: Error & { suggestions?: readonly string[] } = new Error('none');
      const ms = await elapsed(async () => {
        error = await rejection(engine.getRule(wanted));
      });
      expect(isPlugboardError(error, 'NOT_FOUND')).toBe(true);
      expect(ms).toBeLessThan(500);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
