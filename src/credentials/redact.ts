/**
 * Redaction helpers: what the public API shows instead of credentials, and how messages
 * from third parties are scrubbed of secret values before they reach errors or logs.
 *
 * @module
 */

import { errorMessage, isError } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';

/** The placeholder shown instead of a secret value. */
export const REDACTED = '[redacted]';

/**
 * Names that look secret: tokens, secrets, passwords, API keys and the whole `oauth2`
 * token set. Inside a credential object marked public, members with such names stay
 * hidden unless marked public themselves (see `visibility.ts`).
 */
export const SECRET_NAME: RegExp =
  /secret|password|passw|passphrase|token|api_?key|private|credential|^oauth2$/i;

/**
 * Every value that must never appear in output: each string or number leaf of
 * `credentials` (at least 4 characters long, shorter ones cannot be scrubbed
 * meaningfully) that `view` does not show as it is at the same place. A leaf the view
 * replaces by `"[redacted]"`, or leaves out, is secret.
 *
 * @param view - what the instance's view shows of these credentials (`{}`: nothing)
 */
export function secretStrings(
  credentials: Readonly<Record<string, unknown>>,
  view: Readonly<Record<string, unknown>>,
): string[] {
  const out = new Set<string>();
  const collect = (value: unknown, shown: unknown, depth: number): void => {
    if (depth > 64) return;
    if (typeof value === 'string' || typeof value === 'number') {
      const s = String(value);
      if (shown !== value && s.length >= 4) out.add(s);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const inView =
      isObject(shown) || Array.isArray(shown) ? (shown as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(value)) {
      collect(v, Object.hasOwn(inView, k) ? inView[k] : undefined, depth + 1);
    }
  };
  collect(credentials, view, 0);
  // Longest first, so a secret containing another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** Characters that URL or JSON encoding leave as they are. */
const PLAIN = /^[A-Za-z0-9_.~-]*$/;

/**
 * The forms a secret takes in text: as is, percent-encoded (`encodeURIComponent` and
 * HTML-form encoding, as in query strings, form bodies and the two halves of HTTP Basic
 * credentials) and JSON-escaped.
 */
function formsOf(secret: string): string[] {
  if (PLAIN.test(secret)) return [secret];
  const forms = new Set([secret]);
  forms.add(encodeURIComponent(secret));
  forms.add(new URLSearchParams({ s: secret }).toString().slice(2));
  forms.add(JSON.stringify(secret).slice(1, -1));
  return [...forms].sort((a, b) => b.length - a.length);
}

/** A run of base64 or base64url characters long enough to hold a 4-byte secret. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{6,}={0,2}/g;

/**
 * Whether a base64 (or base64url) run decodes to text holding a secret in one of its
 * forms, e.g. `Basic base64(clientId:clientSecret)`. The run may start up to 3
 * characters before the encoded data (a glued prefix), so each alignment is tried.
 */
function hidesSecret(run: string, forms: readonly string[]): boolean {
  for (let offset = 0; offset < 4 && run.length - offset >= 6; offset++) {
    const decoded = Buffer.from(run.slice(offset), 'base64').toString('utf8');
    for (const form of forms) if (decoded.includes(form)) return true;
  }
  return false;
}

/** Every form of every secret, longest first per secret. */
function allForms(secrets: readonly string[]): string[] {
  const forms: string[] = [];
  for (const s of secrets) if (s.length > 0) forms.push(...formsOf(s));
  return forms;
}

/** `text` with each form replaced, then each base64 run hiding one. */
function scrubForms(text: string, forms: readonly string[]): string {
  if (forms.length === 0) return text;
  let out = text;
  for (const form of forms) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out.replace(BASE64_RUN, (run) => (hidesSecret(run, forms) ? REDACTED : run));
}

/**
 * Replaces every occurrence of each secret in `text` with `"[redacted]"`: as is,
 * URL-encoded, JSON-escaped, and inside base64 (a run of base64 characters that decodes
 * to text holding a secret, such as an echoed `Authorization: Basic …` header, is
 * replaced whole).
 */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.length === 0 ? text : scrubForms(text, allForms(secrets));
}

/**
 * A JSON value with every occurrence of each secret in its strings (values and keys)
 * replaced by `"[redacted]"`, in every form {@link scrub} finds. Parts that hold no
 * secret are returned as they are (the same references), so an unchanged value comes
 * back unchanged.
 */
export function scrubJson(value: unknown, secrets: readonly string[]): unknown {
  return secrets.length === 0 ? value : scrubValue(value, allForms(secrets), 0);
}

function scrubValue(value: unknown, forms: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return scrubForms(value, forms);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 64) return REDACTED;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = scrubValue(value[i], forms, depth + 1);
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
    const key = scrubForms(k, forms);
    const scrubbed = scrubValue(v, forms, depth + 1);
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
