/**
 * Example 7: access control in a multi-tenant host. One `authorize` hook, given to
 * `createPlugboard`, decides every write and every credential read: tenants reach only
 * the instances of their own client scope, only admins manage definitions and plugins,
 * and every refusal lands in the audit log.
 *
 * Run: npx tsx examples/07-access-control.ts
 */
import {
  type CreatePlugboardOptions,
  createPlugboard,
  isPlugboardError,
  Keyring,
  MemoryStorage,
} from 'plugboard';

/** The hook's type, read off the options (its request is `Parameters<Authorize>[0]`). */
type Authorize = NonNullable<CreatePlugboardOptions['authorize']>;

// Actors are `admin:<name>` or `tenant:<clientId>`; the rule engine reads credentials as
// `rule:<ruleId>` and dispatches events without an actor.
const authorize: Authorize = ({ actor, operation, target }) => {
  if (actor?.startsWith('admin:')) return true;
  if (operation === 'event.dispatch' || actor?.startsWith('rule:')) return true;
  const tenant = actor?.startsWith('tenant:') ? actor.slice('tenant:'.length) : undefined;
  if (tenant === undefined) return false;
  // Tenants manage instances in their own client scope, and nothing else.
  const own = (c: typeof target.context) => c?.type === 'client' && c.contextId === tenant;
  const instanceOps = ['instance.', 'credentials.read', 'credentials.access-token'];
  if (!instanceOps.some((op) => operation.startsWith(op))) return false;
  return own(target.context) && (target.newContext === undefined || own(target.newContext));
};

const pb = await createPlugboard({
  storage: new MemoryStorage(),
  keyring: new Keyring({ keys: { k1: Keyring.generateKey() }, primary: 'k1' }),
  authorize,
});

await pb.registry.register(
  {
    id: 'crm',
    name: 'CRM',
    version: '1.0.0',
    authType: 'apikey',
    credentialSchema: {
      type: 'object',
      required: ['apiKey'],
      properties: { apiKey: { type: 'string', writeOnly: true } },
    },
  },
  { publish: true, actor: 'admin:ops' },
);

const acme = await pb.config.createInstance(
  {
    integrationId: 'crm',
    name: 'Acme CRM',
    context: { type: 'client', contextId: 'acme' },
    credentials: { apiKey: 'acme-secret' },
  },
  { actor: 'tenant:acme' },
);
console.log('acme created its instance', acme.instanceId);

const { apiKey } = await pb.config.getCredentials(acme.instanceId, { actor: 'tenant:acme' });
console.log('acme reads its own key:', apiKey === 'acme-secret');

for (const attempt of [
  () => pb.config.getCredentials(acme.instanceId, { actor: 'tenant:globex' }),
  () => pb.config.deleteInstance(acme.instanceId, { actor: 'tenant:globex' }),
  () => pb.registry.deprecate('crm', '1.0.0', { reason: 'mine now', actor: 'tenant:acme' }),
]) {
  try {
    await attempt();
    throw new Error('expected a refusal');
  } catch (error) {
    if (!isPlugboardError(error, 'FORBIDDEN')) throw error;
    console.log('refused:', error.message);
  }
}

const { items } = await pb.config.getAuditLog({ action: 'access.denied' });
for (const entry of items.reverse()) {
  console.log(`audit: ${entry.actor} ${entry.detail} ${entry.instanceId ?? entry.integrationId}`);
}
if (items.length !== 3)
  throw new Error(`expected 3 refusals in the audit log, got ${items.length}`);

await pb.close();
