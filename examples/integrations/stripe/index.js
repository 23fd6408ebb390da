/**
 * Runtime parts of the Stripe manifest package (`"main": "index.js"` in manifest.json).
 *
 * The default export is a factory of the plugin context, so every HTTP call goes through
 * the host's `fetch` (a local mock server in tests). Plain JavaScript on purpose: a
 * manifest package's `main` is loaded by Node as it is, without a build step.
 */

const API = 'https://api.stripe.com';
const DEFAULT_API_VERSION = '2024-06-20';

/**
 * An error a host can classify: `kind: 'auth'` when the user must fix the key,
 * `'transient'` when a retry may succeed. Never contains the key.
 */
class StripeError extends Error {
  /**
   * @param {string} message
   * @param {'auth' | 'transient' | 'request'} kind
   * @param {number} status
   * @param {string | undefined} stripeCode
   */
  constructor(message, kind, status, stripeCode) {
    super(message);
    this.name = 'StripeError';
    this.kind = kind;
    this.status = status;
    this.stripeCode = stripeCode;
  }
}

/**
 * @param {{ fetch: typeof fetch }} ctx the plugin context
 */
export default function stripeRuntime(ctx) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {{ secretKey?: unknown }} credentials
   * @param {{ stripeAccount?: string, apiVersion?: string } | undefined} config
   * @param {{ form?: URLSearchParams, signal?: AbortSignal, idempotencyKey?: string }} [options]
   */
  async function call(method, path, credentials, config, options = {}) {
    if (typeof credentials.secretKey !== 'string' || credentials.secretKey === '') {
      throw new StripeError('Stripe: no secretKey in the credentials', 'auth', 0, undefined);
    }
    /** @type {Record<string, string>} */
    const headers = {
      authorization: `Bearer ${credentials.secretKey}`,
      'stripe-version': config?.apiVersion ?? DEFAULT_API_VERSION,
    };
    if (config?.stripeAccount) headers['stripe-account'] = config.stripeAccount;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    if (options.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await ctx.fetch(`${API}${path}`, {
      method,
      headers,
      ...(options.form ? { body: options.form.toString() } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const error = body?.error ?? {};
      const kind =
        res.status === 401 || res.status === 403
          ? 'auth'
          : res.status === 429 || res.status >= 500
            ? 'transient'
            : 'request';
      // Stripe's messages mask keys (`sk_test_****1234`), so they are safe to pass on.
      throw new StripeError(
        `Stripe ${method} ${path} failed with ${res.status}: ${error.message ?? res.statusText}`,
        kind,
        res.status,
        error.code,
      );
    }
    return body;
  }

  /** @param {{ minAmount?: number, currency?: string }} config */
  const chargeFilter = (config) => (/** @type {{ payload: any }} */ event) => {
    const charge = event.payload?.data?.object ?? {};
    if (config.minAmount !== undefined && !(charge.amount >= config.minAmount)) return false;
    if (config.currency !== undefined && charge.currency !== config.currency) return false;
    return true;
  };

  return {
    /** `GET /v1/balance` is the cheapest authenticated call Stripe has. */
    async testConnection(credentials, config) {
      await call('GET', '/v1/balance', credentials, config);
    },

    triggers: {
      'charge.succeeded': { factory: chargeFilter },
      'charge.refunded': { factory: chargeFilter },
    },

    actions: {
      create_refund: {
        /**
         * @param {{ charge: string, amount?: number, reason?: string,
         *   metadata?: Record<string, string>, idempotencyKey?: string }} input
         * @param {{ getCredentials(): Promise<any>, config: any, signal: AbortSignal }} actionCtx
         */
        async handler(input, actionCtx) {
          const form = new URLSearchParams({ charge: input.charge });
          if (input.amount !== undefined) form.set('amount', String(input.amount));
          if (input.reason !== undefined) form.set('reason', input.reason);
          for (const [k, v] of Object.entries(input.metadata ?? {})) form.set(`metadata[${k}]`, v);
          const refund = await call(
            'POST',
            '/v1/refunds',
            await actionCtx.getCredentials(),
            actionCtx.config,
            {
              form,
              signal: actionCtx.signal,
              ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
            },
          );
          return {
            id: refund.id,
            status: refund.status,
            amount: refund.amount,
            currency: refund.currency,
            charge: refund.charge,
          };
        },
      },
    },
  };
}
