/**
 * Example 3: instances and credentials — scoped instances, encrypted credentials,
 * redaction, scope resolution, key rotation and the audit log.
 *
 * Run: npx tsx examples/03-credentials.ts
 */
import { ConfigManager, IntegrationRegistry, Keyring, MemoryStorage } from 'plugboard';

const storage = new MemoryStorage();
const registry = new IntegrationRegistry({ storage });
await registry.register(
  {
    id: 'crm',
    name: 'CRM',
    version: '1.0.0',
    authType: 'apikey',
    credentialSchema: {
      type: 'object',
      required: ['apiKey'],
      // Credentials are sealed whole; views show only the fields marked x-public.
      properties: {
        apiKey: { type: 'string', writeOnly: true },
        account: { type: 'string', 'x-public': true },
      },
    },
  },
  { publish: true },
);

// In production: Keyring.fromEnv('PLUGBOARD_KEYS'). Keys are 32 bytes, base64 or hex.
const oldKey = Keyring.generateKey();
const config = new ConfigManager({
  storage,
  registry,
  keyring: new Keyring({ keys: { '2025-01': oldKey }, primary: '2025-01' }),
});

await config.createInstance({
  integrationId: 'crm',
  name: 'Company account',
  credentials: { apiKey: 'key-global', account: 'acme' },
});
await config.createInstance({
  integrationId: 'crm',
  name: 'Client Blue',
  context: { type: 'client', contextId: 'blue' },
  credentials: { apiKey: 'key-blue' },
});
const mine = await config.createInstance({
  integrationId: 'crm',
  name: "Ana's own account",
  context: { type: 'user', contextId: 'ana' },
  credentials: { apiKey: 'key-ana' },
});

// Views never contain secrets: only fields marked x-public are shown, the rest is redacted.
console.log('view:', mine.credentials);

// User beats client beats global.
for (const scope of [
  { userId: 'ana', clientId: 'blue' },
  { userId: 'bob', clientId: 'blue' },
  { userId: 'bob' },
]) {
  const inst = await config.resolveInstance('crm', scope);
  console.log(JSON.stringify(scope), '->', inst.name);
}

// Decryption is explicit and audited.
const creds = await config.getCredentials(mine.instanceId, { actor: 'sync-job' });
console.log('decrypted apiKey length:', String(creds['apiKey']).length);

// Rotate: a new primary key, the old one kept for reading, then re-encrypt everything.
const rotated = new ConfigManager({
  storage,
  registry,
  keyring: new Keyring({
    keys: { '2025-06': Keyring.generateKey(), '2025-01': oldKey },
    primary: '2025-06',
  }),
});
const report = await rotated.reencryptAll({ batchSize: 100 });
console.log('re-encrypted:', report.reencrypted, 'failed:', report.failed.length);

const audit = await rotated.getAuditLog({ limit: 5 });
console.log(
  'latest audit entries:',
  audit.items.map((e) => `${e.action} ${e.outcome}`),
);
await config.close();
await rotated.close();
