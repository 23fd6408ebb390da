/**
 * The delivery id of an event, for deduplication: `event.id` when the host app passes
 * one, else what the trigger's `eventId` template derives from the event.
 *
 * @internal
 * @module
 */
import type { ValidationIssue } from '../../errors.js';
import { compileEventIdTemplate, type EventIdTemplate } from '../../internal/event-id-template.js';
import { MAX_ID_LENGTH } from '../../internal/ids.js';
import type { IntegrationEvent } from '../../schema/runtime.js';

export { compileEventIdTemplate, type EventIdTemplate } from '../../internal/event-id-template.js';

/**
 * The check of `event.id` for `checkEvent`: absent, or a non-empty string of at most
 * {@link MAX_ID_LENGTH} characters.
 *
 * @returns the issue (path `id`), or `undefined` when the id is fine
 */
export function checkEventId(event: Pick<IntegrationEvent, 'id'>): ValidationIssue | undefined {
  const id: unknown = event.id;
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || id.length === 0) {
    return { path: 'id', message: "must be a non-empty string (the provider's delivery id)" };
  }
  if (id.length > MAX_ID_LENGTH) {
    return {
      path: 'id',
      message: `must be at most ${MAX_ID_LENGTH} characters (got ${id.length})`,
    };
  }
  if (id.includes('\0')) return { path: 'id', message: 'must not contain the character U+0000' };
  return undefined;
}

/**
 * The id an event is deduplicated by: `event.id` wins; else the value `template` (the
 * trigger's compiled `eventId`) derives from the event; else `undefined`, and the event
 * is not deduplicated.
 *
 * Assumes `event.id` passed {@link checkEventId}.
 */
export function eventIdOf(
  event: IntegrationEvent,
  template: EventIdTemplate | undefined,
): string | undefined {
  if (typeof event.id === 'string' && event.id.length > 0) return event.id;
  return template?.derive(event);
}

/**
 * Compiled `eventId` templates by source text, for an engine to hold: dispatch looks a
 * trigger's template up instead of compiling it per event. Bounded: when full, the
 * oldest entry makes room.
 */
export class EventIdTemplateCache {
  private readonly compiled = new Map<string, EventIdTemplate | undefined>();

  /** @param max - the most templates kept (a positive integer) */
  constructor(private readonly max = 1000) {}

  /**
   * The compiled template of `source`; `undefined` when there is none or it does not
   * compile (the registry refuses such templates, so only foreign stored data has them).
   */
  get(source: string | undefined): EventIdTemplate | undefined {
    if (source === undefined) return undefined;
    if (this.compiled.has(source)) return this.compiled.get(source);
    const template = compileEventIdTemplate(source, 'eventId', []);
    if (this.compiled.size >= this.max) {
      const oldest = this.compiled.keys().next();
      if (!oldest.done) this.compiled.delete(oldest.value);
    }
    this.compiled.set(source, template);
    return template;
  }
}
