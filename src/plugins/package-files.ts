/**
 * Reading files of a manifest package safely: every path stays inside the package
 * directory (no `..`, no absolute paths, no symlink leaving it), JSON syntax errors name
 * the file and position, and `$ref`s to other JSON files of the package are bundled into
 * the definition's shared components (stored once, never copied into each component).
 *
 * @module
 * @internal
 */

import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ValidationIssue } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import { fsPromises } from '../internal/fs.js';
import { isObject } from '../internal/json.js';
import { parseJson } from '../internal/json-text.js';

type Json = Record<string, unknown>;

/** What `#` references inside the node being rewritten are relative to. */
type RefMode =
  | { kind: 'component'; component: Json }
  | { kind: 'inline'; component: Json }
  | { kind: 'bundled'; pointer: string };

/** Cached file content, keyed by real path; reused while size and mtime are unchanged. */
export interface JsonFileCache {
  get(
    path: string,
  ): { readonly mtimeMs: number; readonly size: number; readonly value: unknown } | undefined;
  set(
    path: string,
    entry: { readonly mtimeMs: number; readonly size: number; readonly value: unknown },
  ): void;
}

/** The default of {@link ByteBudget}: 8 MiB of JSON per package. */
export const DEFAULT_MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

/**
 * The bytes of JSON one package may still have read: `manifest.json` and every schema
 * file together. Shared by the readers of one package.
 */
export class ByteBudget {
  #used = 0;
  /** @param max - the most bytes the package's JSON files may hold together */
  constructor(readonly max: number = DEFAULT_MAX_MANIFEST_BYTES) {}

  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.max) return false;
    this.#used += bytes;
    return true;
  }
}

