/**
 * The TypeBox schema of a manifest package's `manifest.json`, published as
 * `schemas/manifest.schema.json` (see `scripts/write-schemas.ts`).
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  AuthType,
  COMPONENT_TYPE_PATTERN,
  INTEGRATION_ID_PATTERN,
  JsonSchemaObject,
  OAuth2Config,
} from '../schema/definition.js';

/** Where the published manifest schema lives; use it as `$schema` in `manifest.json`. */
export const MANIFEST_SCHEMA_ID = 'https://plugboard.dev/schemas/manifest.schema.json';

const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

// Absolute paths, `..` segments and symlinks leaving the package are rejected when the
// files are read, with a message that says so (a regex pattern here would only say
// "must match the pattern …").
const RelativePath = (description: string) =>
  Type.String({ minLength: 1, maxLength: 1024, description });

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 10_000 });
const ComponentType = Type.String({ pattern: COMPONENT_TYPE_PATTERN });
const vendor = { patternProperties: { '^x-': {} } };

/** One event (trigger) of a manifest package. */
export const ManifestEvent = Type.Object(
  {
    eventType: ComponentType,
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    schemaPath: Type.Optional(
      RelativePath('JSON Schema file of the event payload, relative to the package'),
    ),
    configSchemaPath: Type.Optional(
      RelativePath("JSON Schema file of a rule's triggerConfig, relative to the package"),
    ),
    eventId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          "How to derive the event's delivery id when the event carries no id, for deduplication: text with '{{ path }}' placeholders read from the event, e.g. '{{ payload.delivery_id }}'",
      }),
    ),
  },
  { additionalProperties: false, ...vendor },
);
/** One event (trigger) of a manifest package. */
export type ManifestEvent = Static<typeof ManifestEvent>;

/** One action of a manifest package. */
export const ManifestAction = Type.Object(
  {
    type: ComponentType,
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    inputSchemaPath: RelativePath('JSON Schema file of the action input, relative to the package'),
    outputSchemaPath: Type.Optional(
      RelativePath('JSON Schema file of the action output, relative to the package'),
    ),
  },
  { additionalProperties: false, ...vendor },
);
/** One action of a manifest package. */
export type ManifestAction = Static<typeof ManifestAction>;

/** One integration-specific condition type of a manifest package. */
export const ManifestCondition = Type.Object(
  {
    type: ComponentType,
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    configSchemaPath: RelativePath('JSON Schema file of the condition config'),
  },
  { additionalProperties: false, ...vendor },
);
/** One integration-specific condition type of a manifest package. */
export type ManifestCondition = Static<typeof ManifestCondition>;

/**
 * `manifest.json` of a manifest package: an integration described as data, with its
 * schemas in JSON files inside the package and an optional `main` module for the runtime
 * parts.
 */
export const PluginManifest = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    type: Type.String({
      pattern: INTEGRATION_ID_PATTERN,
      description: 'Integration id (slug), e.g. `stripe`',
    }),
    name: Name,
    description: Type.Optional(Description),
    version: Type.String({
      pattern: SEMVER_PATTERN,
      maxLength: 256,
      description: 'Semantic version',
    }),
    authType: Type.Optional(AuthType),
    oauth2Config: Type.Optional(OAuth2Config),
    credentialSchema: Type.Optional(JsonSchemaObject),
    configSchema: Type.Optional(JsonSchemaObject),
    events: Type.Optional(Type.Array(ManifestEvent, { maxItems: 2000 })),
    conditions: Type.Optional(Type.Array(ManifestCondition, { maxItems: 500 })),
    actions: Type.Optional(Type.Array(ManifestAction, { maxItems: 2000 })),
    definitions: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    $defs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
    homepage: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
    icon: Type.Optional(Type.String({ maxLength: 100_000 })),
    main: Type.Optional(
      RelativePath('JavaScript module (ESM) exporting the runtime parts, relative to the package'),
    ),
  },
  {
    $id: MANIFEST_SCHEMA_ID,
    title: 'plugboard manifest package (manifest.json)',
    additionalProperties: false,
    ...vendor,
  },
);
/** `manifest.json` of a manifest package. */
export type PluginManifest = Static<typeof PluginManifest>;
