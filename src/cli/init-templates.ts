/**
 * The files `plugboard init-integration` writes: a manifest with one event and one
 * action, their JSON Schemas, and the runtime module.
 *
 * @module
 * @internal
 */

/** A display title of an integration id (`acme-crm` → `Acme Crm`). */
export function title(name: string): string {
  return name
    .split(/[-_]/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join(' ');
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * The files of a new package by path relative to its directory, in the order they are
 * written; `schemaRef` is the manifest's `$schema`.
 */
export function scaffoldFiles(name: string, schemaRef: string): Record<string, string> {
  return {
    'manifest.json': manifestJson(name, schemaRef),
    'schemas/events/item.created.json': json(ITEM_CREATED_SCHEMA),
    'schemas/actions/create_item.input.json': json(CREATE_ITEM_INPUT_SCHEMA),
    'schemas/actions/create_item.output.json': json(CREATE_ITEM_OUTPUT_SCHEMA),
    'index.js': runtimeModule(name),
  };
}

function manifestJson(name: string, schemaRef: string): string {
  return json({
    $schema: schemaRef,
    type: name,
    name: title(name),
    description: `${title(name)} integration.`,
    version: '0.1.0',
    authType: 'apikey',
    credentialSchema: {
      type: 'object',
      properties: { apiKey: { type: 'string', title: 'API key', writeOnly: true, minLength: 1 } },
      required: ['apiKey'],
      additionalProperties: false,
    },
    configSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', format: 'uri', default: `https://api.${name}.example` },
      },
      additionalProperties: false,
    },
    events: [
      {
        eventType: 'item.created',
        name: 'Item created',
        description: 'An item was created.',
        schemaPath: 'schemas/events/item.created.json',
      },
    ],
    actions: [
      {
        type: 'create_item',
        name: 'Create item',
        description: 'Creates an item.',
        inputSchemaPath: 'schemas/actions/create_item.input.json',
        outputSchemaPath: 'schemas/actions/create_item.output.json',
      },
    ],
    main: 'index.js',
  });
}

const ITEM_CREATED_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'item.created',
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'name'],
};

const CREATE_ITEM_INPUT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'create_item input',
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 } },
  required: ['name'],
  additionalProperties: false,
};

const CREATE_ITEM_OUTPUT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'create_item output',
  type: 'object',
  properties: { id: { type: 'string' } },
  required: ['id'],
};

function runtimeModule(name: string): string {
  return `/**
 * Runtime parts of the ${name} integration. The default export receives the plugin
 * context; use ctx.fetch for every HTTP call so hosts and tests can inject their own.
 */
export default function runtime(ctx) {
  async function call(method, path, credentials, config, body) {
    const base = config?.baseUrl ?? 'https://api.${name}.example';
    const res = await ctx.fetch(\`\${base}\${path}\`, {
      method,
      headers: {
        authorization: \`Bearer \${credentials.apiKey}\`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) {
      const error = new Error(\`${name} \${method} \${path} failed with \${res.status}\`);
      error.kind = res.status === 401 || res.status === 403 ? 'auth' : 'transient';
      throw error;
    }
    return res.json();
  }

  return {
    async testConnection(credentials, config) {
      await call('GET', '/me', credentials, config);
    },
    actions: {
      create_item: {
        async handler(input, actionCtx) {
          const created = await call('POST', '/items', await actionCtx.getCredentials(), actionCtx.config, input);
          return { id: String(created.id) };
        },
      },
    },
  };
}
`;
}
