/**
 * Deterministic rule-engine workload shared by the json-rules-engine comparison: rules
 * over 20 trigger types with 3–5 conditions on payload fields, and events, from a seeded
 * PRNG so every run (and both engines) see exactly the same data.
 */
import type { MatchLeaf, MatchNode } from '../src/index.js';

/** mulberry32: small, fast, seeded PRNG returning [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = ['paid', 'open', 'refunded', 'failed'];
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'NL', 'SE', 'JP', 'BR'];
const TAGS = ['vip', 'new', 'b2b', 'promo', 'gift', 'repeat'];
const CITIES = ['Berlin', 'Paris', 'London', 'Tokyo', 'Austin'];
const SKUS = ['A-1', 'B-2', 'C-3', 'D-4'];

/** Integration id and trigger types of the workload. */
export const BENCH_INTEGRATION = 'bench';
export const TRIGGER_TYPES: readonly string[] = Array.from(
  { length: 20 },
  (_, i) => `event.t${String(i).padStart(2, '0')}`,
);

/** One generated rule: its plugboard id, trigger type and `match` tree. */
export interface WorkloadRule {
  readonly id: string;
  readonly triggerType: string;
  readonly tree: MatchNode;
}

/** One generated event. */
export interface WorkloadEvent {
  readonly type: string;
  readonly payload: Record<string, unknown>;
}

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function subset<T>(rnd: () => number, list: readonly T[], n: number): T[] {
  const copy = [...list];
  const out: T[] = [];
  while (out.length < n && copy.length > 0)
    out.push(copy.splice(Math.floor(rnd() * copy.length), 1)[0]!);
  return out;
}

function leaf(rnd: () => number, kind: number): MatchLeaf {
  switch (kind) {
    case 0:
      return { path: 'payload.status', operator: 'equal', value: pick(rnd, STATUSES.slice(0, 2)) };
    case 1:
      return { path: 'payload.amount', operator: 'greaterThan', value: Math.floor(rnd() * 800) };
    case 2:
      return { path: 'payload.customer.country', operator: 'in', value: subset(rnd, COUNTRIES, 4) };
    case 3:
      return { path: 'payload.tags', operator: 'contains', value: pick(rnd, TAGS) };
    case 4:
      return {
        path: 'payload.customer.address.city',
        operator: 'notEqual',
        value: pick(rnd, CITIES),
      };
    default:
      return { path: 'payload.items[0].sku', operator: 'in', value: subset(rnd, SKUS, 3) };
  }
}

/** `count` rules spread round-robin over the trigger types. */
export function generateRules(count: number, seed = 42): WorkloadRule[] {
  const rnd = prng(seed);
  const rules: WorkloadRule[] = [];
  for (let i = 0; i < count; i++) {
    const n = 3 + Math.floor(rnd() * 3);
    const kinds = subset(rnd, [0, 1, 2, 3, 4, 5], n);
    const all: MatchNode[] = kinds.map((k) => leaf(rnd, k));
    rules.push({
      id: `rule-${String(i).padStart(6, '0')}`,
      triggerType: TRIGGER_TYPES[i % TRIGGER_TYPES.length]!,
      tree: { all },
    });
  }
  return rules;
}

/** `count` events with random trigger types and payloads. */
export function generateEvents(count: number, seed = 7): WorkloadEvent[] {
  const rnd = prng(seed);
  const events: WorkloadEvent[] = [];
  for (let i = 0; i < count; i++) {
    events.push({
      type: pick(rnd, TRIGGER_TYPES),
      payload: {
        id: `evt-${i}`,
        amount: Math.floor(rnd() * 1200),
        status: pick(rnd, STATUSES),
        tags: subset(rnd, TAGS, Math.floor(rnd() * 4)),
        customer: {
          email: `user${i}@example.com`,
          country: pick(rnd, COUNTRIES),
          address: { city: pick(rnd, CITIES), zip: String(10000 + Math.floor(rnd() * 89999)) },
        },
        items: [{ sku: pick(rnd, SKUS), qty: 1 + Math.floor(rnd() * 5) }],
      },
    });
  }
  return events;
}

/** Converts a `match` tree of the workload into json-rules-engine conditions. */
export function toJreConditions(node: MatchNode): Record<string, unknown> {
  if ('all' in node) return { all: node.all.map(toJreConditions) };
  if ('any' in node) return { any: node.any.map(toJreConditions) };
  if ('not' in node) return { not: toJreConditions(node.not) };
  const [root, ...rest] = node.path.replace(/\[(\d+)\]/g, '.$1').split('.');
  const path = `$.${rest.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')}`;
  return { fact: root, path, operator: node.operator, value: node.value };
}

/** FNV-1a over a string, continuing from `h`. */
export function fnv(h: number, s: string): number {
  let x = h >>> 0;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 16777619) >>> 0;
  }
  return x;
}

/** Checksum over the matched rule ids of each event (ids sorted per event). */
export function checksum(matchesPerEvent: readonly (readonly string[])[]): {
  hash: string;
  matches: number;
} {
  let h = 2166136261;
  let matches = 0;
  matchesPerEvent.forEach((ids, i) => {
    h = fnv(h, `#${i}:`);
    for (const id of [...ids].sort()) {
      h = fnv(h, `${id},`);
      matches++;
    }
  });
  return { hash: h.toString(16).padStart(8, '0'), matches };
}
