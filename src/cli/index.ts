#!/usr/bin/env node
/**
 * Entry point of the `plugboard` bin (built to `dist/cli.js` with a shebang).
 *
 * @module
 * @internal
 */
import { runCli } from './main.js';

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `plugboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
