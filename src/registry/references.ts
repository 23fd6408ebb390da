/**
 * The reference checkers asked before a definition version is archived or deleted.
 *
 * @internal
 * @module
 */
import { type Reference, ReferencedError, ValidationError } from '../errors.js';
import type { DefinitionRef } from './types.js';

/**
 * Functions asked what still uses a target (a definition version, an instance), each
 * answering with references; the registry and the config manager each keep one set.
 */
export class ReferenceCheckers<T = DefinitionRef> {
  private readonly checkers = new Set<(target: T) => Promise<readonly Reference[]>>();

  /** Registers a checker; returns a function that unregisters it. @throws ValidationError */
  add(checker: (target: T) => Promise<readonly Reference[]>): () => void {
    if (typeof checker !== 'function') {
      throw new ValidationError(
        [{ path: 'checker', message: 'must be a function' }],
        'reference checker',
      );
    }
    this.checkers.add(checker);
    return () => {
      this.checkers.delete(checker);
    };
  }

  /** Everything every checker reports for `target`. */
  async collect(target: T): Promise<Reference[]> {
    return (await Promise.all([...this.checkers].map((check) => check(target)))).flat();
  }

  /** Everything every checker reports for an integration (any version, or one version). */
  find(this: ReferenceCheckers, id: string, version?: string): Promise<Reference[]> {
    return this.collect(version === undefined ? { id } : { id, version });
  }

  /** @throws ReferencedError when something still uses `id@version` */
  async assertUnreferenced(
    this: ReferenceCheckers,
    id: string,
    version: string,
    verb: string,
  ): Promise<void> {
    const refs = await this.find(id, version);
    if (refs.length > 0) throw new ReferencedError(`Cannot ${verb} '${id}@${version}': it`, refs);
  }
}
