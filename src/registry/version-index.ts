/**
 * The in-memory index of stored definition versions: by id and version, semver range
 * resolution (cached), and the id/version order that `list()` pages through.
 *
 * @internal
 * @module
 */
import semver from 'semver';
import { NotFoundError } from '../errors.js';
import { assertIdLength } from '../internal/ids.js';
import { deepFreeze } from '../internal/json.js';
import { closest } from '../internal/suggest.js';
import type { IntegrationDefinition } from '../schema/definition.js';

/** One cached definition version, deeply frozen, with its parsed version. */
export interface VersionEntry {
  /** The definition as returned to callers. */
  def: IntegrationDefinition;
  /** `def.version`, parsed once. */
  parsed: semver.SemVer;
}

/** Orders entries by id, then version from highest to lowest. */
function compareEntries(a: VersionEntry, b: VersionEntry): number {
  if (a.def.id !== b.def.id) return a.def.id < b.def.id ? -1 : 1;
  return semver.rcompare(a.parsed, b.parsed);
}

/** Definition versions by id and version, with the caches derived from them. */
export class VersionIndex {
  private readonly byId = new Map<string, Map<string, VersionEntry>>();
  private readonly resolved = new Map<string, VersionEntry>();
  private sorted: VersionEntry[] | undefined;

  /** Adds (or replaces) a version; returns its entry with the definition frozen. */
  add(def: IntegrationDefinition): VersionEntry {
    const parsed = new semver.SemVer(def.version);
    const entry: VersionEntry = { def: deepFreeze(def), parsed };
    let versions = this.byId.get(def.id);
    if (!versions) {
      versions = new Map();
      this.byId.set(def.id, versions);
    }
    versions.set(def.version, entry);
    this.invalidate();
    return entry;
  }

  /** Removes one version (and the id once it has none left). */
  remove(id: string, version: string): void {
    const versions = this.byId.get(id);
    versions?.delete(version);
    if (versions && versions.size === 0) this.byId.delete(id);
    this.invalidate();
  }

  /** Forgets every version. */
  clear(): void {
    this.byId.clear();
    this.invalidate();
  }

  private invalidate(): void {
    this.resolved.clear();
    this.sorted = undefined;
  }

  /** Whether `id@version` is indexed. */
  has(id: string, version: string): boolean {
    return this.byId.get(id)?.has(version) ?? false;
  }

  /** A NotFoundError for an unknown id, suggesting close ones. */
  private notFound(id: string): NotFoundError {
    return new NotFoundError('integration', id, { suggestions: closest(id, this.byId.keys()) });
  }

  private describeVersions(id: string): string {
    const versions = [...(this.byId.get(id)?.values() ?? [])]
      .sort((a, b) => semver.compare(a.parsed, b.parsed))
      .map((e) => `${e.def.version} (${e.def.status})`);
    return versions.length > 0 ? `Existing versions: ${versions.join(', ')}` : 'It has no versions';
  }

  /** One exact version. @throws NotFoundError; ValidationError for an over-long id or version */
  entry(id: string, version: string): VersionEntry {
    assertIdLength(id, 'id', 'integration id');
    assertIdLength(version, 'version', 'version');
    const versions = this.byId.get(id);
    if (!versions) throw this.notFound(id);
    const e = versions.get(version);
    if (!e) {
      throw new NotFoundError('integration version', `${id}@${version}`, {
        detail: this.describeVersions(id),
      });
    }
    return e;
  }

  /**
   * The highest non-archived version matching `range`, or without a range the highest
   * published one. @throws NotFoundError; ValidationError for an over-long id or range
   */
  resolve(id: string, range: string | undefined): VersionEntry {
    assertIdLength(id, 'id', 'integration id');
    assertIdLength(range, 'versionRange', 'version range');
    const key = range === undefined ? id : `${id}\u0000${range}`;
    const hit = this.resolved.get(key);
    if (hit) return hit;
    const versions = this.byId.get(id);
    if (!versions) throw this.notFound(id);
    let best: VersionEntry | undefined;
    for (const e of versions.values()) {
      const ok =
        range === undefined
          ? e.def.status === 'published'
          : e.def.status !== 'archived' && semver.satisfies(e.parsed, range);
      if (ok && (!best || semver.gt(e.parsed, best.parsed))) best = e;
    }
    if (!best) {
      throw new NotFoundError(
        'integration version',
        range === undefined ? `${id} (published)` : `${id}@${range}`,
        {
          detail: this.describeVersions(id),
        },
      );
    }
    this.resolved.set(key, best);
    return best;
  }

  /** Every version of an id, lowest first. @throws NotFoundError; ValidationError (over-long id) */
  versionsOf(id: string): string[] {
    assertIdLength(id, 'id', 'integration id');
    const versions = this.byId.get(id);
    if (!versions) throw this.notFound(id);
    return [...versions.values()]
      .sort((a, b) => semver.compare(a.parsed, b.parsed))
      .map((e) => e.def.version);
  }

  /** The highest non-archived version of `id` of the same major below `version`. */
  previousInMajor(id: string, version: string): IntegrationDefinition | undefined {
    const parsed = new semver.SemVer(version);
    let best: VersionEntry | undefined;
    for (const e of this.byId.get(id)?.values() ?? []) {
      if (e.parsed.major !== parsed.major || e.def.status === 'archived') continue;
      if (semver.gte(e.parsed, parsed)) continue;
      if (!best || semver.gt(e.parsed, best.parsed)) best = e;
    }
    return best?.def;
  }

  /** Every version ordered by id, then version from highest to lowest (cached). */
  all(): readonly VersionEntry[] {
    if (!this.sorted) {
      const all: VersionEntry[] = [];
      for (const versions of this.byId.values()) all.push(...versions.values());
      all.sort(compareEntries);
      this.sorted = all;
    }
    return this.sorted;
  }

  /** The highest non-archived version of each id that has one. */
  latestOfEach(): IntegrationDefinition[] {
    const out: IntegrationDefinition[] = [];
    for (const versions of this.byId.values()) {
      let best: VersionEntry | undefined;
      for (const e of versions.values()) {
        if (e.def.status === 'archived') continue;
        if (!best || semver.gt(e.parsed, best.parsed)) best = e;
      }
      if (best) out.push(best.def);
    }
    return out;
  }
}
