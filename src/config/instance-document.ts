/**
 * The stored shape of an instance and the small pure helpers around it: its public
 * view, its health status and how a failure is classified.
 *
 * @internal
 * @module
 */
import { errorField } from '../internal/error-message.js';
import type { StoredDocument } from '../storage/types.js';
import type { ConnectionTestResult, InstanceStatus, InstanceView } from './types.js';

/** An instance as the `instances` collection holds it: its view's fields, the credentials sealed. */
export interface InstanceDocument
  extends StoredDocument,
    Omit<InstanceView, 'instanceId' | 'credentials' | 'revision'> {
  /** `pb1:<keyId>:<data>`, sealed with the instance id as context. */
  readonly sealedCredentials: string;
  /** Key id of `sealedCredentials`, for queries and progress. */
  readonly keyId: string;
  /**
   * What the API shows of the credentials: the values the credential schema marks
   * `x-public`, every other one `"[redacted]"`.
   */
  readonly credentialsView: Readonly<Record<string, unknown>>;
  /**
   * How `credentialsView` was built: {@link VIEW_FORMAT} (public values only); absent in
   * documents written by 0.1.0, whose view hid only fields with secret-looking names.
   */
  readonly viewFormat?: number;
}

/** Changes of one instance write; `undefined` removes an optional field. */
export type Changes = { -readonly [K in keyof InstanceDocument]?: InstanceDocument[K] | undefined };

/** The sealed credential fields of a document. */
export type SealedFields = Pick<
  InstanceDocument,
  'sealedCredentials' | 'keyId' | 'credentialsView' | 'viewFormat'
>;

/** The current `viewFormat`: the view holds the values the schema marks public, nothing else. */
export const VIEW_FORMAT = 2;

/** What a connection test found, before it is recorded on the instance. */
export type TestOutcome = Omit<
  ConnectionTestResult,
  'instanceId' | 'state' | 'checkedAt' | 'durationMs'
>;

/** How often a write retries after concurrent writes before giving up. */
export const MAX_MUTATE_ATTEMPTS = 5;

/** Whether two statuses say the same (ignoring when they were checked). */
export function sameStatus(a: InstanceStatus, b: InstanceStatus): boolean {
  return (
    a.state === b.state &&
    a.reason === b.reason &&
    a.error === b.error &&
    (a.missingScopes ?? []).join(' ') === (b.missingScopes ?? []).join(' ')
  );
}

/** A status value, with the failure only when there is one. */
export function statusOf(
  state: InstanceStatus['state'],
  lastChecked: string | undefined,
  failure?: { error: string; reason: NonNullable<InstanceStatus['reason']> },
): InstanceStatus {
  return {
    state,
    ...(lastChecked !== undefined ? { lastChecked } : {}),
    ...(failure ? { error: failure.error, reason: failure.reason } : {}),
  };
}

/** The public view of a document (credentials redacted), frozen. */
export function viewOf(doc: InstanceDocument): InstanceView {
  return Object.freeze({
    instanceId: doc.id,
    integrationId: doc.integrationId,
    version: doc.version,
    name: doc.name,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    context: doc.context,
    ...(doc.isDefault !== undefined ? { isDefault: doc.isDefault } : {}),
    config: doc.config,
    credentials: doc.credentialsView,
    status: doc.status,
    revision: doc.revision,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.lastUsedAt !== undefined ? { lastUsedAt: doc.lastUsedAt } : {}),
  });
}

/** `auth` for errors that say so (or HTTP 4xx other than 408/429), else `transient`. */
export function kindOf(error: unknown): 'auth' | 'transient' {
  // Read through errorField: a plugin may throw anything, even a revoked proxy.
  const kind = errorField(error, 'kind');
  if (kind === 'auth' || kind === 'transient') return kind;
  const status = [errorField(error, 'status'), errorField(error, 'statusCode')].find(
    (s): s is number => typeof s === 'number',
  );
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
    return 'auth';
  return 'transient';
}
