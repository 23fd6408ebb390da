/**
 * Redaction helpers: what the public API shows instead of credentials, and how messages
 * from third parties are scrubbed of secret values before they reach errors or logs.
 *
 * @module
 */

import { errorMessage, isError } from '../internal/error-message.js';

/** The placeholder shown instead of a secret value. */
export const REDACTED = '[redacted]';

/**
 * Field names treated as secret even when the credential schema does not mark them
 * (`writeOnly` / `format: 'password'`): tokens, secrets, passwords, API keys and the
 * whole `oauth2` token set.
 */
const SECRET_NAME = /secret|password|passw|passphrase|token|api_?key|private|credential|^oauth2$/i;

/** Whether a credential field is a secret, by schema or by name. */
export function isSecretField(name: string, secretFields: ReadonlySet<string>): boolean {
  return secretFields.has(name) || SECRET_NAME.test(name);
}

function redactValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_NAME.test(k) ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

/**
 * A copy of `credentials` that is safe to show: every secret field (named in
 * `secretFields`, or with a secret-looking name at any depth) becomes `"[redacted]"`.
 *
 * @example
 * ```ts
 * redactCredentials({ clientId: 'abc', clientSecret: 's3cr3t' }, new Set());
 * // → { clientId: 'abc', clientSecret: '[redacted]' }
 * ```
 */
export function redactCredentials(
  credentials: Readonly<Record<string, unknown>>,
  secretFields: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(credentials)) {
    out[k] = isSecretField(k, secretFields) ? REDACTED : redactValue(v, 1);
  }
  return out;
}

/**
 * Every string that must never appear in output: the string leaves under secret fields
 * (at least 4 characters long, shorter ones cannot be scrubbed meaningfully).
 */
export function secretStrings(
  credentials: Readonly<Record<string, unknown>>,
  secretFields: ReadonlySet<string>,
): string[] {
  const out = new Set<string>();
  const collect = (value: unknown, secret: boolean, depth: number): void => {
    if (depth > 10) return;
    if (typeof value === 'string') {
      if (secret && value.length >= 4) out.add(value);
      return;
    }
    if (typeof value === 'number' && secret) {
      const s = String(value);
      if (s.length >= 4) out.add(s);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      collect(v, secret || SECRET_NAME.test(k), depth + 1);
    }
  };
  for (const [k, v] of Object.entries(credentials)) {
    collect(v, isSecretField(k, secretFields), 1);
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret in `text` with `"[redacted]"`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length > 0 && out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out;
}

/**
 * A JSON value with every occurrence of each secret in its strings (values and keys)
 * replaced by `"[redacted]"`. Parts that hold no secret are returned as they are (the
 * same references), so an unchanged value comes back unchanged.
 */
export function scrubJson(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return scrub(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 64) return REDACTED;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = scrubJson(value[i], secrets, depth + 1);
      if (v !== value[i]) {
        out ??= value.slice();
        out[i] = v;
      }
    }
    return out ?? value;
  }
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = scrub(k, secrets);
    const scrubbed = scrubJson(v, secrets, depth + 1);
    if (key !== k || scrubbed !== v) changed = true;
    // A plain assignment to `__proto__` would set the prototype instead of a key.
    Object.defineProperty(out, key, {
      value: scrubbed,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return changed ? out : value;
}

/**
 * A message describing `error` that is safe to store and show: its message, scrubbed of
 * `secrets` and cut to `max` characters.
 */
export function safeErrorMessage(error: unknown, secrets: readonly string[], max = 500): string {
  const raw =
    typeof error === 'string' || isError(error)
      ? errorMessage(error)
      : 'unknown error (a non-Error value was thrown)';
  const text = scrub(raw, secrets);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
