/**
 * A local stand-in for the Slack Web API methods the example uses (`auth.test`,
 * `chat.postMessage`), answering like Slack: HTTP 200 with `ok: false` on errors.
 */
import { type MockServer, startMockServer } from '../mock-http.js';

/** The one bot token the mock accepts. */
export const SLACK_TEST_TOKEN = 'xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy';

/** Channels the mock knows. */
export const SLACK_CHANNELS = ['C0123456789', 'C0GENERAL01'];

/** Starts the Slack mock on 127.0.0.1; its `fetch` redirects `https://slack.com`. */
export function startSlackMock(): Promise<MockServer> {
  let seq = 0;
  const authed = (h: string | string[] | undefined) => h === `Bearer ${SLACK_TEST_TOKEN}`;
  return startMockServer(['https://slack.com'], {
    'POST /api/auth.test': (req) => {
      if (!req.headers.authorization) return { body: { ok: false, error: 'not_authed' } };
      if (!authed(req.headers.authorization)) return { body: { ok: false, error: 'invalid_auth' } };
      return {
        body: {
          ok: true,
          url: 'https://subarachnoid.slack.com/',
          team: 'Subarachnoid Workspace',
          user: 'grace',
          team_id: 'T12345678',
          user_id: 'W12345678',
          bot_id: 'B12345678',
        },
      };
    },
    'POST /api/chat.postMessage': (req) => {
      if (!authed(req.headers.authorization)) return { body: { ok: false, error: 'invalid_auth' } };
      const args = (req.json ?? {}) as { channel?: string; text?: string };
      if (!args.channel || !SLACK_CHANNELS.includes(args.channel)) {
        return { body: { ok: false, error: 'channel_not_found' } };
      }
      if (!args.text) return { body: { ok: false, error: 'no_text' } };
      seq++;
      const ts = `1503435956.00${String(seq).padStart(4, '0')}`;
      return {
        body: {
          ok: true,
          channel: args.channel,
          ts,
          message: {
            type: 'message',
            subtype: 'bot_message',
            text: args.text,
            ts,
            bot_id: 'B12345678',
          },
        },
      };
    },
  });
}
