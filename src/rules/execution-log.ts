/**
 * Entries of execution logs: the level filter, and the frozen JSON form of logged data
 * and handler outputs (scrubbed of secrets when the handler read credentials).
 *
 * @internal
 * @module
 */
import { scrubJson } from '../credentials/redact.js';
import { isoNow } from '../internal/clock.js';
import { deepFreeze, frozenJson } from '../internal/json.js';
import type { LogLevel } from '../schema/runtime.js';
import type { LogEntry } from './history/index.js';
import type { ExecutionComponent } from './types.js';

/** The order of log levels. */
export const LEVELS: Readonly<Record<LogLevel, number>> = Object.freeze({
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
});

/** Appends log entries at or above the engine's lowest recorded level. */
export class LogWriter {
  /** Whether `debug` entries are recorded (checked before building costly ones). */
  readonly debug: boolean;
  private readonly minLevel: number;

  constructor(level: LogLevel) {
    this.minLevel = LEVELS[level];
    this.debug = this.minLevel <= LEVELS.debug;
  }

  /** Appends an entry to `logs` unless its level is below the lowest recorded one. */
  add(
    logs: LogEntry[],
    level: LogLevel,
    component: ExecutionComponent,
    message: string,
    data?: unknown,
    componentId?: string,
  ): void {
    if (LEVELS[level] < this.minLevel) return;
    const entry: {
      timestamp: string;
      level: LogLevel;
      message: string;
      component: ExecutionComponent;
      data?: unknown;
      componentId?: string;
    } = { timestamp: isoNow(), level, message, component };
    const json = toJson(data);
    if (json !== undefined) entry.data = json;
    if (componentId !== undefined) entry.componentId = componentId;
    logs.push(entry);
  }
}

/**
 * A handler's output or log data as frozen JSON. Plain JSON is copied directly; anything
 * else (class instances, `toJSON`, `NaN`) goes through `JSON.stringify`, as it would on
 * the wire, and what cannot be serialised at all becomes its string.
 */
export function toJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  } else {
    try {
      return frozenJson(value, 'output');
    } catch {
      // not plain JSON: serialise it below
    }
  }
  try {
    const s = JSON.stringify(value);
    return s === undefined ? undefined : deepFreeze(JSON.parse(s));
  } catch {
    return String(value);
  }
}

/**
 * A handler's output or log data, when it read credentials: frozen JSON (see `toJson`)
 * scrubbed of their secrets.
 */
export function scrubbedJson(value: unknown, secrets: readonly string[]): unknown {
  const json = toJson(value);
  const clean = scrubJson(json, secrets);
  return clean === json || clean === null || typeof clean !== 'object'
    ? clean
    : frozenJson(clean, 'output');
}
