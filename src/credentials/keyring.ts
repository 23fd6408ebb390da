/**
 * `Keyring`: named AES-256 keys, one of them primary, and authenticated sealing of
 * credentials with AES-256-GCM.
 *
 * A sealed value is a string `pb1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`:
 * `pb1` is the format version, `keyId` names the key that sealed it, the IV is 96 fresh
 * random bits per seal and the tag is the full 128-bit GCM tag. The format header and a
 * caller-chosen context (the instance id) are bound as additional authenticated data, so
 * a ciphertext moved to another instance, or relabelled with another key id, never
 * decrypts.
 *
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { inspect } from 'node:util';
import { DecryptionError, ValidationError } from '../errors.js';

/** Format version written in front of every sealed value. */
export const SEALED_FORMAT_VERSION = 'pb1';

const KEY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const SEALED_PATTERN = /^pb1:([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9_-]+)$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A key as accepted by {@link Keyring}: 32 raw bytes, or their base64 / hex encoding. */
export type KeyMaterial = string | Uint8Array;

/** Options of the {@link Keyring} constructor. */
export interface KeyringOptions {
  /** Named keys; ids are 1-64 letters, digits, `_`, `.` or `-`. */
  readonly keys: Readonly<Record<string, KeyMaterial>>;
  /** Id of the key that seals new data; must be one of `keys`. */
  readonly primary: string;
}

/** Why an error does not show a key id. */
function hiddenIdHint(id: string): string {
  return looksLikeKey(id)
    ? 'its id is not shown because it looks like key material: are the id and the key swapped? Each entry is id → key'
    : 'its id is not shown, in case it is key material';
}

/** Whether a key id is itself shaped like a key (32 bytes of base64 or hex). */
function looksLikeKey(id: string): boolean {
  try {
    decodeKey('', id);
    return true;
  } catch {
    return false;
  }
}

/**
 * How errors name the key at `position` (0-based): by its id, unless the id is malformed
 * or shaped like key material (the id and the key swapped), which is never echoed.
 */
function keyLabel(id: string, position: number): { path: string; shown: boolean } {
  return KEY_ID_PATTERN.test(id) && !looksLikeKey(id)
    ? { path: `keys.${id}`, shown: true }
    : { path: `keys[${position}]`, shown: false };
}

function keyError(path: string, message: string): ValidationError {
  return new ValidationError([{ path, message }], 'keyring');
}

/**
 * Decodes key material to 32 bytes; the error never contains the material itself.
 * @param at - the path the error names
 */
function decodeKey(at: string, material: KeyMaterial): Buffer {
  let bytes: Buffer | undefined;
  if (typeof material === 'string') {
    const text = material.trim();
    if (/^[0-9a-fA-F]+$/.test(text) && text.length === KEY_BYTES * 2) {
      bytes = Buffer.from(text, 'hex');
    } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
      const isUrl = /[-_]/.test(text);
      const decoded = Buffer.from(text, isUrl ? 'base64url' : 'base64');
      // Reject encodings that only decode by ignoring characters or stray bits.
      const canonical = decoded.toString(isUrl ? 'base64url' : 'base64');
      if (canonical.replace(/=+$/, '') !== text.replace(/=+$/, '')) {
        throw keyError(at, 'is not valid base64 or hex');
      }
      bytes = decoded;
    } else {
      throw keyError(
        at,
        'must be 32 bytes encoded as base64 or hex (generate one with Keyring.generateKey())',
      );
    }
  } else if (material instanceof Uint8Array) {
    bytes = Buffer.from(material);
  } else {
    throw keyError(at, 'must be a base64 or hex string, or a Uint8Array');
  }
  if (bytes.length !== KEY_BYTES) {
    throw keyError(
      at,
      `must be exactly 32 bytes for AES-256 (got ${bytes.length} bytes); generate one with Keyring.generateKey()`,
    );
  }
  return bytes;
}

