/**
 * On-disk formats of `JsonFileStorage`: the manifest, per-collection snapshot files and
 * the checksummed journal. Pure functions, no I/O. Not part of the public API.
 *
 * @internal
 * @module
 */
import { crc32 } from 'node:zlib';
import { isObject } from '../../internal/json.js';
import { parseJson as parseJsonText } from '../../internal/json-text.js';
import { COLLECTION_NAME, isDocumentId, MAX_ID_LENGTH } from '../contract.js';
import type { WriteOp } from '../document-store/collection.js';
import type { StoredDocument } from '../types.js';

/** Format tag written into the manifest and every snapshot file. */
export const FORMAT = 'plugboard-json-file';
/** Current format version. */
export const FORMAT_VERSION = 1;
/** Name of the manifest, the commit point of every compaction. */
export const MANIFEST = 'manifest.json';
/** Name of the lock file. */
export const LOCK = 'plugboard.lock';

/** `<collection>.<generation>.json` */
export const SNAPSHOT_FILE = /^([A-Za-z][A-Za-z0-9_-]{0,63})\.(\d+)\.json$/;
/** `journal.<generation>.ndjson` */
export const JOURNAL_FILE = /^journal\.(\d+)\.ndjson$/;

/** A problem found while reading a file, with its position when known. */
export class FormatError extends Error {
  readonly position: string | undefined;
  constructor(message: string, position?: string) {
    super(message);
    this.position = position;
  }
}

/** The manifest: which generation is current and which files hold it. */
export interface Manifest {
  readonly generation: number;
  readonly journal: string;
  /** Collection name → snapshot file name. */
  readonly collections: Readonly<Record<string, string>>;
}

/** Name of a snapshot file. */
export function snapshotFileName(collection: string, generation: number): string {
  return `${collection}.${generation}.json`;
}

/** Name of a journal file. */
export function journalFileName(generation: number): string {
  return `journal.${generation}.ndjson`;
}

/** Serialises the manifest, pretty-printed. */
export function encodeManifest(m: Manifest): string {
  return `${JSON.stringify(
    {
      format: FORMAT,
      version: FORMAT_VERSION,
      generation: m.generation,
      journal: m.journal,
      collections: m.collections,
    },
    null,
    2,
  )}\n`;
}

/** Parses and checks a manifest. @throws FormatError */
export function decodeManifest(text: string): Manifest {
  const v = parseJson(text);
  if (!isObject(v) || v['format'] !== FORMAT) {
    throw new FormatError(`not a plugboard manifest (expected "format": "${FORMAT}")`);
  }
  if (v['version'] !== FORMAT_VERSION) {
    throw new FormatError(
      `unsupported format version ${JSON.stringify(v['version'])}; this plugboard reads version ${FORMAT_VERSION}`,
    );
  }
  const generation = v['generation'];
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw new FormatError('"generation" must be a non-negative integer');
  }
  const journal = v['journal'];
  if (journal !== journalFileName(generation)) {
    throw new FormatError(`"journal" must be "${journalFileName(generation)}"`);
  }
  const collections = v['collections'];
  if (!isObject(collections)) throw new FormatError('"collections" must be an object');
  const out: Record<string, string> = {};
  for (const [name, file] of Object.entries(collections)) {
    const m = typeof file === 'string' ? SNAPSHOT_FILE.exec(file) : null;
    if (!COLLECTION_NAME.test(name) || !m || m[1] !== name || Number(m[2]) > generation) {
      throw new FormatError(
        `"collections.${name}" must name a snapshot file "${name}.<generation>.json" of generation ${generation} or older`,
      );
    }
    out[name] = file as string;
  }
  return { generation, journal, collections: out };
}

/**
 * Serialises a snapshot as text chunks: a small header, then one document per line, so
 * the file stays readable and diffable and can be written without one giant string.
 */
export function* encodeSnapshot(
  collection: string,
  generation: number,
  docs: readonly StoredDocument[],
): Generator<string> {
  yield `{\n  "format": "${FORMAT}",\n  "version": ${FORMAT_VERSION},\n  "collection": ${JSON.stringify(collection)},\n  "generation": ${generation},\n  "documents": [`;
  let chunk = '';
  for (let i = 0; i < docs.length; i++) {
    chunk += `${i === 0 ? '\n' : ',\n'}    ${JSON.stringify(docs[i])}`;
    if (chunk.length >= 1 << 20) {
      yield chunk;
      chunk = '';
    }
  }
  yield `${chunk}${docs.length > 0 ? '\n  ' : ''}]\n}\n`;
}

