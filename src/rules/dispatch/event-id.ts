/**
 * The delivery id of an event, for deduplication: `event.id` when the host app passes
 * one, else what the trigger's `eventId` template derives from the event.
 *
 * @internal
 * @module
 */
import type { ValidationIssue } from '../../errors.js';
import type { EventIdTemplate } from '../../internal/event-id-template.js';
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
