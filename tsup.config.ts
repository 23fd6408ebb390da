import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    manifest: 'src/manifest.ts',
    migrations: 'src/migrations.ts',
    oauth2: 'src/oauth2.ts',
    'queue/index': 'src/queue/index.ts',
    'queue/bullmq': 'src/queue/bullmq.ts',
    'storage/json-file': 'src/storage/json-file/index.ts',
    'storage/postgres': 'src/storage/postgres/index.ts',
    'testing/index': 'src/testing/index.ts',
    // The plugin-author CLI; src/cli/index.ts starts with `#!/usr/bin/env node`, which
    // esbuild keeps at the top of the entry chunk, so only dist/cli.js gets the shebang.
    cli: 'src/cli/index.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  clean: true,
  sourcemap: true,
  splitting: true,
  treeshake: true,
  tsconfig: 'tsconfig.build.json',
});
