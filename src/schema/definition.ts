/**
 * The TypeBox meta-schema of an integration definition. `IntegrationDefinition` and
 * friends are the `Static` types of these schemas, so the schema and the type can never
 * disagree.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';

/** Pattern of an integration id: a lowercase slug of 2 to 64 characters. */
export const INTEGRATION_ID_PATTERN = '^[a-z][a-z0-9_-]{1,63}$';

/** Pattern of a component type such as `charge.succeeded` or `create_invoice`. */
export const COMPONENT_TYPE_PATTERN = '^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$';

const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

/** A JSON Schema document (object form), as embedded in a definition. */
export const JsonSchemaObject = Type.Record(Type.String(), Type.Unknown(), {
  description: 'A JSON Schema (draft-07 or 2020-12) in object form',
});
/** A JSON Schema document (object form). */
export type JsonSchemaObject = Static<typeof JsonSchemaObject>;

/** Authentication kinds an integration may use. */
export const AuthType = Type.Union(
  [Type.Literal('oauth2'), Type.Literal('apikey'), Type.Literal('custom'), Type.Literal('none')],
  { description: 'How instances of the integration authenticate' },
);
/** Authentication kinds an integration may use. */
export type AuthType = Static<typeof AuthType>;

/** Lifecycle states of a definition version. */
export const DefinitionStatus = Type.Union([
  Type.Literal('draft'),
  Type.Literal('published'),
  Type.Literal('deprecated'),
  Type.Literal('archived'),
]);
/** Lifecycle states of a definition version. */
export type DefinitionStatus = Static<typeof DefinitionStatus>;

/** OAuth2 endpoints and scopes of an integration. */
export const OAuth2Config = Type.Object(
  {
    authorizationUrl: Type.String({ format: 'uri', maxLength: 2048 }),
    tokenUrl: Type.String({ format: 'uri', maxLength: 2048 }),
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: 200 }),
    additionalParameters: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: 2048 }), { maxProperties: 50 }),
    ),
    pkce: Type.Optional(Type.Boolean()),
    /**
     * The provider supports incremental authorization (Google's
     * `include_granted_scopes`): a re-consent URL then asks only for the missing scopes
     * and sends `include_granted_scopes=true`. Default `false`: it asks for every scope.
     */
    incrementalAuthorization: Type.Optional(Type.Boolean()),
    /**
     * The authorization server's issuer identifier (RFC 8414 `issuer`). When set, the
     * `iss` of an authorization response must equal it (RFC 9207).
     */
    issuer: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
  },
  { additionalProperties: false },
);
/** OAuth2 endpoints and scopes of an integration. */
export type OAuth2Config = Static<typeof OAuth2Config>;

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 10_000 });
const ComponentType = Type.String({ pattern: COMPONENT_TYPE_PATTERN });

/** A trigger (an event the integration emits), as stored. */
export const TriggerDefinition = Type.Object(
  {
    type: ComponentType,
    name: Name,
    description: Type.Optional(Description),
    payloadSchema: Type.Optional(JsonSchemaObject),
    configSchema: Type.Optional(JsonSchemaObject),
    eventId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description:
          "How to derive the event's delivery id when the event carries no id, for deduplication: text with '{{ path }}' placeholders read from the event, e.g. '{{ payload.delivery_id }}'",
      }),
    ),
  },
  { additionalProperties: false },
);
/** A trigger (an event the integration emits), as stored. */
export type TriggerDefinition = Static<typeof TriggerDefinition>;

/** An integration-specific condition type, as stored. */
export const ConditionDefinition = Type.Object(
  {
    type: ComponentType,
    name: Name,
    description: Type.Optional(Description),
    configSchema: JsonSchemaObject,
  },
  { additionalProperties: false },
);
/** An integration-specific condition type, as stored. */
export type ConditionDefinition = Static<typeof ConditionDefinition>;

/** An action (a method the integration offers), as stored. */
export const ActionDefinition = Type.Object(
  {
    type: ComponentType,
    name: Name,
    description: Type.Optional(Description),
    inputSchema: JsonSchemaObject,
    outputSchema: Type.Optional(JsonSchemaObject),
  },
  { additionalProperties: false },
);
/** An action (a method the integration offers), as stored. */
export type ActionDefinition = Static<typeof ActionDefinition>;

/** Why and until when a version is deprecated. */
export const Deprecation = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    sunsetAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
/**
 * Why and until when a version is deprecated: what `IntegrationRegistry.deprecate` takes
 * and a definition's `deprecation` keeps. `reason` is shown to users; `sunsetAt` (ISO
 * date-time) is when the version will be archived, if planned.
 */
export type Deprecation = Static<typeof Deprecation>;

const inputProperties = {
  id: Type.String({ pattern: INTEGRATION_ID_PATTERN, description: 'Slug such as `stripe`' }),
  name: Name,
  description: Type.Optional(Description),
  version: Type.String({
    pattern: SEMVER_PATTERN,
    maxLength: 256,
    description: 'Semantic version',
  }),
  authType: AuthType,
  oauth2Config: Type.Optional(OAuth2Config),
  credentialSchema: Type.Optional(JsonSchemaObject),
  configSchema: Type.Optional(JsonSchemaObject),
  triggers: Type.Optional(Type.Array(TriggerDefinition, { maxItems: 2000 })),
  conditions: Type.Optional(Type.Array(ConditionDefinition, { maxItems: 500 })),
  actions: Type.Optional(Type.Array(ActionDefinition, { maxItems: 2000 })),
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
  homepage: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
  icon: Type.Optional(Type.String({ maxLength: 100_000 })),
  definitions: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  $defs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
};

/**
 * The serialisable part of a definition as a plugin or caller provides it (no status or
 * timestamps; those are set by the registry).
 */
export const IntegrationDefinitionData = Type.Object(inputProperties, {
  $id: 'https://plugboard.dev/schemas/integration-definition-input.json',
  title: 'plugboard integration definition (input)',
  additionalProperties: false,
});
/** The serialisable part of a definition as a plugin or caller provides it. */
export type IntegrationDefinitionData = Static<typeof IntegrationDefinitionData>;

/** A stored integration definition version, as the registry returns it. */
export const IntegrationDefinition = Type.Object(
  {
    ...inputProperties,
    triggers: Type.Array(TriggerDefinition),
    conditions: Type.Array(ConditionDefinition),
    actions: Type.Array(ActionDefinition),
    status: DefinitionStatus,
    deprecation: Type.Optional(Deprecation),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'https://plugboard.dev/schemas/integration-definition.json',
    title: 'plugboard integration definition',
    additionalProperties: false,
  },
);
/** A stored integration definition version, as the registry returns it. */
export type IntegrationDefinition = Static<typeof IntegrationDefinition>;