/**
 * A set of named AES-256 keys with one primary key. New data is sealed with the primary
 * key; data sealed with any key of the ring can be opened. Key material is held in
 * private fields and never appears in `util.inspect`, `JSON.stringify` or errors.
 *
 * @example
 * ```ts
 * const keyring = new Keyring({ keys: { k2: process.env.KEY_2!, k1: process.env.KEY_1! }, primary: 'k2' });
 * const sealed = keyring.seal('{"apiKey":"…"}', 'instance-42');
 * keyring.open(sealed, 'instance-42').toString('utf8');
 * ```
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, KeyObject>;
  readonly #primary: string;

  /**
   * @throws ValidationError when a key id is malformed, a key is not 32 bytes, or the
   * primary id is not among the keys.
   */
  constructor(options: KeyringOptions) {
    if (options === null || typeof options !== 'object' || typeof options.keys !== 'object') {
      throw new ValidationError(
        [{ path: 'keys', message: 'must be an object of key id to key' }],
        'keyring',
      );
    }
    const keys = new Map<string, KeyObject>();
    const labels: string[] = [];
    for (const [position, [id, material]] of Object.entries(options.keys).entries()) {
      const label = keyLabel(id, position);
      if (!KEY_ID_PATTERN.test(id)) {
        const rule = 'key id must be 1-64 letters, digits, "_", "." or "-"';
        throw keyError(label.path, `${rule}; ${hiddenIdHint(id)}`);
      }
      try {
        keys.set(id, createSecretKey(decodeKey(label.path, material)));
      } catch (e) {
        if (label.shown || !(e instanceof ValidationError)) throw e;
        throw keyError(
          label.path,
          `${e.issues[0]?.message ?? 'is not a key'}; ${hiddenIdHint(id)}`,
        );
      }
      labels.push(label.shown ? id : `keys[${position}]`);
    }
    if (keys.size === 0) {
      throw new ValidationError([{ path: 'keys', message: 'needs at least one key' }], 'keyring');
    }
    if (typeof options.primary !== 'string' || !keys.has(options.primary)) {
      throw new ValidationError(
        [
          {
            path: 'primary',
            message: `must name one of the keys (${labels.join(', ')})`,
          },
        ],
        'keyring',
      );
    }
    this.#keys = keys;
    this.#primary = options.primary;
  }

  /**
   * Reads a keyring from an environment variable. Two formats are accepted:
   * `id:key,id:key,…` (the first entry is primary), or JSON
   * `{ "primary": "k2", "keys": { "k2": "…", "k1": "…" } }`. Keys are base64 or hex.
   *
   * @param name - the variable name, default `PLUGBOARD_KEYS`
   * @param env - where to read it, default `process.env`
   * @throws ValidationError when the variable is missing or malformed (without echoing it)
   * @example
   * ```ts
   * // PLUGBOARD_KEYS="k2:3q2+7w…=,k1:9f86d0…"
   * const keyring = Keyring.fromEnv('PLUGBOARD_KEYS');
   * ```
   */
  static fromEnv(
    name = 'PLUGBOARD_KEYS',
    env: Readonly<Record<string, string | undefined>> = process.env,
  ): Keyring {
    const raw = env[name]?.trim();
    const fail = (message: string): never => {
      throw new ValidationError([{ path: name, message }], 'keyring environment variable');
    };
    if (!raw) {
      return fail(
        'is not set; set it to "keyId:base64Key" (generate a key with Keyring.generateKey())',
      );
    }
    if (raw.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return fail('starts with "{" but is not valid JSON');
      }
      const obj = parsed as { keys?: unknown; primary?: unknown };
      if (typeof obj !== 'object' || obj === null || typeof obj.keys !== 'object' || !obj.keys) {
        return fail('JSON form must be { "primary": "id", "keys": { "id": "key" } }');
      }
      return new Keyring({
        keys: obj.keys as Record<string, string>,
        primary: typeof obj.primary === 'string' ? obj.primary : '',
      });
    }
    const keys: Record<string, string> = {};
    let primary: string | undefined;
    for (const [i, entry] of raw.split(',').entries()) {
      const part = entry.trim();
      if (part === '') continue;
      const sep = part.indexOf(':');
      if (sep <= 0) {
        return fail(`entry ${i + 1} must be "keyId:key"`);
      }
      const id = part.slice(0, sep).trim();
      if (Object.hasOwn(keys, id)) {
        return fail(
          keyLabel(id, i).shown
            ? `key id '${id}' appears twice`
            : `the id of entry ${i + 1} appears twice; ${hiddenIdHint(id)}`,
        );
      }
      keys[id] = part.slice(sep + 1).trim();
      primary ??= id;
    }
    if (primary === undefined) return fail('contains no keys');
    return new Keyring({ keys, primary });
  }

  /** A fresh random 32-byte key, base64-encoded, for configuration files and env vars. */
  static generateKey(): string {
    return randomBytes(KEY_BYTES).toString('base64');
  }

  /** Id of the key that seals new data. */
  get primaryKeyId(): string {
    return this.#primary;
  }

  /** Ids of every key in the ring. */
  get keyIds(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /** Whether the ring holds a key with this id. */
  has(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /**
   * Encrypts `plaintext` with the primary key, binding `context` (e.g. an instance id)
   * as additional authenticated data.
   *
   * @returns `pb1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`
   */
  seal(plaintext: string | Uint8Array, context: string): string {
    const keyId = this.#primary;
    const key = this.#keys.get(keyId)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadFor(keyId, context));
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    const body = Buffer.concat([iv, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_FORMAT_VERSION}:${keyId}:${body.toString('base64url')}`;
  }

  /**
   * Decrypts a value produced by {@link Keyring.seal} with the same `context`.
   *
   * @throws DecryptionError naming the key id when the format is unknown, the key is not
   * in the ring, or authentication fails (tampered data, wrong key, other context).
   */
  open(sealed: string, context: string): Buffer {
    const match = typeof sealed === 'string' ? SEALED_PATTERN.exec(sealed) : null;
    if (!match) {
      const version = typeof sealed === 'string' ? sealed.split(':', 1)[0] : undefined;
      throw new DecryptionError(
        version && version !== SEALED_FORMAT_VERSION && /^pb\d+$/.test(version)
          ? `Sealed credentials use format '${version}', which this version of plugboard cannot read`
          : 'Sealed credentials are malformed (expected "pb1:<keyId>:<data>"); the stored value was damaged or tampered with',
      );
    }
    const keyId = match[1]!;
    const encoded = match[2]!;
    const key = this.#keys.get(keyId);
    if (!key) {
      throw new DecryptionError(
        `Credentials were sealed with key '${keyId}', which is not in the keyring (keys: ${this.keyIds.join(', ')}); add key '${keyId}' to the keyring`,
        keyId,
      );
    }
    const body = Buffer.from(encoded, 'base64url');
    // Base64 has slack bits in its last character; accept only the canonical encoding so
    // that every change of the stored string is a change of the authenticated bytes.
    if (body.length < IV_BYTES + TAG_BYTES || body.toString('base64url') !== encoded) {
      throw new DecryptionError(
        `Credentials sealed with key '${keyId}' are malformed; the stored value was damaged or tampered with`,
        keyId,
      );
    }
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        key,
        body.subarray(0, IV_BYTES),
        // Without authTagLength Node accepts truncated tags down to 4 bytes.
        { authTagLength: TAG_BYTES },
      );
      decipher.setAAD(aadFor(keyId, context));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const out = decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES));
      const last = decipher.final();
      return last.length === 0 ? out : Buffer.concat([out, last]);
    } catch {
      throw new DecryptionError(
        `Could not decrypt credentials sealed with key '${keyId}': authentication failed (the data was tampered with, belongs to another instance, or key '${keyId}' in this keyring is not the key that sealed it)`,
        keyId,
      );
    }
  }

  /**
   * The key id recorded in a sealed value, or `undefined` when it is not a sealed value.
   */
  static keyIdOf(sealed: string): string | undefined {
    const match = SEALED_PATTERN.exec(sealed);
    return match ? match[1] : undefined;
  }

  /** A serialisable description without key material. */
  toJSON(): { primary: string; keyIds: readonly string[] } {
    return { primary: this.#primary, keyIds: this.keyIds };
  }

  /** `util.inspect` shows key ids only. */
  [inspect.custom](): string {
    return `Keyring { primary: '${this.#primary}', keyIds: [${this.keyIds.map((k) => `'${k}'`).join(', ')}] }`;
  }
}

function aadFor(keyId: string, context: string): Buffer {
  return Buffer.from(`${SEALED_FORMAT_VERSION}:${keyId}:${context}`, 'utf8');
}
