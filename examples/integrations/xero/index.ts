/**
 * Xero as a code plugin: OAuth2 with Xero's identity endpoints, a `tenantId` config (the
 * `xero-tenant-id` header every Accounting API call needs), `create_invoice` with line
 * items (`POST /api.xro/2.0/Invoices`), and an `invoice.event` trigger for Xero webhooks.
 */
import { Type } from '@sinclair/typebox';
import { ConnectionTestError, defineIntegration } from '../../../src/index.js';

const API = 'https://api.xero.com';

/** Instance configuration: which Xero organisation (tenant) to act on. */
export const XeroConfig = Type.Object({
  tenantId: Type.String({
    format: 'uuid',
    description: 'The organisation, from GET https://api.xero.com/connections',
  }),
});

/** Credentials as the ConfigManager stores them for OAuth2 integrations. */
export const XeroCredentials = Type.Object({
  clientId: Type.String({ minLength: 1, 'x-public': true }),
  clientSecret: Type.Optional(Type.String({ writeOnly: true })),
  oauth2: Type.Optional(
    Type.Object({
      access_token: Type.String({ writeOnly: true }),
      refresh_token: Type.Optional(Type.String({ writeOnly: true })),
      expires_at: Type.Optional(Type.String({ format: 'date-time', 'x-public': true })),
      token_type: Type.Optional(Type.String({ 'x-public': true })),
      scope: Type.Optional(Type.String({ 'x-public': true })),
    }),
  ),
});

/** One invoice line. */
export const LineItem = Type.Object(
  {
    description: Type.String({ minLength: 1, maxLength: 4000 }),
    quantity: Type.Number({ exclusiveMinimum: 0 }),
    unitAmount: Type.Number(),
    accountCode: Type.Optional(Type.String({ maxLength: 10 })),
    taxType: Type.Optional(Type.String()),
    itemCode: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** Input of `create_invoice`. */
export const CreateInvoiceInput = Type.Object(
  {
    type: Type.Optional(
      Type.Union([Type.Literal('ACCREC'), Type.Literal('ACCPAY')], {
        description: 'ACCREC: sales invoice (default); ACCPAY: bill',
      }),
    ),
    contact: Type.Union([
      Type.Object({ contactId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
      Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 255 }) },
        { additionalProperties: false },
      ),
    ]),
    lineItems: Type.Array(LineItem, { minItems: 1, maxItems: 500 }),
    date: Type.Optional(Type.String({ format: 'date' })),
    dueDate: Type.Optional(Type.String({ format: 'date' })),
    reference: Type.Optional(Type.String({ maxLength: 255 })),
    currencyCode: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    status: Type.Optional(
      Type.Union([Type.Literal('DRAFT'), Type.Literal('SUBMITTED'), Type.Literal('AUTHORISED')]),
    ),
  },
  { additionalProperties: false },
);

/** Output of `create_invoice`. */
export const CreateInvoiceOutput = Type.Object({
  invoiceId: Type.String(),
  invoiceNumber: Type.String(),
  status: Type.String(),
  total: Type.Number(),
  amountDue: Type.Number(),
});

/** One event of a Xero webhook delivery. */
export const XeroWebhookEvent = Type.Object({
  resourceUrl: Type.String({ format: 'uri' }),
  resourceId: Type.String(),
  eventDateUtc: Type.String(),
  eventType: Type.Union([Type.Literal('CREATE'), Type.Literal('UPDATE')]),
  eventCategory: Type.Union([Type.Literal('INVOICE'), Type.Literal('CONTACT')]),
  tenantId: Type.String(),
  tenantType: Type.String(),
});

/** A failed Xero API call, with Xero's validation messages when it sent any. */
export class XeroApiError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`Xero API failed with ${status}: ${detail}`);
    this.name = 'XeroApiError';
  }
}

function tokenOf(credentials: { oauth2?: { access_token: string } }): string {
  const token = credentials.oauth2?.access_token;
  if (!token) {
    throw new ConnectionTestError('Xero is not connected yet: complete the OAuth2 consent', 'auth');
  }
  return token;
}

