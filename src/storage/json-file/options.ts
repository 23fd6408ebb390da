/**
 * Options of `JsonFileStorage.open` and their checks.
 *
 * @module
 */
import { ValidationError } from '../../errors.js';
import { optionalIntegerIssue, pushIssues } from '../../internal/options.js';

/**
 * When a write's promise resolves:
 * - `'fsync'`: after its journal append was flushed to the disk with `fdatasync`. A
 *   resolved write survives a process kill, an OS crash and a power loss.
 * - `'batched'`: after its journal append was handed to the operating system. A resolved
 *   write survives a process kill (`kill -9`, an uncaught exception); an OS crash or power
 *   loss may lose the writes of the last `fsyncIntervalMs`, but never leaves a corrupt store.
 */
export type Durability = 'fsync' | 'batched';

/** Options of {@link JsonFileStorage.open}. */
export interface JsonFileStorageOptions {
  /** Directory of the store; created when missing. It belongs to the storage: keep other files out. */
  readonly dir: string;
  /** Default `'fsync'`. See {@link Durability} for the trade-off. */
  readonly durability?: Durability;
  /** With `durability: 'batched'`, how often the journal is flushed to disk; default 1,000 ms. */
  readonly fsyncIntervalMs?: number;
  /**
   * The journal is compacted into the collection files once it is larger than this and
   * larger than the collection files themselves; default 8 MiB.
   */
  readonly compactionThresholdBytes?: number;
}

/**
 * Checks the options of `JsonFileStorage.open`.
 * @throws ValidationError naming every bad option
 */
export function checkOptions(options: JsonFileStorageOptions): void {
  const issues: { path: string; message: string }[] = [];
  if (options === null || typeof options !== 'object') {
    throw new ValidationError(
      [{ path: '', message: 'options must be an object' }],
      'JsonFileStorage.open',
    );
  }
  if (typeof options.dir !== 'string' || options.dir.length === 0) {
    issues.push({ path: 'dir', message: 'must be a non-empty string' });
  }
  if (
    options.durability !== undefined &&
    options.durability !== 'fsync' &&
    options.durability !== 'batched'
  ) {
    issues.push({ path: 'durability', message: "must be 'fsync' or 'batched'" });
  }
  pushIssues(
    issues,
    optionalIntegerIssue('fsyncIntervalMs', options.fsyncIntervalMs),
    optionalIntegerIssue('compactionThresholdBytes', options.compactionThresholdBytes),
  );
  if (issues.length > 0) throw new ValidationError(issues, 'JsonFileStorage.open');
}
