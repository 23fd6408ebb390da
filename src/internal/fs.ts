/**
 * Lazy access to `node:fs/promises`, so that importing the root entry never loads the
 * file system module; only the calls that read plugin packages from disk do.
 *
 * @internal
 * @module
 */

type FsPromises = typeof import('node:fs/promises');

let loading: Promise<FsPromises> | undefined;

/** `node:fs/promises`, imported on first use. */
export function fsPromises(): Promise<FsPromises> {
  loading ??= import('node:fs/promises');
  return loading;
}
