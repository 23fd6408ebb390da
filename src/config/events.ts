/**
 * The typed event map of `ConfigManager`, for eventemitter3. Each key is an event name
 * (`noun:verb-past`), each value the tuple of listener arguments.
 *
 * @module
 */
import type {
  HealthReport,
  InstanceStatus,
  InstanceView,
  IntegrationConfig,
  ReencryptReport,
} from './types.js';

/** Events of `ConfigManager`. Payloads never contain secrets (credentials are redacted). */
export interface ConfigManagerEvents {
  /** An instance was created. */
  'instance:created': [instance: InstanceView];
  /** An instance was updated (including `upgradeInstance`). */
  'instance:updated': [instance: InstanceView];
  /** An instance was deleted. */
  'instance:deleted': [ref: { readonly instanceId: string; readonly integrationId: string }];
  /** An instance's health state (or failure reason) changed. */
  'instance:status-changed': [
    instance: InstanceView,
    change: { readonly from: InstanceStatus; readonly to: InstanceStatus },
  ];
  /** OAuth2 tokens were obtained (code exchange) or refreshed; the tokens themselves are not included. */
  'token:refreshed': [
    info: {
      readonly instanceId: string;
      readonly integrationId: string;
      readonly grant: 'refresh_token' | 'authorization_code';
      readonly expiresAt?: string;
    },
  ];
  /** Integration-level settings changed. */
  'config:updated': [config: IntegrationConfig];
  /** A `checkHealth` run finished. */
  'health:checked': [report: HealthReport];
  /** `reencryptAll` finished (or stopped). */
  'credentials:reencrypted': [report: ReencryptReport];
}
