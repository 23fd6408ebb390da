/**
 * Values built on first use, such as compiled meta-schema validators, without
 * module-level mutable state.
 *
 * @internal
 * @module
 */

/** A function returning `build()`'s value, built on the first call and kept after. */
export function lazy<T>(build: () => T): () => T {
  const cell: { value?: T; built: boolean } = { built: false };
  return () => {
    if (!cell.built) {
      cell.value = build();
      cell.built = true;
    }
    return cell.value as T;
  };
}
