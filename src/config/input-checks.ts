/**
 * Checks of the arguments shared by `ConfigManager` methods, run before a method reads or
 * changes anything (and before a failed attempt is audited): instance and integration ids,
 * options objects.
 *
 * @internal
 * @module
 */
import { assertIdLength } from '../internal/ids.js';
import {
  objectIssue,
  optionalStringIssue,
  stringIssue,
  throwIfIssues,
} from '../internal/options.js';
import { assertRevision } from '../storage/contract.js';
import type { WriteOptions } from '../storage/types.js';

/**
 * Checks an instance id and an options object (left out: `{}`, with a positive integer
 * `expectedRevision` if any) and returns the options.
 *
 * @throws ValidationError naming `instanceId` or `options`
 */
export function instanceCall<T extends object>(
  what: string,
  instanceId: unknown,
  opts: T | undefined,
  optionsPath = 'options',
): T {
  throwIfIssues(`${what} arguments`, [
    stringIssue('instanceId', instanceId),
    objectIssue(optionsPath, opts, true),
  ]);
  assertIdLength(instanceId, 'instanceId', 'instance id');
  // Every write option object may carry `expectedRevision`: the storage's check.
  assertRevision(opts as WriteOptions | undefined);
  return opts ?? ({} as T);
}

/**
 * The actor of a read (`getCredentials`, `getAccessToken`) after checking its arguments:
 * `opts.actor`, else the manager's default actor.
 *
 * @throws ValidationError naming `instanceId`, `options` or `options.actor`
 */
export function actorOf(
  instanceId: unknown,
  opts: { readonly actor?: string } | undefined,
  defaults: { readonly defaultActor: string },
): string {
  const { actor } = instanceCall('read', instanceId, opts);
  throwIfIssues('read arguments', [optionalStringIssue('options.actor', actor)]);
  return actor ?? defaults.defaultActor;
}

/** Checks an integration id argument. @throws ValidationError naming `integrationId` */
export function assertIntegrationId(what: string, integrationId: unknown): void {
  throwIfIssues(`${what} arguments`, [stringIssue('integrationId', integrationId)]);
  assertIdLength(integrationId, 'integrationId', 'integration id');
}
