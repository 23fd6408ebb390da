/**
 * A local stand-in for the Xero endpoints the example uses (`GET /connections`,
 * `POST /api.xro/2.0/Invoices`), with Xero's response and ValidationException shapes.
 */
import { randomUUID } from 'node:crypto';
import { type MockServer, startMockServer } from '../mock-http.js';

/** The one access token the mock accepts. */
export const XERO_TEST_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6IjFDQUY4RTY2NzcyRDZEQzAyOEQ2NzI2RkQwMjYxNTgxNTcwRUZDMTkiLCJ0eXAiOiJKV1QifQ.test';
/** The tenant the token can reach. */
export const XERO_TENANT_ID = '8a1b6d2e-4c1f-4f4e-9a52-2f0b2c1d7e11';

interface XeroLine {
  Description?: string;
  Quantity?: number;
  UnitAmount?: number;
}

/** Starts the Xero mock on 127.0.0.1; its `fetch` redirects `https://api.xero.com`. */
export function startXeroMock(): Promise<MockServer> {
  let number = 0;
  const unauthorized = {
    status: 401,
    body: {
      Type: null,
      Title: 'Unauthorized',
      Status: 401,
      Detail: 'TokenInvalid: token is invalid',
    },
  };
  return startMockServer(['https://api.xero.com'], {
    'GET /connections': (req) =>
      req.headers.authorization !== `Bearer ${XERO_TEST_TOKEN}`
        ? unauthorized
        : {
            body: [
              {
                id: 'e1eede29-f875-4a5d-8470-17f6a29a88b1',
                authEventId: 'd99ecdfe-391d-43d2-b834-17636ba90e8d',
                tenantId: XERO_TENANT_ID,
                tenantType: 'ORGANISATION',
                tenantName: 'Maple Florists Inc',
                createdDateUtc: '2019-07-09T23:40:30.1833130',
                updatedDateUtc: '2020-05-15T01:35:13.8491980',
              },
            ],
          },
    'POST /api.xro/2.0/Invoices': (req) => {
      if (req.headers.authorization !== `Bearer ${XERO_TEST_TOKEN}`) return unauthorized;
      if (req.headers['xero-tenant-id'] !== XERO_TENANT_ID) {
        return {
          status: 403,
          body: { Title: 'Forbidden', Status: 403, Detail: 'AuthenticationUnsuccessful' },
        };
      }
      const invoice =
        ((req.json as { Invoices?: Record<string, unknown>[] })?.Invoices ?? [])[0] ?? {};
      const lines = (invoice['LineItems'] as XeroLine[] | undefined) ?? [];
      const errors = lines.flatMap((l, i) =>
        l.Description ? [] : [{ Message: `LineItems[${i}]: Description cannot be empty` }],
      );
      if (lines.length === 0)
        errors.push({ Message: 'An invoice must have at least one line item' });
      if (errors.length > 0) {
        return {
          status: 400,
          body: {
            ErrorNumber: 10,
            Type: 'ValidationException',
            Message: 'A validation exception occurred',
            Elements: [{ ValidationErrors: errors }],
          },
        };
      }
      const total = lines.reduce((sum, l) => sum + (l.Quantity ?? 1) * (l.UnitAmount ?? 0), 0);
      number++;
      return {
        body: {
          Id: randomUUID(),
          Status: 'OK',
          Invoices: [
            {
              Type: invoice['Type'],
              InvoiceID: randomUUID(),
              InvoiceNumber: `INV-${String(number).padStart(4, '0')}`,
              Reference: invoice['Reference'] ?? '',
              Status: invoice['Status'] ?? 'DRAFT',
              LineAmountTypes: 'Exclusive',
              SubTotal: total,
              TotalTax: 0,
              Total: total,
              AmountDue: total,
              CurrencyCode: invoice['CurrencyCode'] ?? 'USD',
              Contact: invoice['Contact'],
            },
          ],
        },
      };
    },
  });
}
