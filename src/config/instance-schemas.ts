/**
 * The shape checks of `createInstance` input and `updateInstance` changes, as JSON
 * schemas compiled once with ajv. Each schema carries the message of every field
 * (`errorMessage`), so the issues name the field and say what it must be, never echoing
 * a value. The config and credentials themselves are checked later against the
 * definition's schemas.
 *
 * @internal
 * @module
 */
import { type TSchema, Type } from '@sinclair/typebox';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { jsonIssue } from '../internal/json.js';
import { createAjv } from '../schema/ajv.js';
import type { CreateInstanceInput, InstanceContext, UpdateInstanceChanges } from './types.js';

// Lengths below count UTF-16 code units, as `String#length` does: the patterns are
// compiled without the `u` flag, so `[\s\S]` is one code unit.
const NAME = Type.String({
  pattern: '^(?=[\\s\\S]*\\S)[\\s\\S]{1,200}$',
  errorMessage: 'must be a non-empty string of at most 200 characters',
});
const BOOLEAN = Type.Boolean({ errorMessage: 'must be a boolean' });
const OBJECT = Type.Object({}, { errorMessage: 'must be an object' });
const OBJECT_OR_NULL = Type.Union([Type.Null(), Type.Object({})], {
  errorMessage: 'must be an object',
});

/** A scope of one type: no `contextId` for global, the client or user id otherwise. */
function scope(type: 'global' | 'client' | 'user'): TSchema {
  if (type === 'global') {
    const absent = Type.Not(Type.Unknown(), {
      errorMessage: 'must be absent for a global instance',
    });
    return Type.Object({ type: Type.Literal(type), contextId: Type.Optional(absent) });
  }
  const id = Type.String({
    pattern: '^[\\s\\S]{1,256}$',
    errorMessage: `is required for a ${type} instance (the ${type} id)`,
  });
  return Type.Object({ type: Type.Literal(type), contextId: id });
}

const CONTEXT_TYPE_MESSAGE = "must be 'global', 'client' or 'user'";
/** A scope; a value that is not an object, or has no valid type, is reported at its `type`. */
const Context = Type.Unsafe<InstanceContext>({
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: [scope('global'), scope('client'), scope('user')],
  errorMessage: CONTEXT_TYPE_MESSAGE,
  errorProperty: 'type',
});

/** Input of `createInstance`; `context`, `config` and `credentials` may be null (defaults). */
const CreateInput = Type.Object(
  {
    integrationId: Type.String({ minLength: 1, errorMessage: 'must be a non-empty string' }),
    name: NAME,
    description: Type.Optional(Type.String({ errorMessage: 'must be a string' })),
    instanceId: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$',
        errorMessage:
          'must be 1-128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
      }),
    ),
    isDefault: Type.Optional(BOOLEAN),
    context: Type.Optional(Type.Union([Type.Null(), Context])),
    config: Type.Optional(OBJECT_OR_NULL),
    credentials: Type.Optional(OBJECT_OR_NULL),
  },
  { errorMessage: 'must be an object' },
);

/** Changes of `updateInstance`: only these fields; the version changes by `upgradeInstance`. */
const UpdateChanges = Type.Object(
  {
    name: Type.Optional(NAME),
    description: Type.Optional(
      Type.Union([Type.Null(), Type.String()], { errorMessage: 'must be a string or null' }),
    ),
    isDefault: Type.Optional(BOOLEAN),
    enabled: Type.Optional(BOOLEAN),
    config: Type.Optional(OBJECT),
    credentials: Type.Optional(OBJECT),
    context: Type.Optional(Context),
  },
  {
    errorMessage: 'must be an object',
    additionalProperties: Type.Not(Type.Unknown(), {
      errorMessage:
        'cannot be changed here (allowed: name, description, context, isDefault, config, credentials, enabled; use upgradeInstance to change the version)',
    }),
  },
);

/** Compiled validators, built on first use. */
const validators = new Map<TSchema, ValidateFunction>();

function validatorOf(schema: TSchema): ValidateFunction {
  const cached = validators.get(schema);
  if (cached) return cached;
  const ajv = createAjv('draft-07', { unicodeRegExp: false });
  ajv.addKeyword('errorMessage');
  ajv.addKeyword('errorProperty');
  const validate = ajv.compile(schema);
  validators.set(schema, validate);
  return validate;
}

interface Annotated {
  readonly errorMessage?: string;
  readonly errorProperty?: string;
  readonly properties?: Readonly<Record<string, Annotated>>;
}

/** Where an ajv error belongs (a JSON pointer) and its schema's message, if it has one. */
function located(e: ErrorObject): { pointer: string; message: string | undefined } {
  const schema = (e.parentSchema ?? {}) as Annotated;
  if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: unknown }).missingProperty);
    return {
      pointer: `${e.instancePath}/${missing.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      message: schema.properties?.[missing]?.errorMessage,
    };
  }
  const at = schema.errorProperty !== undefined ? `/${schema.errorProperty}` : '';
  return { pointer: e.instancePath + at, message: schema.errorMessage };
}

function pathOf(root: string, pointer: string): string {
  const segments = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return root === '' ? segments.join('.') : [root, ...segments].join('.');
}

/**
 * Validates `value` against `schema`, throwing one issue per field (the first message
 * found for it), fields in the order of the schema's properties, unknown ones first.
 */
function check(schema: TSchema, value: unknown, root: string, what: string): void {
  const validate = validatorOf(schema);
  if (validate(value)) return;
  const order = Object.keys((schema as Annotated).properties ?? {});
  const byPointer = new Map<string, ValidationIssue>();
  for (const e of validate.errors ?? []) {
    const { pointer, message } = located(e);
    if (message === undefined || byPointer.has(pointer)) continue;
    byPointer.set(pointer, { path: pathOf(root, pointer), message });
  }
  const rank = (pointer: string): number => order.indexOf(pointer.split('/')[1] ?? '');
  const issues = [...byPointer.entries()]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([, issue]) => issue);
  throw new ValidationError(issues, what);
}

/** Checks the shape of `createInstance` input. @throws ValidationError */
export function checkCreateInput(input: unknown): asserts input is CreateInstanceInput {
  check(CreateInput, input, '', 'instance');
  checkJsonFields(input as CreateInstanceInput, '', 'instance');
}

/** Checks the shape of `updateInstance` changes. @throws ValidationError */
export function checkUpdateChanges(changes: unknown): asserts changes is UpdateInstanceChanges {
  check(UpdateChanges, changes, 'changes', 'instance update');
  checkJsonFields(changes as UpdateInstanceChanges, 'changes.', 'instance update');
}

/** `config` and `credentials` must be JSON data: they are validated, sealed and stored. */
function checkJsonFields(
  input: { readonly config?: unknown; readonly credentials?: unknown },
  prefix: string,
  what: string,
): void {
  const issues = (['config', 'credentials'] as const)
    .map((k) => (input[k] === undefined ? undefined : jsonIssue(input[k], `${prefix}${k}`)))
    .filter((i): i is ValidationIssue => i !== undefined);
  if (issues.length > 0) throw new ValidationError(issues, what);
}

/** The stored form of a checked scope (default global), without other fields. */
export function contextOf(value: InstanceContext | null | undefined): InstanceContext {
  if (value === undefined || value === null || value.type === 'global') return { type: 'global' };
  return { type: value.type, contextId: value.contextId as string };
}
