/**
 * `{{ payload.customer.email }}` templates in action configs: parsed when the rule is
 * saved, resolved by path lookup only (never code evaluation).
 *
 * - A string that is exactly one template takes the value found, with its type
 *   (`"{{ payload.amount }}"` → `42`).
 * - A template inside a longer string is interpolated (objects as JSON).
 * - A missing path is reported, never replaced by `"undefined"`.
 *
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import { compileReader, MISSING, type PathReader, parsePath } from './paths.js';

/** A template whose path was not found in the event. */
export interface MissingTemplatePath {
  /** Where the template sits in the action input, e.g. `to`. */
  readonly field: string;
  /** The path it looked up, e.g. `payload.customer.email`. */
  readonly path: string;
}

/** A compiled action config. */
export interface CompiledTemplate {
  /** Field paths (relative to the config) whose values hold templates. */
  readonly templatedFields: readonly string[];
  /** Builds a fresh input object for an event; `missing` lists unresolved paths. */
  resolve(event: unknown): { value: Record<string, unknown>; missing: MissingTemplatePath[] };
}

type Resolver = (event: unknown, missing: MissingTemplatePath[]) => unknown;

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;

/** Whether a string holds a template. */
export function hasTemplate(s: string): boolean {
  return s.includes('{{');
}

/**
 * Compiles an action config. Problems (bad paths, unclosed braces) are appended to
 * `issues` under `basePath`.
 */
export function compileTemplates(
  config: Readonly<Record<string, unknown>>,
  basePath: string,
  issues: ValidationIssue[],
): CompiledTemplate {
  const templatedFields: string[] = [];
  const root = compileValue(config, '', basePath, issues, templatedFields);
  return {
    templatedFields,
    resolve(event) {
      const missing: MissingTemplatePath[] = [];
      const value = root(event, missing) as Record<string, unknown>;
      return { value, missing };
    },
  };
}

function join(field: string, key: string | number): string {
  return typeof key === 'number' ? `${field}[${key}]` : field ? `${field}.${key}` : key;
}

function compileValue(
  value: unknown,
  field: string,
  basePath: string,
  issues: ValidationIssue[],
  templated: string[],
): Resolver {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return () => value;
    templated.push(field);
    return compileString(value, field, basePath, issues);
  }
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileValue(v, join(field, i), basePath, issues, templated));
    return (e, m) => items.map((r) => r(e, m));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(
      ([k, v]) => [k, compileValue(v, join(field, k), basePath, issues, templated)] as const,
    );
    return (e, m) => {
      const out: Record<string, unknown> = {};
      for (const [k, r] of entries) {
        // defineProperty keeps a key such as `__proto__` as plain data.
        Object.defineProperty(out, k, {
          value: r(e, m),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    };
  }
  return () => value;
}

function compilePath(
  path: string,
  field: string,
  basePath: string,
  issues: ValidationIssue[],
): PathReader | undefined {
  const parts = parsePath(path);
  if (typeof parts === 'string' || parts.length === 0) {
    issues.push({
      path: field ? `${basePath}.${field}` : basePath,
      message: `template '{{ ${path} }}': ${typeof parts === 'string' ? parts : 'needs a path such as payload.id'}`,
    });
    return undefined;
  }
  return compileReader(parts);
}

function compileString(
  s: string,
  field: string,
  basePath: string,
  issues: ValidationIssue[],
): Resolver {
  const whole = WHOLE.exec(s);
  if (whole) {
    const path = whole[1] ?? '';
    const read = compilePath(path, field, basePath, issues);
    if (!read) return () => s;
    return (e, m) => {
      const v = read(e);
      if (v === MISSING) {
        m.push({ field, path });
        return undefined;
      }
      return v;
    };
  }
  const pieces: (string | { path: string; read: PathReader })[] = [];
  let last = 0;
  for (const match of s.matchAll(TEMPLATE)) {
    const path = match[1] ?? '';
    const read = compilePath(path, field, basePath, issues);
    if (match.index > last) pieces.push(s.slice(last, match.index));
    if (read) pieces.push({ path, read });
    last = match.index + match[0].length;
  }
  if (last < s.length) pieces.push(s.slice(last));
  const rest = pieces.filter((p): p is string => typeof p === 'string').join('');
  if (rest.includes('{{') || rest.includes('}}')) {
    issues.push({
      path: field ? `${basePath}.${field}` : basePath,
      message: "has an unclosed template; write '{{ payload.path }}'",
    });
  }
  return (e, m) => {
    let out = '';
    for (const p of pieces) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      const v = p.read(e);
      if (v === MISSING) {
        m.push({ field, path: p.path });
        continue;
      }
      out += v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    return out;
  };
}

/** A `{{ path }}` template of an action config, with the field it sits in. */
export interface TemplatePath {
  /** Where the template sits in the config, e.g. `to` or `blocks[0].text`. */
  readonly field: string;
  /** The path it looks up, e.g. `payload.customer.email`. */
  readonly path: string;
}

/** Every template path of an action config, in order. */
export function templatePaths(
  config: unknown,
  field = '',
  out: TemplatePath[] = [],
): TemplatePath[] {
  if (typeof config === 'string') {
    if (hasTemplate(config)) {
      for (const m of config.matchAll(TEMPLATE)) out.push({ field, path: m[1] ?? '' });
    }
  } else if (Array.isArray(config)) {
    config.forEach((v, i) => {
      templatePaths(v, join(field, i), out);
    });
  } else if (config !== null && typeof config === 'object') {
    for (const [k, v] of Object.entries(config)) templatePaths(v, join(field, k), out);
  }
  return out;
}
