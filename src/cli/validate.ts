/**
 * `plugboard validate`: checks a manifest package or a plugin module the way the
 * PluginLoader would load it, against an in-memory registry, with no network.
 *
 * @module
 * @internal
 */
import { stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { isPlugboardError, type ValidationError, type ValidationIssue } from '../errors.js';
import { errorField, errorMessage } from '../internal/error-message.js';
import { PluginLoader } from '../plugins/loader.js';
import { MODULE_EXTENSIONS } from '../plugins/plugin-module.js';
import type { LoadedPlugin } from '../plugins/types.js';
import { IntegrationRegistry } from '../registry/index.js';
import { MemoryStorage } from '../storage/memory.js';

/** One problem, with its field path (empty when it concerns the whole target). */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/** The result of validating one target. */
export interface ValidationReport {
  /** The target as given. */
  readonly target: string;
  /** What it turned out to be. */
  readonly kind: 'manifest' | 'module' | 'unknown';
  /** Integration id, when it could be read. */
  readonly id?: string;
  /** Definition version, when it loaded. */
  readonly version?: string;
  /** Component counts, when it loaded. */
  readonly counts?: {
    readonly triggers: number;
    readonly conditions: number;
    readonly actions: number;
  };
  /** Every problem found; empty when valid. */
  readonly problems: readonly Problem[];
}

const offline: typeof fetch = async (input) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  throw new Error(`plugboard validate makes no network calls (the plugin tried ${url})`);
};

/** The first ValidationError in a cause chain. */
function validationCause(error: unknown): ValidationError | undefined {
  let cur: unknown = error;
  for (let depth = 0; depth < 8 && cur; depth++) {
    if (isPlugboardError(cur, 'VALIDATION_FAILED')) return cur as ValidationError;
    cur = errorField(cur, 'cause');
  }
  return undefined;
}

function problemsOf(error: unknown): Problem[] {
  const v = validationCause(error);
  if (v) return v.issues.map((i: ValidationIssue) => ({ path: i.path, message: i.message }));
  let message = errorMessage(error);
  // The plugin id prefix is printed once in the header already.
  message = message.replace(/^Plugin '[^']*': /, '');
  if (errorField(errorField(error, 'cause'), 'code') === 'ERR_UNKNOWN_FILE_EXTENSION') {
    message +=
      ' (run the CLI under tsx to validate TypeScript: npx tsx node_modules/plugboard/dist/cli.js validate …, or validate the compiled .js)';
  }
  return [{ path: '', message }];
}

/**
 * Validates one manifest package (directory or manifest.json) or plugin module.
 *
 * @param target - a path, relative to `cwd`
 */
export async function validateTarget(target: string, cwd: string): Promise<ValidationReport> {
  const abs = resolve(cwd, target);
  const info = await stat(abs).catch(() => undefined);
  if (!info)
    return {
      target,
      kind: 'unknown',
      problems: [{ path: '', message: 'no such file or directory' }],
    };
  const kind: ValidationReport['kind'] =
    info.isDirectory() || basename(abs) === 'manifest.json'
      ? 'manifest'
      : info.isFile() && MODULE_EXTENSIONS.has(extname(abs))
        ? 'module'
        : 'unknown';
  if (kind === 'unknown') {
    return {
      target,
      kind,
      problems: [
        {
          path: '',
          message:
            'expected a manifest package directory, a manifest.json, or a .js/.mjs/.ts plugin module',
        },
      ],
    };
  }
  const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
  const loader = new PluginLoader({ registry, fetch: offline, initializeTimeoutMs: 5_000 });
  let loaded: LoadedPlugin;
  try {
    loaded = kind === 'manifest' ? await loader.loadManifest(abs) : await loader.loadModule(abs);
  } catch (error) {
    const id = errorField(error, 'pluginId');
    return {
      target,
      kind,
      ...(typeof id === 'string' ? { id } : {}),
      problems: problemsOf(error),
    };
  }
  const def = loaded.definition;
  await loader.unload(loaded.id, { force: true }).catch(() => undefined);
  return {
    target,
    kind,
    id: def.id,
    version: def.version,
    counts: {
      triggers: def.triggers.length,
      conditions: def.conditions.length,
      actions: def.actions.length,
    },
    problems: [],
  };
}