/** Checks a stored document's `id` and `revision`; returns a problem or undefined. */
function documentProblem(doc: unknown): string | undefined {
  if (!isObject(doc)) return 'must be an object';
  const id = doc['id'];
  if (!isDocumentId(id)) {
    return `"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`;
  }
  const rev = doc['revision'];
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 1) {
    return `"revision" of '${id}' must be a positive integer`;
  }
  return undefined;
}

/** Parses and checks a snapshot file. @throws FormatError */
export function decodeSnapshot(text: string, collection: string): StoredDocument[] {
  const v = parseJson(text);
  if (!isObject(v) || v['format'] !== FORMAT) {
    throw new FormatError(`not a plugboard collection file (expected "format": "${FORMAT}")`);
  }
  if (v['version'] !== FORMAT_VERSION) {
    throw new FormatError(`unsupported format version ${JSON.stringify(v['version'])}`);
  }
  if (v['collection'] !== collection) {
    throw new FormatError(`"collection" must be ${JSON.stringify(collection)}`);
  }
  const docs = v['documents'];
  if (!Array.isArray(docs)) throw new FormatError('"documents" must be an array');
  const seen = new Set<string>();
  for (let i = 0; i < docs.length; i++) {
    const doc: unknown = docs[i];
    const problem = documentProblem(doc);
    if (problem)
      throw new FormatError(`document ${problem}`, `documents[${i}]${lineHint(text, i)}`);
    const id = (doc as StoredDocument).id;
    if (seen.has(id)) {
      throw new FormatError(`duplicate id '${id}'`, `documents[${i}]${lineHint(text, i)}`);
    }
    seen.add(id);
  }
  return docs as StoredDocument[];
}

/** When the file keeps the one-document-per-line layout, the line of document `i`. */
function lineHint(text: string, i: number): string {
  const lines = text.split('\n', i + 8);
  const line = lines[i + 6];
  return line?.startsWith('    {') && lines[5]?.trimEnd().endsWith('"documents": [')
    ? ` (line ${i + 7})`
    : '';
}

// ---------------------------------------------------------------------------------------
// Journal: one JSON object per line, ending in a CRC-32 of the rest of the line:
// {"op":"put","collection":"users","doc":{...},"crc":"1a2b3c4d"}

const CRC_SUFFIX_LENGTH = ',"crc":"00000000"}'.length;

/** Encodes one write as a journal line (with its newline). */
export function encodeJournalLine(op: WriteOp): string {
  const body =
    op.type === 'put'
      ? `{"op":"put","collection":"${op.collection}","doc":${JSON.stringify(op.doc)}}`
      : `{"op":"delete","collection":"${op.collection}","id":${JSON.stringify(op.id)}}`;
  const crc = crc32(body).toString(16).padStart(8, '0');
  return `${body.slice(0, -1)},"crc":"${crc}"}\n`;
}

/** Decodes one journal line (without its newline). @throws FormatError */
export function decodeJournalLine(line: string): WriteOp {
  const suffix = line.slice(-CRC_SUFFIX_LENGTH);
  const m = /^,"crc":"([0-9a-f]{8})"\}$/.exec(suffix);
  if (!m) {
    parseJson(line); // report a syntax error with its column when there is one
    throw new FormatError('entry has no "crc" field at its end', 'column 1');
  }
  const body = `${line.slice(0, -CRC_SUFFIX_LENGTH)}}`;
  if (crc32(body).toString(16).padStart(8, '0') !== m[1]) {
    parseJson(line);
    throw new FormatError(
      'checksum mismatch: the entry was changed or damaged (edit collection files, not the journal)',
      'column 1',
    );
  }
  const v = parseJson(line);
  if (
    !isObject(v) ||
    typeof v['collection'] !== 'string' ||
    !COLLECTION_NAME.test(v['collection'])
  ) {
    throw new FormatError('entry needs a valid "collection"', 'column 1');
  }
  const collection = v['collection'];
  if (v['op'] === 'put') {
    const problem = documentProblem(v['doc']);
    if (problem) throw new FormatError(`"doc" ${problem}`, 'column 1');
    return { type: 'put', collection, doc: v['doc'] as unknown as StoredDocument };
  }
  if (v['op'] === 'delete' && typeof v['id'] === 'string') {
    return { type: 'delete', collection, id: v['id'] };
  }
  throw new FormatError(
    'entry "op" must be "put" (with "doc") or "delete" (with "id")',
    'column 1',
  );
}

// ---------------------------------------------------------------------------------------
// JSON with positions

/** JSON.parse, turning a syntax error into a FormatError with line and column. */
export function parseJson(text: string): unknown {
  const r = parseJsonText(text);
  if (r.ok) return r.value;
  throw new FormatError(
    `invalid JSON (${r.problem.message})`,
    `line ${r.problem.line}, column ${r.problem.column}`,
  );
}
