/**
 * The reference checkers asked before a definition version is archived or deleted.
 *
 * @internal
 * @module
 */
import { type Reference, ReferencedError, ValidationError } from '../errors.js';
import type { DefinitionRef, ReferenceChecker } from './types.js';

/** The checkers registered by the parts that use definitions (instances, rules). */
export class ReferenceCheckers {
  private readonly checkers = new Set<ReferenceChecker>();

  /** Registers a checker; returns a function that unregisters it. @throws ValidationError */
  add(checker: ReferenceChecker): () => void {
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

  /** Everything every checker reports for an integration (any version, or one version). */
  async find(id: string, version?: string): Promise<Reference[]> {
    const ref: DefinitionRef = version === undefined ? { id } : { id, version };
    const lists = await Promise.all([...this.checkers].map((c) => c(ref)));
    return lists.flat();
  }

  /** @throws ReferencedError when something still uses `id@version` */
  async assertUnreferenced(id: string, version: string, verb: string): Promise<void> {
    const refs = await this.find(id, version);
    if (refs.length > 0) throw new ReferencedError(`Cannot ${verb} '${id}@${version}': it`, refs);
  }
}
