/**
 * The error hierarchy of plugboard.
 *
 * Every error thrown by a public entry point is a {@link PlugboardError} with a stable
 * string {@link PlugboardError.code | code}. Messages say what went wrong and how to fix
 * it, name the field path where there is one, and never contain a secret value.
 *
 * @module
 */
import { clip, MAX_MESSAGE_LENGTH } from './internal/truncate.js';

/** Every stable error code plugboard uses. */
export type PlugboardErrorCode =
  | 'VALIDATION_FAILED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INCOMPATIBLE_VERSION'
  | 'REFERENCED'
  | 'AMBIGUOUS_INSTANCE'
  | 'PLUGIN_LOAD_FAILED'
  | 'CONNECTION_TEST_FAILED'
  | 'STORAGE_LOCKED'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_CLOSED'
  | 'STORAGE_UNAVAILABLE'
  | 'TIMEOUT'
  | 'DECRYPTION_FAILED'
  | 'OAUTH2_FAILED'
  | 'ACTION_FAILED'
  | 'FORBIDDEN';

/** One problem found while validating input: where it is and what is wrong. */
export interface ValidationIssue {
  /** Path of the offending field, e.g. `actions[2].inputSchema` or `config.tenantId`. */
  readonly path: string;
  /** What is wrong and, where possible, how to fix it. */
  readonly message: string;
  /** The JSON Schema keyword that failed, when the issue comes from schema validation. */
  readonly keyword?: string;
  /** JSON pointer of the offending value inside the validated document (schema validation only). */
  readonly pointer?: string;
}

const PLUGBOARD_ERROR_MARK = Symbol.for('plugboard.error');

/**
 * Base class of every error plugboard throws.
 *
 * Use {@link isPlugboardError} rather than `instanceof` when two copies of the package
 * may be loaded (for example a plugin bundling its own copy).
 */
export class PlugboardError extends Error {
  /** Stable, machine-readable code; safe to switch on. */
  readonly code: PlugboardErrorCode;

