/**
 * OAuth2 scope drift: the scopes an instance's version asks for that its tokens were
 * not granted, the `needs-reconsent` status that records them, and which scopes a
 * re-consent asks for.
 *
 * @internal
 * @module
 */
import { isObject } from '../internal/json.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { InstanceStatus } from './types.js';

/** The scopes of a space-separated `scope` value. */
export function scopesOf(scope: string): string[] {
  return scope.split(/\s+/).filter((s) => s !== '');
}

/**
 * The scopes the stored tokens were granted: their recorded `scope`, else `fallback` (what
 * the version they were obtained under asks for); undefined when there are no tokens.
 */
export function grantedScopes(
  credentials: Readonly<Record<string, unknown>>,
  fallback: readonly string[] | undefined,
): readonly string[] | undefined {
  const tokens = credentials['oauth2'];
  if (!isObject(tokens) || typeof tokens['access_token'] !== 'string') return undefined;
  const scope = tokens['scope'];
  return typeof scope === 'string' ? scopesOf(scope) : fallback;
}

/** The scopes `def` asks for that `granted` lacks (empty without a grant to compare). */
export function missingScopes(
  def: IntegrationDefinition,
  granted: readonly string[] | undefined,
): string[] {
  if (def.authType !== 'oauth2' || !def.oauth2Config || granted === undefined) return [];
  const have = new Set(granted);
  return def.oauth2Config.scopes.filter((s) => !have.has(s));
}

/**
 * The status after the missing scopes were (re)computed: `needs-reconsent` with them
 * (an `inactive` instance stays inactive and keeps the list), or `active` again when
 * none are missing any more; undefined when the status does not change.
 */
export function driftStatus(
  status: InstanceStatus,
  missing: readonly string[],
  nowIso: string,
): InstanceStatus | undefined {
  if (missing.length > 0) {
    const state = status.state === 'inactive' ? 'inactive' : 'needs-reconsent';
    return { state, lastChecked: nowIso, missingScopes: [...missing] };
  }
  if (status.state === 'needs-reconsent') return { state: 'active', lastChecked: nowIso };
  if (status.missingScopes !== undefined) {
    const { missingScopes: _dropped, ...rest } = status;
    return rest;
  }
  return undefined;
}

/**
 * The scopes a new authorization request asks for when the caller named none: with
 * tokens missing some of the version's scopes and a provider supporting incremental
 * authorization, only the missing ones (sent with `include_granted_scopes=true`); else
 * undefined (the version's scopes).
 */
export function reconsentRequest(
  def: IntegrationDefinition,
  credentials: Readonly<Record<string, unknown>>,
): { readonly scopes: readonly string[]; readonly incremental: true } | undefined {
  if (def.oauth2Config?.incrementalAuthorization !== true) return undefined;
  const missing = missingScopes(def, grantedScopes(credentials, undefined));
  return missing.length > 0 ? { scopes: missing, incremental: true } : undefined;
}

/**
 * The scopes to record with tokens whose answer named none (RFC 6749 §5.1: then the
 * requested ones were granted): the requested scopes, plus the earlier grant for an
 * incremental request.
 */
export function grantedByRequest(
  requested: readonly string[],
  incremental: boolean,
  previous: unknown,
): string | undefined {
  const before =
    incremental && isObject(previous) && typeof previous['scope'] === 'string'
      ? scopesOf(previous['scope'])
      : [];
  const all = [...new Set([...before, ...requested])];
  return all.length > 0 ? all.join(' ') : undefined;
}
