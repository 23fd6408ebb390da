import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Lets tests, examples and documentation snippets import the package by its name.
    alias: [
      { find: /^plugboard$/, replacement: src('index.ts') },
      { find: /^plugboard\/manifest$/, replacement: src('manifest.ts') },
      { find: /^plugboard\/migrations$/, replacement: src('migrations.ts') },
      { find: /^plugboard\/oauth2$/, replacement: src('oauth2.ts') },
      { find: /^plugboard\/queue$/, replacement: src('queue/index.ts') },
      { find: /^plugboard\/queue\/bullmq$/, replacement: src('queue/bullmq.ts') },
      { find: /^plugboard\/storage\/json-file$/, replacement: src('storage/json-file/index.ts') },
      { find: /^plugboard\/storage\/postgres$/, replacement: src('storage/postgres/index.ts') },
      { find: /^plugboard\/testing$/, replacement: src('testing/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