  /**
   * @param code - the stable error code
   * @param message - a message that says what to fix
   * @param options - optional `cause`
   */
  constructor(code: PlugboardErrorCode, message: string, options?: ErrorOptions) {
    // Messages quote ids and values given by callers: keep them to a readable size.
    super(
      clip(message, MAX_MESSAGE_LENGTH),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.name = 'PlugboardError';
    Object.defineProperty(this, PLUGBOARD_ERROR_MARK, { value: true });
  }

  /** A plain, serialisable view (no stack, no cause chain). */
  toJSON(): { name: string; code: PlugboardErrorCode; message: string } {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/** Issue paths and messages longer than these are cut (they may quote caller input). */
const MAX_ISSUE_PATH = 256;
const MAX_ISSUE_MESSAGE = 1024;

function clipIssue(issue: ValidationIssue): ValidationIssue {
  if (issue.path.length <= MAX_ISSUE_PATH && issue.message.length <= MAX_ISSUE_MESSAGE) {
    return issue;
  }
  return {
    ...issue,
    path: clip(issue.path, MAX_ISSUE_PATH),
    message: clip(issue.message, MAX_ISSUE_MESSAGE),
  };
}

function formatIssues(issues: readonly ValidationIssue[]): string {
  const shown = issues.slice(0, 10).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  const more = issues.length > 10 ? `; and ${issues.length - 10} more` : '';
  return shown.join('; ') + more;
}

/** Input did not match what the API expects; {@link ValidationError.issues} lists each problem. */
export class ValidationError extends PlugboardError {
  /** Every problem found, with its field path. */
  readonly issues: readonly ValidationIssue[];

  /**
   * @param issues - the problems found (at least one)
   * @param context - a short prefix saying what was being validated, e.g. `definition`
   */
  constructor(issues: readonly ValidationIssue[], context?: string, options?: ErrorOptions) {
    const clipped = issues.map(clipIssue);
    const body = formatIssues(clipped);
    super('VALIDATION_FAILED', context ? `Invalid ${context}: ${body}` : body, options);
    this.name = 'ValidationError';
    this.issues = Object.freeze(clipped.map((i) => Object.freeze({ ...i })));
  }

  override toJSON(): {
    name: string;
    code: PlugboardErrorCode;
    message: string;
    issues: readonly ValidationIssue[];
  } {
    return { ...super.toJSON(), issues: this.issues };
  }
}

/**
 * Something looked up by id does not exist; the message suggests close matches. The
 * message quotes at most 128 characters of the id (and of each suggestion).
 */
export class NotFoundError extends PlugboardError {
  /** What kind of thing was looked up, e.g. `integration`, `document`, `instance`. */
  readonly resource: string;
  /** The id that was not found, as given. */
  readonly id: string;
  /** Close matches, best first (may be empty). */
  readonly suggestions: readonly string[];

  constructor(
    resource: string,
    id: string,
    options?: ErrorOptions & { suggestions?: readonly string[]; detail?: string },
  ) {
    const suggestions = options?.suggestions ?? [];
    const hint =
      suggestions.length > 0
        ? ` (did you mean ${suggestions.map((s) => `'${clip(s)}'`).join(' or ')}?)`
        : '';
    const detail = options?.detail ? `. ${options.detail}` : '';
    super('NOT_FOUND', `${resource} '${clip(String(id))}' not found${hint}${detail}`, options);
    this.name = 'NotFoundError';
    this.resource = resource;
    this.id = id;
    this.suggestions = Object.freeze([...suggestions]);
  }
}

/** A write collided with existing state: duplicate id, or a stale `expectedRevision`. */
export class ConflictError extends PlugboardError {
  constructor(message: string, options?: ErrorOptions) {
    super('CONFLICT', message, options);
    this.name = 'ConflictError';
  }
}

/** A new minor/patch version breaks compatibility with the previous one of its major. */
export class CompatibilityError extends PlugboardError {
  /** Each breaking change, e.g. `configSchema.required: added 'tenantId'`. */
  readonly changes: readonly string[];

  constructor(message: string, changes: readonly string[], options?: ErrorOptions) {
    super('INCOMPATIBLE_VERSION', `${message}: ${changes.join('; ')}`, options);
    this.name = 'CompatibilityError';
    this.changes = Object.freeze([...changes]);
  }
}

/** One thing that still uses a definition, instance or plugin. */
export interface Reference {
  /** Kind of the referencing object, e.g. `instance` or `rule`. */
  readonly kind: string;
  /** Its id. */
  readonly id: string;
}

/** An operation was refused because other objects still reference the target. */
export class ReferencedError extends PlugboardError {
  /** What still references the target. */
  readonly references: readonly Reference[];

  constructor(target: string, references: readonly Reference[], options?: ErrorOptions) {
    const list = references
      .slice(0, 20)
      .map((r) => `${r.kind} '${r.id}'`)
      .join(', ');
    const more = references.length > 20 ? ` and ${references.length - 20} more` : '';
    super(
      'REFERENCED',
      `${target} is still referenced by ${list}${more}; remove or migrate them first`,
      options,
    );
    this.name = 'ReferencedError';
    this.references = Object.freeze(references.map((r) => Object.freeze({ ...r })));
  }
}

/** Several instances match at the winning scope and none is marked `isDefault`. */
export class AmbiguousInstanceError extends PlugboardError {
  /** Ids of the candidate instances. */
  readonly candidates: readonly string[];

  constructor(integrationId: string, candidates: readonly string[], options?: ErrorOptions) {
    super(
      'AMBIGUOUS_INSTANCE',
      `Several instances of '${integrationId}' match (${candidates.join(', ')}); mark one with isDefault or pass an instanceId`,
      options,
    );
    this.name = 'AmbiguousInstanceError';
    this.candidates = Object.freeze([...candidates]);
  }
}

/** A plugin or manifest package could not be loaded. */
export class PluginLoadError extends PlugboardError {
  /** The plugin id, when it could be read. */
  readonly pluginId: string | undefined;

  constructor(message: string, pluginId?: string, options?: ErrorOptions) {
    super('PLUGIN_LOAD_FAILED', pluginId ? `Plugin '${pluginId}': ${message}` : message, options);
    this.name = 'PluginLoadError';
    this.pluginId = pluginId;
  }
}

/** Whether a failure needs the user (re-consent, revoked key) or can be retried later. */
export type FailureKind = 'auth' | 'transient';

/** A plugin's connection test failed. */
export class ConnectionTestError extends PlugboardError {
  /** `auth` when the user must act, `transient` when a retry may succeed. */
  readonly kind: FailureKind;

  constructor(message: string, kind: FailureKind = 'transient', options?: ErrorOptions) {
    super('CONNECTION_TEST_FAILED', message, options);
    this.name = 'ConnectionTestError';
    this.kind = kind;
  }
}

/**
 * Thrown by an action handler to tell the rule engine what kind of failure it hit, and
 * so whether another attempt can help:
 *
 * - `auth`: the service refused the instance's credentials (like HTTP 401/403). Not
 *   retried; the instance's status becomes `error` with reason `auth` until a
 *   connection test passes.
 * - `retryable`: a later attempt may succeed (like HTTP 429, 5xx or a network error).
 *   Retried under the action's retry policy, not before `retryAfterMs`.
 * - `fatal`: the request itself is wrong (like HTTP 400 or 422). Not retried.
 *
 * Handlers that throw other errors are classified by the engine (see "Timeouts and
 * retries" in the rules guide).
 *
 * @example
 * ```ts
 * const res = await fetch(url, { signal: ctx.signal });
 * if (res.status === 429) {
 *   throw new ActionError('rate limited', 'retryable', { retryAfterMs: 2_000 });
 * }
 * ```
 */
export class ActionError extends PlugboardError {
  /** How the engine treats the failure: `auth`, `retryable` or `fatal`. */
  readonly kind: 'auth' | 'retryable' | 'fatal';
  /** The earliest time to try again, in ms from now (only for `retryable`). */
  readonly retryAfterMs: number | undefined;

  /**
   * @param message - what failed, without secrets (it is recorded on the execution)
   * @param kind - `auth`, `retryable` or `fatal`
   * @param options - optional `cause`, and `retryAfterMs` (a finite number ≥ 0; other
   *   values are ignored)
   */
  constructor(
    message: string,
    kind: 'auth' | 'retryable' | 'fatal',
    options?: ErrorOptions & { readonly retryAfterMs?: number },
  ) {
    super('ACTION_FAILED', message, options);
    this.name = 'ActionError';
    this.kind = kind;
    const after = options?.retryAfterMs;
    this.retryAfterMs =
      typeof after === 'number' && Number.isFinite(after) && after >= 0 ? after : undefined;
  }
}

/** Another process (or another storage object) holds the store's lock. */
export class StorageLockedError extends PlugboardError {
  /** Description of the lock holder, e.g. `pid 1234 on host-a`. */
  readonly holder: string;

  constructor(path: string, holder: string, options?: ErrorOptions) {
    super(
      'STORAGE_LOCKED',
      `Storage at ${path} is locked by ${holder}; close the other storage first`,
      options,
    );
    this.name = 'StorageLockedError';
    this.holder = holder;
  }
}

/** A stored file could not be read back; nothing was overwritten. */
export class StorageCorruptError extends PlugboardError {
  /** The file that is corrupt. */
  readonly file: string;
  /** Where in the file, e.g. `line 3, column 14` or `byte 1024`, when known. */
  readonly position: string | undefined;

  constructor(file: string, detail: string, position?: string, options?: ErrorOptions) {
    super(
      'STORAGE_CORRUPT',
      `Corrupt storage file ${file}${position ? ` at ${position}` : ''}: ${detail}. The file was left untouched; restore it from a backup or fix it by hand`,
      options,
    );
    this.name = 'StorageCorruptError';
    this.file = file;
    this.position = position;
  }
}

/** A storage adapter was used after `close()`. */
export class StorageClosedError extends PlugboardError {
  constructor(message = 'Storage is closed', options?: ErrorOptions) {
    super('STORAGE_CLOSED', message, options);
    this.name = 'StorageClosedError';
  }
}

/**
 * The storage cannot be reached or used right now: the database connection was lost
 * (a server restart, a terminated session), or a store file cannot be read or written
 * (read-only file system, missing permission, a directory where a file should be). The
 * operation did not complete; retry once the cause (named in the message, the original
 * error as `cause`) is fixed.
 */
export class StorageUnavailableError extends PlugboardError {
  constructor(message: string, options?: ErrorOptions) {
    super('STORAGE_UNAVAILABLE', message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** An operation did not finish within its time limit. */
export class TimeoutError extends PlugboardError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number, options?: ErrorOptions) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`, options);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** A ciphertext could not be decrypted: wrong or missing key, or tampered data. */
export class DecryptionError extends PlugboardError {
  /** The key id recorded in the ciphertext, when it could be read. */
  readonly keyId: string | undefined;

  constructor(message: string, keyId?: string, options?: ErrorOptions) {
    super('DECRYPTION_FAILED', message, options);
    this.name = 'DecryptionError';
    this.keyId = keyId;
  }
}

/** An OAuth2 exchange or token refresh failed. */
export class OAuth2Error extends PlugboardError {
  /** `auth` for permanent failures (invalid_grant, 4xx), `transient` for 5xx/network. */
  readonly kind: FailureKind;
  /** The OAuth2 `error` field, when the server sent one. */
  readonly oauthError: string | undefined;

  constructor(message: string, kind: FailureKind, oauthError?: string, options?: ErrorOptions) {
    super('OAUTH2_FAILED', message, options);
    this.name = 'OAuth2Error';
    this.kind = kind;
    this.oauthError = oauthError;
  }
}

/**
 * The `authorize` hook refused an operation (it returned `false`, or threw: a hook that
 * fails refuses, and its error is the `cause`). Nothing was changed.
 */
export class ForbiddenError extends PlugboardError {
  /** The refused operation, e.g. `instance.delete`. */
  readonly operation: string;
  /** The actor the hook was asked about, when the call named one. */
  readonly actor: string | undefined;

  constructor(
    message: string,
    operation: string,
    actor: string | undefined,
    options?: ErrorOptions,
  ) {
    super('FORBIDDEN', message, options);
    this.name = 'ForbiddenError';
    this.operation = operation;
    this.actor = actor;
  }
}

/**
 * Checks whether a value is a plugboard error, optionally with a given code.
 *
 * Works across copies of the package because it checks a registered symbol and the
 * `code`, not `instanceof`.
 *
 * @example
 * ```ts
 * try { await registry.get('strip') } catch (e) {
 *   if (isPlugboardError(e, 'NOT_FOUND')) console.log(e.message);
 * }
 * ```
 */
export function isPlugboardError(
  error: unknown,
  code?: PlugboardErrorCode,
): error is PlugboardError {
  if (typeof error !== 'object' || error === null) return false;
  try {
    const marked =
      (error as Record<symbol, unknown>)[PLUGBOARD_ERROR_MARK] === true ||
      error instanceof PlugboardError;
    if (!marked) return false;
    return code === undefined || (error as { code?: unknown }).code === code;
  } catch {
    // A thrown proxy whose traps throw, or one that was revoked, is no plugboard error.
    return false;
  }
}
