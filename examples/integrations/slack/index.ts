/**
 * Slack as a code plugin built with `defineIntegration`: OAuth2 (bot token), the
 * `post_message` action (`POST /api/chat.postMessage`) and a `message.channels` trigger.
 * `testConnection` calls `auth.test`. Every HTTP call goes through the host's `fetch`.
 */
import { Type } from '@sinclair/typebox';
import { ConnectionTestError, defineIntegration } from '../../../src/index.js';

const API = 'https://slack.com/api';

/** Credentials as the ConfigManager stores them for OAuth2 integrations. */
export const SlackCredentials = Type.Object({
  clientId: Type.String({ minLength: 1, 'x-public': true }),
  clientSecret: Type.Optional(Type.String({ writeOnly: true })),
  oauth2: Type.Optional(
    Type.Object({
      access_token: Type.String({ writeOnly: true, description: 'Bot token (xoxb-…)' }),
      refresh_token: Type.Optional(Type.String({ writeOnly: true })),
      expires_at: Type.Optional(Type.String({ format: 'date-time', 'x-public': true })),
      token_type: Type.Optional(Type.String({ 'x-public': true })),
      scope: Type.Optional(Type.String({ 'x-public': true })),
    }),
  ),
});

/** Instance configuration. */
export const SlackConfig = Type.Object({
  defaultChannel: Type.Optional(
    Type.String({ description: 'Channel id used when an action names none, e.g. C0123456789' }),
  ),
});

/** Input of `post_message` (the subset of chat.postMessage arguments we expose). */
export const PostMessageInput = Type.Object(
  {
    channel: Type.Optional(Type.String({ minLength: 1, description: 'Channel id or name' })),
    text: Type.String({ minLength: 1, maxLength: 40_000 }),
    thread_ts: Type.Optional(Type.String({ pattern: '^\\d+\\.\\d+$' })),
    unfurl_links: Type.Optional(Type.Boolean()),
    mrkdwn: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** Output of `post_message`. */
export const PostMessageOutput = Type.Object({
  channel: Type.String(),
  ts: Type.String(),
});

/** A `message.channels` Events API callback (trimmed to what rules use). */
export const MessageEvent = Type.Object({
  type: Type.Literal('event_callback'),
  team_id: Type.String(),
  event_id: Type.String(),
  event_time: Type.Integer(),
  event: Type.Object({
    type: Type.Literal('message'),
    channel: Type.String(),
    user: Type.String(),
    text: Type.String(),
    ts: Type.String(),
    channel_type: Type.Optional(Type.String()),
  }),
});

/** A Slack Web API error (`ok: false`), classified for the host. */
export class SlackApiError extends Error {
  constructor(
    readonly method: string,
    readonly slackError: string,
  ) {
    super(`Slack ${method} failed: ${slackError}`);
    this.name = 'SlackApiError';
  }
}

const AUTH_ERRORS = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'missing_scope',
]);

async function slackCall(
  fetchFn: typeof fetch,
  method: string,
  token: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const res = await fetchFn(`${API}/${method}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json; charset=utf-8',
    },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (res.status === 429) {
    throw new SlackApiError(
      method,
      `ratelimited (retry after ${res.headers.get('retry-after')} s)`,
    );
  }
  const json = (await res.json()) as Record<string, unknown>;
  // The Web API answers 200 with `ok: false` for application errors.
  if (json['ok'] !== true) throw new SlackApiError(method, String(json['error'] ?? res.status));
  return json;
}

function tokenOf(credentials: { oauth2?: { access_token: string } }): string {
  const token = credentials.oauth2?.access_token;
  if (!token) {
    throw new ConnectionTestError(
      'Slack is not connected yet: complete the OAuth2 consent',
      'auth',
    );
  }
  return token;
}

/** The Slack plugin. */
export const slack = defineIntegration({
  id: 'slack',
  name: 'Slack',
  description: 'Post messages to channels and react to channel messages.',
  version: '1.0.0',
  authType: 'oauth2',
  oauth2Config: {
    authorizationUrl: 'https://slack.com/oauth/v2/authorize',
    tokenUrl: 'https://slack.com/api/oauth.v2.access',
    scopes: ['chat:write', 'channels:history', 'channels:read'],
  },
  homepage: 'https://slack.com',
  tags: ['chat', 'notifications'],
  configSchema: SlackConfig,
  credentialSchema: SlackCredentials,
  async testConnection(credentials, _config, { fetch }) {
    try {
      await slackCall(fetch, 'auth.test', tokenOf(credentials), {});
    } catch (error) {
      if (error instanceof SlackApiError) {
        throw new ConnectionTestError(
          error.message,
          AUTH_ERRORS.has(error.slackError) ? 'auth' : 'transient',
          { cause: error },
        );
      }
      throw error;
    }
  },
})
  .action('post_message', {
    name: 'Post message',
    description: 'Posts a message to a channel (chat.postMessage).',
    inputSchema: PostMessageInput,
    outputSchema: PostMessageOutput,
    async handler(input, ctx) {
      const channel = input.channel ?? ctx.config.defaultChannel;
      if (!channel)
        throw new Error('post_message: no channel given and no defaultChannel configured');
      const token = tokenOf(await ctx.getCredentials());
      const { channel: _ignored, ...rest } = input;
      const res = await slackCall(
        ctx.fetch,
        'chat.postMessage',
        token,
        { ...rest, channel },
        ctx.signal,
      );
      return { channel: String(res['channel']), ts: String(res['ts']) };
    },
  })
  .trigger('message.channels', {
    name: 'Message posted to a channel',
    payloadSchema: MessageEvent,
    configSchema: Type.Object({
      channel: Type.Optional(Type.String()),
      containsText: Type.Optional(Type.String()),
    }),
    factory: (config) => (event) =>
      (config.channel === undefined || event.payload.event.channel === config.channel) &&
      (config.containsText === undefined || event.payload.event.text.includes(config.containsText)),
  });

export default slack;
