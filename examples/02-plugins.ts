/**
 * Example 2: plugins — a typed code plugin with defineIntegration(), a manifest package,
 * and payload validation through the registry.
 *
 * Run: npx tsx examples/02-plugins.ts
 */
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { defineIntegration, IntegrationRegistry, MemoryStorage, PluginLoader } from 'plugboard';

// Schemas are written once; handler input, output and the trigger payload are typed from them.
const weather = defineIntegration({
  id: 'weather',
  name: 'Weather alerts',
  version: '1.0.0',
  authType: 'none',
  configSchema: Type.Object({
    units: Type.Union([Type.Literal('metric'), Type.Literal('imperial')]),
  }),
})
  .trigger('alert.issued', {
    name: 'Alert issued',
    payloadSchema: Type.Object({
      region: Type.String(),
      severity: Type.Integer({ minimum: 1, maximum: 5 }),
    }),
    configSchema: Type.Object({ minSeverity: Type.Integer({ minimum: 1, maximum: 5 }) }),
    // config and event.payload are typed: { minSeverity: number } and { region; severity }
    factory: (config) => (event) => event.payload.severity >= config.minSeverity,
  })
  .action('acknowledge', {
    name: 'Acknowledge alert',
    inputSchema: Type.Object({ region: Type.String() }),
    outputSchema: Type.Object({ acknowledged: Type.Boolean(), region: Type.String() }),
    async handler(input) {
      return { acknowledged: true, region: input.region };
    },
  });

const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
const plugins = new PluginLoader({ registry });
plugins.on('plugin:loaded', (p) => console.log(`loaded ${p.id}@${p.version} (${p.kind})`));

await plugins.load(weather);
// A manifest package: manifest.json plus JSON Schema files, read only from inside its directory.
await plugins.loadManifest(fileURLToPath(new URL('./integrations/stripe', import.meta.url)));

console.log(
  'registered:',
  (await registry.list({ latest: true })).items.map((d) => `${d.id}@${d.version}`),
);
console.log(
  'weather triggers:',
  (await registry.getAvailableTriggers('weather')).map(
    (t) => `${t.type} (filter: ${t.factory ? 'yes' : 'no'})`,
  ),
);

const ok = await registry.validateEventPayload('weather', 'alert.issued', {
  region: 'north',
  severity: 4,
});
const bad = await registry.validateEventPayload('weather', 'alert.issued', {
  region: 'north',
  severity: 9,
});
console.log('valid payload:', ok.isValid);
console.log(
  'invalid payload:',
  bad.errors?.map((e) => `${e.path}: ${e.message}`),
);

const [ack] = await registry.getAvailableActions('weather');
console.log('actions:', ack?.type, 'has handler:', typeof ack?.handler === 'function');

const failed = await plugins.loadAll([weather]);
console.log(
  'loading the same id@version again fails:',
  failed.failed.map((f) => f.error.code),
);