/** Keys whose values are data, not schemas: a `$ref` inside them is not a reference. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'examples', 'default', 'example']);

/** `[A-Za-z0-9_]` key of a shared component holding a bundled file. */
function bundleKey(relPath: string): string {
  return `file_${relPath.replace(/\\/g, '/').replace(/[^A-Za-z0-9]+/g, '_')}`;
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Reads the files of one manifest package; collects every problem as an issue. */
export class PackageReader {
  /** Problems found so far, with field paths such as `events[0].schemaPath`. */
  readonly issues: ValidationIssue[] = [];
  /** Bundled files, to be merged into the definition's `definitions`. */
  readonly bundled: Json = {};
  /** Bundled files placed in `$defs` (components that define their own `definitions`). */
  readonly bundledDefs: Json = {};
  readonly #root: string;
  readonly #cache: JsonFileCache | undefined;
  readonly #budget: ByteBudget;
  readonly #keys = new Map<string, string>();
  readonly #usedKeys: { readonly definitions: Set<string>; readonly $defs: Set<string> };

  /**
   * @param root - the real path of the package directory
   * @param reserved - names already used in the manifest's `definitions` and `$defs`
   * @param budget - the bytes the package's JSON files may still hold
   */
  constructor(
    root: string,
    cache?: JsonFileCache,
    reserved: { readonly definitions?: Iterable<string>; readonly $defs?: Iterable<string> } = {},
    budget: ByteBudget = new ByteBudget(),
  ) {
    this.#root = root;
    this.#cache = cache;
    this.#budget = budget;
    this.#usedKeys = {
      definitions: new Set(reserved.definitions),
      $defs: new Set(reserved.$defs),
    };
  }

  /** A path relative to the package, with `/` separators, for messages. */
  display(abs: string): string {
    return relative(this.#root, abs).split(sep).join('/') || '.';
  }

  /**
   * Resolves `ref` (relative to `fromDir`) to a real path inside the package, or records
   * an issue at `field` and returns `undefined`.
   */
  async resolveInside(ref: string, fromDir: string, field: string): Promise<string | undefined> {
    if (ref.length === 0) {
      this.issues.push({ path: field, message: 'must not be empty' });
      return undefined;
    }
    if (ref.includes('\0')) {
      this.issues.push({ path: field, message: 'must not contain NUL characters' });
      return undefined;
    }
    if (isAbsolute(ref) || /^[A-Za-z]:/.test(ref) || ref.startsWith('\\') || ref.startsWith('/')) {
      this.issues.push({
        path: field,
        message: `'${ref}' is an absolute path; use a path relative to the package directory`,
      });
      return undefined;
    }
    const abs = resolve(fromDir, ref);
    if (!isInside(this.#root, abs)) {
      this.issues.push({
        path: field,
        message: `'${ref}' leaves the package directory; files must be inside it`,
      });
      return undefined;
    }
    let real: string;
    try {
      real = await (await fsPromises()).realpath(abs);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.issues.push({
        path: field,
        message:
          code === 'ENOENT'
            ? `file '${this.display(abs)}' not found in the package`
            : `cannot read '${this.display(abs)}' (${code ?? 'error'})`,
      });
      return undefined;
    }
    if (!isInside(this.#root, real)) {
      this.issues.push({
        path: field,
        message: `'${ref}' is a symbolic link that leaves the package directory; copy the file into the package`,
      });
      return undefined;
    }
    return real;
  }

  /** Reads and parses a JSON file (already resolved inside the package). */
  async readJson(
    abs: string,
    field: string,
  ): Promise<{ ok: true; value: unknown } | { ok: false }> {
    const name = this.display(abs);
    try {
      const info = await (await fsPromises()).stat(abs);
      if (!info.isFile()) {
        this.issues.push({ path: field, message: `'${name}' is not a file` });
        return { ok: false };
      }
      if (!this.#budget.take(info.size)) return this.#tooLarge(name, info.size, field);
      const cached = this.#cache?.get(abs);
      if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) {
        return { ok: true, value: structuredClone(cached.value) };
      }
      const bytes = await (await fsPromises()).readFile(abs);
      // The file may have grown since it was measured.
      if (bytes.length > info.size && !this.#budget.take(bytes.length - info.size)) {
        return this.#tooLarge(name, bytes.length, field);
      }
      const parsed = parseJson(bytes.toString('utf8'));
      if (!parsed.ok) {
        const p = parsed.problem;
        this.issues.push({
          path: field,
          message: `${name}: invalid JSON at line ${p.line}, column ${p.column} (position ${p.offset}): ${p.message}`,
        });
        return { ok: false };
      }
      this.#cache?.set(abs, { mtimeMs: info.mtimeMs, size: info.size, value: parsed.value });
      return { ok: true, value: structuredClone(parsed.value) };
    } catch (error) {
      this.issues.push({
        path: field,
        message: `cannot read '${name}': ${errorMessage(error)}`,
      });
      return { ok: false };
    }
  }

  #tooLarge(name: string, size: number, field: string): { ok: false } {
    this.issues.push({
      path: field,
      message: `'${name}' (${size} bytes) does not fit: a package's JSON files may hold ${this.#budget.max} bytes together (option maxManifestBytes)`,
    });
    return { ok: false };
  }

  /**
   * Loads a component schema from `relPath` (relative to the package): the file's
   * content becomes the component; its own `#…` references keep pointing into itself,
   * and references to other package files are bundled.
   */
  async loadSchemaFile(relPath: string, field: string): Promise<Json | undefined> {
    const abs = await this.resolveInside(relPath, this.#root, field);
    if (abs === undefined) return undefined;
    const read = await this.readJson(abs, field);
    if (!read.ok) return undefined;
    if (!isObject(read.value)) {
      this.issues.push({
        path: field,
        message: `${this.display(abs)}: must contain a JSON Schema object`,
      });
      return undefined;
    }
    const schema = read.value;
    if (typeof schema['$id'] === 'string' && !schema['$id'].startsWith('#')) delete schema['$id'];
    await this.#rewriteRefs(schema, abs, field, { kind: 'component', component: schema });
    return schema;
  }

  /**
   * Processes a schema written inline in `manifest.json` (or a shared component): its
   * references to package files are bundled; `#…` references are left to the registry.
   */
  async processInline(schema: unknown, manifestPath: string, field: string): Promise<void> {
    if (!isObject(schema)) return;
    await this.#rewriteRefs(schema, manifestPath, field, { kind: 'inline', component: schema });
  }

  /** Where `#` references of the node being walked point to. */
  async #rewriteRefs(node: unknown, file: string, field: string, mode: RefMode): Promise<void> {
    if (Array.isArray(node)) {
      for (const item of node) await this.#rewriteRefs(item, file, field, mode);
      return;
    }
    if (!isObject(node)) return;
    for (const key of Object.keys(node)) {
      if (DATA_KEYWORDS.has(key)) continue;
      const value = node[key];
      if (key === '$ref' && typeof value === 'string') {
        node[key] = await this.#rewriteRef(value, file, field, mode);
      } else if (typeof value === 'object' && value !== null) {
        await this.#rewriteRefs(value, file, field, mode);
      }
    }
  }

  async #rewriteRef(ref: string, file: string, field: string, mode: RefMode): Promise<string> {
    const hash = ref.indexOf('#');
    const filePart = hash === -1 ? ref : ref.slice(0, hash);
    const fragment = hash === -1 ? '' : ref.slice(hash + 1);
    if (filePart === '') {
      // A reference into the same file: bundled files now sit under their pointer.
      return mode.kind === 'bundled' ? `${mode.pointer}${fragment}` : ref;
    }
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(filePart)) {
      this.issues.push({
        path: field,
        message: `$ref '${ref}' in ${this.display(file)} points outside the package; only files inside the package can be referenced`,
      });
      return ref;
    }
    let decoded = filePart;
    try {
      decoded = decodeURIComponent(filePart);
    } catch {
      // not percent-encoded
    }
    const target = await this.resolveInside(
      decoded,
      resolve(file, '..'),
      `${field} ($ref '${ref}')`,
    );
    if (target === undefined) return ref;
    if (target.endsWith(`${sep}manifest.json`) && resolve(target, '..') === this.#root) {
      // `manifest.json#/definitions/x` names the manifest's own shared components.
      return `#${fragment}`;
    }
    // A component with its own `definitions` resolves `#/definitions/…` inside itself, so
    // bundle into `$defs` for it (and vice versa).
    const owner = mode.kind === 'bundled' ? undefined : mode.component;
    const block =
      owner && Object.hasOwn(owner, 'definitions') && !Object.hasOwn(owner, '$defs')
        ? '$defs'
        : 'definitions';
    const pointer = await this.#bundle(target, block, field);
    return pointer === undefined ? ref : `${pointer}${fragment}`;
  }

  /** Places a package file in the shared components (once) and returns its pointer. */
  async #bundle(
    abs: string,
    block: 'definitions' | '$defs',
    field: string,
  ): Promise<string | undefined> {
    const cacheKey = `${block}:${abs}`;
    const known = this.#keys.get(cacheKey);
    if (known !== undefined) return known;
    const used = this.#usedKeys[block];
    let key = bundleKey(this.display(abs));
    for (let n = 2; used.has(key); n++) key = `${bundleKey(this.display(abs))}_${n}`;
    used.add(key);
    const pointer = `#/${block}/${key}`;
    // Registered before reading, so files referencing each other terminate.
    this.#keys.set(cacheKey, pointer);
    const read = await this.readJson(abs, field);
    if (!read.ok) return undefined;
    const content = read.value;
    if (isObject(content)) {
      delete content['$schema'];
      if (typeof content['$id'] === 'string') delete content['$id'];
    }
    await this.#rewriteRefs(content, abs, field, { kind: 'bundled', pointer });
    (block === 'definitions' ? this.bundled : this.bundledDefs)[key] = content;
    return pointer;
  }
}