async function xeroCall(
  fetchFn: typeof fetch,
  method: 'GET' | 'POST',
  path: string,
  token: string,
  tenantId: string | undefined,
  body?: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const res = await fetchFn(`${API}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      ...(tenantId ? { 'xero-tenant-id': tenantId } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    // A ValidationException lists messages per element; show them, they name the field.
    const elements = (json['Elements'] as { ValidationErrors?: { Message: string }[] }[]) ?? [];
    const messages = elements.flatMap((e) => (e.ValidationErrors ?? []).map((v) => v.Message));
    const detail =
      messages.length > 0
        ? messages.join('; ')
        : String(json['Message'] ?? json['Title'] ?? res.statusText);
    throw new XeroApiError(res.status, detail);
  }
  return json;
}

/** The Xero plugin. */
export const xero = defineIntegration({
  id: 'xero',
  name: 'Xero',
  description: 'Accounting: create invoices and react to invoice changes.',
  version: '1.0.0',
  authType: 'oauth2',
  oauth2Config: {
    authorizationUrl: 'https://login.xero.com/identity/connect/authorize',
    tokenUrl: 'https://identity.xero.com/connect/token',
    scopes: [
      'openid',
      'profile',
      'email',
      'accounting.transactions',
      'accounting.contacts',
      'offline_access',
    ],
    pkce: true,
  },
  homepage: 'https://www.xero.com',
  tags: ['accounting', 'invoices'],
  configSchema: XeroConfig,
  credentialSchema: XeroCredentials,
  /** The token must reach the configured tenant: `GET /connections` lists the reachable ones. */
  async testConnection(credentials, config, { fetch }) {
    let connections: unknown;
    try {
      connections = await xeroCall(fetch, 'GET', '/connections', tokenOf(credentials), undefined);
    } catch (error) {
      if (error instanceof XeroApiError) {
        throw new ConnectionTestError(
          error.message,
          error.status === 401 || error.status === 403 ? 'auth' : 'transient',
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    const tenants = (connections as { tenantId: string }[]).map((c) => c.tenantId);
    if (!tenants.includes(config.tenantId)) {
      throw new ConnectionTestError(
        `config.tenantId: this connection cannot reach tenant ${config.tenantId}; reconnect Xero and pick that organisation`,
        'auth',
      );
    }
  },
})
  .action('create_invoice', {
    name: 'Create invoice',
    description: 'Creates a sales invoice (or bill) with line items.',
    inputSchema: CreateInvoiceInput,
    outputSchema: CreateInvoiceOutput,
    async handler(input, ctx) {
      const token = tokenOf(await ctx.getCredentials());
      const invoice = {
        Type: input.type ?? 'ACCREC',
        Contact:
          'contactId' in input.contact
            ? { ContactID: input.contact.contactId }
            : { Name: input.contact.name },
        LineItems: input.lineItems.map((l) => ({
          Description: l.description,
          Quantity: l.quantity,
          UnitAmount: l.unitAmount,
          ...(l.accountCode === undefined ? {} : { AccountCode: l.accountCode }),
          ...(l.taxType === undefined ? {} : { TaxType: l.taxType }),
          ...(l.itemCode === undefined ? {} : { ItemCode: l.itemCode }),
        })),
        ...(input.date === undefined ? {} : { Date: input.date }),
        ...(input.dueDate === undefined ? {} : { DueDate: input.dueDate }),
        ...(input.reference === undefined ? {} : { Reference: input.reference }),
        ...(input.currencyCode === undefined ? {} : { CurrencyCode: input.currencyCode }),
        Status: input.status ?? 'DRAFT',
      };
      const res = (await xeroCall(
        ctx.fetch,
        'POST',
        '/api.xro/2.0/Invoices',
        token,
        ctx.config.tenantId,
        { Invoices: [invoice] },
        ctx.signal,
      )) as {
        Invoices: {
          InvoiceID: string;
          InvoiceNumber: string;
          Status: string;
          Total: number;
          AmountDue: number;
        }[];
      };
      const created = res.Invoices[0];
      if (!created) throw new XeroApiError(200, 'no invoice in the response');
      return {
        invoiceId: created.InvoiceID,
        invoiceNumber: created.InvoiceNumber,
        status: created.Status,
        total: created.Total,
        amountDue: created.AmountDue,
      };
    },
  })
  .trigger('invoice.event', {
    name: 'Invoice created or updated',
    description: 'One INVOICE event of a Xero webhook delivery.',
    payloadSchema: XeroWebhookEvent,
    configSchema: Type.Object({
      eventType: Type.Optional(Type.Union([Type.Literal('CREATE'), Type.Literal('UPDATE')])),
    }),
    factory: (config) => (event) =>
      event.payload.eventCategory === 'INVOICE' &&
      (config.eventType === undefined || event.payload.eventType === config.eventType),
  });

export default xero;
