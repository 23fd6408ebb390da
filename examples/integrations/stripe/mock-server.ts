/**
 * A local stand-in for the parts of the Stripe API the example uses
 * (`GET /v1/balance`, `POST /v1/refunds`), with Stripe's response and error shapes.
 */
import { type MockServer, startMockServer } from '../mock-http.js';

/** The one secret key the mock accepts. */
export const STRIPE_TEST_KEY = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';

/** Charges the mock knows, by id: amount and currency. */
const charges: Record<string, { amount: number; currency: string }> = {
  ch_3MmlLrLkdIwHu7ix0snN0B15: { amount: 2000, currency: 'usd' },
  ch_1Nxyz2LkdIwHu7ixBigOne01: { amount: 150_000, currency: 'eur' },
};

function unauthorized(key: string | undefined) {
  const masked = key ? `${key.slice(0, 8)}****${key.slice(-4)}` : '';
  return {
    status: 401,
    body: {
      error: {
        type: 'invalid_request_error',
        message: key
          ? `Invalid API Key provided: ${masked}`
          : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      },
    },
  };
}

/** Starts the Stripe mock on 127.0.0.1; its `fetch` redirects `https://api.stripe.com`. */
export function startStripeMock(): Promise<MockServer> {
  let refunds = 0;
  const auth = (header: string | string[] | undefined) => {
    const key = typeof header === 'string' ? header.replace(/^Bearer\s+/i, '') : undefined;
    return key === STRIPE_TEST_KEY ? undefined : unauthorized(key);
  };
  return startMockServer(['https://api.stripe.com'], {
    'GET /v1/balance': (req) =>
      auth(req.headers.authorization) ?? {
        body: {
          object: 'balance',
          available: [{ amount: 666_670, currency: 'usd', source_types: { card: 666_670 } }],
          livemode: false,
          pending: [{ amount: 61_414, currency: 'usd', source_types: { card: 61_414 } }],
        },
      },
    'POST /v1/refunds': (req) => {
      const denied = auth(req.headers.authorization);
      if (denied) return denied;
      const chargeId = req.form?.get('charge') ?? '';
      const charge = charges[chargeId];
      if (!charge) {
        return {
          status: 404,
          body: {
            error: {
              code: 'resource_missing',
              param: 'charge',
              type: 'invalid_request_error',
              message: `No such charge: '${chargeId}'`,
            },
          },
        };
      }
      const amount = Number(req.form?.get('amount') ?? charge.amount);
      if (amount > charge.amount) {
        return {
          status: 400,
          body: {
            error: {
              code: 'amount_too_large',
              param: 'amount',
              type: 'invalid_request_error',
              message: `Refund amount (${amount}) is greater than charge amount (${charge.amount})`,
            },
          },
        };
      }
      refunds++;
      return {
        body: {
          id: `re_3MmlLrLkdIwHu7ix0000000${refunds}`,
          object: 'refund',
          amount,
          charge: chargeId,
          created: 1_680_651_573,
          currency: charge.currency,
          metadata: {},
          reason: req.form?.get('reason') ?? null,
          status: 'succeeded',
        },
      };
    },
  });
}

/** A `charge.succeeded` webhook event as Stripe sends it (trimmed). */
export function chargeSucceededEvent(amount = 2000): Record<string, unknown> {
  return {
    id: 'evt_3MmlLrLkdIwHu7ix0Ty5tZLW',
    object: 'event',
    api_version: '2024-06-20',
    created: 1_680_651_573,
    livemode: false,
    type: 'charge.succeeded',
    data: {
      object: {
        id: 'ch_3MmlLrLkdIwHu7ix0snN0B15',
        object: 'charge',
        amount,
        amount_refunded: 0,
        currency: 'usd',
        customer: 'cus_NffrFeUfNV2Hib',
        description: 'Subscription creation',
        paid: true,
        refunded: false,
        status: 'succeeded',
        receipt_email: 'jenny.rosen@example.com',
        metadata: { order_id: '6735' },
        created: 1_680_651_573,
      },
    },
  };
}
